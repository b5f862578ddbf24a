import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import {
  ChangeMessageVisibilityCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type Message,
  type MessageAttributeValue,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { expect } from 'chai';
import { localClientSettings, localQueueUrl, LOCAL_STACK } from '../../../worker/local/constants.js';
import { LocalStackError, startLocalStack, type LocalStack } from '../../../worker/local/stack.js';
import { makeSqsClient } from '../../../worker/runtime/aws-clients.js';
import { repoRoot } from '../../helpers/paths.js';
import { queueDepth } from '../../helpers/local-stack.js';

/**
 * The stand-in queues are journaled under `<dataDir>/sqs` (worker/local/sqs-persistence.ts). On local-aws-sqs alone
 * they live in memory: run against the stack without the journal, every test here fails (no message comes back).
 */
describe('local stack queues survive a restart', () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'local-queues-'));
    dirs.push(d);
    return d;
  };
  const clients: SQSClient[] = [];
  const client = (endpoint: string) => {
    const c = makeSqsClient(localClientSettings(endpoint));
    clients.push(c);
    return c;
  };
  after(() => {
    clients.forEach((c) => c.destroy());
    dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true }));
  });

  const attrs = { reason: { DataType: 'String', StringValue: 'kept with its message' } } satisfies Record<string, MessageAttributeValue>;
  const receive = async (sqs: SQSClient, queueUrl: string, max = 10): Promise<Message[]> => {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: max,
        WaitTimeSeconds: 1,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
    return Messages;
  };
  /** Everything visible on the queue, received (and so hidden) until a receive finds nothing more. */
  const receiveAll = async (sqs: SQSClient, queueUrl: string): Promise<Map<string, Message>> => {
    const all = new Map<string, Message>();
    for (let got = await receive(sqs, queueUrl); got.length > 0; got = await receive(sqs, queueUrl)) for (const m of got) all.set(m.MessageId!, m);
    return all;
  };
  const send = async (sqs: SQSClient, queueUrl: string, body: string, withAttrs = false) =>
    (await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body, ...(withAttrs ? { MessageAttributes: attrs } : {}) }))).MessageId!;

  it('keeps queued, in-flight and dead-lettered messages across a stop and start, with ids, bodies, attributes and receive counts', async () => {
    const dataDir = tempDir();
    const first = await startLocalStack({ port: 0, dataDir, visibilityTimeoutSeconds: 300 });
    const a = client(first.endpoint);
    const sent = [
      await send(a, first.queueUrl, 'one'),
      await send(a, first.queueUrl, 'two', true),
      await send(a, first.queueUrl, 'three'),
      await send(a, first.queueUrl, 'four'),
    ];
    const [inFlight] = await receive(a, first.queueUrl, 1);
    const dead = [await send(a, first.dlqUrl, 'dead one', true), await send(a, first.dlqUrl, 'dead two')];
    expect((await queueDepth(a, first.queueUrl)).inFlight).to.equal(1);
    await first.stop();

    const second = await startLocalStack({ port: 0, dataDir, visibilityTimeoutSeconds: 300 });
    try {
      const b = client(second.endpoint);
      expect((await queueDepth(b, second.queueUrl)).inFlight, 'the in-flight message is visible again').to.equal(0);
      const work = await receiveAll(b, second.queueUrl);
      expect([...work.keys()].sort()).to.deep.equal([...sent].sort());
      expect(sent.map((id) => work.get(id)!.Body)).to.deep.equal(['one', 'two', 'three', 'four']);
      expect(work.get(sent[1])!.MessageAttributes).to.deep.equal(attrs);
      expect(work.get(sent[1])!.MD5OfMessageAttributes).to.match(/^[0-9a-f]{32}$/);
      const again = work.get(inFlight.MessageId!)!;
      expect(again.Attributes?.ApproximateReceiveCount, 'received once before the restart, once after').to.equal('2');
      expect(again.Attributes?.ApproximateFirstReceiveTimestamp).to.equal(inFlight.Attributes?.ApproximateFirstReceiveTimestamp);
      expect(again.Attributes?.SentTimestamp).to.equal(inFlight.Attributes?.SentTimestamp);
      for (const id of sent.filter((s) => s !== inFlight.MessageId)) expect(work.get(id)!.Attributes?.ApproximateReceiveCount).to.equal('1');

      const dlq = await receiveAll(b, second.dlqUrl);
      expect(dead.map((id) => dlq.get(id)?.Body)).to.deep.equal(['dead one', 'dead two']);
      expect(dlq.get(dead[0])!.MessageAttributes).to.deep.equal(attrs);
    } finally {
      await second.stop();
    }
  });

  it('keeps them through a SIGKILL of the stack process; an in-flight message out of receives moves to the DLQ', async () => {
    const dataDir = tempDir();
    const script = `import { startLocalStack } from ${JSON.stringify(path.join(repoRoot, 'worker/local/stack.ts'))};
const s = await startLocalStack({ port: 0, dataDir: process.env.DATA_DIR, visibilityTimeoutSeconds: 300, maxReceiveCount: 2 });
console.log(JSON.stringify({ endpoint: s.endpoint }));`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: repoRoot,
      env: { ...process.env, DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
    const endpoint = await new Promise<string>((resolve, reject) => {
      const rl = createInterface({ input: child.stdout });
      rl.once('line', (l) => resolve((JSON.parse(l) as { endpoint: string }).endpoint));
      child.once('exit', () => reject(new Error('the stack process ended before it was up')));
    });
    const queueUrl = localQueueUrl(endpoint, LOCAL_STACK.queueName);
    const dlqUrl = localQueueUrl(endpoint, LOCAL_STACK.dlqName);
    const a = client(endpoint);

    // One message received twice (maxReceiveCount 2) and still in flight: its visibility timeout would dead-letter it.
    const exhausted = await send(a, queueUrl, 'out of receives');
    const [r1] = await receive(a, queueUrl, 1);
    await a.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: r1.ReceiptHandle!, VisibilityTimeout: 0 }));
    const [r2] = await receive(a, queueUrl, 1);
    expect([r1.MessageId, r2.MessageId, r2.Attributes?.ApproximateReceiveCount]).to.deep.equal([exhausted, exhausted, '2']);
    const queued = [await send(a, queueUrl, 'q1'), await send(a, queueUrl, 'q2', true), await send(a, queueUrl, 'q3')];
    const [flying] = await receive(a, queueUrl, 1);
    const dead = await send(a, dlqUrl, 'already dead', true);
    expect((await queueDepth(a, queueUrl)).inFlight).to.equal(2);

    child.kill('SIGKILL');
    expect(await exited).to.equal('SIGKILL');

    const after = await startLocalStack({ port: 0, dataDir, visibilityTimeoutSeconds: 300, maxReceiveCount: 2 });
    try {
      const b = client(after.endpoint);
      const work = await receiveAll(b, after.queueUrl);
      expect([...work.keys()].sort()).to.deep.equal([...queued].sort());
      expect(queued.map((id) => work.get(id)!.Body)).to.deep.equal(['q1', 'q2', 'q3']);
      expect(work.get(queued[1])!.MessageAttributes).to.deep.equal(attrs);
      expect(work.get(flying.MessageId!)!.Attributes?.ApproximateReceiveCount).to.equal('2');
      const dlq = await receiveAll(b, after.dlqUrl);
      expect([...dlq.keys()].sort()).to.deep.equal([dead, exhausted].sort());
      expect(dlq.get(dead)!.MessageAttributes).to.deep.equal(attrs);
      const moved = dlq.get(exhausted)!;
      expect(moved.Body).to.equal('out of receives');
      expect(moved.Attributes?.DeadLetterQueueSourceArn).to.equal(`arn:aws:sqs:${LOCAL_STACK.region}:${LOCAL_STACK.accountId}:${LOCAL_STACK.queueName}`);
      expect(moved.Attributes?.ApproximateReceiveCount, 'two on the work queue, one here').to.equal('3');
      expect(moved.Attributes?.ApproximateFirstReceiveTimestamp).to.equal(r1.Attributes?.ApproximateFirstReceiveTimestamp);
    } finally {
      await after.stop();
    }
  });

  it('ignores a last journal line a crash cut short, and refuses a damaged one, naming the file and the line', async () => {
    const dataDir = tempDir();
    const journal = path.join(dataDir, 'sqs', 'journal.ndjson');
    let stack: LocalStack = await startLocalStack({ port: 0, dataDir });
    const id = await send(client(stack.endpoint), stack.queueUrl, 'survivor');
    await stack.stop();

    fs.appendFileSync(journal, '{"op":"put","q":"crypto-open-work","m":{"MessageId":"torn');
    stack = await startLocalStack({ port: 0, dataDir });
    const sqs = client(stack.endpoint);
    expect([...(await receiveAll(sqs, stack.queueUrl)).keys()]).to.deep.equal([id]);
    await stack.stop();

    const lines = fs.readFileSync(journal, 'utf8').split('\n');
    fs.writeFileSync(journal, [lines[0], 'not json', ...lines.slice(1)].join('\n'));
    const err = await startLocalStack({ port: 0, dataDir }).then(
      (s) => s.stop().then(() => null),
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(LocalStackError);
    expect((err as Error).message)
      .to.contain(journal)
      .and.contain('line 2');
  });

  it('wipes the queues with --fresh, and refuses a second stack on the same data folder', async () => {
    const dataDir = tempDir();
    const first = await startLocalStack({ port: 0, dataDir });
    await send(client(first.endpoint), first.queueUrl, 'to be wiped');
    const twin = await startLocalStack({ port: 0, dataDir }).then(
      (s) => s.stop().then(() => null),
      (e: unknown) => e,
    );
    expect((twin as Error).message).to.contain('already in use');
    await first.stop();

    const fresh = await startLocalStack({ port: 0, dataDir, fresh: true });
    try {
      expect(await queueDepth(client(fresh.endpoint), fresh.queueUrl)).to.deep.equal({ visible: 0, inFlight: 0 });
    } finally {
      await fresh.stop();
    }
  });
});
