import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

export interface WorkerMetricsArgs {
  logGroupName: pulumi.Input<string>;
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
} as const;

/**
 * Metrics from the workers' own log lines (CloudWatch Logs metric filters): no metrics API call and no extra grant for
 * the worker, and the log line behind each data point stays readable.
 */
export class WorkerMetrics extends pulumi.ComponentResource {
  readonly filters: aws.cloudwatch.LogMetricFilter[];

  constructor(name: string, args: WorkerMetricsArgs, opts?: pulumi.ComponentResourceOptions) {
    super('crypto-open-fleet:infra:WorkerMetrics', name, {}, opts);
    this.filters = Object.entries(WORKER_METRICS).map(
      ([metric, m]) =>
        new aws.cloudwatch.LogMetricFilter(
          `${name}-${metric}`,
          {
            logGroupName: args.logGroupName,
            pattern: m.pattern,
            metricTransformation: { namespace: METRICS_NAMESPACE, name: metric, value: m.value, unit: m.unit, defaultValue: m.value === '1' ? '0' : undefined },
          },
          { parent: this },
        ),
    );
    this.registerOutputs({});
  }
}
