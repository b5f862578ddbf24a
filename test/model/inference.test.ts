import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { expect } from 'chai';
import { switchBackend, type BackendName } from '../../model/backend.js';
import { createFastEngine } from '../../model/fast-inference.js';
import { foldBatchNorm, readBiGruWeights, UnsupportedModelError } from '../../model/gru-weights.js';
import { layersModelFromH5, readKerasH5, type KerasH5, type KerasModel } from '../../model/keras-h5.js';
import { createLayersEngine } from '../../model/layers-inference.js';
import type { InferenceEngine } from '../../model/types.js';
import { InferenceInputError } from '../../model/window-batch.js';
import { readCsvFile } from '../helpers/csv.js';
import { shared } from '../helpers/paths.js';

const SEQ_LEN = 5;
const FEATURES = 13;
const WINDOW = SEQ_LEN * FEATURES;
/** SPEC §7. */
const TOLERANCE = 1e-4;

interface GoldenWindows {
  windows: Float32Array;
  expected: Float64Array;
  labels: string[];
}

/**
 * Windows of the golden feature rows (SPEC §3: rows t-5..t-1 per symbol, zero rows before the first) with
 * the golden `v_open_scaled` of each row, plus each symbol's forecast window from the forecast file.
 */
async function goldenWindows(): Promise<GoldenWindows> {
  const features = await readCsvFile(shared('golden/crypto_test.features.csv'));
  const reference = await readCsvFile(shared('golden/crypto_test.reference.csv'));
  const forecast = await readCsvFile(shared('golden/crypto_test.forecast.csv'));
  const featureNames = Object.keys(features[0]!).slice(2);
  expect(featureNames).to.have.length(FEATURES);
  const refByKey = new Map(reference.map((r) => [`${r.symbol}/${r.index}`, Number(r.v_open_scaled)]));
  const bySymbol = new Map<string, Record<string, string>[]>();
  for (const row of features) bySymbol.set(row.symbol!, [...(bySymbol.get(row.symbol!) ?? []), row]);

  const windows: number[] = [];
  const expected: number[] = [];
  const labels: string[] = [];
  for (const [symbol, rows] of bySymbol) {
    rows.sort((a, b) => Number(a.index) - Number(b.index));
    const values = rows.map((r) => featureNames.map((c) => Number(r[c])));
    for (let t = 0; t <= rows.length; t++) {
      for (let k = t - SEQ_LEN; k < t; k++) windows.push(...(k >= 0 ? values[k]! : new Array<number>(FEATURES).fill(0)));
      if (t < rows.length) {
        const ref = refByKey.get(`${symbol}/${rows[t]!.index}`);
        if (ref === undefined) throw new Error(`golden reference has no row ${symbol}/${rows[t]!.index}`);
        expected.push(ref);
        labels.push(`${symbol}/${rows[t]!.index}`);
      } else {
        const f = forecast.find((r) => r.symbol === symbol);
        if (!f) throw new Error(`golden forecast has no row for ${symbol}`);
        expected.push(Number(f.v_open_scaled));
        labels.push(`${symbol}/forecast`);
      }
    }
  }
  return { windows: Float32Array.from(windows), expected: Float64Array.from(expected), labels };
}

/** Seeded windows spanning the features' range (scaled columns around 0, log_shares around 10-25). */
function randomWindows(count: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const out = new Float32Array(count * WINDOW);
  for (let i = 0; i < out.length; i++) out[i] = i % FEATURES === FEATURES - 1 ? 10 + 15 * next() : 8 * next() - 4;
  return out;
}

/** A graph built in TensorFlow.js as Keras would store it: its config (Keras names) and each layer's weights. */
function kerasModelOf(model: tfl.LayersModel): KerasModel {
  return {
    modelConfig: model.toJSON(null, false) as Record<string, unknown>,
    layerWeights: new Map(
      model.layers.map((layer) => [
        layer.name,
        layer.getWeights().map((w, i) => ({ name: layer.weights[i]!.originalName, shape: w.shape, values: w.dataSync() as Float32Array })),
      ]),
    ),
  };
}

/** The golden model's config, changed by `edit` (a deep copy: the original is left alone). */
function editedConfig(h5: KerasH5, edit: (layers: Record<string, any>[]) => void): KerasModel {
  const modelConfig = structuredClone(h5.modelConfig) as { config: { layers: Record<string, any>[] } };
  edit(modelConfig.config.layers);
  return { modelConfig, layerWeights: h5.layerWeights };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): { diff: number; at: number } {
  expect(a.length).to.equal(b.length);
  let diff = 0;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= diff)) {
      diff = d;
      at = i;
    }
  }
  return { diff, at };
}

function hasTfjsNode(): boolean {
  try {
    createRequire(import.meta.url).resolve('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
}

/** wasm and cpu always; tensorflow (tfjs-node) where its optional install succeeded. */
const BACKENDS: BackendName[] = [...(hasTfjsNode() ? (['tensorflow'] as const) : []), 'wasm', 'cpu'];

describe('inference engines', () => {
  let h5: KerasH5;
  let golden: GoldenWindows;
  let previousBackend: string | null;

  before(async () => {
    previousBackend = tf.engine().backendName;
    h5 = await readKerasH5(shared('model_out/model.h5'));
    golden = await goldenWindows();
  });

  after(async () => {
    if (previousBackend) await switchBackend(previousBackend as BackendName);
  });

  for (const backend of BACKENDS) {
    describe(`on the ${backend} backend`, () => {
      let model: tfl.LayersModel;
      let fast: ReturnType<typeof createFastEngine>;
      let layers: InferenceEngine;

      before(async () => {
        const choice = await switchBackend(backend);
        expect(choice.name).to.equal(backend);
        model = await layersModelFromH5(h5);
        fast = createFastEngine(h5);
        layers = createLayersEngine(model);
      });

      after(() => {
        fast.dispose();
        model.dispose();
      });

      for (const name of ['fast', 'layers'] as const) {
        it(`${name}: matches the golden v_open_scaled of every row and forecast within 1e-4`, async () => {
          const engine = name === 'fast' ? fast : layers;
          const count = golden.expected.length;
          expect(count).to.equal(183);
          const y = await engine.predict(golden.windows, count);
          const { diff, at } = maxAbsDiff(y, golden.expected);
          expect(diff, `worst at ${golden.labels[at]}: got ${y[at]}, golden ${golden.expected[at]}`).to.be.at.most(TOLERANCE);
        });
      }

      it('fast matches layers within 1e-4 on seeded random windows', async () => {
        const count = backend === 'cpu' ? 700 : 5000;
        const windows = randomWindows(count, 20240607);
        const [a, b] = [await fast.predict(windows, count), await layers.predict(windows, count)];
        const { diff, at } = maxAbsDiff(a, b);
        expect(diff, `worst window ${at}: fast ${a[at]}, layers ${b[at]}`).to.be.at.most(TOLERANCE);
        // The outputs vary: a constant answer would also "match".
        expect(Math.max(...a) - Math.min(...a)).to.be.greaterThan(0.1);
      });

      it('gives the same answers whatever the chunk size, leaving no tensor behind', async () => {
        const count = 257;
        const windows = randomWindows(count, 7);
        const whole = await fast.predict(windows, count);
        const before = tf.memory().numTensors;
        const chunkedFast = createFastEngine(h5, { chunkWindows: 10 });
        const afterCreate = tf.memory().numTensors;
        expect(afterCreate).to.be.greaterThan(before);
        const chunked = await chunkedFast.predict(windows, count);
        const chunkedLayers = await createLayersEngine(model, { chunkWindows: 64 }).predict(windows, count);
        expect(tf.memory().numTensors).to.equal(afterCreate);
        chunkedFast.dispose();
        expect(tf.memory().numTensors).to.equal(before);
        expect(maxAbsDiff(chunked, whole).diff).to.be.at.most(1e-6);
        expect(maxAbsDiff(chunkedLayers, whole).diff).to.be.at.most(TOLERANCE);
      });

      it('keeps the tensor count stable across repeated predictions', async () => {
        const windows = randomWindows(300, 3);
        await fast.predict(windows, 300);
        await layers.predict(windows, 300);
        const before = tf.memory().numTensors;
        for (let i = 0; i < 3; i++) {
          await fast.predict(windows, 300);
          await layers.predict(windows, 300);
        }
        expect(tf.memory().numTensors).to.equal(before);
      });
    });
  }

  describe('input checks (wasm)', () => {
    let model: tfl.LayersModel;
    before(async () => {
      await switchBackend('wasm');
      model = await layersModelFromH5(h5);
    });
    after(() => model.dispose());

    it('returns an empty result for zero windows', async () => {
      const fast = createFastEngine(h5);
      expect(await fast.predict(new Float32Array(0), 0)).to.have.length(0);
      expect(await createLayersEngine(model).predict(new Float32Array(0), 0)).to.have.length(0);
      fast.dispose();
    });

    it('rejects a buffer whose length is not count windows, naming both', async () => {
      const fast = createFastEngine(h5);
      let error: unknown;
      await fast.predict(new Float32Array(WINDOW * 2 + 1), 2).catch((e: unknown) => (error = e));
      expect(error).to.be.instanceOf(InferenceInputError);
      expect((error as Error).message).to.match(/fast engine: 2 windows of \[5, 13\] need a Float32Array of 130 values; got 131/);
      await createLayersEngine(model)
        .predict(new Float32Array(WINDOW), 1.5)
        .catch((e: unknown) => (error = e));
      expect((error as Error).message).to.match(/layers engine: count must be a non-negative integer; got 1.5/);
      fast.dispose();
    });

    it('rejects a bad chunkWindows option by name', () => {
      expect(() => createFastEngine(h5, { chunkWindows: 0 })).to.throw(InferenceInputError, /option chunkWindows must be a positive integer; got 0/);
    });

    it('refuses a model of another architecture, naming the difference', () => {
      const lstm = tfl.sequential({
        layers: [
          tfl.layers.bidirectional({ layer: tfl.layers.lstm({ units: 4, recurrentInitializer: 'zeros' }) as never, inputShape: [SEQ_LEN, FEATURES] }),
          tfl.layers.dense({ units: 1 }),
        ],
      });
      expect(() => createFastEngine(kerasModelOf(lstm))).to.throw(UnsupportedModelError, /Bidirectional\(GRU\) -> BatchNormalization -> Dense/);
      const noBn = tfl.sequential({
        layers: [
          tfl.layers.bidirectional({
            layer: tfl.layers.gru({ units: 4, recurrentActivation: 'sigmoid', recurrentInitializer: 'zeros' }) as never,
            inputShape: [SEQ_LEN, FEATURES],
          }),
          tfl.layers.batchNormalization(),
          tfl.layers.dense({ units: 1 }),
        ],
      });
      expect(() => createFastEngine(kerasModelOf(noBn))).to.throw(
        UnsupportedModelError,
        /recurrent_activation is "sigmoid", the fast path supports only "hard_sigmoid"/,
      );
      lstm.dispose();
      noBn.dispose();
    });

    it('refuses, from the stored config alone, a graph that is not one chain of layers, or weights of the wrong shape', () => {
      const skip = editedConfig(h5, (layers) => (layers.find((l) => l.name === 'dense_2')!.inbound_nodes = [[['batch_normalization_1', 0, 0, {}]]]));
      expect(() => createFastEngine(skip)).to.throw(UnsupportedModelError, /single chain of layers/);
      const wider = editedConfig(h5, (layers) => (layers.find((l) => l.name === 'dense_1')!.config.units = 21));
      expect(() => createFastEngine(wider)).to.throw(UnsupportedModelError, /layer 'dense_1': weight 0 has shape \[100,20\], expected \[100,21\]/);
      const resetAfter = editedConfig(h5, (layers) => (layers.find((l) => l.name === 'bidirectional_1')!.config.layer.config.reset_after = true));
      expect(() => createFastEngine(resetAfter)).to.throw(
        UnsupportedModelError,
        /layer 'bidirectional_1': reset_after is true, the fast path supports only false/,
      );
    });

    it('reads a Sequential model built in TensorFlow.js as well: fast matches layers on it', async () => {
      const seq = tfl.sequential({
        layers: [
          tfl.layers.bidirectional({
            layer: tfl.layers.gru({ units: 6, recurrentInitializer: 'glorotUniform', biasInitializer: 'randomNormal' }) as never,
            inputShape: [SEQ_LEN, FEATURES],
          }),
          tfl.layers.batchNormalization({ betaInitializer: 'randomNormal', movingMeanInitializer: 'randomNormal' }),
          tfl.layers.dense({ units: 3, activation: 'relu', biasInitializer: 'ones' }),
          tfl.layers.dense({ units: 1 }),
        ],
      });
      const fast = createFastEngine(kerasModelOf(seq));
      try {
        const windows = randomWindows(200, 11);
        const [a, b] = [await fast.predict(windows, 200), await createLayersEngine(seq).predict(windows, 200)];
        expect(maxAbsDiff(a, b).diff).to.be.at.most(TOLERANCE);
        expect(Math.max(...a) - Math.min(...a)).to.be.greaterThan(0.01);
      } finally {
        fast.dispose();
        seq.dispose();
      }
    });

    it('folds BatchNormalization into the first Dense layer exactly', () => {
      const raw = readBiGruWeights(h5);
      const folded = foldBatchNorm(raw);
      const x = Array.from({ length: 100 }, (_, i) => Math.sin(i) * 2);
      const { gamma, beta, movingMean, movingVariance, epsilon } = raw.batchNorm;
      const normed = x.map((v, i) => (gamma[i]! * (v - movingMean[i]!)) / Math.sqrt(movingVariance[i]! + epsilon) + beta[i]!);
      const d = raw.dense[0]!;
      const f = folded.dense[0]!;
      for (let j = 0; j < d.units; j++) {
        let a = d.bias[j]!;
        let b = f.bias[j]!;
        for (let i = 0; i < d.inputs; i++) {
          a += normed[i]! * d.kernel[i * d.units + j]!;
          b += x[i]! * f.kernel[i * d.units + j]!;
        }
        expect(b).to.be.closeTo(a, 1e-4);
      }
      expect(folded.dense.slice(1)).to.deep.equal(raw.dense.slice(1));
    });
  });
});
