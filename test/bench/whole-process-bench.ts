/**
 * The user-facing measures of the engine: whole-process `predict` (start, model load, parse, features, inference,
 * write) against a whole-process NumPy implementation of the same pipeline on the 20-symbol full-history file,
 * interleaved in one run; predict runs as compiled JavaScript (dist/, as the image runs the worker) and, for its
 * start-up alone, under tsx (`npm run predict`); and the end-to-end time on the public 3-symbol history.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { importModel } from '../../model/import.js';
import { shared, repoRoot } from '../helpers/paths.js';
import { findNumpyPython, prepareWholeProcessInputs, runChild, runNumpyPipeline } from './inference-bench.js';
import { fmt, median } from './stats.js';

export interface WholeProcessResult {
  node: string;
  endToEnd: { file: string; rows: number; reps: number; medianMs: number; stagesMs: Record<string, number> };
  versusNumpy: {
    file: string;
    rows: number;
    reps: number;
    /** Compiled JavaScript, whole process (spawn to exit). */
    predictMedianMs: number;
    /** The same under tsx (`node --import tsx`), for the start-up it adds. */
    predictTsxMedianMs: number;
    /** predict's own timings (summary.json): startAndModelLoad is start-up; inProcess = parse .. write. */
    predictStagesMs: Record<string, number>;
    predictInProcessMs: number;
    numpyStagesMs?: Record<string, number>;
    numpyMedianMs?: number;
    /** NumPy's total minus its load (JSON weights and scalers): parse .. write. */
    numpyInProcessMs?: number;
    numpy?: string;
    blas?: string;
    /** predict / NumPy (targets: whole <= 0.4, in-process <= 0.2). */
    wholeRatio?: number;
    inProcessRatio?: number;
    numpySkipped?: string;
  };
}

const medianStages = (runs: Record<string, number>[]) => Object.fromEntries(Object.keys(runs[0]).map((k) => [k, median(runs.map((r) => r[k]))]));
const stagesLine = (stages: Record<string, number>) =>
  Object.entries(stages)
    .map(([k, v]) => `${k} ${fmt(v)}`)
    .join(', ');

/**
 * Compiles `predict` (and what it imports, and the inference thread) into dist/ with the image's compiler settings;
 * tsconfig.build.json itself holds only what the image runs.
 */
export function compilePredict(): string {
  const dir = path.join(repoRoot, '.local/bench');
  fs.mkdirSync(dir, { recursive: true });
  const config = path.join(dir, 'tsconfig.predict.json');
  const build = JSON.parse(fs.readFileSync(path.join(repoRoot, 'tsconfig.build.json'), 'utf8')) as { files: string[]; include: string[] };
  fs.writeFileSync(
    config,
    JSON.stringify({
      extends: '../../tsconfig.build.json',
      compilerOptions: { outDir: '../../dist', rootDir: '../..' },
      include: build.include.map((f) => `../../${f}`),
      files: [...build.files, 'worker/commands/predict.ts'].map((f) => `../../${f}`),
    }),
  );
  execFileSync(process.execPath, [path.join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', config], { cwd: repoRoot, stdio: 'pipe' });
  return path.join(repoRoot, 'dist/worker/commands/predict.js');
}

/** Node.js arguments that start `predict`. */
export type Runner = string[];

let compiledRunner: Runner | undefined;
/** predict as compiled JavaScript, compiled once per bench run. */
export function compiledPredict(): Runner {
  return (compiledRunner ??= [compilePredict()]);
}

async function timedPredict(
  runner: Runner,
  input: string,
  modelDir: string,
  out: string,
): Promise<{ wallMs: number; stagesMs: Record<string, number>; peakRssMiB: number }> {
  const summary = path.join(out, 'summary.json');
  const { wallMs } = await runChild(process.execPath, [
    ...runner,
    '--input',
    input,
    '--output',
    path.join(out, 'preds.csv'),
    '--model',
    modelDir,
    '--summary',
    summary,
  ]);
  const s = JSON.parse(fs.readFileSync(summary, 'utf8'));
  return { wallMs, stagesMs: s.timingsMs, peakRssMiB: s.peakRssMiB };
}

const inProcess = (stages: Record<string, number>) => stages.total - stages.startAndModelLoad;

export async function runWholeProcessBench(reps = 5, log: (l: string) => void = console.log): Promise<WholeProcessResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-wp-'));
  try {
    const compiled = compiledPredict();
    const tsx: Runner = ['--import', 'tsx', path.join(repoRoot, 'worker/commands/predict.ts')];
    // Both sides start from a converted model: predict from an imported version, NumPy from a weights JSON.
    const { dir: modelDir } = await importModel({ h5: shared('model_out/model.h5'), scaler: shared('model_out/scaler.pkl'), out: path.join(dir, 'models') });
    const inputs = await prepareWholeProcessInputs(path.join(dir, 'inputs'));
    const history3 = shared('data/crypto_markets_btc_ltc_xrp.csv');

    log(`whole process, Node.js ${process.version}, compiled JavaScript (dist/), medians of ${reps} after a warm-up:`);
    await timedPredict(compiled, history3, modelDir, dir);
    const e2e: { wallMs: number; stagesMs: Record<string, number> }[] = [];
    for (let i = 0; i < reps; i++) e2e.push(await timedPredict(compiled, history3, modelDir, dir));
    const e2eMs = median(e2e.map((r) => r.wallMs));
    const stagesMs = medianStages(e2e.map((r) => r.stagesMs));
    log(`  predict, ${path.basename(history3)} (5,281 rows, 3 symbols): ${fmt(e2eMs)} ms`);
    log(`    in-process stages (median ms): ${stagesLine(stagesMs)}`);

    const py = findNumpyPython();
    const predictRuns: Awaited<ReturnType<typeof timedPredict>>[] = [];
    const tsxRuns: number[] = [];
    const numpyRuns: Awaited<ReturnType<typeof runNumpyPipeline>>[] = [];
    const numpy = () =>
      'python' in py
        ? runNumpyPipeline({
            python: py.python,
            input: inputs.input,
            scalersJson: inputs.scalersJson,
            weightsJson: inputs.weightsJson,
            output: path.join(dir, 'np.csv'),
          })
        : undefined;
    await timedPredict(compiled, inputs.input, modelDir, dir);
    await numpy();
    for (let i = 0; i < reps; i++) {
      predictRuns.push(await timedPredict(compiled, inputs.input, modelDir, dir));
      tsxRuns.push((await timedPredict(tsx, inputs.input, modelDir, dir)).wallMs);
      const n = await numpy();
      if (n) numpyRuns.push(n);
    }
    const p = median(predictRuns.map((r) => r.wallMs));
    const predictStagesMs = medianStages(predictRuns.map((r) => r.stagesMs));
    const predictInProcessMs = median(predictRuns.map((r) => inProcess(r.stagesMs)));
    const versusNumpy: WholeProcessResult['versusNumpy'] = {
      file: '20-symbol full history',
      rows: inputs.rows,
      reps,
      predictMedianMs: p,
      predictTsxMedianMs: median(tsxRuns),
      predictStagesMs,
      predictInProcessMs,
    };
    log(
      `  20-symbol full history (${fmt(inputs.rows)} rows): predict ${fmt(p)} ms compiled, ${fmt(versusNumpy.predictTsxMedianMs)} ms under tsx; in-process (parse .. write) ${fmt(predictInProcessMs)} ms`,
    );
    log(`    in-process stages (median ms): ${stagesLine(predictStagesMs)}`);
    if (numpyRuns.length) {
      const n = median(numpyRuns.map((r) => r.wallMs));
      const numpyStagesMs = medianStages(numpyRuns.map((r) => Object.fromEntries(Object.entries(r.report.seconds).map(([k, v]) => [k, v * 1000]))));
      const numpyInProcessMs = median(numpyRuns.map((r) => (r.report.seconds.total! - r.report.seconds.load!) * 1000));
      Object.assign(versusNumpy, {
        numpyMedianMs: n,
        numpyStagesMs,
        numpyInProcessMs,
        numpy: numpyRuns[0]!.report.numpy,
        blas: numpyRuns[0]!.report.blas,
        wholeRatio: p / n,
        inProcessRatio: predictInProcessMs / numpyInProcessMs,
      });
      log(
        `    numpy pipeline ${fmt(n)} ms whole, ${fmt(numpyInProcessMs)} ms in-process (NumPy ${versusNumpy.numpy}, BLAS ${versusNumpy.blas}; OPENBLAS_CORETYPE/L2_SIZE unset)`,
      );
      log(`    predict/numpy: whole ${fmt(p / n, 2)} (target <= 0.4), in-process ${fmt(versusNumpy.inProcessRatio!, 2)} (target <= 0.2)`);
      log(`    numpy's own stages (median ms): ${stagesLine(numpyStagesMs)}`);
    } else {
      versusNumpy.numpySkipped = 'python' in py ? 'no run' : py.skipped;
      log(`    numpy pipeline: skipped: ${versusNumpy.numpySkipped}`);
    }
    return { node: process.version, endToEnd: { file: path.basename(history3), rows: 5281, reps, medianMs: e2eMs, stagesMs }, versusNumpy };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
