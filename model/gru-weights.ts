import type * as tfl from '@tensorflow/tfjs-layers';

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

export class UnsupportedModelError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UnsupportedModelError';
  }
}

type Config = Record<string, unknown>;

function expectConfig(layer: tfl.layers.Layer, key: string, expected: unknown, config: Config = layer.getConfig() as Config): void {
  if (config[key] !== expected) {
    throw new UnsupportedModelError(
      `layer '${layer.name}': ${key} is ${JSON.stringify(config[key])}, the fast path supports only ${JSON.stringify(expected)}`,
    );
  }
}

function values(layer: tfl.layers.Layer, weights: readonly { shape: number[]; dataSync(): unknown }[], index: number, shape: number[]): Float32Array {
  const w = weights[index];
  if (!w || w.shape.join() !== shape.join()) {
    throw new UnsupportedModelError(`layer '${layer.name}': weight ${index} has shape [${w?.shape ?? ''}], expected [${shape}]`);
  }
  return Float32Array.from(w.dataSync() as Float32Array);
}

function readGru(layer: tfl.layers.Layer, gru: Config, weights: ReturnType<tfl.layers.Layer['getWeights']>, offset: number, inputDim: number, units: number): GruDirectionWeights {
  return {
    kernel: values(layer, weights, offset, [inputDim, 3 * units]),
    recurrentKernel: values(layer, weights, offset + 1, [units, 3 * units]),
    bias: gru.useBias ? values(layer, weights, offset + 2, [3 * units]) : new Float32Array(3 * units),
  };
}

/** Reads and checks the weights of a model of the SPEC §4 architecture; anything else is an UnsupportedModelError. */
export function readBiGruWeights(model: tfl.LayersModel): BiGruWeights {
  const inputShape = model.inputs[0]?.shape;
  if (model.inputs.length !== 1 || inputShape?.length !== 3 || !inputShape[1] || !inputShape[2]) {
    throw new UnsupportedModelError(`the model needs one input of shape [null, seqLen, features]; got ${JSON.stringify(model.inputs.map((i) => i.shape))}`);
  }
  const seqLen = inputShape[1];
  const inputDim = inputShape[2];
  const layers = model.layers.filter((l) => l.getClassName() !== 'InputLayer');
  const [bi, bn, ...dense] = layers;
  if (!bi || bi.getClassName() !== 'Bidirectional' || !bn || bn.getClassName() !== 'BatchNormalization' || dense.length === 0 || dense.some((d) => d.getClassName() !== 'Dense')) {
    throw new UnsupportedModelError(
      `the fast path supports Bidirectional(GRU) -> BatchNormalization -> Dense...; the model has ${layers.map((l) => l.getClassName()).join(' -> ')}`,
    );
  }

  const biConfig = bi.getConfig() as Config;
  expectConfig(bi, 'mergeMode', 'concat', biConfig);
  const inner = biConfig.layer as { className: string; config: Config };
  if (inner.className !== 'GRU') throw new UnsupportedModelError(`layer '${bi.name}': wraps ${inner.className}, expected GRU`);
  const gru = inner.config;
  for (const [key, expected] of [['activation', 'tanh'], ['recurrentActivation', 'hardSigmoid'], ['resetAfter', false], ['returnSequences', false], ['goBackwards', false]] as const) {
    expectConfig(bi, key, expected, gru);
  }
  const units = gru.units as number;
  const biWeights = bi.getWeights();
  const perDirection = gru.useBias ? 3 : 2;
  if (biWeights.length !== 2 * perDirection) throw new UnsupportedModelError(`layer '${bi.name}': ${biWeights.length} weights, expected ${2 * perDirection}`);
  const forward = readGru(bi, gru, biWeights, 0, inputDim, units);
  const backward = readGru(bi, gru, biWeights, perDirection, inputDim, units);

  const bnConfig = bn.getConfig() as Config;
  if (bnConfig.axis !== -1 && bnConfig.axis !== 1) throw new UnsupportedModelError(`layer '${bn.name}': axis ${JSON.stringify(bnConfig.axis)}, expected -1`);
  const bnWeights = bn.getWeights();
  const width = 2 * units;
  let i = 0;
  const gamma = bnConfig.scale ? values(bn, bnWeights, i++, [width]) : new Float32Array(width).fill(1);
  const beta = bnConfig.center ? values(bn, bnWeights, i++, [width]) : new Float32Array(width);
  const batchNorm: BatchNormWeights = {
    epsilon: bnConfig.epsilon as number,
    gamma,
    beta,
    movingMean: values(bn, bnWeights, i++, [width]),
    movingVariance: values(bn, bnWeights, i++, [width]),
  };

  let inputs = width;
  const denseWeights = dense.map((layer): DenseWeights => {
    const config = layer.getConfig() as Config;
    const activation = config.activation as DenseActivation;
    if (!['tanh', 'relu', 'linear'].includes(activation)) {
      throw new UnsupportedModelError(`layer '${layer.name}': activation ${JSON.stringify(activation)} is not one of tanh, relu, linear`);
    }
    const units = config.units as number;
    const w = layer.getWeights();
    const d: DenseWeights = {
      inputs,
      units,
      activation,
      kernel: values(layer, w, 0, [inputs, units]),
      bias: config.useBias ? values(layer, w, 1, [units]) : new Float32Array(units),
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
