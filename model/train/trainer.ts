import type { Scalar, Tensor, Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import type { KerasModel } from '../keras-h5.js';
import { requireBundle, tf } from '../tf-core.js';
import { KERAS_ADAM, kerasAdam, type AdamConfig } from './adam.js';
import type { NetworkShape } from './keras-topology.js';
import {
  disposeNetwork,
  inferenceForward,
  networkFromKeras,
  networkToKeras,
  trainableVariables,
  trainingForward,
  updateMovingStatistics,
  type BatchMasks,
  type BiGruNetwork,
  type DirectionMasks,
} from './network.js';
import { randomStream, type RandomStream } from './prng.js';

/** Keras's K.epsilon(), the floor of |y_true| in the MAPE metric. */
const KERAS_EPSILON = 1e-7;

export interface BatchResult {
  /** Mean squared error of the batch, in training mode, before the update (what Keras's progress bar reports). */
  loss: number;
  /** Mean absolute percentage error, same conditions. */
  mape: number;
}

/** The network, its optimizer and its dropout stream: one training run. */
export interface Trainer {
  readonly shape: NetworkShape;
  /** One optimisation step on a time-major batch x [seqLen * n, inputDim] (float32) with targets y [n]. */
  trainBatch(x: Float32Array, y: Float32Array, n: number): BatchResult;
  /** The network in inference mode on n time-major windows. */
  predict(x: Float32Array, n: number): Float32Array;
  /** The current weights as a Keras model. */
  toKeras(): KerasModel;
  readonly steps: number;
  dispose(): void;
}

export interface TrainerOptions {
  shape: NetworkShape;
  /** Seeds the dropout masks. */
  seed: number;
  adam?: AdamConfig;
}

/** K.dropout(ones, rate): each unit kept with probability 1 - rate and scaled by 1 / (1 - rate), else 0. */
function dropoutMask(rng: RandomStream, count: number, rate: number): Float32Array {
  const keep = Math.fround(1 - rate);
  const scale = Math.fround(1 / keep);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = rng.uniform() >= rate ? scale : 0;
  return out;
}

/** One direction's masks for a batch of n: input masks repeated for every step (the same mask at every timestep, as Keras). */
function directionMasks(rng: RandomStream, shape: NetworkShape, n: number): DirectionMasks {
  const { seqLen, inputDim, units, dropout, recurrentDropout } = shape;
  const input = () => {
    const m = dropoutMask(rng, n * inputDim, dropout);
    const tiled = new Float32Array(seqLen * n * inputDim);
    for (let t = 0; t < seqLen; t++) tiled.set(m, t * n * inputDim);
    return tf.tensor2d(tiled, [seqLen * n, inputDim]);
  };
  const recurrent = () => tf.tensor2d(dropoutMask(rng, n * units, recurrentDropout), [n, units]);
  return { input: [input(), input(), input()], recurrent: [recurrent(), recurrent(), recurrent()] };
}

function meanSquaredError(output: Tensor2D, y: Tensor2D): Tensor {
  return tf.mean(tf.square(tf.sub(output, y)));
}

function meanAbsolutePercentageError(output: Tensor2D, y: Tensor2D): Tensor {
  return tf.mul(tf.mean(tf.abs(tf.div(tf.sub(y, output), tf.clipByValue(tf.abs(y), KERAS_EPSILON, Infinity)))), 100);
}

/**
 * tfjs-core's CommonJS bundle registers no gradient functions; tfjs-layers' bundle registers all of core's
 * when it loads (as the @tensorflow/tfjs union package does), so it is loaded before any gradient is taken.
 */
function registerGradients(): void {
  requireBundle('@tensorflow/tfjs-layers');
}

export function createTrainer(initial: KerasModel, opts: TrainerOptions): Trainer {
  registerGradients();
  const { shape } = opts;
  const net: BiGruNetwork = networkFromKeras(initial, shape);
  const variables = trainableVariables(net);
  const adam = kerasAdam(variables, opts.adam ?? KERAS_ADAM);
  const dropout = randomStream(opts.seed, 'dropout');
  const useDropout = shape.dropout > 0 || shape.recurrentDropout > 0;
  let disposed = false;
  const check = (x: Float32Array, n: number, what: string) => {
    if (disposed) throw new Error(`trainer: ${what} after dispose()`);
    if (!Number.isSafeInteger(n) || n < 1 || x.length !== shape.seqLen * n * shape.inputDim) {
      throw new RangeError(`trainer.${what}: ${n} windows need ${shape.seqLen * n * shape.inputDim} values, got ${x.length}`);
    }
  };
  return {
    shape,
    trainBatch(x: Float32Array, y: Float32Array, n: number): BatchResult {
      check(x, n, 'trainBatch');
      if (y.length !== n) throw new RangeError(`trainer.trainBatch: ${n} windows need ${n} targets, got ${y.length}`);
      // Drawn in a fixed order (forward then backward direction), so a seed always gives the same masks.
      const masks: BatchMasks | undefined = useDropout
        ? { forward: directionMasks(dropout, shape, n), backward: directionMasks(dropout, shape, n) }
        : undefined;
      let stats: { mean: Tensor1D; variance: Tensor1D; mape: Tensor } | undefined;
      try {
        const loss = tf.tidy(() => {
          const xt = tf.tensor2d(x, [shape.seqLen * n, shape.inputDim]);
          const yt = tf.tensor2d(y, [n, 1]);
          const { value, grads } = tf.variableGrads(() => {
            const out = trainingForward(net, xt, n, masks);
            stats = { mean: tf.keep(out.batchMean), variance: tf.keep(out.batchVariance), mape: tf.keep(meanAbsolutePercentageError(out.output, yt)) };
            return meanSquaredError(out.output, yt) as Scalar;
          }, variables);
          adam.apply(grads);
          return value;
        });
        updateMovingStatistics(net, stats!.mean, stats!.variance, n);
        const result = { loss: loss.dataSync()[0]!, mape: stats!.mape.dataSync()[0]! };
        loss.dispose();
        return result;
      } finally {
        if (stats) tf.dispose([stats.mean, stats.variance, stats.mape]);
        if (masks) tf.dispose([...masks.forward.input, ...masks.forward.recurrent, ...masks.backward.input, ...masks.backward.recurrent]);
      }
    },
    predict(x: Float32Array, n: number): Float32Array {
      check(x, n, 'predict');
      const y = tf.tidy(() => inferenceForward(net, tf.tensor2d(x, [shape.seqLen * n, shape.inputDim]), n));
      const out = y.dataSync() as Float32Array;
      y.dispose();
      return out;
    },
    toKeras: () => networkToKeras(net),
    get steps() {
      return adam.iterations;
    },
    dispose(): void {
      if (disposed) return;
      disposed = true;
      adam.dispose();
      disposeNetwork(net);
    },
  };
}
