/**
 * What becomes of a queue message whose work failed, decided by the kind of failure alone:
 * - `dead-letter`: sent to the DLQ at once with its reason (retrying cannot help; a redrive after a fix can);
 * - `settle`: acknowledged without a DLQ entry (nothing is wrong: e.g. a newer upload has its own run);
 * - `retry`: thrown, so SQS redelivers it; after maxReceiveCount the queue's redrive policy moves it to the DLQ.
 */
export type Disposition = 'dead-letter' | 'settle' | 'retry';

export const FAILURE_DISPOSITION = {
  /** The uploaded file cannot be predicted: not a CSV, a required column missing, nothing to predict, over a limit. */
  'invalid-input': 'dead-letter',
  /** The upload's key cannot name its outputs safely: `.`/`..` or empty segments, control characters, too long. */
  'invalid-key': 'dead-letter',
  /** The model version in service cannot be loaded or used: its files are corrupt or of an unsupported shape. */
  'invalid-model': 'dead-letter',
  /** The announced object was deleted before it was read. */
  'source-missing': 'dead-letter',
  /** The queue message is not an S3 event, an S3 test event or a command. */
  'bad-message': 'dead-letter',
  /** The announced object was replaced before it was read: the newer upload has its own event and run. */
  'source-changed': 'settle',
  /** A command this worker does not implement. */
  'unsupported-command': 'settle',
  /** Anything else: S3 or SQS errors, throttling, a crash. */
  transient: 'retry',
} as const satisfies Record<string, Disposition>;

export type FailureKind = keyof typeof FAILURE_DISPOSITION;
export type PermanentKind = Exclude<FailureKind, 'transient'>;

/**
 * A failure that retrying cannot fix. Each subclass fixes its `kind` where it is defined, and the kind alone decides
 * the message's fate (FAILURE_DISPOSITION). Anything thrown that is not a PermanentFailure is `transient`.
 */
export abstract class PermanentFailure extends Error {
  abstract readonly kind: PermanentKind;

  get disposition(): Disposition {
    return FAILURE_DISPOSITION[this.kind];
  }
}

export function failureKindOf(err: unknown): FailureKind {
  return err instanceof PermanentFailure ? err.kind : 'transient';
}
