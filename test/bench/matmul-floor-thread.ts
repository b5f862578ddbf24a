/**
 * One thread of the matmul floor (matmul-floor.ts): its own TF.js backend, then only the fast engine's matrix
 * products (same shapes, same count, same chunks), none of its element-wise work, timed.
 */
import { parentPort } from 'node:worker_threads';
import { initBackend } from '../../model/backend.js';
import { tf } from '../../model/tf-core.js';
import type { MatmulShape } from './matmul-floor.js';

interface Job {
  backend: string;
  products: MatmulShape[];
  windows: number;
  chunk: number;
  reps: number;
}

function filled(rows: number, cols: number, seed: number) {
  const v = new Float32Array(rows * cols);
  for (let i = 0; i < v.length; i++) v[i] = ((i * 2654435761 + seed) >>> 0) / 2 ** 32 - 0.5;
  return tf.tensor2d(v, [rows, cols]);
}

parentPort!.once('message', async (job: Job) => {
  await initBackend(job.backend as 'wasm' | 'cpu' | 'tensorflow');
  const left = new Map<string, ReturnType<typeof filled>>();
  const right = new Map<string, ReturnType<typeof filled>>();
  const operand = (map: typeof left, rows: number, cols: number) => {
    const key = `${rows}x${cols}`;
    let t = map.get(key);
    if (!t) map.set(key, (t = filled(rows, cols, map.size + 1)));
    return t;
  };
  const pass = () => {
    for (let start = 0; start < job.windows; start += job.chunk) {
      const n = Math.min(job.chunk, job.windows - start);
      for (const p of job.products) tf.matMul(operand(left, n, p.k), operand(right, p.k, p.m)).dispose();
    }
    // Backends that queue work (tfjs-node, not wasm) finish it here.
    const last = tf.matMul(operand(left, 1, 1), operand(right, 1, 1));
    last.dataSync();
    last.dispose();
  };
  pass();
  const ms: number[] = [];
  for (let r = 0; r < job.reps; r++) {
    const t0 = performance.now();
    pass();
    ms.push(performance.now() - t0);
  }
  parentPort!.postMessage(ms);
});
