import type { Readable } from 'node:stream';
import type { SymbolHistory, SymbolQuality, SymbolStatus } from '../shared/manifest.js';
import { escapePrintable } from '../shared/escape.js';
import { readInputCsv, type ParsedInput, type SymbolInput } from './csv-input.js';
import type { QualityPolicy } from './data-quality.js';
import { InputFileError } from './errors.js';
import { writeFeatures, type PriceSeries } from './features.js';
import type { InputLimits } from './input-limits.js';
import { nextDay, predictionRows, predictionTable, type ForecastRow, type PredictionMode, type PredictionRow, type PredictionTable } from './predictions.js';
import { civilFromDays } from './input-table.js';
import { materializeWindows, type WindowBatch } from './window-batch.js';
import { N_FEATURES, type InferenceEngine, type LoadedModel, type SymbolScalers } from './types.js';

/** One earlier row of a symbol, as the history holds it (worker/runtime/history.ts HistoryRow has these fields). */
export interface PriorRow {
  /** Days since 1970-01-01. */
  day: number;
  open: number;
  high: number;
  low: number;
  close: number;
  market: number;
  /** The open as its upload wrote it. */
  openText: string;
}

/**
 * The rows before an upload: given each predicted symbol's first uploaded day, the last `need` rows of that symbol
 * dated before it (ascending), none for a symbol without history. The engine asks once per upload.
 */
export type PriorLoader = (firstDays: ReadonlyMap<string, number>, need: number) => Promise<ReadonlyMap<string, readonly PriorRow[]>>;

export interface PredictOptions extends InputLimits {
  mode: PredictionMode;
  /** A symbol with impossible prices (see data-quality.ts) is reported ('flag', default) or also skipped ('skip'). */
  qualityPolicy?: QualityPolicy;
  /**
   * Where the windows' lead rows come from when the upload lacks them (the history). Without it, or for a symbol it
   * has nothing for, positions before the symbol's first row are zero rows (SPEC §3).
   */
  prior?: PriorLoader;
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

function skipReason(
  entry: SymbolInput,
  model: LoadedModel,
  policy: QualityPolicy,
  cold?: { minRows: number; rows: ReadonlyMap<string, number> },
): SymbolStatus | undefined {
  const base = { symbol: entry.symbol, rows: entry.rowCount };
  if (entry.problem) {
    const { row, column, reason } = entry.problem;
    return { ...base, status: 'skipped', reason: `row ${row}, column '${column}': ${reason}`, row, column };
  }
  if (!model.scalers.symbols.has(entry.symbol)) {
    if (cold)
      return {
        ...base,
        status: 'skipped',
        reason: `unknown symbol: no scaler yet (${cold.rows.get(entry.symbol) ?? 0} of ${cold.minRows} rows in history)`,
        ...qualityOf(entry),
      };
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
 * One symbol's rows [start, start + total) of `series`, of which the first `lead` only feed windows (rows from the
 * history): windows are made for t = lead..total, the last being the forecast's.
 */
interface SeriesJob {
  scalers: SymbolScalers;
  series: PriceSeries;
  start: number;
  total: number;
  lead: number;
}

/**
 * Runs the windows of every job through `inference` in one batch: per job `total - lead + 1` scaled outputs, job
 * after job. A job's segment starts `seqLen` rows before its first window at most, so history costs up to `seqLen`
 * extra windows a symbol (their outputs are dropped), and the window layout stays the engines' (SPEC §3 padding).
 */
async function inferJobs(jobs: readonly SeriesJob[], seqLen: number, inference: InferenceEngine): Promise<{ scaled: Float32Array; windows: number }> {
  // A shard whose symbols were all skipped (allowEmpty) has nothing to infer.
  if (jobs.length === 0) return { scaled: new Float32Array(0), windows: 0 };
  let featureRows = 0;
  const firsts = jobs.map((j) => Math.max(0, j.lead - seqLen));
  jobs.forEach((j, i) => (featureRows += j.total - firsts[i]!));
  // Shared memory: an engine's threads read the features where they are.
  const features = new Float32Array(new SharedArrayBuffer(featureRows * N_FEATURES * 4));
  const segments = new Int32Array(2 * jobs.length);
  let row = 0;
  let anyLead = false;
  jobs.forEach((j, i) => {
    const s0 = firsts[i]!;
    if (j.lead === 0) writeFeatures(j.series, j.start, j.total, j.scalers, features, row);
    else {
      anyLead = true;
      // Differences need the row before: computed from the first lead row, then only the windows' rows kept.
      const scratch = new Float32Array(j.total * N_FEATURES);
      writeFeatures(j.series, j.start, j.total, j.scalers, scratch, 0);
      features.set(scratch.subarray(s0 * N_FEATURES), row * N_FEATURES);
    }
    segments[2 * i] = row;
    segments[2 * i + 1] = j.total - s0;
    row += j.total - s0;
  });
  const windowBatch: WindowBatch = { features, segments, count: featureRows + jobs.length };
  const out = inference.predictBatch
    ? await inference.predictBatch(windowBatch)
    : await inference.predict(materializeWindows(windowBatch, { seqLen, features: N_FEATURES }), windowBatch.count);
  if (!anyLead) return { scaled: out, windows: windowBatch.count };
  let kept = 0;
  for (const j of jobs) kept += j.total - j.lead + 1;
  const scaled = new Float32Array(kept);
  let from = 0;
  let to = 0;
  jobs.forEach((j, i) => {
    const windows = j.total - firsts[i]! + 1;
    const keep = j.total - j.lead + 1;
    scaled.set(out.subarray(from + windows - keep, from + windows), to);
    from += windows;
    to += keep;
  });
  return { scaled, windows: windowBatch.count };
}

/** Prior rows followed by rows [start, start + count) of the parsed table, as one series. */
function joinedSeries(prior: readonly PriorRow[], table: PriceSeries, start: number, count: number): PriceSeries {
  const col = (pick: (r: PriorRow) => number, own: ArrayLike<number>): Float64Array => {
    const a = new Float64Array(prior.length + count);
    prior.forEach((r, i) => (a[i] = pick(r)));
    for (let i = 0; i < count; i++) a[prior.length + i] = own[start + i]!;
    return a;
  };
  return {
    open: col((r) => r.open, table.open),
    high: col((r) => r.high, table.high),
    low: col((r) => r.low, table.low),
    close: col((r) => r.close, table.close),
    market: col((r) => r.market, table.market),
  };
}

const seriesOf = (rows: readonly PriorRow[]): PriceSeries => ({
  open: rows.map((r) => r.open),
  high: rows.map((r) => r.high),
  low: rows.map((r) => r.low),
  close: rows.map((r) => r.close),
  market: rows.map((r) => r.market),
});

/** Step 1 of predictCsv: the upload parsed and validated (what the worker also adds to the history). */
export function parseUpload(source: Readable, opts: InputLimits): Promise<ParsedInput> {
  return readInputCsv(source, { maxLineBytes: opts.maxLineBytes, maxCells: opts.maxCells, maxBytes: opts.maxBytes });
}

/**
 * CSV in, predictions out (SPEC §1-5): parse, per-symbol features, every window of every symbol in one
 * batch through `inference`, then un-scaling. Knows nothing of queues or S3.
 */
export async function predictCsv(source: Readable, model: LoadedModel, inference: InferenceEngine, opts: PredictOptions): Promise<PredictionResult> {
  const t0 = performance.now();
  const parsed = await parseUpload(source, opts);
  return predictParsed(parsed, model, inference, opts, performance.now() - t0);
}

/**
 * Step 2: predictions of a parsed upload. With `opts.prior`, each predicted symbol's windows take their lead rows from
 * the rows before its first uploaded day; the predictions still cover the uploaded rows only (index 0..k-1), anchored
 * pred_open of the first one is the previous open plus its change, and integrated mode anchors at the first uploaded
 * row. The manifest's per-symbol `history` says how many rows came from there, and any gap.
 */
export async function predictParsed(
  parsed: ParsedInput,
  model: LoadedModel,
  inference: InferenceEngine,
  opts: PredictOptions,
  parseMs = 0,
): Promise<PredictionResult> {
  const seqLen = model.scalers.hypers.seqLen;
  const policy = opts.qualityPolicy ?? 'flag';
  const t1 = performance.now();
  const t = parsed.table;

  const symbols: SymbolStatus[] = [];
  const batch: SymbolInput[] = [];
  const okStatus: Extract<SymbolStatus, { status: 'ok' }>[] = [];
  let featureRows = 0;
  const unknown = opts.coldStart ? parsed.symbols.filter((e) => !e.problem && !model.scalers.symbols.has(e.symbol)) : [];
  const cold = opts.coldStart && {
    minRows: opts.coldStart.minRows,
    rows:
      unknown.length === 0
        ? new Map<string, number>()
        : await opts.coldStart.historyRows(unknown.map((e) => ({ symbol: e.symbol, lastDay: parsed.table.day[e.start + e.count - 1]! }))),
  };
  for (const entry of parsed.symbols) {
    const skipped = skipReason(entry, model, policy, cold);
    if (skipped) {
      symbols.push(skipped);
      continue;
    }
    const status: Extract<SymbolStatus, { status: 'ok' }> = {
      symbol: entry.symbol,
      status: 'ok',
      rows: entry.count,
      firstDate: civilFromDays(t.day[entry.start]!),
      lastDate: civilFromDays(t.day[entry.start + entry.count - 1]!),
      ...qualityOf(entry),
    };
    symbols.push(status);
    okStatus.push(status);
    batch.push(entry);
    featureRows += entry.count;
  }
  if (batch.length === 0 && !opts.allowEmpty) {
    const reasons = symbols
      .slice(0, 5)
      .map((s) => (s.status === 'skipped' ? `${s.symbol ? escapePrintable(s.symbol.slice(0, 24)) : '(empty)'}: ${s.reason}` : s.symbol));
    throw new InputFileError(`nothing to predict: all ${symbols.length} symbol(s) skipped (${reasons.join('; ')}${symbols.length > 5 ? '; ...' : ''})`);
  }
  // The notebook's windows need seqLen rows of features, and the first of those a row before it for its differences.
  const need = seqLen + 1;
  const prior = opts.prior ? await opts.prior(new Map(batch.map((e) => [e.symbol, t.day[e.start]!])), need) : undefined;
  const prevOpen: (number | undefined)[] = [];
  const jobs: SeriesJob[] = batch.map((entry, i) => {
    const scalers = model.scalers.symbols.get(entry.symbol)!;
    const rows = (prior?.get(entry.symbol) ?? []).slice(-need);
    if (prior) okStatus[i]!.history = historyOf(rows, t.day[entry.start]!, entry.count, need);
    prevOpen.push(rows.at(-1)?.open);
    if (rows.length === 0) return { scalers, series: t, start: entry.start, total: entry.count, lead: 0 };
    return { scalers, series: joinedSeries(rows, t, entry.start, entry.count), start: 0, total: rows.length + entry.count, lead: rows.length };
  });
  const t2 = performance.now();

  const { scaled, windows } = await inferJobs(jobs, seqLen, inference);
  const t3 = performance.now();

  const table = predictionTable(
    parsed.table,
    batch.map((e, i) => ({ symbol: e.symbol, start: e.start, count: e.count, prevOpen: prevOpen[i] })),
    scaled,
    model,
    opts.mode,
  );
  const t4 = performance.now();
  const skipped = symbols.length - batch.length;
  const result = {
    input: { sha256: parsed.sha256, bytes: parsed.bytes, rows: parsed.rows },
    table,
    forecasts: table.symbols.map((s) => s.forecast),
    symbols,
    counts: { rows: parsed.rows, symbols: symbols.length, predicted: batch.length, skipped, predictionRows: featureRows, windows },
    timingsMs: { parse: parseMs, features: t2 - t1, inference: t3 - t2, predictions: t4 - t3 },
  };
  let rows: PredictionRow[] | undefined;
  // Built on first access only: the CSV writer reads the table, an object per row costs ~200 bytes.
  return Object.defineProperty(result, 'predictions', { enumerable: true, get: () => (rows ??= predictionRows(table)) }) as PredictionResult;
}

/** What the history gave a symbol's windows: rows, the last one's date, a gap over one day, fewer than `need` rows in all. */
function historyOf(rows: readonly PriorRow[], firstDay: number, uploaded: number, need: number): SymbolHistory {
  const last = rows.at(-1);
  return {
    rows: rows.length,
    ...(last ? { lastDate: civilFromDays(last.day) } : {}),
    ...(last && firstDay - last.day > 1 ? { gapDays: firstDay - last.day } : {}),
    ...(rows.length + uploaded < need ? { fewerThanNeeded: true } : {}),
  };
}

/** One symbol's rows for predictSeries: `rows` ascending, the first `lead` of them context only. */
export interface SeriesInput {
  symbol: string;
  rows: readonly PriorRow[];
  lead: number;
}

/** One-step-ahead predictions of rows lead..n-1 of a series (anchored), and the forecast after its last row. */
export interface SeriesPrediction {
  symbol: string;
  /** The rows predicted (rows[lead..]). */
  rows: readonly PriorRow[];
  /** pred_open of each predicted row: the previous row's open plus the predicted change (its own open for a first row). */
  predOpen: Float64Array;
  forecast: ForecastRow;
}

/**
 * Predictions from rows already known (the history): the forecast command (lead = n: the forecast only) and the
 * daily file (the one-step-ahead prediction of each of the last days). Symbols without a scaler are returned apart.
 */
export async function predictSeries(
  inputs: readonly SeriesInput[],
  model: LoadedModel,
  inference: InferenceEngine,
): Promise<{ predictions: SeriesPrediction[]; unknown: string[]; windows: number }> {
  const known = inputs.filter((s) => s.rows.length > 0 && model.scalers.symbols.has(s.symbol));
  const unknown = inputs.filter((s) => s.rows.length > 0 && !model.scalers.symbols.has(s.symbol)).map((s) => s.symbol);
  if (known.length === 0) return { predictions: [], unknown, windows: 0 };
  const jobs = known.map((s) => ({ scalers: model.scalers.symbols.get(s.symbol)!, series: seriesOf(s.rows), start: 0, total: s.rows.length, lead: s.lead }));
  const { scaled, windows } = await inferJobs(jobs, model.scalers.hypers.seqLen, inference);
  const predictions: SeriesPrediction[] = [];
  let k = 0;
  for (const s of known) {
    const v = model.scalers.symbols.get(s.symbol)!['v_open']!;
    const n = s.rows.length;
    const predOpen = new Float64Array(n - s.lead);
    for (let t = s.lead; t < n; t++, k++) predOpen[t - s.lead] = t === 0 ? s.rows[0]!.open : s.rows[t - 1]!.open + (scaled[k]! * v.scale + v.mean);
    const y = scaled[k++]!;
    const last = s.rows[n - 1]!;
    const lastDate = civilFromDays(last.day);
    const vOpen = y * v.scale + v.mean;
    predictions.push({
      symbol: s.symbol,
      rows: s.rows.slice(s.lead),
      predOpen,
      forecast: { symbol: s.symbol, lastDate, date: nextDay(lastDate), lastOpen: last.openText, vOpenScaled: y, vOpen, forecastOpen: last.open + vOpen },
    });
  }
  return { predictions, unknown, windows };
}
