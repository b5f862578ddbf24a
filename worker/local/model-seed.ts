import type { S3Client } from '@aws-sdk/client-s3';
import type { ResolvedModelFiles } from '../../model/model-store.js';
import { MODEL_POINTER_KEY } from '../../shared/layout.js';
import { publishModelVersion } from '../ops/model-publish.js';
import { readModelPointer } from '../runtime/model-source.js';
import { BucketObjects } from '../runtime/s3-objects.js';

export interface SeededModel {
  version: string;
  /** Where it came from, or null when the bucket already had a model in service. */
  source: string | null;
}

/** Puts a model version in service when the bucket has none; `modelFiles` is read only then. */
export async function ensureModelInBucket(s3: S3Client, bucket: string, modelFiles: () => Promise<ResolvedModelFiles>): Promise<SeededModel> {
  const objects = new BucketObjects(s3, bucket);
  const current = await readModelPointer(objects, MODEL_POINTER_KEY);
  if (current) return { version: current.version, source: null };
  const { files, source } = await modelFiles();
  const pointer = await publishModelVersion(objects, files, MODEL_POINTER_KEY, true);
  return { version: pointer.version, source };
}
