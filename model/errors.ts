import { PermanentFailure } from '../shared/failures.js';

/**
 * A problem with the whole uploaded file (not a CSV, no header, a required column missing, nothing to predict, a
 * limit exceeded). Retrying cannot help: the worker sends the message to the DLQ at once.
 */
export class InputFileError extends PermanentFailure {
  override name = 'InputFileError';
  readonly kind = 'invalid-input';
}

/**
 * A model version that cannot be read or run: corrupt files, an unsupported architecture, scalers that do not fit.
 * Permanent for the message being processed: it goes to the DLQ, to be redriven once the version in service is fixed.
 */
export class ModelError extends PermanentFailure {
  override name = 'ModelError';
  readonly kind = 'invalid-model';
}
