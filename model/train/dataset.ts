import type { InputRow } from '../csv-input.js';
import { symbolFeatures } from '../features.js';
import { N_FEATURES, SCALED_COLUMNS, type SymbolScalers } from '../types.js';
import { TrainingInputError, checkSymbolRows, type HistoryRow, type SymbolHistories } from './history.js';
import { fitSymbolScalers } from './scaler-fit.js';

const TARGET = SCALED_COLUMNS.indexOf('v_open');

/**
 * model/features.ts reads only the numeric columns of its rows (open, high, low, close, market), which
 * a HistoryRow has; the inference path's own row type also carries the CSV position and text.
 */
export function historyFeatures(rows: readonly HistoryRow[], scalers: SymbolScalers): Float32Array {
  return symbolFeatures(rows as unknown as readonly InputRow[], scalers);
}

export interface SymbolSplit {
  symbol: string;
  rows: readonly HistoryRow[];
  /** Rows [0, trainRows) fit the scalers and give the training targets; the rest are the validation hold-out. */
  trainRows: number;
  /** Fitted on the training rows. */
  scalers: SymbolScalers;
  /** Index of the symbol's first row in TrainingSet.features. */
  offset: number;
}

/**
 * Every symbol's scaled features one after another, and the samples: a sample is a global row index g whose
 * target is the scaled `v_open` of that row and whose window is the symbol's rows g-seqLen .. g-1 (SPEC §3,
 * zero rows before the symbol's first).
 */
export interface TrainingSet {
  seqLen: number;
  /** [rows, N_FEATURES] float32, as the inference engine computes them. */
  features: Float32Array;
  symbols: SymbolSplit[];
  /** Training samples: rows 1 .. trainRows-1 of each symbol (row 0 has no previous day: its v_open is 0 by definition, not a change). */
  train: Uint32Array;
  validation: Uint32Array;
  /** For each global row, the index of its symbol's first row (where the zero padding starts). */
  rowStart: Uint32Array;
}

export interface TrainingSetOptions {
  seqLen: number;
  /** The last `validationRows` rows of each symbol (0: no validation). */
  validationRows: number;
}

export function buildTrainingSet(histories: SymbolHistories, opts: TrainingSetOptions): TrainingSet {
  if (!Number.isSafeInteger(opts.validationRows) || opts.validationRows < 0) {
    throw new TrainingInputError(`validationRows must be a non-negative integer; got ${opts.validationRows}`);
  }
  if (histories.size === 0) throw new TrainingInputError('no symbol to train on');
  const symbols: SymbolSplit[] = [];
  let total = 0;
  for (const symbol of [...histories.keys()].sort()) {
    const rows = histories.get(symbol)!;
    // At least two training rows (one target) besides the hold-out.
    checkSymbolRows(symbol, rows, opts.validationRows + 2);
    const trainRows = rows.length - opts.validationRows;
    symbols.push({ symbol, rows, trainRows, scalers: fitSymbolScalers(rows.slice(0, trainRows), symbol), offset: total });
    total += rows.length;
  }
  const features = new Float32Array(total * N_FEATURES);
  const rowStart = new Uint32Array(total);
  const train: number[] = [];
  const validation: number[] = [];
  for (const s of symbols) {
    features.set(historyFeatures(s.rows, s.scalers), s.offset * N_FEATURES);
    rowStart.fill(s.offset, s.offset, s.offset + s.rows.length);
    for (let t = 1; t < s.trainRows; t++) train.push(s.offset + t);
    for (let t = s.trainRows; t < s.rows.length; t++) validation.push(s.offset + t);
  }
  return { seqLen: opts.seqLen, features, symbols, train: Uint32Array.from(train), validation: Uint32Array.from(validation), rowStart };
}

/** The sample's target: the scaled `v_open` of its row. */
export function targetOf(set: TrainingSet, g: number): number {
  return set.features[g * N_FEATURES + TARGET]!;
}

/**
 * Writes samples `samples[from .. from + n)` time-major into `x` ([seqLen, n, N_FEATURES], step t of window i
 * at (t * n + i)) and their targets into `y`. `x` is overwritten entirely (padding rows are zeroed).
 */
export function writeBatch(set: TrainingSet, samples: ArrayLike<number>, from: number, n: number, x: Float32Array, y: Float32Array): void {
  const { seqLen, features, rowStart } = set;
  for (let i = 0; i < n; i++) {
    const g = samples[from + i]!;
    y[i] = targetOf(set, g);
    for (let t = 0; t < seqLen; t++) {
      const src = g - seqLen + t;
      const at = (t * n + i) * N_FEATURES;
      if (src >= rowStart[g]!) x.set(features.subarray(src * N_FEATURES, (src + 1) * N_FEATURES), at);
      else x.fill(0, at, at + N_FEATURES);
    }
  }
}
