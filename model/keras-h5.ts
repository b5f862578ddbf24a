import { ModelError } from './errors.js';
import type * as tfl from '@tensorflow/tfjs-layers';
import { tf } from './tf-core.js';
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

function attrString(value: unknown): string {
  return typeof value === 'string' ? value : Array.isArray(value) ? String(value[0]) : String(value ?? '');
}

/** Reads a Keras 2.x HDF5 model file (architecture and weights) without Python. */
export async function readKerasH5(file: string): Promise<KerasH5> {
  // Imported here, not at the top: only an import needs it, and loading it costs ~1 s under tsx.
  const { default: h5wasm } = await import('h5wasm/node');
  await h5wasm.ready;
  let f: InstanceType<typeof h5wasm.File>;
  try {
    f = new h5wasm.File(file, 'r');
  } catch (err) {
    throw new ModelFileError(`${file}: not a readable HDF5 file`, { cause: err });
  }
  try {
    const rawConfig = f.attrs['model_config']?.value;
    if (rawConfig === undefined) throw new ModelFileError(`${file}: no 'model_config' root attribute (not a Keras model file)`);
    const modelConfig = JSON.parse(attrString(rawConfig)) as Record<string, unknown>;
    const group = f.get('model_weights');
    if (!(group instanceof h5wasm.Group)) throw new ModelFileError(`${file}: no 'model_weights' group`);
    const layerNames = group.attrs['layer_names']?.value;
    const names = (Array.isArray(layerNames) ? layerNames : group.keys()).map(String);
    const layerWeights = new Map<string, H5Weight[]>();
    for (const layer of names) {
      const lg = group.get(layer);
      if (!(lg instanceof h5wasm.Group)) throw new ModelFileError(`${file}: layer group '${layer}' missing`);
      const wn = lg.attrs['weight_names']?.value;
      const weightNames = Array.isArray(wn) ? wn.map(String) : [];
      layerWeights.set(
        layer,
        weightNames.map((name) => {
          const ds = lg.get(name);
          if (!(ds instanceof h5wasm.Dataset)) throw new ModelFileError(`${file}: weight '${layer}/${name}' missing`);
          return { name, shape: [...(ds.shape ?? [])], values: Float32Array.from(ds.value as ArrayLike<number>) };
        }),
      );
    }
    return {
      modelConfig,
      kerasVersion: attrString(f.attrs['keras_version']?.value),
      kerasBackend: attrString(f.attrs['backend']?.value),
      layerWeights,
    };
  } finally {
    f.close();
  }
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
      built?.then((m) => m.dispose(), () => undefined);
    },
  };
}
