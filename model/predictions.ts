import type { InputRow } from './csv-input.js';
import type { ColumnScaler } from './types.js';

export type PredictionMode = 'anchored' | 'integrated';
export const PREDICTION_MODES: readonly PredictionMode[] = ['anchored', 'integrated'];

/** One row of the predictions file: the frontend reads symbol, index, date, pred_open and val_open. */
export interface PredictionRow {
  symbol: string;
  index: number;
  date: string;
  /** The input's `open` text, unchanged. */
  valOpen: string;
  predOpen: number;
  vOpenScaled: number;
  vOpen: number;
}

export interface ForecastRow {
  symbol: string;
  lastDate: string;
  date: string;
  lastOpen: string;
  vOpenScaled: number;
  vOpen: number;
  forecastOpen: number;
}

/** `date` plus one day, both ISO `YYYY-MM-DD`. */
export function nextDay(date: string): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

/**
 * SPEC §5: un-scales the model's outputs for one symbol (`scaled` has n + 1 values, the last being the
 * forecast window's) and derives pred_open in the chosen mode, plus the next-day forecast.
 */
export function symbolPredictions(
  symbol: string,
  rows: readonly InputRow[],
  scaled: Float32Array,
  vOpenScaler: ColumnScaler,
  mode: PredictionMode,
): { predictions: PredictionRow[]; forecast: ForecastRow } {
  const n = rows.length;
  if (scaled.length !== n + 1) throw new Error(`${symbol}: expected ${n + 1} model outputs, got ${scaled.length}`);
  const v = Array.from(scaled, (y) => y * vOpenScaler.scale + vOpenScaler.mean);
  const predictions: PredictionRow[] = [];
  let integrated = rows[0].open;
  for (let t = 0; t < n; t++) {
    let predOpen: number;
    if (t === 0) predOpen = rows[0].open;
    else if (mode === 'anchored') predOpen = rows[t - 1].open + v[t];
    else predOpen = integrated += v[t];
    predictions.push({ symbol, index: t, date: rows[t].date, valOpen: rows[t].openText, predOpen, vOpenScaled: scaled[t], vOpen: v[t] });
  }
  const last = rows[n - 1];
  return {
    predictions,
    forecast: {
      symbol,
      lastDate: last.date,
      date: nextDay(last.date),
      lastOpen: last.openText,
      vOpenScaled: scaled[n],
      vOpen: v[n],
      forecastOpen: last.open + v[n],
    },
  };
}
