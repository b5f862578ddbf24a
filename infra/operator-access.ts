import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { MODEL_POINTER_KEY, PREFIX } from '../shared/layout.js';
import { REGISTRY } from '../shared/registry.js';
import { CREATE_ONLY, policyJson } from './policy.js';

export interface OperatorAccessArgs {
  bucketArn: pulumi.Input<string>;
  workQueueArn: pulumi.Input<string>;
  dlqArn: pulumi.Input<string>;
}

/**
 * The managed policy an operator attaches to their own AWS identity to run the operator commands against the stack:
 * `npm run model` (list, publish, approve, reject, use, rollback, log, shadow, export, accuracy), `npm run train`,
 * `npm run dlq` (list, redrive), `npm run smoke` (a run under incoming/_smoke/), `npm run history` (show, load),
 * `npm run reconcile` (report, requeue). Only this policy writes the model registry (`registry/`).
 * The team's policy stays upload-and-read only.
 * Every grant here is exercised by a command in the end-to-end tests and checked against this document (test/iam/).
 */
export class OperatorAccess extends pulumi.ComponentResource {
  readonly policy: aws.iam.Policy;

  constructor(name: string, args: OperatorAccessArgs, opts?: pulumi.ComponentResourceOptions) {
    super('crypto-open-fleet:infra:OperatorAccess', name, {}, opts);
    const objects = (prefix: string) => pulumi.interpolate`${args.bucketArn}/${prefix}*`;

    this.policy = new aws.iam.Policy(
      name,
      {
        description: 'Operate the prediction fleet: publish and switch model versions, inspect and redrive the DLQ',
        policy: policyJson([
          // ListBucketVersions: the reconciler checks every version of every upload.
          { Sid: 'ListBucket', Effect: 'Allow', Action: ['s3:ListBucket', 's3:ListBucketVersions'], Resource: [args.bucketArn] },
          {
            Sid: 'ReadModelsAndRuns',
            Effect: 'Allow',
            Action: ['s3:GetObject'],
            Resource: [objects(PREFIX.models), objects(PREFIX.runs), objects(PREFIX.status), objects(PREFIX.registry), objects(PREFIX.accuracy)],
          },
          // Publishing uploads a version's files; `use` (rollback) rewrites the pointer.
          {
            Sid: 'PublishModels',
            Effect: 'Allow',
            Action: ['s3:PutObject'],
            Resource: [objects(PREFIX.models), pulumi.interpolate`${args.bucketArn}/${MODEL_POINTER_KEY}`],
          },
          // Reviews rewrite a version's status record; `shadow` rewrites the shadow pointer.
          {
            Sid: 'ReviewModels',
            Effect: 'Allow',
            Action: ['s3:PutObject'],
            Resource: [objects(REGISTRY.versions), pulumi.interpolate`${args.bucketArn}/${REGISTRY.shadowPointer}`],
          },
          // The change log is append-only: each entry is created once.
          { Sid: 'AppendChangeLog', Effect: 'Allow', Action: ['s3:PutObject'], Resource: [objects(REGISTRY.log)], Condition: CREATE_ONLY },
          // The smoke test's own uploads and their predictions, nothing else of incoming/ and predictions/.
          { Sid: 'SmokeTest', Effect: 'Allow', Action: ['s3:PutObject'], Resource: [objects(`${PREFIX.incoming}_smoke/`)] },
          { Sid: 'ReadSmokePredictions', Effect: 'Allow', Action: ['s3:GetObject'], Resource: [objects(`${PREFIX.predictions}_smoke/`)] },
          // `history show` and `history load` (a bootstrap: create-only, as every history write).
          { Sid: 'ReadHistory', Effect: 'Allow', Action: ['s3:GetObject'], Resource: [objects(PREFIX.history)] },
          { Sid: 'LoadHistory', Effect: 'Allow', Action: ['s3:PutObject'], Resource: [objects(PREFIX.history)], Condition: CREATE_ONLY },
          // `npm run console`: it serves the API's handlers with the operator's credentials (uploads under
          // incoming/api/ only) and shows the daily file, forecasts and registry records.
          { Sid: 'ConsoleUploads', Effect: 'Allow', Action: ['s3:PutObject'], Resource: [objects(`${PREFIX.incoming}api/`)] },
          {
            Sid: 'ConsoleReads',
            Effect: 'Allow',
            Action: ['s3:GetObject'],
            Resource: [objects(`${PREFIX.incoming}api/`), objects(PREFIX.forecasts), objects('registry/'), objects('daily/')],
          },
          {
            Sid: 'InspectDlq',
            Effect: 'Allow',
            Action: ['sqs:ReceiveMessage', 'sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'],
            Resource: [args.dlqArn],
          },
          // Redrive sends the DLQ's messages back to the work queue.
          { Sid: 'SendToWorkQueue', Effect: 'Allow', Action: ['sqs:SendMessage', 'sqs:GetQueueAttributes'], Resource: [args.workQueueArn] },
        ]),
      },
      { parent: this },
    );

    this.registerOutputs({ policyArn: this.policy.arn });
  }
}
