/**
 * A problem with the whole uploaded file (not a CSV, no header, a required column missing, nothing to
 * predict). Retrying cannot help: the worker sends the message to the DLQ at once.
 */
export class InputFileError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InputFileError';
  }
}
