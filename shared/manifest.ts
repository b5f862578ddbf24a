import { createHash } from 'node:crypto';
import type { Disposition, FailureKind } from './failures.js';

/** The S3 object a run read: enough to fetch exactly the same bytes again. */
export interface RunInput {
  bucket: string;
  key: string;
  /** Set where the bucket is versioned (AWS); the local S3 server has none. */
  versionId: string | null;
  etag: string;
  sha256: string;
  bytes: number;
}

export interface OutputObject {
  key: string;
  sha256: string;
  bytes: number;
}

/** An obviously impossible value in an input row (a negative price, high < low, ...), located in the file. */
export interface QualityIssue {
  /** CSV record number, the header being record 1. */
  row: number;
  column: string;
  /** The rule the row breaks, e.g. "high < low". */
  rule: string;
}

/**
 * Data-quality findings of one symbol, present only when there are some: the first few issues, in file order,
 * and how many there are in all.
 */
export interface SymbolQuality {
  quality?: QualityIssue[];
  qualityIssues?: number;
}

/**
 * What the history gave a predicted symbol's windows (present when the run read the history): how many earlier rows,
 * the last one's date, the gap in days between it and the first uploaded row when over one day, and whether the
 * symbol had fewer rows in all than a window needs (zero padding, SPEC §3).
 */
export interface SymbolHistory {
  rows: number;
  lastDate?: string;
  gapDays?: number;
  fewerThanNeeded?: true;
}

export type SymbolStatus =
  | ({ symbol: string; status: 'ok'; rows: number; firstDate: string; lastDate: string; history?: SymbolHistory } & SymbolQuality)
  | ({ symbol: string; status: 'skipped'; rows: number; reason: string; row?: number; column?: string } & SymbolQuality);

/** `runs/<run-id>/manifest.json`: what produced a prediction. Written last; its presence marks a complete run. */
export interface RunManifest {
  schema: 'crypto-open-fleet/run-manifest/1';
  runId: string;
  status: 'succeeded';
  input: RunInput;
  event: { eventTime: string; sequencer: string; eventName: string };
  counts: { rows: number; symbols: number; predicted: number; skipped: number; predictionRows: number };
  symbols: SymbolStatus[];
  model: { version: string; sources: { h5: string; scaler: string }; kerasVersion: string };
  /** The model version's feature config (the pickle's model_hypers) and the prediction mode. */
  features: { datCols: string[]; featCols: string[]; targetCol: string; seqLen: number; batchSize: number; mode: 'anchored' | 'integrated' };
  /**
   * The code that ran: the image reference (`<repository>:git-<commit>@sha256:<digest>` on AWS), its git commit and
   * its digest (null where no image ran, as locally).
   */
  code: { version: string; commit: string; imageDigest: string | null };
  worker: { id: string; host: string; receiveCount: number; backend: string; engine: string };
  timings: Record<string, number>;
  startedAt: string;
  finishedAt: string;
  /**
   * The run's immutable copies and the `predictions/...` objects it replaced, each with its sha256.
   * `published` is null when a newer upload of the same key had arrived, whose run owns `predictions/...`.
   */
  outputs: { preds: OutputObject; forecast: OutputObject; published: { preds: OutputObject; forecast: OutputObject } | null; daily?: HistoryObject };
  /** A sharded run: every shard, with its manifest (`runs/<run-id>/shards/<i>/manifest.json`). */
  shards?: { shard: number; symbols: number; input: OutputObject; manifest: OutputObject; worker: string; model: string }[];
  /** The history segments whose rows fed the windows (`read`) and the ones this run added (`written`). */
  history?: { read: HistoryObject[]; written: HistoryObject[] };
}

/** An object of the history (or the daily file) as a run saw it: its key and ETag (and version where versioned). */
export interface HistoryObject {
  key: string;
  etag: string;
  versionId?: string;
}

/** `runs/<run-id>/error.json`: why a run failed and what became of its message (`disposition`). */
export interface RunError {
  schema: 'crypto-open-fleet/run-error/1';
  runId: string;
  input: Partial<RunInput> & { bucket: string; key: string };
  event?: { eventTime: string; sequencer: string; eventName: string };
  /** `retry` records are written on the last attempt only, before the queue's redrive policy moves the message. */
  error: { kind: FailureKind; disposition: Disposition; message: string };
  /** The history segments a failed run still added (an upload of only symbols without scalers). */
  history?: { read: HistoryObject[]; written: HistoryObject[] };
  worker: { id: string; receiveCount: number };
  at: string;
}

export interface RunIdParts {
  bucket: string;
  key: string;
  /** Object version where the bucket is versioned, else the ETag. */
  versionOrEtag: string;
  sequencer: string;
  /** ISO event time: makes run folders sort by upload time. */
  eventTime: string;
}

/**
 * A redelivered message maps to the same run; a new upload of the same bytes (new sequencer) is a new run.
 * Form: `<yyyymmddThhmmssZ>-<16 hex>`.
 */
export function runIdOf(p: RunIdParts): string {
  const stamp = new Date(p.eventTime).toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
  const digest = createHash('sha256')
    .update(JSON.stringify([p.bucket, p.key, p.versionOrEtag, p.sequencer]))
    .digest('hex');
  return `${stamp}-${digest.slice(0, 16)}`;
}

/** `status/<hash>.json` (shared/layout.ts uploadStatusKey): the latest outcome of one upload's run. */
export interface UploadStatus {
  schema: 'crypto-open-fleet/upload-status/1';
  bucket: string;
  key: string;
  versionId: string | null;
  etag: string;
  runId: string;
  /** `partial` while some shards of a sharded run are missing. */
  status: 'succeeded' | 'failed' | 'partial';
  /** The failure's kind and reason when `failed`. */
  error?: { kind: FailureKind; disposition: Disposition; message: string };
  /** When `partial`: the shards that ended in the DLQ and their symbols (a redrive of them completes the run). */
  missing?: { shards: number[]; symbols: string[] };
  at: string;
}

/** `{"command":"forecast","asOf":"YYYY-MM-DD"}` on the work queue; `asOf` absent means the history's latest day. */
export interface ForecastCommand {
  command: 'forecast';
  asOf?: string;
}

/** `runs/<forecast run id>/manifest.json`: what a forecast command read and wrote. */
export interface ForecastManifest {
  schema: 'crypto-open-fleet/forecast-manifest/1';
  runId: string;
  status: 'succeeded';
  command: ForecastCommand;
  /** The day forecast from, and the day forecast (asOf + 1). */
  asOf: string;
  forecastDate: string;
  /**
   * Set when the command named no day and the history's latest day is older than the day that closed before the
   * command was sent: that day's upload had not landed, so the forecast is from the previous day(s).
   */
  fromPreviousDay?: { expectedAsOf: string; latestInHistory: string };
  counts: { symbols: number; forecast: number; skipped: number };
  /** Symbols forecast from a row older than asOf: the gap in days. */
  gaps: { symbol: string; lastDate: string; gapDays: number }[];
  skipped: { symbol: string; reason: string }[];
  model: { version: string; sources: { h5: string; scaler: string }; kerasVersion: string };
  code: { version: string; commit: string; imageDigest: string | null };
  worker: { id: string; host: string; receiveCount: number; backend: string; engine: string };
  startedAt: string;
  finishedAt: string;
  /** Exactly the history segments whose rows fed the forecasts. */
  history: { read: HistoryObject[] };
  /** The run's own copy, and `forecasts/<forecastDate>.csv` (null when a forecast from newer history is already there). */
  outputs: { forecast: OutputObject; published: HistoryObject | null };
}

/**
 * A forecast's run id: the command as sent (with or without its day), the day forecast from and a digest of the
 * history objects read (and the model that ran).
 */
export function forecastRunIdOf(command: ForecastCommand, asOf: string, read: readonly HistoryObject[], modelVersion: string): string {
  const digest = createHash('sha256')
    .update(JSON.stringify([command.command, command.asOf ?? null, asOf, modelVersion, read.map((o) => [o.key, o.etag])]))
    .digest('hex');
  return `forecast-${asOf.replace(/-/g, '')}-${digest.slice(0, 16)}`;
}
