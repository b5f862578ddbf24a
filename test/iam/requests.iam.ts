import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { LOCAL_STACK } from '../../worker/local/constants.js';
import type { RecordedRequest } from '../../worker/runtime/request-log.js';
import { programRun, single } from '../infra/fixture.js';
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
      clusters: { 'this-cluster': String(single(run.resources, 'aws:ecs/cluster:Cluster').state.name) },
    };
    worker = rolePrincipal(policies, 'worker', '-task');
    declared = {
      principals: [
        worker,
        // The team and the operators attach the managed policies to their own identities, outside the stack.
        managedPolicyPrincipal(policies, 'team', 'fleet-team', `arn:aws:iam::${accountId}:user/team-frontend`),
        managedPolicyPrincipal(policies, 'operator', 'fleet-operator', `arn:aws:iam::${accountId}:user/operator`),
      ],
      resourcePolicies: policies.resourcePolicies,
      target,
    };
  });

  it('recorded the work of every principal', () => {
    const principals = new Set(requests.map((r) => r.principal));
    expect([...principals].sort()).to.deep.equal(['operator', 'team', 'worker']);
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
    expect([...inCode].filter((op) => !mapped.has(op)), 'operations without an IAM mapping (test/iam/actions.ts)').to.deep.equal([]);
    expect([...inCode].filter((op) => !recorded.has(op)), 'operations the end-to-end suite never made (add a scenario)').to.deep.equal([]);
  });

  const forbidden = (principal: string, operation: string, params: RecordedRequest['params'], service = 's3'): RecordedRequest => ({ principal, service, operation, region: LOCAL_STACK.region, params });
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
    ['the worker writes under daily/ beside the daily file', forbidden('worker', 'PutObject', { bucket: LOCAL_STACK.bucket, key: 'daily/other.csv', ifNoneMatch: '*' })],
    ['the team writes the daily file', forbidden('team', 'PutObject', { bucket: LOCAL_STACK.bucket, key: 'daily/latest_preds.csv', ifMatch: '"e"' })],
    ['the worker purges the DLQ', forbidden('worker', 'PurgeQueue', { queueUrl: `http://127.0.0.1:4569/${LOCAL_STACK.accountId}/${LOCAL_STACK.dlqName}` }, 'sqs')],
    ['the team writes a model', forbidden('team', 'PutObject', { bucket: LOCAL_STACK.bucket, key: 'models/v-x/weights.bin' })],
    ['the team writes a run file', forbidden('team', 'PutObject', { bucket: LOCAL_STACK.bucket, key: 'runs/r/preds.csv', ifNoneMatch: '*' })],
    ['the team repoints the model in service', forbidden('team', 'PutObject', { bucket: LOCAL_STACK.bucket, key: 'models/current.json' })],
    ['an operator overwrites a run file', forbidden('operator', 'PutObject', { bucket: LOCAL_STACK.bucket, key: 'runs/r/manifest.json' })],
    ['an operator deletes an upload', forbidden('operator', 'DeleteObject', { bucket: LOCAL_STACK.bucket, key: 'incoming/x.csv' })],
  ];
  for (const [what, request] of MUST_DENY) {
    it(`denies: ${what}`, async () => {
      const decisions = await evaluateRequests([request], declared);
      expect(decisions.some((d) => !d.allowed), decisions.map((d) => d.line).join('\n')).to.equal(true);
    });
  }

  it('would have caught the first deployment failure: with the former predictions/* grant (PutObject only), the HEAD is denied', async () => {
    const objects = (prefix: string) => `arn:aws:s3:::${bucket}/${prefix}*`;
    const former = JSON.parse(worker.policies[0]!.json) as { Statement: { Sid: string; Action: string[]; Resource: string[] }[] };
    const statements = former.Statement.map((s) => (s.Sid === 'ReadWritePredictions' ? { ...s, Sid: 'WritePredictions', Action: ['s3:PutObject'], Resource: [objects('predictions/')] } : s));
    const formerWorker = { ...worker, policies: [{ name: worker.policies[0]!.name, json: JSON.stringify({ ...former, Statement: statements }) }] };
    const decisions = await evaluateRequests(
      requests.filter((r) => r.principal === 'worker'),
      { ...declared, principals: [formerWorker] },
    );
    const denied = deniedLines(decisions);
    console.log(`      with the former grant: ${denied[0]}`);
    expect(denied.length).to.be.at.least(1);
    expect(denied.every((l) => /^DENIED worker HeadObject s3:\/\/crypto-open-local\/predictions\/.*needs s3:GetObject/.test(l)), denied.join('\n')).to.equal(true);
  });
});
