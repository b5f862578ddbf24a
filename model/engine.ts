import type { Readable } from 'node:stream';
import type { SymbolQuality, SymbolStatus } from '../shared/manifest.js';
import { escapePrintable } from '../shared/escape.js';
import { readInputCsv, type SymbolInput } from './csv-input.js';
import type { QualityPolicy } from './data-quality.js';
import { InputFileError } from './errors.js';
import { writeTableFeatures } from './features.js';
import type { InputLimits } from './input-limits.js';
import { predictionRows, predictionTable, type ForecastRow, type PredictionMode, type PredictionRow, type PredictionTable } from './predictions.js';
import { civilFromDays } from './input-table.js';
import { materializeWindows, type WindowBatch } from './window-batch.js';
import { N_FEATURES, type InferenceEngine, type LoadedModel } from './types.js';

export interface PredictOptions extends InputLimits {
  mode: PredictionMode;
  /** A symbol with impossible prices (see data-quality.ts) is reported ('flag', default) or also skipped ('skip'). */
  qualityPolicy?: QualityPolicy;
  /** The cold-start rule: a symbol without a scaler is reported with its history rows, against the rows its scaler needs. */
  coldStart?: ColdStart;
  /** Return an empty result when every symbol is skipped, instead of failing (a shard of a larger upload). */
  allowEmpty?: boolean;
}

export interface ColdStart {
  /** Rows a symbol needs in the history before `npm run model -- extend-scalers` fits its scalers. */
  minRows: number;
  /** Rows in the history of each symbol (with the day of its last row in the upload); asked once per run, for the unknown ones only. */
  historyRows(symbols: readonly { symbol: string; lastDay: number }[]): Promise<ReadonlyMap<string, number>>;
}

export interface PredictionResult {
  input: { sha256: string; bytes: number; rows: number };
  /** Built from `table` on first access; prefer `table` for large inputs. */
  readonly predictions: PredictionRow[];
  /** The predictions as columns: what predictionsCsv reads fastest. */
  table: PredictionTable;
  forecasts: ForecastRow[];
  /** One entry per distinct symbol, in order of first appearance. */
  symbols: SymbolStatus[];
  counts: { rows: number; symbols: number; predicted: number; skipped: number; predictionRows: number; windows: number };
  timingsMs: { parse: number; features: number; inference: number; predictions: number };
}

function qualityOf(entry: SymbolInput): SymbolQuality {
  return entry.quality ? { quality: entry.quality.issues, qualityIssues: entry.quality.count } : {};
}

function skipReason(entry: SymbolInput, model: LoadedModel, policy: QualityPolicy, cold?: { minRows: number; rows: ReadonlyMap<string, number> }): SymbolStatus | undefined {
  const base = { symbol: entry.symbol, rows: entry.rowCount };
  if (entry.problem) {
    const { row, column, reason } = entry.problem;
    return { ...base, status: 'skipped', reason: `row ${row}, column '${column}': ${reason}`, row, column };
  }
  if (!model.scalers.symbols.has(entry.symbol)) {
    if (cold) return { ...base, status: 'skipped', reason: `unknown symbol: no scaler yet (${cold.rows.get(entry.symbol) ?? 0} of ${cold.minRows} rows in history)`, ...qualityOf(entry) };
    return { ...base, status: 'skipped', reason: `unknown symbol: model version ${model.metadata.version} has no scaler for it`, ...qualityOf(entry) };
  }
  if (policy === 'skip' && entry.quality) {
    const { row, column, rule } = entry.quality.issues[0]!;
    const more = entry.quality.count > 1 ? ` (and ${entry.quality.count - 1} more)` : '';
    return { ...base, status: 'skipped', reason: `data quality: row ${row}, column '${column}': ${rule}${more}`, row, column, ...qualityOf(entry) };
  }
  return undefined;
}

/**
 * CSV in, predictions out (SPEC §1-5): parse, per-symbol features, every window of every symbol in one
 * batch through `inference`, then un-scaling. Knows nothing of queues or S3.
 */
export async function predictCsv(source: Readable, model: LoadedModel, inference: InferenceEngine, opts: PredictOptions): Promise<PredictionResult> {
  const seqLen = model.scalers.hypers.seqLen;
  const policy = opts.qualityPolicy ?? 'flag';
  const t0 = performance.now();
  const parsed = await readInputCsv(source, { maxLineBytes: opts.maxLineBytes, maxCells: opts.maxCells, maxBytes: opts.maxBytes });
  const t1 = performance.now();

  const symbols: SymbolStatus[] = [];
  const batch: SymbolInput[] = [];
  let featureRows = 0;
  const unknown = opts.coldStart ? parsed.symbols.filter((e) => !e.problem && !model.scalers.symbols.has(e.symbol)) : [];
  const cold = opts.coldStart && {
    minRows: opts.coldStart.minRows,
    rows: unknown.length === 0 ? new Map<string, number>() : await opts.coldStart.historyRows(unknown.map((e) => ({ symbol: e.symbol, lastDay: parsed.table.day[e.start + e.count - 1]! }))),
  };
  for (const entry of parsed.symbols) {
    const skipped = skipReason(entry, model, policy, cold);
    if (skipped) {
      symbols.push(skipped);
      continue;
    }
    const t = parsed.table;
    symbols.push({
      symbol: entry.symbol, status: 'ok', rows: entry.count,
      firstDate: civilFromDays(t.day[entry.start]!), lastDate: civilFromDays(t.day[entry.start + entry.count - 1]!), ...qualityOf(entry),
    });
    batch.push(entry);
    featureRows += entry.count;
  }
  if (batch.length === 0 && !opts.allowEmpty) {
    const reasons = symbols.slice(0, 5).map((s) => (s.status === 'skipped' ? `${s.symbol ? escapePrintable(s.symbol.slice(0, 24)) : '(empty)'}: ${s.reason}` : s.symbol));
    throw new InputFileError(`nothing to predict: all ${symbols.length} symbol(s) skipped (${reasons.join('; ')}${symbols.length > 5 ? '; ...' : ''})`);
  }
  // Shared memory: an engine's threads read the features where they are.
  const features = new Float32Array(new SharedArrayBuffer(featureRows * N_FEATURES * 4));
  const segments = new Int32Array(2 * batch.length);
  let row = 0;
  batch.forEach((entry, i) => {
    writeTableFeatures(parsed.table, entry.start, entry.count, model.scalers.symbols.get(entry.symbol)!, features, row);
    segments[2 * i] = row;
    segments[2 * i + 1] = entry.count;
    row += entry.count;
  });
  const windowBatch: WindowBatch = { features, segments, count: featureRows + batch.length };
  const shape = { seqLen, features: N_FEATURES };
  const t2 = performance.now();

  const scaled = batch.length === 0 ? new Float32Array(0) : inference.predictBatch
    ? await inference.predictBatch(windowBatch)
    : await inference.predict(materializeWindows(windowBatch, shape), windowBatch.count);
  const t3 = performance.now();

  const table = predictionTable(parsed.table, batch, scaled, model, opts.mode);
  const t4 = performance.now();
  const skipped = symbols.length - batch.length;
  const result = {
    input: { sha256: parsed.sha256, bytes: parsed.bytes, rows: parsed.rows },
    table,
    forecasts: table.symbols.map((s) => s.forecast),
    symbols,
    counts: { rows: parsed.rows, symbols: symbols.length, predicted: batch.length, skipped, predictionRows: featureRows, windows: windowBatch.count },
    timingsMs: { parse: t1 - t0, features: t2 - t1, inference: t3 - t2, predictions: t4 - t3 },
  };
  let rows: PredictionRow[] | undefined;
  // Built on first access only: the CSV writer reads the table, an object per row costs ~200 bytes.
  return Object.defineProperty(result, 'predictions', { enumerable: true, get: () => (rows ??= predictionRows(table)) }) as PredictionResult;
}
