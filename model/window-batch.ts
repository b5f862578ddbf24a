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
