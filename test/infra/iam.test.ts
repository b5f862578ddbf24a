import { expect } from 'chai';
import { ACCOUNT } from './mocks.js';
import { asList, grants, programRun, single, statements, type PolicyStatement, type StackRun } from './fixture.js';

/** Actions AWS authorises only on "*" (no resource-level permissions). */
const ONLY_ON_STAR = new Set(['ecr:GetAuthorizationToken']);

describe('infra: IAM', () => {
  let run: StackRun;
  let bucketArn: string;
  let workArn: string;
  let dlqArn: string;
  before(async () => {
    run = await programRun();
    bucketArn = single(run.resources, 'aws:s3/bucket:Bucket').state.arn;
    workArn = single(run.resources, 'aws:sqs/queue:Queue', '-work').state.arn;
    dlqArn = single(run.resources, 'aws:sqs/queue:Queue', '-dlq').state.arn;
  });

  const rolePolicy = (ending: string) => {
    const role = single(run.resources, 'aws:iam/role:Role', ending);
    const policy = single(run.resources, 'aws:iam/rolePolicy:RolePolicy', ending);
    expect(policy.inputs.role, `${ending} policy attached to its role`).to.equal(role.id);
    return { role, policy: policy.inputs.policy };
  };

  it('grants no "*" action and no wildcard action on "*" in any policy of the stack', () => {
    const found: Array<{ where: string; statement: PolicyStatement }> = [];
    for (const resource of run.resources) {
      for (const key of ['policy', 'assumeRolePolicy']) {
        const value = resource.inputs[key];
        if (typeof value === 'string' && value.includes('"Statement"')) {
          for (const statement of statements(value)) found.push({ where: `${resource.type} ${resource.name}.${key}`, statement });
        }
      }
    }
    // bucket, queue, team, operator, task, execution policies and two trust policies; for each of the two scheduled
    // tasks its task, execution and scheduler roles (policy and trust); the forecast schedule's role (policy and trust);
    // the API's role, invoke and completion-topic policies and the API role's trust policy.
    expect(new Set(found.map((f) => f.where)).size).to.equal(8 + 2 * 6 + 2 + 4);
    for (const { where, statement } of found) {
      expect(statement, where).to.not.have.any.keys('NotAction', 'NotResource', 'NotPrincipal');
      const actions = asList(statement.Action);
      const resources = asList(statement.Resource);
      expect(actions, `${where}: actions`).to.not.be.empty;
      expect(
        actions.filter((a) => a === '*' || a === '*:*'),
        `${where}: "*" action`,
      ).to.be.empty;
      if (resources.includes('*')) {
        expect(statement.Effect, `${where}: only Allow needs "*" here`).to.equal('Allow');
        expect(
          actions.filter((a) => !ONLY_ON_STAR.has(a)),
          `${where}: actions on "*"`,
        ).to.be.empty;
      }
      if (statement.Effect === 'Allow') {
        expect(
          actions.filter((a) => a.includes('*')),
          `${where}: wildcard actions in an Allow`,
        ).to.be.empty;
      }
    }
  });

  it('gives the task role only what the worker does, each action on its own resource', () => {
    const { policy } = rolePolicy('-task');
    const cluster = single(run.resources, 'aws:ecs/cluster:Cluster', 'fleet-worker').state;
    expect(grants(policy)).to.deep.equal({
      ReadUploads: { actions: ['s3:GetObject', 's3:GetObjectVersion'], resources: [`${bucketArn}/incoming/*`] },
      ReadModels: { actions: ['s3:GetObject'], resources: [`${bucketArn}/models/*`] },
      ReadRuns: { actions: ['s3:GetObject'], resources: [`${bucketArn}/runs/*`] },
      CreateRuns: { actions: ['s3:PutObject'], resources: [`${bucketArn}/runs/*`] },
      ReadWritePredictions: { actions: ['s3:GetObject', 's3:PutObject'], resources: [`${bucketArn}/predictions/*`] },
      WriteStatus: { actions: ['s3:PutObject'], resources: [`${bucketArn}/status/*`] },
      ReadHistory: { actions: ['s3:GetObject'], resources: [`${bucketArn}/history/*`] },
      CreateHistory: { actions: ['s3:PutObject'], resources: [`${bucketArn}/history/*`] },
      ReadPublished: { actions: ['s3:GetObject'], resources: [`${bucketArn}/daily/latest_preds.csv`, `${bucketArn}/forecasts/*`] },
      CreatePublished: { actions: ['s3:PutObject'], resources: [`${bucketArn}/daily/latest_preds.csv`, `${bucketArn}/forecasts/*`] },
      SwapPublished: { actions: ['s3:PutObject'], resources: [`${bucketArn}/daily/latest_preds.csv`, `${bucketArn}/forecasts/*`] },
      ClaimRuns: { actions: ['s3:GetObject', 's3:PutObject'], resources: [`${bucketArn}/claims/*`] },
      ReadShadowPointer: { actions: ['s3:GetObject'], resources: [`${bucketArn}/registry/shadow.json`] },
      ReadAccuracy: { actions: ['s3:GetObject'], resources: [`${bucketArn}/accuracy/*`] },
      CreateAccuracy: { actions: ['s3:PutObject'], resources: [`${bucketArn}/accuracy/*`] },
      ListKeys: { actions: ['s3:ListBucket'], resources: [bucketArn] },
      ConsumeWorkQueue: {
        actions: ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:ReceiveMessage'],
        resources: [workArn],
      },
      SendToQueues: { actions: ['sqs:SendMessage'], resources: [dlqArn, workArn].sort() },
      ScaleInProtection: {
        actions: ['ecs:UpdateTaskProtection'],
        resources: [`arn:aws:ecs:eu-west-1:${ACCOUNT}:task/${cluster.name}/*`],
      },
    });
    expect(statements(policy).every((s) => s.Effect === 'Allow')).to.equal(true);
    // runs/, history/ and accuracy/ are create-only: their PUT grants hold only with If-None-Match; the shared forecasts
    // and daily file are created so or replaced with If-Match (compare and swap); nothing else is conditioned.
    expect(
      statements(policy)
        .filter((s) => s.Condition)
        .map((s) => [s.Sid, s.Condition]),
    ).to.deep.equal([
      ['CreateRuns', { Null: { 's3:if-none-match': 'false' } }],
      ['CreateHistory', { Null: { 's3:if-none-match': 'false' } }],
      ['CreatePublished', { Null: { 's3:if-none-match': 'false' } }],
      ['SwapPublished', { Null: { 's3:if-match': 'false' } }],
      ['CreateAccuracy', { Null: { 's3:if-none-match': 'false' } }],
    ]);
  });

  it('gives the execution role image pull on its repository and log delivery to its group', () => {
    const { policy } = rolePolicy('-execution');
    const repository = single(run.resources, 'aws:ecr/repository:Repository').state.arn;
    const logGroup = single(run.resources, 'aws:cloudwatch/logGroup:LogGroup', 'fleet-worker-logs').state.arn;
    expect(grants(policy)).to.deep.equal({
      EcrLogin: { actions: ['ecr:GetAuthorizationToken'], resources: ['*'] },
      PullWorkerImage: { actions: ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'], resources: [repository] },
      ShipLogs: { actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup, `${logGroup}:*`] },
    });
  });

  it('lets only ECS tasks of this account assume the two roles', () => {
    for (const ending of ['-task', '-execution']) {
      const { role } = rolePolicy(ending);
      expect(statements(role.inputs.assumeRolePolicy), ending).to.deep.equal([
        {
          Effect: 'Allow',
          Principal: { Service: 'ecs-tasks.amazonaws.com' },
          Action: 'sts:AssumeRole',
          Condition: { StringEquals: { 'aws:SourceAccount': ACCOUNT } },
        },
      ]);
    }
  });

  it('uses the two roles in the task definition', () => {
    const task = single(run.resources, 'aws:ecs/taskDefinition:TaskDefinition', 'fleet-worker-task').inputs;
    expect(task.taskRoleArn).to.equal(single(run.resources, 'aws:iam/role:Role', '-task').state.arn);
    expect(task.executionRoleArn).to.equal(single(run.resources, 'aws:iam/role:Role', '-execution').state.arn);
  });

  it("gives the team's managed policy uploads to incoming/ and reads of predictions/, runs/ and the daily file, and outputs its ARN", () => {
    const team = single(run.resources, 'aws:iam/policy:Policy', '-team');
    expect(run.outputs.team_policy_arn).to.equal(team.state.arn);
    expect(grants(team.inputs.policy)).to.deep.equal({
      UploadInputs: { actions: ['s3:PutObject'], resources: [`${bucketArn}/incoming/*`] },
      ReadOutputs: { actions: ['s3:GetObject'], resources: [`${bucketArn}/daily/latest_preds.csv`, `${bucketArn}/predictions/*`, `${bucketArn}/runs/*`] },
      ListBucket: { actions: ['s3:ListBucket'], resources: [bucketArn] },
    });
    // A condition on s3:prefix would turn "not written yet" (404) into 403 for a GET, which carries no prefix.
    expect(statements(team.inputs.policy).find((s) => s.Sid === 'ListBucket')?.Condition).to.equal(undefined);
  });

  it("gives the operator's managed policy the model and DLQ commands' calls, and outputs its ARN", () => {
    const operator = single(run.resources, 'aws:iam/policy:Policy', '-operator');
    expect(run.outputs.operator_policy_arn).to.equal(operator.state.arn);
    expect(grants(operator.inputs.policy)).to.deep.equal({
      ListBucket: { actions: ['s3:ListBucket', 's3:ListBucketVersions'], resources: [bucketArn] },
      ReadModelsAndRuns: {
        actions: ['s3:GetObject'],
        resources: [`${bucketArn}/accuracy/*`, `${bucketArn}/models/*`, `${bucketArn}/registry/*`, `${bucketArn}/runs/*`, `${bucketArn}/status/*`],
      },
      PublishModels: { actions: ['s3:PutObject'], resources: [`${bucketArn}/models/*`, `${bucketArn}/models/current.json`] },
      ReviewModels: { actions: ['s3:PutObject'], resources: [`${bucketArn}/registry/shadow.json`, `${bucketArn}/registry/versions/*`] },
      AppendChangeLog: { actions: ['s3:PutObject'], resources: [`${bucketArn}/registry/log/*`] },
      SmokeTest: { actions: ['s3:PutObject'], resources: [`${bucketArn}/incoming/_smoke/*`] },
      ReadSmokePredictions: { actions: ['s3:GetObject'], resources: [`${bucketArn}/predictions/_smoke/*`] },
      ReadHistory: { actions: ['s3:GetObject'], resources: [`${bucketArn}/history/*`] },
      LoadHistory: { actions: ['s3:PutObject'], resources: [`${bucketArn}/history/*`] },
      ConsoleUploads: { actions: ['s3:PutObject'], resources: [`${bucketArn}/incoming/api/*`] },
      ConsoleReads: {
        actions: ['s3:GetObject'],
        resources: [`${bucketArn}/daily/*`, `${bucketArn}/forecasts/*`, `${bucketArn}/incoming/api/*`, `${bucketArn}/registry/*`],
      },
      InspectDlq: { actions: ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ReceiveMessage'], resources: [dlqArn] },
      SendToWorkQueue: { actions: ['sqs:GetQueueAttributes', 'sqs:SendMessage'], resources: [workArn] },
    });
  });
});
