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

/**
 * The model in service, read from the bucket (`models/current.json` -> `models/<version>/...`).
 * Versions are loaded once per process and kept; the small pointer is re-read per run, so a rollback
 * (repointing `current.json`) takes effect on the next message without a restart.
 */
export class ModelSource {
  private readonly loaded = new Map<string, Promise<LoadedModel>>();

  /** `release` frees a version that went out of service (its tensors, and whatever was built on it). */
  constructor(
    private readonly objects: BucketObjects,
    private readonly pointerKey: string,
    private readonly release: (model: LoadedModel) => void = (m) => m.layers.dispose(),
  ) {}

  async current(signal?: AbortSignal): Promise<LoadedModel> {
    let p: ModelPointer | undefined;
    try {
      p = await readModelPointer(this.objects, this.pointerKey, signal);
    } catch (err) {
      throw new ModelUnavailableError(`model pointer s3://${this.objects.bucket}/${this.pointerKey} unreadable: ${(err as Error).message}`, { cause: err });
    }
    if (!p) throw new ModelUnavailableError(`model pointer s3://${this.objects.bucket}/${this.pointerKey} unreadable: no such object`);
    let model = this.loaded.get(p.version);
    if (!model) {
      model = this.load(p, signal);
      this.loaded.set(p.version, model);
      model.catch(() => this.loaded.delete(p.version));
      // A worker runs one message at a time, so no run still uses the version being replaced.
      await model;
      for (const [version, old] of this.loaded) {
        if (version === p.version) continue;
        this.loaded.delete(version);
        old.then(this.release, () => undefined);
      }
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
    if (model.metadata.version !== p.version) throw new ModelUnavailableError(`model files under ${p.prefix} are version ${model.metadata.version}, the pointer says ${p.version}`);
    return model;
  }
}
