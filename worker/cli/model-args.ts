import os from 'node:os';
import path from 'node:path';
import { parseBackendName, type BackendName } from '../../model/backend.js';
import {
  loadModelVersionFromFiles,
  ModelStoreError,
  versionFilesFromSources,
  versionFilesInFolder,
  versionFilesInModelFolder,
  type ResolvedModelFiles,
} from '../../model/model-store.js';
import type { LoadedModel } from '../../model/types.js';
import { WORKER_ENV } from '../../shared/worker-env.js';

/** The model flags of `predict`, `model publish` and `npm start`, and where a model comes from when none is given. */

export const MODEL_ARGS = {
  model: { type: 'string' },
  h5: { type: 'string' },
  scaler: { type: 'string' },
  'no-cache': { type: 'boolean' },
} as const;

export interface ModelArgs {
  /** An imported version folder. */
  model?: string;
  /** The team's source files, used together. */
  h5?: string;
  scaler?: string;
  /** Convert the source files on every run instead of once into the cache. */
  'no-cache'?: boolean;
}

/** Where converted source files are kept, keyed by their sha256: MODEL_CACHE_DIR, else the user's cache folder. */
export function modelCacheDir(env: NodeJS.ProcessEnv): string {
  return env.MODEL_CACHE_DIR || path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'crypto-open-fleet', 'model-versions');
}

/** Names the model folder when no flag is given. */
export const MODEL_DIR_ENV = 'MODEL_DIR';

/** The team's files beside the repository (`../shared/model_out`). */
export function defaultModelFolder(repoRoot: string): string {
  return path.resolve(repoRoot, '../shared/model_out');
}

/** `--model <dir>`, else `--h5` + `--scaler`, else MODEL_DIR, else `../shared/model_out` beside the repo. */
export async function resolveModelFiles(args: ModelArgs, env: NodeJS.ProcessEnv, repoRoot: string): Promise<ResolvedModelFiles> {
  const options = args['no-cache'] ? {} : { cacheDir: modelCacheDir(env) };
  if (args.model !== undefined) {
    if (args.h5 !== undefined || args.scaler !== undefined) throw new ModelStoreError('--model cannot be combined with --h5/--scaler');
    return versionFilesInFolder(path.resolve(args.model), '--model');
  }
  if (args.h5 !== undefined || args.scaler !== undefined) {
    if (args.h5 === undefined) throw new ModelStoreError('--scaler needs --h5 <model.h5> as well');
    if (args.scaler === undefined) throw new ModelStoreError('--h5 needs --scaler <scaler.pkl> as well');
    return versionFilesFromSources(path.resolve(args.h5), path.resolve(args.scaler), options);
  }
  const fromEnv = env[MODEL_DIR_ENV];
  if (fromEnv) return versionFilesInModelFolder(path.resolve(fromEnv), MODEL_DIR_ENV, options);
  return versionFilesInModelFolder(defaultModelFolder(repoRoot), 'the default model folder', options);
}

/** `resolveModelFiles`, loaded and ready to serve. */
export async function resolveModel(args: ModelArgs, env: NodeJS.ProcessEnv, repoRoot: string): Promise<LoadedModel> {
  const { files, source } = await resolveModelFiles(args, env, repoRoot);
  return loadModelVersionFromFiles(files, source);
}

/** The TF.js backend forced by TFJS_BACKEND, if any (undefined: the fastest that starts). */
export function backendFromEnv(env: NodeJS.ProcessEnv): BackendName | undefined {
  return parseBackendName(env[WORKER_ENV.tfjsBackend] || undefined, WORKER_ENV.tfjsBackend);
}
