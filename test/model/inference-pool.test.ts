import { expect } from 'chai';
import { activeBackendName } from '../../model/backend.js';
import { createFastEngine, type FastEngine } from '../../model/fast-inference.js';
import { InferencePool, InferencePoolError, type PooledEngine } from '../../model/inference-pool.js';
import { readKerasH5, type KerasH5 } from '../../model/keras-h5.js';
import { InferenceInputError, materializeWindows, type WindowBatch } from '../../model/window-batch.js';
import { shared } from '../helpers/paths.js';

const F = 13;

/** Segments of the given lengths over seeded feature rows (scaled columns in [-3, 3], log_shares in [10, 25]). */
function batchOf(lengths: number[], sharedMemory = true): WindowBatch {
  const rows = lengths.reduce((a, b) => a + b, 0);
  const features = new Float32Array(sharedMemory ? new SharedArrayBuffer(rows * F * 4) : new ArrayBuffer(rows * F * 4));
  let s = 7;
  for (let i = 0; i < features.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    features[i] = i % F === F - 1 ? 10 + (15 * s) / 2 ** 32 : (6 * s) / 2 ** 32 - 3;
  }
  const segments = new Int32Array(2 * lengths.length);
  let row = 0;
  lengths.forEach((n, i) => {
    segments[2 * i] = row;
    segments[2 * i + 1] = n;
    row += n;
  });
  return { features, segments, count: rows + lengths.length };
}

describe('inference pool (the fast engine on worker threads)', () => {
  let h5: KerasH5;
  let pool: InferencePool;
  let pooled: PooledEngine;
  let local: FastEngine;
  before(async () => {
    h5 = await readKerasH5(shared('model_out/model.h5'));
    pool = new InferencePool({ backend: activeBackendName()!, threads: 2, minWindowsPerThread: 8 });
    pooled = pool.engine(h5);
    local = createFastEngine(h5);
    await pooled.warmUp();
  });

  it('starts every thread on the backend asked for', async () => {
    expect(await pool.ready).to.equal(activeBackendName());
  });
  after(async () => {
    local.dispose();
    pooled.dispose();
    await pool.close();
  });

  it('gives the same outputs as the fast engine on this thread, over a batch split across threads inside a segment', async () => {
    // 3 symbols; with two threads the split falls inside the second segment.
    const batch = batchOf([40, 7, 60]);
    const expected = await local.predictBatch(batch);
    const got = await pooled.predictBatch(batch);
    expect(got.length).to.equal(batch.count);
    let diff = 0;
    for (let i = 0; i < got.length; i++) diff = Math.max(diff, Math.abs(got[i]! - expected[i]!));
    expect(diff).to.be.at.most(1e-6);
  });

  it('computes a batch whose features are not in shared memory, and row-major windows, alike', async () => {
    const batch = batchOf([30, 25], false);
    const windows = materializeWindows(batch, { seqLen: 5, features: F });
    const a = await pooled.predictBatch(batch);
    const b = await pooled.predict(windows, batch.count);
    const c = await local.predict(windows, batch.count);
    expect(Array.from(a)).to.deep.equal(Array.from(b));
    for (let i = 0; i < c.length; i++) expect(Math.abs(b[i]! - c[i]!)).to.be.at.most(1e-6);
  });

  it('runs concurrent batches and an empty one', async () => {
    const batches = [batchOf([20]), batchOf([3, 3]), batchOf([50, 1])];
    const all = await Promise.all(batches.map((b) => pooled.predictBatch(b)));
    for (const [i, b] of batches.entries()) expect(Array.from(all[i]!)).to.deep.equal(Array.from(await local.predictBatch(b)));
    expect((await pooled.predictBatch(batchOf([]))).length).to.equal(0);
  });

  it('refuses a batch whose segments do not match its count, naming the numbers', async () => {
    const batch = { ...batchOf([10]), count: 12 };
    const err = await pooled.predictBatch(batch).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(InferenceInputError);
    expect((err as Error).message).to.equal('fast engine: the segments hold 11 windows, the batch says 12');
  });

  it('closes once (the same promise twice) and refuses work afterwards', async () => {
    const other = new InferencePool({ backend: activeBackendName()!, threads: 1, minWindowsPerThread: 1 });
    const engine = other.engine(h5);
    expect((await engine.predictBatch(batchOf([4]))).length).to.equal(5);
    const closing = other.close();
    expect(other.close()).to.equal(closing);
    await closing;
    const err = await engine.predictBatch(batchOf([4])).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(InferencePoolError);
    expect((err as Error).message).to.equal('inference pool: used after close()');
  });

  it('runs a batch below minWindowsPerThread on the calling thread, with the same outputs', async () => {
    const other = new InferencePool({ backend: activeBackendName()!, threads: 1, minWindowsPerThread: 1000 });
    try {
      const engine = other.engine(h5);
      const batch = batchOf([30, 12]);
      expect(Array.from(await engine.predictBatch(batch))).to.deep.equal(Array.from(await local.predictBatch(batch)));
      engine.dispose();
    } finally {
      await other.close();
    }
  });

  it('validates its options', () => {
    expect(() => new InferencePool({ backend: 'wasm', threads: 0 })).to.throw(InferencePoolError, 'option threads must be a positive integer; got 0');
  });
});
