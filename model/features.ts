import type { InputRow } from './csv-input.js';
import { FEATURE_COLUMNS, N_FEATURES, type SymbolScalers } from './types.js';

const BASE = ['open', 'high', 'low', 'close', 'close_ratio', 'spread'] as const;

/**
 * The 13 model features of one symbol's rows (ascending dates), SPEC §2, computed in float64 and
 * returned row-major [n, 13] as float32, the model's input type.
 */
export function symbolFeatures(rows: readonly InputRow[], scalers: SymbolScalers): Float32Array {
  const n = rows.length;
  const out = new Float32Array(n * N_FEATURES);
  const base = new Float64Array(BASE.length);
  const prev = new Float64Array(BASE.length);
  const raw = new Float64Array(N_FEATURES);
  const mean = new Float64Array(12);
  const scale = new Float64Array(12);
  for (let j = 0; j < 12; j++) {
    const s = scalers[FEATURE_COLUMNS[j]];
    mean[j] = s.mean;
    scale[j] = s.scale;
  }
  for (let t = 0; t < n; t++) {
    const r = rows[t];
    const spread = r.high - r.low;
    base[0] = r.open;
    base[1] = r.high;
    base[2] = r.low;
    base[3] = r.close;
    base[4] = spread === 0 ? 0 : (r.close - r.low) / spread;
    base[5] = spread;
    for (let j = 0; j < 6; j++) {
      raw[j] = base[j];
      raw[6 + j] = t === 0 ? 0 : base[j] - prev[j];
      prev[j] = base[j];
    }
    for (let j = 0; j < 12; j++) {
      const v = (raw[j] - mean[j]) / scale[j];
      out[t * N_FEATURES + j] = Number.isFinite(v) ? v : 0;
    }
    const logShares = Math.log(Math.ceil(r.market / r.close));
    out[t * N_FEATURES + 12] = Number.isFinite(logShares) ? logShares : 0;
  }
  return out;
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
