import { SCALED_COLUMNS, type ColumnScaler, type SymbolScalers } from '../types.js';
import { checkSymbolRows, type HistoryRow } from './history.js';

/**
 * The 12 unscaled columns `dat_cols + v_cols` of one symbol's rows (SPEC §2), float64, column-major:
 * `columns[j][t]` for SCALED_COLUMNS[j]. The same arithmetic as model/features.ts, before scaling.
 */
export function rawFeatureColumns(rows: readonly HistoryRow[]): Float64Array[] {
  const n = rows.length;
  const columns = SCALED_COLUMNS.map(() => new Float64Array(n));
  const prev = new Float64Array(6);
  const base = new Float64Array(6);
  for (let t = 0; t < n; t++) {
    const r = rows[t]!;
    const spread = r.high - r.low;
    base[0] = r.open;
    base[1] = r.high;
    base[2] = r.low;
    base[3] = r.close;
    base[4] = spread === 0 ? 0 : (r.close - r.low) / spread;
    base[5] = spread;
    for (let j = 0; j < 6; j++) {
      columns[j]![t] = base[j]!;
      columns[6 + j]![t] = t === 0 ? 0 : base[j]! - prev[j]!;
      prev[j] = base[j]!;
    }
  }
  return columns;
}

const PAIRWISE_BLOCK = 128;

/**
 * NumPy's float64 `np.add.reduce` over a contiguous array: pairwise summation with 8 accumulators below
 * 128 elements (numpy/core/src/umath/loops_utils.h), so that sums round exactly as NumPy's do.
 */
export function pairwiseSum(a: Float64Array, from = 0, n = a.length - from): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += a[from + i]!;
    return res;
  }
  if (n <= PAIRWISE_BLOCK) {
    const r = new Float64Array(8);
    for (let j = 0; j < 8; j++) r[j] = a[from + j]!;
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] += a[from + i + j]!;
    let res = r[0]! + r[1]! + (r[2]! + r[3]!) + (r[4]! + r[5]! + (r[6]! + r[7]!));
    for (; i < n; i++) res += a[from + i]!;
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return pairwiseSum(a, from, n2) + pairwiseSum(a, from + n2, n - n2);
}

/**
 * scikit-learn 0.20's `StandardScaler().fit(x)` on one column: NaNs are ignored (nansum / nanvar), the
 * variance is the population one (ddof 0), computed as `_incremental_mean_and_var` does from a fresh scaler
 * (`nanvar * n / n`), and a zero standard deviation becomes scale 1 (`_handle_zeros_in_scale`).
 */
export function fitColumnScaler(values: Float64Array): ColumnScaler {
  const n = values.reduce((count, v) => (Number.isNaN(v) ? count : count + 1), 0);
  if (n === 0) throw new RangeError('fitColumnScaler: no non-NaN value to fit');
  const filled = values.map((v) => (Number.isNaN(v) ? 0 : v));
  const mean = pairwiseSum(filled) / n;
  const squares = values.map((v) => (Number.isNaN(v) ? 0 : (v - mean) * (v - mean)));
  const nanvar = pairwiseSum(squares) / n;
  const variance = (nanvar * n) / n;
  const std = Math.sqrt(variance);
  return { mean, scale: std === 0 ? 1 : std, var: variance, nSamplesSeen: n };
}

/** The 12 per-symbol StandardScalers of SPEC §2, fitted on `rows` (one symbol, ascending dates). */
export function fitSymbolScalers(rows: readonly HistoryRow[], symbol = 'symbol'): SymbolScalers {
  checkSymbolRows(symbol, rows);
  const columns = rawFeatureColumns(rows);
  const out: Record<string, ColumnScaler> = {};
  SCALED_COLUMNS.forEach((column, j) => {
    out[column] = fitColumnScaler(columns[j]!);
  });
  return Object.freeze(out);
}
