import type { S3Client } from '@aws-sdk/client-s3';
import { resolveModelFiles } from '../../model/model-store.js';
import { MODEL_POINTER_KEY } from '../../shared/layout.js';
import { publishModelVersion } from '../model-publish.js';
import { readModelPointer } from '../model-source.js';
import { BucketObjects } from '../s3-objects.js';

export interface SeededModel {
  version: string;
  /** Where it came from, or null when the bucket already had a model in service. */
  source: string | null;
}

/**
 * Puts a model version in service when the bucket has none: the folder named by MODEL_DIR (else `../shared/model_out`
 * beside the repo), holding either an imported version or the team's model.h5 + scaler.pkl.
 */
export async function ensureModelInBucket(s3: S3Client, bucket: string, env: NodeJS.ProcessEnv, repoRoot: string): Promise<SeededModel> {
  const objects = new BucketObjects(s3, bucket);
  const current = await readModelPointer(objects, MODEL_POINTER_KEY);
  if (current) return { version: current.version, source: null };
  const { files, source } = await resolveModelFiles({ env, repoRoot });
  const pointer = await publishModelVersion(objects, files, MODEL_POINTER_KEY, true);
  return { version: pointer.version, source };
}
