import type { S3Client } from '@aws-sdk/client-s3';
import type { ResolvedModelFiles } from '../../model/model-store.js';
import { MODEL_POINTER_KEY } from '../../shared/layout.js';
import { publishModelVersion } from '../ops/model-publish.js';
import { localPrincipal } from '../ops/principal.js';
import { initialStatus, recordNewVersion, RegistryError, useApprovedVersion } from '../ops/registry.js';
import { readModelPointer } from '../runtime/model-source.js';
import { BucketObjects } from '../runtime/s3-objects.js';

export interface SeededModel {
  version: string;
  /** Where it came from, or null when the bucket already had a model in service. */
  source: string | null;
}

/**
 * Puts a model version in service when the bucket has none; `modelFiles` is read only then. The team's own model is
 * recorded approved at import (with that reason) and its putting in service is logged, as `publish` + `use` would.
 */
export async function ensureModelInBucket(s3: S3Client, bucket: string, modelFiles: () => Promise<ResolvedModelFiles>): Promise<SeededModel> {
  const objects = new BucketObjects(s3, bucket);
  const current = await readModelPointer(objects, MODEL_POINTER_KEY);
  if (current) return { version: current.version, source: null };
  const { files, source } = await modelFiles();
  const pointer = await publishModelVersion(objects, files, MODEL_POINTER_KEY, false);
  const initial = initialStatus(JSON.parse(files.get('metadata.json')!.toString('utf8')));
  if (initial.status !== 'approved') throw new RegistryError(`npm start seeds only the team's own imported model; ${source} is a ${initial.status}`);
  const registry = { objects, pointerKey: MODEL_POINTER_KEY, principal: localPrincipal() };
  await recordNewVersion(registry, pointer.version, 'import', 'approved', `seeded by npm start: ${initial.reason}`);
  await useApprovedVersion(registry, pointer.version, 'npm start: the bucket had no version in service');
  return { version: pointer.version, source };
}
