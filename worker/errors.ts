import type { RunError } from '../shared/manifest.js';

type Kind = RunError['error']['kind'];

/**
 * A failure that retrying cannot fix (bad input, missing source): recorded in `error.json` and, where
 * `toDlq`, sent to the DLQ at once with its reason. Anything else thrown is retried by SQS redelivery.
 */
export class PermanentRunError extends Error {
  override readonly name = 'PermanentRunError';
  constructor(
    readonly kind: Kind,
    message: string,
    readonly toDlq: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** True for S3 answers that mean "no such object" (deleted before it was read). */
export function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}

/** True for S3's answer to a failed `If-Match`: the key now holds other bytes than the event announced. */
export function isPreconditionFailed(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'PreconditionFailed' || e?.$metadata?.httpStatusCode === 412;
}
