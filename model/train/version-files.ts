import { createHash } from 'node:crypto';
import type { KerasModel } from '../keras-h5.js';
import {
  loadModelVersionFromFiles,
  MODEL_FORMAT,
  versionIdOf,
  MODEL_VERSION_FILES,
  type ModelVersionFiles,
  type PreparedModelVersion,
} from '../model-store.js';
import { scalersToJson } from '../scalers.js';
import type { LoadedModel, ModelMetadata, ScalerSet } from '../types.js';
import { KERAS_BACKEND, KERAS_VERSION } from './keras-topology.js';

/**
 * Writing the files of a model version (model/model-store.ts's format) from a Keras model and scalers held in
 * memory, as training and scaler extension produce them.
 */

const WEIGHTS_FILE = 'weights.bin';
const sha256 = (bytes: Uint8Array | string): string => createHash('sha256').update(bytes).digest('hex');

/** The version id, as the store computes it. */
export { versionIdOf };

export const fileSha256 = sha256;

/** model.json, weights.bin and scalers.json of a Keras model and its scalers, laid out as prepareModelVersion lays out an import. */
export function versionContentFiles(keras: KerasModel, scalers: ScalerSet, convertedBy: string): Map<string, Buffer> {
  const weights: { name: string; shape: number[]; dtype: 'float32' }[] = [];
  const chunks: Buffer[] = [];
  for (const [layer, layerWeights] of keras.layerWeights) {
    for (const w of layerWeights) {
      if (!w.name.startsWith(`${layer}/`)) throw new Error(`weight '${w.name}' of layer '${layer}' is not named '${layer}/...'`);
      weights.push({ name: w.name.replace(/:0$/, ''), shape: [...w.shape], dtype: 'float32' });
      chunks.push(Buffer.from(w.values.buffer, w.values.byteOffset, w.values.byteLength));
    }
  }
  const modelJson = {
    format: 'layers-model',
    generatedBy: `keras v${KERAS_VERSION}`,
    convertedBy,
    modelTopology: { ...keras.modelConfig, keras_version: KERAS_VERSION, backend: KERAS_BACKEND },
    weightsManifest: [{ paths: [WEIGHTS_FILE], weights }],
  };
  return new Map<string, Buffer>([
    ['model.json', Buffer.from(JSON.stringify(modelJson))],
    [WEIGHTS_FILE, Buffer.concat(chunks)],
    ['scalers.json', Buffer.from(scalersToJson(scalers))],
  ]);
}

/** Adds metadata.json (with the version id of the other three files) and returns the files in MODEL_VERSION_FILES order. */
export function finishVersion(content: ReadonlyMap<string, Buffer>, metadata: Omit<ModelMetadata, 'version' | 'format'>): PreparedModelVersion {
  const { version: _stale, format: _format, ...rest } = metadata as Partial<ModelMetadata>;
  const full = { version: versionIdOf(content), format: MODEL_FORMAT, ...rest } as ModelMetadata;
  const all = new Map(content);
  all.set('metadata.json', Buffer.from(JSON.stringify(full, null, 2) + '\n'));
  const files = new Map(MODEL_VERSION_FILES.map((name) => [name, all.get(name)!] as const));
  return { files, metadata: full };
}

/** Loads a version's files (checked against their version id) to read its network, scalers and metadata. */
export function readVersion(files: ModelVersionFiles, source = 'model version'): Promise<LoadedModel> {
  return loadModelVersionFromFiles(files, source);
}
