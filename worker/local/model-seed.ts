import { GetObjectCommand, NoSuchKey, type S3Client } from '@aws-sdk/client-s3';
import { resolveModelFiles } from '../../model/model-store.js';
import { MODEL_POINTER_KEY } from '../../shared/layout.js';
import { publishModelVersion } from '../model-publish.js';
import { BucketObjects } from '../s3-objects.js';

/**
 * Puts a model version in service when the bucket has none: the folder named by MODEL_DIR (else `../shared/model_out`
 * beside the repo), holding either an imported version or the team's model.h5 + scaler.pkl.
 */

export interface SeededModel {
  version: string;
  /** Where it came from, or null when the bucket already had a model in service. */
  source: string | null;
}

export async function ensureModelInBucket(s3: S3Client, bucket: string, env: NodeJS.ProcessEnv, repoRoot: string): Promise<SeededModel> {
  const current = await readPointer(s3, bucket);
  if (current) return { version: current, source: null };
  const { files, source } = await resolveModelFiles({ env, repoRoot });
  const pointer = await publishModelVersion(new BucketObjects(s3, bucket), files, MODEL_POINTER_KEY, true);
  return { version: pointer.version, source };
}

async function readPointer(s3: S3Client, bucket: string): Promise<string | null> {
  try {
    const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: MODEL_POINTER_KEY }));
    const pointer = JSON.parse(await res.Body!.transformToString()) as { version?: unknown };
    return typeof pointer.version === 'string' ? pointer.version : null;
  } catch (err) {
    if (err instanceof NoSuchKey) return null;
    throw err;
  }
}
