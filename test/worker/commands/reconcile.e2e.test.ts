import fs from 'node:fs';
import { DeleteMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { expect } from 'chai';
import { main } from '../../../worker/commands/reconcile.js';
import { requeueSequencer } from '../../../worker/tasks/reconcile.js';
import { runInProcess } from '../../helpers/command.js';
import { shared } from '../../helpers/paths.js';
import { eventually, inProcessWorker, queueCounts, startTestStack, upload, type TestStack } from '../../helpers/test-stack.js';

const TEST_CSV = fs.readFileSync(shared('data/crypto_test.csv'));

describe('npm run reconcile: every upload ends in a record (against the embedded stack)', () => {
  let stack: TestStack;
  before(async () => (stack = await startTestStack()));
  after(async () => stack?.close());
  const run = (...args: string[]) => runInProcess(main, ['--endpoint-url', stack.stack.endpoint, '--grace', '0', ...args]);

  it('finds an upload whose event was lost, requeues it, and then finds nothing missing', async () => {
    const worker = await inProcessWorker(stack);
    await upload(stack, 'incoming/done.csv', TEST_CSV);
    await eventually(async () => (worker.logs.some((l) => l.event === 'run.succeeded') ? true : undefined), 'the first run');
    await worker.stop();

    // Lost: uploaded while no worker runs, and its message purged (a dropped notification, an expired message).
    await upload(stack, 'incoming/lost.csv', TEST_CSV);
    const { Messages = [] } = await stack.sqs.send(new ReceiveMessageCommand({ QueueUrl: stack.stack.queueUrl, WaitTimeSeconds: 1 }));
    expect(Messages).to.have.length(1);
    await stack.sqs.send(new DeleteMessageCommand({ QueueUrl: stack.stack.queueUrl, ReceiptHandle: Messages[0]!.ReceiptHandle! }));
    await upload(stack, 'incoming/WRONG.CSV', TEST_CSV);
    expect(await queueCounts(stack, stack.stack.queueUrl)).to.deep.equal({ visible: 0, inFlight: 0 });

    const report = await run();
    expect(report.code, report.stderr).to.equal(0);
    const lines = report.stdout.trim().split('\n');
    expect(lines[0]).to.match(/^missing {8}incoming\/lost\.csv {2}modified /);
    expect(lines).to.include('never picked   incoming/WRONG.CSV  (only *.csv under incoming/ start a run)');
    expect(lines.at(-1)).to.equal('1 missing');

    const requeued = await run('--requeue', '--json');
    expect(JSON.parse(requeued.stdout)).to.include({ requeued: 1 });
    const again = await inProcessWorker(stack);
    try {
      await eventually(async () => ((await run()).stdout.trim().split('\n').at(-1) === '0 missing' ? true : undefined), 'the requeued upload to run');
      // The status record (what the report reads) is written just before the claim is released and the run logged.
      const ran = await eventually(async () => again.logs.find((l) => l.event === 'run.succeeded'), 'the run to be logged');
      expect(ran).to.include({ key: 'incoming/lost.csv' });
    } finally {
      await again.stop();
    }
  });

  it('names a requeued event by the object, so a second requeue maps to the same run', () => {
    const t = new Date('2026-12-01T00:00:00.123Z');
    expect(requeueSequencer(t)).to.equal(requeueSequencer(new Date(t.getTime())));
    expect(requeueSequencer(t)).to.match(/^[0-9A-F]{18}$/);
  });
});
