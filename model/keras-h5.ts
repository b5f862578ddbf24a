import { ModelError } from './errors.js';
import { readFile } from 'node:fs/promises';
import type * as tfl from '@tensorflow/tfjs-layers';
import { requireBundle, tf } from './tf-core.js';
import type { LazyLayersModel } from './types.js';

export interface H5Weight {
  /** Keras weight name, e.g. `dense_1/kernel:0`. */
  name: string;
  shape: number[];
  values: Float32Array;
}

export interface KerasH5 {
  /** The HDF5 root attribute `model_config`, parsed. */
  modelConfig: Record<string, unknown>;
  kerasVersion: string;
  kerasBackend: string;
  /** Per layer, the weights in the order of the layer group's `weight_names` attribute. */
  layerWeights: Map<string, H5Weight[]>;
}

/** A Keras model as stored: its architecture (`model_config`) and each layer's weights. */
export type KerasModel = Pick<KerasH5, 'modelConfig' | 'layerWeights'>;

export class ModelFileError extends ModelError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ModelFileError';
  }
}

/** HDF5 fixed-length strings are NUL-padded; h5py writes Keras's names and configs that way. */
function attrString(value: unknown): string {
  const v = Array.isArray(value) ? value[0] : value;
  return (typeof v === 'string' ? v : String(v ?? '')).replace(/\0+$/, '');
}

function attrStrings(value: unknown): string[] | undefined {
  return Array.isArray(value) ? value.map(attrString) : undefined;
}

type Jsfive = typeof import('jsfive');
let jsfive: Jsfive | undefined;

/**
 * jsfive, a pure-JS HDF5 reader: loads in ~15 ms and reads the team's 300 KB file in ~25 ms. h5wasm (HDF5's C
 * library as wasm) needed ~300 ms to load and compile, and ~4 s and 600 MiB under tsx, which rewrites its 4 MB
 * module on every load. Loaded with `require` (its CommonJS build) for the reason given in tf-core.ts.
 */
function loadJsfive(): Jsfive {
  return (jsfive ??= requireBundle<Jsfive>('jsfive'));
}

/** Reads a Keras 2.x HDF5 model file (architecture and weights) without Python. */
export async function readKerasH5(file: string): Promise<KerasH5> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new ModelFileError(`${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`, { cause: err });
  }
  return parseKerasH5(bytes, file);
}

/** Parses the bytes of a Keras 2.x HDF5 model file; `file` names it in errors. */
export function parseKerasH5(bytes: Uint8Array, file: string): KerasH5 {
  const h5 = loadJsfive();
  let f: InstanceType<Jsfive['File']>;
  try {
    // jsfive reads an ArrayBuffer of exactly the file's bytes.
    f = new h5.File(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer, file);
  } catch (err) {
    throw new ModelFileError(`${file}: not a readable HDF5 file`, { cause: err });
  }
  const get = (group: InstanceType<Jsfive['Group']>, name: string, what: string) => {
    try {
      return group.get(name);
    } catch (err) {
      throw new ModelFileError(`${file}: ${what} missing or unreadable`, { cause: err });
    }
  };
  const rawConfig = f.attrs['model_config'];
  if (rawConfig === undefined) throw new ModelFileError(`${file}: no 'model_config' root attribute (not a Keras model file)`);
  let modelConfig: Record<string, unknown>;
  try {
    modelConfig = JSON.parse(attrString(rawConfig)) as Record<string, unknown>;
  } catch (err) {
    throw new ModelFileError(`${file}: the 'model_config' attribute is not JSON`, { cause: err });
  }
  const group = get(f, 'model_weights', "'model_weights' group");
  if (!(group instanceof h5.Group)) throw new ModelFileError(`${file}: no 'model_weights' group`);
  const names = attrStrings(group.attrs['layer_names']) ?? group.keys;
  const layerWeights = new Map<string, H5Weight[]>();
  for (const layer of names) {
    const lg = get(group, layer, `layer group '${layer}'`);
    if (!(lg instanceof h5.Group)) throw new ModelFileError(`${file}: layer group '${layer}' missing`);
    const weightNames = attrStrings(lg.attrs['weight_names']) ?? [];
    layerWeights.set(
      layer,
      weightNames.map((name) => {
        const ds = get(lg, name, `weight '${layer}/${name}'`);
        if (!(ds instanceof h5.Dataset)) throw new ModelFileError(`${file}: weight '${layer}/${name}' missing`);
        const value = ds.value;
        if (!isNumberArray(value)) throw new ModelFileError(`${file}: weight '${layer}/${name}' is not numeric (dtype ${JSON.stringify(ds.dtype)})`);
        return { name, shape: [...(ds.shape ?? [])], values: Float32Array.from(value, Number) };
      }),
    );
  }
  return {
    modelConfig,
    kerasVersion: attrString(f.attrs['keras_version']),
    kerasBackend: attrString(f.attrs['backend']),
    layerWeights,
  };
}

function isNumberArray(value: unknown): value is ArrayLike<number | bigint> {
  if (!(Array.isArray(value) || ArrayBuffer.isView(value))) return false;
  const a = value as ArrayLike<unknown>;
  return a.length === 0 || typeof a[0] === 'number' || typeof a[0] === 'bigint';
}

/**
 * The stored weights replace every initial value, so initializers are set to zeros: the Orthogonal
 * initializer would otherwise run a QR decomposition per GRU kernel for nothing.
 */
function withZeroInitializers(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withZeroInitializers);
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node).map(([k, v]) => [k, k.endsWith('_initializer') && v !== null ? { class_name: 'Zeros', config: {} } : withZeroInitializers(v)]),
  );
}

/** Builds the TensorFlow.js graph of a Keras model config and sets every layer's weights. */
export async function layersModelFromH5(h5: KerasModel): Promise<tfl.LayersModel> {
  // Imported here, not at the top: only the layers engine and the import check need it, and loading it
  // costs ~90 ms of every `npm run predict`.
  const tfl = await import('@tensorflow/tfjs-layers');
  const model = await tfl.models.modelFromJSON(withZeroInitializers(h5.modelConfig) as never);
  try {
    for (const layer of model.layers) {
      const weights = h5.layerWeights.get(layer.name) ?? [];
      if (weights.length !== layer.weights.length) {
        throw new ModelFileError(`layer '${layer.name}': the file has ${weights.length} weights, the graph expects ${layer.weights.length}`);
      }
      const values = weights.map((w) => tf.tensor(w.values, w.shape, 'float32'));
      try {
        if (values.length > 0) layer.setWeights(values);
      } finally {
        tf.dispose(values); // the layer's variables hold their own reference
      }
    }
  } catch (err) {
    model.dispose();
    throw err;
  }
  return model;
}

/** The graph of `h5`, built on the first `get()` (on the active backend) and shared by later calls. */
export function lazyLayersModel(h5: KerasModel): LazyLayersModel {
  let built: Promise<tfl.LayersModel> | undefined;
  let disposed = false;
  return {
    get(): Promise<tfl.LayersModel> {
      if (disposed) return Promise.reject(new Error('layers model: get() after dispose()'));
      return (built ??= layersModelFromH5(h5));
    },
    dispose(): void {
      if (disposed) return;
      disposed = true;
      built?.then(
        (m) => m.dispose(),
        () => undefined,
      );
    },
  };
}
