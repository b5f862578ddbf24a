import type { Readable } from 'node:stream';
import type { SymbolStatus } from '../shared/manifest.js';
import { readInputCsv, type SymbolInput } from './csv-input.js';
import { InputFileError } from './errors.js';
import { symbolFeatures, writeWindows } from './features.js';
import { symbolPredictions, type ForecastRow, type PredictionMode, type PredictionRow } from './predictions.js';
import { N_FEATURES, type InferenceEngine, type LoadedModel } from './types.js';

export interface PredictOptions {
  mode: PredictionMode;
}

export interface PredictionResult {
  input: { sha256: string; bytes: number; rows: number };
  predictions: PredictionRow[];
  forecasts: ForecastRow[];
  /** One entry per distinct symbol, in order of first appearance. */
  symbols: SymbolStatus[];
  counts: { rows: number; symbols: number; predicted: number; skipped: number; predictionRows: number; windows: number };
  timingsMs: { parse: number; features: number; inference: number; predictions: number };
}

function skipReason(entry: SymbolInput, model: LoadedModel): SymbolStatus | undefined {
  const base = { symbol: entry.symbol, rows: entry.rowCount };
  if (entry.problem) {
    const { row, column, reason } = entry.problem;
    return { ...base, status: 'skipped', reason: `row ${row}, column '${column}': ${reason}`, row, column };
  }
  if (!model.scalers.symbols.has(entry.symbol)) {
    return { ...base, status: 'skipped', reason: `unknown symbol: model version ${model.metadata.version} has no scaler for it` };
  }
  return undefined;
}

/**
 * CSV in, predictions out (SPEC §1-5): parse, per-symbol features, every window of every symbol in one
 * batch through `inference`, then un-scaling. Knows nothing of queues or S3.
 */
export async function predictCsv(source: Readable, model: LoadedModel, inference: InferenceEngine, opts: PredictOptions): Promise<PredictionResult> {
  const seqLen = model.scalers.hypers.seqLen;
  const t0 = performance.now();
  const parsed = await readInputCsv(source);
  const t1 = performance.now();

  const symbols: SymbolStatus[] = [];
  const batch: { entry: SymbolInput; first: number; features: Float32Array }[] = [];
  let windows = 0;
  for (const entry of parsed.symbols) {
    const skipped = skipReason(entry, model);
    if (skipped) {
      symbols.push(skipped);
      continue;
    }
    symbols.push({ symbol: entry.symbol, status: 'ok', rows: entry.rows.length, firstDate: entry.rows[0].date, lastDate: entry.rows.at(-1)!.date });
    batch.push({ entry, first: windows, features: symbolFeatures(entry.rows, model.scalers.symbols.get(entry.symbol)!) });
    windows += entry.rows.length + 1;
  }
  if (batch.length === 0) {
    const reasons = symbols.slice(0, 5).map((s) => (s.status === 'skipped' ? `${s.symbol || '(empty)'}: ${s.reason}` : s.symbol));
    throw new InputFileError(`nothing to predict: all ${symbols.length} symbol(s) skipped (${reasons.join('; ')}${symbols.length > 5 ? '; ...' : ''})`);
  }
  const inputs = new Float32Array(windows * seqLen * N_FEATURES);
  for (const b of batch) writeWindows(b.features, b.entry.rows.length, seqLen, inputs, b.first);
  const t2 = performance.now();

  const scaled = await inference.predict(inputs, windows);
  const t3 = performance.now();

  const predictions: PredictionRow[] = [];
  const forecasts: ForecastRow[] = [];
  for (const b of batch) {
    const n = b.entry.rows.length;
    const vOpen = model.scalers.symbols.get(b.entry.symbol)!['v_open'];
    const out = symbolPredictions(b.entry.symbol, b.entry.rows, scaled.subarray(b.first, b.first + n + 1), vOpen, opts.mode);
    for (const row of out.predictions) predictions.push(row);
    forecasts.push(out.forecast);
  }
  const t4 = performance.now();
  const skipped = symbols.length - batch.length;
  return {
    input: { sha256: parsed.sha256, bytes: parsed.bytes, rows: parsed.rows },
    predictions,
    forecasts,
    symbols,
    counts: { rows: parsed.rows, symbols: symbols.length, predicted: batch.length, skipped, predictionRows: predictions.length, windows },
    timingsMs: { parse: t1 - t0, features: t2 - t1, inference: t3 - t2, predictions: t4 - t3 },
  };
}
