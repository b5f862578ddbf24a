import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ReceiveMessageCommand, DeleteMessageCommand, type SQSClient, type Message } from '@aws-sdk/client-sqs';
import { expect } from 'chai';
import { parseQueueMessage, type S3EventNotification } from '../../../shared/s3-event.js';
import { makeS3Client, makeSqsClient } from '../../../worker/runtime/aws-clients.js';
import { monotonicSequencer } from '../../../worker/local/bridge.js';
import { LocalStackError, startLocalStack, type LocalStack } from '../../../worker/local/stack.js';
import { LOCAL_STACK } from '../../../worker/local/constants.js';
import { queueDepth, tempStack } from '../../helpers/local-stack.js';

describe('local stack (s3rver + local-aws-sqs + bridge, through the SDK)', () => {
  let stack: LocalStack;
  let cleanup: () => Promise<void>;
  let s3: S3Client;
  let sqs: SQSClient;

  before(async () => {
    ({ stack, cleanup } = await tempStack());
    s3 = makeS3Client(stack.clients);
    sqs = makeSqsClient(stack.clients);
  });
  after(async () => {
    s3?.destroy();
    sqs?.destroy();
    await cleanup?.();
  });

  async function put(key: string, body: string): Promise<string> {
    const res = await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: body }));
    await stack.settled();
    return res.ETag!.replace(/"/g, '');
  }

  async function receiveAll(): Promise<Message[]> {
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: stack.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
    for (const m of Messages) await sqs.send(new DeleteMessageCommand({ QueueUrl: stack.queueUrl, ReceiptHandle: m.ReceiptHandle! }));
    return Messages;
  }

  it('listens on one ephemeral port for both services, with the fixed names', () => {
    expect(stack.port).to.be.greaterThan(0).and.not.equal(LOCAL_STACK.port);
    expect(stack.endpoint).to.equal(`http://127.0.0.1:${stack.port}`);
    expect(stack.endpoint).to.equal(stack.endpoint);
    expect(stack.bucket).to.equal('crypto-open-local');
    expect(stack.queueUrl).to.equal(`${stack.endpoint}/000000000000/crypto-open-work`);
    expect(stack.dlqUrl).to.equal(`${stack.endpoint}/000000000000/crypto-open-work-dlq`);
  });

  it('turns a PUT under incoming/ into the notification S3 sends, key URL-encoded, decoded back by parseQueueMessage', async () => {
    const key = 'incoming/a b/ü+x.csv';
    const body = 'symbol,date\nBTC,2018-01-25\n';
    const etag = await put(key, body);
    const [message, ...more] = await receiveAll();
    expect(more, 'one message per upload').to.have.length(0);

    const event = JSON.parse(message.Body!) as S3EventNotification;
    expect(event.Records).to.have.length(1);
    const record = event.Records[0];
    expect(record).to.include({ eventVersion: '2.1', eventSource: 'aws:s3', awsRegion: 'us-east-1', eventName: 'ObjectCreated:Put' });
    expect(Date.parse(record.eventTime)).to.be.closeTo(Date.now(), 10_000);
    expect(record.s3.s3SchemaVersion).to.equal('1.0');
    expect(record.s3.bucket).to.include({ name: stack.bucket, arn: `arn:aws:s3:::${stack.bucket}` });
    expect(record.s3.object).to.have.all.keys('key', 'size', 'eTag', 'sequencer');
    expect(record.s3.object.key).to.equal('incoming/a+b/%C3%BC%2Bx.csv');
    expect(record.s3.object.size).to.equal(Buffer.byteLength(body));
    expect(record.s3.object.eTag).to.equal(etag);
    expect(record.s3.object.sequencer).to.match(/^[0-9A-F]{18}$/);

    const parsed = parseQueueMessage(message.Body!);
    expect(parsed.kind).to.equal('s3-records');
    if (parsed.kind !== 's3-records') return;
    expect(parsed.records[0]).to.include({ bucket: stack.bucket, key, eTag: etag, versionId: null });
    const got = await s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: parsed.records[0].key }));
    expect(await got.Body!.transformToString()).to.equal(body);
  });

  it('sends nothing for objects outside incoming/**.csv', async () => {
    await put('predictions/x_preds.csv', 'symbol,index\n');
    await put('runs/20240101T000000Z-0000000000000000/manifest.json', '{}');
    await put('incoming/readme.txt', 'not a csv');
    await put('incoming/notes/readme.md', 'not a csv either');
    expect(await receiveAll()).to.have.length(0);
    expect(await queueDepth(sqs, stack.queueUrl)).to.deep.equal({ visible: 0, inFlight: 0 });
  });

  it('gives a new upload of the same key a greater sequencer and its own ETag', async () => {
    await put('incoming/same.csv', 'a\n1\n');
    await put('incoming/same.csv', 'a\n2\n');
    const objects = (await receiveAll()).map((m) => (JSON.parse(m.Body!) as S3EventNotification).Records[0].s3.object);
    expect(objects).to.have.length(2);
    const [first, second] = objects.sort((a, b) => a.sequencer.localeCompare(b.sequencer));
    expect(second.sequencer > first.sequencer).to.equal(true);
    expect(first.eTag).to.not.equal(second.eTag);
  });

  it('stores a streamed upload byte for byte (the clients send no aws-chunked checksum framing)', async () => {
    const body = 'symbol,date\nBTC,2018-01-25\n';
    await s3.send(
      new PutObjectCommand({ Bucket: stack.bucket, Key: 'tmp/streamed.csv', Body: Readable.from([Buffer.from(body)]), ContentLength: Buffer.byteLength(body) }),
    );
    const got = await s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: 'tmp/streamed.csv' }));
    expect(await got.Body!.transformToString()).to.equal(body);
  });

  it('answers If-Match on GET and HEAD as S3 does (s3rver alone ignores it)', async () => {
    const etag = await put('incoming/if-match.csv', 'a\n1\n');
    await receiveAll();
    const ok = await s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: 'incoming/if-match.csv', IfMatch: `"${etag}"` }));
    expect(await ok.Body!.transformToString()).to.equal('a\n1\n');
    const stale = await s3
      .send(new GetObjectCommand({ Bucket: stack.bucket, Key: 'incoming/if-match.csv', IfMatch: '"0123456789abcdef0123456789abcdef"' }))
      .then(
        () => null,
        (err: { name: string; $metadata?: { httpStatusCode?: number } }) => err,
      );
    expect(stale?.name).to.equal('PreconditionFailed');
    expect(stale?.$metadata?.httpStatusCode).to.equal(412);
    const head = await s3.send(new HeadObjectCommand({ Bucket: stack.bucket, Key: 'incoming/if-match.csv', IfMatch: '"0123"' })).then(
      () => null,
      (err: { $metadata?: { httpStatusCode?: number } }) => err,
    );
    expect(head?.$metadata?.httpStatusCode).to.equal(412);
  });
});

describe('local stack lifecycle', () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'local-stack-life-'));
    dirs.push(d);
    return d;
  };
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  it('keeps S3 objects and queued messages across a restart, and --fresh wipes both', async () => {
    const dataDir = tempDir();
    const first = await startLocalStack({ port: 0, dataDir });
    const s3a = makeS3Client(first.clients);
    await s3a.send(new PutObjectCommand({ Bucket: first.bucket, Key: 'incoming/kept.csv', Body: 'a\n1\n' }));
    await first.settled();
    expect((await queueDepth(makeSqsClient(first.clients), first.queueUrl)).visible).to.equal(1);
    await first.stop();
    await first.stop();

    const second = await startLocalStack({ port: 0, dataDir });
    const s3b = makeS3Client(second.clients);
    const kept = await s3b.send(new GetObjectCommand({ Bucket: second.bucket, Key: 'incoming/kept.csv' }));
    expect(await kept.Body!.transformToString()).to.equal('a\n1\n');
    expect(
      (await queueDepth(makeSqsClient(second.clients), second.queueUrl)).visible,
      'the queued notification is kept (journaled under <dataDir>/sqs)',
    ).to.equal(1);
    await second.stop();

    const third = await startLocalStack({ port: 0, dataDir, fresh: true });
    const s3c = makeS3Client(third.clients);
    const gone = await s3c.send(new HeadObjectCommand({ Bucket: third.bucket, Key: 'incoming/kept.csv' })).then(
      () => 'present',
      (err: { name: string }) => err.name,
    );
    expect(gone).to.equal('NotFound');
    expect(await queueDepth(makeSqsClient(third.clients), third.queueUrl), 'and the queues').to.deep.equal({ visible: 0, inFlight: 0 });
    await third.stop();
    [s3a, s3b, s3c].forEach((c) => c.destroy());
  });

  it('reports a port in use, naming the port', async () => {
    const one = await startLocalStack({ port: 0, dataDir: tempDir() });
    try {
      const err = await startLocalStack({ port: one.port, dataDir: tempDir() }).then(
        (s) => s.stop().then(() => null),
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(LocalStackError);
      expect((err as Error).message).to.contain(`port ${one.port} is in use`);
    } finally {
      await one.stop();
    }
  });

  it('validates its options by name', async () => {
    for (const [opts, message] of [
      [{ maxReceiveCount: 0 }, 'maxReceiveCount must be an integer from 1 to 1000'],
      [{ visibilityTimeoutSeconds: 1.5 }, 'visibilityTimeoutSeconds must be an integer'],
      [{ port: 70000 }, 'port must be an integer from 0 to 65535'],
    ] as const) {
      const err = await startLocalStack({ dataDir: tempDir(), ...opts }).then(
        (s) => s.stop().then(() => null),
        (e: unknown) => e,
      );
      expect((err as Error).message).to.contain(message);
    }
  });
});

describe('monotonicSequencer', () => {
  it('is strictly increasing even when the clock stands still or steps back', () => {
    let now = 1_700_000_000_000;
    const next = monotonicSequencer(() => now);
    const a = next();
    const b = next();
    now -= 5;
    const c = next();
    now += 1000;
    const d = next();
    expect([a, b, c, d].every((s) => /^[0-9A-F]{18}$/.test(s))).to.equal(true);
    expect(a < b && b < c && c < d).to.equal(true);
  });
});
