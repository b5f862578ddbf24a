import fs from 'node:fs';
import { Readable } from 'node:stream';
import { expect } from 'chai';
import { initBackend } from '../../model/backend.js';
import { readInputCsv } from '../../model/csv-input.js';
import { predictCsv } from '../../model/engine.js';
import { InputFileError } from '../../model/errors.js';
import { symbolFeatures } from '../../model/features.js';
import { createInference } from '../../model/inference.js';
import { loadModelFromSources } from '../../model/model-store.js';
import { forecastCsv, predictionsCsv } from '../../model/output-csv.js';
import { FEATURE_COLUMNS, type InferenceEngine, type LoadedModel } from '../../model/types.js';
import { parseCsvText, readCsvFile } from '../helpers/csv.js';
import { fixture, shared } from '../helpers/paths.js';

const HEADER = 'symbol,,slug,name,date,ranknow,open,high,low,close,volume,market,close_ratio,spread';
const TEST_CSV = shared('data/crypto_test.csv');
const close = (actual: number, expected: number, tol: number, what: string) =>
  expect(Math.abs(actual - expected), `${what}: ${actual} vs ${expected}`).to.be.at.most(tol);

describe('prediction engine (golden values, SPEC §7)', () => {
  let model: LoadedModel;
  let inference: InferenceEngine;
  let reference: Record<string, string>[];
  const run = (text: string | Buffer, mode: 'anchored' | 'integrated' = 'anchored') =>
    predictCsv(Readable.from([Buffer.from(text)]), model, inference, { mode });

  before(async () => {
    await initBackend();
    model = await loadModelFromSources(shared('model_out/model.h5'), shared('model_out/scaler.pkl'));
    inference = createInference(model, 'fast');
    reference = await readCsvFile(shared('golden/crypto_test.reference.csv'));
  });

  for (const mode of ['anchored', 'integrated'] as const) {
    it(`reproduces every golden row in ${mode} mode`, async () => {
      const result = await predictCsv(fs.createReadStream(TEST_CSV), model, inference, { mode });
      expect(result.predictions).to.have.length(reference.length);
      const byKey = new Map(result.predictions.map((p) => [`${p.symbol}/${p.index}`, p]));
      for (const ref of reference) {
        const p = byKey.get(`${ref.symbol}/${ref.index}`)!;
        expect(p, `${ref.symbol}/${ref.index}`).to.not.equal(undefined);
        expect(p.date).to.equal(ref.date);
        expect(Number(p.valOpen)).to.equal(Number(ref.val_open));
        close(p.vOpenScaled, Number(ref.v_open_scaled), 1e-4, `v_open_scaled ${ref.symbol}/${ref.index}`);
        const want = Number(mode === 'anchored' ? ref.pred_open_anchored : ref.pred_open_integrated);
        close(p.predOpen, want, 1e-4 * Math.max(1, Math.abs(want)), `pred_open ${ref.symbol}/${ref.index}`);
      }
    });
  }

  it('forecasts the next day of each known symbol as the golden file', async () => {
    const result = await predictCsv(fs.createReadStream(TEST_CSV), model, inference, { mode: 'anchored' });
    const golden = await readCsvFile(shared('golden/crypto_test.forecast.csv'));
    const ours = await parseCsvText(await forecastCsv(result.forecasts));
    expect(ours.map((r) => r.symbol).sort()).to.deep.equal(golden.map((r) => r.symbol).sort());
    expect(Object.keys(ours[0])).to.deep.equal(Object.keys(golden[0]));
    for (const g of golden) {
      const o = ours.find((r) => r.symbol === g.symbol)!;
      expect([o.last_date, o.date]).to.deep.equal([g.last_date, g.date]);
      expect(Number(o.last_open)).to.equal(Number(g.last_open));
      close(Number(o.v_open_scaled), Number(g.v_open_scaled), 1e-4, `${g.symbol} v_open_scaled`);
      close(Number(o.forecast_open), Number(g.forecast_open), 1e-4 * Math.abs(Number(g.forecast_open)), `${g.symbol} forecast_open`);
    }
  });

  it('computes the 13 scaled features of the golden file', async () => {
    const golden = await readCsvFile(shared('golden/crypto_test.features.csv'));
    const parsed = await readInputCsv(fs.createReadStream(TEST_CSV));
    let checked = 0;
    for (const entry of parsed.symbols.filter((s) => model.scalers.symbols.has(s.symbol))) {
      const f = symbolFeatures(entry.rows, model.scalers.symbols.get(entry.symbol)!);
      for (const g of golden.filter((r) => r.symbol === entry.symbol)) {
        const t = Number(g.index);
        FEATURE_COLUMNS.forEach((col, j) => close(f[t * 13 + j], Number(g[col]), 1e-5 * Math.max(1, Math.abs(Number(g[col]))), `${entry.symbol}/${t} ${col}`));
        checked += 1;
      }
    }
    expect(checked).to.equal(golden.length);
  });

  it('writes a predictions file the frontend reads: symbol,index,date,pred_open,val_open, no blanks, input values unchanged', async () => {
    const result = await predictCsv(fs.createReadStream(TEST_CSV), model, inference, { mode: 'anchored' });
    const rows = await parseCsvText(await predictionsCsv(result.predictions));
    expect(Object.keys(rows[0])).to.include.members(['symbol', 'index', 'date', 'pred_open', 'val_open']);
    for (const r of rows) {
      for (const col of ['pred_open', 'val_open']) expect(Number.isFinite(Number(r[col])) && r[col] !== '', `${col} of ${r.symbol}/${r.index}`).to.equal(true);
    }
    const btc = rows.filter((r) => r.symbol === 'BTC');
    expect(btc.map((r) => Number(r.index))).to.deep.equal([...Array(60).keys()]);
    expect(btc[1]).to.include({ date: '2018-01-26', val_open: '11256.0' });
  });

  it('skips a symbol the scalers do not know, reports why, and predicts the others', async () => {
    const result = await predictCsv(fs.createReadStream(TEST_CSV), model, inference, { mode: 'anchored' });
    expect(result.counts).to.include({ symbols: 4, predicted: 3, skipped: 1, predictionRows: 180 });
    const doge = result.symbols.find((s) => s.symbol === 'DOGE')!;
    expect(doge.status).to.equal('skipped');
    expect(doge)
      .to.have.property('reason')
      .that.matches(/unknown symbol.*no scaler/);
  });

  it('predicts a symbol with fewer than 5 rows using zero padding', async () => {
    const lines = fs
      .readFileSync(TEST_CSV, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('BTC,'))
      .slice(0, 3);
    const result = await run([HEADER, ...lines].join('\n'));
    expect(result.predictions).to.have.length(3);
    expect(result.forecasts).to.have.length(1);
    for (const p of result.predictions) close(p.vOpenScaled, Number(reference[p.index].v_open_scaled), 1e-4, `BTC/${p.index}`);
  });

  it('gives the same predictions for E-notation numbers (fixture) as for plain ones', async () => {
    const e = await predictCsv(fs.createReadStream(fixture('e-notation.csv')), model, inference, { mode: 'anchored' });
    for (const p of e.predictions) close(p.vOpenScaled, Number(reference[p.index].v_open_scaled), 1e-4, `BTC/${p.index}`);
    expect(e.predictions[0].valOpen).to.equal('1.14217E+04');
  });

  it('predicts rows given out of date order as if sorted', async () => {
    const lines = fs
      .readFileSync(TEST_CSV, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('LTC,'))
      .slice(0, 10);
    const sorted = await run([HEADER, ...lines].join('\n'));
    const shuffled = await run([HEADER, ...[...lines].reverse()].join('\r\n'));
    expect(shuffled.predictions.map((p) => [p.date, p.predOpen])).to.deep.equal(sorted.predictions.map((p) => [p.date, p.predOpen]));
  });

  it('skips only the symbol with a bad value, with row, column and reason in the result', async () => {
    const text = fs.readFileSync(TEST_CSV, 'utf8').replace('LTC,3,litecoin,Litecoin,2018-01-28,5,181.42,', 'LTC,3,litecoin,Litecoin,2018-01-28,5,NaN,');
    expect(text).to.include(',NaN,');
    const result = await run(text);
    const ltc = result.symbols.find((s) => s.symbol === 'LTC')!;
    expect(ltc).to.include({ status: 'skipped', column: 'open' });
    expect(ltc).to.have.property('reason').that.equals(`row 125, column 'open': not a finite number: "NaN"`);
    expect(result.counts.predicted).to.equal(2);
  });

  it('fails the run when every symbol is skipped: nothing to predict', async () => {
    const lines = fs
      .readFileSync(TEST_CSV, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('DOGE,'));
    try {
      await run([HEADER, ...lines].join('\n'));
      expect.fail('expected an InputFileError');
    } catch (err) {
      expect(err).to.be.instanceOf(InputFileError);
      expect((err as Error).message).to.match(/nothing to predict: all 1 symbol\(s\) skipped \(DOGE: unknown symbol/);
    }
  });

  it('neutralises a hostile symbol in the output CSV, keeping numbers numeric', async () => {
    const row = { symbol: '=HYPERLINK("http://x")', index: 0, date: '2018-01-01', valOpen: '-5', predOpen: -4.5, vOpenScaled: 0.1, vOpen: 0.5 };
    const rows = await parseCsvText(await predictionsCsv([row, { ...row, symbol: '@SUM(A1)' }, { ...row, symbol: '\tX' }]));
    expect(rows.map((r) => r.symbol)).to.deep.equal([`'=HYPERLINK("http://x")`, "'@SUM(A1)", "'\tX"]);
    expect(rows[0]).to.include({ val_open: '-5', pred_open: '-4.5' });
  });
});
