import { expect } from 'chai';
import { main } from '../../../worker/commands/smoke.js';
import { peekDlq, inProcessWorker, startTestStack, type TestStack } from '../../helpers/test-stack.js';
import { runInProcess } from '../../helpers/command.js';

describe('npm run smoke (the last step of a deployment), against the embedded stack', () => {
  let stack: TestStack;
  before(async () => (stack = await startTestStack()));
  after(async () => stack?.close());

  it('passes every check on a working stack and leaves the DLQ as it found it', async () => {
    const worker = await inProcessWorker(stack);
    try {
      const r = await runInProcess(main, ['--endpoint-url', stack.stack.endpoint, '--timeout', '60']);
      expect(r.code, r.stdout + r.stderr).to.equal(0);
      const lines = r.stdout.trim().split('\n');
      expect(lines[0]).to.match(/^smoke test: incoming\/_smoke\/\d{8}T\d{9}Z-[0-9a-f]{8}\.csv$/);
      expect(lines.slice(1, -1).map((l) => l.slice(0, 4))).to.deep.equal(['PASS', 'PASS', 'PASS', 'PASS', 'PASS']);
      expect(r.stdout).to.match(/PASS {2}a malformed upload reaches the DLQ with its reason +.*required column 'market' missing/);
      expect(lines.at(-1)).to.match(/^PASSED: 5\/5 checks; upload -> status \d+ ms$/);
      expect(await peekDlq(stack)).to.have.length(0);
    } finally {
      await worker.stop();
    }
  });

  it('fails, with exit 1 and the reason, on a stack whose workers do not run', async () => {
    const r = await runInProcess(main, ['--endpoint-url', stack.stack.endpoint, '--timeout', '2', '--json']);
    expect(r.code).to.equal(1);
    const report = JSON.parse(r.stdout) as { ok: boolean; checks: { name: string; ok: boolean; detail: string }[] };
    expect(report.ok).to.equal(false);
    expect(report.checks[0]).to.deep.include({ name: 'upload runs', ok: false, detail: 'no status record after 2000 ms' });
  });
});
