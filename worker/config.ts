import os from 'node:os';
import { MODEL_POINTER_KEY } from '../shared/layout.js';
import { QUEUE_DEFAULTS, WORKER_ENV } from '../shared/worker-env.js';
import type { LogLevel } from './log.js';
import { PREDICTION_MODES, type PredictionMode } from '../model/predictions.js';

export interface WorkerConfig {
  queueUrl: string;
  dlqUrl: string;
  bucket: string;
  region: string;
  modelPointerKey: string;
  codeVersion: string;
  heartbeatSeconds: number;
  visibilityTimeoutSeconds: number;
  waitTimeSeconds: number;
  /** The queue's redrive maxReceiveCount: on the last attempt a transient failure also leaves an error.json. */
  maxReceiveCount: number;
  /** Graceful stop budget: an in-flight run longer than this is handed back to the queue. */
  stopTimeoutSeconds: number;
  mode: PredictionMode;
  workerId: string;
  ecsAgentUri: string | undefined;
  logLevel: LogLevel;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v <= 0) throw new ConfigError(`${name} must be a positive integer; got ${JSON.stringify(raw)}`);
  return v;
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
    throw new ConfigError(`${WORKER_ENV.visibilityTimeoutSeconds} (${visibilityTimeoutSeconds}) must be at least twice ${WORKER_ENV.heartbeatSeconds} (${heartbeatSeconds})`);
  }
  const mode = env[WORKER_ENV.predictionMode] || 'anchored';
  if (!(PREDICTION_MODES as readonly string[]).includes(mode)) throw new ConfigError(`${WORKER_ENV.predictionMode} must be one of ${PREDICTION_MODES.join(', ')}; got ${mode}`);
  const logLevel = (env[WORKER_ENV.logLevel] ?? 'info') as LogLevel;
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel)) throw new ConfigError(`${WORKER_ENV.logLevel} must be debug, info, warn or error`);
  return {
    queueUrl: required(WORKER_ENV.queueUrl),
    dlqUrl: required(WORKER_ENV.dlqUrl),
    bucket: required(WORKER_ENV.bucket),
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    modelPointerKey: env[WORKER_ENV.modelPointerKey] || MODEL_POINTER_KEY,
    codeVersion: env[WORKER_ENV.codeVersion] || 'unknown',
    heartbeatSeconds,
    visibilityTimeoutSeconds,
    waitTimeSeconds: positiveInt(env, WORKER_ENV.waitTimeSeconds, QUEUE_DEFAULTS.waitTimeSeconds),
    maxReceiveCount: positiveInt(env, WORKER_ENV.maxReceiveCount, QUEUE_DEFAULTS.maxReceiveCount),
    stopTimeoutSeconds: positiveInt(env, WORKER_ENV.stopTimeoutSeconds, QUEUE_DEFAULTS.workerStopSeconds),
    mode: mode as PredictionMode,
    workerId: env[WORKER_ENV.workerId] || `${os.hostname()}-${process.pid}`,
    ecsAgentUri: env[WORKER_ENV.ecsAgentUri] || undefined,
    logLevel,
  };
}
