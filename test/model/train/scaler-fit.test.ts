import { expect } from 'chai';
import { symbolFeatures } from '../../../model/features.js';
import { TrainingInputError, type HistoryRow } from '../../../model/train/history.js';
import { fitColumnScaler, fitSymbolScalers, pairwiseSum, rawFeatureColumns } from '../../../model/train/scaler-fit.js';
import { SCALED_COLUMNS } from '../../../model/types.js';
import { loadHistories, near, referenceColumns, referenceFit } from './fixture.js';

describe('train: fitting per-symbol StandardScalers (SPEC §2, issue 11)', () => {
  let histories: Map<string, HistoryRow[]>;
  before(async () => {
    histories = await loadHistories();
  });

  it('fits the 12 scalers of every shared symbol as an independent float64 computation does', () => {
    expect([...histories.keys()].sort()).to.deep.equal(['BTC', 'LTC', 'XRP']);
    for (const [symbol, rows] of histories) {
      const fitted = fitSymbolScalers(rows, symbol);
      const columns = referenceColumns(rows);
      expect(Object.keys(fitted)).to.deep.equal([...SCALED_COLUMNS]);
      for (const column of SCALED_COLUMNS) {
        const ref = referenceFit(columns[column]!);
        const s = fitted[column]!;
        expect(s.nSamplesSeen, `${symbol} ${column} n`).to.equal(rows.length);
        // Pairwise and sequential summation differ by rounding only; the mean of a v_ column is a small difference of large sums.
        near(s.mean, ref.mean, column.startsWith('v_') ? 1e-9 : 1e-12, `${symbol} ${column} mean`);
        near(s.var, ref.var, 1e-10, `${symbol} ${column} var`);
        expect(s.scale, `${symbol} ${column} scale`).to.equal(Math.sqrt(s.var));
      }
    }
  });

  it("standardises the training rows: the engine's features scaled with the fitted scalers have mean 0 and standard deviation 1", () => {
    const rows = histories.get('LTC')!;
    const features = symbolFeatures(rows as never, fitSymbolScalers(rows, 'LTC'));
    SCALED_COLUMNS.forEach((column, j) => {
      const values = rows.map((_, t) => features[t * 13 + j]!);
      const { mean, var: variance } = referenceFit(values);
      expect(Math.abs(mean), `${column} mean`).to.be.below(1e-5);
      expect(Math.abs(Math.sqrt(variance) - 1), `${column} std`).to.be.below(1e-5);
    });
  });

  it("computes the raw columns with the feature pipeline's arithmetic (close_ratio 0 when high == low, v_c[0] = 0)", () => {
    const rows = histories.get('BTC')!;
    const flat = rows.findIndex((r) => r.high === r.low);
    expect(flat, 'the BTC history has a day with high == low').to.be.greaterThan(0);
    const raw = rawFeatureColumns(rows);
    const ref = referenceColumns(rows);
    SCALED_COLUMNS.forEach((column, j) => expect(Array.from(raw[j]!), column).to.deep.equal(ref[column]));
    expect(raw[SCALED_COLUMNS.indexOf('close_ratio')]![flat]).to.equal(0);
  });

  it('gives scale 1 to a column with zero variance, as scikit-learn does', () => {
    const rows = Array.from({ length: 4 }, (_, i): HistoryRow => ({ date: `2020-01-0${i + 1}`, open: 2.5, high: 2.5, low: 2.5, close: 2.5, market: 1e6 }));
    const fitted = fitSymbolScalers(rows, 'FLAT');
    for (const column of SCALED_COLUMNS) {
      expect(fitted[column]!.var, column).to.equal(0);
      expect(fitted[column]!.scale, column).to.equal(1);
    }
    expect(fitted.open!.mean).to.equal(2.5);
    expect(fitted.close_ratio!.mean).to.equal(0);
  });

  it('ignores NaNs like scikit-learn 0.20 (n_samples_seen_ counts the others)', () => {
    const s = fitColumnScaler(Float64Array.from([1, Number.NaN, 3]));
    expect(s).to.deep.equal({ mean: 2, var: 1, scale: 1, nSamplesSeen: 2 });
    expect(() => fitColumnScaler(Float64Array.from([Number.NaN]))).to.throw(RangeError, /no non-NaN value/);
  });

  it('sums pairwise like NumPy: far closer to the exact sum than a running sum on a long column', () => {
    const n = 1_000_000;
    const values = new Float64Array(n).fill(0.1);
    let running = 0;
    for (const v of values) running += v;
    const exact = 0.1 * n; // the correctly rounded value of n copies of the double 0.1
    expect(Math.abs(pairwiseSum(values) - exact)).to.be.below(1e-8);
    expect(Math.abs(running - exact)).to.be.above(1e-6);
    expect(pairwiseSum(Float64Array.from([1, 2, 3]))).to.equal(6);
  });

  it('refuses rows out of date order and non-finite prices, naming the symbol and row', () => {
    const rows = histories.get('XRP')!.slice(0, 5);
    expect(() => fitSymbolScalers([rows[1]!, rows[0]!], 'XRP')).to.throw(TrainingInputError, /symbol 'XRP' row 1: date \S+ does not follow/);
    expect(() => fitSymbolScalers([{ ...rows[0]!, close: Number.NaN }], 'XRP')).to.throw(TrainingInputError, /symbol 'XRP' row 0 \(\S+\): close is NaN/);
    expect(() => fitSymbolScalers([], 'XRP')).to.throw(TrainingInputError, /symbol 'XRP': 0 row/);
  });
});
