/**
 * One inference thread of the pool (model/inference-pool.ts): its own TF.js backend and one fast engine per model
 * the pool has loaded; it computes the window ranges it is given of batches whose features (and outputs) live in
 * shared memory, so nothing but the job's bounds crosses threads.
 */
import { parentPort } from 'node:worker_threads';
import { initBackend } from './backend.js';
import { createFastEngine, type FastEngine } from './fast-inference.js';
import type { ThreadReply, ThreadRequest } from './inference-protocol.js';

const port = parentPort;
if (!port) throw new Error('model/inference-thread is a worker_threads entry, not a module to import');

const engines = new Map<number, FastEngine>();
const reply = (m: ThreadReply) => port.postMessage(m);

async function handle(m: ThreadRequest): Promise<void> {
  switch (m.type) {
    case 'init': {
      const choice = await initBackend(m.backend);
      reply({ type: 'ready', backend: choice.name });
      return;
    }
    case 'load':
      engines.set(m.model, createFastEngine(m.keras, { chunkWindows: m.chunkWindows }));
      reply({ type: 'done', job: m.job });
      return;
    case 'unload':
      engines.get(m.model)?.dispose();
      engines.delete(m.model);
      return;
    case 'run': {
      const engine = engines.get(m.model);
      if (!engine) throw new Error(`model ${m.model} is not loaded in this thread`);
      const y =
        m.windows !== undefined
          ? await engine.predict(m.windows.subarray(m.start * m.windowSize, (m.start + m.count) * m.windowSize), m.count)
          : await engine.predictBatchRange(m.batch!, m.start, m.count);
      m.out.set(y, m.start);
      reply({ type: 'done', job: m.job });
      return;
    }
  }
}

// Messages are handled one at a time, in order: a run never overtakes the load of its model.
let queue = Promise.resolve();
port.on('message', (m: ThreadRequest) => {
  queue = queue.then(() =>
    handle(m).catch((err: unknown) => {
      const e = err instanceof Error ? err : new Error(String(err));
      reply({ type: 'failed', job: 'job' in m ? m.job : undefined, message: e.message, name: e.name });
    }),
  );
});
