import { paginateListObjectsV2 } from '@aws-sdk/client-s3';
import { loadModelVersionFromFiles } from '../../model/model-store.js';
import type { LoadedModel } from '../../model/types.js';
import { modelPrefix } from '../../shared/layout.js';
import type { BucketObjects } from './s3-objects.js';

/** The files directly under `models/<version>/` (none: an empty map). */
export async function readVersionFiles(objects: BucketObjects, version: string, signal?: AbortSignal): Promise<Map<string, Buffer>> {
  const prefix = modelPrefix(version);
  const files = new Map<string, Buffer>();
  for await (const page of paginateListObjectsV2({ client: objects.s3 }, { Bucket: objects.bucket, Prefix: prefix }, { abortSignal: signal })) {
    for (const o of page.Contents ?? []) {
      const name = o.Key!.slice(prefix.length);
      if (name && !name.includes('/')) files.set(name, Buffer.from((await objects.getBytes(o.Key!, signal)).body));
    }
  }
  return files;
}

/** A published version, loaded and checked against its id; throws naming the version when it is not there. */
export async function loadBucketVersion(objects: BucketObjects, version: string, signal?: AbortSignal): Promise<LoadedModel> {
  const files = await readVersionFiles(objects, version, signal);
  if (files.size === 0) throw new Error(`model version ${version}: nothing under s3://${objects.bucket}/${modelPrefix(version)}`);
  const model = await loadModelVersionFromFiles(files, `s3://${objects.bucket}/${modelPrefix(version)}`);
  if (model.metadata.version !== version) throw new Error(`the files under ${modelPrefix(version)} are version ${model.metadata.version}`);
  return model;
}
