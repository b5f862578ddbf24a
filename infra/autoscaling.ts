import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

export interface WorkerAutoscalingArgs {
  clusterName: pulumi.Input<string>;
  serviceName: pulumi.Input<string>;
  workQueueName: pulumi.Input<string>;
  minWorkers: number;
  maxWorkers: number;
  backlogPerWorker: number;
}

const PERIOD_SECONDS = 60;

/**
 * Scales the service on queue backlog per running task, between minWorkers and maxWorkers. There is deliberately
 * no CPU policy: two policies disagree, and the scale-ins they trigger cut runs short and duplicate work.
 */
export class WorkerAutoscaling extends pulumi.ComponentResource {
  readonly target: aws.appautoscaling.Target;
  readonly backlogPolicy: aws.appautoscaling.Policy;
  readonly wakePolicy: aws.appautoscaling.Policy;
  readonly wakeAlarm: aws.cloudwatch.MetricAlarm;

  constructor(name: string, args: WorkerAutoscalingArgs, opts?: pulumi.ComponentResourceOptions) {
    super('crypto-open-fleet:infra:WorkerAutoscaling', name, {}, opts);
    const parent = { parent: this };
    const queue = [{ name: 'QueueName', value: args.workQueueName }];
    const service = [
      { name: 'ClusterName', value: args.clusterName },
      { name: 'ServiceName', value: args.serviceName },
    ];

    this.target = new aws.appautoscaling.Target(
      name,
      {
        serviceNamespace: 'ecs',
        scalableDimension: 'ecs:service:DesiredCount',
        resourceId: pulumi.interpolate`service/${args.clusterName}/${args.serviceName}`,
        minCapacity: args.minWorkers,
        maxCapacity: args.maxWorkers,
      },
      parent,
    );
    const scalable = {
      serviceNamespace: this.target.serviceNamespace,
      scalableDimension: this.target.scalableDimension,
      resourceId: this.target.resourceId,
    };

    // With no running task the division has no value, so this policy neither acts nor scales in; waking a
    // fleet at zero is the step rule's job (target tracking never scales out from zero).
    this.backlogPolicy = new aws.appautoscaling.Policy(
      `${name}-backlog`,
      {
        ...scalable,
        policyType: 'TargetTrackingScaling',
        targetTrackingScalingPolicyConfiguration: {
          targetValue: args.backlogPerWorker,
          scaleOutCooldown: 60,
          scaleInCooldown: 300,
          customizedMetricSpecification: {
            metrics: [
              {
                id: 'visible',
                metricStat: { metric: { namespace: 'AWS/SQS', metricName: 'ApproximateNumberOfMessagesVisible', dimensions: queue }, stat: 'Sum' },
                returnData: false,
              },
              {
                id: 'inflight',
                metricStat: { metric: { namespace: 'AWS/SQS', metricName: 'ApproximateNumberOfMessagesNotVisible', dimensions: queue }, stat: 'Sum' },
                returnData: false,
              },
              {
                id: 'running',
                metricStat: { metric: { namespace: 'ECS/ContainerInsights', metricName: 'RunningTaskCount', dimensions: service }, stat: 'Average' },
                returnData: false,
              },
              { id: 'backlog_per_task', expression: '(visible + inflight) / running', label: 'Backlog per running task', returnData: true },
            ],
          },
        },
      },
      parent,
    );

    // An exact count of 1: the alarm re-fires every minute while it stays in ALARM, and a +1 step would add a task
    // each time while the first one starts. The rule only acts while the service wants no task.
    this.wakePolicy = new aws.appautoscaling.Policy(
      `${name}-wake`,
      {
        ...scalable,
        policyType: 'StepScaling',
        stepScalingPolicyConfiguration: {
          adjustmentType: 'ExactCapacity',
          cooldown: PERIOD_SECONDS,
          metricAggregationType: 'Maximum',
          stepAdjustments: [{ metricIntervalLowerBound: '0', scalingAdjustment: 1 }],
        },
      },
      parent,
    );

    // ">= 1": a "> 1" alarm never fires for a single queued upload. Counted only while the service wants no
    // task (a missing count reads as zero), so the rule never fights the backlog policy.
    this.wakeAlarm = new aws.cloudwatch.MetricAlarm(
      `${name}-wake`,
      {
        alarmDescription: 'Uploads are waiting and the worker fleet is at zero: start a task.',
        comparisonOperator: 'GreaterThanOrEqualToThreshold',
        threshold: 1,
        evaluationPeriods: 1,
        datapointsToAlarm: 1,
        treatMissingData: 'notBreaching',
        metricQueries: [
          {
            id: 'visible',
            metric: {
              namespace: 'AWS/SQS',
              metricName: 'ApproximateNumberOfMessagesVisible',
              dimensions: { QueueName: args.workQueueName },
              stat: 'Maximum',
              period: PERIOD_SECONDS,
            },
            returnData: false,
          },
          {
            id: 'desired',
            metric: {
              namespace: 'ECS/ContainerInsights',
              metricName: 'DesiredTaskCount',
              dimensions: { ClusterName: args.clusterName, ServiceName: args.serviceName },
              stat: 'Maximum',
              period: PERIOD_SECONDS,
            },
            returnData: false,
          },
          { id: 'waiting_at_zero', expression: 'IF(FILL(desired, 0) < 1, visible, 0)', label: 'Visible messages while no task is wanted', returnData: true },
        ],
        alarmActions: [this.wakePolicy.arn],
      },
      parent,
    );

    this.registerOutputs({ resourceId: this.target.resourceId });
  }
}
