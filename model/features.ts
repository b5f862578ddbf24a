import type { InputRow } from './csv-input.js';
import type { InputTable } from './input-table.js';
import { FEATURE_COLUMNS, N_FEATURES, type SymbolScalers } from './types.js';

/** One symbol's prices in date order, as the feature computation reads them. */
export interface PriceSeries {
  open: ArrayLike<number>;
  high: ArrayLike<number>;
  low: ArrayLike<number>;
  close: ArrayLike<number>;
  market: ArrayLike<number>;
}

/**
 * The 13 model features of one symbol's rows (ascending dates), SPEC §2, computed in float64 and
 * returned row-major [n, 13] as float32, the model's input type.
 */
export function symbolFeatures(rows: readonly InputRow[], scalers: SymbolScalers): Float32Array {
  const n = rows.length;
  const out = new Float32Array(n * N_FEATURES);
  const series: PriceSeries = {
    open: rows.map((r) => r.open),
    high: rows.map((r) => r.high),
    low: rows.map((r) => r.low),
    close: rows.map((r) => r.close),
    market: rows.map((r) => r.market),
  };
  writeFeatures(series, 0, n, scalers, out, 0);
  return out;
}

/** The features of rows [start, start + n) of a parsed table (one symbol's range), written at row `destRow` of `dest`. */
export function writeTableFeatures(table: InputTable, start: number, n: number, scalers: SymbolScalers, dest: Float32Array, destRow: number): void {
  writeFeatures(table, start, n, scalers, dest, destRow);
}

/** The features of rows [start, start + n) of any price series, written at row `destRow` of `dest`. */
export function writeFeatures(s: PriceSeries, start: number, n: number, scalers: SymbolScalers, out: Float32Array, destRow: number): void {
  const mean = new Float64Array(12);
  const scale = new Float64Array(12);
  for (let j = 0; j < 12; j++) {
    const c = scalers[FEATURE_COLUMNS[j]!]!;
    mean[j] = c.mean;
    scale[j] = c.scale;
  }
  const scaled = (v: number, j: number): number => {
    const x = (v - mean[j]!) / scale[j]!;
    return Number.isFinite(x) ? x : 0;
  };
  let p0 = 0;
  let p1 = 0;
  let p2 = 0;
  let p3 = 0;
  let p4 = 0;
  let p5 = 0;
  for (let t = 0; t < n; t++) {
    const i = start + t;
    const open = s.open[i]!;
    const high = s.high[i]!;
    const low = s.low[i]!;
    const close = s.close[i]!;
    const spread = high - low;
    const ratio = spread === 0 ? 0 : (close - low) / spread;
    let o = (destRow + t) * N_FEATURES;
    out[o++] = scaled(open, 0);
    out[o++] = scaled(high, 1);
    out[o++] = scaled(low, 2);
    out[o++] = scaled(close, 3);
    out[o++] = scaled(ratio, 4);
    out[o++] = scaled(spread, 5);
    const first = t === 0;
    out[o++] = scaled(first ? 0 : open - p0, 6);
    out[o++] = scaled(first ? 0 : high - p1, 7);
    out[o++] = scaled(first ? 0 : low - p2, 8);
    out[o++] = scaled(first ? 0 : close - p3, 9);
    out[o++] = scaled(first ? 0 : ratio - p4, 10);
    out[o++] = scaled(first ? 0 : spread - p5, 11);
    const logShares = Math.log(Math.ceil(s.market[i]! / close));
    out[o] = Number.isFinite(logShares) ? logShares : 0;
    p0 = open;
    p1 = high;
    p2 = low;
    p3 = close;
    p4 = ratio;
    p5 = spread;
  }
}

/**
 * Writes the model inputs of one symbol (SPEC §3) into `dest` at window `first`: window t (t = 0..n)
 * holds feature rows t-5..t-1, oldest first, zero rows before the symbol's first row; window n is the
 * forecast's. Returns the number of windows written (n + 1). `dest` must be zero-filled.
 */
export function writeWindows(features: Float32Array, n: number, seqLen: number, dest: Float32Array, first: number): number {
  const windowSize = seqLen * N_FEATURES;
  for (let t = 0; t <= n; t++) {
    const from = Math.max(0, t - seqLen);
    const pad = seqLen - (t - from);
    dest.set(features.subarray(from * N_FEATURES, t * N_FEATURES), (first + t) * windowSize + pad * N_FEATURES);
  }
  return n + 1;
}
