import { createHash } from 'node:crypto';

const sha256Hex = (text: string): string => createHash('sha256').update(text).digest('hex');

/**
 * The bucket layout, defined once for the worker, the local stack and the Pulumi program.
 * Keys never start with "/"; prefixes end with "/".
 */
export const PREFIX = {
  incoming: 'incoming/',
  predictions: 'predictions/',
  runs: 'runs/',
  models: 'models/',
  history: 'history/',
  forecasts: 'forecasts/',
  /** One small record per upload (key + version or ETag) naming its run and how it ended: the index the API and the reconciler read. */
  status: 'status/',
  /** `claims/<run id>.json`: which worker runs a run now (worker/runtime/claims.ts); expired after a week. */
  claims: 'claims/',
  /** Model registry (shared/registry.ts): version status records and the append-only change log; operator-written only. */
  registry: 'registry/',
  /** `accuracy/<date>.json`: realized absolute errors of forecasts, keyed by model version (create-only). */
  accuracy: 'accuracy/',
  /** Files the team's frontend plots every day (outside `predictions/`: no upload key can name them). */
  daily: 'daily/',
} as const;

/** The last days' one-step-ahead predictions of every symbol beside their actual opens (SPEC §6 columns). */
export const DAILY_PREDS_KEY = `${PREFIX.daily}latest_preds.csv`;

/** `forecasts/<YYYY-MM-DD>.csv`: the next-day forecast of every symbol for that day. */
export function forecastsKey(forecastDate: string): string {
  return `${PREFIX.forecasts}${forecastDate}.csv`;
}

/** Pointer to the model version in service: `{ "version": "<id>", "prefix": "models/<id>/" }`. */
export const MODEL_POINTER_KEY = `${PREFIX.models}current.json`;

/** Object names inside `runs/<run-id>/`. */
export const RUN_FILE = {
  preds: 'preds.csv',
  forecast: 'forecast.csv',
  manifest: 'manifest.json',
  error: 'error.json',
} as const;

export const INPUT_SUFFIX = '.csv';

/** True when a key is an upload that starts a run (`incoming/**.csv`). */
export function isIncomingCsv(key: string): boolean {
  return key.startsWith(PREFIX.incoming) && key.endsWith(INPUT_SUFFIX) && key.length > PREFIX.incoming.length + INPUT_SUFFIX.length;
}

/** `incoming/<path>.csv` -> `<path>`; throws for any other key. */
export function incomingPath(key: string): string {
  if (!isIncomingCsv(key)) throw new Error(`not an upload key (expected ${PREFIX.incoming}<path>${INPUT_SUFFIX}): ${JSON.stringify(key)}`);
  return key.slice(PREFIX.incoming.length, key.length - INPUT_SUFFIX.length);
}

/** `incoming/<path>.csv` -> `predictions/<path>_preds.csv` (the frontend's readable name; it contains "preds"). */
export function predictionsKey(incomingKey: string): string {
  return `${PREFIX.predictions}${incomingPath(incomingKey)}_preds.csv`;
}

/** `incoming/<path>.csv` -> `predictions/<path>_forecast.csv`. */
export function forecastKey(incomingKey: string): string {
  return `${PREFIX.predictions}${incomingPath(incomingKey)}_forecast.csv`;
}

/** S3's limit on a key, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;
/**
 * The longest path segment (between slashes) of an upload's key or of the keys derived from it, in UTF-8 bytes. Not an
 * S3 limit: the embedded stack keeps objects as files, and file names stop at 255 bytes with its suffixes. One limit on
 * both stacks, so that a key refused on one is refused on the other.
 */
export const MAX_KEY_SEGMENT_BYTES = 200;

const utf8Length = (s: string): number => new TextEncoder().encode(s).length;

/**
 * Why an upload's key cannot be processed, or undefined when it can: an empty, `.` or `..` segment (it could name an
 * object outside `incoming/` once resolved), a control character, or derived output keys over the limits.
 */
export function uploadKeyProblem(key: string): string | undefined {
  if (!isIncomingCsv(key)) return `not an upload key (expected ${PREFIX.incoming}<path>${INPUT_SUFFIX})`;
  const segments = key.split('/');
  const bad = segments.findIndex((s) => s === '' || s === '.' || s === '..');
  if (bad >= 0)
    return `segment ${bad + 1} of the key is ${segments[bad] === '' ? 'empty' : `"${segments[bad]}"`}: keys with empty, "." or ".." segments are refused`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(key)) return 'the key holds a control character';
  for (const derived of [predictionsKey(key), forecastKey(key)]) {
    const bytes = utf8Length(derived);
    if (bytes > MAX_KEY_BYTES) return `the derived key ${derived.slice(0, 40)}... would be ${bytes} bytes, over S3's ${MAX_KEY_BYTES}`;
    const long = derived.split('/').find((s) => utf8Length(s) > MAX_KEY_SEGMENT_BYTES);
    if (long)
      return `a segment of the derived key ${PREFIX.predictions}... is ${utf8Length(long)} bytes, over the ${MAX_KEY_SEGMENT_BYTES}-byte limit per segment`;
  }
  return undefined;
}

export function runPrefix(runId: string): string {
  return `${PREFIX.runs}${runId}/`;
}

export function runKey(runId: string, file: keyof typeof RUN_FILE): string {
  return `${runPrefix(runId)}${RUN_FILE[file]}`;
}

/** `runs/<run-id>/shards/`: a sharded run's plan, shard inputs (`<i>.csv`) and shard outputs (`<i>/...`). */
export function shardsPrefix(runId: string): string {
  return `${runPrefix(runId)}shards/`;
}

export function shardPlanKey(runId: string): string {
  return `${shardsPrefix(runId)}plan.json`;
}

export function shardInputKey(runId: string, shard: number): string {
  return `${shardsPrefix(runId)}${shard}.csv`;
}

/** `runs/<run-id>/shards/<i>/<preds.csv | forecast.csv | manifest.json | error.json>`. */
export function shardKey(runId: string, shard: number, file: keyof typeof RUN_FILE): string {
  return `${shardsPrefix(runId)}${shard}/${RUN_FILE[file]}`;
}

/**
 * `status/<sha256 of bucket, key, version-or-ETag>.json`: found from what an uploader knows (the key and the ETag or
 * version its PUT returned), without listing `runs/`.
 */
export function uploadStatusKey(bucket: string, key: string, versionOrEtag: string): string {
  return `${PREFIX.status}${sha256Hex(JSON.stringify([bucket, key, versionOrEtag.replace(/"/g, '')]))}.json`;
}

/** `history/segments/<YYYY-MM>/`: the history's segments of one month (worker/runtime/history.ts). */
export function historyMonthPrefix(month: string): string {
  return `${PREFIX.history}segments/${month}/`;
}

export function modelPrefix(version: string): string {
  return `${PREFIX.models}${version}/`;
}

export function s3Url(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

/** What the team is given: where to upload, and where the frontend reads (for `crypto_test.csv`). */
export function teamUrls(bucket: string, exampleUpload = 'crypto_test.csv'): { testUrl: string; predUrl: string } {
  return {
    testUrl: s3Url(bucket, PREFIX.incoming),
    predUrl: s3Url(bucket, predictionsKey(`${PREFIX.incoming}${exampleUpload}`)),
  };
}
