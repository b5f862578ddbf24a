/**
 * Training as a one-off task of the image (`node dist/worker/commands/train-task.js`), run weekly by the stack's
 * schedule. Configuration from the task's environment (shared/train-env.ts):
 *   BUCKET (required), AWS_REGION, MODEL_POINTER_KEY (the version in service, compared with on the hold-out),
 *   TRAIN_AS_OF (YYYY-MM-DD, default yesterday UTC), TRAIN_EPOCHS (default 10), TRAIN_SEED (default random, recorded),
 *   TRAIN_SYMBOLS (comma-separated, default all), TRAIN_VALIDATION_ROWS (default 15),
 *   CODE_COMMIT and CODE_VERSION (recorded: the commit and image digest), TFJS_BACKEND, LOG_LEVEL.
 * It reads history/ and models/, and creates models/<version>/ objects (If-None-Match, never overwritten). It writes
 * nothing under registry/ and never moves models/current.json: a version with no registry record is a candidate.
 * One log line `train.candidate` with the version id and the hold-out MAD per symbol; exit code 1 on failure.
 */
import { makeS3Client } from '../runtime/aws-clients.js';
import { createLogger } from '../runtime/log.js';
import { BucketObjects } from '../runtime/s3-objects.js';
import { trainCandidate, trainTaskConfigFromEnv } from '../tasks/train.js';

async function main(): Promise<void> {
  const config = trainTaskConfigFromEnv(process.env);
  const log = createLogger({ task: 'train' }, config.logLevel);
  const objects = new BucketObjects(makeS3Client(config.aws), config.bucket);
  try {
    const trained = await trainCandidate(objects, config.train, log);
    log.info('train.candidate', {
      version: trained.version,
      asOf: trained.record.provenance.asOf,
      seed: trained.record.seed,
      trainWindows: trained.record.data.trainWindows,
      validation: trained.record.validation.map((v) => ({ symbol: v.symbol, mad: v.mad, naive: v.naive, baseline: v.baseline?.mad ?? null })),
    });
  } finally {
    objects.s3.destroy();
  }
}

main().catch((err: unknown) => {
  createLogger({ task: 'train' }).error('train.crashed', { error: err });
  process.exitCode = 1;
});
