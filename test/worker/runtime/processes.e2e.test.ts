import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { runKey } from '../../../shared/layout.js';
import { WORKER_ENV } from '../../../shared/worker-env.js';
import type { RunError, RunManifest } from '../../../shared/manifest.js';
import {
  eventually,
  peekDlq,
  queueCounts,
  readJson,
  runsWith,
  spawnWorker,
  startTestStack,
  upload,
  type TestStack,
  type WorkerProcess,
} from '../../helpers/test-stack.js';
import { writeRepeatedHistory, writeTwentySymbolFile } from '../../helpers/history.js';
import { shared } from '../../helpers/paths.js';

const TEST_CSV = fs.readFileSync(shared('data/crypto_test.csv'));

describe('worker processes on the embedded stack', function () {
  let fleet: TestStack;
  const workers: WorkerProcess[] = [];
  const spawn = (id: string, env: Record<string, string> = {}) => {
    const w = spawnWorker(fleet, id, env);
    workers.push(w);
    return w;
  };

  // Runs long enough to be interrupted: the 20-symbol histories (~35k rows, ~1 s), and twice that.
  let dataDir: string;
  let history20: Buffer;
  let history20x2: Buffer;
  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'histories-'));
    await writeTwentySymbolFile(path.join(dataDir, 'h20.csv'));
    writeRepeatedHistory(path.join(dataDir, 'h20.csv'), path.join(dataDir, 'h20x2.csv'), 2);
    history20 = fs.readFileSync(path.join(dataDir, 'h20.csv'));
    history20x2 = fs.readFileSync(path.join(dataDir, 'h20x2.csv'));
  });
  after(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  beforeEach(async () => {
    fleet = await startTestStack({ visibilityTimeoutSeconds: 3, maxReceiveCount: 3 });
  });
  afterEach(async () => {
    for (const w of workers.splice(0)) if (w.child.exitCode === null && w.child.signalCode === null) (w.child.kill('SIGKILL'), await w.exited);
    await fleet.close();
  });

  it('completes on another worker a run whose worker was SIGKILLed mid-run', async () => {
    const a = spawn('worker-a');
    await a.waitForLog((l) => l.event === 'worker.polling');
    await upload(fleet, 'incoming/history20.csv', history20);
    const started = await a.waitForLog((l) => l.event === 'run.started');
    a.child.kill('SIGKILL');
    await a.exited;
    const runId = String(started.runId);
    expect(await fleet.objects.exists(runKey(runId, 'manifest')), 'killed before its manifest').to.equal(false);

    const b = spawn('worker-b');
    const m = await eventually(
      async () => ((await fleet.objects.exists(runKey(runId, 'manifest'))) ? readJson<RunManifest>(fleet, runKey(runId, 'manifest')) : undefined),
      'worker-b to finish the run',
      60_000,
      200,
    );
    expect(m.worker.id).to.equal('worker-b');
    expect(m.worker.receiveCount).to.equal(2);
    expect(m.counts.predicted).to.equal(20);
    await b.waitForLog((l) => l.event === 'message.done');
    expect(await peekDlq(fleet)).to.have.length(0);
  });

  it('drains 20 uploads with two workers: every upload run exactly once', async () => {
    const a = spawn('worker-1');
    const b = spawn('worker-2');
    await Promise.all([a, b].map((w) => w.waitForLog((l) => l.event === 'worker.polling')));
    const etags = new Map<string, string>();
    await Promise.all(
      Array.from({ length: 20 }, async (_, i) => etags.set(`incoming/batch/day-${i}.csv`, await upload(fleet, `incoming/batch/day-${i}.csv`, TEST_CSV))),
    );
    const manifests = await eventually(
      async () => {
        const keys = await runsWith(fleet, 'manifest.json');
        return keys.length >= 20 ? Promise.all(keys.map((k) => readJson<RunManifest>(fleet, k))) : undefined;
      },
      '20 manifests',
      90_000,
      250,
    );
    // Every message deleted: nothing is left to run a second time.
    await eventually(async () => {
      const c = await queueCounts(fleet, fleet.stack.queueUrl);
      return c.visible + c.inFlight === 0 ? c : undefined;
    }, 'an empty queue');
    expect(await runsWith(fleet, 'manifest.json')).to.have.length(20);
    expect(new Set(manifests.map((m) => m.input.key))).to.deep.equal(new Set(etags.keys()));
    for (const m of manifests) expect(m.input.etag).to.equal(etags.get(m.input.key));
    expect(await runsWith(fleet, 'error.json')).to.have.length(0);
    expect(await peekDlq(fleet)).to.have.length(0);
    // A duplicated run would rewrite the same manifest: the workers' own logs count the inferences.
    const succeeded = [a, b].flatMap((w) => w.logs.filter((l) => l.event === 'run.succeeded').map((l) => String(l.runId)));
    expect(succeeded).to.have.length(20);
    expect(new Set(succeeded)).to.deep.equal(new Set(manifests.map((m) => m.runId)));
  });

  it('on SIGTERM mid-run, finishes the run, deletes its message and exits 0', async () => {
    const w = spawn('worker-term');
    await w.waitForLog((l) => l.event === 'worker.polling');
    await upload(fleet, 'incoming/term.csv', history20);
    const started = await w.waitForLog((l) => l.event === 'run.started');
    w.child.kill('SIGTERM');
    expect((await w.exited).code).to.equal(0);
    const m = await readJson<RunManifest>(fleet, runKey(String(started.runId), 'manifest'));
    expect(m.worker.id).to.equal('worker-term');
    const done = w.logs.find((l) => l.event === 'message.done');
    expect(done, 'the in-flight message was finished').to.not.equal(undefined);
    expect(w.logs.find((l) => l.event === 'worker.stopped')).to.include({ finished: done!.messageId });
    // Neither visible (handed back) nor in flight (held until its visibility timeout): deleted.
    expect(await queueCounts(fleet, fleet.stack.queueUrl), 'deleted, not handed back').to.deep.equal({ visible: 0, inFlight: 0 });
  });

  it('on SIGTERM with a run longer than its stop budget, hands the message back at once for another worker', async () => {
    const a = spawn('worker-slow', { [WORKER_ENV.stopBudgetSeconds]: '1' });
    await a.waitForLog((l) => l.event === 'worker.polling');
    await upload(fleet, 'incoming/long.csv', history20x2); // outlasts a 1 s budget
    const started = await a.waitForLog((l) => l.event === 'run.started');
    a.child.kill('SIGTERM');
    expect((await a.exited).code).to.equal(0);
    const stopped = a.logs.find((l) => l.event === 'worker.stopped')!;
    expect(stopped, JSON.stringify(a.logs.slice(-6))).to.have.property('handedBack');
    expect(await fleet.objects.exists(runKey(String(started.runId), 'manifest'))).to.equal(false);
    // Visible again at once: heartbeats had kept it invisible for the next 3 s.
    expect(await queueCounts(fleet, fleet.stack.queueUrl)).to.deep.equal({ visible: 1, inFlight: 0 });
    spawn('worker-next');
    const m = await eventually(
      async () =>
        (await fleet.objects.exists(runKey(String(started.runId), 'manifest')))
          ? readJson<RunManifest>(fleet, runKey(String(started.runId), 'manifest'))
          : undefined,
      'worker-next to finish',
      60_000,
      200,
    );
    expect(m.worker).to.include({ id: 'worker-next', receiveCount: 2 });
  });

  it('exits promptly and cleanly on SIGTERM while idle, aborting its long poll', async () => {
    const w = spawn('worker-idle', { [WORKER_ENV.waitTimeSeconds]: '20', [WORKER_ENV.logLevel]: 'debug' });
    await w.waitForLog((l) => l.event === 'consumer.receiving');
    const t0 = Date.now();
    w.child.kill('SIGTERM');
    const exit = await w.exited;
    expect(exit.code).to.equal(0);
    expect(Date.now() - t0).to.be.below(5000);
    expect(w.logs.some((l) => l.event === 'worker.stopped')).to.equal(true);
  });
});

describe('a worker process whose runs always fail', function () {
  let fleet: TestStack;
  const workers: WorkerProcess[] = [];
  const spawn = (id: string, env: Record<string, string> = {}) => {
    const w = spawnWorker(fleet, id, env);
    workers.push(w);
    return w;
  };
  afterEach(async () => {
    for (const w of workers.splice(0)) if (w.child.exitCode === null && w.child.signalCode === null) (w.child.kill('SIGKILL'), await w.exited);
    await fleet?.close();
  });

  it('moves a message that always fails to the DLQ after maxReceiveCount, leaving an error record', async () => {
    // Its own stack: a 1 s visibility timeout makes the three deliveries quick.
    fleet = await startTestStack({ visibilityTimeoutSeconds: 1, maxReceiveCount: 3 });
    spawn('worker-broken', {
      [WORKER_ENV.modelPointerKey]: 'models/no-such-pointer.json',
      [WORKER_ENV.heartbeatSeconds]: '1',
      [WORKER_ENV.visibilityTimeoutSeconds]: '2',
    });
    const key = 'incoming/never.csv';
    await upload(fleet, key, TEST_CSV);
    const dead = await eventually(async () => (await peekDlq(fleet))[0], 'the message in the DLQ', 60_000, 250);
    expect(JSON.parse(dead.Body!).Records[0].s3.object.key).to.equal('incoming/never.csv');
    expect(Number(dead.Attributes?.ApproximateReceiveCount)).to.be.at.least(1);
    const errors = await Promise.all((await runsWith(fleet, 'error.json')).map((k) => readJson<RunError>(fleet, k)));
    const last = errors.find((e) => e.input.key === key)!;
    expect(last.error.kind).to.equal('transient');
    expect(last.error.message).to.match(/last attempt failed: model pointer .*no-such-pointer\.json unreadable/);
    expect(last.worker.receiveCount).to.equal(3);
    expect(await queueCounts(fleet, fleet.stack.queueUrl)).to.deep.equal({ visible: 0, inFlight: 0 });
  });
});
