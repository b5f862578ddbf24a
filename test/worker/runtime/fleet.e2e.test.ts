import fs from 'node:fs';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { expect } from 'chai';
import { forecastKey, predictionsKey, runKey, uploadStatusKey } from '../../../shared/layout.js';
import type { RunError, RunManifest, UploadStatus } from '../../../shared/manifest.js';
import { buildS3Event, buildS3TestEvent } from '../../../worker/tasks/s3-notification.js';
import { sha256 } from '../../../worker/runtime/s3-objects.js';
import { parseCsvText, readCsvFile } from '../../helpers/csv.js';
import {
  eventually,
  inProcessWorker,
  peekDlq,
  queueCounts,
  readJson,
  readText,
  runsWith,
  startTestStack,
  upload,
  type TestStack,
} from '../../helpers/test-stack.js';
import { shared } from '../../helpers/paths.js';

const TEST_CSV = fs.readFileSync(shared('data/crypto_test.csv'));

async function manifestFor(fleet: TestStack, key: string, etag: string): Promise<RunManifest> {
  return eventually(async () => {
    for (const k of await runsWith(fleet, 'manifest.json')) {
      const m = await readJson<RunManifest>(fleet, k);
      if (m.input.key === key && m.input.etag === etag) return m;
    }
    return undefined;
  }, `the manifest of ${key}`);
}

async function errorFor(fleet: TestStack, key: string): Promise<RunError> {
  return eventually(async () => {
    for (const k of await runsWith(fleet, 'error.json')) {
      const e = await readJson<RunError>(fleet, k);
      if (e.input.key === key) return e;
    }
    return undefined;
  }, `the error record of ${key}`);
}

describe('worker on the embedded stack (real S3 and SQS protocols)', function () {
  let fleet: TestStack;
  let worker: Awaited<ReturnType<typeof inProcessWorker>>;

  before(async () => {
    fleet = await startTestStack();
    worker = await inProcessWorker(fleet);
  });
  after(async () => {
    await worker?.stop();
    await fleet?.close();
  });

  it('turns an upload of crypto_test.csv into predictions/crypto_test_preds.csv that match the golden values, with an audit manifest', async () => {
    const key = 'incoming/crypto_test.csv';
    const etag = await upload(fleet, key, TEST_CSV);
    const m = await manifestFor(fleet, key, etag);
    expect(m.status).to.equal('succeeded');
    expect(m.input).to.include({ bucket: fleet.stack.bucket, key, etag, sha256: sha256(TEST_CSV), bytes: TEST_CSV.length });
    expect(m.counts).to.deep.include({ rows: 240, symbols: 4, predicted: 3, skipped: 1, predictionRows: 180 });
    expect(m.model.version).to.equal(fleet.modelVersion);
    expect(m.code).to.deep.equal({ version: 'test', commit: 'unknown', imageDigest: null });
    expect(m.worker.receiveCount).to.equal(1);
    expect(m.symbols.find((s) => s.symbol === 'DOGE')).to.include({ status: 'skipped' });

    expect(m.outputs.published!.preds.key).to.equal('predictions/crypto_test_preds.csv');
    const preds = await readText(fleet, predictionsKey(key));
    const forecast = await readText(fleet, forecastKey(key));
    for (const o of [m.outputs.preds, m.outputs.forecast, m.outputs.published!.preds, m.outputs.published!.forecast]) {
      expect(sha256(await readText(fleet, o.key)), o.key).to.equal(o.sha256);
    }
    expect(sha256(preds)).to.equal(m.outputs.preds.sha256);
    expect(sha256(forecast)).to.equal(m.outputs.forecast.sha256);

    const reference = await readCsvFile(shared('golden/crypto_test.reference.csv'));
    const rows = new Map((await parseCsvText(preds)).map((r) => [`${r.symbol}/${r.index}`, r]));
    expect(rows.size).to.equal(reference.length);
    for (const ref of reference) {
      const r = rows.get(`${ref.symbol}/${ref.index}`)!;
      const want = Number(ref.pred_open_anchored);
      expect(Math.abs(Number(r.pred_open) - want), `${ref.symbol}/${ref.index}`).to.be.at.most(1e-4 * Math.max(1, Math.abs(want)));
      expect(r.date).to.equal(ref.date);
    }
    expect(await fleet.objects.exists(runKey(m.runId, 'error'))).to.equal(false);
    const status = await readJson<UploadStatus>(fleet, uploadStatusKey(fleet.stack.bucket, key, etag));
    expect(status).to.include({ key, etag, runId: m.runId, status: 'succeeded' });
  });

  it('runs a message delivered twice once: the second is acknowledged without inference', async () => {
    const key = 'incoming/twice.csv';
    const etag = await upload(fleet, key, TEST_CSV);
    const first = await manifestFor(fleet, key, etag);
    const body = JSON.stringify(
      buildS3Event({
        bucket: fleet.stack.bucket,
        key,
        size: TEST_CSV.length,
        eTag: etag,
        sequencer: first.event.sequencer,
        eventTime: new Date(first.event.eventTime),
      }),
    );
    await fleet.sqs.send(new SendMessageCommand({ QueueUrl: fleet.stack.queueUrl, MessageBody: body }));
    await eventually(
      async () => (worker.logs.some((l) => l.event === 'run.already-complete' && l.runId === first.runId) ? true : undefined),
      'the duplicate to be acknowledged',
    );
    const again = await readJson<RunManifest>(fleet, runKey(first.runId, 'manifest'));
    expect(again).to.deep.equal(first);
    expect((await runsWith(fleet, 'manifest.json')).filter((k) => k.includes(first.runId))).to.have.length(1);
    expect(await peekDlq(fleet)).to.have.length(0);
  });

  it('sends a malformed CSV to the DLQ at once, with error.json naming the problem', async () => {
    const key = 'incoming/bad/missing-market.csv';
    await upload(fleet, key, 'symbol,date,open,high,low,close\nBTC,2018-01-01,1,2,0.5,1\n');
    const e = await errorFor(fleet, key);
    expect(e.error).to.include({ kind: 'invalid-input', disposition: 'dead-letter' });
    expect(e.error.message).to.match(/required column 'market' missing/);
    const status = await readJson<UploadStatus>(fleet, uploadStatusKey(fleet.stack.bucket, key, e.input.etag!));
    expect(status).to.deep.include({ runId: e.runId, status: 'failed', error: e.error });
    const dlq = await eventually(async () => {
      const msgs = (await peekDlq(fleet)).filter((m) => m.Body?.includes('missing-market'));
      return msgs.length ? msgs : undefined;
    }, 'the DLQ message');
    expect(dlq[0].MessageAttributes?.reason?.StringValue).to.match(/missing-market\.csv: invalid input: header: required column 'market' missing/);
    expect(await fleet.objects.exists(predictionsKey(key))).to.equal(false);
    expect(await fleet.objects.exists(key), 'the input is never deleted').to.equal(true);
  });

  it('acknowledges and ignores the s3:TestEvent', async () => {
    const before = (await peekDlq(fleet)).length;
    await fleet.sqs.send(new SendMessageCommand({ QueueUrl: fleet.stack.queueUrl, MessageBody: JSON.stringify(buildS3TestEvent(fleet.stack.bucket)) }));
    await eventually(async () => (worker.logs.some((l) => l.event === 'message.s3-test-event') ? true : undefined), 'the test event to be handled');
    await eventually(async () => ((await queueCounts(fleet, fleet.stack.queueUrl)).inFlight === 0 ? true : undefined), 'the queue to drain');
    expect(await peekDlq(fleet)).to.have.length(before);
  });

  it('handles keys with spaces, a literal plus and non-ASCII characters', async () => {
    const key = 'incoming/team files/prix été+1.csv';
    const etag = await upload(fleet, key, TEST_CSV);
    const m = await manifestFor(fleet, key, etag);
    expect(m.outputs.published!.preds.key).to.equal('predictions/team files/prix été+1_preds.csv');
    expect(await fleet.objects.exists('predictions/team files/prix été+1_preds.csv')).to.equal(true);
  });

  it('sends a junk message to the DLQ with its reason and keeps polling', async () => {
    await fleet.sqs.send(new SendMessageCommand({ QueueUrl: fleet.stack.queueUrl, MessageBody: 'not json at all' }));
    const junk = await eventually(async () => (await peekDlq(fleet)).find((m) => m.Body === 'not json at all'), 'the junk message in the DLQ');
    expect(junk.MessageAttributes?.reason?.StringValue).to.match(/bad queue message/);
    const key = 'incoming/after-junk.csv';
    const etag = await upload(fleet, key, TEST_CSV);
    expect((await manifestFor(fleet, key, etag)).status).to.equal('succeeded');
  });

  it('answers a command it does not implement with an error record, without DLQ or retries', async () => {
    const before = (await peekDlq(fleet)).length;
    await fleet.sqs.send(new SendMessageCommand({ QueueUrl: fleet.stack.queueUrl, MessageBody: JSON.stringify({ command: 'retrain', date: '2018-03-26' }) }));
    const log = await eventually(async () => worker.logs.find((l) => l.event === 'message.unsupported-command'), 'the command to be answered');
    const e = await readJson<RunError>(fleet, runKey(String(log.runId), 'error'));
    expect(e.error).to.include({ kind: 'unsupported-command', disposition: 'settle' });
    expect(e.error.message).to.match(/unsupported command: "retrain"/);
    await eventually(async () => ((await queueCounts(fleet, fleet.stack.queueUrl)).inFlight === 0 ? true : undefined), 'the queue to drain');
    expect(await peekDlq(fleet)).to.have.length(before);
  });

  it('records "source missing" for an object deleted before it was read', async () => {
    const key = 'incoming/vanished.csv';
    const body = JSON.stringify(
      buildS3Event({ bucket: fleet.stack.bucket, key, size: 10, eTag: 'd41d8cd98f00b204e9800998ecf8427e', sequencer: '00AA', eventTime: new Date() }),
    );
    await fleet.sqs.send(new SendMessageCommand({ QueueUrl: fleet.stack.queueUrl, MessageBody: body }));
    const e = await errorFor(fleet, key);
    expect(e.error).to.include({ kind: 'source-missing' });
    expect(e.error.message).to.match(/source missing: .*vanished\.csv was deleted before it was read/);
    await eventually(async () => (await peekDlq(fleet)).find((m) => m.Body === body), 'the message in the DLQ');
  });

  it('never predicts from a newer upload for an older event (ETag check)', async () => {
    const key = 'incoming/overwritten.csv';
    const lines = TEST_CSV.toString('utf8').split('\n');
    const older = lines.filter((l, i) => i === 0 || l.startsWith('BTC,')).join('\n');
    const newer = lines.filter((l, i) => i === 0 || l.startsWith('LTC,')).join('\n');
    await worker.stop();
    const oldEtag = await upload(fleet, key, older);
    const newEtag = await upload(fleet, key, newer);
    worker = await inProcessWorker(fleet);
    const m = await manifestFor(fleet, key, newEtag);
    expect(m.symbols.map((s) => s.symbol)).to.deep.equal(['LTC']);
    const e = await errorFor(fleet, key);
    expect(e.error.kind).to.equal('source-changed');
    expect(e.input.etag).to.equal(oldEtag);
    expect((await parseCsvText(await readText(fleet, predictionsKey(key)))).every((r) => r.symbol === 'LTC')).to.equal(true);
  });
});
