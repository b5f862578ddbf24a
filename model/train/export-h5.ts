import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { H5Weight } from '../keras-h5.js';
import type { ModelVersionFiles } from '../model-store.js';
import type { ScalerSet } from '../types.js';
import { KERAS_BACKEND, KERAS_TRAINING_CONFIG, KERAS_VERSION } from './keras-topology.js';
import { readVersion } from './version-files.js';

/**
 * A model version back as a Keras 2.2.4 HDF5 file, laid out as Keras's `model.save` writes it (h5py), so that
 * the data scientists can `keras.models.load_model` a retrained model:
 * - root attributes `model_config` (JSON), `keras_version`, `backend`, `training_config` (JSON): scalar
 *   variable-length ASCII strings;
 * - group `model_weights` with the same `keras_version` and `backend` and `layer_names` (fixed-length ASCII
 *   strings, every layer of the config in order);
 * - per layer a group with `weight_names` (fixed-length ASCII, `<layer>/<weight>:0`; an empty float64 array for
 *   a layer without weights) and a float32 dataset per weight at `model_weights/<layer>/<layer>/<weight>:0`.
 * Differences from h5py's output: fixed-length strings are NUL-terminated (one byte longer than the longest name)
 * where h5py NUL-pads them to the longest name, as h5wasm sets no other padding; there is no `optimizer_weights`
 * group (Keras then compiles with fresh optimizer state). The file format is HDF5 1.8-compatible (superblock 0).
 */

export class ExportError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ExportError';
  }
}

export interface KerasH5ExportOptions {
  /** The `training_config` attribute; default model.h5's (Adam, MSE, MAPE); null leaves it out (Keras then loads the model uncompiled). */
  trainingConfig?: Record<string, unknown> | null;
}

type H5Module = typeof import('h5wasm/node').default;
type H5Group = InstanceType<H5Module['Group']>;

function isAscii(s: string): boolean {
  return /^[\x20-\x7e]*$/.test(s);
}

/** Fixed-length ASCII strings as an attribute: dtype A<longest + 1> (NUL-terminated). */
function stringListAttribute(group: H5Group, name: string, values: string[]): void {
  const bad = values.find((v) => !isAscii(v));
  if (bad !== undefined) throw new ExportError(`${name}: ${JSON.stringify(bad)} is not printable ASCII, which Keras's HDF5 names need`);
  const size = Math.max(1, ...values.map((v) => v.length)) + 1;
  group.create_attribute(name, values, [values.length], `A${size}`);
}

/** The names of every layer of a Keras model config, in order (Functional: beside the config; Sequential: inside it). */
function layerNames(modelConfig: Record<string, unknown>): string[] {
  const c = modelConfig.config as { layers?: unknown } | unknown[] | undefined;
  const layers = Array.isArray(c) ? c : Array.isArray(c?.layers) ? c.layers : undefined;
  if (!layers) throw new ExportError('the model config lists no layers');
  return layers.map((l, i) => {
    const layer = l as { name?: unknown; config?: { name?: unknown } };
    const name = layer.name ?? layer.config?.name;
    if (typeof name !== 'string' || name === '') throw new ExportError(`layer ${i} of the model config has no name`);
    return name;
  });
}

function writeLayer(h5: H5Module, weightsGroup: H5Group, layer: string, weights: readonly H5Weight[]): void {
  const group = weightsGroup.create_group(layer);
  const names = weights.map((w) => (w.name.endsWith(':0') ? w.name : `${w.name}:0`));
  if (names.length === 0) group.create_attribute('weight_names', new Float64Array(0), [0], '<d');
  else stringListAttribute(group, 'weight_names', names);
  weights.forEach((w, i) => {
    const parts = names[i]!.split('/');
    let at = group;
    for (const part of parts.slice(0, -1)) {
      const existing = at.get(part);
      at = existing instanceof h5.Group ? existing : at.create_group(part);
    }
    at.create_dataset({ name: parts.at(-1)!, data: w.values, shape: w.shape, dtype: '<f' });
  });
}

/** Writes the version's Keras model (config and weights) to `outFile` as a Keras 2.2.4 HDF5 file; replaces it atomically. */
export async function writeKerasH5(files: ModelVersionFiles, outFile: string, opts: KerasH5ExportOptions = {}): Promise<void> {
  const model = await readVersion(files, 'model version');
  model.layers.dispose();
  const { modelConfig, layerWeights } = model.keras;
  const names = layerNames(modelConfig);
  const unknown = [...layerWeights.keys()].filter((l) => !names.includes(l));
  if (unknown.length > 0) throw new ExportError(`weights of layer(s) ${unknown.join(', ')} are not in the model config`);
  const trainingConfig = opts.trainingConfig === undefined ? KERAS_TRAINING_CONFIG : opts.trainingConfig;

  // Imported here: only an export needs it, and loading it costs about a second under tsx.
  const { default: h5 } = await import('h5wasm/node');
  await h5.ready;
  const tmp = `${outFile}.tmp-${process.pid}-${Date.now()}`;
  let f: InstanceType<H5Module['File']> | undefined;
  try {
    f = new h5.File(tmp, 'w', { libver: ['earliest', 'v108'] });
    const text = (name: string, value: string, at: H5Group) => at.create_attribute(name, value, null, 'A');
    text('keras_version', KERAS_VERSION, f);
    text('backend', KERAS_BACKEND, f);
    text('model_config', JSON.stringify({ class_name: modelConfig.class_name, config: modelConfig.config }), f);
    if (trainingConfig !== null) text('training_config', JSON.stringify(trainingConfig), f);
    const weights = f.create_group('model_weights');
    stringListAttribute(weights, 'layer_names', names);
    text('backend', KERAS_BACKEND, weights);
    text('keras_version', KERAS_VERSION, weights);
    for (const layer of names) writeLayer(h5, weights, layer, layerWeights.get(layer) ?? []);
    f.close();
    f = undefined;
    await fs.rename(tmp, outFile);
  } catch (err) {
    f?.close();
    await fs.rm(tmp, { force: true });
    if (err instanceof ExportError) throw err;
    throw new ExportError(`${outFile}: cannot write the Keras HDF5 file: ${(err as Error).message}`, { cause: err });
  }
}

/** The version's Keras HDF5 file as bytes (written through a temporary file: h5wasm works on files). */
export async function exportKerasH5(files: ModelVersionFiles, opts: KerasH5ExportOptions = {}): Promise<Uint8Array> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'keras-export-'));
  try {
    const file = path.join(dir, 'model.h5');
    await writeKerasH5(files, file, opts);
    return new Uint8Array(await fs.readFile(file));
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/**
 * The scalers for Python, with scikit-learn's attribute names: `{model_hypers: {dat_cols, feat_cols, target_col,
 * batch_size, seq_len}, scalers: {symbol: {column: {mean_: [m], scale_: [s], var_: [v], n_samples_seen_: n}}}}`,
 * so that each StandardScaler can be rebuilt by setting those attributes (no pickle involved).
 */
export function scalersForPython(scalers: ScalerSet): string {
  const h = scalers.hypers;
  const out = {
    model_hypers: { dat_cols: h.datCols, feat_cols: h.featCols, target_col: h.targetCol, batch_size: h.batchSize, seq_len: h.seqLen },
    scalers: Object.fromEntries(
      [...scalers.symbols].map(([symbol, columns]) => [
        symbol,
        Object.fromEntries(
          Object.entries(columns).map(([c, s]) => [c, { mean_: [s.mean], scale_: [s.scale], var_: [s.var], n_samples_seen_: s.nSamplesSeen }]),
        ),
      ]),
    ),
  };
  return `${JSON.stringify(out, null, 1)}\n`;
}

/** `scalersForPython` of a version's files. */
export async function exportScalersJson(files: ModelVersionFiles): Promise<string> {
  const model = await readVersion(files, 'model version');
  model.layers.dispose();
  return scalersForPython(model.scalers);
}
