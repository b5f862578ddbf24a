import type { Rank, Tensor1D, Tensor2D, Variable } from '@tensorflow/tfjs-core';
import { readBiGruWeights, type GruDirectionWeights } from '../gru-weights.js';
import type { H5Weight, KerasModel } from '../keras-h5.js';
import { tf } from '../tf-core.js';
import { glorotUniform, orthogonal } from './initializers.js';
import { kerasModelConfig, kerasWeightNames, type NetworkShape } from './keras-topology.js';
import type { RandomStream } from './prng.js';

/**
 * The SPEC §4 network as TensorFlow.js variables, with a differentiable training forward pass that follows
 * Keras 2.2.4 (GRU implementation 1, dropout masks per gate drawn once per batch, BatchNormalization on batch
 * statistics with zero-debiased moving averages) and an inference forward pass.
 */

type Var1 = Variable<Rank.R1>;
type Var2 = Variable<Rank.R2>;

/** One GRU gate: its column block of the Keras kernel, recurrent kernel and bias. */
interface Gate {
  kernel: Var2;
  recurrent: Var2;
  bias: Var1;
}

interface Direction {
  z: Gate;
  r: Gate;
  h: Gate;
}

interface BatchNorm {
  gamma: Var1;
  beta: Var1;
  movingMean: Var1;
  movingVariance: Var1;
  /** TensorFlow's `assign_moving_average(zero_debias=True)` state: the biased averages and the step count. */
  biasedMean: Var1;
  biasedVariance: Var1;
  steps: number;
}

interface Dense {
  kernel: Var2;
  bias: Var1;
  activation: 'tanh' | 'relu' | 'linear';
}

export interface BiGruNetwork {
  readonly shape: NetworkShape;
  readonly forward: Direction;
  readonly backward: Direction;
  readonly batchNorm: BatchNorm;
  readonly dense: Dense[];
}

/** Dropout masks of one batch, per direction: each already scaled by 1 / (1 - rate), as Keras's K.dropout. */
export interface DirectionMasks {
  /** z, r, h masks on the inputs, [seqLen * batch, inputDim] (the batch's mask repeated for every step). */
  input: [Tensor2D, Tensor2D, Tensor2D];
  /** z, r, h masks on the previous state, [batch, units]. */
  recurrent: [Tensor2D, Tensor2D, Tensor2D];
}

export interface BatchMasks {
  forward: DirectionMasks;
  backward: DirectionMasks;
}

/** Columns [col0, col0 + width) of a row-major [rows, cols] matrix. */
function columns(values: Float32Array, rows: number, cols: number, col0: number, width: number): Float32Array {
  const out = new Float32Array(rows * width);
  for (let i = 0; i < rows; i++) out.set(values.subarray(i * cols + col0, i * cols + col0 + width), i * width);
  return out;
}

/** Gate blocks side by side again: the Keras layout [rows, 3 * width] from z, r, h blocks of [rows, width]. */
function joinColumns(blocks: Float32Array[], rows: number, width: number): Float32Array {
  const out = new Float32Array(rows * width * blocks.length);
  for (let i = 0; i < rows; i++) blocks.forEach((b, k) => out.set(b.subarray(i * width, (i + 1) * width), (i * blocks.length + k) * width));
  return out;
}

function direction(w: GruDirectionWeights, inputDim: number, units: number, name: string): Direction {
  const gate = (k: number, g: string): Gate => ({
    kernel: tf.variable(tf.tensor2d(columns(w.kernel, inputDim, 3 * units, k * units, units), [inputDim, units]), true, `${name}/${g}/kernel`),
    recurrent: tf.variable(tf.tensor2d(columns(w.recurrentKernel, units, 3 * units, k * units, units), [units, units]), true, `${name}/${g}/recurrent`),
    bias: tf.variable(tf.tensor1d(w.bias.slice(k * units, (k + 1) * units)), true, `${name}/${g}/bias`),
  });
  return { z: gate(0, 'z'), r: gate(1, 'r'), h: gate(2, 'h') };
}

let instances = 0;

/** Variables holding a Keras model's weights (the model must have the SPEC §4 architecture). */
export function networkFromKeras(model: KerasModel, shape: NetworkShape): BiGruNetwork {
  // The tensors the variables are made from are freed at once; variables outlive any tidy.
  let net: BiGruNetwork | undefined;
  tf.tidy(() => {
    net = buildNetwork(model, shape);
  });
  return net!;
}

function buildNetwork(model: KerasModel, shape: NetworkShape): BiGruNetwork {
  const w = readBiGruWeights(model);
  const { inputDim, units } = w;
  if (inputDim !== shape.inputDim || units !== shape.units || w.seqLen !== shape.seqLen || w.dense.length !== shape.dense.length) {
    throw new Error(
      `networkFromKeras: the model's weights are [${w.seqLen}, ${inputDim}] -> ${units} units, ${w.dense.length} Dense; the shape says [${shape.seqLen}, ${shape.inputDim}] -> ${shape.units}, ${shape.dense.length}`,
    );
  }
  // Variable names are global in TensorFlow.js: each network gets its own prefix.
  const id = `bigru${instances++}`;
  const v1 = (values: Float32Array, name: string, trainable: boolean) => tf.variable(tf.tensor1d(values), trainable, `${id}/${name}`) as Var1;
  const width = 2 * units;
  return {
    shape,
    forward: direction(w.forward, inputDim, units, `${id}/forward`),
    backward: direction(w.backward, inputDim, units, `${id}/backward`),
    batchNorm: {
      gamma: v1(w.batchNorm.gamma, 'bn/gamma', true),
      beta: v1(w.batchNorm.beta, 'bn/beta', true),
      movingMean: v1(w.batchNorm.movingMean, 'bn/moving_mean', false),
      movingVariance: v1(w.batchNorm.movingVariance, 'bn/moving_variance', false),
      biasedMean: v1(new Float32Array(width), 'bn/biased_mean', false),
      biasedVariance: v1(new Float32Array(width), 'bn/biased_variance', false),
      steps: 0,
    },
    dense: w.dense.map((d, i) => ({
      kernel: tf.variable(tf.tensor2d(d.kernel, [d.inputs, d.units]), true, `${id}/dense${i}/kernel`) as Var2,
      bias: tf.variable(tf.tensor1d(d.bias), true, `${id}/dense${i}/bias`) as Var1,
      activation: d.activation,
    })),
  };
}

/**
 * Keras's initial weights for the network (glorot_uniform kernels, orthogonal recurrent kernels, zero biases,
 * BatchNormalization gamma 1, beta 0, moving mean 0, moving variance 1), as the layer weights of a Keras model.
 * Draw order: forward kernel, forward recurrent kernel, backward kernel, backward recurrent kernel, Dense kernels.
 */
export function initialKerasModel(shape: NetworkShape, rng: RandomStream): KerasModel {
  const { inputDim, units } = shape;
  const gru = () => [glorotUniform(rng, inputDim, 3 * units), orthogonal(rng, units, 3 * units), new Float32Array(3 * units)];
  const values: Float32Array[][] = [
    [],
    [...gru(), ...gru()],
    [new Float32Array(2 * units).fill(1), new Float32Array(2 * units), new Float32Array(2 * units), new Float32Array(2 * units).fill(1)],
  ];
  let inputs = 2 * units;
  for (const d of shape.dense) {
    values.push([glorotUniform(rng, inputs, d.units), new Float32Array(d.units)]);
    inputs = d.units;
  }
  return kerasModelOf(shape, values);
}

/** Shapes of each weight, in `kerasWeightNames` order. */
function weightShapes(shape: NetworkShape): number[][][] {
  const { inputDim, units } = shape;
  const gru = [[inputDim, 3 * units], [units, 3 * units], [3 * units]];
  const bn = [[2 * units], [2 * units], [2 * units], [2 * units]];
  let inputs = 2 * units;
  const dense = shape.dense.map((d) => {
    const s = [[inputs, d.units], [d.units]];
    inputs = d.units;
    return s;
  });
  return [[], [...gru, ...gru], bn, ...dense];
}

function kerasModelOf(shape: NetworkShape, values: Float32Array[][]): KerasModel {
  const shapes = weightShapes(shape);
  const layerWeights = new Map<string, H5Weight[]>();
  kerasWeightNames(shape).forEach(([layer, names], i) => {
    layerWeights.set(
      layer,
      names.map((name, j) => ({ name: `${name}:0`, shape: shapes[i]![j]!, values: values[i]![j]! })),
    );
  });
  return { modelConfig: kerasModelConfig(shape), layerWeights };
}

/** The network's current weights as a Keras model (config and per-layer weights in Keras layout). */
export function networkToKeras(net: BiGruNetwork): KerasModel {
  const { inputDim, units } = net.shape;
  const read = (v: Variable) => v.dataSync() as Float32Array;
  const gru = (d: Direction) => [
    joinColumns([read(d.z.kernel), read(d.r.kernel), read(d.h.kernel)], inputDim, units),
    joinColumns([read(d.z.recurrent), read(d.r.recurrent), read(d.h.recurrent)], units, units),
    joinColumns([read(d.z.bias), read(d.r.bias), read(d.h.bias)], 1, units),
  ];
  const bn = net.batchNorm;
  return kerasModelOf(net.shape, [
    [],
    [...gru(net.forward), ...gru(net.backward)],
    [read(bn.gamma), read(bn.beta), read(bn.movingMean), read(bn.movingVariance)].map((a) => a.slice()),
    ...net.dense.map((d) => [read(d.kernel).slice(), read(d.bias).slice()]),
  ]);
}

/** The variables the optimizer updates, in a fixed order. */
export function trainableVariables(net: BiGruNetwork): Variable[] {
  const gates = (d: Direction) => [d.z, d.r, d.h].flatMap((g) => [g.kernel, g.recurrent, g.bias]);
  return [...gates(net.forward), ...gates(net.backward), net.batchNorm.gamma, net.batchNorm.beta, ...net.dense.flatMap((d) => [d.kernel, d.bias])];
}

export function disposeNetwork(net: BiGruNetwork): void {
  const bn = net.batchNorm;
  tf.dispose([...trainableVariables(net), bn.movingMean, bn.movingVariance, bn.biasedMean, bn.biasedVariance]);
}

/** Keras's hard_sigmoid: clip(0.2 x + 0.5, 0, 1). */
function hardSigmoid(x: Tensor2D): Tensor2D {
  return tf.clipByValue(tf.add<Tensor2D>(tf.mul(x, 0.2), 0.5), 0, 1);
}

/**
 * One GRU direction over the sequence (Keras GRUCell, implementation 1, reset_after=False). `x` is time-major
 * [seqLen * batch, inputDim]; `reverse` reads it newest first (go_backwards). Returns the final state.
 */
function runDirection(d: Direction, x: Tensor2D, batch: number, shape: NetworkShape, reverse: boolean, masks?: DirectionMasks): Tensor2D {
  const { seqLen, units } = shape;
  // Every step's input projection at once: the masks do not change along the sequence.
  const project = (g: Gate, mask: Tensor2D | undefined) =>
    tf.unstack(tf.reshape(tf.add(tf.matMul(mask ? tf.mul(x, mask) : x, g.kernel), g.bias), [seqLen, batch, units])) as Tensor2D[];
  const xz = project(d.z, masks?.input[0]);
  const xr = project(d.r, masks?.input[1]);
  const xh = project(d.h, masks?.input[2]);
  let h: Tensor2D | undefined;
  for (let s = 0; s < seqLen; s++) {
    const t = reverse ? seqLen - 1 - s : s;
    if (!h) {
      // Zero initial state: the recurrent products are exactly zero and h = z * 0 + (1 - z) * hh.
      h = tf.mul<Tensor2D>(tf.sub(1, hardSigmoid(xz[t]!)), tf.tanh(xh[t]!));
      continue;
    }
    const [mz, mr, mh] = masks ? [tf.mul(h, masks.recurrent[0]), tf.mul(h, masks.recurrent[1]), tf.mul(h, masks.recurrent[2])] : [h, h, h];
    const z = hardSigmoid(tf.add<Tensor2D>(xz[t]!, tf.matMul(mz, d.z.recurrent)));
    const r = hardSigmoid(tf.add<Tensor2D>(xr[t]!, tf.matMul(mr, d.r.recurrent)));
    const hh = tf.tanh(tf.add<Tensor2D>(xh[t]!, tf.matMul(tf.mul(r, mh), d.h.recurrent)));
    h = tf.add<Tensor2D>(tf.mul(z, h), tf.mul(tf.sub(1, z), hh));
  }
  return h!;
}

/** TensorFlow's tf.nn.batch_normalization: x * inv + (beta - mean * inv), inv = gamma / sqrt(var + eps). */
function normalize(x: Tensor2D, mean: Tensor1D, variance: Tensor1D, bn: BatchNorm, epsilon: number): Tensor2D {
  const inv = tf.mul(tf.rsqrt(tf.add(variance, epsilon)), bn.gamma);
  return tf.add<Tensor2D>(tf.mul(x, inv), tf.sub(bn.beta, tf.mul(mean, inv)));
}

function head(net: BiGruNetwork, y: Tensor2D): Tensor2D {
  for (const d of net.dense) {
    const a = tf.add<Tensor2D>(tf.matMul(y, d.kernel), d.bias);
    y = d.activation === 'tanh' ? tf.tanh(a) : d.activation === 'relu' ? tf.relu(a) : a;
  }
  return y;
}

export interface TrainingForward {
  /** [batch, 1] */
  output: Tensor2D;
  /** The batch statistics the BatchNormalization used, for the moving averages. */
  batchMean: Tensor1D;
  batchVariance: Tensor1D;
}

/** The forward pass in training mode: dropout masks applied, BatchNormalization on the batch's statistics. */
export function trainingForward(net: BiGruNetwork, x: Tensor2D, batch: number, masks: BatchMasks | undefined): TrainingForward {
  const hf = runDirection(net.forward, x, batch, net.shape, false, masks?.forward);
  const hb = runDirection(net.backward, x, batch, net.shape, true, masks?.backward);
  const merged = tf.concat([hf, hb], 1);
  const { mean, variance } = tf.moments(merged, 0);
  const normed = normalize(merged, mean as Tensor1D, variance as Tensor1D, net.batchNorm, net.shape.batchNormEpsilon);
  return { output: head(net, normed), batchMean: mean as Tensor1D, batchVariance: variance as Tensor1D };
}

/** The forward pass in inference mode (no dropout, moving statistics): what Keras's `predict` computes. */
export function inferenceForward(net: BiGruNetwork, x: Tensor2D, batch: number): Tensor2D {
  const hf = runDirection(net.forward, x, batch, net.shape, false);
  const hb = runDirection(net.backward, x, batch, net.shape, true);
  const merged = tf.concat([hf, hb], 1);
  const bn = net.batchNorm;
  return head(net, normalize(merged, bn.movingMean, bn.movingVariance, bn, net.shape.batchNormEpsilon));
}

/**
 * Keras 2.2.4's BatchNormalization update after a training step: the batch variance times n / (n - (1 + eps)),
 * then TensorFlow's zero-debiased moving average (`assign_moving_average(..., zero_debias=True)`).
 */
export function updateMovingStatistics(net: BiGruNetwork, batchMean: Tensor1D, batchVariance: Tensor1D, batch: number): void {
  const bn = net.batchNorm;
  const f = Math.fround;
  const decay = f(1 - net.shape.batchNormMomentum);
  const sampleCorrection = f(batch / f(batch - f(1 + net.shape.batchNormEpsilon)));
  bn.steps += 1;
  const debias = f(1 - f(Math.pow(f(1 - decay), bn.steps)));
  tf.tidy(() => {
    const update = (biased: Var1, moving: Var1, value: Tensor1D) => {
      const b = tf.sub<Tensor1D>(biased, tf.mul(tf.sub(biased, value), decay));
      biased.assign(b);
      moving.assign(tf.sub<Tensor1D>(moving, tf.sub(moving, tf.div(b, debias))));
    };
    update(bn.biasedMean, bn.movingMean, batchMean);
    update(bn.biasedVariance, bn.movingVariance, tf.mul<Tensor1D>(batchVariance, sampleCorrection));
  });
}
