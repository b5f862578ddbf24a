import { ModelError } from './errors.js';
import { kerasInputShapes, kerasLayerChain, type KerasConfig, type KerasLayerConfig } from './keras-config.js';
import type { H5Weight, KerasModel } from './keras-h5.js';

/** One GRU direction in Keras layout: gate blocks z, r, h side by side along the last axis. */
export interface GruDirectionWeights {
  /** [inputDim, 3 * units] */
  kernel: Float32Array;
  /** [units, 3 * units] */
  recurrentKernel: Float32Array;
  /** [3 * units] */
  bias: Float32Array;
}

export type DenseActivation = 'tanh' | 'relu' | 'linear';

export interface DenseWeights {
  inputs: number;
  units: number;
  activation: DenseActivation;
  /** [inputs, units] */
  kernel: Float32Array;
  /** [units] */
  bias: Float32Array;
}

export interface BatchNormWeights {
  epsilon: number;
  gamma: Float32Array;
  beta: Float32Array;
  movingMean: Float32Array;
  movingVariance: Float32Array;
}

/**
 * The weights of `Input -> Bidirectional(GRU, concat) -> BatchNormalization -> Dense...` (SPEC §4), as plain
 * arrays, so that other implementations of the same network (the fast engine, the NumPy bench) can use them.
 */
export interface BiGruWeights {
  seqLen: number;
  inputDim: number;
  units: number;
  forward: GruDirectionWeights;
  backward: GruDirectionWeights;
  batchNorm: BatchNormWeights;
  dense: DenseWeights[];
}

/** The same network with the BatchNormalization folded into the first Dense layer. */
export type FoldedBiGruWeights = Omit<BiGruWeights, 'batchNorm'>;

export class UnsupportedModelError extends ModelError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UnsupportedModelError';
  }
}

/** A layer setting, or the default TensorFlow.js's Keras layers assume when the config leaves it out. */
function setting(layer: KerasLayerConfig, key: string, fallback: unknown, config: KerasConfig = layer.config): unknown {
  return config[key] === undefined ? fallback : config[key];
}

function expectSetting(layer: KerasLayerConfig, key: string, expected: unknown, fallback: unknown, config: KerasConfig = layer.config): void {
  const value = setting(layer, key, fallback, config);
  if (value !== expected) {
    throw new UnsupportedModelError(`layer '${layer.name}': ${key} is ${JSON.stringify(value)}, the fast path supports only ${JSON.stringify(expected)}`);
  }
}

function values(layer: KerasLayerConfig, weights: readonly H5Weight[], index: number, shape: number[]): Float32Array {
  const w = weights[index];
  if (!w || w.shape.join() !== shape.join()) {
    throw new UnsupportedModelError(`layer '${layer.name}': weight ${index} has shape [${w?.shape ?? ''}], expected [${shape}]`);
  }
  return w.values;
}

function readGru(
  layer: KerasLayerConfig,
  useBias: boolean,
  weights: readonly H5Weight[],
  offset: number,
  inputDim: number,
  units: number,
): GruDirectionWeights {
  return {
    kernel: values(layer, weights, offset, [inputDim, 3 * units]),
    recurrentKernel: values(layer, weights, offset + 1, [units, 3 * units]),
    bias: useBias ? values(layer, weights, offset + 2, [3 * units]) : new Float32Array(3 * units),
  };
}

const isDim = (d: unknown): d is number => Number.isSafeInteger(d) && (d as number) > 0;

/**
 * Reads and checks the weights of a model of the SPEC §4 architecture from its Keras config and stored
 * weights (no TensorFlow.js graph needed); anything else is an UnsupportedModelError. The arrays returned
 * are the model's own: read them, do not write them.
 */
export function readBiGruWeights(model: KerasModel): BiGruWeights {
  const inputShapes = kerasInputShapes(model.modelConfig);
  const inputShape = inputShapes[0];
  if (inputShapes.length !== 1 || !Array.isArray(inputShape) || inputShape.length !== 3 || !isDim(inputShape[1]) || !isDim(inputShape[2])) {
    throw new UnsupportedModelError(`the model needs one input of shape [null, seqLen, features]; got ${JSON.stringify(inputShapes)}`);
  }
  const seqLen = inputShape[1];
  const inputDim = inputShape[2];
  const layers = kerasLayerChain(model.modelConfig);
  if (!layers) throw new UnsupportedModelError("the fast path supports a single chain of layers; the model's graph branches or merges");
  const [bi, bn, ...dense] = layers;
  if (
    !bi ||
    bi.className !== 'Bidirectional' ||
    !bn ||
    bn.className !== 'BatchNormalization' ||
    dense.length === 0 ||
    dense.some((d) => d.className !== 'Dense')
  ) {
    throw new UnsupportedModelError(
      `the fast path supports Bidirectional(GRU) -> BatchNormalization -> Dense...; the model has ${layers.map((l) => l.className).join(' -> ')}`,
    );
  }
  const weightsOf = (layer: KerasLayerConfig, count: number): readonly H5Weight[] => {
    const w = model.layerWeights.get(layer.name) ?? [];
    if (w.length !== count) throw new UnsupportedModelError(`layer '${layer.name}': ${w.length} weights, expected ${count}`);
    return w;
  };

  expectSetting(bi, 'merge_mode', 'concat', 'concat');
  const inner = bi.config.layer as { class_name?: string; config?: KerasConfig } | undefined;
  if (inner?.class_name !== 'GRU') throw new UnsupportedModelError(`layer '${bi.name}': wraps ${inner?.class_name}, expected GRU`);
  const gru = inner.config ?? {};
  // Each supported value is also the default when the config leaves the key out.
  for (const [key, expected] of [
    ['activation', 'tanh'],
    ['recurrent_activation', 'hard_sigmoid'],
    ['reset_after', false],
    ['return_sequences', false],
    ['return_state', false],
    ['go_backwards', false],
  ] as const) {
    expectSetting(bi, key, expected, expected, gru);
  }
  const units = setting(bi, 'units', undefined, gru);
  if (!isDim(units)) throw new UnsupportedModelError(`layer '${bi.name}': units is ${JSON.stringify(units)}, expected a positive integer`);
  const useBias = setting(bi, 'use_bias', true, gru) === true;
  const perDirection = useBias ? 3 : 2;
  const biWeights = weightsOf(bi, 2 * perDirection);
  const forward = readGru(bi, useBias, biWeights, 0, inputDim, units);
  const backward = readGru(bi, useBias, biWeights, perDirection, inputDim, units);

  const axis = setting(bn, 'axis', -1);
  if (axis !== -1 && axis !== 1) throw new UnsupportedModelError(`layer '${bn.name}': axis ${JSON.stringify(axis)}, expected -1`);
  const scale = setting(bn, 'scale', true) === true;
  const center = setting(bn, 'center', true) === true;
  const bnWeights = weightsOf(bn, 2 + Number(scale) + Number(center));
  const width = 2 * units;
  let i = 0;
  const gamma = scale ? values(bn, bnWeights, i++, [width]) : new Float32Array(width).fill(1);
  const beta = center ? values(bn, bnWeights, i++, [width]) : new Float32Array(width);
  const batchNorm: BatchNormWeights = {
    epsilon: setting(bn, 'epsilon', 1e-3) as number,
    gamma,
    beta,
    movingMean: values(bn, bnWeights, i++, [width]),
    movingVariance: values(bn, bnWeights, i, [width]),
  };

  let inputs = width;
  const denseWeights = dense.map((layer): DenseWeights => {
    const activation = setting(layer, 'activation', 'linear') as DenseActivation;
    if (!['tanh', 'relu', 'linear'].includes(activation)) {
      throw new UnsupportedModelError(`layer '${layer.name}': activation ${JSON.stringify(activation)} is not one of tanh, relu, linear`);
    }
    const units = setting(layer, 'units', undefined);
    if (!isDim(units)) throw new UnsupportedModelError(`layer '${layer.name}': units is ${JSON.stringify(units)}, expected a positive integer`);
    const useBias = setting(layer, 'use_bias', true) === true;
    const w = weightsOf(layer, useBias ? 2 : 1);
    const d: DenseWeights = {
      inputs,
      units,
      activation,
      kernel: values(layer, w, 0, [inputs, units]),
      bias: useBias ? values(layer, w, 1, [units]) : new Float32Array(units),
    };
    inputs = units;
    return d;
  });
  if (inputs !== 1) throw new UnsupportedModelError(`the last Dense layer has ${inputs} units; the model must output one value per window`);

  return { seqLen, inputDim, units, forward, backward, batchNorm, dense: denseWeights };
}

/**
 * Folds the inference-time BatchNormalization `gamma * (x - mean) / sqrt(var + eps) + beta` into the Dense
 * layer that follows it (computed in float64, rounded once).
 */
export function foldBatchNorm(w: BiGruWeights): FoldedBiGruWeights {
  const { gamma, beta, movingMean, movingVariance, epsilon } = w.batchNorm;
  const [first, ...rest] = w.dense;
  if (!first) throw new UnsupportedModelError('no Dense layer after BatchNormalization');
  const kernel = new Float32Array(first.kernel.length);
  const bias = new Float64Array(first.bias);
  for (let i = 0; i < first.inputs; i++) {
    const s = gamma[i]! / Math.sqrt(movingVariance[i]! + epsilon);
    const shift = beta[i]! - movingMean[i]! * s;
    for (let j = 0; j < first.units; j++) {
      const k = first.kernel[i * first.units + j]!;
      kernel[i * first.units + j] = k * s;
      bias[j] = bias[j]! + shift * k;
    }
  }
  return {
    seqLen: w.seqLen,
    inputDim: w.inputDim,
    units: w.units,
    forward: w.forward,
    backward: w.backward,
    dense: [{ ...first, kernel, bias: Float32Array.from(bias) }, ...rest],
  };
}
