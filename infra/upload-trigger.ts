import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { INPUT_SUFFIX, PREFIX } from '../shared/layout.js';
import { policyJson } from './policy.js';

export interface UploadTriggerArgs {
  bucketId: pulumi.Input<string>;
  bucketArn: pulumi.Input<string>;
  queueUrl: pulumi.Input<string>;
  queueArn: pulumi.Input<string>;
  accountId: pulumi.Input<string>;
}

/**
 * Every `incoming/**.csv` created in the bucket becomes an S3 event message on the work queue. Outputs are written
 * outside `incoming/`, so they never start runs.
 */
export class UploadTrigger extends pulumi.ComponentResource {
  readonly queuePolicy: aws.sqs.QueuePolicy;
  readonly notification: aws.s3.BucketNotification;

  constructor(name: string, args: UploadTriggerArgs, opts?: pulumi.ComponentResourceOptions) {
    super('crypto-open-fleet:infra:UploadTrigger', name, {}, opts);

    // Allow statements only: every other sender (the workers) sends through its own IAM role.
    this.queuePolicy = new aws.sqs.QueuePolicy(
      `${name}-queue-policy`,
      {
        queueUrl: args.queueUrl,
        policy: policyJson([
          {
            Sid: 'AllowBucketNotifications',
            Effect: 'Allow',
            Principal: { Service: 's3.amazonaws.com' },
            Action: ['sqs:SendMessage'],
            Resource: [args.queueArn],
            Condition: {
              ArnEquals: { 'aws:SourceArn': args.bucketArn },
              StringEquals: { 'aws:SourceAccount': args.accountId },
            },
          },
        ]),
      },
      { parent: this },
    );

    // S3 validates the destination when the notification is put: without the policy in place it answers
    // "Unable to validate the following destination configurations".
    this.notification = new aws.s3.BucketNotification(
      `${name}-notification`,
      {
        bucket: args.bucketId,
        // Every object event also goes to EventBridge: the API's run-finished rule (infra/api.ts) reads them there.
        eventbridge: true,
        queues: [
          {
            id: 'incoming-csv-to-work-queue',
            queueArn: args.queueArn,
            events: ['s3:ObjectCreated:*'],
            filterPrefix: PREFIX.incoming,
            filterSuffix: INPUT_SUFFIX,
          },
        ],
      },
      { parent: this, dependsOn: [this.queuePolicy] },
    );

    this.registerOutputs({});
  }
}
