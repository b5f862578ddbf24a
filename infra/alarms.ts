import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

export interface DlqAlarmArgs {
  dlqName: pulumi.Input<string>;
  /** Subscribed by e-mail to the alarm topic when set. */
  email: string | undefined;
}

/** A CloudWatch alarm as soon as the DLQ holds anything, published to an SNS topic (e-mail optional). */
export class DlqAlarm extends pulumi.ComponentResource {
  readonly topic: aws.sns.Topic;
  readonly alarm: aws.cloudwatch.MetricAlarm;

  constructor(name: string, args: DlqAlarmArgs, opts?: pulumi.ComponentResourceOptions) {
    super('crypto-open-fleet:infra:DlqAlarm', name, {}, opts);
    const parent = { parent: this };

    // Not KMS-encrypted: CloudWatch cannot publish to a topic under the AWS-managed SNS key.
    this.topic = new aws.sns.Topic(name, {}, parent);
    if (args.email) {
      new aws.sns.TopicSubscription(`${name}-email`, { topic: this.topic.arn, protocol: 'email', endpoint: args.email }, parent);
    }

    this.alarm = new aws.cloudwatch.MetricAlarm(
      `${name}-dlq-not-empty`,
      {
        alarmDescription: 'The dead-letter queue holds messages: list them with `npm run dlq -- --target aws`.',
        namespace: 'AWS/SQS',
        metricName: 'ApproximateNumberOfMessagesVisible',
        dimensions: { QueueName: args.dlqName },
        statistic: 'Maximum',
        period: 60,
        evaluationPeriods: 1,
        comparisonOperator: 'GreaterThanOrEqualToThreshold',
        threshold: 1,
        treatMissingData: 'notBreaching',
        alarmActions: [this.topic.arn],
        okActions: [this.topic.arn],
      },
      parent,
    );

    this.registerOutputs({ topicArn: this.topic.arn });
  }
}
