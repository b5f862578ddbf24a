import type { BackendName } from './backend.js';
import type { KerasModel } from './keras-h5.js';
import type { WindowBatch } from './window-batch.js';

/** What the pool (model/inference-pool.ts) posts to an inference thread (model/inference-thread.ts). */
export type ThreadRequest =
  | { type: 'init'; backend?: BackendName }
  | { type: 'load'; job: number; model: number; keras: KerasModel; chunkWindows?: number }
  | { type: 'unload'; model: number }
  | {
      type: 'run';
      job: number;
      model: number;
      /** Either a WindowBatch (features in shared memory) or row-major windows in shared memory. */
      batch?: WindowBatch;
      windows?: Float32Array;
      windowSize: number;
      start: number;
      count: number;
      /** Shared: the thread writes outputs [start, start + count). */
      out: Float32Array;
    };

export type ThreadReply =
  { type: 'ready'; backend: BackendName } | { type: 'done'; job: number } | { type: 'failed'; job?: number; message: string; name: string };
