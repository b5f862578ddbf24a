/**
 * `npm run predict -- --input <csv> --output <preds.csv> [--forecast <csv>] [--summary <json>]
 *   [--mode anchored|integrated] [--engine fast|layers] [--model <dir> | --h5 <file> --scaler <file>]`
 * The engine alone, on a file: no stack involved.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend, parseBackendName } from '../../model/backend.js';
import { QUALITY_POLICIES, type QualityPolicy } from '../../model/data-quality.js';
import { predictCsv } from '../../model/engine.js';
import { InputFileError } from '../../model/errors.js';
import { createInference, INFERENCE_ENGINES, type InferenceName } from '../../model/inference.js';
import { InferencePool, usesInferencePool } from '../../model/inference-pool.js';
import { forecastCsv, predictionsCsvChunks } from '../../model/output-csv.js';
import { PREDICTION_MODES, type PredictionMode } from '../../model/predictions.js';
import { escapePrintable } from '../../shared/escape.js';
import { WORKER_ENV } from '../../shared/worker-env.js';
import { REPO_ROOT, runIfEntry, type CommandIo } from '../cli/entry.js';
import { MODEL_ARGS, resolveModel } from '../cli/model-args.js';

class UsageError extends Error {}

const USAGE =
  'usage: npm run predict -- --input <csv> --output <preds.csv> [--forecast <csv>] [--summary <json>] ' +
  '[--mode anchored|integrated] [--engine fast|layers] [--backend tensorflow|wasm|cpu] [--quality flag|skip] ' +
  '[--model <dir> | --h5 <model.h5> --scaler <scaler.pkl> [--no-cache]]';

function parseCli(argv: string[], env: NodeJS.ProcessEnv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      input: { type: 'string' },
      output: { type: 'string' },
      forecast: { type: 'string' },
      summary: { type: 'string' },
      mode: { type: 'string', default: 'anchored' },
      engine: { type: 'string', default: 'fast' },
      backend: { type: 'string' },
      quality: { type: 'string', default: 'flag' },
      ...MODEL_ARGS,
    },
    strict: true,
    allowPositionals: false,
  });
  if (!values.input) throw new UsageError('--input is required');
  if (!values.output) throw new UsageError('--output is required');
  if (!(PREDICTION_MODES as readonly string[]).includes(values.mode))
    throw new UsageError(`--mode must be one of ${PREDICTION_MODES.join(', ')}; got ${values.mode}`);
  if (!(INFERENCE_ENGINES as readonly string[]).includes(values.engine))
    throw new UsageError(`--engine must be one of ${INFERENCE_ENGINES.join(', ')}; got ${values.engine}`);
  if (!(QUALITY_POLICIES as readonly string[]).includes(values.quality))
    throw new UsageError(`--quality must be one of ${QUALITY_POLICIES.join(', ')}; got ${values.quality}`);
  if (values.model && (values.h5 || values.scaler)) throw new UsageError('give either --model or --h5 with --scaler, not both');
  if (Boolean(values.h5) !== Boolean(values.scaler)) throw new UsageError('--h5 and --scaler go together');
  let backend;
  try {
    backend = values.backend
      ? parseBackendName(values.backend, '--backend')
      : parseBackendName(env[WORKER_ENV.tfjsBackend] || undefined, WORKER_ENV.tfjsBackend);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return {
    ...values,
    input: values.input,
    output: values.output,
    mode: values.mode as PredictionMode,
    engine: values.engine as InferenceName,
    quality: values.quality as QualityPolicy,
    backend,
  };
}

export async function main(argv: string[], io: CommandIo): Promise<number> {
  const t0 = performance.now();
  let pool: InferencePool | undefined;
  try {
    const opts = parseCli(argv, io.env);
    if (!fs.existsSync(opts.input)) throw new UsageError(`--input: no such file: ${opts.input}`);
    const backend = await initBackend(opts.backend);
    // The fast engine runs on one thread per core (they start while this one loads the model), except on native
    // TensorFlow, which runs its kernels on every core itself.
    if (opts.engine === 'fast' && usesInferencePool(backend.name)) pool = new InferencePool({ backend: backend.name });
    const model = await resolveModel(opts, io.env, REPO_ROOT);
    const inference = createInference(model, opts.engine, pool);
    // Only the reference engine needs the Keras-layers graph; built here so its cost counts as model load.
    if (opts.engine === 'layers') await model.layers.get();
    await inference.warmUp?.();
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
      inferenceThreads: pool?.size ?? 0,
      mode: opts.mode,
      counts: result.counts,
      symbols: result.symbols,
      timingsMs: { ...result.timingsMs, startAndModelLoad: tLoaded - t0, write: tWritten - tPredicted, total: tWritten - t0 },
      // Linux reports maxRSS in KiB.
      peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
      outputs: { predictions: path.resolve(opts.output), forecast: opts.forecast ? path.resolve(opts.forecast) : null },
    };
    if (opts.summary) write(opts.summary, `${JSON.stringify(summary, null, 2)}\n`);
    io.out(
      `predicted ${result.counts.predicted}/${result.counts.symbols} symbols, ${result.counts.predictionRows} rows -> ${opts.output}` +
        ` (model ${model.metadata.version}, ${backend.name} backend, ${inference.name} engine, ${opts.mode}, ${Math.round(summary.timingsMs.total)} ms)`,
    );
    for (const s of result.symbols) if (s.status === 'skipped') io.out(`skipped ${s.symbol ? escapePrintable(s.symbol) : '(empty symbol)'}: ${s.reason}`);
    for (const s of result.symbols) {
      if (s.status === 'ok' && s.qualityIssues) {
        const first = s
          .quality!.map((q) => `row ${q.row} ${q.column}: ${q.rule}`)
          .slice(0, 3)
          .join('; ');
        io.out(`data quality ${escapePrintable(s.symbol)}: ${s.qualityIssues} row(s) flagged (${first}${s.qualityIssues > 3 ? '; ...' : ''})`);
      }
    }
    return 0;
  } catch (err) {
    const e = err as Error;
    if (err instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`predict: ${e.message}\n${USAGE}`);
      return 2;
    }
    io.err(`predict: ${err instanceof InputFileError ? 'invalid input: ' : ''}${escapePrintable(e.message.split('\n')[0] ?? '')}`);
    return 1;
  } finally {
    await pool?.close();
  }
}

runIfEntry(import.meta.url, main);
