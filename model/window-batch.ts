import type { Tensor } from '@tensorflow/tfjs-core';

export class InferenceInputError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InferenceInputError';
  }
}

/** Shape of one window, as the model's input declares it. */
export interface WindowShape {
  seqLen: number;
  features: number;
}

/** Checks an engine's `predict` arguments: `count` windows of `seqLen * features` float32 values, no more, no less. */
export function checkWindowBatch(engine: string, windows: Float32Array, count: number, shape: WindowShape): void {
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new InferenceInputError(`${engine} engine: count must be a non-negative integer; got ${count}`);
  }
  const expected = count * shape.seqLen * shape.features;
  if (!(windows instanceof Float32Array) || windows.length !== expected) {
    throw new InferenceInputError(
      `${engine} engine: ${count} windows of [${shape.seqLen}, ${shape.features}] need a Float32Array of ${expected} values; got ${
        windows instanceof Float32Array ? windows.length : typeof windows
      }`,
    );
  }
}

/** Validates a `chunkWindows` option once. */
export function chunkWindowsOption(value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw new InferenceInputError(`option chunkWindows must be a positive integer; got ${value}`);
  return value;
}

/** Runs `forward` on the batch chunk by chunk (bounded memory) and gathers each chunk's [n, 1] output. */
export async function predictInChunks(count: number, chunk: number, forward: (start: number, n: number) => Tensor): Promise<Float32Array> {
  const out = new Float32Array(count);
  for (let start = 0; start < count; start += chunk) {
    const n = Math.min(chunk, count - start);
    const y = forward(start, n);
    try {
      out.set(await y.data<'float32'>(), start);
    } finally {
      y.dispose();
    }
  }
  return out;
}

/**
 * Windows described by the feature rows they are cut from (SPEC §3), not written out: window t of a segment
 * of n rows (t = 0..n) holds rows t-seqLen..t-1 of it, zero rows before its first. Windows are numbered
 * segment after segment. A quarter of the memory of the windows themselves at seqLen 5.
 */
export interface WindowBatch {
  /** [rows, features] float32, every segment's rows. */
  features: Float32Array;
  /** Pairs (first feature row, n) per segment. */
  segments: Int32Array;
  /** Σ (n + 1). */
  count: number;
}

/** Σ (n + 1) of a segment table, checked. */
export function segmentWindows(segments: Int32Array, featureRows: number): number {
  if (segments.length % 2 !== 0) throw new InferenceInputError(`segments must be (start, n) pairs; got ${segments.length} values`);
  let count = 0;
  for (let s = 0; s < segments.length; s += 2) {
    const start = segments[s]!;
    const n = segments[s + 1]!;
    if (!(start >= 0 && n >= 0 && start + n <= featureRows))
      throw new InferenceInputError(`segment ${s / 2} (rows ${start}..${start + n - 1}) is outside the ${featureRows} feature rows`);
    count += n + 1;
  }
  return count;
}

/** Checks a WindowBatch against the model's window shape. */
export function checkWindowSource(engine: string, batch: WindowBatch, shape: WindowShape): void {
  if (!(batch.features instanceof Float32Array) || batch.features.length % shape.features !== 0) {
    throw new InferenceInputError(`${engine} engine: features must be a Float32Array of [rows, ${shape.features}] values`);
  }
  const count = segmentWindows(batch.segments, batch.features.length / shape.features);
  if (count !== batch.count) throw new InferenceInputError(`${engine} engine: the segments hold ${count} windows, the batch says ${batch.count}`);
}

/**
 * Windows [start, start + n) of a WindowBatch written time-major into `dest` ([seqLen, n, features]: step k
 * of every window, then step k + 1), the layout the fast engine's per-step products read.
 */
export function fillTimeMajor(batch: WindowBatch, start: number, n: number, shape: WindowShape, dest: Float32Array): void {
  const { seqLen, features: f } = shape;
  const { features, segments } = batch;
  // Find the segment holding window `start`.
  let s = 0;
  let first = 0;
  while (first + segments[s + 1]! + 1 <= start) {
    first += segments[s + 1]! + 1;
    s += 2;
  }
  let t = start - first;
  for (let i = 0; i < n; i++) {
    const rowStart = segments[s]!;
    for (let k = 0; k < seqLen; k++) {
      const local = t - seqLen + k;
      const d = (k * n + i) * f;
      if (local < 0) dest.fill(0, d, d + f);
      else {
        const from = (rowStart + local) * f;
        for (let j = 0; j < f; j++) dest[d + j] = features[from + j]!;
      }
    }
    if (++t > segments[s + 1]!) {
      t = 0;
      s += 2;
    }
  }
}

/** Writes every window of a WindowBatch out, row-major [count, seqLen, features] (for engines that take windows). */
export function materializeWindows(batch: WindowBatch, shape: WindowShape): Float32Array {
  const size = shape.seqLen * shape.features;
  const out = new Float32Array(batch.count * size);
  let w = 0;
  for (let s = 0; s < batch.segments.length; s += 2) {
    const start = batch.segments[s]!;
    const n = batch.segments[s + 1]!;
    for (let t = 0; t <= n; t++, w++) {
      const from = Math.max(0, t - shape.seqLen);
      const pad = shape.seqLen - (t - from);
      out.set(batch.features.subarray((start + from) * shape.features, (start + t) * shape.features), w * size + pad * shape.features);
    }
  }
  return out;
}
