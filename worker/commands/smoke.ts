/** `npm run smoke -- [target flags] [--timeout S]`: a run end to end through a stack; exit 1 on any failure. */
import { parseArgs } from 'node:util';
import { runIfEntry, type CommandIo } from '../cli/entry.js';
import { resolveStackTarget, STACK_ARGS, STACK_ARGS_HELP } from '../cli/stack-args.js';
import { formatSmokeReport, runSmoke } from '../ops/smoke.js';
import { describeStackError, type StackTarget } from '../ops/stack.js';
import { makeS3Client, makeSqsClient } from '../runtime/aws-clients.js';

const USAGE = `usage: npm run smoke -- [--timeout S] [--json] [target flags]
  uploads sample data under incoming/_smoke/, checks its predictions and manifest, sends a malformed file to the DLQ
  and removes it from there again; prints a pass/fail table and exits 1 on any failure
  --timeout S               how long to wait for each run (default 120)
${STACK_ARGS_HELP}`;

export async function main(argv: string[], io: CommandIo): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { ...STACK_ARGS, timeout: { type: 'string', default: '120' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
    }));
  } catch (err) {
    io.err(`smoke: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) return (io.out(USAGE), 0);
  const timeout = Number(values.timeout);
  if (!Number.isInteger(timeout) || timeout < 1) {
    io.err(`smoke: --timeout must be a positive integer (seconds), got ${JSON.stringify(values.timeout)}`);
    return 2;
  }
  let target: StackTarget;
  try {
    target = resolveStackTarget(values, io.env);
  } catch (err) {
    io.err(`smoke: ${(err as Error).message}`);
    return 2;
  }
  const s3 = makeS3Client(target.clients);
  const sqs = makeSqsClient(target.clients);
  try {
    const report = await runSmoke(target, s3, sqs, { timeoutMs: timeout * 1000, dlqWaitSeconds: target.kind === 'local' ? 0 : 1 });
    io.out(values.json ? JSON.stringify(report, null, 2) : formatSmokeReport(report));
    return report.ok ? 0 : 1;
  } catch (err) {
    io.err(`smoke: ${describeStackError(err, target)}`);
    return 1;
  } finally {
    s3.destroy();
    sqs.destroy();
  }
}

runIfEntry(import.meta.url, main);
