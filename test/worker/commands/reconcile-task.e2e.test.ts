import fs from 'node:fs';
import { expect } from 'chai';
import { WORKER_ENV } from '../../../shared/worker-env.js';
import { runSpawned } from '../../helpers/command.js';
import { shared } from '../../helpers/paths.js';
import { eventually, inProcessWorker, startTestStack, upload, type TestStack } from '../../helpers/test-stack.js';

const TEST_CSV = fs.readFileSync(shared('data/crypto_test.csv'));
const ENTRY = 'worker/commands/reconcile-task.ts';

const jsonLines = (stdout: string): Record<string, unknown>[] =>
  stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/**
 * The image's reconciler entry, as the daily schedule runs it: configured by the task's environment, one JSON report
 * line whose numeric `missing` the stack's metric filter reads. Its requests are recorded as the reconcile task's
 * principal, so the IAM check evaluates them against that task role.
 */
describe('reconcile-task (the scheduled reconciler) against the embedded stack', () => {
  let stack: TestStack;
  before(async () => (stack = await startTestStack()));
  after(async () => stack?.close());
  const env = (overrides: Record<string, string> = {}) => ({
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    ...stack.env({ [WORKER_ENV.requestPrincipal]: 'reconcile-task', ...overrides }),
  });

  it('reports the uploads it checked as one reconcile.report line with numeric counts, and sends nothing by default', async () => {
    const worker = await inProcessWorker(stack);
    try {
      await upload(stack, 'incoming/ended.csv', TEST_CSV);
      await eventually(async () => (worker.logs.some((l) => l.event === 'run.succeeded') ? true : undefined), 'the first run');
    } finally {
      await worker.stop();
    }
    // No worker runs now: this one has no record yet, and is younger than the grace period (in flight).
    await upload(stack, 'incoming/fresh.csv', TEST_CSV);
    await upload(stack, 'incoming/odd.CSV', TEST_CSV);

    const result = await runSpawned(ENTRY, [], env());
    expect(result.code, result.stderr).to.equal(0);
    const report = jsonLines(result.stdout).find((l) => l.event === 'reconcile.report');
    expect(report, result.stdout).to.not.equal(undefined);
    expect(report).to.include({ level: 'info', task: 'reconcile', checked: 2, missing: 0, inFlight: 1, neverPickedUp: 1, failed: 0, requeued: 0 });
    expect(report!.missingKeys).to.deep.equal([]);
  });

  it('fails with an error-level line (counted by the task-errors metric) when its environment is incomplete', async () => {
    const result = await runSpawned(ENTRY, [], env({ [WORKER_ENV.bucket]: '' }));
    expect(result.code).to.equal(1);
    const crash = jsonLines(result.stdout).find((l) => l.event === 'reconcile.crashed');
    expect(crash, result.stdout).to.include({ level: 'error' });
    expect(JSON.stringify(crash)).to.contain(`${WORKER_ENV.bucket} is not set`);
  });
});
