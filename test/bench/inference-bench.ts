/**
 * Inference throughput: the fast engine, the Keras-layers engine and an independent float64 NumPy forward
 * pass (subprocess), on the same windows, plus the fast path's peak RSS at 400,000 windows (child process).
 *
 *   npx tsx test/bench/inference-bench.ts [--backend wasm|cpu|tensorflow] [--sizes 1000,10000,40000]
 *     [--reps 5] [--rss-windows 400000] [--no-numpy] [--no-cpu] [--json out.json]
 *
 * Also exports the pieces of the whole-process comparison (`npm run predict` against numpy_pipeline.py):
 * the 20-symbol input file, the weights file for NumPy, and a timed run of the NumPy pipeline.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { BACKEND_ORDER, initBackend, switchBackend, type BackendName } from '../../model/backend.js';
import { createFastEngine } from '../../model/fast-inference.js';
import { InferencePool } from '../../model/inference-pool.js';
import { readBiGruWeights } from '../../model/gru-weights.js';
import { layersModelFromH5, readKerasH5, type KerasModel } from '../../model/keras-h5.js';
import { importModel } from '../../model/import.js';
import { createLayersEngine } from '../../model/layers-inference.js';
import { readModelVersion } from '../../model/model-store.js';
import { scalerSetFromPickle, scalersToJson } from '../../model/scalers.js';
import type { InferenceEngine } from '../../model/types.js';
import { runMatmulFloor, type FloorResult } from './matmul-floor.js';
import { median } from './stats.js';
import { writeTwentySymbolFile } from '../helpers/history.js';

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(benchDir, '../..');
const sharedDir = path.resolve(repoRoot, '../shared');
const MODEL_H5 = path.join(sharedDir, 'model_out/model.h5');
const WINDOW = 5 * 13;
const LAYERS_MAX_WINDOWS = 10_000;

export interface InferenceBenchOptions {
  /** Backend for the main figures (default: the one `initBackend()` picks, i.e. TFJS_BACKEND or the fastest). */
  backend?: BackendName;
  /** Window counts (default 1000, 10000, 40000). */
  sizes?: number[];
  /** Timed repetitions per figure after one warm-up (default 5, at least 5 for a median the issue accepts). */
  reps?: number;
  /** Windows for the peak-RSS run of the fast path in a child process; 0 skips it (default 400,000). */
  rssWindows?: number;
  /** Python with NumPy: a path, or false to skip; default: the first of NUMPY_PYTHON, /usr/bin/python3, python3 that imports numpy. */
  python?: string | false;
  /** Also time both engines on the pure-JS cpu backend at `cpuWindows` (default true; 1000 windows). */
  cpu?: boolean;
  cpuWindows?: number;
  log?: (line: string) => void;
}

export interface Figure {
  backend: string;
  engine: 'fast' | 'layers' | 'numpy' | 'pool';
  windows: number;
  reps: number;
  medianMs: number;
  windowsPerSec: number;
}

export interface InferenceBenchResult {
  machine: { cpus: number; cpuModel: string; memoryGiB: number; node: string; platform: string };
  backend: string;
  figures: Figure[];
  ratios: { windows: number; fastOverLayers?: number; fastOverNumpy?: number }[];
  numpy: { python: string; numpy: string; blas: string; maxAbsDiffVsLayers: number; windowsCompared: number } | { skipped: string };
  /**
   * The fast engine on the inference pool (every core) at the largest size, against the matmul floor: the same
   * products on the same backend and threads, nothing else. `overFloor` = pool time / floor time (target <= 1.5).
   */
  pool: { threads: number; windows: number; windowsPerSec: number; target: number; floor: FloorResult; singleThreadFloor: FloorResult; overFloor: number };
  /** `beforeMiB`: the child's peak with the model loaded and the windows built, before inference. */
  peakRss?: { windows: number; beforeMiB: number; maxRssMiB: number; underOneGiB: boolean; fastWindowsPerSec: number };
}

function check(cond: boolean, message: string): void {
  if (!cond) throw new Error(`inference bench: ${message}`);
}

function validated(opts: InferenceBenchOptions) {
  const sizes = opts.sizes ?? [1000, 10000, 40000];
  const reps = opts.reps ?? 5;
  const rssWindows = opts.rssWindows ?? 400_000;
  const cpuWindows = opts.cpuWindows ?? 1000;
  check(sizes.length > 0 && sizes.every((s) => Number.isSafeInteger(s) && s > 0), `option sizes must be positive integers; got ${JSON.stringify(sizes)}`);
  check(Number.isSafeInteger(reps) && reps >= 1, `option reps must be a positive integer; got ${reps}`);
  check(Number.isSafeInteger(rssWindows) && rssWindows >= 0, `option rssWindows must be a non-negative integer; got ${rssWindows}`);
  check(Number.isSafeInteger(cpuWindows) && cpuWindows > 0, `option cpuWindows must be a positive integer; got ${cpuWindows}`);
  check(opts.backend === undefined || BACKEND_ORDER.includes(opts.backend), `option backend must be one of ${BACKEND_ORDER.join(', ')}; got ${opts.backend}`);
  return { sizes, reps, rssWindows, cpuWindows, cpu: opts.cpu ?? true, log: opts.log ?? ((line: string) => console.log(line)) };
}

/** Seeded windows spanning the features' range: scaled columns in [-4, 4], log_shares in [10, 25]. */
export function benchWindows(count: number, seed = 20240607): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(count * WINDOW);
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u = s / 2 ** 32;
    out[i] = i % 13 === 12 ? 10 + 15 * u : 8 * u - 4;
  }
  return out;
}

async function timeEngine(engine: InferenceEngine, backend: string, windows: Float32Array, count: number, reps: number): Promise<Figure> {
  const input = windows.subarray(0, count * WINDOW);
  await engine.predict(input, count);
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await engine.predict(input, count);
    ms.push(performance.now() - t0);
  }
  const medianMs = median(ms);
  return { backend, engine: engine.name, windows: count, reps, medianMs, windowsPerSec: (count / medianMs) * 1000 };
}

/** The raw Keras weights (BatchNormalization unfolded) as JSON, for numpy_forward.py / numpy_pipeline.py. */
export function writeNumpyWeights(model: KerasModel, file: string): void {
  const w = readBiGruWeights(model);
  const plain = JSON.stringify(w, (_key, value: unknown) => (value instanceof Float32Array ? Array.from(value) : value));
  fs.writeFileSync(file, plain);
}

let numpyPython: { python: string; blas: string } | { skipped: string } | undefined;

/**
 * NUMPY_PYTHON if set, else the best of python3 (PATH) and /usr/bin/python3 for the peer: one whose NumPy loads
 * OpenBLAS (Debian's python3-numpy may run on the reference BLAS, libblas.so.3, tens of times slower), else the
 * first that imports numpy at all; or why none could.
 */
export function findNumpyPython(): { python: string; blas?: string } | { skipped: string } {
  if (numpyPython) return numpyPython;
  const candidates = process.env.NUMPY_PYTHON ? [process.env.NUMPY_PYTHON] : ['python3', '/usr/bin/python3'];
  const found: { python: string; blas: string }[] = [];
  const probe = `import sys; sys.path.insert(0, ${JSON.stringify(benchDir)}); import numpy_forward; print(numpy_forward.blas_name())`;
  for (const python of candidates) {
    try {
      found.push({ python, blas: execFileSync(python, ['-c', probe], { env: numpyEnv(), encoding: 'utf8' }).trim() });
    } catch {
      // no numpy there
    }
  }
  numpyPython = found.find((f) => /openblas|mkl|blis/i.test(f.blas)) ?? found[0] ?? { skipped: `no Python with numpy (tried ${candidates.join(', ')})` };
  return numpyPython;
}

interface NumpyForwardReport {
  count: number;
  reps: number;
  seconds: number[];
  median_s: number;
  windows_per_s: number;
  numpy: string;
  blas: string;
}

/**
 * The NumPy peer at its best: OpenBLAS picks its own kernels and cache sizes (this machine's environment pins
 * OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE for other tools; unset for the peer's commands only).
 */
export function numpyEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  return env;
}

export function runChild(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ stdout: string; wallMs: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const wallMs = performance.now() - t0;
      if (code === 0) resolve({ stdout, wallMs });
      else reject(new Error(`${path.basename(command)} ${args.map((a) => path.basename(a)).join(' ')} exited ${code}: ${stderr.slice(-2000)}`));
    });
  });
}

async function numpyForward(python: string, weightsFile: string, windows: Float32Array, count: number, reps: number, dir: string) {
  const windowsFile = path.join(dir, `windows-${count}.f32`);
  const outFile = path.join(dir, `numpy-${count}.f64`);
  fs.writeFileSync(windowsFile, windows.subarray(0, count * WINDOW));
  const { stdout } = await runChild(
    python,
    [
      path.join(benchDir, 'numpy_forward.py'),
      '--weights',
      weightsFile,
      '--windows',
      windowsFile,
      '--count',
      String(count),
      '--reps',
      String(reps),
      '--out',
      outFile,
    ],
    numpyEnv(),
  );
  const report = JSON.parse(stdout.trim().split('\n').at(-1)!) as NumpyForwardReport;
  const b = fs.readFileSync(outFile);
  return { report, outputs: new Float64Array(b.buffer, b.byteOffset, b.byteLength / 8) };
}

/** Peak RSS of a fresh process that loads the model and runs the fast engine once over `windows` windows. */
async function measurePeakRss(backend: string, windows: number) {
  // The child loads an imported version, as a worker does, so the figure is not inflated by the HDF5 reader.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rss-model-'));
  const { dir: modelDir } = await importModel({ h5: MODEL_H5, scaler: path.join(sharedDir, 'model_out/scaler.pkl'), out: dir });
  const { stdout } = await runChild(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(import.meta.url), '--rss-child', String(windows), '--rss-model', modelDir],
    {
      ...process.env,
      TFJS_BACKEND: backend,
    },
  ).finally(() => fs.rmSync(dir, { recursive: true, force: true }));
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as { windows: number; beforeMiB: number; maxRssMiB: number; fastWindowsPerSec: number };
}

async function rssChild(windows: number, modelDir: string): Promise<void> {
  await initBackend();
  const { keras } = await readModelVersion(modelDir);
  const fast = createFastEngine(keras);
  const input = benchWindows(windows);
  // maxRSS is in KiB on Linux.
  const beforeMiB = process.resourceUsage().maxRSS / 1024;
  const t0 = performance.now();
  const y = await fast.predict(input, windows);
  const ms = performance.now() - t0;
  check(y.length === windows && y.every(Number.isFinite), 'the RSS run produced non-finite outputs');
  console.log(JSON.stringify({ windows, beforeMiB, maxRssMiB: process.resourceUsage().maxRSS / 1024, fastWindowsPerSec: (windows / ms) * 1000 }));
}

function fmt(n: number | undefined, digits = 0): string {
  return n === undefined ? '-' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export async function runInferenceBench(options: InferenceBenchOptions = {}): Promise<InferenceBenchResult> {
  const o = validated(options);
  const choice = options.backend ? await switchBackend(options.backend) : await initBackend();
  const backend = choice.name;
  const machine = {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.arch()}`,
  };
  o.log(`machine: ${machine.cpus} x ${machine.cpuModel}, ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.platform}`);
  o.log(`backend: ${backend}${choice.fallbacks.length ? ` (not used: ${choice.fallbacks.join('; ')})` : ''}`);

  const h5 = await readKerasH5(MODEL_H5);
  const model = await layersModelFromH5(h5);
  const fast = createFastEngine(h5);
  const layers = createLayersEngine(model);
  const windows = benchWindows(Math.max(...o.sizes, o.cpuWindows));
  const figures: Figure[] = [];
  for (const size of o.sizes) {
    // The reference engine is ~15x slower: timed up to 10,000 windows (its ratio is the same beyond).
    for (const engine of size <= LAYERS_MAX_WINDOWS ? [fast, layers] : [fast]) {
      const f = await timeEngine(engine, backend, windows, size, o.reps);
      figures.push(f);
      o.log(
        `  ${backend} ${f.engine.padEnd(6)} ${fmt(size).padStart(7)} windows: ${fmt(f.windowsPerSec).padStart(9)} windows/s (median of ${f.reps}: ${fmt(f.medianMs, 1)} ms)`,
      );
    }
  }

  const py = options.python === false ? { skipped: 'disabled (--no-numpy)' } : options.python ? { python: options.python } : findNumpyPython();
  let numpy: InferenceBenchResult['numpy'];
  if ('python' in py) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inference-bench-'));
    try {
      const weightsFile = path.join(dir, 'weights.json');
      writeNumpyWeights(h5, weightsFile);
      let last: NumpyForwardReport | undefined;
      let diff = 0;
      let compared = 0;
      for (const size of o.sizes) {
        const { report, outputs } = await numpyForward(py.python, weightsFile, windows, size, o.reps, dir);
        last = report;
        const medianMs = report.median_s * 1000;
        figures.push({ backend: 'numpy', engine: 'numpy', windows: size, reps: report.reps, medianMs, windowsPerSec: report.windows_per_s });
        o.log(
          `  numpy float64  ${fmt(size).padStart(7)} windows: ${fmt(report.windows_per_s).padStart(9)} windows/s (median of ${report.reps}: ${fmt(medianMs, 1)} ms)`,
        );
        if (size === Math.min(...o.sizes)) {
          const ref = await layers.predict(windows.subarray(0, size * WINDOW), size);
          for (let i = 0; i < size; i++) diff = Math.max(diff, Math.abs(ref[i]! - outputs[i]!));
          compared = size;
        }
      }
      // float64 against float32: about 1e-6 apart when it is the same model.
      check(diff <= 1e-4, `the NumPy forward pass differs from the layers engine by ${diff} (> 1e-4): not the same model`);
      numpy = { python: py.python, numpy: last!.numpy, blas: last!.blas, maxAbsDiffVsLayers: diff, windowsCompared: compared };
      o.log(`  numpy ${numpy.numpy} (${numpy.blas}) via ${py.python}: max |numpy - layers| = ${diff.toExponential(2)} over ${compared} windows`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  } else {
    numpy = py;
    o.log(`  numpy: skipped: ${py.skipped}`);
  }

  // Both cores: the pool against the matmul floor on as many threads, at the largest size, interleaved.
  const poolWindows = Math.max(...o.sizes);
  const inferencePool = new InferencePool({ backend });
  let pool: InferenceBenchResult['pool'];
  try {
    const pooled = inferencePool.engine(h5);
    await pooled.warmUp();
    const pf = await timeEngine(pooled, backend, windows, poolWindows, o.reps);
    pooled.dispose();
    const floor = await runMatmulFloor(h5, { backend, windows: poolWindows, threads: inferencePool.size, reps: o.reps });
    const singleThreadFloor = await runMatmulFloor(h5, { backend, windows: poolWindows, threads: 1, reps: o.reps });
    const fig: Figure = { ...pf, engine: 'pool' };
    figures.push(fig);
    pool = {
      threads: inferencePool.size,
      windows: poolWindows,
      windowsPerSec: fig.windowsPerSec,
      target: 200_000,
      floor,
      singleThreadFloor,
      overFloor: fig.medianMs / floor.medianMs,
    };
    o.log(
      `  ${backend} fast on the pool (${pool.threads} threads) ${fmt(poolWindows).padStart(7)} windows: ${fmt(fig.windowsPerSec).padStart(9)} windows/s (median of ${fig.reps}: ${fmt(fig.medianMs, 1)} ms; target 200,000)`,
    );
    o.log(
      `  matmul floor, same products (${fmt(floor.flopsPerWindow)} FLOP/window) on ${floor.threads} threads: ${fmt(floor.windowsPerSec)} windows/s = ${fmt(floor.gflops, 1)} GFLOP/s; on 1 thread ${fmt(singleThreadFloor.windowsPerSec)} windows/s; pool/floor time ${fmt(pool.overFloor, 2)} (target <= 1.5)`,
    );
  } finally {
    await inferencePool.close();
  }

  const ratios = o.sizes.map((size) => {
    const get = (engine: Figure['engine']) => figures.find((f) => f.windows === size && f.engine === engine && (engine === 'numpy' || f.backend === backend));
    const f = get('fast')!;
    const n = get('numpy');
    const l = get('layers');
    return {
      windows: size,
      ...(l ? { fastOverLayers: f.windowsPerSec / l.windowsPerSec } : {}),
      ...(n ? { fastOverNumpy: f.windowsPerSec / n.windowsPerSec } : {}),
    };
  });
  o.log(`  ratios on ${backend}:`);
  for (const r of ratios) o.log(`    ${fmt(r.windows).padStart(7)} windows: fast/numpy ${fmt(r.fastOverNumpy, 2)}, fast/layers ${fmt(r.fastOverLayers, 2)}`);

  fast.dispose();
  model.dispose();

  if (o.cpu && backend !== 'cpu') {
    await switchBackend('cpu');
    const cpuModel = await layersModelFromH5(h5);
    const cpuFast = createFastEngine(h5);
    for (const engine of [cpuFast, createLayersEngine(cpuModel)]) {
      const f = await timeEngine(engine, 'cpu', windows, o.cpuWindows, o.reps);
      figures.push(f);
      o.log(
        `  cpu ${f.engine.padEnd(6)} ${fmt(f.windows).padStart(7)} windows: ${fmt(f.windowsPerSec).padStart(9)} windows/s (median of ${f.reps}: ${fmt(f.medianMs, 1)} ms)`,
      );
    }
    cpuFast.dispose();
    cpuModel.dispose();
    await switchBackend(backend);
  }

  let peakRss: InferenceBenchResult['peakRss'];
  if (o.rssWindows > 0) {
    const r = await measurePeakRss(backend, o.rssWindows);
    peakRss = { ...r, underOneGiB: r.maxRssMiB < 1024 };
    o.log(
      `  peak RSS, fresh process, fast engine on ${backend}, ${fmt(r.windows)} windows: ${fmt(r.maxRssMiB)} MiB ` +
        `(${fmt(r.beforeMiB)} MiB before inference, model loaded and windows built; ${fmt(r.fastWindowsPerSec)} windows/s, one cold run)`,
    );
  }
  return { machine, backend, figures, ratios, numpy, pool, peakRss };
}

// ---- whole-process comparison: pieces for `npm run bench` ----

/** The 20 symbols of the team's scaler set (SPEC §4). */

/**
 * Everything numpy_pipeline.py needs, in `dir`: the 20-symbol input file, `scalers.json` (the team's
 * scaler.pkl through model/scalers.ts) and the weights file.
 */
export async function prepareWholeProcessInputs(dir: string): Promise<{ input: string; rows: number; scalersJson: string; weightsJson: string }> {
  fs.mkdirSync(dir, { recursive: true });
  const input = path.join(dir, 'crypto_20_symbols.csv');
  const scalersJson = path.join(dir, 'scalers.json');
  const weightsJson = path.join(dir, 'weights.json');
  const rows = await writeTwentySymbolFile(input);
  const pkl = path.join(sharedDir, 'model_out/scaler.pkl');
  fs.writeFileSync(scalersJson, scalersToJson(scalerSetFromPickle(fs.readFileSync(pkl), pkl)));
  writeNumpyWeights(await readKerasH5(MODEL_H5), weightsJson);
  return { input, rows, scalersJson, weightsJson };
}

export interface NumpyPipelineRun {
  /** Whole process, start to exit, as seen from here. */
  wallMs: number;
  /** The script's own report: counts and per-stage seconds. */
  report: { symbols: number; rows: number; windows: number; numpy: string; blas: string; skipped: Record<string, string>; seconds: Record<string, number> };
}

/** Runs numpy_pipeline.py as a whole process on `input`, writing `output` (and `forecast`). */
export async function runNumpyPipeline(opts: {
  python: string;
  input: string;
  scalersJson: string;
  weightsJson: string;
  output: string;
  forecast?: string;
}): Promise<NumpyPipelineRun> {
  const args = [
    path.join(benchDir, 'numpy_pipeline.py'),
    '--input',
    opts.input,
    '--scalers',
    opts.scalersJson,
    '--weights',
    opts.weightsJson,
    '--output',
    opts.output,
  ];
  if (opts.forecast) args.push('--forecast', opts.forecast);
  const { stdout, wallMs } = await runChild(opts.python, args, numpyEnv());
  return { wallMs, report: JSON.parse(stdout.trim().split('\n').at(-1)!) as NumpyPipelineRun['report'] };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      backend: { type: 'string' },
      sizes: { type: 'string' },
      reps: { type: 'string' },
      'rss-windows': { type: 'string' },
      'rss-child': { type: 'string' },
      'rss-model': { type: 'string' },
      'no-numpy': { type: 'boolean', default: false },
      'no-cpu': { type: 'boolean', default: false },
      json: { type: 'string' },
    },
    strict: true,
  });
  if (values['rss-child'] !== undefined) return rssChild(Number(values['rss-child']), values['rss-model']!);
  if (values.backend !== undefined && !(BACKEND_ORDER as readonly string[]).includes(values.backend)) {
    throw new Error(`--backend must be one of ${BACKEND_ORDER.join(', ')}; got ${values.backend}`);
  }
  const result = await runInferenceBench({
    backend: values.backend as BackendName | undefined,
    sizes: values.sizes?.split(',').map(Number),
    reps: values.reps === undefined ? undefined : Number(values.reps),
    rssWindows: values['rss-windows'] === undefined ? undefined : Number(values['rss-windows']),
    python: values['no-numpy'] ? false : undefined,
    cpu: !values['no-cpu'],
  });
  if (values.json) fs.writeFileSync(values.json, `${JSON.stringify(result, null, 2)}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message).slice(0, 2000) : err);
    process.exitCode = 1;
  });
}
