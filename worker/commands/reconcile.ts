/** `npm run reconcile -- [--since TIME] [--grace S] [--requeue] [--json] [target flags]`: every upload ended? */
import { parseArgs } from 'node:util';
import { runIfEntry, type CommandIo } from '../cli/entry.js';
import { resolveStackTarget, STACK_ARGS, STACK_ARGS_HELP } from '../cli/stack-args.js';
import { describeStackError, type StackTarget } from '../ops/stack.js';
import { makeS3Client, makeSqsClient } from '../runtime/aws-clients.js';
import { BucketObjects } from '../runtime/s3-objects.js';
import { formatReconcileReport, reconcile } from '../tasks/reconcile.js';

const USAGE = `usage: npm run reconcile -- [--since TIME] [--grace S] [--requeue] [--json] [target flags]
  lists every upload under incoming/ (each version where the bucket is versioned) without a manifest or error record,
  and every object there no run will pick up; the last line says how many are missing
  --since TIME              only uploads modified since this ISO time
  --grace S                 uploads younger than S seconds are in flight, not missing (default 300)
  --requeue                 send a fresh S3 event for each missing upload (safe: runs are idempotent)
${STACK_ARGS_HELP}`;

export async function main(argv: string[], io: CommandIo): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        ...STACK_ARGS,
        since: { type: 'string' },
        grace: { type: 'string', default: '300' },
        requeue: { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    io.err(`reconcile: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) return (io.out(USAGE), 0);
  const since = values.since === undefined ? undefined : new Date(values.since);
  if (since && Number.isNaN(since.getTime())) return (io.err(`reconcile: --since must be an ISO time, got ${JSON.stringify(values.since)}`), 2);
  const grace = Number(values.grace);
  if (!Number.isInteger(grace) || grace < 0) return (io.err(`reconcile: --grace must be a whole number of seconds, got ${JSON.stringify(values.grace)}`), 2);
  let target: StackTarget;
  try {
    target = resolveStackTarget(values, io.env);
  } catch (err) {
    io.err(`reconcile: ${(err as Error).message}`);
    return 2;
  }
  const objects = new BucketObjects(makeS3Client(target.clients), target.bucket);
  const sqs = makeSqsClient(target.clients);
  try {
    const report = await reconcile(objects, sqs, target.queueUrl, { since, graceMs: grace * 1000, requeue: values.requeue, region: target.clients.region });
    io.out(values.json ? JSON.stringify(report, null, 2) : formatReconcileReport(report));
    return 0;
  } catch (err) {
    io.err(`reconcile: ${describeStackError(err, target)}`);
    return 1;
  } finally {
    objects.s3.destroy();
    sqs.destroy();
  }
}

runIfEntry(import.meta.url, main);
