import { switchBackend, BACKEND_ORDER, type BackendName } from '../../model/backend.js';
import type { HistoryRow as TrainingRow } from '../../model/train/history.js';
import type { EpochRecord } from '../../model/train/record.js';
import { trainModel, type TrainedVersion } from '../../model/train/train.js';
import type { LoadedModel } from '../../model/types.js';
import { MODEL_POINTER_KEY, modelPrefix } from '../../shared/layout.js';
import { TRAIN_DEFAULTS, TRAIN_ENV } from '../../shared/train-env.js';
import { WORKER_ENV } from '../../shared/worker-env.js';
import { requestLogFromEnv, type AwsClientSettings } from '../runtime/aws-clients.js';
import { ConfigError } from '../runtime/config.js';
import { dayNumber, HistoryStore, isoDay, parseSegmentCsv } from '../runtime/history.js';
import { LOG_LEVELS, type Logger, type LogLevel } from '../runtime/log.js';
import { loadBucketVersion } from '../runtime/model-files.js';
import { readModelPointer } from '../runtime/model-source.js';
import { ObjectExistsError, type BucketObjects } from '../runtime/s3-objects.js';

/**
 * Retraining from the pipeline's own data: the history store's rows dated on or before a cut-off, the SPEC network
 * trained from scratch (model/train), written as a new version under `models/<version>/` with create-only PUTs.
 * It never writes the registry or the pointer: the operator's command records the candidate; a version with no
 * registry record is a candidate.
 */

export interface TrainSettings {
  /** ISO day: rows dated after it are not read. */
  asOf: string;
  epochs: number;
  seed?: number;
  /** Only these symbols (default: all of the history). */
  symbols?: string[];
  validationRows: number;
  /** Key of the pointer to the version in service (compared with on the hold-out). */
  pointerKey: string;
  codeCommit: string;
  imageDigest: string | null;
  backend?: BackendName;
  onEpoch?: (e: EpochRecord) => void;
}

export interface TrainTaskConfig {
  bucket: string;
  aws: AwsClientSettings;
  logLevel: LogLevel;
  train: TrainSettings;
}

export class TrainingDataError extends Error {
  override readonly name = 'TrainingDataError';
}

const ISO_DAY = /^\d{4}-\d{2}-\d{2}$/;

/** Yesterday (UTC): the last day whose rows a daily upload has brought. */
export function defaultAsOf(now = new Date()): string {
  return isoDay(dayNumber(now.toISOString().slice(0, 10)) - 1);
}

export function parseAsOf(raw: string, name: string): string {
  if (!ISO_DAY.test(raw) || isoDay(dayNumber(raw)) !== raw) throw new ConfigError(`${name} must be a date YYYY-MM-DD; got ${JSON.stringify(raw)}`);
  return raw;
}

export function parseCount(raw: string | undefined, name: string, fallback: number, min: number): number {
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isSafeInteger(v) || v < min) throw new ConfigError(`${name} must be an integer >= ${min}; got ${JSON.stringify(raw)}`);
  return v;
}

export function parseSeed(raw: string | undefined, name: string): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const v = Number(raw);
  if (!Number.isSafeInteger(v)) throw new ConfigError(`${name} must be an integer; got ${JSON.stringify(raw)}`);
  return v;
}

export function parseSymbols(raw: string | undefined, name: string): string[] | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const list = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (list.length === 0) throw new ConfigError(`${name} names no symbol`);
  return [...new Set(list)];
}

/** The training task's environment (shared/train-env.ts), parsed once; every message names the variable. */
export function trainTaskConfigFromEnv(env: NodeJS.ProcessEnv, now = new Date()): TrainTaskConfig {
  const bucket = env[WORKER_ENV.bucket];
  if (!bucket) throw new ConfigError(`${WORKER_ENV.bucket} is not set`);
  const logLevel = (env[WORKER_ENV.logLevel] || 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError(`${WORKER_ENV.logLevel} must be one of ${LOG_LEVELS.join(', ')}`);
  const backend = env[WORKER_ENV.tfjsBackend] || undefined;
  if (backend !== undefined && !(BACKEND_ORDER as readonly string[]).includes(backend))
    throw new ConfigError(`${WORKER_ENV.tfjsBackend} must be one of ${BACKEND_ORDER.join(', ')}`);
  const credentials =
    env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
      ? {
          accessKeyId: env.AWS_ACCESS_KEY_ID,
          secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
          ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
        }
      : undefined;
  const endpoint = env[WORKER_ENV.s3Endpoint] || env.AWS_ENDPOINT_URL || undefined;
  const requestLog = requestLogFromEnv(env, 'train');
  return {
    bucket,
    logLevel,
    aws: {
      region: env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1',
      ...(endpoint ? { s3Endpoint: endpoint } : {}),
      s3ForcePathStyle: env[WORKER_ENV.s3ForcePathStyle] === 'true',
      ...(credentials ? { credentials } : {}),
      checksumsWhenRequired: env.AWS_REQUEST_CHECKSUM_CALCULATION === 'when_required',
      ...(requestLog ? { requestLog } : {}),
    },
    train: {
      asOf: env[TRAIN_ENV.asOf] ? parseAsOf(env[TRAIN_ENV.asOf]!, TRAIN_ENV.asOf) : defaultAsOf(now),
      epochs: parseCount(env[TRAIN_ENV.epochs], TRAIN_ENV.epochs, TRAIN_DEFAULTS.epochs, 1),
      seed: parseSeed(env[TRAIN_ENV.seed], TRAIN_ENV.seed),
      symbols: parseSymbols(env[TRAIN_ENV.symbols], TRAIN_ENV.symbols),
      validationRows: parseCount(env[TRAIN_ENV.validationRows], TRAIN_ENV.validationRows, TRAIN_DEFAULTS.validationRows, 0),
      pointerKey: env[WORKER_ENV.modelPointerKey] || MODEL_POINTER_KEY,
      codeCommit: env[WORKER_ENV.codeCommit] || 'unknown',
      imageDigest: /@(sha256:[0-9a-f]{64})$/.exec(env[WORKER_ENV.codeVersion] ?? '')?.[1] ?? null,
      ...(backend ? { backend: backend as BackendName } : {}),
    },
  };
}

export interface TrainingData {
  histories: Map<string, TrainingRow[]>;
  /** The segments read, with their ETags and the rows each contributed per symbol. */
  objects: { key: string; etag: string; rows: number; symbols: Record<string, number> }[];
}

/** Every row of the history dated on or before `asOf` (the latest correction of each day), per symbol. */
export async function readTrainingData(objects: BucketObjects, asOf: string, symbols?: readonly string[]): Promise<TrainingData> {
  const store = new HistoryStore(objects);
  const first = await store.firstDay();
  const cutoff = dayNumber(asOf);
  if (first === undefined || first > cutoff)
    throw new TrainingDataError(`the history under s3://${objects.bucket}/history/ holds no rows on or before ${asOf}`);
  const read = await store.scan(first, cutoff);
  const wanted = symbols ? new Set(symbols) : undefined;
  if (wanted) {
    const absent = [...wanted].filter((s) => !read.rows.has(s));
    if (absent.length) throw new TrainingDataError(`no history rows on or before ${asOf} for ${absent.join(', ')}`);
  }
  const histories = new Map<string, TrainingRow[]>();
  for (const [symbol, rows] of [...read.rows].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (wanted && !wanted.has(symbol)) continue;
    histories.set(
      symbol,
      rows.map((r) => ({ date: isoDay(r.day), open: r.open, high: r.high, low: r.low, close: r.close, market: r.market })),
    );
  }
  // Which segment each kept row came from: the store returns the segments used, this counts their rows per symbol.
  const counts = await segmentCounts(objects, read.objects, histories, cutoff);
  return { histories, objects: read.objects.map((o) => ({ ...o, ...counts.get(o.key)! })).filter((o) => o.rows > 0) };
}

async function segmentCounts(
  objects: BucketObjects,
  segments: { key: string; etag: string }[],
  histories: Map<string, TrainingRow[]>,
  cutoff: number,
): Promise<Map<string, { rows: number; symbols: Record<string, number> }>> {
  // The row of a (symbol, day) that counts is the one of the last segment holding it, in upload order (the order the store returns them in).
  const winner = new Map<string, string>();
  for (const seg of segments) {
    const text = Buffer.from((await objects.getBytes(seg.key)).body).toString('utf8');
    for (const row of parseSegmentCsv(text, seg.key)) {
      if (row.day <= cutoff && histories.has(row.symbol)) winner.set(`${row.symbol}\u0000${row.day}`, seg.key);
    }
  }
  const out = new Map(segments.map((s) => [s.key, { rows: 0, symbols: {} as Record<string, number> }]));
  for (const [id, key] of winner) {
    const symbol = id.slice(0, id.indexOf('\u0000'));
    const c = out.get(key)!;
    c.rows++;
    c.symbols[symbol] = (c.symbols[symbol] ?? 0) + 1;
  }
  return out;
}

/** The version in service, to compare with on the same hold-out rows; undefined when there is none or it cannot load. */
async function baselineModel(objects: BucketObjects, pointerKey: string, log?: Logger): Promise<LoadedModel | undefined> {
  const pointer = await readModelPointer(objects, pointerKey);
  if (!pointer) return undefined;
  try {
    return await loadBucketVersion(objects, pointer.version);
  } catch (err) {
    log?.warn('train.baseline-unavailable', { version: pointer.version, error: err });
    return undefined;
  }
}

/**
 * Trains a candidate from the history as of `settings.asOf` and writes it under `models/<version>/`, each file
 * created only if absent (metadata.json last, so a listed version is complete). Returns the version and its record;
 * `existed` when the same version (same weights and scalers) was already there, whose metadata.json is kept.
 */
export async function trainCandidate(
  objects: BucketObjects,
  settings: TrainSettings,
  log?: Logger,
): Promise<TrainedVersion & { version: string; existed: boolean }> {
  if (settings.backend) await switchBackend(settings.backend);
  const data = await readTrainingData(objects, settings.asOf, settings.symbols);
  log?.info('train.data', { asOf: settings.asOf, symbols: [...data.histories].map(([s, r]) => ({ symbol: s, rows: r.length })), objects: data.objects.length });
  const baseline = await baselineModel(objects, settings.pointerKey, log);
  const trained = await trainModel(data.histories, {
    epochs: settings.epochs,
    validationRows: settings.validationRows,
    ...(settings.seed !== undefined ? { seed: settings.seed } : {}),
    ...(baseline ? { baseline } : {}),
    provenance: {
      asOf: settings.asOf,
      historyObjects: data.objects,
      codeCommit: settings.codeCommit,
      ...(settings.imageDigest ? { imageDigest: settings.imageDigest } : {}),
    },
    onEpoch: (e) => {
      log?.info('train.epoch', { ...e });
      settings.onEpoch?.(e);
    },
  });
  const version = trained.metadata.version;
  const prefix = modelPrefix(version);
  const names = [...trained.files.keys()].sort((a, b) => Number(a === 'metadata.json') - Number(b === 'metadata.json'));
  let existed = false;
  for (const name of names) {
    try {
      await objects.create(`${prefix}${name}`, trained.files.get(name)!, name.endsWith('.json') ? 'application/json' : 'application/octet-stream');
    } catch (err) {
      // The same weights and scalers trained before (the id is their content): the first run's record stands.
      if (!(err instanceof ObjectExistsError) || name !== 'metadata.json') throw err;
      existed = true;
    }
  }
  return { ...trained, version, existed };
}
