import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { LOCAL_STACK } from '../../worker/local/constants.js';
import type { RecordedRequest } from '../../worker/runtime/request-log.js';
import { ofType, programRun, single } from '../infra/fixture.js';
import { OPERATIONS, type Target } from './actions.js';
import { deniedLines, evaluateRequests, type Declared, type DeclaredPrincipal } from './evaluate.js';
import { managedPolicyPrincipal, programPolicies, rolePrincipal } from './program-policies.js';
import { REQUEST_LOG_FILE, repoRoot } from '../helpers/paths.js';

/**
 * Every AWS request the end-to-end suite recorded (`npm run test:e2e` runs first), evaluated with iam-simulate against
 * the policies the Pulumi program declares for its principal, with the bucket's and queues' resource policies.
 * A call added to the code without its grant fails here: as an unmapped operation, or as a DENIED line.
 */

/** The same request on another run of the local stack (another port) is the same request. */
function normalized(r: RecordedRequest): RecordedRequest {
  const params = { ...r.params };
  if (params.queueUrl) params.queueUrl = params.queueUrl.replace(/^http:\/\/127\.0\.0\.1:\d+/, 'http://127.0.0.1:4569');
  return { ...r, params };
}

function readLog(): RecordedRequest[] {
  if (!fs.existsSync(REQUEST_LOG_FILE)) throw new Error(`${REQUEST_LOG_FILE} is missing: run \`npm run test:e2e\` first (it records the requests)`);
  const lines = fs.readFileSync(REQUEST_LOG_FILE, 'utf8').split('\n').filter(Boolean);
  const seen = new Map<string, RecordedRequest>();
  for (const line of lines) {
    const r = normalized(JSON.parse(line) as RecordedRequest);
    seen.set(JSON.stringify(r), r);
  }
  return [...seen.values()];
}

describe('IAM: every recorded request is allowed by the declared policies; the forbidden ones are denied', () => {
  let requests: RecordedRequest[];
  let declared: Declared;
  let worker: DeclaredPrincipal;
  let bucket: string;
  /** 'fleet-reconcile' -> its task definition's family. */
  let families: Record<string, string>;
  before(async function () {
    this.timeout(120_000);
    requests = readLog();
    const run = await programRun();
    const policies = programPolicies(run.resources);
    const work = single(run.resources, 'aws:sqs/queue:Queue', '-work').state;
    const dlq = single(run.resources, 'aws:sqs/queue:Queue', '-dlq').state;
    bucket = String(single(run.resources, 'aws:s3/bucket:Bucket').state.bucket);
    const accountId = String(work.arn).split(':')[4]!;
    const target: Target = {
      accountId,
      region: run.outputs.region!,
      buckets: { [LOCAL_STACK.bucket]: bucket },
      queues: { [LOCAL_STACK.queueName]: String(work.name), [LOCAL_STACK.dlqName]: String(dlq.name) },
      clusters: {
        'this-cluster': String(single(run.resources, 'aws:ecs/cluster:Cluster', 'fleet-worker').state.name),
        'tasks-cluster': String(single(run.resources, 'aws:ecs/cluster:Cluster', 'fleet-tasks').state.arn),
      },
      // RunTask by family: the scheduled tasks' definitions and the roles they pass.
      taskDefinitions: Object.fromEntries(
        ofType(run.resources, 'aws:ecs/taskDefinition:TaskDefinition').map((d) => [
          String(d.inputs.family),
          { arn: String(d.state.arn), roles: [String(d.inputs.taskRoleArn), String(d.inputs.executionRoleArn)] },
        ]),
      ),
    };
    families = Object.fromEntries(
      ofType(run.resources, 'aws:ecs/taskDefinition:TaskDefinition').map((d) => [d.name.replace(/-task(-definition)?$/, ''), String(d.inputs.family)]),
    );
    worker = rolePrincipal(policies, 'worker', '-task');
    declared = {
      principals: [
        worker,
        // The scheduled tasks record as their task roles (AWS_REQUEST_PRINCIPAL), and the schedules' own roles.
        rolePrincipal(policies, 'reconcile-task', '-reconcile-task-role'),
        rolePrincipal(policies, 'train-task', '-train-task-role'),
        rolePrincipal(policies, 'reconcile-scheduler', '-reconcile-scheduler-role'),
        rolePrincipal(policies, 'train-scheduler', '-train-scheduler-role'),
        rolePrincipal(policies, 'forecast-scheduler', '-forecast-scheduler-role'),
        // The REST API's Lambda (infra/api.ts): the API's handlers record their requests as `api` in the e2e tests.
        rolePrincipal(policies, 'api', '-api-role'),
        // The team and the operators attach the managed policies to their own identities, outside the stack.
        managedPolicyPrincipal(policies, 'team', 'fleet-team', `arn:aws:iam::${accountId}:user/team-frontend`),
        managedPolicyPrincipal(policies, 'operator', 'fleet-operator', `arn:aws:iam::${accountId}:user/operator`),
      ],
      resourcePolicies: policies.resourcePolicies,
      target,
    };
  });

  it('recorded the work of every principal, each declared', () => {
    const principals = new Set(requests.map((r) => r.principal));
    expect([...principals]).to.include.members(['api', 'operator', 'reconcile-task', 'team', 'worker']);
    expect(
      [...principals].filter((p) => !declared.principals.some((d) => d.label === p)),
      'recorded principals not declared',
    ).to.deep.equal([]);
  });

  it('allows every request the worker, the team and the operator commands made', async () => {
    const decisions = await evaluateRequests(requests, declared);
    expect(decisions.length).to.be.at.least(requests.length);
    expect(deniedLines(decisions), 'denied requests').to.deep.equal([]);
  });

  it('covers every SDK call in the code: each command the code sends was recorded and has a mapping', () => {
    const sources = (fs.readdirSync(path.join(repoRoot, 'worker'), { recursive: true }) as string[])
      .filter((f) => f.endsWith('.ts') && !f.startsWith(`local${path.sep}`))
      .map((f) => fs.readFileSync(path.join(repoRoot, 'worker', f), 'utf8'));
    const inCode = new Set<string>();
    for (const text of sources) {
      for (const m of text.matchAll(/new (\w+)Command\(/g)) inCode.add(m[1]!);
      for (const m of text.matchAll(/paginate(\w+)\(/g)) inCode.add(m[1]!);
    }
    expect(inCode.size).to.be.at.least(8);
    const recorded = new Set(requests.map((r) => r.operation));
    const mapped = new Set(Object.keys(OPERATIONS).map((k) => k.split(':')[1]));
    expect(
      [...inCode].filter((op) => !mapped.has(op)),
      'operations without an IAM mapping (test/iam/actions.ts)',
    ).to.deep.equal([]);
    expect(
      [...inCode].filter((op) => !recorded.has(op)),
      'operations the end-to-end suite never made (add a scenario)',
    ).to.deep.equal([]);
  });

  const queueUrl = (name: string) => `http://127.0.0.1:4569/${LOCAL_STACK.accountId}/${name}`;
  const forbidden = (principal: string, operation: string, params: RecordedRequest['params'], service = 's3'): RecordedRequest => ({
    principal,
    service,
    operation,
    region: LOCAL_STACK.region,
    params,
  });
  const MUST_DENY: [string, RecordedRequest][] = [
    ['the worker writes an upload', forbidden('worker', 'PutObject', { bucket: LOCAL_STACK.bucket, key: 'incoming/x.csv' })],
    ['the worker repoints the model in service', forbidden('worker', 'PutObject', { bucket: LOCAL_STACK.bucket, key: 'models/current.json' })],
    ['the worker deletes an upload', forbidden('worker', 'DeleteObject', { bucket: LOCAL_STACK.bucket, key: 'incoming/x.csv' })],
    ['the worker deletes a run file', forbidden('worker', 'DeleteObject', { bucket: LOCAL_STACK.bucket, key: 'runs/r/manifest.json' })],
    ['the worker deletes a version', forbidden('worker', 'DeleteObject', { bucket: LOCAL_STACK.bucket, key: 'predictions/x_preds.csv', versionId: 'v1' })],
    ['the worker reads another bucket', forbidden('worker', 'GetObject', { bucket: 'someone-elses-bucket', key: 'secret.csv' })],
    ['the worker overwrites a run file', forbidden('worker', 'PutObject', { bucket: LOCAL_STACK.bucket, key: 'runs/r/manifest.json' })],
    ['the worker overwrites history', forbidden('worker', 'PutObject', { bucket: LOCAL_STACK.bucket, key: 'history/x.csv' })],
    ['the worker replaces the daily file without If-Match', forbidden('worker', 'PutObject', { bucket: LOCAL_STACK.bucket, key: 'daily/latest_preds.csv' })],
    [
      'the worker writes under daily/ beside the daily file',
      forbidden('worker', 'PutObject', { bucket: LOCAL_STACK.bucket, key: 'daily/other.csv', ifNoneMatch: '*' }),
    ],
    ['the team writes the daily file', forbidden('team', 'PutObject', { bucket: LOCAL_STACK.bucket, key: 'daily/latest_preds.csv', ifMatch: '"e"' })],
    [
      'the worker purges the DLQ',
      forbidden('worker', 'PurgeQueue', { queueUrl: `http://127.0.0.1:4569/${LOCAL_STACK.accountId}/${LOCAL_STACK.dlqName}` }, 'sqs'),
    ],
    ['the team writes a model', forbidden('team', 'PutObject', { bucket: LOCAL_STACK.bucket, key: 'models/v-x/weights.bin' })],
    ['the team writes a run file', forbidden('team', 'PutObject', { bucket: LOCAL_STACK.bucket, key: 'runs/r/preds.csv', ifNoneMatch: '*' })],
    ['the team repoints the model in service', forbidden('team', 'PutObject', { bucket: LOCAL_STACK.bucket, key: 'models/current.json' })],
    ['the API writes outside incoming/api/', forbidden('api', 'PutObject', { bucket: LOCAL_STACK.bucket, key: 'incoming/x.csv' })],
    ['the API writes a run file', forbidden('api', 'PutObject', { bucket: LOCAL_STACK.bucket, key: 'runs/r/manifest.json', ifNoneMatch: '*' })],
    ['the API repoints the model in service', forbidden('api', 'PutObject', { bucket: LOCAL_STACK.bucket, key: 'models/current.json' })],
    ['the API reads the history', forbidden('api', 'GetObject', { bucket: LOCAL_STACK.bucket, key: 'history/segments/2018-01/x.csv' })],
    ['the API reads the DLQ', forbidden('api', 'ReceiveMessage', { queueUrl: `http://127.0.0.1:4569/${LOCAL_STACK.accountId}/${LOCAL_STACK.dlqName}` }, 'sqs')],
    ['an operator overwrites a run file', forbidden('operator', 'PutObject', { bucket: LOCAL_STACK.bucket, key: 'runs/r/manifest.json' })],
    ['an operator deletes an upload', forbidden('operator', 'DeleteObject', { bucket: LOCAL_STACK.bucket, key: 'incoming/x.csv' })],
    ["an operator overwrites a model version's file", forbidden('operator', 'PutObject', { bucket: LOCAL_STACK.bucket, key: 'models/v-x/weights.bin' })],
    // The market-close schedule sends to the work queue and does nothing else.
    ['the forecast schedule sends to the DLQ', forbidden('forecast-scheduler', 'SendMessage', { queueUrl: queueUrl(LOCAL_STACK.dlqName) }, 'sqs')],
    ['the forecast schedule receives work', forbidden('forecast-scheduler', 'ReceiveMessage', { queueUrl: queueUrl(LOCAL_STACK.queueName) }, 'sqs')],
    ['the forecast schedule purges the work queue', forbidden('forecast-scheduler', 'PurgeQueue', { queueUrl: queueUrl(LOCAL_STACK.queueName) }, 'sqs')],
    ['the forecast schedule reads an object', forbidden('forecast-scheduler', 'GetObject', { bucket: LOCAL_STACK.bucket, key: 'history/x.csv' })],
    [
      'the forecast schedule writes an upload',
      forbidden('forecast-scheduler', 'PutObject', { bucket: LOCAL_STACK.bucket, key: 'incoming/x.csv', ifNoneMatch: '*' }),
    ],
    ['the forecast schedule lists the bucket', forbidden('forecast-scheduler', 'ListObjectsV2', { bucket: LOCAL_STACK.bucket, prefix: 'incoming/' })],
    // The training creates a version's files and nothing else: not the pointer, not the registry, no overwrite.
    ['the training repoints the model in service', forbidden('train-task', 'PutObject', { bucket: LOCAL_STACK.bucket, key: 'models/current.json' })],
    [
      'the training repoints the model in service (If-Match)',
      forbidden('train-task', 'PutObject', { bucket: LOCAL_STACK.bucket, key: 'models/current.json', ifMatch: '"abc"' }),
    ],
    ['the training creates the pointer', forbidden('train-task', 'PutObject', { bucket: LOCAL_STACK.bucket, key: 'models/current.json', ifNoneMatch: '*' })],
    ['the training overwrites a version file', forbidden('train-task', 'PutObject', { bucket: LOCAL_STACK.bucket, key: 'models/v-x/weights.bin' })],
    [
      'the training overwrites a version file (If-Match)',
      forbidden('train-task', 'PutObject', { bucket: LOCAL_STACK.bucket, key: 'models/v-x/metadata.json', ifMatch: '"abc"' }),
    ],
    ['the training writes the registry', forbidden('train-task', 'PutObject', { bucket: LOCAL_STACK.bucket, key: 'registry/v-x.json', ifNoneMatch: '*' })],
    ['the training writes history', forbidden('train-task', 'PutObject', { bucket: LOCAL_STACK.bucket, key: 'history/x.csv', ifNoneMatch: '*' })],
    ['the training reads an upload', forbidden('train-task', 'GetObject', { bucket: LOCAL_STACK.bucket, key: 'incoming/x.csv' })],
    ['the training sends work', forbidden('train-task', 'SendMessage', { queueUrl: queueUrl(LOCAL_STACK.queueName) }, 'sqs')],
    ['the training deletes a version file', forbidden('train-task', 'DeleteObject', { bucket: LOCAL_STACK.bucket, key: 'models/v-x/weights.bin' })],
    // The reconciler reports: it reads status records and lists uploads, and (requeue off by default) sends nothing.
    ['the reconciler requeues with requeue off', forbidden('reconcile-task', 'SendMessage', { queueUrl: queueUrl(LOCAL_STACK.queueName) }, 'sqs')],
    ['the reconciler writes a status record', forbidden('reconcile-task', 'PutObject', { bucket: LOCAL_STACK.bucket, key: 'status/x.json', ifNoneMatch: '*' })],
    ['the reconciler reads an upload', forbidden('reconcile-task', 'GetObject', { bucket: LOCAL_STACK.bucket, key: 'incoming/x.csv' })],
    ['the reconciler lists versions outside incoming/', forbidden('reconcile-task', 'ListObjectVersions', { bucket: LOCAL_STACK.bucket, prefix: 'runs/' })],
    ['the worker approves a version', forbidden('worker', 'PutObject', { bucket: LOCAL_STACK.bucket, key: 'registry/versions/v-x.json' })],
    [
      'the worker writes the change log',
      forbidden('worker', 'PutObject', { bucket: LOCAL_STACK.bucket, key: 'registry/log/2026-01-01T00:00:00.000Z-x.json', ifNoneMatch: '*' }),
    ],
    ['the worker moves the shadow pointer', forbidden('worker', 'PutObject', { bucket: LOCAL_STACK.bucket, key: 'registry/shadow.json' })],
    ['the worker overwrites an accuracy record', forbidden('worker', 'PutObject', { bucket: LOCAL_STACK.bucket, key: 'accuracy/2026-01-01/r.json' })],
    ['the team approves a version', forbidden('team', 'PutObject', { bucket: LOCAL_STACK.bucket, key: 'registry/versions/v-x.json' })],
    [
      'an operator rewrites a change-log entry',
      forbidden('operator', 'PutObject', { bucket: LOCAL_STACK.bucket, key: 'registry/log/2026-01-01T00:00:00.000Z-x.json' }),
    ],
  ];
  const runTask = (principal: string, family: () => string): RecordedRequest => ({
    principal,
    service: 'ecs',
    operation: 'RunTask',
    region: LOCAL_STACK.region,
    params: { cluster: 'tasks-cluster', taskDefinition: family() },
  });
  const MUST_DENY_LATER: [string, () => RecordedRequest][] = [
    ["the reconciler's schedule runs the training", () => runTask('reconcile-scheduler', () => families['fleet-train']!)],
    ["the training's schedule runs the reconciler", () => runTask('train-scheduler', () => families['fleet-reconcile']!)],
    [
      "a task's schedule runs its task in the workers' cluster",
      () => ({ ...runTask('train-scheduler', () => families['fleet-train']!), params: { cluster: 'this-cluster', taskDefinition: families['fleet-train']! } }),
    ],
  ];
  for (const [what, request] of MUST_DENY_LATER) {
    it(`denies: ${what}`, async () => {
      const decisions = await evaluateRequests([request()], declared);
      expect(
        decisions.some((d) => !d.allowed),
        decisions.map((d) => d.line).join('\n'),
      ).to.equal(true);
    });
  }
  const MUST_ALLOW: [string, () => RecordedRequest][] = [
    [
      'the forecast schedule sends its command to the work queue',
      () => forbidden('forecast-scheduler', 'SendMessage', { queueUrl: queueUrl(LOCAL_STACK.queueName) }, 'sqs'),
    ],
    ["the reconciler's schedule runs the reconciler (passing its roles)", () => runTask('reconcile-scheduler', () => families['fleet-reconcile']!)],
    ["the training's schedule runs the training (passing its roles)", () => runTask('train-scheduler', () => families['fleet-train']!)],
    [
      'the training creates a version file',
      () => forbidden('train-task', 'PutObject', { bucket: LOCAL_STACK.bucket, key: 'models/v-x/weights.bin', ifNoneMatch: '*' }),
    ],
    ['the training reads history and the pointer', () => forbidden('train-task', 'GetObject', { bucket: LOCAL_STACK.bucket, key: 'models/current.json' })],
    ['the operator repoints the model in service', () => forbidden('operator', 'PutObject', { bucket: LOCAL_STACK.bucket, key: 'models/current.json' })],
  ];
  for (const [what, request] of MUST_ALLOW) {
    it(`allows: ${what}`, async () => {
      const decisions = await evaluateRequests([request()], declared);
      expect(deniedLines(decisions)).to.deep.equal([]);
    });
  }
  for (const [what, request] of MUST_DENY) {
    it(`denies: ${what}`, async () => {
      const decisions = await evaluateRequests([request], declared);
      expect(
        decisions.some((d) => !d.allowed),
        decisions.map((d) => d.line).join('\n'),
      ).to.equal(true);
    });
  }

  it('would have caught the first deployment failure: with the former predictions/* grant (PutObject only), the HEAD is denied', async () => {
    const objects = (prefix: string) => `arn:aws:s3:::${bucket}/${prefix}*`;
    const former = JSON.parse(worker.policies[0]!.json) as { Statement: { Sid: string; Action: string[]; Resource: string[] }[] };
    const statements = former.Statement.map((s) =>
      s.Sid === 'ReadWritePredictions' ? { ...s, Sid: 'WritePredictions', Action: ['s3:PutObject'], Resource: [objects('predictions/')] } : s,
    );
    const formerWorker = { ...worker, policies: [{ name: worker.policies[0]!.name, json: JSON.stringify({ ...former, Statement: statements }) }] };
    const decisions = await evaluateRequests(
      requests.filter((r) => r.principal === 'worker'),
      { ...declared, principals: [formerWorker] },
    );
    const denied = deniedLines(decisions);
    console.log(`      with the former grant: ${denied[0]}`);
    expect(denied.length).to.be.at.least(1);
    expect(
      denied.every((l) => /^DENIED worker HeadObject s3:\/\/crypto-open-local\/predictions\/.*needs s3:GetObject/.test(l)),
      denied.join('\n'),
    ).to.equal(true);
  });
});
