import os from 'node:os';
import { BACKEND_ORDER, type BackendName } from '../../model/backend.js';
import { PREDICTION_MODES, type PredictionMode } from '../../model/predictions.js';
import { MODEL_POINTER_KEY } from '../../shared/layout.js';
import { QUEUE_DEFAULTS, WORKER_ENV } from '../../shared/worker-env.js';
import { requestLogFromEnv, type AwsClientSettings } from './aws-clients.js';
import { LOG_LEVELS, type LogLevel } from './log.js';

/** Everything the worker process reads from its environment, parsed once. */
export interface WorkerConfig {
  queueUrl: string;
  dlqUrl: string;
  bucket: string;
  aws: AwsClientSettings;
  modelPointerKey: string;
  /** The image reference on AWS (`repo:tag@sha256:...`), else what the process was started with. */
  codeVersion: string;
  codeCommit: string;
  /** `sha256:<digest>` from codeVersion, null when it names no image digest. */
  imageDigest: string | null;
  heartbeatSeconds: number;
  visibilityTimeoutSeconds: number;
  waitTimeSeconds: number;
  /** The queue's redrive maxReceiveCount: on the last attempt a transient failure also leaves an error.json. */
  maxReceiveCount: number;
  /** Graceful stop budget after SIGTERM: an in-flight run longer than this is handed back to the queue. */
  stopBudgetSeconds: number;
  mode: PredictionMode;
  /** An upload larger than this is refused before it is read (and the parser stops at it). */
  maxUploadBytes: number;
  /** The cold-start rule's threshold: rows a symbol needs in the history before it gets scalers (its skip reason counts them). */
  coldStartMinRows: number;
  /** Shard an upload with more symbols than this, or more bytes than shardBytes (worker/runtime/shards.ts). */
  shardSymbols: number;
  shardBytes: number;
  /** Days of one-step-ahead predictions in `daily/latest_preds.csv`. */
  dailyWindowDays: number;
  /** A forced TF.js backend; undefined picks the fastest that starts. */
  backend: BackendName | undefined;
  workerId: string;
  ecsAgentUri: string | undefined;
  logLevel: LogLevel;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v <= 0) throw new ConfigError(`${name} must be a positive integer; got ${JSON.stringify(raw)}`);
  return v;
}

function oneOf<T extends string>(env: NodeJS.ProcessEnv, name: string, allowed: readonly T[], fallback: T | undefined): T | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw)) throw new ConfigError(`${name} must be one of ${allowed.join(', ')}; got ${JSON.stringify(raw)}`);
  return raw as T;
}

function url(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const raw = env[name];
  if (!raw) return undefined;
  try {
    const u = new URL(raw);
    if (u.protocol === 'http:' || u.protocol === 'https:') return raw.replace(/\/+$/, '');
  } catch {
    // reported below
  }
  throw new ConfigError(`${name} must be an http(s) URL; got ${JSON.stringify(raw)}`);
}

/** Parses the worker's environment once; every message names the variable at fault. */
export function workerConfigFromEnv(env: NodeJS.ProcessEnv): WorkerConfig {
  const required = (name: string): string => {
    const v = env[name];
    if (!v) throw new ConfigError(`${name} is not set`);
    return v;
  };
  const heartbeatSeconds = positiveInt(env, WORKER_ENV.heartbeatSeconds, QUEUE_DEFAULTS.heartbeatSeconds);
  const visibilityTimeoutSeconds = positiveInt(env, WORKER_ENV.visibilityTimeoutSeconds, QUEUE_DEFAULTS.visibilityTimeoutSeconds);
  if (visibilityTimeoutSeconds < 2 * heartbeatSeconds) {
    throw new ConfigError(
      `${WORKER_ENV.visibilityTimeoutSeconds} (${visibilityTimeoutSeconds}) must be at least twice ${WORKER_ENV.heartbeatSeconds} (${heartbeatSeconds})`,
    );
  }
  const pathStyle = oneOf(env, WORKER_ENV.s3ForcePathStyle, ['true', 'false'], 'false');
  // The SDK would read these from process.env itself; read here, a config built from any environment is complete.
  const credentials =
    env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
      ? {
          accessKeyId: env.AWS_ACCESS_KEY_ID,
          secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
          ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
        }
      : undefined;
  const checksums = oneOf(env, 'AWS_REQUEST_CHECKSUM_CALCULATION', ['when_supported', 'when_required'], 'when_supported');
  return {
    queueUrl: required(WORKER_ENV.queueUrl),
    dlqUrl: required(WORKER_ENV.dlqUrl),
    bucket: required(WORKER_ENV.bucket),
    aws: {
      region: env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1',
      s3Endpoint: url(env, WORKER_ENV.s3Endpoint) ?? url(env, 'AWS_ENDPOINT_URL'),
      sqsEndpoint: url(env, WORKER_ENV.sqsEndpoint) ?? url(env, 'AWS_ENDPOINT_URL'),
      s3ForcePathStyle: pathStyle === 'true',
      ...(credentials ? { credentials } : {}),
      checksumsWhenRequired: checksums === 'when_required',
      ...(requestLogFromEnv(env, 'worker') ? { requestLog: requestLogFromEnv(env, 'worker') } : {}),
    },
    modelPointerKey: env[WORKER_ENV.modelPointerKey] || MODEL_POINTER_KEY,
    codeVersion: env[WORKER_ENV.codeVersion] || 'unknown',
    codeCommit: env[WORKER_ENV.codeCommit] || 'unknown',
    imageDigest: /@(sha256:[0-9a-f]{64})$/.exec(env[WORKER_ENV.codeVersion] ?? '')?.[1] ?? null,
    heartbeatSeconds,
    visibilityTimeoutSeconds,
    waitTimeSeconds: positiveInt(env, WORKER_ENV.waitTimeSeconds, QUEUE_DEFAULTS.waitTimeSeconds),
    maxReceiveCount: positiveInt(env, WORKER_ENV.maxReceiveCount, QUEUE_DEFAULTS.maxReceiveCount),
    stopBudgetSeconds: positiveInt(env, WORKER_ENV.stopBudgetSeconds, QUEUE_DEFAULTS.stopBudgetSeconds),
    mode: oneOf(env, WORKER_ENV.predictionMode, PREDICTION_MODES, 'anchored')!,
    maxUploadBytes: positiveInt(env, WORKER_ENV.maxUploadBytes, QUEUE_DEFAULTS.maxUploadBytes),
    coldStartMinRows: positiveInt(env, WORKER_ENV.coldStartMinRows, QUEUE_DEFAULTS.coldStartMinRows),
    shardSymbols: positiveInt(env, WORKER_ENV.shardSymbols, QUEUE_DEFAULTS.shardSymbols),
    shardBytes: positiveInt(env, WORKER_ENV.shardBytes, QUEUE_DEFAULTS.shardBytes),
    dailyWindowDays: positiveInt(env, WORKER_ENV.dailyWindowDays, 60),
    backend: oneOf(env, WORKER_ENV.tfjsBackend, BACKEND_ORDER, undefined),
    workerId: env[WORKER_ENV.workerId] || `${os.hostname()}-${process.pid}`,
    ecsAgentUri: env[WORKER_ENV.ecsAgentUri] || undefined,
    logLevel: oneOf(env, WORKER_ENV.logLevel, LOG_LEVELS, 'info')!,
  };
}
