import { PermanentFailure } from '../../shared/failures.js';

/** The upload's key is refused before anything is read or written (shared/layout.ts uploadKeyProblem). */
export class InvalidKeyError extends PermanentFailure {
  override readonly name = 'InvalidKeyError';
  readonly kind = 'invalid-key';
}

/** The upload was deleted between its event and the read. */
export class SourceMissingError extends PermanentFailure {
  override readonly name = 'SourceMissingError';
  readonly kind = 'source-missing';
}

/** The key was overwritten between its event and the read: the newer upload has its own event and run. */
export class SourceChangedError extends PermanentFailure {
  override readonly name = 'SourceChangedError';
  readonly kind = 'source-changed';
}

/** A `{"command": ...}` message this worker does not implement. */
export class UnsupportedCommandError extends PermanentFailure {
  override readonly name = 'UnsupportedCommandError';
  readonly kind = 'unsupported-command';
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

/** True for an error caused by aborting a request (the SDK, fetch and sqs-consumer name it `AbortError`). */
export function isAbort(err: unknown): boolean {
  for (let e = err as { name?: string; code?: string; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (e.name === 'AbortError' || e.code === 'AbortError') return true;
  }
  return false;
}
