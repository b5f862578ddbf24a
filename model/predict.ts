/**
 * `npm run predict -- --input <csv> --output <preds.csv> [--forecast <csv>] [--summary <json>]
 *   [--mode anchored|integrated] [--engine fast|layers] [--model <dir> | --h5 <file> --scaler <file>]`
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import os from 'node:os';
import { initBackend, parseBackendName } from './backend.js';
import { QUALITY_POLICIES, type QualityPolicy } from './data-quality.js';
import { predictCsv } from './engine.js';
import { InputFileError } from './errors.js';
import { createInference, INFERENCE_ENGINES, type InferenceName } from './inference.js';
import { loadModelFromSources, resolveModel } from './model-store.js';
import { forecastCsv, predictionsCsvChunks } from './output-csv.js';
import { PREDICTION_MODES, type PredictionMode } from './predictions.js';
import { escapePrintable } from '../shared/escape.js';

class UsageError extends Error {}

const USAGE =
  'usage: npm run predict -- --input <csv> --output <preds.csv> [--forecast <csv>] [--summary <json>] ' +
  '[--mode anchored|integrated] [--engine fast|layers] [--backend tensorflow|wasm|cpu] [--quality flag|skip] ' +
  '[--model <dir> | --h5 <model.h5> --scaler <scaler.pkl> [--no-cache]]';

function parseCli(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      input: { type: 'string' },
      output: { type: 'string' },
      forecast: { type: 'string' },
      summary: { type: 'string' },
      mode: { type: 'string', default: 'anchored' },
      engine: { type: 'string', default: 'fast' },
      model: { type: 'string' },
      h5: { type: 'string' },
      scaler: { type: 'string' },
      backend: { type: 'string' },
      quality: { type: 'string', default: 'flag' },
      'no-cache': { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (!values.input) throw new UsageError('--input is required');
  if (!values.output) throw new UsageError('--output is required');
  if (!(PREDICTION_MODES as readonly string[]).includes(values.mode!)) throw new UsageError(`--mode must be one of ${PREDICTION_MODES.join(', ')}; got ${values.mode}`);
  if (!(INFERENCE_ENGINES as readonly string[]).includes(values.engine!)) throw new UsageError(`--engine must be one of ${INFERENCE_ENGINES.join(', ')}; got ${values.engine}`);
  if (!(QUALITY_POLICIES as readonly string[]).includes(values.quality!)) throw new UsageError(`--quality must be one of ${QUALITY_POLICIES.join(', ')}; got ${values.quality}`);
  if (values.model && (values.h5 || values.scaler)) throw new UsageError('give either --model or --h5 with --scaler, not both');
  if (Boolean(values.h5) !== Boolean(values.scaler)) throw new UsageError('--h5 and --scaler go together');
  return { ...values, input: values.input, output: values.output, mode: values.mode as PredictionMode, engine: values.engine as InferenceName, quality: values.quality as QualityPolicy };
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const opts = parseCli(process.argv.slice(2));
  if (!fs.existsSync(opts.input)) throw new UsageError(`--input: no such file: ${opts.input}`);
  let backendName;
  try {
    backendName = parseBackendName(opts.backend ?? process.env.TFJS_BACKEND, opts.backend ? '--backend' : 'TFJS_BACKEND');
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const backend = await initBackend(backendName);
  // --h5/--scaler: converted once, then read from a cache keyed by the files' sha256 (MODEL_CACHE_DIR).
  const cacheDir = opts['no-cache'] ? undefined : process.env.MODEL_CACHE_DIR || path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'crypto-open-fleet', 'model-versions');
  const model =
    opts.h5 && opts.scaler
      ? await loadModelFromSources(path.resolve(opts.h5), path.resolve(opts.scaler), { cacheDir })
      : await resolveModel({ model: opts.model, h5: opts.h5, scaler: opts.scaler, env: process.env, repoRoot: path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..') });
  const inference = createInference(model, opts.engine);
  // Only the reference engine needs the Keras-layers graph; built here so its cost counts as model load.
  if (opts.engine === 'layers') await model.layers.get();
  const tLoaded = performance.now();
  const result = await predictCsv(fs.createReadStream(opts.input), model, inference, { mode: opts.mode, qualityPolicy: opts.quality });
  const tPredicted = performance.now();
  const write = (file: string, text: string) => {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    fs.writeFileSync(file, text);
  };
  fs.mkdirSync(path.dirname(path.resolve(opts.output)), { recursive: true });
  const fd = fs.openSync(opts.output, 'w');
  try {
    for (const piece of predictionsCsvChunks(result.table)) fs.writeSync(fd, piece);
  } finally {
    fs.closeSync(fd);
  }
  if (opts.forecast) write(opts.forecast, await forecastCsv(result.forecasts));
  const tWritten = performance.now();
  const summary = {
    input: { file: path.resolve(opts.input), ...result.input },
    model: { version: model.metadata.version, sources: model.metadata.sources },
    backend: backend.name,
    backendFallbacks: backend.fallbacks,
    engine: inference.name,
    mode: opts.mode,
    counts: result.counts,
    symbols: result.symbols,
    timingsMs: { ...result.timingsMs, startAndModelLoad: tLoaded - t0, write: tWritten - tPredicted, total: tWritten - t0 },
    // Linux reports maxRSS in KiB.
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    outputs: { predictions: path.resolve(opts.output), forecast: opts.forecast ? path.resolve(opts.forecast) : null },
  };
  if (opts.summary) write(opts.summary, `${JSON.stringify(summary, null, 2)}\n`);
  const skipped = result.symbols.filter((s) => s.status === 'skipped');
  console.log(
    `predicted ${result.counts.predicted}/${result.counts.symbols} symbols, ${result.counts.predictionRows} rows -> ${opts.output}` +
      ` (model ${model.metadata.version}, ${backend.name} backend, ${inference.name} engine, ${opts.mode}, ${Math.round(summary.timingsMs.total)} ms)`,
  );
  for (const s of skipped) if (s.status === 'skipped') console.log(`skipped ${s.symbol ? escapePrintable(s.symbol) : '(empty symbol)'}: ${s.reason}`);
  for (const s of result.symbols) {
    if (s.status === 'ok' && s.qualityIssues) {
      const first = s.quality!.map((q) => `row ${q.row} ${q.column}: ${q.rule}`).slice(0, 3).join('; ');
      console.log(`data quality ${escapePrintable(s.symbol)}: ${s.qualityIssues} row(s) flagged (${first}${s.qualityIssues > 3 ? '; ...' : ''})`);
    }
  }
}

main().catch((err: unknown) => {
  const e = err as Error;
  if (err instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    console.error(`predict: ${e.message}\n${USAGE}`);
    process.exit(2);
  }
  console.error(`predict: ${err instanceof InputFileError ? 'invalid input: ' : ''}${escapePrintable(e.message.split('\n')[0] ?? '')}`);
  process.exit(1);
});
