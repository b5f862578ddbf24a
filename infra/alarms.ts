import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { METRICS_NAMESPACE } from './worker-metrics.js';

export interface FleetAlarmsArgs {
  workQueueName: pulumi.Input<string>;
  dlqName: pulumi.Input<string>;
  /** The oldest waiting upload older than this (seconds) is an alarm. */
  oldestMessageSeconds: number;
  /** Subscribed by e-mail to the alarm topic when set. */
  email: string | undefined;
  /** The version in service worse than the naive baseline this many days in a row is an alarm. */
  accuracyAlarmDays: number;
}

/**
 * The reconciler's report and the accuracy record arrive once a day: an alarm keeps its state until the next one
 * (missing data is ignored), rather than returning to OK an hour after the report.
 */
const DAILY = { period: 3600, evaluationPeriods: 1, statistic: 'Maximum', treatMissingData: 'ignore' } as const;

/**
 * The alarms an operator acts on, all to one SNS topic (e-mail optional): the DLQ holds anything; an upload has
 * waited too long (the near-real-time signal: workers down, stuck or too few); a worker logged an error; a worker
 * refused a model version that failed its check; the daily reconciler found uploads that never ended; the version in
 * service did worse than the naive baseline N days in a row; a scheduled task (reconciler, training) logged an error.
 */
export class FleetAlarms extends pulumi.ComponentResource {
  readonly topic: aws.sns.Topic;
  readonly dlq: aws.cloudwatch.MetricAlarm;
  readonly oldestMessage: aws.cloudwatch.MetricAlarm;
  readonly workerErrors: aws.cloudwatch.MetricAlarm;
  readonly modelCheck: aws.cloudwatch.MetricAlarm;
  readonly uploadsMissing: aws.cloudwatch.MetricAlarm;
  readonly accuracy: aws.cloudwatch.MetricAlarm;
  readonly taskErrors: aws.cloudwatch.MetricAlarm;

  constructor(name: string, args: FleetAlarmsArgs, opts?: pulumi.ComponentResourceOptions) {
    super('crypto-open-fleet:infra:FleetAlarms', name, {}, opts);
    const parent = { parent: this };

    // Not KMS-encrypted: CloudWatch cannot publish to a topic under the AWS-managed SNS key.
    this.topic = new aws.sns.Topic(name, {}, parent);
    if (args.email) {
      new aws.sns.TopicSubscription(`${name}-email`, { topic: this.topic.arn, protocol: 'email', endpoint: args.email }, parent);
    }
    const actions = { alarmActions: [this.topic.arn], okActions: [this.topic.arn] };

    this.dlq = new aws.cloudwatch.MetricAlarm(
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
        ...actions,
      },
      parent,
    );

    this.oldestMessage = new aws.cloudwatch.MetricAlarm(
      `${name}-oldest-upload`,
      {
        alarmDescription: `An upload has waited more than ${args.oldestMessageSeconds} s for a worker: check the service's running tasks and the worker logs.`,
        namespace: 'AWS/SQS',
        metricName: 'ApproximateAgeOfOldestMessage',
        dimensions: { QueueName: args.workQueueName },
        statistic: 'Maximum',
        period: 60,
        evaluationPeriods: 2,
        datapointsToAlarm: 2,
        comparisonOperator: 'GreaterThanThreshold',
        threshold: args.oldestMessageSeconds,
        treatMissingData: 'notBreaching',
        ...actions,
      },
      parent,
    );

    this.workerErrors = new aws.cloudwatch.MetricAlarm(
      `${name}-worker-errors`,
      {
        alarmDescription: 'A worker logged an error (an unexpected failure, with its stack): see the worker log group.',
        namespace: METRICS_NAMESPACE,
        metricName: 'WorkerErrors',
        statistic: 'Sum',
        period: 300,
        evaluationPeriods: 1,
        comparisonOperator: 'GreaterThanOrEqualToThreshold',
        threshold: 1,
        treatMissingData: 'notBreaching',
        ...actions,
      },
      parent,
    );

    this.modelCheck = new aws.cloudwatch.MetricAlarm(
      `${name}-model-check-failed`,
      {
        alarmDescription:
          'A worker refused a model version: its check windows gave other numbers on the production backend. The workers keep serving the version they had; put a version that passes in service (`npm run model -- use`).',
        namespace: METRICS_NAMESPACE,
        metricName: 'ModelCheckFailed',
        statistic: 'Sum',
        period: 300,
        evaluationPeriods: 1,
        comparisonOperator: 'GreaterThanOrEqualToThreshold',
        threshold: 1,
        treatMissingData: 'notBreaching',
        ...actions,
      },
      parent,
    );

    this.uploadsMissing = new aws.cloudwatch.MetricAlarm(
      `${name}-uploads-missing`,
      {
        alarmDescription:
          'The daily reconciler found uploads with neither a manifest nor an error record (their events were lost): list them and requeue with `npm run reconcile -- --target aws --requeue`.',
        namespace: METRICS_NAMESPACE,
        metricName: 'UploadsMissing',
        ...DAILY,
        comparisonOperator: 'GreaterThanThreshold',
        threshold: 0,
        ...actions,
      },
      parent,
    );

    this.accuracy = new aws.cloudwatch.MetricAlarm(
      `${name}-accuracy`,
      {
        alarmDescription: `The model version in service has done worse than the naive "tomorrow = today's open" baseline ${args.accuracyAlarmDays} days in a row: compare versions with \`npm run model -- accuracy\` and consider \`npm run model -- rollback\`.`,
        namespace: METRICS_NAMESPACE,
        metricName: 'DaysWorseThanNaive',
        ...DAILY,
        comparisonOperator: 'GreaterThanOrEqualToThreshold',
        threshold: args.accuracyAlarmDays,
        ...actions,
      },
      parent,
    );

    this.taskErrors = new aws.cloudwatch.MetricAlarm(
      `${name}-task-errors`,
      {
        alarmDescription: 'A scheduled task (the reconciler or the training) logged an error: see its log group.',
        namespace: METRICS_NAMESPACE,
        metricName: 'TaskErrors',
        statistic: 'Sum',
        period: 300,
        evaluationPeriods: 1,
        comparisonOperator: 'GreaterThanOrEqualToThreshold',
        threshold: 1,
        treatMissingData: 'notBreaching',
        ...actions,
      },
      parent,
    );

    this.registerOutputs({ topicArn: this.topic.arn });
  }
}
