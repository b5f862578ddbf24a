import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * What the gateway learned about an S3 request that the store needs when it commits a write: the write's
 * preconditions (checked at commit, under the store's lock, so two conditional writes of one key are ordered) and the
 * check of a streamed body against its declared SHA-256.
 */
export interface S3WriteContext {
  /** `If-Match` of a PutObject, CopyObject or CompleteMultipartUpload. */
  ifMatch?: string;
  /** `If-None-Match` of the same (S3 supports only `*`; the gateway refuses any other value). */
  ifNoneMatch?: string;
  /** Resolves when the streamed body's SHA-256 is the declared one; throws XAmzContentSHA256Mismatch otherwise. */
  payloadVerified?: () => Promise<void>;
}

export const s3WriteContext = new AsyncLocalStorage<S3WriteContext>();

/** Whether an `If-Match` header (one ETag, a list, or `*`; quoted or not) names this (quoted) ETag. */
export function etagMatches(header: string, etag: string): boolean {
  const wanted = header.split(',').map((t) => t.trim().replace(/^W\//, ''));
  const bare = etag.replace(/"/g, '');
  return wanted.some((t) => t === '*' || t.replace(/"/g, '') === bare);
}
