import { writeWindows } from '../features.js';
import { N_FEATURES, type ColumnScaler, type InferenceEngine, type SymbolScalers } from '../types.js';
import { historyFeatures } from './dataset.js';
import type { HistoryRow } from './history.js';

/** Mean |open[t-1] - open[t]| over rows t = from .. n-1: the naive "tomorrow = today's open" forecast. */
export function naiveMad(rows: readonly HistoryRow[], from: number): number {
  checkRange(rows, from);
  let sum = 0;
  for (let t = from; t < rows.length; t++) sum += Math.abs(rows[t - 1]!.open - rows[t]!.open);
  return sum / (rows.length - from);
}

/**
 * Mean |pred_open[t] - open[t]| over rows t = from .. n-1 in anchored mode (SPEC §5):
 * pred_open[t] = open[t-1] + scaled[t] * scale_(v_open) + mean_(v_open).
 */
export function anchoredMad(rows: readonly HistoryRow[], from: number, scaled: Float32Array, vOpen: ColumnScaler): number {
  checkRange(rows, from);
  if (scaled.length < rows.length) throw new RangeError(`anchoredMad: ${rows.length} rows need as many model outputs, got ${scaled.length}`);
  let sum = 0;
  for (let t = from; t < rows.length; t++) sum += Math.abs(rows[t - 1]!.open + (scaled[t]! * vOpen.scale + vOpen.mean) - rows[t]!.open);
  return sum / (rows.length - from);
}

function checkRange(rows: readonly HistoryRow[], from: number): void {
  if (!Number.isSafeInteger(from) || from < 1 || from >= rows.length) throw new RangeError(`rows ${from}..${rows.length - 1}: need 1 <= from < ${rows.length}`);
}

/** A model's scaled outputs for every row of one symbol (and the forecast), computed as the prediction engine does. */
export async function symbolOutputs(engine: InferenceEngine, scalers: SymbolScalers, rows: readonly HistoryRow[], seqLen: number): Promise<Float32Array> {
  const n = rows.length;
  const windows = new Float32Array((n + 1) * seqLen * N_FEATURES);
  writeWindows(historyFeatures(rows, scalers), n, seqLen, windows, 0);
  return engine.predict(windows, n + 1);
}
