import path from 'node:path';
import { ModelStoreError, loadModelVersionFromFiles, prepareModelVersion, writeModelVersion } from './model-store.js';
import type { ModelMetadata } from './types.js';

export interface ImportModelOptions {
  /** The team's Keras model file (model.h5). */
  h5: string;
  /** The team's scaler pickle (scaler.pkl). */
  scaler: string;
  /** Folder of model versions; the version is written to `<out>/<version>/`. */
  out: string;
}

export interface ImportedModel {
  dir: string;
  metadata: ModelMetadata;
}

/**
 * Converts model.h5 + scaler.pkl into a model version folder. The version id comes from the content,
 * so importing the same files again gives the same folder, byte for byte.
 */
export async function importModel(opts: ImportModelOptions): Promise<ImportedModel> {
  for (const key of ['h5', 'scaler', 'out'] as const) {
    if (typeof opts[key] !== 'string' || opts[key].trim() === '') throw new ModelStoreError(`importModel: option '${key}' must be a non-empty path`);
  }
  const { files, metadata } = await prepareModelVersion(path.resolve(opts.h5), path.resolve(opts.scaler));
  // Build the graph once before writing, so no unloadable version is ever stored.
  const check = await loadModelVersionFromFiles(files, `${opts.h5} + ${opts.scaler}`);
  try {
    await check.layers.get();
  } catch (err) {
    throw new ModelStoreError(`${opts.h5}: the model cannot be built: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  } finally {
    check.layers.dispose();
  }
  const dir = path.resolve(opts.out, metadata.version);
  await writeModelVersion(dir, files);
  return { dir, metadata };
}
