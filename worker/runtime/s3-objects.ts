import { createHash } from 'node:crypto';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { OutputObject } from '../../shared/manifest.js';
import { isNotFound, isPreconditionFailed } from './failures.js';

/** A create-only key already holds other bytes. */
export class ObjectExistsError extends Error {
  override readonly name = 'ObjectExistsError';
}

export const sha256 = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** Small typed helpers over one bucket; every call takes the run's abort signal. */
export class BucketObjects {
  constructor(
    readonly s3: S3Client,
    readonly bucket: string,
  ) {}

  async put(key: string, body: string | Uint8Array, contentType: string, signal?: AbortSignal, metadata?: Record<string, string>): Promise<OutputObject> {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: bytes, ContentType: contentType, Metadata: metadata }), {
      abortSignal: signal,
    });
    return { key, sha256: sha256(bytes), bytes: bytes.length };
  }

  putJson(key: string, value: unknown, signal?: AbortSignal): Promise<OutputObject> {
    return this.put(key, `${JSON.stringify(value, null, 2)}\n`, 'application/json', signal);
  }

  /**
   * Creates `key` only if it does not exist (`If-None-Match: *`; the bucket policy refuses any other write under the
   * create-only prefixes). An existing object with the same bytes (a redelivered run writing again) counts as
   * written; one with other bytes is an ObjectExistsError.
   */
  async create(key: string, body: string | Uint8Array, contentType: string, signal?: AbortSignal): Promise<OutputObject> {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    try {
      await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: bytes, ContentType: contentType, IfNoneMatch: '*' }), {
        abortSignal: signal,
      });
    } catch (err) {
      if (!isPreconditionFailed(err)) throw err;
      const existing = await this.head(key, signal);
      if (existing?.etag !== createHash('md5').update(bytes).digest('hex'))
        throw new ObjectExistsError(`s3://${this.bucket}/${key} exists with other content`, { cause: err });
    }
    return { key, sha256: sha256(bytes), bytes: bytes.length };
  }

  createJson(key: string, value: unknown, signal?: AbortSignal): Promise<OutputObject> {
    return this.create(key, `${JSON.stringify(value, null, 2)}\n`, 'application/json', signal);
  }

  async exists(key: string, signal?: AbortSignal): Promise<boolean> {
    try {
      await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal: signal });
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /** ETag (unquoted), version and user metadata of the object now at `key`, or null when there is none. */
  async head(key: string, signal?: AbortSignal): Promise<{ etag: string; versionId: string | null; metadata: Record<string, string> } | null> {
    try {
      const h = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal: signal });
      return { etag: unquote(h.ETag ?? ''), versionId: h.VersionId ?? null, metadata: h.Metadata ?? {} };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async getBytes(key: string, signal?: AbortSignal): Promise<{ body: Uint8Array; etag: string }> {
    const r = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal: signal });
    return { body: await r.Body!.transformToByteArray(), etag: unquote(r.ETag ?? '') };
  }
}

export const unquote = (etag: string): string => etag.replace(/^"|"$/g, '');
