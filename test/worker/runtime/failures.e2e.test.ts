import fs from 'node:fs';
import { SendMessageCommand, type Message } from '@aws-sdk/client-sqs';
import { expect } from 'chai';
import { FAILURE_DISPOSITION, type Disposition, type FailureKind } from '../../../shared/failures.js';
import { runKey } from '../../../shared/layout.js';
import type { RunError, RunManifest } from '../../../shared/manifest.js';
import { WORKER_ENV } from '../../../shared/worker-env.js';
import { resolveModelFiles } from '../../../worker/cli/model-args.js';
import { buildS3Event } from '../../../worker/tasks/s3-notification.js';
import { shared, repoRoot } from '../../helpers/paths.js';
import { eventually, inProcessWorker, peekDlq, queueCounts, readJson, runsWith, startTestStack, upload, type TestStack } from '../../helpers/test-stack.js';

const TEST_CSV = fs.readFileSync(shared('data/crypto_test.csv'));

/** What a test does to the stack to cause one kind of failure, and the pointer key its worker reads. */
interface Case {
  pointerKey?: string;
  /** Sends the message (its body names `key`, or the kind). */
  cause(stack: TestStack, key: string): Promise<void>;
  reason: RegExp;
}

const event = (stack: TestStack, key: string, eTag: string) =>
  JSON.stringify(buildS3Event({ bucket: stack.stack.bucket, key, size: 10, eTag, sequencer: Date.now().toString(16).toUpperCase(), eventTime: new Date() }));
/** Every message of the work queue handled and deleted. */
const drained = (stack: TestStack) =>
  eventually(async () => {
    const c = await queueCounts(stack, stack.stack.queueUrl);
    return c.visible + c.inFlight === 0 ? true : undefined;
  }, 'the work queue to drain');
const send = (stack: TestStack, body: string) => stack.sqs.send(new SendMessageCommand({ QueueUrl: stack.stack.queueUrl, MessageBody: body }));

// Keyed by every failure kind: a kind added to shared/failures.ts without a case here fails to typecheck.
const CASES: Record<FailureKind, Case> = {
  'invalid-input': {
    cause: async (s, key) => void (await upload(s, key, 'symbol,date,open,high,low,close\nBTC,2018-01-01,1,2,0.5,1\n')),
    reason: /invalid input: header: required column 'market' missing/,
  },
  'invalid-key': {
    // A forged event: S3 never sends such a key, but nothing outside incoming/ may be read or written for it.
    cause: (s) => send(s, event(s, 'incoming/failures/invalid-key/../../predictions/x.csv', '0123456789abcdef0123456789abcdef')).then(() => undefined),
    reason: /invalid key "incoming\/failures\/invalid-key\/\.\.\/\.\.\/predictions\/x\.csv": segment 4 of the key is "\.\."/,
  },
  'invalid-model': {
    pointerKey: 'models/broken.json',
    cause: async (s, key) => void (await upload(s, key, TEST_CSV)),
    reason: /model unusable: .*files do not match version/,
  },
  'source-missing': {
    cause: (s, key) => send(s, event(s, key, 'd41d8cd98f00b204e9800998ecf8427e')).then(() => undefined),
    reason: /source missing: .* was deleted before it was read/,
  },
  'bad-message': { cause: (s, key) => send(s, `not json: ${key}`).then(() => undefined), reason: /bad queue message: body is not JSON/ },
  'source-changed': {
    // An event whose ETag the key no longer holds (the upload's own event runs normally).
    cause: async (s, key) => {
      await upload(s, key, TEST_CSV);
      await send(s, event(s, key, '0123456789abcdef0123456789abcdef'));
    },
    reason: /source changed: .* no longer has ETag 0123456789abcdef0123456789abcdef/,
  },
  'unsupported-command': {
    cause: (s) => send(s, JSON.stringify({ command: 'no-such-command' })).then(() => undefined),
    reason: /unsupported command: "no-such-command"/,
  },
  transient: {
    pointerKey: 'models/no-pointer-here.json',
    cause: async (s, key) => void (await upload(s, key, TEST_CSV)),
    reason: /model pointer .* unreadable/,
  },
};

describe('failure kinds: each decides what becomes of its message (handler on the embedded stack)', function () {
  let stack: TestStack;
  before(async () => {
    stack = await startTestStack({ visibilityTimeoutSeconds: 2, maxReceiveCount: 2 });
    // A copy of the version whose weights do not match its id, behind its own pointer.
    const { files } = await resolveModelFiles({}, {}, repoRoot);
    for (const [name, bytes] of files)
      await stack.objects.put(`models/broken-copy/${name}`, name === 'weights.bin' ? Buffer.alloc(bytes.length, 1) : bytes, 'application/octet-stream');
    await stack.objects.putJson('models/broken.json', { version: stack.modelVersion, prefix: 'models/broken-copy/' });
  });
  after(async () => stack?.close());

  it('covers every kind of shared/failures.ts', () => {
    expect(Object.keys(CASES).sort()).to.deep.equal(Object.keys(FAILURE_DISPOSITION).sort());
  });

  for (const [kind, disposition] of Object.entries(FAILURE_DISPOSITION) as [FailureKind, Disposition][]) {
    it(`${kind} -> ${disposition}`, async () => {
      const c = CASES[kind];
      const key = `incoming/failures/${kind}.csv`;
      const worker = await inProcessWorker(stack, {
        ...(c.pointerKey ? { [WORKER_ENV.modelPointerKey]: c.pointerKey } : {}),
        [WORKER_ENV.heartbeatSeconds]: '1',
        [WORKER_ENV.visibilityTimeoutSeconds]: '2',
      });
      try {
        const inDlq = (m: Message) => m.Body?.includes(kind) || (kind === 'unsupported-command' && m.Body?.includes('no-such-command'));
        const dlqBefore = (await peekDlq(stack)).filter(inDlq).length;
        await c.cause(stack, key);
        const outcome = disposition === 'dead-letter' ? 'dead-lettered' : 'settled';
        await eventually(
          async () =>
            disposition === 'retry' ? (await peekDlq(stack)).find(inDlq) : worker.logs.find((l) => l.event === 'message.done' && l.outcome === outcome),
          `the ${kind} message to be handled`,
          30_000,
        );
        await drained(stack);
        const dlq = (await peekDlq(stack)).filter(inDlq);
        if (disposition === 'dead-letter') {
          expect(dlq, 'sent to the DLQ at once').to.have.length(dlqBefore + 1);
          expect(dlq[0].MessageAttributes?.reason?.StringValue).to.match(c.reason);
          expect(worker.logs.filter((l) => l.event === 'message.will-retry')).to.have.length(0);
        } else if (disposition === 'settle') {
          expect(dlq, 'not dead-lettered').to.have.length(dlqBefore);
          expect(worker.logs.filter((l) => l.event === 'message.will-retry')).to.have.length(0);
        } else {
          // Retried by redelivery until the queue's redrive policy moved it: no reason attribute of the worker's.
          expect(worker.logs.filter((l) => l.event === 'message.will-retry').length).to.equal(stack.stack.maxReceiveCount);
          expect(dlq[0].MessageAttributes?.reason).to.equal(undefined);
        }
        if (kind !== 'bad-message') {
          const errors = await Promise.all((await runsWith(stack, 'error.json')).map((k) => readJson<RunError>(stack, k)));
          const record = errors.find((e) => e.error.kind === kind);
          expect(record, `error.json of kind ${kind}`).to.not.equal(undefined);
          expect(record!.error.disposition).to.equal(disposition);
          expect(record!.error.message).to.match(c.reason);
          // Decided on the first delivery, except a retry, whose record is written on the last.
          expect(record!.worker.receiveCount).to.equal(disposition === 'retry' ? stack.stack.maxReceiveCount : 1);
        }
      } finally {
        await worker.stop();
      }
    });
  }

  it('a message of three records: one succeeds, one is dead-lettered, one settles; the DLQ names only the dead one', async () => {
    const worker = await inProcessWorker(stack);
    try {
      const good = 'incoming/multi/good.csv';
      const etag = await upload(stack, good, TEST_CSV);
      const changed = 'incoming/multi/changed.csv';
      await upload(stack, changed, TEST_CSV);
      await eventually(async () => (worker.logs.filter((l) => l.event === 'message.done').length >= 2 ? true : undefined), 'the two uploads to run');
      const records = [
        ...buildS3Event({ bucket: stack.stack.bucket, key: good, size: TEST_CSV.length, eTag: etag, sequencer: '0A01', eventTime: new Date() }).Records,
        ...buildS3Event({ bucket: stack.stack.bucket, key: 'incoming/multi/missing.csv', size: 1, eTag: 'aa', sequencer: '0A02', eventTime: new Date() })
          .Records,
        ...buildS3Event({ bucket: stack.stack.bucket, key: changed, size: 1, eTag: 'bb', sequencer: '0A03', eventTime: new Date() }).Records,
      ];
      const body = JSON.stringify({ Records: records });
      await send(stack, body);
      const dead = await eventually(async () => (await peekDlq(stack)).find((m) => m.Body === body), 'the message in the DLQ');
      const reason = dead.MessageAttributes?.reason?.StringValue ?? '';
      expect(reason).to.match(/^incoming\/multi\/missing\.csv: source missing: /);
      expect(reason).to.not.contain('changed.csv');
      expect(reason).to.not.contain('good.csv');
      const manifests = await Promise.all((await runsWith(stack, 'manifest.json')).map((k) => readJson<RunManifest>(stack, k)));
      const goodRun = manifests.find((m) => m.input.key === good && m.event.sequencer === '0A01');
      expect(goodRun, 'the good record ran').to.not.equal(undefined);
      expect(await stack.objects.exists(runKey(goodRun!.runId, 'error'))).to.equal(false);
      await drained(stack);
    } finally {
      await worker.stop();
    }
  });
});
