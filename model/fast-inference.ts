import type { Tensor, Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import { foldBatchNorm, readBiGruWeights, type DenseWeights, type FoldedBiGruWeights, type GruDirectionWeights } from './gru-weights.js';
import type { KerasModel } from './keras-h5.js';
import { tf } from './tf-core.js';
import type { InferenceEngine } from './types.js';
import {
  checkWindowBatch,
  checkWindowSource,
  chunkWindowsOption,
  fillTimeMajor,
  InferenceInputError,
  predictInChunks,
  type WindowBatch,
  type WindowShape,
} from './window-batch.js';

export interface FastEngineOptions {
  /**
   * Windows per chunk (default 2048, the fastest on wasm here: one chunk's [n, 50] tensors stay in the
   * CPU caches). Memory is bounded by the chunk, not by the batch.
   */
  chunkWindows?: number;
}

export interface FastEngine extends InferenceEngine {
  readonly name: 'fast';
  predictBatch(batch: WindowBatch): Promise<Float32Array>;
  /**
   * Windows [start, start + count) of a WindowBatch (numbered as in predictBatch), checked by the caller: what one
   * inference thread computes of a batch whose features it shares.
   */
  predictBatchRange(batch: WindowBatch, start: number, count: number): Promise<Float32Array>;
  /** Frees the engine's weight tensors. */
  dispose(): void;
}

/*
 * Numerics, chosen for the wasm backend (XNNPACK): its tanh is a scalar loop about 20x slower than its
 * sigmoid, so tanh(a) is computed as 2 * sigmoid(2a) - 1 with the 2 folded into the weights; Keras's
 * hard_sigmoid clip(0.2a + 0.5, 0, 1) becomes clip(a', 0, 1) with 0.2 and 0.5 folded into the weights.
 */
const HARD_SIGMOID_SLOPE = 0.2;
const HARD_SIGMOID_SHIFT = 0.5;
const DEFAULT_CHUNK_WINDOWS = 2048;

interface Gate {
  /** [inputDim, units], applied to the step's input row, with `bias` fused. */
  kernel: Tensor2D;
  /** [units, units], applied to the state (or, for the candidate gate, to reset * state). */
  recurrent: Tensor2D;
  bias: Tensor1D;
}

interface Direction {
  z: Gate;
  r: Gate;
  h: Gate;
}

interface Dense {
  kernel: Tensor2D;
  bias: Tensor1D;
  activation: DenseWeights['activation'];
}

interface Network {
  seqLen: number;
  inputDim: number;
  forward: Direction;
  backward: Direction;
  /** The first Dense layer's kernel rows for the forward and the backward state (the BiGRU's concat, split). */
  head: { forwardKernel: Tensor2D; backwardKernel: Tensor2D; bias: Tensor1D; activation: DenseWeights['activation'] };
  dense: Dense[];
  /** Every weight tensor above, for dispose(). */
  tensors: Tensor[];
}

/** Columns [col0, col0 + width) of a row-major [rows, cols] matrix, times `scale`. */
function block(values: Float32Array, rows: number, cols: number, col0: number, width: number, scale: number, shift = 0): Float32Array {
  const out = new Float32Array(rows * width);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < width; j++) out[i * width + j] = values[i * cols + col0 + j]! * scale + shift;
  }
  return out;
}

function scaled(values: Float32Array, scale: number): Float32Array {
  return values.map((v) => v * scale);
}

function buildDirection(w: GruDirectionWeights, inputDim: number, units: number): Direction {
  const gate = (index: number, scale: number, shift: number): Gate => ({
    kernel: tf.tensor2d(block(w.kernel, inputDim, 3 * units, index * units, units, scale), [inputDim, units]),
    recurrent: tf.tensor2d(block(w.recurrentKernel, units, 3 * units, index * units, units, scale), [units, units]),
    bias: tf.tensor1d(block(w.bias, 1, 3 * units, index * units, units, scale, shift)),
  });
  return {
    z: gate(0, HARD_SIGMOID_SLOPE, HARD_SIGMOID_SHIFT),
    r: gate(1, HARD_SIGMOID_SLOPE, HARD_SIGMOID_SHIFT),
    h: gate(2, 2, 0),
  };
}

function activationScale(activation: DenseWeights['activation']): number {
  return activation === 'tanh' ? 2 : 1;
}

function buildNetwork(w: FoldedBiGruWeights): Network {
  const [first, ...rest] = w.dense;
  const u = w.units;
  const s = activationScale(first!.activation);
  const forward = buildDirection(w.forward, w.inputDim, u);
  const backward = buildDirection(w.backward, w.inputDim, u);
  const net: Omit<Network, 'tensors'> = {
    seqLen: w.seqLen,
    inputDim: w.inputDim,
    forward,
    backward,
    head: {
      forwardKernel: tf.tensor2d(scaled(first!.kernel.subarray(0, u * first!.units), s), [u, first!.units]),
      backwardKernel: tf.tensor2d(scaled(first!.kernel.subarray(u * first!.units), s), [u, first!.units]),
      bias: tf.tensor1d(scaled(first!.bias, s)),
      activation: first!.activation,
    },
    dense: rest.map((d) => ({
      kernel: tf.tensor2d(scaled(d.kernel, activationScale(d.activation)), [d.inputs, d.units]),
      bias: tf.tensor1d(scaled(d.bias, activationScale(d.activation))),
      activation: d.activation,
    })),
  };
  const tensors = [
    ...[forward, backward].flatMap((d) => [d.z, d.r, d.h].flatMap((g) => [g.kernel, g.recurrent, g.bias])),
    net.head.forwardKernel,
    net.head.backwardKernel,
    net.head.bias,
    ...net.dense.flatMap((d) => [d.kernel, d.bias]),
  ];
  return { ...net, tensors };
}

/** a @ b + bias, with the activation fused where the backend can. */
function project(a: Tensor2D, b: Tensor2D, bias?: Tensor1D, activation: 'relu' | 'linear' = 'linear'): Tensor2D {
  return tf.fused.matMul({ a, b, bias, activation }) as Tensor2D;
}

/** tanh(a) from a pre-activation already multiplied by 2. */
function tanhOfDoubled(a2: Tensor2D): Tensor2D {
  return tf.sub<Tensor2D>(tf.mul(tf.sigmoid(a2), 2), 1);
}

function activate(a: Tensor2D, activation: DenseWeights['activation']): Tensor2D {
  if (activation === 'tanh') return tanhOfDoubled(a);
  if (activation === 'relu') return tf.relu(a);
  return a;
}

/** One GRU step (Keras, reset_after=False): z, r = hard_sigmoid(...); h' = z * h + (1 - z) * tanh(x Wh + (r * h) Uh + bh). */
function gruStep(d: Direction, x: Tensor2D, h: Tensor2D | undefined): Tensor2D {
  const xz = project(x, d.z.kernel, d.z.bias);
  const xh = project(x, d.h.kernel, d.h.bias);
  if (!h) {
    // Zero initial state: the recurrent terms vanish and h' = (1 - z) * candidate.
    const z = tf.clipByValue(xz, 0, 1);
    const hh = tanhOfDoubled(xh);
    return tf.sub<Tensor2D>(hh, tf.mul(z, hh));
  }
  const xr = project(x, d.r.kernel, d.r.bias);
  const z = tf.clipByValue(tf.add(xz, tf.matMul(h, d.z.recurrent)), 0, 1);
  const r = tf.clipByValue(tf.add(xr, tf.matMul(h, d.r.recurrent)), 0, 1);
  const hh = tanhOfDoubled(tf.add(xh, tf.matMul(tf.mul(r, h), d.h.recurrent)));
  return tf.add<Tensor2D>(hh, tf.mul(z, tf.sub(h, hh)));
}

/** The network on `n` windows given time-major: `x` is [seqLen * n, inputDim], step t in rows t*n .. t*n+n-1. */
function forwardPass(net: Network, x: Tensor2D, n: number): Tensor2D {
  const steps = Array.from({ length: net.seqLen }, (_, t) => tf.slice(x, [t * n, 0], [n, net.inputDim]));
  let hf: Tensor2D | undefined;
  let hb: Tensor2D | undefined;
  // Each step in its own tidy, the previous state freed at once: a chunk's peak memory is one step's.
  const advance = (d: Direction, x: Tensor2D, h: Tensor2D | undefined) => {
    const next = tf.tidy(() => gruStep(d, x, h));
    h?.dispose();
    return next;
  };
  for (let t = 0; t < net.seqLen; t++) {
    hf = advance(net.forward, steps[t]!, hf);
    // Keras's backward GRU reads the window newest first; its final state is what Bidirectional concatenates.
    hb = advance(net.backward, steps[net.seqLen - 1 - t]!, hb);
  }
  const head = net.head;
  let y = activate(tf.add<Tensor2D>(tf.matMul(hf!, head.forwardKernel), project(hb!, head.backwardKernel, head.bias)), head.activation);
  for (const d of net.dense) {
    y = d.activation === 'tanh' ? tanhOfDoubled(project(y, d.kernel, d.bias)) : project(y, d.kernel, d.bias, d.activation);
  }
  return y;
}

/** Windows [start, start + n) of [count, seqLen, features] rearranged to [seqLen, n, features]: step t is one contiguous block. */
function toTimeMajor(windows: Float32Array, start: number, n: number, shape: WindowShape, dest: Float32Array): void {
  const { seqLen, features } = shape;
  let src = start * seqLen * features;
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < seqLen; t++) {
      let d = (t * n + i) * features;
      for (let f = 0; f < features; f++) dest[d++] = windows[src++]!;
    }
  }
}

/**
 * The BiGRU network as a handful of batched matrix products per chunk of windows, on any TF.js backend:
 * per time step and direction, three input projections ([n, 13] x [13, 50]) and three recurrent ones
 * ([n, 50] x [50, 50]), BatchNormalization folded into the first Dense layer.
 */
export function createFastEngine(model: KerasModel, options: FastEngineOptions = {}): FastEngine {
  const chunk = chunkWindowsOption(options.chunkWindows, DEFAULT_CHUNK_WINDOWS);
  const weights = foldBatchNorm(readBiGruWeights(model));
  const net = buildNetwork(weights);
  const shape = { seqLen: weights.seqLen, features: weights.inputDim };
  const windowSize = shape.seqLen * shape.features;
  let disposed = false;
  return {
    name: 'fast',
    async predict(windows: Float32Array, count: number): Promise<Float32Array> {
      if (disposed) throw new Error('fast engine: predict() after dispose()');
      checkWindowBatch('fast', windows, count, shape);
      const timeMajor = new Float32Array(Math.min(chunk, count) * windowSize);
      return predictInChunks(count, chunk, (start, n) => {
        toTimeMajor(windows, start, n, shape, timeMajor);
        return tf.tidy(() => forwardPass(net, tf.tensor2d(timeMajor.subarray(0, n * windowSize), [shape.seqLen * n, shape.features]), n));
      });
    },
    async predictBatch(batch: WindowBatch): Promise<Float32Array> {
      checkWindowSource('fast', batch, shape);
      return this.predictBatchRange(batch, 0, batch.count);
    },
    async predictBatchRange(batch: WindowBatch, start: number, count: number): Promise<Float32Array> {
      if (disposed) throw new Error('fast engine: predict() after dispose()');
      if (!(Number.isSafeInteger(start) && Number.isSafeInteger(count) && start >= 0 && count >= 0 && start + count <= batch.count)) {
        throw new InferenceInputError(`fast engine: windows ${start}..${start + count - 1} are outside the batch's ${batch.count}`);
      }
      const timeMajor = new Float32Array(Math.min(chunk, count) * windowSize);
      return predictInChunks(count, chunk, (offset, n) => {
        fillTimeMajor(batch, start + offset, n, shape, timeMajor);
        return tf.tidy(() => forwardPass(net, tf.tensor2d(timeMajor.subarray(0, n * windowSize), [shape.seqLen * n, shape.features]), n));
      });
    },
    dispose(): void {
      if (disposed) return;
      disposed = true;
      tf.dispose(net.tensors);
    },
  };
}
