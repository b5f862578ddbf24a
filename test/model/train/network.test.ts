import { expect } from 'chai';
import { initBackend } from '../../../model/backend.js';
import { createFastEngine } from '../../../model/fast-inference.js';
import { readKerasH5 } from '../../../model/keras-h5.js';
import { tf } from '../../../model/tf-core.js';
import { buildTrainingSet, writeBatch } from '../../../model/train/dataset.js';
import { glorotUniform, orthogonal } from '../../../model/train/initializers.js';
import { KERAS_TRAINING_CONFIG, TEAM_NETWORK, kerasModelConfig } from '../../../model/train/keras-topology.js';
import { initialKerasModel } from '../../../model/train/network.js';
import { randomStream } from '../../../model/train/prng.js';
import { createTrainer } from '../../../model/train/trainer.js';
import { N_FEATURES } from '../../../model/types.js';
import { shared } from '../../helpers/paths.js';
import { loadHistories, subset } from './fixture.js';

const H5 = shared('model_out/model.h5');

/** Time-major [seqLen, n, f] -> batch-major [n, seqLen, f], the engines' layout. */
function batchMajor(x: Float32Array, n: number, seqLen: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let t = 0; t < seqLen; t++)
    for (let i = 0; i < n; i++) out.set(x.subarray((t * n + i) * N_FEATURES, (t * n + i + 1) * N_FEATURES), (i * seqLen + t) * N_FEATURES);
  return out;
}

describe('train: the network and its training step', () => {
  before(async () => {
    await initBackend();
  });

  it("describes the network with exactly the Keras config and training config of the team's model.h5", async () => {
    const h5 = await readKerasH5(H5);
    expect(kerasModelConfig()).to.deep.equal(h5.modelConfig);
    const { default: h5wasm } = await import('h5wasm/node');
    await h5wasm.ready;
    const f = new h5wasm.File(H5, 'r');
    try {
      expect(JSON.parse(String(f.attrs['training_config']!.value))).to.deep.equal(KERAS_TRAINING_CONFIG);
    } finally {
      f.close();
    }
  });

  it('initialises as Keras does: glorot_uniform within its limit, orthogonal recurrent kernels, the same draws for the same seed', () => {
    const g = glorotUniform(randomStream(3, 'init'), 13, 150);
    const limit = Math.sqrt(6 / 163);
    expect(Math.max(...g.map(Math.abs)))
      .to.be.at.most(limit)
      .and.above(0.9 * limit);
    const q = orthogonal(randomStream(3, 'init'), 50, 150);
    for (const [a, b] of [
      [0, 0],
      [0, 1],
      [7, 49],
      [49, 49],
    ] as const) {
      let dot = 0;
      for (let j = 0; j < 150; j++) dot += q[a * 150 + j]! * q[b * 150 + j]!;
      expect(Math.abs(dot - (a === b ? 1 : 0)), `rows ${a}.${b}`).to.be.below(1e-6);
    }
    const tall = orthogonal(randomStream(4, 'init'), 20, 5);
    let dot = 0;
    for (let i = 0; i < 20; i++) dot += tall[i * 5 + 1]! * tall[i * 5 + 3]!;
    expect(Math.abs(dot)).to.be.below(1e-6);
    const a = initialKerasModel(TEAM_NETWORK, randomStream(9, 'init'));
    const b = initialKerasModel(TEAM_NETWORK, randomStream(9, 'init'));
    const c = initialKerasModel(TEAM_NETWORK, randomStream(10, 'init'));
    const kernel = (m: typeof a) => m.layerWeights.get('bidirectional_1')![0]!.values;
    expect(Buffer.from(kernel(a).buffer).equals(Buffer.from(kernel(b).buffer))).to.equal(true);
    expect(Buffer.from(kernel(a).buffer).equals(Buffer.from(kernel(c).buffer))).to.equal(false);
  });

  it('lowers the loss on a batch within a few steps, all losses finite, without leaking tensors', async () => {
    const set = buildTrainingSet(subset(await loadHistories(), ['BTC', 'XRP'], 120), { seqLen: 5, validationRows: 15 });
    const n = 32;
    const x = new Float32Array(5 * n * N_FEATURES);
    const y = new Float32Array(n);
    writeBatch(set, set.train, 40, n, x, y);
    const before = tf.memory().numTensors;
    const trainer = createTrainer(initialKerasModel(TEAM_NETWORK, randomStream(1, 'init')), { shape: TEAM_NETWORK, seed: 1 });
    const mse = () => trainer.predict(x, n).reduce((s, p, i) => s + (p - y[i]!) ** 2, 0) / n;
    const initial = mse();
    const losses = Array.from({ length: 25 }, () => trainer.trainBatch(x, y, n).loss);
    expect(losses.every(Number.isFinite), losses.join()).to.equal(true);
    expect(mse()).to.be.below(0.5 * initial);
    expect(losses.at(-1)!).to.be.below(losses[0]!);
    expect(trainer.steps).to.equal(25);
    trainer.dispose();
    expect(tf.memory().numTensors).to.equal(before);
  });

  it('exports weights in the Keras layout: the fast engine on the exported model computes what the trained network computes', async () => {
    const set = buildTrainingSet(subset(await loadHistories(), ['LTC'], 100), { seqLen: 5, validationRows: 10 });
    const n = set.train.length;
    const x = new Float32Array(5 * n * N_FEATURES);
    const y = new Float32Array(n);
    const trainer = createTrainer(initialKerasModel(TEAM_NETWORK, randomStream(5, 'init')), { shape: TEAM_NETWORK, seed: 5 });
    writeBatch(set, set.train, 0, 32, x.subarray(0, 5 * 32 * N_FEATURES), y.subarray(0, 32));
    for (let i = 0; i < 5; i++) trainer.trainBatch(x.subarray(0, 5 * 32 * N_FEATURES), y.subarray(0, 32), 32);
    writeBatch(set, set.train, 0, n, x, y);
    const own = trainer.predict(x, n);
    const keras = trainer.toKeras();
    trainer.dispose();
    const engine = createFastEngine(keras);
    const fast = await engine.predict(batchMajor(x, n, 5), n);
    engine.dispose();
    const worst = Math.max(...own.map((v, i) => Math.abs(v - fast[i]!)));
    expect(worst).to.be.below(1e-4);
    // The moving statistics are the batches' (debiased averages), not their initial zeros and ones.
    const [, , movingMean, movingVariance] = keras.layerWeights.get('batch_normalization_1')!;
    expect(movingMean!.values.every((v) => v !== 0)).to.equal(true);
    expect(movingVariance!.values.every((v) => v !== 1 && v > 0)).to.equal(true);
  });
});
