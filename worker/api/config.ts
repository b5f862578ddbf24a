import { API_DEFAULTS, API_ENV } from '../../shared/worker-env.js';

/** The API's settings, parsed once (the Lambda's environment, or the local server's arguments). */
export interface ApiConfig {
  bucket: string;
  maxBodyBytes: number;
  presignSeconds: number;
}

export class ApiConfigError extends Error {
  override readonly name = 'ApiConfigError';
}

export function apiConfigFromEnv(env: NodeJS.ProcessEnv): ApiConfig {
  const bucket = env[API_ENV.bucket];
  if (!bucket) throw new ApiConfigError(`${API_ENV.bucket} is not set: the API needs the data bucket's name`);
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) throw new ApiConfigError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
    return n;
  };
  return {
    bucket,
    maxBodyBytes: int(API_ENV.maxBodyBytes, API_DEFAULTS.maxBodyBytes, 1, 6 * 1024 * 1024),
    presignSeconds: int(API_ENV.presignSeconds, API_DEFAULTS.presignSeconds, 1, 7 * 24 * 3600),
  };
}
