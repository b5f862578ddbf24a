import { paginateListObjectsV2 } from '@aws-sdk/client-s3';
import type { ModelMetadata } from '../../model/types.js';
import { modelPrefix, PREFIX } from '../../shared/layout.js';
import { readModelPointer, type ModelPointer } from '../runtime/model-source.js';
import type { BucketObjects } from '../runtime/s3-objects.js';

export interface ModelVersionInfo {
  version: string;
  current: boolean;
  h5Sha256: string;
  scalerSha256: string;
  kerasVersion: string;
  symbols: number;
}

async function readMetadata(objects: BucketObjects, version: string): Promise<ModelMetadata | undefined> {
  const key = `${modelPrefix(version)}metadata.json`;
  if (!(await objects.exists(key))) return undefined;
  return JSON.parse(Buffer.from((await objects.getBytes(key)).body).toString('utf8')) as ModelMetadata;
}

/** Every version under `models/`, the one in service marked. */
export async function listModelVersions(objects: BucketObjects, pointerKey: string): Promise<ModelVersionInfo[]> {
  const current = (await readModelPointer(objects, pointerKey))?.version;
  const out: ModelVersionInfo[] = [];
  for await (const page of paginateListObjectsV2({ client: objects.s3 }, { Bucket: objects.bucket, Prefix: PREFIX.models, Delimiter: '/' })) {
    for (const p of page.CommonPrefixes ?? []) {
      const version = p.Prefix!.slice(PREFIX.models.length, -1);
      const m = await readMetadata(objects, version);
      if (!m) continue;
      out.push({
        version,
        current: version === current,
        h5Sha256: m.sources.h5.sha256,
        scalerSha256: m.sources.scaler.sha256,
        kerasVersion: m.keras.version,
        symbols: m.symbols.length,
      });
    }
  }
  return out;
}

/** Points the fleet at an already published version (a rollback or roll-forward); workers pick it up on their next message. */
export async function useModelVersion(objects: BucketObjects, pointerKey: string, version: string): Promise<ModelPointer> {
  if (!(await readMetadata(objects, version)))
    throw new Error(`model version ${version} is not published under s3://${objects.bucket}/${modelPrefix(version)}`);
  const pointer: ModelPointer = { version, prefix: modelPrefix(version) };
  await objects.putJson(pointerKey, pointer);
  return pointer;
}
