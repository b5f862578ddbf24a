/**
 * `node --import tsx test/bench/train-bench.ts [--epochs 10] [--backend wasm] [--layers-epochs 1] [--json out.json]`:
 * training throughput on the shared 3-symbol history (5,233 training windows): our seeded trainer (model/train)
 * per epoch, the time of the whole run, and tfjs-layers' own `model.fit` on the same windows in the same process
 * as the baseline. Figures only; never asserted in tests.
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import type * as tfl from '@tensorflow/tfjs-layers';
import { BACKEND_ORDER, switchBackend, type BackendName } from '../../model/backend.js';
import { requireBundle, tf } from '../../model/tf-core.js';
import { buildTrainingSet, writeBatch } from '../../model/train/dataset.js';
import { KERAS_ADAM } from '../../model/train/adam.js';
import { kerasModelConfig } from '../../model/train/keras-topology.js';
import { trainModel } from '../../model/train/train.js';
import { N_FEATURES } from '../../model/types.js';
import { loadHistories } from '../model/train/fixture.js';
import { fmt, median } from './stats.js';

const SEQ_LEN = 5;

/** tfjs-layers' `fit` on the same samples (batch-major windows), one epoch at a time; windows/s per epoch. */
async function layersFitWindowsPerSecond(samples: { x: Float32Array; y: Float32Array; n: number }, epochs: number): Promise<number[]> {
  const layers = requireBundle<typeof tfl>('@tensorflow/tfjs-layers');
  // tfjs-layers' Orthogonal initializer calls a chained op the CommonJS core bundle does not register; the
  // initial values do not change the speed, so the recurrent kernels start as glorot_uniform here.
  const config = JSON.parse(
    JSON.stringify(kerasModelConfig()).replace(
      /\{"class_name":"Orthogonal","config":\{"gain":1,"seed":null\}\}/g,
      '{"class_name":"VarianceScaling","config":{"scale":1,"mode":"fan_avg","distribution":"uniform","seed":null}}',
    ),
  );
  const model = (await layers.models.modelFromJSON(config as never)) as tfl.LayersModel;
  model.compile({ optimizer: tf.train.adam(KERAS_ADAM.learningRate, KERAS_ADAM.beta1, KERAS_ADAM.beta2, KERAS_ADAM.epsilon), loss: 'meanSquaredError' });
  const x = tf.tensor3d(samples.x, [samples.n, SEQ_LEN, N_FEATURES]);
  const y = tf.tensor2d(samples.y, [samples.n, 1]);
  const rates: number[] = [];
  try {
    for (let e = 0; e < epochs; e++) {
      const t0 = performance.now();
      await model.fit(x, y, { batchSize: 32, epochs: 1, shuffle: true, verbose: 0 });
      rates.push(samples.n / ((performance.now() - t0) / 1000));
    }
  } finally {
    tf.dispose([x, y]);
    model.dispose();
  }
  return rates;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      epochs: { type: 'string', default: '10' },
      backend: { type: 'string', default: 'wasm' },
      'layers-epochs': { type: 'string', default: '1' },
      json: { type: 'string' },
    },
    strict: true,
  });
  const epochs = Number(values.epochs);
  const layersEpochs = Number(values['layers-epochs']);
  if (!Number.isSafeInteger(epochs) || epochs < 1) throw new Error(`--epochs must be a positive integer; got ${values.epochs}`);
  if (!Number.isSafeInteger(layersEpochs) || layersEpochs < 0)
    throw new Error(`--layers-epochs must be a non-negative integer; got ${values['layers-epochs']}`);
  if (!(BACKEND_ORDER as readonly string[]).includes(values.backend)) throw new Error(`--backend must be one of ${BACKEND_ORDER.join(', ')}`);
  const backend = await switchBackend(values.backend as BackendName);
  const histories = await loadHistories();
  console.log(`backend ${backend.name}; ${[...histories].map(([s, r]) => `${s} ${r.length}`).join(', ')} rows`);

  const t0 = performance.now();
  const trained = await trainModel(histories, {
    epochs,
    seed: 1,
    onEpoch: (e) =>
      console.log(
        `  ours, epoch ${e.epoch}: ${fmt(e.windowsPerSecond)} windows/s (${fmt(e.seconds, 2)} s), loss ${fmt(e.loss, 4)}, val_loss ${fmt(e.valLoss ?? Number.NaN, 4)}`,
      ),
  });
  const wall = (performance.now() - t0) / 1000;
  const perEpoch = trained.record.epochs.map((e) => e.windowsPerSecond);
  const epochSeconds = trained.record.epochs.map((e) => e.seconds);
  // Skips the first epoch (warm-up) when there are others.
  const steady = perEpoch.length > 1 ? perEpoch.slice(1) : perEpoch;
  const tenEpochs = epochs === 10 ? wall : wall + (10 - epochs) * median(epochSeconds);
  console.log(
    `ours: median ${fmt(median(steady))} windows/s per epoch over ${trained.record.data.trainWindows} windows; ${epochs} epoch(s) + validation + version files in ${fmt(wall, 1)} s`,
  );
  console.log(`ours: a 10-epoch run ${epochs === 10 ? 'measured' : 'extrapolated'} at ${fmt(tenEpochs, 1)} s`);
  for (const v of trained.record.validation) console.log(`  hold-out MAD ${v.symbol}: ${fmt(v.mad, 4)} (naive ${fmt(v.naive, 4)})`);

  let layers: number[] = [];
  if (layersEpochs > 0) {
    const set = buildTrainingSet(histories, { seqLen: SEQ_LEN, validationRows: 15 });
    const n = set.train.length;
    const timeMajor = new Float32Array(SEQ_LEN * n * N_FEATURES);
    const y = new Float32Array(n);
    writeBatch(set, set.train, 0, n, timeMajor, y);
    const x = new Float32Array(timeMajor.length);
    for (let t = 0; t < SEQ_LEN; t++) {
      for (let i = 0; i < n; i++) x.set(timeMajor.subarray((t * n + i) * N_FEATURES, (t * n + i + 1) * N_FEATURES), (i * SEQ_LEN + t) * N_FEATURES);
    }
    layers = await layersFitWindowsPerSecond({ x, y, n }, layersEpochs);
    console.log(`tfjs-layers model.fit (unseeded dropout and shuffle, same windows): ${layers.map((r) => fmt(r)).join(', ')} windows/s per epoch`);
    console.log(`ratio ours / tfjs-layers: ${fmt(median(steady) / median(layers), 2)}x`);
  }
  const summary = {
    backend: backend.name,
    trainWindows: trained.record.data.trainWindows,
    epochs,
    windowsPerSecond: perEpoch,
    medianWindowsPerSecond: median(steady),
    wallSeconds: wall,
    tenEpochSeconds: tenEpochs,
    tenEpochMeasured: epochs === 10,
    layersFitWindowsPerSecond: layers,
  };
  console.log(JSON.stringify(summary));
  if (values.json) fs.writeFileSync(values.json, `${JSON.stringify(summary, null, 2)}\n`);
}

main().catch((err: unknown) => {
  console.error(`train-bench: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
