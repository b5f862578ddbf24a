import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { loadModelVersionFromFiles } from '../model/model-store.js';
import type { LoadedModel } from '../model/types.js';
import { modelPrefix } from '../shared/layout.js';
import type { BucketObjects } from './s3-objects.js';

export interface ModelPointer {
  version: string;
  prefix: string;
}

export class ModelUnavailableError extends Error {
  override readonly name = 'ModelUnavailableError';
}

/**
 * The model in service, read from the bucket (`models/current.json` -> `models/<version>/...`).
 * Versions are loaded once per process and kept; the small pointer is re-read per run, so a rollback
 * (repointing `current.json`) takes effect on the next message without a restart.
 */
export class ModelSource {
  private readonly loaded = new Map<string, Promise<LoadedModel>>();

  constructor(
    private readonly objects: BucketObjects,
    private readonly pointerKey: string,
  ) {}

  async pointer(signal?: AbortSignal): Promise<ModelPointer> {
    let raw: Uint8Array;
    try {
      raw = (await this.objects.getBytes(this.pointerKey, signal)).body;
    } catch (err) {
      throw new ModelUnavailableError(`model pointer s3://${this.objects.bucket}/${this.pointerKey} unreadable: ${(err as Error).message}`, { cause: err });
    }
    const p = JSON.parse(Buffer.from(raw).toString('utf8')) as Partial<ModelPointer>;
    if (typeof p.version !== 'string' || !/^[\w.-]+$/.test(p.version)) throw new ModelUnavailableError(`${this.pointerKey}: 'version' missing or malformed`);
    return { version: p.version, prefix: typeof p.prefix === 'string' ? p.prefix : modelPrefix(p.version) };
  }

  async current(signal?: AbortSignal): Promise<LoadedModel> {
    const p = await this.pointer(signal);
    let model = this.loaded.get(p.version);
    if (!model) {
      model = this.load(p, signal);
      this.loaded.set(p.version, model);
      model.catch(() => this.loaded.delete(p.version));
    }
    return model;
  }

  private async load(p: ModelPointer, signal?: AbortSignal): Promise<LoadedModel> {
    const listed = await this.objects.s3.send(new ListObjectsV2Command({ Bucket: this.objects.bucket, Prefix: p.prefix }), { abortSignal: signal });
    const files = new Map<string, Buffer>();
    for (const o of listed.Contents ?? []) {
      const name = o.Key!.slice(p.prefix.length);
      if (name && !name.includes('/')) files.set(name, Buffer.from((await this.objects.getBytes(o.Key!, signal)).body));
    }
    if (files.size === 0) throw new ModelUnavailableError(`model version ${p.version}: nothing under s3://${this.objects.bucket}/${p.prefix}`);
    const model = await loadModelVersionFromFiles(files);
    if (model.metadata.version !== p.version) throw new ModelUnavailableError(`model files under ${p.prefix} are version ${model.metadata.version}, the pointer says ${p.version}`);
    return model;
  }
}
