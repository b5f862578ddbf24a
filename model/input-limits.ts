/** Bounds on an upload, so that no input can hold a worker: each is checked while reading, in bounded memory. */
export interface InputLimits {
  /** The longest line, in bytes between line breaks (default 64 KiB, far above any real row). */
  maxLineBytes?: number;
  /** The most cells in one row (default 1,000). */
  maxCells?: number;
  /** The largest input, in bytes (default: none; the worker passes its maxUploadBytes). */
  maxBytes?: number;
}

export const DEFAULT_MAX_LINE_BYTES = 64 * 1024;
export const DEFAULT_MAX_CELLS = 1000;

export class InputLimitsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputLimitsError';
  }
}

/** The limits with defaults filled in; a bad value is a programming error, named here. */
export function resolvedLimits(limits: InputLimits = {}): Required<InputLimits> {
  const check = (key: keyof InputLimits, fallback: number): number => {
    const v = limits[key];
    if (v === undefined) return fallback;
    if (!(Number.isSafeInteger(v) && v > 0) && v !== Infinity) throw new InputLimitsError(`option ${key} must be a positive integer; got ${v}`);
    return v;
  };
  return { maxLineBytes: check('maxLineBytes', DEFAULT_MAX_LINE_BYTES), maxCells: check('maxCells', DEFAULT_MAX_CELLS), maxBytes: check('maxBytes', Infinity) };
}

/** 65536 -> "65,536". */
export const count = (n: number): string => n.toLocaleString('en-US');
