import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { expect } from 'chai';
import type { RunError, RunManifest } from '../../../shared/manifest.js';
import { makeS3Client } from '../../../worker/runtime/aws-clients.js';
import { copyRunFiles, summarize, uploadCsv, waitForRun, type Upload } from '../../../worker/local/once.js';
import type { LocalStack } from '../../../worker/local/stack.js';
import { tempStack } from '../../helpers/local-stack.js';

/** How `--once` finds its run among others: the run files are written here by hand, as a worker would. */
describe('--once: finding the run of one upload', () => {
  let stack: LocalStack;
  let cleanup: () => Promise<void>;
  let s3: S3Client;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'once-'));

  before(async () => {
    ({ stack, cleanup } = await tempStack());
    s3 = makeS3Client(stack.clients);
  });
  after(async () => {
    s3?.destroy();
    await cleanup?.();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const stamp = (t: number) => new Date(t).toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
  const putJson = (key: string, value: unknown) => s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: JSON.stringify(value) }));
  const manifestFor = (runId: string, key: string, etag: string, eventTime = new Date().toISOString()) =>
    ({
      runId,
      event: { eventTime, sequencer: '01', eventName: 'ObjectCreated:Put' },
      input: { bucket: stack.bucket, key, etag, versionId: null, sha256: 'x', bytes: 1 },
      symbols: [
        { symbol: 'BTC', status: 'ok', rows: 2, firstDate: '2018-01-25', lastDate: '2018-01-26' },
        { symbol: 'DOGE', status: 'skipped', rows: 2, reason: 'not in scaler.pkl' },
      ],
      counts: { rows: 4, symbols: 2, predicted: 1, skipped: 1, predictionRows: 2 },
      model: { version: 'v-test' },
      worker: { id: 'w1', backend: 'wasm', receiveCount: 1 },
    }) as unknown as RunManifest;
  const errorFor = (runId: string, key: string, etag: string, retryable: boolean, receiveCount = 1) =>
    ({
      runId,
      input: { bucket: stack.bucket, key, etag },
      error: {
        kind: retryable ? 'transient' : 'invalid-input',
        disposition: retryable ? 'retry' : 'dead-letter',
        message: retryable ? 'S3 503' : "column 'close' missing",
      },
      worker: { id: 'w1', receiveCount },
    }) as unknown as RunError;

  async function upload(name: string, body: string): Promise<Upload> {
    const file = path.join(dir, name);
    fs.writeFileSync(file, body);
    return uploadCsv(s3, stack.bucket, file);
  }

  it('waits for the manifest naming the same key and ETag, skipping runs of other uploads', async () => {
    const up = await upload('wanted.csv', 'symbol,date\nBTC,2018-01-25\n');
    expect(up.key).to.equal('incoming/wanted.csv');
    const id = (suffix: string) => `${stamp(up.uploadedAt)}-${suffix.padEnd(16, '0')}`;
    await putJson(`runs/${id('a')}/manifest.json`, manifestFor(id('a'), 'incoming/other.csv', up.etag));
    await putJson(`runs/${id('b')}/manifest.json`, manifestFor(id('b'), up.key, '0'.repeat(32)));
    // The same bytes uploaded an hour earlier: same key and ETag, an earlier event.
    await putJson(`runs/${id('d')}/manifest.json`, manifestFor(id('d'), up.key, up.etag, new Date(up.uploadedAt - 3_600_000).toISOString()));
    const waiting = waitForRun(s3, up, { timeoutMs: 10_000, maxReceiveCount: 3, pollMs: 20 });
    setTimeout(() => {
      void (async () => {
        for (const f of ['preds.csv', 'forecast.csv'])
          await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: `runs/${id('c')}/${f}`, Body: `${f}\n` }));
        await putJson(`runs/${id('c')}/manifest.json`, manifestFor(id('c'), up.key, up.etag));
      })();
    }, 200);
    const outcome = await waiting;
    expect(outcome.status).to.equal('succeeded');
    if (outcome.status !== 'succeeded') return;
    expect(outcome.runId).to.equal(id('c'));

    const files = await copyRunFiles(s3, stack.bucket, outcome, path.join(dir, 'out'));
    expect(files.map((f) => path.basename(f))).to.deep.equal(['preds.csv', 'forecast.csv', 'manifest.json']);
    expect(fs.readFileSync(path.join(dir, 'out', 'preds.csv'), 'utf8')).to.equal('preds.csv\n');
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'out', 'manifest.json'), 'utf8')).runId).to.equal(id('c'));

    const text = summarize(up, outcome, files);
    expect(text).to.contain(`run        ${id('c')}`);
    expect(text).to.contain('symbols    1 predicted: BTC');
    expect(text).to.contain('skipped    DOGE (not in scaler.pkl)');
    expect(text).to.contain('model      v-test');
    expect(text).to.contain(`pred_url   s3://${stack.bucket}/predictions/wanted_preds.csv`);
  });

  it('returns a failed run at once for a non-retryable error record, and copies error.json', async () => {
    const up = await upload('broken.csv', 'nope\n');
    const runId = `${stamp(up.uploadedAt)}-e000000000000000`;
    await putJson(`runs/${runId}/error.json`, errorFor(runId, up.key, up.etag, false));
    const outcome = await waitForRun(s3, up, { timeoutMs: 10_000, maxReceiveCount: 3, pollMs: 20 });
    expect(outcome).to.deep.include({ status: 'failed', runId });
    if (outcome.status !== 'failed') return;
    const files = await copyRunFiles(s3, stack.bucket, outcome, path.join(dir, 'out-broken'));
    expect(files.map((f) => path.basename(f))).to.deep.equal(['error.json']);
    expect(summarize(up, outcome, files)).to.contain("FAILED (invalid-input): column 'close' missing");
  });

  it('keeps waiting after a retryable error unless it came from the last attempt, and times out with it', async () => {
    const up = await upload('flaky.csv', 'flaky\n');
    const runId = `${stamp(up.uploadedAt)}-f000000000000000`;
    await putJson(`runs/${runId}/error.json`, errorFor(runId, up.key, up.etag, true, 1));
    const timedOut = await waitForRun(s3, up, { timeoutMs: 300, maxReceiveCount: 3, pollMs: 20 });
    expect(timedOut.status).to.equal('timed-out');
    if (timedOut.status !== 'timed-out') return;
    expect(timedOut.lastError?.error.message).to.equal('S3 503');
    expect(summarize(up, timedOut, [])).to.match(/TIMED OUT after .* s/);

    await putJson(`runs/${runId}/error.json`, errorFor(runId, up.key, up.etag, true, 3));
    const final = await waitForRun(s3, up, { timeoutMs: 10_000, maxReceiveCount: 3, pollMs: 20 });
    expect(final).to.deep.include({ status: 'failed', runId });
  });
});
