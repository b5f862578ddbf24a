/**
 * The 10,000-symbol x 40-day upload on the embedded stack, sharded, with 1 and then 2 worker processes: wall time from
 * the upload's PUT to its status `succeeded`, each worker's peak RSS (VmHWM), and the speed-up. The machine's cores
 * bound the speed-up (this one has 2, shared with the stack itself).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MODEL_POINTER_KEY, uploadStatusKey } from '../../shared/layout.js';
import type { UploadStatus } from '../../shared/manifest.js';
import { WORKER_ENV } from '../../shared/worker-env.js';
import { extendScalersFromHistory } from '../../worker/ops/extend-scalers.js';
import { loadHistoryFile } from '../../worker/ops/history-load.js';
import { useModelVersion } from '../../worker/ops/model-versions.js';
import { writeGeneratedSample } from '../../worker/ops/sample.js';
import { eventually, readJson, spawnWorker, startTestStack, upload, type TestStack, type WorkerProcess } from '../helpers/test-stack.js';
import { fmt } from './stats.js';

export interface ShardBenchResult {
  symbols: number;
  days: number;
  bytes: number;
  shardSymbols: number;
  cores: number;
  runs: { workers: number; wallMs: number; shards: number; peakRssMiB: Record<string, number> }[];
  speedUp: number;
}

const peakRssMiB = (pid: number): number => {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
};

async function timedRun(stack: TestStack, key: string, body: Buffer, workers: number, shardSymbols: number): Promise<ShardBenchResult['runs'][number]> {
  const procs: WorkerProcess[] = Array.from({ length: workers }, (_, i) =>
    spawnWorker(stack, `bench-${workers}-${i}`, { [WORKER_ENV.shardSymbols]: String(shardSymbols), [WORKER_ENV.logLevel]: 'info' }),
  );
  try {
    await Promise.all(procs.map((p) => p.waitForLog((l) => l.event === 'worker.ready', 300_000)));
    const t0 = performance.now();
    const etag = await upload(stack, key, body);
    await eventually(
      async () => {
        const s = await readJson<UploadStatus>(stack, uploadStatusKey(stack.stack.bucket, key, etag)).catch(() => undefined);
        return s?.status === 'succeeded' ? s : undefined;
      },
      `the run of ${key}`,
      1_800_000,
      100,
    );
    const wallMs = performance.now() - t0;
    const shards = procs.flatMap((p) => p.logs.filter((l) => l.event === 'shard.succeeded')).length;
    return { workers, wallMs, shards, peakRssMiB: Object.fromEntries(procs.map((p) => [p.id, peakRssMiB(p.child.pid!)])) };
  } finally {
    for (const p of procs) p.child.kill('SIGTERM');
    await Promise.all(procs.map((p) => p.exited));
  }
}

export async function runShardBench(symbols = 10_000, days = 40, shardSymbols = 1250, log: (l: string) => void = console.log): Promise<ShardBenchResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-shards-'));
  const stack = await startTestStack({ visibilityTimeoutSeconds: 30 });
  try {
    const file = path.join(dir, 'upload.csv');
    await writeGeneratedSample({ count: symbols, days, seed: 1 }, file);
    const body = fs.readFileSync(file);
    // Scalers for every symbol: the history holds the same rows (cold start done before the measured runs).
    await loadHistoryFile(stack.objects, file);
    const extended = await extendScalersFromHistory(stack.objects, { pointerKey: MODEL_POINTER_KEY, minRows: 30, asOf: '2018-12-31' });
    await useModelVersion(stack.objects, MODEL_POINTER_KEY, extended.version!);
    log(
      `${symbols.toLocaleString('en-US')} symbols x ${days} days (${(body.length / 1024 ** 2).toFixed(1)} MiB), SHARD_SYMBOLS=${shardSymbols}, ${os.cpus().length} cores:`,
    );
    const runs = [];
    for (const workers of [1, 2]) {
      const r = await timedRun(stack, `incoming/bench-${workers}w.csv`, body, workers, shardSymbols);
      runs.push(r);
      log(
        `  ${workers} worker${workers > 1 ? 's' : ''}: ${fmt(r.wallMs)} ms upload -> succeeded, ${r.shards} shards, peak RSS ${Object.values(r.peakRssMiB).join(' / ')} MiB`,
      );
    }
    const speedUp = runs[0]!.wallMs / runs[1]!.wallMs;
    log(`  speed-up 1 -> 2 workers: ${speedUp.toFixed(2)}x (${os.cpus().length} cores, shared with the embedded stack)`);
    return { symbols, days, bytes: body.length, shardSymbols, cores: os.cpus().length, runs, speedUp };
  } finally {
    await stack.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  runShardBench().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
