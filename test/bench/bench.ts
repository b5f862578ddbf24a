/**
 * `npm run bench [-- --only io,inference,whole,latency,shards,daily] [--json out.json]`: every measured figure of the README, in
 * one run on this machine (medians after warm-ups; never asserted in tests), each target with its figure and its
 * ratio against a baseline measured in the same run. Writes .local/bench/results.json and results.md.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend } from '../../model/backend.js';
import { backendFromEnv } from '../../worker/cli/model-args.js';
import { repoRoot } from '../helpers/paths.js';
import { runChild, runInferenceBench, type InferenceBenchResult } from './inference-bench.js';
import { runIoBench } from './io-bench.js';
import { runLatencyBench, type LatencyResult } from './latency-bench.js';
import { fmt } from './stats.js';
import { runDailyBench } from './daily-bench.js';
import { runShardBench } from './shard-bench.js';
import { runWholeProcessBench, type WholeProcessResult } from './whole-process-bench.js';

const PARTS = ['io', 'inference', 'whole', 'latency', 'shards', 'daily'] as const;
const OUT_DIR = path.join(repoRoot, '.local/bench');

interface Target {
  target: string;
  figure: string;
  baseline: string;
  ratio: string;
  goal: string;
  met: boolean | undefined;
}

function machine() {
  const cpuModel = (() => {
    try {
      return (
        execFileSync('lscpu', { encoding: 'utf8' })
          .match(/^Model name:\s*(.+)$/m)?.[1]
          ?.trim() ?? os.cpus()[0]?.model
      );
    } catch {
      return os.cpus()[0]?.model;
    }
  })();
  return {
    nproc: os.availableParallelism(),
    cpuModel,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.arch()}`,
  };
}

const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');

/** The issue's targets from the parts that ran; a target whose part did not run is left out. */
function targets(r: Record<string, any>): Target[] {
  const t: Target[] = [];
  const io = r.io as Record<string, any> | undefined;
  if (io?.modelFiles) {
    const m = io.modelFiles;
    const delta = m.h5CachedMs - m.modelMs;
    t.push({
      target: 'Model files: `predict --h5 --scaler` (cached) vs `--model`',
      figure: `${fmt(m.h5CachedMs)} ms (first, converting: ${fmt(m.h5ColdMs)} ms)`,
      baseline: `--model ${fmt(m.modelMs)} ms`,
      ratio: `+${fmt(delta)} ms`,
      goal: '<= +100 ms',
      met: delta <= 100,
    });
    t.push({
      target: 'Model files: peak RSS of `--h5 --scaler`',
      figure: `${fmt(m.h5RssMiB)} MiB`,
      baseline: `--model ${fmt(m.modelRssMiB)} MiB`,
      ratio: fmt(m.h5RssMiB / m.modelRssMiB, 2),
      goal: '< 250 MiB',
      met: m.h5RssMiB < 250,
    });
  }
  if (io?.csvIn) {
    const c = io.csvIn;
    const engine = c.mb / (c.parseFeaturesWindowsMs / 1000);
    t.push({
      target: 'CSV in: parse + validate + features/windows',
      figure: `${fmt(engine, 1)} MB/s (parse + validate alone ${fmt(c.parseMBps, 1)} MB/s)`,
      baseline: c.pythonCsvModuleMBps ? `Python csv.reader ${fmt(c.pythonCsvModuleMBps, 1)} MB/s` : 'n/a',
      ratio: c.pythonCsvModuleMBps ? fmt(engine / c.pythonCsvModuleMBps, 2) : '-',
      goal: '>= 40 MB/s',
      met: engine >= 40,
    });
  }
  if (io?.csvOut) {
    const c = io.csvOut;
    t.push({
      target: 'CSV out: predictions',
      figure: `${fmt(c.MBps, 1)} MB/s`,
      baseline: `${fmt(c.mb, 1)} MB written`,
      ratio: fmt(c.MBps / 50, 2),
      goal: '>= 50 MB/s',
      met: c.MBps >= 50,
    });
  }
  const inf = r.inference as InferenceBenchResult | undefined;
  if (inf?.pool) {
    const p = inf.pool;
    t.push({
      target: `Inference: fast engine on ${p.threads} threads, ${fmt(p.windows)} windows`,
      figure: `${fmt(p.windowsPerSec)} windows/s`,
      baseline: `matmul floor ${fmt(p.floor.windowsPerSec)} windows/s (${fmt(p.floor.gflops, 1)} GFLOP/s)`,
      ratio: `${fmt(p.overFloor, 2)}x the floor's time`,
      goal: '>= 200,000 windows/s, <= 1.5x',
      met: p.windowsPerSec >= 200_000 && p.overFloor <= 1.5,
    });
  }
  const wp = (r.wholeProcess as WholeProcessResult | undefined)?.versusNumpy;
  if (wp?.numpyMedianMs !== undefined) {
    t.push({
      target: 'Whole process: `predict` (compiled) vs NumPy pipeline, 35k rows',
      figure: `${fmt(wp.predictMedianMs)} ms (tsx: ${fmt(wp.predictTsxMedianMs)} ms; start-up + model load ${fmt(wp.predictStagesMs.startAndModelLoad!)} ms)`,
      baseline: `NumPy ${fmt(wp.numpyMedianMs)} ms (${wp.blas})`,
      ratio: fmt(wp.wholeRatio!, 2),
      goal: '<= 0.4',
      met: wp.wholeRatio! <= 0.4,
    });
    t.push({
      target: 'In-process: parse .. write',
      figure: `${fmt(wp.predictInProcessMs)} ms`,
      baseline: `NumPy ${fmt(wp.numpyInProcessMs!)} ms`,
      ratio: fmt(wp.inProcessRatio!, 2),
      goal: '<= 0.2',
      met: wp.inProcessRatio! <= 0.2,
    });
  }
  const lat = r.latency as LatencyResult | undefined;
  const floor = r.standInFloor as { medianMs: number; p95Ms: number } | undefined;
  if (lat && floor) {
    const over = lat.medianMs - floor.medianMs;
    t.push({
      target: 'Latency: upload -> `pred_url` median (2 warm workers)',
      figure: `${fmt(lat.medianMs)} ms (p95 ${fmt(lat.p95Ms)}; worker's run ${fmt(lat.workerMedianMs, 1)} ms)`,
      baseline: `stand-ins alone ${fmt(floor.medianMs)} ms (p95 ${fmt(floor.p95Ms)})`,
      ratio: `+${fmt(over)} ms`,
      goal: '<= +25 ms',
      met: over <= 25,
    });
  }
  if (io?.memory) {
    const m = io.memory;
    t.push({
      target: `Memory: peak RSS per row, ${fmt(m.rows)}-row input`,
      figure: `${fmt(m.bytesPerRow)} bytes/row (${fmt(m.rssMiB)} MiB)`,
      baseline: `${fmt(m.baseRssMiB)} MiB at 35k rows`,
      ratio: fmt(m.bytesPerRow / 300, 2),
      goal: '<= 300 bytes/row',
      met: m.bytesPerRow <= 300,
    });
  }
  return t;
}

function markdown(meta: Record<string, any>, rows: Target[]): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  return [
    `Measured ${meta.date} on ${meta.machine.nproc} x ${meta.machine.cpuModel} (${meta.machine.memoryGiB} GiB), Node.js ${meta.machine.node}, ${meta.machine.platform}; load average ${meta.loadBefore} before, ${meta.loadAfter} after (a shared machine: compare ratios, not times).`,
    '',
    '| Target | Figure | Baseline (same run) | Ratio | Goal | Met |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${[r.target, r.figure, r.baseline, r.ratio, r.goal, r.met === undefined ? '-' : r.met ? 'yes' : 'no'].map(cell).join(' | ')} |`),
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { only: { type: 'string' }, json: { type: 'string' } }, strict: true });
  const only = values.only ? values.only.split(',') : [...PARTS];
  const unknown = only.filter((p) => !(PARTS as readonly string[]).includes(p));
  if (unknown.length) throw new Error(`--only takes ${PARTS.join(', ')}; got ${unknown.join(', ')}`);
  const meta = { date: new Date().toISOString(), machine: machine(), loadBefore: load(), loadAfter: '' };
  console.log(`machine: ${meta.machine.nproc} x ${meta.machine.cpuModel}, Node.js ${meta.machine.node}; load average ${meta.loadBefore}`);
  // With --only, the other parts' figures come from the previous results.json (their date is kept beside them).
  const previousFile = path.join(OUT_DIR, 'results.json');
  const previous =
    values.only && fs.existsSync(previousFile)
      ? (JSON.parse(fs.readFileSync(previousFile, 'utf8')) as { date: string; results: Record<string, unknown>; partDates?: Record<string, string> })
      : undefined;
  const results: Record<string, unknown> = { ...previous?.results };
  const partDates: Record<string, string> = { ...previous?.partDates };
  for (const p of PARTS) if (previous?.results && !only.includes(p) && !partDates[p]) partDates[p] = previous.date;
  for (const p of only) partDates[p] = meta.date;
  const t0 = performance.now();
  // This process's backend (importing a model runs its check on it); each part may switch it.
  await initBackend(backendFromEnv(process.env));
  if (only.includes('io')) {
    console.log('== model files, CSV in and out, memory, bounded input ==');
    results.io = await runIoBench();
  }
  if (only.includes('inference')) {
    console.log('\n== inference throughput (windows/s) ==');
    results.inference = await runInferenceBench({ reps: 3, rssWindows: 0 });
  }
  if (only.includes('whole')) {
    console.log('\n== whole process ==');
    results.wholeProcess = await runWholeProcessBench(3);
  }
  if (only.includes('latency')) {
    // The worker's latency and the stand-ins' floor, one after the other.
    console.log('\n== upload -> pred_url latency ==');
    results.latency = await runLatencyBench();
    console.log('\n== the stand-ins alone (PUT -> event -> queue -> receive -> GET -> PUT, no inference) ==');
    const { stdout } = await runChild(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'test/bench/stand-in-floor.ts'), '20']);
    results.standInFloor = JSON.parse(stdout.trim().split('\n').at(-1)!);
    console.log(`  ${stdout.trim()}`);
  }
  if (only.includes('shards')) {
    console.log('\n== 10,000 symbols x 40 days, sharded, 1 and 2 workers ==');
    results.shards = await runShardBench();
  }
  if (only.includes('daily')) {
    console.log('\n== 10,000-symbol daily upload with 30 days of history, 2 workers ==');
    results.daily = await runDailyBench();
  }
  meta.loadAfter = load();
  const rows = targets(results);
  const older = Object.entries(partDates).filter(([, d]) => d !== meta.date);
  const md = markdown(meta, rows) + (older.length ? `\nFrom earlier runs: ${older.map(([p, d]) => `${p} (${d})`).join(', ')}.\n` : '');
  console.log(`\n== targets (${fmt((performance.now() - t0) / 1000)} s) ==\n${md}`);
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const json = `${JSON.stringify({ ...meta, partDates, targets: rows, results }, null, 2)}\n`;
  fs.writeFileSync(path.join(OUT_DIR, 'results.json'), json);
  fs.writeFileSync(path.join(OUT_DIR, 'results.md'), md);
  if (values.json) fs.writeFileSync(values.json, json);
  console.log(`written: ${path.relative(process.cwd(), path.join(OUT_DIR, 'results.json'))}, results.md`);
}

main().catch((err: unknown) => {
  console.error(`bench: ${err instanceof Error ? err.message.slice(0, 2000) : String(err)}`);
  process.exit(1);
});
