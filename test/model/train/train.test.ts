import { Readable } from 'node:stream';
import { expect } from 'chai';
import { switchBackend, type BackendName } from '../../../model/backend.js';
import { predictCsv } from '../../../model/engine.js';
import { writeWindows } from '../../../model/features.js';
import { createInference } from '../../../model/inference.js';
import { loadModelFromSources, loadModelVersionFromFiles } from '../../../model/model-store.js';
import { tf } from '../../../model/tf-core.js';
import { historyFeatures } from '../../../model/train/dataset.js';
import { TrainingInputError, type HistoryRow } from '../../../model/train/history.js';
import { trainModel, type TrainedVersion } from '../../../model/train/train.js';
import { N_FEATURES, type LoadedModel } from '../../../model/types.js';
import { shared } from '../../helpers/paths.js';
import { loadHistories, subset } from './fixture.js';

const TOLERANCE = 1e-4; // SPEC §7 on v_open_scaled

function csvOf(histories: Map<string, HistoryRow[]>): string {
  const lines = ['symbol,,slug,name,date,ranknow,open,high,low,close,volume,market,close_ratio,spread'];
  for (const [symbol, rows] of histories) {
    rows.forEach((r, i) => lines.push([symbol, i, symbol.toLowerCase(), symbol, r.date, 1, r.open, r.high, r.low, r.close, 0, r.market, '', ''].join(',')));
  }
  return `${lines.join('\n')}\n`;
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('train: a short seeded training run (issue 12)', function () {
  let previousBackend: string | null;
  let histories: Map<string, HistoryRow[]>;
  let small: Map<string, HistoryRow[]>;
  let team: LoadedModel;
  let trained: TrainedVersion;

  before(async () => {
    previousBackend = tf.engine().backendName;
    await switchBackend('wasm');
    histories = await loadHistories();
    small = subset(histories, ['BTC', 'LTC'], 120);
    team = await loadModelFromSources(shared('model_out/model.h5'), shared('model_out/scaler.pkl'));
    trained = await trainModel(small, { epochs: 1, seed: 7, baseline: team, provenance: { asOf: '2013-08-25', codeCommit: 'abc123' } });
  });

  after(async () => {
    if (previousBackend) await switchBackend(previousBackend as BackendName);
  });

  it('records its inputs, hyperparameters, losses and hold-out MAD next to the baseline and the naive forecast', () => {
    const r = trained.record;
    expect(trained.metadata.training).to.deep.equal(r);
    expect(r).to.include({ kind: 'train', seed: 7, backend: 'wasm' });
    expect(r.provenance).to.deep.equal({ asOf: '2013-08-25', codeCommit: 'abc123' });
    expect(r.hyperparameters).to.deep.include({ batchSize: 32, epochs: 1, validationRows: 15, loss: 'mean_squared_error' });
    expect(r.hyperparameters.optimizer).to.include({ name: 'Adam', beta1: 0.8999999761581421, beta2: 0.9990000128746033, epsilon: 1e-7 });
    expect(r.hyperparameters.network).to.include({ gruUnits: 50, dropout: 0.1, recurrentDropout: 0.1, batchNormMomentum: 0.99, batchNormEpsilon: 0.001 });
    expect(r.data.symbols).to.deep.equal(
      ['BTC', 'LTC'].map((symbol) => ({
        symbol,
        rows: 120,
        firstDate: small.get(symbol)![0]!.date,
        lastDate: small.get(symbol)![119]!.date,
        trainRows: 105,
        validationRows: 15,
        trainWindows: 104,
      })),
    );
    expect(r.data).to.include({ trainWindows: 208, validationWindows: 30 });
    expect(r.epochs).to.have.length(1);
    const [e] = r.epochs;
    for (const v of [e!.loss, e!.mape, e!.valLoss, e!.valMape, e!.windowsPerSecond]) expect(v).to.be.a('number').and.satisfy(Number.isFinite);
    expect(e!.windows).to.equal(208);
    expect(r.validation.map((v) => v.symbol)).to.deep.equal(['BTC', 'LTC']);
    for (const v of r.validation) {
      const rows = small.get(v.symbol)!;
      let naive = 0;
      for (let t = 105; t < 120; t++) naive += Math.abs(rows[t]!.open - rows[t - 1]!.open);
      expect(v).to.include({ rows: 15, firstDate: rows[105]!.date, lastDate: rows[119]!.date });
      expect(v.naive).to.be.closeTo(naive / 15, 1e-12);
      expect(v.mad).to.be.above(0).and.satisfy(Number.isFinite);
      expect(v.baseline).to.have.property('version', team.metadata.version);
      expect(v.baseline!.mad).to.be.above(0).and.satisfy(Number.isFinite);
    }
    expect(trained.metadata).to.include({ importedBy: 'crypto-open-fleet model/train' });
    expect(trained.metadata.symbols).to.deep.equal(['BTC', 'LTC']);
  });

  it('loads as a model version; its fast and layers engines agree within SPEC §7 on its windows', async () => {
    const model = await loadModelVersionFromFiles(trained.files, 'trained');
    expect(model.metadata.version)
      .to.equal(trained.metadata.version)
      .and.match(/^v-[0-9a-f]{16}$/);
    expect([...model.scalers.symbols.keys()]).to.deep.equal(['BTC', 'LTC']);
    const fast = createInference(model, 'fast');
    const layers = createInference(model, 'layers');
    try {
      for (const [symbol, rows] of small) {
        const n = rows.length;
        const windows = new Float32Array((n + 1) * 5 * N_FEATURES);
        writeWindows(historyFeatures(rows, model.scalers.symbols.get(symbol)!), n, 5, windows, 0);
        const [a, b] = [await fast.predict(windows, n + 1), await layers.predict(windows, n + 1)];
        const worst = Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));
        expect(worst, symbol).to.be.at.most(TOLERANCE);
        expect(Math.max(...a) - Math.min(...a), `${symbol}: outputs vary`).to.be.above(0.01);
      }
    } finally {
      fast.dispose();
      layers.dispose();
      model.layers.dispose();
    }
  });

  it('predicts through the prediction engine with the SPEC shape: a row per input row, a forecast per symbol', async () => {
    const model = await loadModelVersionFromFiles(trained.files, 'trained');
    const engine = createInference(model, 'fast');
    try {
      const result = await predictCsv(Readable.from([Buffer.from(csvOf(small))]), model, engine, { mode: 'anchored' });
      expect(result.counts).to.include({ rows: 240, predicted: 2, skipped: 0, predictionRows: 240, windows: 242 });
      for (const [symbol, rows] of small) {
        const mine = result.predictions.filter((p) => p.symbol === symbol);
        expect(mine.map((p) => p.index)).to.deep.equal(rows.map((_, i) => i));
        expect(mine.map((p) => p.date)).to.deep.equal(rows.map((r) => r.date));
        expect(mine.every((p) => Number.isFinite(p.predOpen) && Number.isFinite(p.vOpenScaled))).to.equal(true);
        const forecast = result.forecasts.find((f) => f.symbol === symbol)!;
        expect(forecast.lastDate).to.equal(rows.at(-1)!.date);
        expect(Number.isFinite(forecast.forecastOpen)).to.equal(true);
      }
    } finally {
      engine.dispose();
    }
  });

  it('repeats bit for bit with the same seed and data, and differs with another seed', async () => {
    const again = await trainModel(small, { epochs: 1, seed: 7 });
    expect(again.files.get('weights.bin')!.equals(trained.files.get('weights.bin')!)).to.equal(true);
    expect(again.files.get('scalers.json')!.equals(trained.files.get('scalers.json')!)).to.equal(true);
    expect(again.metadata.version).to.equal(trained.metadata.version);
    expect(again.record.epochs[0]!.loss).to.equal(trained.record.epochs[0]!.loss);
    const other = await trainModel(small, { epochs: 1, seed: 8 });
    expect(other.files.get('weights.bin')!.equals(trained.files.get('weights.bin')!)).to.equal(false);
    expect(other.files.get('scalers.json')!.equals(trained.files.get('scalers.json')!)).to.equal(true);
  });

  it('trains on the cpu backend as well, repeatably there too', async () => {
    await switchBackend('cpu');
    try {
      const data = subset(histories, ['XRP'], 60);
      const a = await trainModel(data, { epochs: 1, seed: 3, validationRows: 10 });
      const b = await trainModel(data, { epochs: 1, seed: 3, validationRows: 10 });
      expect(a.record.backend).to.equal('cpu');
      expect(a.files.get('weights.bin')!.equals(b.files.get('weights.bin')!)).to.equal(true);
      const model = await loadModelVersionFromFiles(a.files, 'cpu-trained');
      expect(model.metadata.version).to.equal(a.metadata.version);
    } finally {
      await switchBackend('wasm');
    }
  });

  it('refuses too short a history and bad options with a clear error', async () => {
    const short = subset(histories, ['BTC'], 10);
    const e1 = await rejection(trainModel(short, { epochs: 1 }));
    expect(e1).to.be.instanceOf(TrainingInputError);
    expect(e1.message).to.equal("symbol 'BTC': 10 row(s), at least 17 needed");
    expect((await rejection(trainModel(small, { epochs: 0 }))).message).to.match(/option epochs must be an integer >= 1; got 0/);
    expect((await rejection(trainModel(small, { seed: 1.5 }))).message).to.match(/option seed must be a safe integer/);
    expect((await rejection(trainModel(new Map()))).message).to.equal('no symbol to train on');
  });
});
