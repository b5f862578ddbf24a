import fs from 'node:fs/promises';
import { exportScalersJson, writeKerasH5 } from '../../model/train/export-h5.js';
import { modelPrefix } from '../../shared/layout.js';
import { readVersionFiles } from '../runtime/model-files.js';
import type { BucketObjects } from '../runtime/s3-objects.js';

/** Where the scalers go beside `<file>.h5`: `<file>.scalers.json`. */
export function scalersFileFor(h5File: string): string {
  return `${h5File.replace(/\.h5$/i, '')}.scalers.json`;
}

/**
 * A published version as a Keras 2.2.4 HDF5 file (config, weights and model.h5's training config) and its scalers as
 * JSON (scikit-learn StandardScaler fields per symbol, and model_hypers), for the data scientists' Python.
 */
export async function exportModelVersion(
  objects: BucketObjects,
  version: string,
  h5File: string,
  scalersFile = scalersFileFor(h5File),
): Promise<{ h5: string; scalers: string }> {
  const files = await readVersionFiles(objects, version);
  if (files.size === 0) throw new Error(`model version ${version} is not published under s3://${objects.bucket}/${modelPrefix(version)}`);
  await writeKerasH5(files, h5File);
  await fs.writeFile(scalersFile, await exportScalersJson(files));
  return { h5: h5File, scalers: scalersFile };
}
