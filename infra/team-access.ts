import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { DAILY_PREDS_KEY, PREFIX } from '../shared/layout.js';
import { policyJson } from './policy.js';

export interface TeamAccessArgs {
  bucketArn: pulumi.Input<string>;
}

/**
 * The managed policy the team attaches to its own AWS identity (the frontend reads through boto3 with a named
 * profile): upload under `incoming/`, read `predictions/`, `runs/` and the daily file the frontend plots, list the bucket.
 */
export class TeamAccess extends pulumi.ComponentResource {
  readonly policy: aws.iam.Policy;

  constructor(name: string, args: TeamAccessArgs, opts?: pulumi.ComponentResourceOptions) {
    super('crypto-open-fleet:infra:TeamAccess', name, {}, opts);
    const objects = (prefix: string) => pulumi.interpolate`${args.bucketArn}/${prefix}*`;

    this.policy = new aws.iam.Policy(
      name,
      {
        description: 'Upload CSVs to incoming/, read predictions/, runs/ and daily/latest_preds.csv of the prediction fleet bucket',
        policy: policyJson([
          { Sid: 'UploadInputs', Effect: 'Allow', Action: ['s3:PutObject'], Resource: [objects(PREFIX.incoming)] },
          {
            Sid: 'ReadOutputs',
            Effect: 'Allow',
            Action: ['s3:GetObject'],
            Resource: [objects(PREFIX.predictions), objects(PREFIX.runs), pulumi.interpolate`${args.bucketArn}/${DAILY_PREDS_KEY}`],
          },
          // Unconditioned: a GET carries no s3:prefix, and without ListBucket S3 answers 403 instead of 404 for a
          // prediction that is not written yet.
          { Sid: 'ListBucket', Effect: 'Allow', Action: ['s3:ListBucket'], Resource: [args.bucketArn] },
        ]),
      },
      { parent: this },
    );

    this.registerOutputs({ policyArn: this.policy.arn });
  }
}
