import fs from 'node:fs';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { expect } from 'chai';
import { runKey } from '../../../shared/layout.js';
import type { RunManifest } from '../../../shared/manifest.js';
import { claimKey, type ClaimRecord } from '../../../worker/runtime/claims.js';
import { runIdForRecord } from '../../../worker/runtime/run.js';
import { buildS3Event } from '../../../worker/tasks/s3-notification.js';
import { parseQueueMessage } from '../../../shared/s3-event.js';
import { shared } from '../../helpers/paths.js';
import { eventually, inProcessWorker, queueCounts, readJson, startTestStack, type TestStack } from '../../helpers/test-stack.js';

const TEST_CSV = fs.readFileSync(shared('data/crypto_test.csv'));

describe('one run per run id (claims with conditional writes, embedded stack)', () => {
  let stack: TestStack;
  before(async () => (stack = await startTestStack()));
  after(async () => stack?.close());

  /**
   * The object at `key` and an event for it, not sent yet. The bridge announces the upload too, with its own sequencer,
   * so its run has another id; the deliveries of the returned event all share one run id.
   */
  async function eventFor(key: string): Promise<string> {
    const put = await stack.objects.put(key, TEST_CSV, 'text/csv');
    expect(put.bytes).to.equal(TEST_CSV.length);
    const etag = (await stack.objects.head(key))!.etag;
    return JSON.stringify(
      buildS3Event({ bucket: stack.stack.bucket, key, size: TEST_CSV.length, eTag: etag, sequencer: '00C1', eventTime: new Date('2026-12-01T00:00:00Z') }),
    );
  }
  const runIdOf = (body: string) => {
    const m = parseQueueMessage(body);
    if (m.kind !== 's3-records') throw new Error('not an event');
    return runIdForRecord(m.records[0]!);
  };
  const send = (body: string) => stack.sqs.send(new SendMessageCommand({ QueueUrl: stack.stack.queueUrl, MessageBody: body }));

  it('runs two deliveries of one event at the same moment once: one inference, one manifest, one publication', async () => {
    const body = await eventFor('incoming/twice-at-once.csv');
    const [a, b] = await Promise.all([inProcessWorker(stack), inProcessWorker(stack)]);
    try {
      await Promise.all([send(body), send(body)]);
      const runId = runIdOf(body);
      await eventually(async () => {
        const c = await queueCounts(stack, stack.stack.queueUrl);
        return c.visible + c.inFlight === 0 && (await stack.objects.exists(runKey(runId, 'manifest'))) ? true : undefined;
      }, 'both deliveries handled');
      const logs = [...a.logs, ...b.logs].filter((l) => l.runId === runId);
      expect(
        logs.filter((l) => l.event === 'run.started'),
        'one inference',
      ).to.have.length(1);
      expect(logs.filter((l) => l.event === 'run.succeeded')).to.have.length(1);
      expect(
        logs.filter((l) => l.event === 'run.done-elsewhere' || l.event === 'run.already-complete'),
        'the other delivery is acknowledged',
      ).to.have.length(1);
      const claim = await readJson<ClaimRecord>(stack, claimKey(runId));
      expect(claim.released).to.equal('succeeded');
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('takes over the run of a worker that crashed holding its claim, once the claim expires', async () => {
    const body = await eventFor('incoming/crashed-claimant.csv');
    const runId = runIdOf(body);
    const dead: ClaimRecord = {
      schema: 'crypto-open-fleet/run-claim/1',
      runId,
      worker: 'dead-worker',
      claimedAt: new Date(Date.now() - 60_000).toISOString(),
      expiresAt: new Date(Date.now() + 5_000).toISOString(),
    };
    await stack.objects.putJson(claimKey(runId), dead);
    const w = await inProcessWorker(stack);
    try {
      await send(body);
      const manifest = await eventually(
        async () => ((await stack.objects.exists(runKey(runId, 'manifest'))) ? readJson<RunManifest>(stack, runKey(runId, 'manifest')) : undefined),
        'the taken-over run',
      );
      expect(manifest.worker.id).to.equal(w.logs[0]!.worker);
      expect(w.logs.find((l) => l.event === 'run.claim-taken-over')).to.include({ runId, from: 'dead-worker' });
      // The safety property, whenever the message arrived: no inference before the dead worker's claim expired.
      const started = w.logs.find((l) => l.event === 'run.started' && l.runId === runId)!;
      expect(Date.parse(String(started.time)), 'inference started after the claim expired').to.be.at.least(Date.parse(dead.expiresAt));
    } finally {
      await w.stop();
    }
  });
});
