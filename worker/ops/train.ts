import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { EpochRecord } from '../../model/train/record.js';
import { trainCandidate, type TrainSettings } from '../tasks/train.js';
import type { Logger } from '../runtime/log.js';
import type { BucketObjects } from '../runtime/s3-objects.js';
import { recordNewVersion, type RegistryContext } from './registry.js';

/** The commit of the working tree the operator trains from, or 'unknown' outside a git checkout. */
export async function gitCommit(repoRoot: string): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)('git', ['rev-parse', 'HEAD'], { cwd: repoRoot });
    return stdout.trim() || 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * `npm run train` from the operator's machine: the task's training (worker/tasks/train.ts), then, with the
 * operator's rights, the candidate's status record and a `train` entry in the change log.
 */
export async function trainAndRecord(
  objects: BucketObjects,
  settings: TrainSettings,
  registry: RegistryContext,
  log?: Logger,
  onEpoch?: (e: EpochRecord) => void,
) {
  const trained = await trainCandidate(objects, { ...settings, ...(onEpoch ? { onEpoch } : {}) }, log);
  const { record } = await recordNewVersion(
    registry,
    trained.version,
    'train',
    'candidate',
    `trained by npm run train on the history as of ${settings.asOf} (seed ${trained.record.seed}, ${settings.epochs} epochs)`,
  );
  return { ...trained, status: record.status };
}
