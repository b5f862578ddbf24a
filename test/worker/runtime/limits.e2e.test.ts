import fs from 'node:fs';
import { expect } from 'chai';
import { WORKER_ENV } from '../../../shared/worker-env.js';
import { shared } from '../../helpers/paths.js';
import { eventually, inProcessWorker, peekDlq, startTestStack, upload, type TestStack } from '../../helpers/test-stack.js';

/** No upload can hold a worker: limits fail the file as invalid input, with a reason naming the limit. */
describe('upload limits (worker on the embedded stack)', () => {
  let stack: TestStack;
  before(async () => (stack = await startTestStack()));
  after(async () => stack?.close());

  const reasonFor = (key: string) =>
    eventually(
      async () => (await peekDlq(stack)).find((m) => m.Body?.includes(key))?.MessageAttributes?.reason?.StringValue,
      `the DLQ entry of ${key}`,
      60_000,
    );

  it('dead-letters a 100 MB file of one line, naming the line limit (its time and memory are measured by the bench)', async function () {
    this.timeout(180_000);
    const worker = await inProcessWorker(stack);
    try {
      await upload(stack, 'incoming/one-line.csv', Buffer.alloc(100 * 1024 * 1024, 'x'));
      const reason = await reasonFor('one-line.csv');
      expect(reason).to.equal('incoming/one-line.csv: invalid input: row 1: a line is longer than the 65,536-byte limit');
      expect(reason!.length).to.be.below(400);
    } finally {
      await worker.stop();
    }
  });

  it('refuses an upload over MAX_UPLOAD_BYTES before reading it', async () => {
    const worker = await inProcessWorker(stack, { [WORKER_ENV.maxUploadBytes]: '1000' });
    try {
      const body = fs.readFileSync(shared('data/crypto_test.csv'));
      await upload(stack, 'incoming/too-big.csv', body);
      expect(await reasonFor('too-big.csv')).to.equal(
        `incoming/too-big.csv: invalid input: the upload is ${body.length.toLocaleString('en-US')} bytes, over the 1,000-byte limit (MAX_UPLOAD_BYTES)`,
      );
      expect(
        worker.logs.some((l) => l.event === 'run.started'),
        'never read',
      ).to.equal(false);
    } finally {
      await worker.stop();
    }
  });
});
