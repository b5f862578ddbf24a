import { expect } from 'chai';
import { STACK_OUTPUT } from '../../shared/worker-env.js';
import { ALARM_EMAIL, changedRun, ofType, programRun, single, type StackRun } from './fixture.js';

const POLICY = 'aws:appautoscaling/policy:Policy';
const ALARM = 'aws:cloudwatch/metricAlarm:MetricAlarm';

describe('infra: autoscaling, alarms and outputs', () => {
  let run: StackRun;
  let changed: StackRun;
  let names: { queue: string; dlq: string; cluster: string; service: string };
  before(async () => {
    run = await programRun();
    changed = await changedRun();
    names = {
      queue: single(run.resources, 'aws:sqs/queue:Queue', '-work').state.name,
      dlq: single(run.resources, 'aws:sqs/queue:Queue', '-dlq').state.name,
      cluster: single(run.resources, 'aws:ecs/cluster:Cluster', 'fleet-worker').state.name,
      service: single(run.resources, 'aws:ecs/service:Service').state.name,
    };
  });

  describe('scaling target', () => {
    it("scales the service's desired count between minWorkers and maxWorkers", () => {
      expect(single(run.resources, 'aws:appautoscaling/target:Target').inputs).to.deep.include({
        serviceNamespace: 'ecs',
        scalableDimension: 'ecs:service:DesiredCount',
        resourceId: `service/${names.cluster}/${names.service}`,
        // Two warm tasks by default, one per Availability Zone.
        minCapacity: 2,
        maxCapacity: 4,
      });
    });

    it('takes maxWorkers and minWorkers from the stack config', () => {
      expect(single(changed.resources, 'aws:appautoscaling/target:Target').inputs).to.deep.include({ minCapacity: 0, maxCapacity: 9 });
    });

    it('attaches exactly two policies to that target: backlog tracking and the wake rule, nothing on CPU', () => {
      const target = single(run.resources, 'aws:appautoscaling/target:Target').inputs;
      const policies = ofType(run.resources, POLICY);
      expect(policies.map((p) => p.inputs.policyType).sort()).to.deep.equal(['StepScaling', 'TargetTrackingScaling']);
      for (const policy of policies) {
        expect(policy.inputs, policy.name).to.deep.include({
          resourceId: target.resourceId,
          scalableDimension: target.scalableDimension,
          serviceNamespace: target.serviceNamespace,
        });
        expect(policy.inputs.targetTrackingScalingPolicyConfiguration?.predefinedMetricSpecification, policy.name).to.equal(undefined);
      }
      const everything = JSON.stringify([...ofType(run.resources, POLICY), ...ofType(run.resources, ALARM)].map((r) => r.inputs));
      expect(everything).to.not.match(/CPUUtilization|MemoryUtilization|ECSServiceAverage/);
    });
  });

  describe('backlog policy', () => {
    it('tracks (visible + in-flight messages) / running tasks of this queue and service at backlogPerWorker', () => {
      const policy = ofType(run.resources, POLICY).find((p) => p.inputs.policyType === 'TargetTrackingScaling')!;
      const config = policy.inputs.targetTrackingScalingPolicyConfiguration;
      expect(config.targetValue).to.equal(5);
      expect(config.disableScaleIn ?? false).to.equal(false);
      const metrics = config.customizedMetricSpecification.metrics as any[];
      const byId = Object.fromEntries(metrics.map((m) => [m.id, m]));
      const queue = [{ name: 'QueueName', value: names.queue }];
      expect(byId.visible.metricStat.metric).to.deep.equal({ namespace: 'AWS/SQS', metricName: 'ApproximateNumberOfMessagesVisible', dimensions: queue });
      expect(byId.inflight.metricStat.metric).to.deep.equal({ namespace: 'AWS/SQS', metricName: 'ApproximateNumberOfMessagesNotVisible', dimensions: queue });
      expect(byId.running.metricStat.metric).to.deep.equal({
        namespace: 'ECS/ContainerInsights',
        metricName: 'RunningTaskCount',
        dimensions: [
          { name: 'ClusterName', value: names.cluster },
          { name: 'ServiceName', value: names.service },
        ],
      });
      const returned = metrics.filter((m) => m.returnData);
      expect(returned).to.have.lengthOf(1);
      expect(returned[0].expression.replace(/\s+/g, '')).to.equal('(visible+inflight)/running');
    });

    it('takes its target from the stack config', () => {
      const policy = ofType(changed.resources, POLICY).find((p) => p.inputs.policyType === 'TargetTrackingScaling')!;
      expect(policy.inputs.targetTrackingScalingPolicyConfiguration.targetValue).to.equal(12);
    });
  });

  describe('wake from zero', () => {
    it('sets the count to exactly 1 when one message is visible while the service wants none (">= 1"; re-firing cannot overshoot)', () => {
      const wake = ofType(run.resources, POLICY).find((p) => p.inputs.policyType === 'StepScaling')!;
      expect(wake.inputs.stepScalingPolicyConfiguration).to.deep.include({
        adjustmentType: 'ExactCapacity',
        stepAdjustments: [{ metricIntervalLowerBound: '0', scalingAdjustment: 1 }],
      });

      const alarm = ofType(run.resources, ALARM).find((a) => (a.inputs.alarmActions ?? []).includes(wake.state.arn));
      expect(alarm, 'an alarm invoking the wake policy').to.not.equal(undefined);
      expect(alarm!.inputs).to.deep.include({ comparisonOperator: 'GreaterThanOrEqualToThreshold', threshold: 1, evaluationPeriods: 1 });
      const queries = Object.fromEntries((alarm!.inputs.metricQueries as any[]).map((q) => [q.id, q]));
      expect(queries.visible.metric).to.deep.include({
        namespace: 'AWS/SQS',
        metricName: 'ApproximateNumberOfMessagesVisible',
        dimensions: { QueueName: names.queue },
        stat: 'Maximum',
      });
      expect(queries.desired.metric).to.deep.include({
        namespace: 'ECS/ContainerInsights',
        metricName: 'DesiredTaskCount',
        dimensions: { ClusterName: names.cluster, ServiceName: names.service },
      });
      const returned = (alarm!.inputs.metricQueries as any[]).filter((q) => q.returnData);
      expect(returned.map((q) => q.expression.replace(/\s+/g, ''))).to.deep.equal(['IF(FILL(desired,0)<1,visible,0)']);
    });
  });

  describe('DLQ alarm', () => {
    it('fires as soon as the DLQ holds one message and notifies the SNS topic', () => {
      const topic = single(run.resources, 'aws:sns/topic:Topic', '-alarms');
      const alarm = single(run.resources, ALARM, '-dlq-not-empty').inputs;
      expect(alarm).to.deep.include({
        namespace: 'AWS/SQS',
        metricName: 'ApproximateNumberOfMessagesVisible',
        dimensions: { QueueName: names.dlq },
        comparisonOperator: 'GreaterThanOrEqualToThreshold',
        threshold: 1,
        treatMissingData: 'notBreaching',
      });
      expect(alarm.alarmActions).to.deep.equal([topic.state.arn]);
      expect(run.outputs.alarm_topic_arn).to.equal(topic.state.arn);
    });

    it('subscribes alarmEmail to the topic, and nobody when it is not set', () => {
      const subscription = single(run.resources, 'aws:sns/topicSubscription:TopicSubscription').inputs;
      expect(subscription).to.deep.equal({
        topic: single(run.resources, 'aws:sns/topic:Topic', '-alarms').state.arn,
        protocol: 'email',
        endpoint: ALARM_EMAIL,
      });
      expect(ofType(changed.resources, 'aws:sns/topicSubscription:TopicSubscription')).to.be.empty;
      // The wake rule, the DLQ, the oldest upload, the worker errors, the model check, the missing uploads, the accuracy
      // and the scheduled tasks' errors.
      expect(ofType(changed.resources, ALARM)).to.have.lengthOf(8);
    });
  });

  describe('operations alarms, metrics and dashboard', () => {
    it('alarms when the oldest upload waits longer than oldestMessageAlarmSeconds (default 300 s), to the topic', () => {
      const topic = single(run.resources, 'aws:sns/topic:Topic', '-alarms').state.arn;
      const alarm = single(run.resources, ALARM, '-oldest-upload').inputs;
      expect(alarm).to.deep.include({
        namespace: 'AWS/SQS',
        metricName: 'ApproximateAgeOfOldestMessage',
        dimensions: { QueueName: names.queue },
        statistic: 'Maximum',
        comparisonOperator: 'GreaterThanThreshold',
        threshold: 300,
        evaluationPeriods: 2,
      });
      expect(alarm.alarmActions).to.deep.equal([topic]);
    });

    it('alarms on any error a worker logs, counted from its log group by a metric filter', () => {
      const alarm = single(run.resources, ALARM, '-worker-errors').inputs;
      expect(alarm).to.deep.include({
        namespace: 'CryptoOpenFleet',
        metricName: 'WorkerErrors',
        statistic: 'Sum',
        threshold: 1,
        comparisonOperator: 'GreaterThanOrEqualToThreshold',
      });
      const logGroup = single(run.resources, 'aws:cloudwatch/logGroup:LogGroup', 'fleet-worker-logs').state.name;
      const filters = ofType(run.resources, 'aws:cloudwatch/logMetricFilter:LogMetricFilter').filter((f) => f.inputs.logGroupName === logGroup);
      expect(filters.map((f) => f.inputs.metricTransformation.name).sort()).to.deep.equal([
        'DaysWorseThanNaive',
        'ModelCheckFailed',
        'RunLatencyMs',
        'RunsFailed',
        'RunsSucceeded',
        'WorkerErrors',
      ]);
      for (const f of filters) expect(f.inputs.logGroupName, f.name).to.equal(logGroup);
      const errors = filters.find((f) => f.inputs.metricTransformation.name === 'WorkerErrors')!;
      expect(errors.inputs.pattern).to.equal('{ $.level = "error" }');
      const latency = filters.find((f) => f.inputs.metricTransformation.name === 'RunLatencyMs')!;
      expect(latency.inputs.metricTransformation).to.deep.include({ value: '$.eventToDoneMs', unit: 'Milliseconds' });
    });

    it('alarms when a worker refuses a model version whose check fails on its backend', () => {
      const alarm = single(run.resources, ALARM, '-model-check-failed').inputs;
      expect(alarm).to.deep.include({
        namespace: 'CryptoOpenFleet',
        metricName: 'ModelCheckFailed',
        threshold: 1,
        comparisonOperator: 'GreaterThanOrEqualToThreshold',
      });
      const filter = ofType(run.resources, 'aws:cloudwatch/logMetricFilter:LogMetricFilter').find(
        (f) => f.inputs.metricTransformation.name === 'ModelCheckFailed',
      )!;
      expect(filter.inputs.pattern).to.equal('{ $.event = "model.check-failed" }');
    });

    it('draws one dashboard of backlog, oldest upload, runs and failures, latency, tasks and the DLQ', () => {
      const dashboard = single(run.resources, 'aws:cloudwatch/dashboard:Dashboard');
      const body = JSON.parse(dashboard.inputs.dashboardBody) as { widgets: { properties: { title: string; metrics: unknown[][] } }[] };
      expect(body.widgets.map((w) => w.properties.title)).to.deep.equal([
        'Backlog (uploads waiting, in flight)',
        'Oldest waiting upload (s)',
        'Runs and failures',
        'Upload -> predictions latency (ms)',
        'Workers (running tasks)',
        'Dead-letter queue',
      ]);
      const text = JSON.stringify(body);
      for (const name of [names.queue, names.dlq, names.cluster, names.service, 'RunLatencyMs', 'WorkerErrors']) expect(text).to.contain(name);
      expect(run.outputs.dashboard_name).to.equal(dashboard.inputs.dashboardName);
    });
  });

  describe('outputs', () => {
    it('gives the team test_url and pred_url for crypto_test.csv', () => {
      const bucket = single(run.resources, 'aws:s3/bucket:Bucket').state.bucket;
      expect(run.outputs.test_url).to.equal(`s3://${bucket}/incoming/`);
      expect(run.outputs.pred_url).to.equal(`s3://${bucket}/predictions/crypto_test_preds.csv`);
    });

    it('exports every named output, each from its resource', () => {
      expect(Object.keys(run.outputs).sort()).to.deep.equal(Object.values(STACK_OUTPUT).sort());
      expect(run.outputs).to.deep.include({
        bucket_name: single(run.resources, 'aws:s3/bucket:Bucket').state.bucket,
        queue_url: single(run.resources, 'aws:sqs/queue:Queue', '-work').state.url,
        dlq_url: single(run.resources, 'aws:sqs/queue:Queue', '-dlq').state.url,
        region: 'eu-west-1',
      });
      for (const [name, value] of Object.entries(run.outputs)) expect(value, name).to.be.a('string').and.not.be.empty;
    });
  });
});
