/**
 * Upload-to-`pred_url` latency on the embedded stack: two warm worker processes, `crypto_test.csv` uploaded 20
 * times one after another (distinct keys), each timed from the PUT to the moment its predictions object is
 * readable (polled every 2 ms). Also the workers' own event-to-manifest time from the manifests.
 */
import fs from 'node:fs';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { predictionsKey, runKey } from '../../shared/layout.js';
import type { RunManifest } from '../../shared/manifest.js';
import { eventually, readJson, spawnWorker, startTestStack, type WorkerProcess } from '../helpers/test-stack.js';
import { shared } from '../helpers/paths.js';
import { fmt, median, percentile } from './stats.js';

export interface LatencyResult {
  uploads: number;
  workers: number;
  medianMs: number;
  p95Ms: number;
  minMs: number;
  maxMs: number;
  workerMedianMs: number;
}

export async function runLatencyBench(uploads = 20, log: (l: string) => void = console.log): Promise<LatencyResult> {
  const fleet = await startTestStack({ visibilityTimeoutSeconds: 30 });
  const workers: WorkerProcess[] = [];
  try {
    for (const id of ['w1', 'w2']) workers.push(spawnWorker(fleet, id, { HEARTBEAT_SECONDS: '10', WAIT_TIME_SECONDS: '20' }));
    await Promise.all(workers.map((w) => w.waitForLog((l) => l.event === 'worker.polling')));
    const body = fs.readFileSync(shared('data/crypto_test.csv'));
    const latencies: number[] = [];
    const workerMs: number[] = [];
    const warmup = 4;
    for (let i = 0; i < warmup + uploads; i++) {
      const key = `incoming/latency/${i}.csv`;
      const t0 = performance.now();
      await fleet.s3.send(new PutObjectCommand({ Bucket: fleet.stack.bucket, Key: key, Body: body }));
      await eventually(async () => ((await fleet.objects.exists(predictionsKey(key))) ? true : undefined), `predictions of ${key}`, 60_000, 2);
      const ms = performance.now() - t0;
      if (i < warmup) continue;
      latencies.push(ms);
      const runId = String(
        (
          await Promise.race(
            workers.map((w) => w.waitForLog((l) => l.event === 'run.succeeded' && l.key === key, 10_000).catch(() => new Promise<never>(() => {}))),
          )
        )?.runId,
      );
      const m = await readJson<RunManifest>(fleet, runKey(runId, 'manifest'));
      workerMs.push(m.timings.totalMs);
    }
    const r: LatencyResult = {
      uploads,
      workers: workers.length,
      medianMs: median(latencies),
      p95Ms: percentile(latencies, 95),
      minMs: Math.min(...latencies),
      maxMs: Math.max(...latencies),
      workerMedianMs: median(workerMs),
    };
    log(`upload -> pred_url on the embedded stack, crypto_test.csv, ${r.workers} warm workers, ${uploads} uploads after ${warmup} warm-up:`);
    log(
      `  median ${fmt(r.medianMs)} ms, p95 ${fmt(r.p95Ms)} ms (min ${fmt(r.minMs)}, max ${fmt(r.maxMs)}); worker's own run (manifest totalMs) median ${fmt(r.workerMedianMs, 1)} ms`,
    );
    return r;
  } finally {
    for (const w of workers) w.child.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
    await fleet.close();
  }
}
