import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

export interface WorkerMetricsArgs {
  logGroupName: pulumi.Input<string>;
  /** The scheduled tasks' log groups: the reconciler's, the training's. */
  reconcileLogGroupName: pulumi.Input<string>;
  trainLogGroupName: pulumi.Input<string>;
}

/** The namespace of the metrics taken from the workers' JSON logs. */
export const METRICS_NAMESPACE = 'CryptoOpenFleet';

/** metric name -> the log events it counts (or measures), as the worker writes them (worker/runtime/log.ts). */
export const WORKER_METRICS = {
  RunsSucceeded: { pattern: '{ $.event = "run.succeeded" }', value: '1', unit: 'Count' },
  RunsFailed: { pattern: '{ $.event = "run.failed" }', value: '1', unit: 'Count' },
  /** Upload (S3 event time) to manifest written, per run. */
  RunLatencyMs: { pattern: '{ $.event = "run.succeeded" && $.eventToDoneMs = * }', value: '$.eventToDoneMs', unit: 'Milliseconds' },
  /** A model version refused because its check windows gave other numbers on the worker's backend. */
  ModelCheckFailed: { pattern: '{ $.event = "model.check-failed" }', value: '1', unit: 'Count' },
  /** Every error-level line: an unexpected failure, with its stack. */
  WorkerErrors: { pattern: '{ $.level = "error" }', value: '1', unit: 'Count' },
  /** After each daily run: days in a row the version in service did worse than the naive "tomorrow = today" baseline. */
  DaysWorseThanNaive: { pattern: '{ $.event = "accuracy.recorded" && $.worseDays = * }', value: '$.worseDays', unit: 'Count' },
} as const;

/** From the reconciler's daily report (worker/commands/reconcile-task.ts): uploads with neither manifest nor error record. */
export const RECONCILE_METRICS = {
  UploadsMissing: { pattern: '{ $.event = "reconcile.report" && $.missing = * }', value: '$.missing', unit: 'Count' },
} as const;

/** From every scheduled task's log group: an error-level line (a crash, with its stack). */
export const TASK_METRICS = {
  TaskErrors: { pattern: '{ $.level = "error" }', value: '1', unit: 'Count' },
} as const;

type MetricFilters = Record<string, { pattern: string; value: string; unit: string }>;

/**
 * Metrics from the workers' own log lines (CloudWatch Logs metric filters): no metrics API call and no extra grant for
 * the worker, and the log line behind each data point stays readable.
 */
export class WorkerMetrics extends pulumi.ComponentResource {
  readonly filters: aws.cloudwatch.LogMetricFilter[];

  constructor(name: string, args: WorkerMetricsArgs, opts?: pulumi.ComponentResourceOptions) {
    super('crypto-open-fleet:infra:WorkerMetrics', name, {}, opts);
    const groups: Array<[string, pulumi.Input<string>, MetricFilters]> = [
      ['', args.logGroupName, WORKER_METRICS],
      ['', args.reconcileLogGroupName, RECONCILE_METRICS],
      ['reconcile-', args.reconcileLogGroupName, TASK_METRICS],
      ['train-', args.trainLogGroupName, TASK_METRICS],
    ];
    this.filters = groups.flatMap(([prefix, logGroupName, metrics]) =>
      Object.entries(metrics).map(
        ([metric, m]) =>
          new aws.cloudwatch.LogMetricFilter(
            `${name}-${prefix}${metric}`,
            {
              logGroupName,
              pattern: m.pattern,
              metricTransformation: {
                namespace: METRICS_NAMESPACE,
                name: metric,
                value: m.value,
                unit: m.unit,
                defaultValue: m.value === '1' ? '0' : undefined,
              },
            },
            { parent: this },
          ),
      ),
    );
    this.registerOutputs({});
  }
}
