import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { METRICS_NAMESPACE } from './worker-metrics.js';

export interface FleetDashboardArgs {
  region: pulumi.Input<string>;
  workQueueName: pulumi.Input<string>;
  dlqName: pulumi.Input<string>;
  clusterName: pulumi.Input<string>;
  serviceName: pulumi.Input<string>;
}

/** One CloudWatch dashboard: backlog, oldest upload, running tasks, runs, failures, latency, the DLQ. */
export class FleetDashboard extends pulumi.ComponentResource {
  readonly dashboard: aws.cloudwatch.Dashboard;

  constructor(name: string, args: FleetDashboardArgs, opts?: pulumi.ComponentResourceOptions) {
    super('crypto-open-fleet:infra:FleetDashboard', name, {}, opts);
    const body = pulumi
      .all([args.region, args.workQueueName, args.dlqName, args.clusterName, args.serviceName])
      .apply(([region, work, dlq, cluster, service]) => {
        const widget = (x: number, y: number, title: string, metrics: unknown[][], stat: string) => ({
          type: 'metric',
          x,
          y,
          width: 12,
          height: 6,
          properties: { title, region, stat, period: 60, view: 'timeSeries', metrics },
        });
        return JSON.stringify({
          widgets: [
            widget(
              0,
              0,
              'Backlog (uploads waiting, in flight)',
              [
                ['AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'QueueName', work],
                ['.', 'ApproximateNumberOfMessagesNotVisible', '.', '.'],
              ],
              'Maximum',
            ),
            widget(12, 0, 'Oldest waiting upload (s)', [['AWS/SQS', 'ApproximateAgeOfOldestMessage', 'QueueName', work]], 'Maximum'),
            widget(
              0,
              6,
              'Runs and failures',
              [
                [METRICS_NAMESPACE, 'RunsSucceeded'],
                ['.', 'RunsFailed'],
                ['.', 'WorkerErrors'],
              ],
              'Sum',
            ),
            widget(
              12,
              6,
              'Upload -> predictions latency (ms)',
              [
                [METRICS_NAMESPACE, 'RunLatencyMs', { stat: 'p50' }],
                ['...', { stat: 'p95' }],
              ],
              'p50',
            ),
            widget(
              0,
              12,
              'Workers (running tasks)',
              [['ECS/ContainerInsights', 'RunningTaskCount', 'ClusterName', cluster, 'ServiceName', service]],
              'Average',
            ),
            widget(12, 12, 'Dead-letter queue', [['AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'QueueName', dlq]], 'Maximum'),
          ],
        });
      });
    this.dashboard = new aws.cloudwatch.Dashboard(name, { dashboardName: name, dashboardBody: body }, { parent: this });
    this.registerOutputs({ name: this.dashboard.dashboardName });
  }
}
