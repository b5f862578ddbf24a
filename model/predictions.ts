import type { InputRow } from './csv-input.js';
import { civilFromDays, textAt, type InputTable } from './input-table.js';
import type { ColumnScaler, LoadedModel } from './types.js';

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

/** One symbol's predictions as columns over its rows of the parsed input table. */
export interface SymbolPredictionColumns {
  symbol: string;
  /** The symbol's first row in `PredictionTable.input`; n rows. */
  start: number;
  n: number;
  /** Scaled model outputs, n + 1 (the last is the forecast window's). */
  scaled: Float32Array;
  vOpen: Float64Array;
  predOpen: Float64Array;
  forecast: ForecastRow;
}

export interface PredictionTable {
  input: InputTable;
  symbols: SymbolPredictionColumns[];
}

/**
 * SPEC §5 on columns: the same numbers as symbolPredictions, computed in the same order. `prevOpen` is the open of
 * the row before a symbol's first (from the history): anchored mode predicts that row from it too.
 */
export function predictionTable(
  input: InputTable,
  batch: readonly { symbol: string; start: number; count: number; prevOpen?: number }[],
  scaled: Float32Array,
  model: LoadedModel,
  mode: PredictionMode,
): PredictionTable {
  const symbols: SymbolPredictionColumns[] = [];
  let first = 0;
  for (const b of batch) {
    const n = b.count;
    const s = model.scalers.symbols.get(b.symbol)!['v_open']!;
    const y = scaled.subarray(first, first + n + 1);
    first += n + 1;
    const vOpen = new Float64Array(n + 1);
    for (let t = 0; t <= n; t++) vOpen[t] = y[t]! * s.scale + s.mean;
    const predOpen = new Float64Array(n);
    const open = input.open;
    let integrated = open[b.start]!;
    for (let t = 0; t < n; t++) {
      if (t === 0) predOpen[t] = mode === 'anchored' && b.prevOpen !== undefined ? b.prevOpen + vOpen[0]! : open[b.start]!;
      else if (mode === 'anchored') predOpen[t] = open[b.start + t - 1]! + vOpen[t]!;
      else predOpen[t] = integrated += vOpen[t]!;
    }
    const lastDate = civilFromDays(input.day[b.start + n - 1]!);
    symbols.push({
      symbol: b.symbol,
      start: b.start,
      n,
      scaled: y,
      vOpen,
      predOpen,
      forecast: {
        symbol: b.symbol,
        lastDate,
        date: nextDay(lastDate),
        lastOpen: textAt(input.openText, b.start + n - 1),
        vOpenScaled: y[n]!,
        vOpen: vOpen[n]!,
        forecastOpen: open[b.start + n - 1]! + vOpen[n]!,
      },
    });
  }
  return { input, symbols };
}

/** The table as one object per row (what PredictionResult.predictions holds). */
export function predictionRows(table: PredictionTable): PredictionRow[] {
  const out: PredictionRow[] = [];
  for (const s of table.symbols) {
    for (let t = 0; t < s.n; t++) {
      const k = s.start + t;
      out.push({
        symbol: s.symbol,
        index: t,
        date: civilFromDays(table.input.day[k]!),
        valOpen: textAt(table.input.openText, k),
        predOpen: s.predOpen[t]!,
        vOpenScaled: s.scaled[t]!,
        vOpen: s.vOpen[t]!,
      });
    }
  }
  return out;
}
