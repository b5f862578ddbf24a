import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { expect } from 'chai';
import { buildS3Event } from '../../../worker/tasks/s3-notification.js';
import { makeS3Client, makeSqsClient } from '../../../worker/runtime/aws-clients.js';
import { listDlq, type DlqEntry } from '../../../worker/ops/dlq.js';
import type { LocalStack } from '../../../worker/local/stack.js';
import { main } from '../../../worker/commands/dlq.js';
import { runInProcess, runSpawned } from '../../helpers/command.js';
import { queueDepth, sleep, tempStack } from '../../helpers/local-stack.js';

describe('dlq: list and redrive through the SQS protocol (npm run dlq)', () => {
  let stack: LocalStack;
  let cleanup: () => Promise<void>;
  let s3: S3Client;
  let sqs: SQSClient;

  const cli = async (...args: string[]) => {
    const r = await runInProcess(main, ['--endpoint-url', stack.endpoint, ...args]);
    expect(r.code, r.stderr).to.equal(0);
    return r.stdout;
  };

  before(async () => {
    ({ stack, cleanup } = await tempStack({ visibilityTimeoutSeconds: 1, maxReceiveCount: 2 }));
    s3 = makeS3Client(stack.clients);
    sqs = makeSqsClient(stack.clients);

    // 1. An upload whose handler never succeeds: received maxReceiveCount times, never deleted.
    await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'incoming/poison file.csv', Body: 'x\n' }));
    await stack.settled();
    for (let i = 0; i < 2; i++) {
      const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: stack.queueUrl, WaitTimeSeconds: 3 }));
      expect(Messages, `receive ${i + 1}`).to.have.length(1);
    }
    // 2. What the worker sends for invalid input: the original body, the reason attached.
    const event = buildS3Event({ bucket: stack.bucket, key: 'incoming/bad rows.csv', size: 3, eTag: 'abc', sequencer: '01' });
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: stack.dlqUrl,
        MessageBody: JSON.stringify(event),
        MessageAttributes: {
          reason: { DataType: 'String', StringValue: "invalid input: column 'close' missing" },
          runId: { DataType: 'String', StringValue: '20240101T000000Z-0123456789abcdef' },
          sourceMessageId: { DataType: 'String', StringValue: 'm-1' },
          failedAt: { DataType: 'String', StringValue: '2024-01-01T00:00:01.000Z' },
        },
      }),
    );
    // 3. A junk body the worker dead-lettered.
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: stack.dlqUrl,
        MessageBody: 'hello',
        MessageAttributes: { reason: { DataType: 'String', StringValue: 'bad queue message: body is not JSON' } },
      }),
    );
    // The redrive policy moves the first one when its second visibility timeout ends.
    for (let i = 0; i < 50 && (await queueDepth(sqs, stack.dlqUrl)).visible < 3; i++) await sleep(100);
  });
  after(async () => {
    s3?.destroy();
    sqs?.destroy();
    await cleanup?.();
  });

  const byKey = (entries: DlqEntry[]) => Object.fromEntries(entries.map((e) => [e.key ?? '(none)', e]));

  it('lists every message with its original key, reason, receive count and first-received time', async () => {
    const entries = byKey(await listDlq(sqs, stack.dlqUrl, { waitSeconds: 0 }));
    expect(Object.keys(entries).sort()).to.deep.equal(['(none)', 'incoming/bad rows.csv', 'incoming/poison file.csv']);

    const poison = entries['incoming/poison file.csv'];
    expect(poison).to.include({ origin: 'redrive-policy', bucket: stack.bucket, runId: null });
    expect(poison.reason).to.match(/maxReceiveCount \(moved from crypto-open-work\)/);
    expect(poison.receiveCount, 'two receives on the work queue plus this listing').to.equal(3);
    expect(Date.parse(poison.firstReceivedAt!)).to.be.closeTo(Date.now(), 30_000);

    const bad = entries['incoming/bad rows.csv'];
    expect(bad).to.include({
      origin: 'worker',
      reason: "invalid input: column 'close' missing",
      runId: '20240101T000000Z-0123456789abcdef',
      sourceMessageId: 'm-1',
      failedAt: '2024-01-01T00:00:01.000Z',
    });
    expect(bad.receiveCount).to.equal(1);

    expect(entries['(none)']).to.include({ origin: 'worker', reason: 'bad queue message: body is not JSON', body: 'hello' });
  });

  it('does not consume them: a second listing sees the same messages, each received once more', async () => {
    const before = byKey(await listDlq(sqs, stack.dlqUrl, { waitSeconds: 0 }));
    const after = byKey(await listDlq(sqs, stack.dlqUrl, { waitSeconds: 0 }));
    expect(Object.keys(after).sort()).to.deep.equal(Object.keys(before).sort());
    for (const key of Object.keys(before)) expect(after[key].receiveCount).to.equal(before[key].receiveCount + 1);
    expect(await queueDepth(sqs, stack.dlqUrl)).to.deep.equal({ visible: 3, inFlight: 0 });
  });

  it('prints a table, or JSON with --json, from the command line', async () => {
    // One run as its own process proves the wiring of `npm run dlq`; the rest run in this process.
    const spawned = await runSpawned('worker/commands/dlq.ts', ['--endpoint-url', stack.endpoint]);
    expect(spawned.code, spawned.stderr).to.equal(0);
    const table = spawned.stdout;
    expect(table).to.match(/^KEY\s+ORIGIN\s+RECEIVES\s+FIRST RECEIVED\s+REASON$/m);
    expect(table).to.match(/incoming\/poison file\.csv\s+redrive-policy\s+\d+\s+\d{4}-\d\d-\d\dT/);
    expect(table).to.contain('3 messages');
    const json = JSON.parse(await cli('--json')) as DlqEntry[];
    expect(json.map((e) => e.key).sort()).to.deep.equal(['incoming/bad rows.csv', 'incoming/poison file.csv', null]);
  });

  it('--redrive moves them back to the work queue with their attributes and empties the DLQ', async () => {
    const out = JSON.parse(await cli('--redrive', '--json')) as { moved: number; failed: unknown[] };
    expect(out).to.deep.equal({ moved: 3, failed: [] });
    expect(await queueDepth(sqs, stack.dlqUrl)).to.deep.equal({ visible: 0, inFlight: 0 });

    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: stack.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageAttributeNames: ['All'] }),
    );
    expect(Messages).to.have.length(3);
    const bodies = Messages.map((m) => m.Body);
    expect(bodies).to.include('hello');
    const bad = Messages.find((m) => m.Body?.includes('bad+rows.csv'));
    expect(bad?.MessageAttributes?.reason?.StringValue).to.equal("invalid input: column 'close' missing");
    for (const m of Messages) await sqs.send(new DeleteMessageCommand({ QueueUrl: stack.queueUrl, ReceiptHandle: m.ReceiptHandle! }));
    expect(await cli()).to.contain('DLQ is empty');
  });
});
