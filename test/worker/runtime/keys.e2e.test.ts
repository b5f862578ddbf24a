import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { expect } from 'chai';
import { main as dlqMain } from '../../../worker/commands/dlq.js';
import { buildS3Event } from '../../../worker/tasks/s3-notification.js';
import { runInProcess } from '../../helpers/command.js';
import { eventually, inProcessWorker, listKeys, peekDlq, startTestStack, upload, type TestStack } from '../../helpers/test-stack.js';

/** Keys are checked before anything is read or written, and what reaches SQS attributes or a terminal is escaped. */
describe('keys and attribute values (worker on the embedded stack)', () => {
  let stack: TestStack;
  let worker: Awaited<ReturnType<typeof inProcessWorker>>;
  before(async () => {
    stack = await startTestStack();
    worker = await inProcessWorker(stack);
  });
  after(async () => {
    await worker?.stop();
    await stack?.close();
  });

  /** An event as S3 would send it for `key` (S3 itself never sends such keys: these are forged messages). */
  const forge = async (key: string): Promise<string> => {
    const body = JSON.stringify(
      buildS3Event({ bucket: stack.stack.bucket, key, size: 10, eTag: '0123456789abcdef0123456789abcdef', sequencer: '00A1', eventTime: new Date() }),
    );
    await stack.sqs.send(new SendMessageCommand({ QueueUrl: stack.stack.queueUrl, MessageBody: body }));
    return body;
  };
  const deadLettered = (body: string) => eventually(async () => (await peekDlq(stack)).find((m) => m.Body === body), 'the message in the DLQ');

  it('refuses a key that resolves into incoming/ again: nothing is read or written outside runs/, status/ and claims/', async () => {
    const seeded = await upload(stack, 'incoming/crypto_test.csv', 'symbol,date,open,high,low,close,market\nBTC,2018-01-01,1,2,0.5,1,3\n');
    expect(seeded).to.be.a('string');
    const before = (await listKeys(stack, '')).filter((k) => !['runs/', 'status/', 'models/', 'claims/'].some((p) => k.startsWith(p)));
    const body = await forge('incoming/../incoming/crypto_test.csv');
    const dead = await deadLettered(body);
    expect(dead.MessageAttributes?.reason?.StringValue).to.match(/invalid key "incoming\/\.\.\/incoming\/crypto_test\.csv": segment 2 of the key is "\.\."/);
    await eventually(async () => (worker.logs.some((l) => l.event === 'run.failed' && l.kind === 'invalid-key') ? true : undefined), 'the run to fail');
    const after = (await listKeys(stack, '')).filter((k) => !['runs/', 'status/', 'models/', 'claims/'].some((p) => k.startsWith(p)));
    // The seeded upload ran normally meanwhile: its predictions, its history segment and the daily file are the only
    // new objects, nothing landed in incoming/.
    const added = after.filter((k) => !before.includes(k)).sort();
    expect(added.filter((k) => !k.startsWith('history/segments/2018-01/2018-01-01_2018-01-01_'))).to.deep.equal([
      'daily/latest_preds.csv',
      'predictions/crypto_test_forecast.csv',
      'predictions/crypto_test_preds.csv',
    ]);
    expect(added.filter((k) => k.startsWith('history/'))).to.have.length(1);
  });

  it('refuses incoming/../predictions/...: the other object is never read, so its content is never echoed', async () => {
    await stack.objects.put('predictions/secret_preds.csv', 'symbol,index,secret-header\n', 'text/csv');
    const body = await forge('incoming/../predictions/secret_preds.csv');
    const reason = (await deadLettered(body)).MessageAttributes?.reason?.StringValue ?? '';
    expect(reason).to.match(/invalid key/);
    expect(reason).to.not.contain('secret-header');
  });

  it('dead-letters at once a key whose derived keys exceed the segment limit (no retries for minutes)', async () => {
    const body = await forge(`incoming/${'n'.repeat(226)}.csv`);
    const dead = await deadLettered(body);
    expect(dead.MessageAttributes?.reason?.StringValue).to.match(/is 236 bytes, over the 200-byte limit per segment/);
    expect(worker.logs.filter((l) => l.event === 'message.will-retry')).to.have.length(0);
  });

  it('escapes control characters from keys and file contents in the DLQ reason and in `npm run dlq`', async () => {
    const esc = '\u001b[31m';
    const body = await forge(`incoming/${esc}red.csv`);
    const reason = (await deadLettered(body)).MessageAttributes?.reason?.StringValue ?? '';
    expect(reason).to.contain('\\x1b[31m');
    expect(/[\u0000-\u001f\u007f]/.test(reason), 'no raw control character').to.equal(false);

    const evil = `symbol,date,open,high,low,close,market\n${esc}EVIL,2018-01-01,1,2,0.5,1,3\n`;
    await upload(stack, 'incoming/evil-symbol.csv', evil);
    const evilDead = await eventually(async () => (await peekDlq(stack)).find((m) => m.Body?.includes('evil-symbol')), 'the evil file in the DLQ');
    const evilReason = evilDead.MessageAttributes?.reason?.StringValue ?? '';
    expect(evilReason).to.match(/nothing to predict/);
    expect(/[\u0000-\u001f\u007f]/.test(evilReason)).to.equal(false);

    const listed = await runInProcess(dlqMain, ['--endpoint-url', stack.stack.endpoint]);
    expect(listed.code, listed.stderr).to.equal(0);
    expect(listed.stdout).to.contain('\\x1b[31m');
    expect(/[\u0000-\u0009\u000b-\u001f\u007f]/.test(listed.stdout), 'the table prints no raw control character').to.equal(false);
  });
});
