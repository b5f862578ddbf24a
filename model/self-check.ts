import { activeBackendName } from './backend.js';
import { ModelError } from './errors.js';
import { layersModelFromH5, type KerasModel } from './keras-h5.js';
import { createLayersEngine } from './layers-inference.js';
import type { InferenceEngine } from './types.js';

/**
 * A model version proves itself where it runs: `check.json` holds a few input windows and the outputs the reference
 * engine (TensorFlow.js's own Keras layers) computed for them when the version was made. A worker runs them on its
 * own backend and engine before it serves the version (native TensorFlow in the image, which the tests cannot run).
 */
export const CHECK_FILE = 'check.json';
export const CHECK_FORMAT = 'model-check/1';
/** SPEC §7: |v_open_scaled - reference| <= 1e-4. */
export const CHECK_TOLERANCE = 1e-4;
const CHECK_WINDOWS = 16;

export interface ModelCheck {
  format: typeof CHECK_FORMAT;
  reference: { engine: 'layers'; backend: string };
  tolerance: number;
  seqLen: number;
  features: number;
  /** Each window row-major [seqLen, features], float32 values. */
  windows: number[][];
  expected: number[];
}

export interface ModelCheckResult {
  ok: boolean;
  windows: number;
  maxAbsDiff: number;
  /** The windows whose output is off by more than the tolerance: index, expected, got. */
  failures: { window: number; expected: number; got: number }[];
}

/** A check.json that cannot be read: the version is unusable (a permanent, invalid-model failure). */
export class ModelCheckFileError extends ModelError {
  override name = 'ModelCheckFileError';
}

/**
 * The version's outputs on this backend differ from its reference outputs. Not the message's fault, nor always the
 * version's (it may be this backend's): a worker that has another version in service keeps serving that one.
 */
export class ModelCheckFailedError extends Error {
  override readonly name = 'ModelCheckFailedError';
  constructor(
    readonly version: string,
    readonly result: ModelCheckResult,
    readonly backend: string,
  ) {
    const worst = result.failures[0];
    super(
      `model version ${version} failed its check on the ${backend} backend: ${result.failures.length} of ${result.windows} windows off by more than the tolerance ` +
        `(max |diff| ${result.maxAbsDiff.toExponential(2)}${worst ? `; window ${worst.window}: expected ${worst.expected}, got ${worst.got}` : ''})`,
    );
  }
}

/**
 * Deterministic windows with feature-like magnitudes: an all-zero window (a symbol's first row), then scaled features
 * in [-3, 3] with log_shares (the last column) in [10, 25].
 */
export function checkWindows(seqLen: number, features: number, count = CHECK_WINDOWS): Float32Array {
  const out = new Float32Array(count * seqLen * features);
  let seed = 20240501;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let w = 1; w < count; w++) {
    for (let t = 0; t < seqLen; t++) {
      for (let f = 0; f < features; f++) out[(w * seqLen + t) * features + f] = f === features - 1 ? 10 + 15 * next() : next() * 6 - 3;
    }
  }
  return out;
}

/** Runs the reference engine on the check windows (the active backend must be ready). */
export async function computeModelCheck(keras: KerasModel, seqLen: number, features: number): Promise<ModelCheck> {
  const windows = checkWindows(seqLen, features);
  const count = windows.length / (seqLen * features);
  const model = await layersModelFromH5(keras);
  try {
    const expected = await createLayersEngine(model).predict(windows, count);
    return {
      format: CHECK_FORMAT,
      reference: { engine: 'layers', backend: activeBackendName() ?? 'unknown' },
      tolerance: CHECK_TOLERANCE,
      seqLen,
      features,
      windows: Array.from({ length: count }, (_, w) => Array.from(windows.subarray(w * seqLen * features, (w + 1) * seqLen * features))),
      expected: Array.from(expected),
    };
  } finally {
    model.dispose();
  }
}

export function modelCheckJson(check: ModelCheck): Buffer {
  return Buffer.from(`${JSON.stringify(check)}\n`);
}

export function parseModelCheck(bytes: Buffer, source: string): ModelCheck {
  let c: Partial<ModelCheck>;
  try {
    c = JSON.parse(bytes.toString('utf8')) as Partial<ModelCheck>;
  } catch (err) {
    throw new ModelCheckFileError(`${source}: not valid JSON`, { cause: err });
  }
  if (c.format !== CHECK_FORMAT) throw new ModelCheckFileError(`${source}: format is ${JSON.stringify(c.format)}, expected '${CHECK_FORMAT}'`);
  const size = (c.seqLen ?? 0) * (c.features ?? 0);
  if (!Array.isArray(c.windows) || c.windows.length === 0 || !Array.isArray(c.expected) || c.expected.length !== c.windows.length) {
    throw new ModelCheckFileError(`${source}: needs as many expected outputs as windows (at least one)`);
  }
  if (
    !(size > 0) ||
    c.windows.some((w) => !Array.isArray(w) || w.length !== size || w.some((v) => !Number.isFinite(v))) ||
    c.expected.some((v) => !Number.isFinite(v))
  ) {
    throw new ModelCheckFileError(`${source}: every window must hold seqLen x features finite numbers, every expected output one`);
  }
  if (!(typeof c.tolerance === 'number' && c.tolerance > 0 && c.tolerance <= 1e-2)) throw new ModelCheckFileError(`${source}: tolerance must be in (0, 0.01]`);
  return c as ModelCheck;
}

/** Runs the check windows through `engine` and compares with the reference outputs. */
export async function runModelCheck(check: ModelCheck, engine: InferenceEngine): Promise<ModelCheckResult> {
  const size = check.seqLen * check.features;
  const windows = new Float32Array(check.windows.length * size);
  check.windows.forEach((w, i) => windows.set(w, i * size));
  const got = await engine.predict(windows, check.windows.length);
  const failures: ModelCheckResult['failures'] = [];
  let maxAbsDiff = 0;
  check.expected.forEach((expected, i) => {
    const diff = Math.abs(got[i]! - expected);
    maxAbsDiff = Math.max(maxAbsDiff, Number.isNaN(diff) ? Infinity : diff);
    if (!(diff <= check.tolerance)) failures.push({ window: i, expected, got: got[i]! });
  });
  return { ok: failures.length === 0, windows: check.windows.length, maxAbsDiff, failures };
}
