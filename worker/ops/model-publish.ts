import { loadModelVersionFromFiles, type ModelVersionFiles } from '../../model/model-store.js';
import { modelPrefix } from '../../shared/layout.js';
import type { ModelPointer } from '../runtime/model-source.js';
import { ObjectExistsError, type BucketObjects } from '../runtime/s3-objects.js';

/**
 * Uploads a model version under `models/<version>/` (content-addressed and create-only, so re-uploading is harmless),
 * `metadata.json` last, then points `pointerKey` at it when `makeCurrent`.
 */
export async function publishModelVersion(objects: BucketObjects, files: ModelVersionFiles, pointerKey: string, makeCurrent: boolean): Promise<ModelPointer> {
  // Refuses anything a worker would refuse: missing files (check.json included), files that do not match the id.
  const { metadata } = await loadModelVersionFromFiles(files, 'the version to publish');
  const pointer: ModelPointer = { version: metadata.version, prefix: modelPrefix(metadata.version) };
  const ordered = [...files.keys()].sort((a, b) => Number(a === 'metadata.json') - Number(b === 'metadata.json'));
  for (const name of ordered) {
    // Create-only (If-None-Match), as the bucket policy requires under models/<version>/: the same bytes again count as written.
    try {
      await objects.create(`${pointer.prefix}${name}`, files.get(name)!, name.endsWith('.json') ? 'application/json' : 'application/octet-stream');
    } catch (err) {
      // The id covers the network and the scalers, not metadata.json (times, provenance): the version is already
      // published, and its first metadata stands.
      if (!(err instanceof ObjectExistsError) || name !== 'metadata.json') throw err;
    }
  }
  if (makeCurrent) await objects.putJson(pointerKey, pointer);
  return pointer;
}
