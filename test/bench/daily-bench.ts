/**
 * The production day: 10,000 symbols, one row each, uploaded with 30 days of history already in the store (and the
 * scalers extended from it), on the embedded stack with 2 worker processes (default config, so the upload is
 * sharded). Wall time from the PUT to the upload's status `succeeded`, median of a few days uploaded one after another.
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
import { eventually, readJson, spawnWorker, startTestStack, upload, type WorkerProcess } from '../helpers/test-stack.js';
import { fmt, median } from './stats.js';

export interface DailyBenchResult {
  symbols: number;
  historyDays: number;
  workers: number;
  wallMs: number[];
  medianMs: number;
  shards: number;
}

export async function runDailyBench(
  symbols = 10_000,
  historyDays = 30,
  uploads = 3,
  log: (l: string) => void = console.log,
  workerEnv: Record<string, string> = {},
): Promise<DailyBenchResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-daily-'));
  const stack = await startTestStack({ visibilityTimeoutSeconds: 30 });
  const procs: WorkerProcess[] = [];
  try {
    const file = path.join(dir, 'all.csv');
    await writeGeneratedSample({ count: symbols, days: historyDays + uploads, seed: 7 }, file);
    const [header, ...rows] = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
    const dateCol = header!.split(',').indexOf('date');
    const days = [...new Set(rows.map((r) => r.split(',')[dateCol]!))].sort();
    const byDay = (wanted: (d: string) => boolean) => `${header}\n${rows.filter((r) => wanted(r.split(',')[dateCol]!)).join('\n')}\n`;
    const cutoff = days[historyDays - 1]!;
    const historyFile = path.join(dir, 'history.csv');
    fs.writeFileSync(
      historyFile,
      byDay((d) => d <= cutoff),
    );
    await loadHistoryFile(stack.objects, historyFile);
    const extended = await extendScalersFromHistory(stack.objects, { pointerKey: MODEL_POINTER_KEY, minRows: historyDays, asOf: cutoff });
    await useModelVersion(stack.objects, MODEL_POINTER_KEY, extended.version!);
    for (let i = 0; i < 2; i++) procs.push(spawnWorker(stack, `daily-${i}`, { [WORKER_ENV.logLevel]: 'info', ...workerEnv }));
    await Promise.all(procs.map((p) => p.waitForLog((l) => l.event === 'worker.ready', 300_000)));

    const wallMs: number[] = [];
    for (const day of days.slice(historyDays)) {
      const key = `incoming/daily/${day}.csv`;
      const t0 = performance.now();
      const etag = await upload(
        stack,
        key,
        byDay((d) => d === day),
      );
      await eventually(
        async () => {
          const s = await readJson<UploadStatus>(stack, uploadStatusKey(stack.stack.bucket, key, etag)).catch(() => undefined);
          return s?.status === 'succeeded' ? s : undefined;
        },
        `the run of ${key}`,
        600_000,
        25,
      );
      wallMs.push(performance.now() - t0);
      log(`  ${day}: ${symbols.toLocaleString('en-US')} rows, upload -> succeeded ${fmt(wallMs.at(-1)!)} ms`);
    }
    const shards = procs.flatMap((p) => p.logs.filter((l) => l.event === 'shard.succeeded')).length;
    const result = { symbols, historyDays, workers: procs.length, wallMs, medianMs: median(wallMs), shards };
    log(`  median ${fmt(result.medianMs)} ms over ${wallMs.length} days (2 workers, ${shards} shards in all, ${os.availableParallelism()} cores)`);
    return result;
  } finally {
    for (const p of procs) p.child.kill('SIGTERM');
    await Promise.all(procs.map((p) => p.exited));
    await stack.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  const unsharded = process.argv.includes('--unsharded');
  runDailyBench(10_000, 30, 3, console.log, unsharded ? { [WORKER_ENV.shardSymbols]: '1000000' } : {}).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
