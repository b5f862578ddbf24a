/**
 * The reconciler as a one-off task of the image (`node dist/worker/commands/reconcile-task.js [--requeue]`), run daily
 * by the stack's schedule: configuration from the task's environment, one JSON report line (a metric filter counts
 * `missing`, and an alarm fires when it is above zero).
 */
import { parseArgs } from 'node:util';
import { makeS3Client, makeSqsClient } from '../runtime/aws-clients.js';
import { workerConfigFromEnv } from '../runtime/config.js';
import { createLogger } from '../runtime/log.js';
import { BucketObjects } from '../runtime/s3-objects.js';
import { reconcile } from '../tasks/reconcile.js';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { requeue: { type: 'boolean', default: false }, 'since-days': { type: 'string' } }, strict: true });
  const config = workerConfigFromEnv(process.env);
  const log = createLogger({ task: 'reconcile' }, config.logLevel);
  const objects = new BucketObjects(makeS3Client(config.aws), config.bucket);
  const sqs = makeSqsClient(config.aws);
  try {
    const since = values['since-days'] ? new Date(Date.now() - Number(values['since-days']) * 86_400_000) : undefined;
    const r = await reconcile(objects, sqs, config.queueUrl, { requeue: values.requeue, since, region: config.aws.region });
    log.info('reconcile.report', {
      checked: r.checked,
      missing: r.missing.length,
      neverPickedUp: r.neverPickedUp.length,
      inFlight: r.inFlight,
      failed: r.failed,
      requeued: r.requeued,
      missingKeys: r.missing.slice(0, 50).map((o) => o.key),
    });
  } finally {
    objects.s3.destroy();
    sqs.destroy();
  }
}

main().catch((err: unknown) => {
  createLogger({ task: 'reconcile' }).error('reconcile.crashed', { error: err });
  process.exitCode = 1;
});
