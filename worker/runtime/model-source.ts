import { paginateListObjectsV2 } from '@aws-sdk/client-s3';
import { loadModelVersionFromFiles } from '../../model/model-store.js';
import type { LoadedModel } from '../../model/types.js';
import { modelPrefix } from '../../shared/layout.js';
import { isNotFound } from './failures.js';
import type { BucketObjects } from './s3-objects.js';

export interface ModelPointer {
  version: string;
  prefix: string;
}

export class ModelUnavailableError extends Error {
  override readonly name = 'ModelUnavailableError';
}

/** The pointer to the version in service, validated; undefined when the bucket has none. */
export async function readModelPointer(objects: BucketObjects, key: string, signal?: AbortSignal): Promise<ModelPointer | undefined> {
  let raw: Uint8Array;
  try {
    raw = (await objects.getBytes(key, signal)).body;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  let p: Partial<ModelPointer>;
  try {
    p = JSON.parse(Buffer.from(raw).toString('utf8')) as Partial<ModelPointer>;
  } catch (err) {
    throw new ModelUnavailableError(`${key}: not JSON`, { cause: err });
  }
  if (typeof p.version !== 'string' || !/^[\w.-]+$/.test(p.version)) throw new ModelUnavailableError(`${key}: 'version' missing or malformed`);
  return { version: p.version, prefix: typeof p.prefix === 'string' ? p.prefix : modelPrefix(p.version) };
}

export interface ModelSourceOptions {
  /** Frees a version that went out of service (its tensors, and whatever was built on it). */
  release?: (model: LoadedModel) => void;
  /** Proves a version before it serves (its check windows on this backend); throws to refuse it. */
  verify?: (model: LoadedModel) => Promise<void>;
  /** Told once per refused version, with why. */
  onRefused?: (version: string, err: unknown, keptVersion: string | null) => void;
}

/**
 * The model in service, read from the bucket (`models/current.json` -> `models/<version>/...`).
 * The small pointer is re-read per run, so a rollback (repointing `current.json`) takes effect on the next message
 * without a restart. A new version is loaded once and verified before it replaces the one in service; a version that
 * fails verification is refused (once, remembered) and the worker keeps serving the version it has, so a bad version
 * cannot take the fleet down. With no version in service yet, the refusal is the caller's error.
 */
export class ModelSource {
  private serving: { version: string; model: LoadedModel } | undefined;
  private loading: { version: string; model: Promise<LoadedModel> } | undefined;
  private readonly refused = new Map<string, Error>();

  constructor(
    private readonly objects: BucketObjects,
    private readonly pointerKey: string,
    private readonly options: ModelSourceOptions = {},
  ) {}

  /** The version this worker serves, if any. */
  get inService(): string | null {
    return this.serving?.version ?? null;
  }

  async current(signal?: AbortSignal): Promise<LoadedModel> {
    let p: ModelPointer | undefined;
    try {
      p = await readModelPointer(this.objects, this.pointerKey, signal);
    } catch (err) {
      throw new ModelUnavailableError(`model pointer s3://${this.objects.bucket}/${this.pointerKey} unreadable: ${(err as Error).message}`, { cause: err });
    }
    if (!p) throw new ModelUnavailableError(`model pointer s3://${this.objects.bucket}/${this.pointerKey} unreadable: no such object`);
    if (this.serving?.version === p.version) return this.serving.model;
    const refusal = this.refused.get(p.version);
    if (refusal) {
      if (this.serving) return this.serving.model;
      throw refusal;
    }
    if (this.loading?.version !== p.version) this.loading = { version: p.version, model: this.loadVerified(p, signal) };
    const loading = this.loading;
    try {
      const model = await loading.model;
      if (this.serving?.version !== p.version) {
        // A worker runs one message at a time, so no run still uses the version being replaced.
        const old = this.serving;
        this.serving = { version: p.version, model };
        if (old) this.options.release?.(old.model);
      }
      return model;
    } catch (err) {
      if (!this.refused.has(p.version)) throw err;
      if (this.serving) return this.serving.model;
      throw err;
    } finally {
      if (this.loading === loading) this.loading = undefined;
    }
  }

  private async loadVerified(p: ModelPointer, signal?: AbortSignal): Promise<LoadedModel> {
    const model = await this.load(p, signal);
    try {
      await this.options.verify?.(model);
    } catch (err) {
      this.options.release?.(model);
      this.refused.set(p.version, err as Error);
      this.options.onRefused?.(p.version, err, this.serving?.version ?? null);
      throw err;
    }
    return model;
  }

  private async load(p: ModelPointer, signal?: AbortSignal): Promise<LoadedModel> {
    const files = new Map<string, Buffer>();
    for await (const page of paginateListObjectsV2({ client: this.objects.s3 }, { Bucket: this.objects.bucket, Prefix: p.prefix }, { abortSignal: signal })) {
      for (const o of page.Contents ?? []) {
        const name = o.Key!.slice(p.prefix.length);
        if (name && !name.includes('/')) files.set(name, Buffer.from((await this.objects.getBytes(o.Key!, signal)).body));
      }
    }
    if (files.size === 0) throw new ModelUnavailableError(`model version ${p.version}: nothing under s3://${this.objects.bucket}/${p.prefix}`);
    const model = await loadModelVersionFromFiles(files);
    if (model.metadata.version !== p.version)
      throw new ModelUnavailableError(`model files under ${p.prefix} are version ${model.metadata.version}, the pointer says ${p.version}`);
    return model;
  }
}
