import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { QUEUE_DEFAULTS } from '../shared/worker-env.js';

export interface WorkQueuesArgs {
  maxReceiveCount: number;
}

const DAY_SECONDS = 24 * 60 * 60;
const WORK_RETENTION_SECONDS = 4 * DAY_SECONDS;
/** SQS's maximum; a message's age in the DLQ counts from its first enqueue, so it must outlive the work queue's. */
const DLQ_RETENTION_SECONDS = 14 * DAY_SECONDS;
/** 256 KiB: one S3 event message with several records can pass 64 KiB. */
const MAX_MESSAGE_BYTES = 262_144;

/**
 * The work queue S3 notifies and the workers poll, and its dead-letter queue. Both use SSE-SQS: S3 cannot publish
 * to a queue under the AWS-managed `aws/sqs` KMS key.
 */
export class WorkQueues extends pulumi.ComponentResource {
  readonly work: aws.sqs.Queue;
  readonly dlq: aws.sqs.Queue;

  constructor(name: string, args: WorkQueuesArgs, opts?: pulumi.ComponentResourceOptions) {
    super('crypto-open-fleet:infra:WorkQueues', name, {}, opts);
    const parent = { parent: this };

    this.dlq = new aws.sqs.Queue(
      `${name}-dlq`,
      {
        sqsManagedSseEnabled: true,
        messageRetentionSeconds: DLQ_RETENTION_SECONDS,
        maxMessageSize: MAX_MESSAGE_BYTES,
        receiveWaitTimeSeconds: QUEUE_DEFAULTS.waitTimeSeconds,
      },
      parent,
    );

    this.work = new aws.sqs.Queue(
      `${name}-work`,
      {
        sqsManagedSseEnabled: true,
        messageRetentionSeconds: WORK_RETENTION_SECONDS,
        maxMessageSize: MAX_MESSAGE_BYTES,
        receiveWaitTimeSeconds: QUEUE_DEFAULTS.waitTimeSeconds,
        visibilityTimeoutSeconds: QUEUE_DEFAULTS.visibilityTimeoutSeconds,
        redrivePolicy: pulumi.jsonStringify({ deadLetterTargetArn: this.dlq.arn, maxReceiveCount: args.maxReceiveCount }),
      },
      parent,
    );

    // Separate resource: the DLQ's allow-list names the work queue, which itself names the DLQ.
    new aws.sqs.RedriveAllowPolicy(
      `${name}-dlq-sources`,
      {
        queueUrl: this.dlq.url,
        redriveAllowPolicy: pulumi.jsonStringify({ redrivePermission: 'byQueue', sourceQueueArns: [this.work.arn] }),
      },
      parent,
    );

    this.registerOutputs({ workUrl: this.work.url, dlqUrl: this.dlq.url });
  }
}
