/**
 * The model-layer I/O targets of issue 15/13, each against a baseline measured in the same run:
 * CSV in (MB/s, vs Python's csv module on the same file), CSV out (MB/s), `predict --h5` vs `--model`
 * (wall time and peak RSS, cold and cached), peak RSS per row of a 1M-row input, and the 100 MB one-line file.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initBackend } from '../../model/backend.js';
import { readInputCsv } from '../../model/csv-input.js';
import { predictCsv } from '../../model/engine.js';
import { importModel } from '../../model/import.js';
import { createInference } from '../../model/inference.js';
import { readModelVersion } from '../../model/model-store.js';
import { predictionsCsvChunks } from '../../model/output-csv.js';
import { writeTwentySymbolFile } from '../helpers/history.js';
import { shared } from '../helpers/paths.js';
import { runChild } from './inference-bench.js';
import { compiledPredict } from './whole-process-bench.js';
import { fmt, median } from './stats.js';

/**
 * Copies of the 20 histories (about 6 years each) until `minRows` rows, copy i shifted to start 340 * i years after
 * year 0 (29 copies, 1.02M rows, fit before 9999): every symbol's dates stay distinct and increasing.
 */
function writeShiftedCopies(source: string, dest: string, minRows: number): number {
  const [header, ...rows] = fs.readFileSync(source, 'utf8').trim().split('\n');
  const times = Math.ceil(minRows / rows.length);
  if (times > 29) throw new Error(`io bench: ${minRows} rows need ${times} copies of the histories; 29 fit in 4-digit years`);
  const fd = fs.openSync(dest, 'w');
  fs.writeSync(fd, `${header}\n`);
  for (let i = 0; i < times; i++) {
    fs.writeSync(
      fd,
      `${rows.map((r) => r.replace(/,(\d{4})-(\d\d-\d\d),/, (_, y: string, md: string) => `,${String(Number(y) - 2000 + 340 * i).padStart(4, '0')}-${md},`)).join('\n')}\n`,
    );
  }
  fs.closeSync(fd);
  return rows.length * times;
}

async function timed(fn: () => Promise<unknown>, reps: number): Promise<{ first: number; median: number }> {
  const ms: number[] = [];
  for (let i = 0; i <= reps; i++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  return { first: ms[0]!, median: median(ms.slice(1)) };
}

/** Wall ms and peak RSS (MiB, from the summary) of one `predict` process. */
async function predictRun(
  args: string[],
  dir: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ wallMs: number; rssMiB: number; summary: Record<string, any> }> {
  const summary = path.join(dir, 'summary.json');
  const { wallMs } = await runChild(process.execPath, [...compiledPredict(), ...args, '--output', path.join(dir, 'preds.csv'), '--summary', summary], env);
  const s = JSON.parse(fs.readFileSync(summary, 'utf8'));
  return { wallMs, rssMiB: s.peakRssMiB, summary: s };
}

export async function runIoBench(log: (l: string) => void = console.log, reps = 3): Promise<Record<string, unknown>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-io-'));
  const out: Record<string, unknown> = {};
  try {
    await initBackend('wasm');
    const input = path.join(dir, 'h20.csv');
    const rows = await writeTwentySymbolFile(input);
    const mb = fs.statSync(input).size / 1e6;
    const { dir: modelDir } = await importModel({ h5: shared('model_out/model.h5'), scaler: shared('model_out/scaler.pkl'), out: path.join(dir, 'models') });
    const model = await readModelVersion(modelDir);

    const parse = await timed(() => readInputCsv(fs.createReadStream(input)), reps);
    // The engine's own parse + validate + features (the windows are cut from them), warm: median of `reps` after one.
    const inference = createInference(model);
    const engineRuns: number[] = [];
    let result = await predictCsv(fs.createReadStream(input), model, inference, { mode: 'anchored' });
    for (let i = 0; i < reps; i++) {
      result = await predictCsv(fs.createReadStream(input), model, inference, { mode: 'anchored' });
      engineRuns.push(result.timingsMs.parse + result.timingsMs.features);
    }
    const engineParse = median(engineRuns);
    let python: number | undefined;
    try {
      const script = 'import csv,sys,time\nt=time.perf_counter()\nn=sum(1 for _ in csv.reader(open(sys.argv[1],newline="")))\nprint(time.perf_counter()-t)';
      const runs = Array.from({ length: reps }, () => Number(execFileSync('python3', ['-c', script, input]).toString()));
      python = mb / median(runs);
    } catch {
      python = undefined;
    }
    out.csvIn = {
      rows,
      mb,
      parseMBps: mb / (parse.median / 1000),
      coldParseMBps: mb / (parse.first / 1000),
      parseFeaturesWindowsMs: engineParse,
      pythonCsvModuleMBps: python,
    };
    log(
      `  CSV in, ${fmt(rows)} rows (${fmt(mb, 1)} MB): parse+validate ${fmt(mb / (parse.median / 1000), 1)} MB/s warm (median of ${reps}), ${fmt(mb / (parse.first / 1000), 1)} MB/s cold; ` +
        `parse+features (engine, median of ${reps}) ${fmt(engineParse)} ms = ${fmt(mb / (engineParse / 1000), 1)} MB/s; Python csv.reader ${python ? `${fmt(python, 1)} MB/s (ratio ${fmt(mb / (parse.median / 1000) / python, 2)})` : 'n/a'}`,
    );

    let outChars = 0;
    const write = await timed(async () => {
      outChars = 0;
      for (const piece of predictionsCsvChunks(result.table)) outChars += piece.length;
    }, reps);
    out.csvOut = { mb: outChars / 1e6, MBps: outChars / 1e6 / (write.median / 1000), coldMBps: outChars / 1e6 / (write.first / 1000) };
    log(
      `  CSV out: ${fmt(outChars / 1e6, 1)} MB at ${fmt(outChars / 1e6 / (write.median / 1000), 1)} MB/s warm, ${fmt(outChars / 1e6 / (write.first / 1000), 1)} MB/s cold`,
    );

    const cache = path.join(dir, 'cache');
    const env = { ...process.env, MODEL_CACHE_DIR: cache, TFJS_BACKEND: 'wasm' };
    const h5Args = ['--input', input, '--h5', shared('model_out/model.h5'), '--scaler', shared('model_out/scaler.pkl')];
    const cold = await predictRun(h5Args, dir, env);
    const m: number[] = [];
    const h: number[] = [];
    const mr: number[] = [];
    const hr: number[] = [];
    for (let i = 0; i < reps; i++) {
      const a = await predictRun(['--input', input, '--model', modelDir], dir, env);
      const b = await predictRun(h5Args, dir, env);
      m.push(a.wallMs);
      mr.push(a.rssMiB);
      h.push(b.wallMs);
      hr.push(b.rssMiB);
    }
    out.modelFiles = { modelMs: median(m), h5CachedMs: median(h), h5ColdMs: cold.wallMs, modelRssMiB: Math.max(...mr), h5RssMiB: Math.max(...hr, cold.rssMiB) };
    log(
      `  predict --h5 (cached) ${fmt(median(h))} ms vs --model ${fmt(median(m))} ms: +${fmt(median(h) - median(m))} ms; first --h5 (converts) ${fmt(cold.wallMs)} ms; peak RSS --h5 ${fmt(Math.max(...hr, cold.rssMiB))} MiB, --model ${fmt(Math.max(...mr))} MiB`,
    );

    // Peak RSS per row: a 1M-row input against the 35k-row one, both whole processes.
    const big = path.join(dir, 'big.csv');
    const bigRows = writeShiftedCopies(input, big, 1_000_000);
    const small = await predictRun(['--input', input, '--model', modelDir], dir, env);
    const large = await predictRun(['--input', big, '--model', modelDir], dir, env);
    const perRow = ((large.rssMiB - small.rssMiB) * 2 ** 20) / (bigRows - rows);
    out.memory = { rows: bigRows, rssMiB: large.rssMiB, baseRssMiB: small.rssMiB, bytesPerRow: perRow, wallMs: large.wallMs };
    log(
      `  ${fmt(bigRows)} rows: peak RSS ${fmt(large.rssMiB)} MiB vs ${fmt(small.rssMiB)} MiB at ${fmt(rows)} rows = ${fmt(perRow)} bytes/row beyond the base (${fmt(large.wallMs)} ms)`,
    );
    fs.rmSync(big);

    // The 100 MB line: time and RSS of a refusal.
    const line = path.join(dir, 'line.csv');
    fs.writeFileSync(line, Buffer.alloc(100 * 1024 * 1024, 0x78));
    const t0 = performance.now();
    let stderr = '';
    try {
      execFileSync(process.execPath, [...compiledPredict(), '--input', line, '--output', path.join(dir, 'x.csv'), '--model', modelDir], { stdio: 'pipe' });
    } catch (err) {
      stderr = String((err as { stderr?: Buffer }).stderr ?? '');
    }
    const lineMs = performance.now() - t0;
    const rss = execFileSync('bash', [
      '-c',
      `/usr/bin/time -f %M ${process.execPath} ${compiledPredict().join(' ')} --input ${line} --output ${dir}/x.csv --model ${modelDir} 2>&1 >/dev/null | tail -1`,
    ])
      .toString()
      .trim();
    out.longLine = { wallMs: lineMs, peakRssMiB: Number(rss) / 1024, message: stderr.trim() };
    log(`  100 MB one-line file: refused in ${fmt(lineMs)} ms (whole process), peak RSS ${fmt(Number(rss) / 1024)} MiB: ${stderr.trim()}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
