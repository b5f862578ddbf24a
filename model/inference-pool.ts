import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { activeBackendName, type BackendName } from './backend.js';
import { createFastEngine, type FastEngine } from './fast-inference.js';
import { readBiGruWeights } from './gru-weights.js';
import type { ThreadReply, ThreadRequest } from './inference-protocol.js';
import type { KerasModel } from './keras-h5.js';
import type { InferenceEngine } from './types.js';
import { checkWindowBatch, checkWindowSource, chunkWindowsOption, InferenceInputError, type WindowBatch } from './window-batch.js';

export interface InferencePoolOptions {
  /** Each thread's TF.js backend (model/backend.ts); default: each picks the fastest that works, as initBackend(). */
  backend?: BackendName;
  /** Threads (default: os.availableParallelism(), the cores this process may use). */
  threads?: number;
  /**
   * A batch is split so that each thread gets at least this many windows (default 512). A smaller batch (a small
   * upload, a version's self-check) runs on the calling thread when it has started a backend: no hand-off, and no
   * wait for the threads to start.
   */
  minWindowsPerThread?: number;
  /** Each thread's fast-engine chunk (see FastEngineOptions). */
  chunkWindows?: number;
}

export class InferencePoolError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InferencePoolError';
  }
}

export interface PooledEngine extends InferenceEngine {
  readonly name: 'fast';
  predictBatch(batch: WindowBatch): Promise<Float32Array>;
  /** Resolves once every thread has its backend and this model's weights. */
  warmUp(): Promise<void>;
}

interface Pending {
  resolve(reply: ThreadReply): void;
  reject(err: Error): void;
}

interface Thread {
  index: number;
  worker: Worker;
  pending: Map<number, Pending>;
}

/**
 * The thread entry beside this file: `.ts` under tsx (tests, npm scripts), `.js` once compiled (the image). A `.ts`
 * entry needs tsx's loader in the thread, which a thread inherits only when it came on the command line.
 */
function threadEntry(): { file: string; execArgv: string[] } {
  const here = fileURLToPath(import.meta.url);
  const ext = path.extname(here);
  const file = path.join(path.dirname(here), `inference-thread${ext}`);
  if (ext !== '.ts' || process.execArgv.some((a) => a.includes('tsx'))) return { file, execArgv: process.execArgv };
  return { file, execArgv: [...process.execArgv, '--import', import.meta.resolve('tsx')] };
}

function positiveInt(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw new InferencePoolError(`option ${name} must be a positive integer; got ${value}`);
  return value;
}

/**
 * Whether the fast engine gains from the pool on `backend`: wasm and cpu run one thread in Node.js; tfjs-node's
 * kernels already use every core (and its native addon is not known to load in worker threads).
 */
export function usesInferencePool(backend: BackendName): boolean {
  return backend !== 'tensorflow';
}

/** `values` in shared memory (itself when it already is), so that threads read it where it is. */
function shared(values: Float32Array): Float32Array {
  if (values.buffer instanceof SharedArrayBuffer) return values;
  const copy = new Float32Array(new SharedArrayBuffer(values.byteLength));
  copy.set(values);
  return copy;
}

/**
 * The fast engine on every core: one worker thread per core, each with its own TF.js backend (TF.js's wasm backend
 * runs one thread in Node.js) and its own copy of the weights. A batch's windows are cut into one contiguous range
 * per thread, across symbol segments where they fall (a range may start inside a segment: a window only reads the
 * rows before it); the threads read the features from shared memory and write their outputs into one shared array.
 * Created once per process; close() stops the threads.
 */
export class InferencePool {
  readonly size: number;
  /** Resolves with the threads' backend once every thread runs it; rejects with the first thread's failure to start. */
  readonly ready: Promise<BackendName>;
  private readonly threads: Thread[];
  private readonly minWindows: number;
  private readonly chunkWindows?: number;
  private nextJob = 0;
  private nextModel = 0;
  private failure?: Error;
  private closing?: Promise<void>;

  constructor(options: InferencePoolOptions) {
    this.size = positiveInt(options.threads, Math.max(1, os.availableParallelism()), 'threads');
    this.minWindows = positiveInt(options.minWindowsPerThread, 512, 'minWindowsPerThread');
    this.chunkWindows = options.chunkWindows === undefined ? undefined : chunkWindowsOption(options.chunkWindows, 0);
    const entry = threadEntry();
    this.threads = Array.from({ length: this.size }, (_, index) => this.spawn(index, entry));
    const backends: BackendName[] = [];
    this.ready = Promise.all(
      this.threads.map((t) => this.post(t, { type: 'init', backend: options.backend }, -1 - t.index, (m) => m.type === 'ready' && backends.push(m.backend))),
    ).then(() => backends[0]!);
    // Observed by whoever awaits a job; unobserved here it must not be an unhandled rejection.
    this.ready.catch(() => undefined);
  }

  private spawn(index: number, entry: { file: string; execArgv: string[] }): Thread {
    const worker = new Worker(entry.file, { execArgv: entry.execArgv, name: `inference-${index}` });
    const thread: Thread = { index, worker, pending: new Map() };
    // Idle threads do not keep the process alive; a thread with work does (see post()).
    worker.unref();
    worker.on('message', (m: ThreadReply) => {
      const job = m.type === 'ready' ? -1 - index : m.job;
      if (job === undefined) {
        this.fail(new InferencePoolError(`inference thread ${index}: ${m.type === 'failed' ? m.message : 'unexpected reply'}`));
        return;
      }
      const p = thread.pending.get(job);
      if (!p) return;
      thread.pending.delete(job);
      if (thread.pending.size === 0) worker.unref();
      if (m.type === 'failed') {
        const err = m.name === 'InferenceInputError' ? new InferenceInputError(m.message) : new InferencePoolError(`inference thread ${index}: ${m.message}`);
        p.reject(err);
      } else p.resolve(m);
    });
    worker.on('error', (err) => this.fail(new InferencePoolError(`inference thread ${index} failed: ${err.message}`, { cause: err })));
    worker.on('exit', (code) => {
      if (!this.closing) this.fail(new InferencePoolError(`inference thread ${index} exited (code ${code})`));
    });
    return thread;
  }

  /** A thread that fails takes the pool with it: every job in flight and every later one rejects with its error. */
  private fail(err: Error): void {
    this.failure ??= err;
    for (const t of this.threads ?? []) {
      for (const p of t.pending.values()) p.reject(this.failure);
      t.pending.clear();
    }
  }

  private post(thread: Thread, message: ThreadRequest, job: number, onReply?: (m: ThreadReply) => void): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closing) return Promise.reject(new InferencePoolError('inference pool: used after close()'));
    return new Promise<void>((resolve, reject) => {
      if (thread.pending.size === 0) thread.worker.ref();
      thread.pending.set(job, { resolve: (m) => (onReply?.(m), resolve()), reject });
      thread.worker.postMessage(message);
    });
  }

  /** Threads with the least work first. */
  private byLoad(): Thread[] {
    return [...this.threads].sort((a, b) => a.pending.size - b.pending.size);
  }

  /** Runs `count` windows as one contiguous range per thread; `make` builds a thread's message for [start, start + n). */
  private async run(count: number, make: (job: number, start: number, n: number, out: Float32Array) => ThreadRequest): Promise<Float32Array> {
    const out = new Float32Array(new SharedArrayBuffer(Math.max(1, count) * 4)).subarray(0, count);
    if (count === 0) return out;
    const parts = Math.min(this.size, Math.max(1, Math.floor(count / this.minWindows)));
    const threads = this.byLoad().slice(0, parts);
    await Promise.all(
      threads.map((t, i) => {
        const start = Math.floor((count * i) / parts);
        const end = Math.floor((count * (i + 1)) / parts);
        const job = this.nextJob++;
        return this.post(t, make(job, start, end - start, out), job);
      }),
    );
    return out;
  }

  /**
   * The fast engine for `keras` on the pool's threads (each builds its own). Its dispose() frees the threads' copies;
   * the threads stay for the next model.
   */
  engine(keras: KerasModel): PooledEngine {
    const w = readBiGruWeights(keras);
    const shape = { seqLen: w.seqLen, features: w.inputDim };
    const windowSize = shape.seqLen * shape.features;
    const model = this.nextModel++;
    const plain: KerasModel = { modelConfig: keras.modelConfig, layerWeights: keras.layerWeights };
    const loaded = Promise.all(
      this.threads.map((t) => {
        const job = this.nextJob++;
        return this.post(t, { type: 'load', job, model, keras: plain, chunkWindows: this.chunkWindows }, job);
      }),
    ).then(() => this.ready.then(() => undefined));
    loaded.catch(() => undefined);
    let disposed = false;
    const live = () => {
      if (disposed) throw new InferencePoolError('pooled fast engine: used after dispose()');
      if (this.closing) throw new InferencePoolError('inference pool: used after close()');
    };
    let local: FastEngine | undefined;
    // Small batches stay on this thread, on its own backend (the same one the threads run), when it has one.
    const here = (count: number) =>
      count < this.minWindows && activeBackendName() !== undefined ? (local ??= createFastEngine(keras, { chunkWindows: this.chunkWindows })) : undefined;
    return {
      name: 'fast',
      warmUp: () => loaded,
      predict: async (windows, count) => {
        live();
        checkWindowBatch('fast', windows, count, shape);
        const onThisThread = here(count);
        if (onThisThread) return onThisThread.predict(windows, count);
        await loaded;
        const sharedWindows = shared(windows);
        return this.run(count, (job, start, n, out) => ({ type: 'run', job, model, windows: sharedWindows, windowSize, start, count: n, out }));
      },
      predictBatch: async (batch) => {
        live();
        checkWindowSource('fast', batch, shape);
        const onThisThread = here(batch.count);
        if (onThisThread) return onThisThread.predictBatch(batch);
        await loaded;
        const b: WindowBatch = { features: shared(batch.features), segments: batch.segments, count: batch.count };
        return this.run(batch.count, (job, start, n, out) => ({ type: 'run', job, model, batch: b, windowSize, start, count: n, out }));
      },
      dispose: () => {
        if (disposed) return;
        disposed = true;
        local?.dispose();
        if (this.closing || this.failure) return;
        for (const t of this.threads) t.worker.postMessage({ type: 'unload', model } satisfies ThreadRequest);
      },
    };
  }

  /** Stops every thread; jobs in flight reject. One shared promise: safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const err = new InferencePoolError('inference pool: closed');
      for (const t of this.threads) {
        for (const p of t.pending.values()) p.reject(err);
        t.pending.clear();
      }
      await Promise.all(this.threads.map((t) => t.worker.terminate()));
    })();
    return this.closing;
  }
}
