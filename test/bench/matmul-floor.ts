/**
 * The floor of the fast engine: the same matrix products (shapes and count per window, chunk by chunk) and nothing
 * else, on the same backend and the same number of threads, started together. What inference could reach if its
 * element-wise work, data movement and thread hand-offs cost nothing.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { readBiGruWeights } from '../../model/gru-weights.js';
import type { KerasModel } from '../../model/keras-h5.js';
import { median } from './stats.js';

/** One product [n, k] x [k, m] per chunk of n windows. */
export interface MatmulShape {
  k: number;
  m: number;
}

/** The fast engine's products for one window (model/fast-inference.ts): its step 0 starts from a zero state. */
export function fastEngineProducts(model: KerasModel): { products: MatmulShape[]; flopsPerWindow: number } {
  const w = readBiGruWeights(model);
  const u = w.units;
  const products: MatmulShape[] = [];
  for (let dir = 0; dir < 2; dir++) {
    products.push({ k: w.inputDim, m: u }, { k: w.inputDim, m: u }); // step 0: z and the candidate
    for (let t = 1; t < w.seqLen; t++)
      products.push({ k: w.inputDim, m: u }, { k: w.inputDim, m: u }, { k: w.inputDim, m: u }, { k: u, m: u }, { k: u, m: u }, { k: u, m: u });
  }
  products.push({ k: u, m: w.dense[0]!.units }, { k: u, m: w.dense[0]!.units });
  for (const d of w.dense.slice(1)) products.push({ k: d.inputs, m: d.units });
  return { products, flopsPerWindow: products.reduce((s, p) => s + 2 * p.k * p.m, 0) };
}

export interface FloorResult {
  threads: number;
  windows: number;
  chunk: number;
  medianMs: number;
  windowsPerSec: number;
  gflops: number;
  flopsPerWindow: number;
}

/** Runs the products of `windows` windows split over `threads` threads, each on its own `backend`; median wall of `reps`. */
export async function runMatmulFloor(
  model: KerasModel,
  o: { backend: string; windows: number; threads: number; chunk?: number; reps?: number },
): Promise<FloorResult> {
  const { products, flopsPerWindow } = fastEngineProducts(model);
  const chunk = o.chunk ?? 2048;
  const reps = o.reps ?? 5;
  const here = fileURLToPath(import.meta.url);
  const entry = path.join(path.dirname(here), `matmul-floor-thread${path.extname(here)}`);
  const per = Math.ceil(o.windows / o.threads);
  const runs = await Promise.all(
    Array.from(
      { length: o.threads },
      (_, i) =>
        new Promise<number[]>((resolve, reject) => {
          const worker = new Worker(entry);
          worker.once('message', (ms: number[]) => {
            resolve(ms);
            void worker.terminate();
          });
          worker.once('error', reject);
          worker.postMessage({ backend: o.backend, products, windows: Math.min(per, o.windows - i * per), chunk, reps });
        }),
    ),
  );
  // Threads run side by side: a repetition takes as long as its slowest thread.
  const walls = Array.from({ length: reps }, (_, r) => Math.max(...runs.map((ms) => ms[r]!)));
  const medianMs = median(walls);
  return {
    threads: o.threads,
    windows: o.windows,
    chunk,
    medianMs,
    windowsPerSec: (o.windows / medianMs) * 1000,
    gflops: (o.windows * flopsPerWindow) / medianMs / 1e6,
    flopsPerWindow,
  };
}
