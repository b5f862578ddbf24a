import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { expect } from 'chai';
import { initBackend } from '../../../model/backend.js';
import { createInference } from '../../../model/inference.js';
import { MODEL_POINTER_KEY, predictionsKey, runKey, shardInputKey, shardPlanKey, uploadStatusKey } from '../../../shared/layout.js';
import type { RunManifest, UploadStatus } from '../../../shared/manifest.js';
import { WORKER_ENV } from '../../../shared/worker-env.js';
import { redriveDlq } from '../../../worker/ops/dlq.js';
import { extendScalersFromHistory } from '../../../worker/ops/extend-scalers.js';
import { loadHistoryFile } from '../../../worker/ops/history-load.js';
import { useModelVersion } from '../../../worker/ops/model-versions.js';
import { writeGeneratedSample } from '../../../worker/ops/sample.js';
import { RunClaims } from '../../../worker/runtime/claims.js';
import { workerConfigFromEnv } from '../../../worker/runtime/config.js';
import { handleMessage } from '../../../worker/runtime/handler.js';
import { createLogger } from '../../../worker/runtime/log.js';
import { ModelSource } from '../../../worker/runtime/model-source.js';
import type { ShardPlan } from '../../../worker/runtime/shards.js';
import { eventually, inProcessWorker, peekDlq, readJson, readText, spawnWorker, startTestStack, upload, type TestStack } from '../../helpers/test-stack.js';

const SYMBOLS = 2000;
const SHARD_SYMBOLS = '300';

describe('sharded runs and the cold-start rule at 2,000 symbols x 40 days (embedded stack)', function () {
  this.timeout(600_000);
  let stack: TestStack;
  let dir: string;
  let last10: Buffer;
  let wholePreds: string;
  let wholeManifest: RunManifest;

  const manifestOf = async (key: string, etag: string): Promise<RunManifest> => {
    const status = await eventually(
      async () => {
        const s = await readJson<UploadStatus>(stack, uploadStatusKey(stack.stack.bucket, key, etag)).catch(() => undefined);
        return s?.status === 'succeeded' ? s : undefined;
      },
      `the run of ${key}`,
      300_000,
      250,
    );
    return readJson<RunManifest>(stack, runKey(status.runId, 'manifest'));
  };

  before(async () => {
    stack = await startTestStack({ visibilityTimeoutSeconds: 6 });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shards-e2e-'));
    const all = path.join(dir, 'all.csv');
    await writeGeneratedSample({ count: SYMBOLS, days: 40, seed: 11 }, all);
    const [header, ...rows] = fs.readFileSync(all, 'utf8').trim().split('\n');
    // Column 2 is the per-symbol day index: the first 30 days go to the history, the last 10 are the upload.
    const day = (r: string) => Number(r.split(',')[1]);
    fs.writeFileSync(path.join(dir, 'first30.csv'), `${[header, ...rows.filter((r) => day(r) < 30)].join('\n')}\n`);
    last10 = Buffer.from(`${[header, ...rows.filter((r) => day(r) >= 30)].join('\n')}\n`);
    await loadHistoryFile(stack.objects, path.join(dir, 'first30.csv'));
    const extended = await extendScalersFromHistory(stack.objects, { pointerKey: MODEL_POINTER_KEY, minRows: 30, asOf: '2018-02-23' });
    expect(extended.result.added).to.have.length(SYMBOLS);
    await useModelVersion(stack.objects, MODEL_POINTER_KEY, extended.version!);
  });
  after(async () => {
    await stack?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('predicts every symbol of the last 10 days after history load of the first 30 and extend-scalers (one run, unsharded)', async () => {
    const worker = await inProcessWorker(stack, { [WORKER_ENV.shardSymbols]: '100000' });
    try {
      const etag = await upload(stack, 'incoming/whole.csv', last10);
      wholeManifest = await manifestOf('incoming/whole.csv', etag);
    } finally {
      await worker.stop();
    }
    expect(wholeManifest.counts).to.include({ symbols: SYMBOLS, predicted: SYMBOLS, skipped: 0, rows: SYMBOLS * 10 });
    expect(wholeManifest.shards).to.equal(undefined);
    wholePreds = await readText(stack, predictionsKey('incoming/whole.csv'));
    expect(wholePreds.trim().split('\n')).to.have.length(SYMBOLS * 10 + 1);
  });

  it('skips a symbol without a scaler with its history rows counted by the worker (k of N)', async () => {
    const [header, ...rows] = last10.toString('utf8').trim().split('\n');
    const renamed = (from: string, to: string, lines: string[]) => lines.filter((l) => l.startsWith(`${from},`)).map((l) => `${to}${l.slice(from.length)}`);
    const history = fs.readFileSync(path.join(dir, 'first30.csv'), 'utf8').trim().split('\n').slice(1);
    // 12 days of history for QNEWA (none for QNEWB): both new since extend-scalers ran.
    fs.writeFileSync(path.join(dir, 'qnewa.csv'), `${[header, ...renamed('QAAAB', 'QNEWA', history).slice(-12)].join('\n')}\n`);
    await loadHistoryFile(stack.objects, path.join(dir, 'qnewa.csv'));
    const body = `${[header, ...rows.filter((l) => l.startsWith('QAAAA,')), ...renamed('QAAAB', 'QNEWA', rows), ...renamed('QAAAC', 'QNEWB', rows)].join('\n')}\n`;
    const worker = await inProcessWorker(stack);
    try {
      const etag = await upload(stack, 'incoming/cold.csv', body);
      const manifest = await manifestOf('incoming/cold.csv', etag);
      expect(manifest.symbols.map((s) => [s.symbol, s.status, s.status === 'skipped' ? s.reason : null])).to.deep.equal([
        ['QAAAA', 'ok', null],
        ['QNEWA', 'skipped', 'unknown symbol: no scaler yet (12 of 30 rows in history)'],
        ['QNEWB', 'skipped', 'unknown symbol: no scaler yet (0 of 30 rows in history)'],
      ]);
    } finally {
      await worker.stop();
    }
  });

  it('gives the same pred_url file, row for row, when the upload is sharded, with every shard and its manifest in the run manifest', async () => {
    const worker = await inProcessWorker(stack, { [WORKER_ENV.shardSymbols]: SHARD_SYMBOLS });
    let manifest: RunManifest;
    try {
      const etag = await upload(stack, 'incoming/sharded.csv', last10);
      manifest = await manifestOf('incoming/sharded.csv', etag);
    } finally {
      await worker.stop();
    }
    const preds = await readText(stack, predictionsKey('incoming/sharded.csv'));
    expect(preds.split('\n')).to.deep.equal(wholePreds.split('\n'));
    // A late duplicate of a shard's message changes nothing: the run is complete, its files stay as they are.
    const runPreds = await readText(stack, runKey(manifest.runId, 'preds'));
    const late = await inProcessWorker(stack, { [WORKER_ENV.shardSymbols]: SHARD_SYMBOLS });
    try {
      const sent = await stack.sqs.send(
        new SendMessageCommand({ QueueUrl: stack.stack.queueUrl, MessageBody: JSON.stringify({ command: 'shard', runId: manifest.runId, shard: 3 }) }),
      );
      const done = await eventually(async () => late.logs.find((l) => l.event === 'message.done' && l.messageId === sent.MessageId), 'the late shard handled');
      expect(done.outcome).to.equal('settled');
    } finally {
      await late.stop();
    }
    expect(await readText(stack, runKey(manifest.runId, 'preds'))).to.equal(runPreds);
    expect(await readJson<RunManifest>(stack, runKey(manifest.runId, 'manifest'))).to.deep.equal(manifest);
    expect(manifest.counts).to.deep.equal(wholeManifest.counts);
    expect(manifest.symbols).to.deep.equal(wholeManifest.symbols);
    expect(manifest.input.sha256).to.equal(wholeManifest.input.sha256);
    expect(manifest.shards!.map((s) => s.shard)).to.deep.equal([0, 1, 2, 3, 4, 5, 6]);
    expect(manifest.shards!.reduce((n, s) => n + s.symbols, 0)).to.equal(SYMBOLS);
    // The finisher brings the daily file up to date for the whole upload, as an unsharded run does.
    expect(manifest.outputs.daily?.key).to.equal('daily/latest_preds.csv');
    for (const s of manifest.shards!) {
      expect(s.manifest.key).to.equal(`runs/${manifest.runId}/shards/${s.shard}/manifest.json`);
      const bytes = Buffer.from((await stack.objects.getBytes(s.manifest.key)).body);
      expect(bytes.length).to.equal(s.manifest.bytes);
    }
  });

  it('leaves a partial status naming the missing symbols when a shard ends in the DLQ, and its redrive completes the run', async () => {
    const env = stack.env({ [WORKER_ENV.shardSymbols]: SHARD_SYMBOLS, [WORKER_ENV.workerId]: 'router' });
    const config = workerConfigFromEnv(env);
    const log = createLogger({ worker: 'router' }, 'warn', () => {});
    await initBackend();
    const models = new ModelSource(stack.objects, MODEL_POINTER_KEY);
    const engine = createInference(await models.current(), 'fast');
    const deps = {
      config,
      objects: stack.objects,
      claims: new RunClaims(stack.objects, { workerId: 'router', ttlMs: 30_000, renewEveryMs: 10_000, log }),
      models,
      inference: () => engine,
      backend: 'test',
      sqs: stack.sqs,
      log,
    };
    const etag = await upload(stack, 'incoming/partial.csv', last10);
    // Route by hand (no worker yet), so that shard 0's input can be taken away before any worker reads it.
    const received = await eventually(async () => {
      const r = await stack.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: stack.stack.queueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 1, VisibilityTimeout: 60 }),
      );
      return r.Messages?.[0];
    }, 'the upload event');
    const outcome = await handleMessage(deps, received);
    expect(outcome.kind).to.equal('runs');
    await stack.sqs.send(new DeleteMessageCommand({ QueueUrl: stack.stack.queueUrl, ReceiptHandle: received.ReceiptHandle! }));
    const runId = outcome.kind === 'runs' ? outcome.runs[0]!.runId : '';
    expect(outcome.kind === 'runs' && outcome.runs[0]!.status).to.equal('sharded');
    const plan = await readJson<ShardPlan>(stack, shardPlanKey(runId));
    const shard0 = Buffer.from((await stack.objects.getBytes(shardInputKey(runId, 0))).body);
    await stack.s3.send(new DeleteObjectCommand({ Bucket: stack.stack.bucket, Key: shardInputKey(runId, 0) }));
    engine.dispose();

    const worker = await inProcessWorker(stack, { [WORKER_ENV.shardSymbols]: SHARD_SYMBOLS });
    try {
      const statusKey = uploadStatusKey(stack.stack.bucket, 'incoming/partial.csv', etag);
      const expected = plan.symbols.filter((_, k) => plan.shardOf[k] === 0);
      await eventually(
        async () => {
          const done = await Promise.all(
            Array.from({ length: plan.shards - 1 }, (_, i) => stack.objects.exists(`runs/${runId}/shards/${i + 1}/manifest.json`)),
          );
          const s = await readJson<UploadStatus>(stack, statusKey).catch(() => undefined);
          return done.every(Boolean) && s?.status === 'partial' ? s : undefined;
        },
        'the partial status',
        300_000,
        250,
      );
      const status = await readJson<UploadStatus>(stack, statusKey);
      expect(status.missing).to.deep.equal({ shards: [0], symbols: expected });
      expect(expected.length).to.be.greaterThan(100);
      expect(await stack.objects.exists(runKey(runId, 'manifest')), 'no manifest while a shard is missing').to.equal(false);
      const dlq = await eventually(async () => ((await peekDlq(stack)).length === 1 ? peekDlq(stack) : undefined), 'the shard in the DLQ');
      expect(JSON.parse(dlq[0]!.Body!)).to.deep.equal({ command: 'shard', runId, shard: 0 });
      expect(dlq[0]!.MessageAttributes!.reason!.StringValue).to.match(/shard input missing/);

      // The fix (the shard's input back), then the redrive: the run completes, with the same predictions.
      await stack.objects.create(shardInputKey(runId, 0), shard0, 'text/csv');
      expect((await redriveDlq(stack.sqs, stack.stack.dlqUrl, stack.stack.queueUrl)).moved).to.equal(1);
      const manifest = await manifestOf('incoming/partial.csv', etag);
      expect(manifest.runId).to.equal(runId);
      expect((await readText(stack, predictionsKey('incoming/partial.csv'))).split('\n')).to.deep.equal(wholePreds.split('\n'));
      expect((await readJson<UploadStatus>(stack, statusKey)).status).to.equal('succeeded');
    } finally {
      await worker.stop();
    }
  });

  it('loses nothing when a worker is killed mid-shard: another finishes the run with the same predictions', async () => {
    const overrides = { [WORKER_ENV.shardSymbols]: SHARD_SYMBOLS };
    const first = spawnWorker(stack, 'doomed', overrides);
    let second: ReturnType<typeof spawnWorker> | undefined;
    try {
      await first.waitForLog((l) => l.event === 'worker.ready', 240_000);
      const etag = await upload(stack, 'incoming/killed.csv', last10);
      await first.waitForLog((l) => l.event === 'shard.started', 240_000);
      first.child.kill('SIGKILL');
      await first.exited;
      second = spawnWorker(stack, 'survivor', overrides);
      const manifest = await manifestOf('incoming/killed.csv', etag);
      expect(manifest.counts).to.deep.equal(wholeManifest.counts);
      expect((await readText(stack, predictionsKey('incoming/killed.csv'))).split('\n')).to.deep.equal(wholePreds.split('\n'));
    } finally {
      first.child.kill('SIGKILL');
      second?.child.kill('SIGTERM');
      await second?.exited;
    }
  });
});
