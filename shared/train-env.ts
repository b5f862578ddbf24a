/**
 * The environment of the training task (worker/commands/train-task.ts), named once for the task definition (infra)
 * and the task. Names only: parsing lives with the task (worker/tasks/train.ts).
 * Besides these, the task reads WORKER_ENV.bucket, WORKER_ENV.modelPointerKey, WORKER_ENV.codeCommit,
 * WORKER_ENV.codeVersion (its image digest), WORKER_ENV.tfjsBackend and WORKER_ENV.logLevel, and AWS_REGION.
 */
export const TRAIN_ENV = {
  /** `YYYY-MM-DD`: train on history rows dated on or before this day (default: yesterday, UTC). */
  asOf: 'TRAIN_AS_OF',
  /** Default 10. */
  epochs: 'TRAIN_EPOCHS',
  /** An integer; drawn at random (and recorded) when unset. */
  seed: 'TRAIN_SEED',
  /** Comma-separated symbols (default: every symbol of the history). */
  symbols: 'TRAIN_SYMBOLS',
  /** The last rows of each symbol held out for validation (default 15). */
  validationRows: 'TRAIN_VALIDATION_ROWS',
} as const;

/** The training task's defaults (the schedule's task definition sets only what differs). */
export const TRAIN_DEFAULTS = {
  epochs: 10,
  validationRows: 15,
} as const;
