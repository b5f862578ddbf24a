import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { FORECAST_MESSAGE, TASK_ENTRY } from '../../infra/schedules.js';
import { MODEL_POINTER_KEY } from '../../shared/layout.js';
import { WORKER_ENV } from '../../shared/worker-env.js';
import { repoRoot } from '../helpers/paths.js';
import { ACCOUNT, REGION } from './mocks.js';
import { changedRun, grants, ofType, programRun, REVISION, single, statements, type StackRun } from './fixture.js';
import type { Recorded } from './mocks.js';

const SCHEDULE = 'aws:scheduler/schedule:Schedule';
const ALARM = 'aws:cloudwatch/metricAlarm:MetricAlarm';
const FILTER = 'aws:cloudwatch/logMetricFilter:LogMetricFilter';

interface Container {
  name: string;
  image: string;
  command: string[];
  environment: Array<{ name: string; value: string }>;
  logConfiguration: { logDriver: string; options: Record<string, string> };
}

const taskDefinition = (run: StackRun, task: string) => single(run.resources, 'aws:ecs/taskDefinition:TaskDefinition', `fleet-${task}-task-definition`);
const container = (run: StackRun, task: string): Container => {
  const containers = JSON.parse(taskDefinition(run, task).inputs.containerDefinitions) as Container[];
  expect(containers).to.have.lengthOf(1);
  return containers[0]!;
};
const rolePolicy = (run: StackRun, roleName: string) => {
  const role = single(run.resources, 'aws:iam/role:Role', roleName);
  const policy = single(run.resources, 'aws:iam/rolePolicy:RolePolicy', roleName);
  expect(policy.inputs.role).to.equal(role.id);
  return { role, policy: policy.inputs.policy as string };
};
const trust = (role: Recorded) => statements(role.inputs.assumeRolePolicy);

describe('infra: schedules (reconciler, market-close forecast, training), their tasks and alarms', () => {
  let run: StackRun;
  let changed: StackRun;
  let bucketArn: string;
  let work: Recorded;
  let cluster: Recorded;
  before(async () => {
    run = await programRun();
    changed = await changedRun();
    bucketArn = single(run.resources, 'aws:s3/bucket:Bucket').state.arn;
    work = single(run.resources, 'aws:sqs/queue:Queue', '-work');
    cluster = single(run.resources, 'aws:ecs/cluster:Cluster', 'fleet-tasks');
  });

  it('runs the three schedules in UTC at the configured times, no flexible window (defaults, then changed)', () => {
    const expressions = (r: StackRun) => Object.fromEntries(ofType(r.resources, SCHEDULE).map((s) => [s.name, s.inputs.scheduleExpression]));
    expect(expressions(run)).to.deep.equal({
      'fleet-reconcile': 'cron(30 2 * * ? *)',
      'fleet-train': 'cron(0 1 ? * MON *)',
      'fleet-forecast': 'cron(5 0 * * ? *)',
    });
    expect(expressions(changed)).to.deep.equal({
      'fleet-reconcile': 'cron(15 4 * * ? *)',
      'fleet-train': 'cron(0 3 ? * SUN *)',
      'fleet-forecast': 'cron(2 0 * * ? *)',
    });
    for (const s of ofType(run.resources, SCHEDULE)) {
      expect(s.inputs, s.name).to.deep.include({ scheduleExpressionTimezone: 'UTC', flexibleTimeWindow: { mode: 'OFF' } });
      expect(s.inputs.target.retryPolicy, s.name).to.deep.equal({ maximumRetryAttempts: 3, maximumEventAgeInSeconds: 3600 });
    }
  });

  describe('market-close forecast', () => {
    it('sends {"command":"forecast"} (no asOf: the latest date in the history) to the work queue', () => {
      const target = single(run.resources, SCHEDULE, 'fleet-forecast').inputs.target;
      expect(target.arn).to.equal(work.state.arn);
      expect(JSON.parse(target.input)).to.deep.equal({ command: 'forecast' }).and.deep.equal(FORECAST_MESSAGE);
      expect(target.roleArn).to.equal(single(run.resources, 'aws:iam/role:Role', 'fleet-forecast-scheduler-role').state.arn);
      expect(target).to.not.have.property('ecsParameters');
    });

    it('has a role the scheduler of this account assumes, which may only send to the work queue', () => {
      const { role, policy } = rolePolicy(run, 'fleet-forecast-scheduler-role');
      expect(grants(policy)).to.deep.equal({ SendToTheQueue: { actions: ['sqs:SendMessage'], resources: [work.state.arn] } });
      expect(statements(policy).every((s) => s.Effect === 'Allow' && !s.Condition)).to.equal(true);
      expect(trust(role)).to.deep.equal([
        {
          Effect: 'Allow',
          Principal: { Service: 'scheduler.amazonaws.com' },
          Action: 'sts:AssumeRole',
          Condition: { StringEquals: { 'aws:SourceAccount': ACCOUNT } },
        },
      ]);
      // SSE-SQS: no KMS key to grant.
      expect(work.inputs.sqsManagedSseEnabled).to.equal(true);
      expect(work.inputs).to.not.have.property('kmsMasterKeyId');
    });
  });

  describe('one-off tasks', () => {
    it('run in a cluster of their own, not the workers', () => {
      for (const task of ['reconcile', 'train']) {
        const params = single(run.resources, SCHEDULE, `fleet-${task}`).inputs.target.ecsParameters;
        expect(single(run.resources, SCHEDULE, `fleet-${task}`).inputs.target.arn).to.equal(cluster.state.arn);
        expect(params).to.deep.include({
          taskDefinitionArn: taskDefinition(run, task).state.arn,
          launchType: 'FARGATE',
          platformVersion: 'LATEST',
          taskCount: 1,
          propagateTags: 'TASK_DEFINITION',
        });
        const subnets = ofType(run.resources, 'aws:ec2/subnet:Subnet').map((s) => s.id);
        const workersSg = single(run.resources, 'aws:ec2/securityGroup:SecurityGroup').id;
        expect(params.networkConfiguration).to.deep.equal({ subnets, securityGroups: [workersSg], assignPublicIp: true });
      }
    });

    it('run the worker image (by digest) with their entry as the command and the worker environment contract', () => {
      expect(container(run, 'reconcile').command).to.deep.equal(['node', 'dist/worker/commands/reconcile-task.js']);
      expect(container(changed, 'reconcile').command).to.deep.equal(['node', 'dist/worker/commands/reconcile-task.js', '--requeue']);
      expect(container(run, 'train').command).to.deep.equal(['node', 'dist/worker/commands/train-task.js']);
      for (const task of ['reconcile', 'train']) {
        const c = container(run, task);
        expect(c.image, task)
          .to.equal(run.outputs.image_ref)
          .and.match(/@sha256:[0-9a-f]{64}$/);
        expect(Object.fromEntries(c.environment.map((e) => [e.name, e.value])), task).to.deep.equal({
          [WORKER_ENV.queueUrl]: run.outputs.queue_url,
          [WORKER_ENV.dlqUrl]: run.outputs.dlq_url,
          [WORKER_ENV.bucket]: run.outputs.bucket_name,
          [WORKER_ENV.modelPointerKey]: MODEL_POINTER_KEY,
          [WORKER_ENV.codeVersion]: run.outputs.image_ref,
          [WORKER_ENV.codeCommit]: REVISION.commit,
          AWS_REGION: REGION,
        });
        const group = single(run.resources, 'aws:cloudwatch/logGroup:LogGroup', `fleet-${task}-logs`);
        expect(c.logConfiguration).to.deep.equal({
          logDriver: 'awslogs',
          options: { 'awslogs-group': group.state.name, 'awslogs-region': REGION, 'awslogs-stream-prefix': task },
        });
        expect(group.inputs.retentionInDays).to.equal(30);
      }
    });

    it('compiles the reconciler entry into the image (tsconfig.build.json)', () => {
      const build = JSON.parse(fs.readFileSync(path.join(repoRoot, 'tsconfig.build.json'), 'utf8')) as { files: string[] };
      const source = TASK_ENTRY.reconcile.replace(/^dist\//, '').replace(/\.js$/, '.ts');
      expect(build.files).to.include(source);
      expect(fs.existsSync(path.join(repoRoot, source))).to.equal(true);
      expect(TASK_ENTRY.train).to.equal('dist/worker/commands/train-task.js');
    });

    it('sizes the reconciler small and the training from trainCpu/trainMemory (default 4 vCPU, 8 GiB)', () => {
      expect(taskDefinition(run, 'reconcile').inputs).to.deep.include({
        cpu: '256',
        memory: '512',
        requiresCompatibilities: ['FARGATE'],
        networkMode: 'awsvpc',
      });
      expect(taskDefinition(run, 'train').inputs).to.deep.include({ cpu: '4096', memory: '8192', requiresCompatibilities: ['FARGATE'], networkMode: 'awsvpc' });
      expect(taskDefinition(changed, 'train').inputs).to.deep.include({ cpu: '8192', memory: '16384' });
    });

    it('gives each task its own roles, which only ECS tasks of this account assume', () => {
      for (const task of ['reconcile', 'train']) {
        const def = taskDefinition(run, task).inputs;
        expect(def.taskRoleArn).to.equal(single(run.resources, 'aws:iam/role:Role', `fleet-${task}-task-role`).state.arn);
        expect(def.executionRoleArn).to.equal(single(run.resources, 'aws:iam/role:Role', `fleet-${task}-execution-role`).state.arn);
        for (const role of [`fleet-${task}-task-role`, `fleet-${task}-execution-role`]) {
          expect(trust(single(run.resources, 'aws:iam/role:Role', role)), role).to.deep.equal([
            {
              Effect: 'Allow',
              Principal: { Service: 'ecs-tasks.amazonaws.com' },
              Action: 'sts:AssumeRole',
              Condition: { StringEquals: { 'aws:SourceAccount': ACCOUNT } },
            },
          ]);
        }
        const repository = single(run.resources, 'aws:ecr/repository:Repository').state.arn;
        const logGroup = single(run.resources, 'aws:cloudwatch/logGroup:LogGroup', `fleet-${task}-logs`).state.arn;
        expect(grants(rolePolicy(run, `fleet-${task}-execution-role`).policy)).to.deep.equal({
          EcrLogin: { actions: ['ecr:GetAuthorizationToken'], resources: ['*'] },
          PullWorkerImage: { actions: ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'], resources: [repository] },
          ShipLogs: { actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup, `${logGroup}:*`] },
        });
      }
    });

    it('lets each schedule run only its own task definition, in the tasks cluster, passing only its two roles', () => {
      for (const task of ['reconcile', 'train']) {
        const { role, policy } = rolePolicy(run, `fleet-${task}-scheduler-role`);
        expect(single(run.resources, SCHEDULE, `fleet-${task}`).inputs.target.roleArn).to.equal(role.state.arn);
        const roles = [`fleet-${task}-task-role`, `fleet-${task}-execution-role`].map((r) => single(run.resources, 'aws:iam/role:Role', r).state.arn);
        expect(statements(policy)).to.deep.equal([
          {
            Sid: 'RunThisTask',
            Effect: 'Allow',
            Action: ['ecs:RunTask'],
            Resource: [taskDefinition(run, task).state.arn],
            Condition: { ArnEquals: { 'ecs:cluster': cluster.state.arn } },
          },
          {
            Sid: 'TagTheTaskItStarts',
            Effect: 'Allow',
            Action: ['ecs:TagResource'],
            Resource: [`arn:aws:ecs:${REGION}:${ACCOUNT}:task/fleet-tasks/*`],
            Condition: { StringEquals: { 'ecs:CreateAction': 'RunTask' } },
          },
          {
            Sid: 'PassTheTaskRoles',
            Effect: 'Allow',
            Action: ['iam:PassRole'],
            Resource: roles,
            Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
          },
        ]);
        expect(trust(role)[0]!.Principal).to.deep.equal({ Service: 'scheduler.amazonaws.com' });
      }
    });

    it('gives the reconciler listing of uploads (every version) and reads of status records, and the queue only with requeue on', () => {
      const expected = {
        ListUploads: { actions: ['s3:ListBucket'], resources: [bucketArn] },
        ListUploadVersions: { actions: ['s3:ListBucketVersions'], resources: [bucketArn] },
        ReadStatus: { actions: ['s3:GetObject'], resources: [`${bucketArn}/status/*`] },
      };
      const policy = rolePolicy(run, 'fleet-reconcile-task-role').policy;
      expect(grants(policy)).to.deep.equal(expected);
      expect(statements(policy).find((s) => s.Sid === 'ListUploadVersions')!.Condition).to.deep.equal({ StringLike: { 's3:prefix': 'incoming/*' } });
      // A missing status record must answer 404: ListBucket carries no prefix condition.
      expect(statements(policy).find((s) => s.Sid === 'ListUploads')!.Condition).to.equal(undefined);
      const changedBucket = single(changed.resources, 'aws:s3/bucket:Bucket').state.arn;
      const changedWork = single(changed.resources, 'aws:sqs/queue:Queue', '-work').state.arn;
      expect(grants(rolePolicy(changed, 'fleet-reconcile-task-role').policy)).to.deep.equal({
        ListUploads: { actions: ['s3:ListBucket'], resources: [changedBucket] },
        ListUploadVersions: { actions: ['s3:ListBucketVersions'], resources: [changedBucket] },
        ReadStatus: { actions: ['s3:GetObject'], resources: [`${changedBucket}/status/*`] },
        RequeueMissing: { actions: ['sqs:SendMessage'], resources: [changedWork] },
      });
    });

    it('gives the training reads of history/ and models/, and create-only writes inside a version folder only', () => {
      const policy = rolePolicy(run, 'fleet-train-task-role').policy;
      expect(grants(policy)).to.deep.equal({
        ListHistoryAndModels: { actions: ['s3:ListBucket'], resources: [bucketArn] },
        ReadHistoryAndModels: { actions: ['s3:GetObject'], resources: [`${bucketArn}/history/*`, `${bucketArn}/models/*`] },
        CreateVersions: { actions: ['s3:PutObject'], resources: [`${bucketArn}/models/*/*`] },
      });
      expect(statements(policy).find((s) => s.Sid === 'CreateVersions')!.Condition).to.deep.equal({ Null: { 's3:if-none-match': 'false' } });
    });
  });

  describe('metrics and alarms', () => {
    const filter = (r: StackRun, name: string) => single(r.resources, FILTER, name).inputs;

    it("counts the reconciler's missing uploads from its report line, in its log group", () => {
      const f = filter(run, 'fleet-metrics-UploadsMissing');
      expect(f.logGroupName).to.equal(single(run.resources, 'aws:cloudwatch/logGroup:LogGroup', 'fleet-reconcile-logs').state.name);
      expect(f.pattern).to.equal('{ $.event = "reconcile.report" && $.missing = * }');
      expect(f.metricTransformation).to.deep.equal({ namespace: 'CryptoOpenFleet', name: 'UploadsMissing', value: '$.missing', unit: 'Count' });
      const alarm = single(run.resources, ALARM, '-uploads-missing').inputs;
      expect(alarm).to.deep.include({
        namespace: 'CryptoOpenFleet',
        metricName: 'UploadsMissing',
        statistic: 'Maximum',
        comparisonOperator: 'GreaterThanThreshold',
        threshold: 0,
        treatMissingData: 'ignore',
      });
      expect(alarm.alarmActions).to.deep.equal([single(run.resources, 'aws:sns/topic:Topic', 'fleet-alarms').state.arn]);
    });

    it("takes worseDays from the worker's accuracy.recorded line and alarms at accuracyAlarmDays (default 3)", () => {
      const f = filter(run, 'fleet-metrics-DaysWorseThanNaive');
      expect(f.logGroupName).to.equal(single(run.resources, 'aws:cloudwatch/logGroup:LogGroup', 'fleet-worker-logs').state.name);
      expect(f.pattern).to.equal('{ $.event = "accuracy.recorded" && $.worseDays = * }');
      expect(f.metricTransformation).to.deep.equal({ namespace: 'CryptoOpenFleet', name: 'DaysWorseThanNaive', value: '$.worseDays', unit: 'Count' });
      const alarm = single(run.resources, ALARM, '-accuracy').inputs;
      expect(alarm).to.deep.include({
        namespace: 'CryptoOpenFleet',
        metricName: 'DaysWorseThanNaive',
        statistic: 'Maximum',
        comparisonOperator: 'GreaterThanOrEqualToThreshold',
        threshold: 3,
        treatMissingData: 'ignore',
      });
      expect(alarm.alarmDescription).to.contain('npm run model -- rollback');
      expect(single(changed.resources, ALARM, '-accuracy').inputs.threshold).to.equal(5);
    });

    it('alarms on any error a scheduled task logs, from both task log groups', () => {
      for (const task of ['reconcile', 'train']) {
        const f = filter(run, `fleet-metrics-${task}-TaskErrors`);
        expect(f.logGroupName).to.equal(single(run.resources, 'aws:cloudwatch/logGroup:LogGroup', `fleet-${task}-logs`).state.name);
        expect(f).to.deep.include({ pattern: '{ $.level = "error" }' });
        expect(f.metricTransformation).to.deep.include({ name: 'TaskErrors', value: '1', defaultValue: '0' });
      }
      expect(single(run.resources, ALARM, '-task-errors').inputs).to.deep.include({
        metricName: 'TaskErrors',
        statistic: 'Sum',
        threshold: 1,
        comparisonOperator: 'GreaterThanOrEqualToThreshold',
      });
    });
  });
});
