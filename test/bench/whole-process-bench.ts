/**
 * The user-facing measures of the engine: whole-process `npm run predict` (start, model load, parse, features,
 * inference, write) against a whole-process NumPy implementation of the same pipeline on the 20-symbol
 * full-history file, interleaved in one run; and the end-to-end time on the public 3-symbol history.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { importModel } from '../../model/import.js';
import { shared, repoRoot } from '../helpers/paths.js';
import { writeRepeatedHistory } from '../helpers/history.js';
import { findNumpyPython, prepareWholeProcessInputs, runChild, runNumpyPipeline } from './inference-bench.js';
import { fmt, median } from './stats.js';

export interface WholeProcessResult {
  endToEnd: { file: string; rows: number; reps: number; medianMs: number; stagesMs: Record<string, number> };
  large: { rows: number; windows: number; wallMs: number; peakRssMiB: number; stagesMs: Record<string, number> };
  versusNumpy: {
    file: string;
    rows: number;
    reps: number;
    predictMedianMs: number;
    /** Medians of predict's own timings (summary.json) and of the NumPy script's, where each is spent. */
    predictStagesMs: Record<string, number>;
    numpyStagesMs?: Record<string, number>;
    numpyMedianMs?: number;
    ratio?: number;
    numpySkipped?: string;
  };
}


const medianStages = (runs: Record<string, number>[]) => Object.fromEntries(Object.keys(runs[0]).map((k) => [k, median(runs.map((r) => r[k]))]));
const stagesLine = (stages: Record<string, number>) => Object.entries(stages).map(([k, v]) => `${k} ${fmt(v)}`).join(', ');

async function timedPredict(input: string, modelDir: string, out: string): Promise<{ wallMs: number; stagesMs: Record<string, number>; peakRssMiB: number }> {
  const summary = path.join(out, 'summary.json');
  const { wallMs } = await runChild('npm', ['run', '--silent', 'predict', '--', '--input', input, '--output', path.join(out, 'preds.csv'), '--model', modelDir, '--summary', summary], {
    ...process.env,
  });
  const s = JSON.parse(fs.readFileSync(summary, 'utf8'));
  return { wallMs, stagesMs: s.timingsMs, peakRssMiB: s.peakRssMiB };
}

export async function runWholeProcessBench(reps = 5, log: (l: string) => void = console.log): Promise<WholeProcessResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-wp-'));
  try {
    // Both sides start from a converted model: predict from an imported version, NumPy from a weights JSON.
    const { dir: modelDir } = await importModel({ h5: shared('model_out/model.h5'), scaler: shared('model_out/scaler.pkl'), out: path.join(dir, 'models') });
    const inputs = await prepareWholeProcessInputs(path.join(dir, 'inputs'));
    const history3 = shared('data/crypto_markets_btc_ltc_xrp.csv');

    log(`whole process (cwd ${path.relative(process.cwd(), repoRoot) || '.'}), medians of ${reps} after a warm-up:`);
    await timedPredict(history3, modelDir, dir);
    const e2e: { wallMs: number; stagesMs: Record<string, number> }[] = [];
    for (let i = 0; i < reps; i++) e2e.push(await timedPredict(history3, modelDir, dir));
    const e2eMs = median(e2e.map((r) => r.wallMs));
    const stagesMs = medianStages(e2e.map((r) => r.stagesMs));
    log(`  npm run predict, ${path.basename(history3)} (5,281 rows, 3 symbols): ${fmt(e2eMs)} ms`);
    log(`    in-process stages (median ms): ${stagesLine(stagesMs)}`);

    const py = findNumpyPython();
    const predictRuns: Awaited<ReturnType<typeof timedPredict>>[] = [];
    const numpyRuns: Awaited<ReturnType<typeof runNumpyPipeline>>[] = [];
    await timedPredict(inputs.input, modelDir, dir);
    if ('python' in py) await runNumpyPipeline({ python: py.python, input: inputs.input, scalersJson: inputs.scalersJson, weightsJson: inputs.weightsJson, output: path.join(dir, 'np.csv') });
    for (let i = 0; i < reps; i++) {
      predictRuns.push(await timedPredict(inputs.input, modelDir, dir));
      if ('python' in py) {
        numpyRuns.push(await runNumpyPipeline({ python: py.python, input: inputs.input, scalersJson: inputs.scalersJson, weightsJson: inputs.weightsJson, output: path.join(dir, 'np.csv') }));
      }
    }
    const p = median(predictRuns.map((r) => r.wallMs));
    const predictStagesMs = medianStages(predictRuns.map((r) => r.stagesMs));
    const versusNumpy: WholeProcessResult['versusNumpy'] = { file: '20-symbol full history', rows: inputs.rows, reps, predictMedianMs: p, predictStagesMs };
    log(`  20-symbol full history (${fmt(inputs.rows)} rows): npm run predict ${fmt(p)} ms`);
    log(`    in-process stages (median ms): ${stagesLine(predictStagesMs)}`);
    if ('python' in py) {
      const n = median(numpyRuns.map((r) => r.wallMs));
      const numpyStagesMs = medianStages(numpyRuns.map((r) => Object.fromEntries(Object.entries(r.report.seconds).map(([k, v]) => [k, v * 1000]))));
      Object.assign(versusNumpy, { numpyMedianMs: n, ratio: n / p, numpyStagesMs });
      log(`                                      numpy pipeline  ${fmt(n)} ms (${py.python}); numpy/predict = ${fmt(n / p, 2)} (> 1: predict is faster)`);
      log(`    numpy's own stages (median ms): ${stagesLine(numpyStagesMs)}`);
    } else {
      versusNumpy.numpySkipped = py.skipped;
      log(`    numpy pipeline: skipped: ${py.skipped}`);
    }

    const largeFile = path.join(dir, 'inputs', 'history20x12.csv');
    const largeRows = writeRepeatedHistory(inputs.input, largeFile, 12);
    const big = await timedPredict(largeFile, modelDir, dir);
    const large = { rows: largeRows, windows: largeRows + 20, wallMs: big.wallMs, peakRssMiB: big.peakRssMiB, stagesMs: big.stagesMs };
    log(`  ${fmt(large.windows)} windows (the 20 histories 12 times over, ${fmt(largeRows)} rows), one run: ${fmt(large.wallMs)} ms, peak RSS ${fmt(large.peakRssMiB)} MiB`);
    log(`    in-process stages (ms): ${stagesLine(large.stagesMs)}`);
    return { endToEnd: { file: path.basename(history3), rows: 5281, reps, medianMs: e2eMs, stagesMs }, large, versusNumpy };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
