/**
 * `npm run train -- [--as-of YYYY-MM-DD] [--epochs 10] [--seed N] [--symbols BTC,LTC] [--validation-rows 15]` plus the
 * target flags: trains a candidate version from the history store as of the cut-off, uploads it under
 * `models/<version>/` and records it as a candidate in the registry. Prints the version id.
 */
import { parseArgs } from 'node:util';
import { MODEL_POINTER_KEY } from '../../shared/layout.js';
import { TRAIN_DEFAULTS } from '../../shared/train-env.js';
import { WORKER_ENV } from '../../shared/worker-env.js';
import { backendFromEnv } from '../cli/model-args.js';
import { REPO_ROOT, runIfEntry, type CommandIo } from '../cli/entry.js';
import { resolveStackTarget, STACK_ARGS, STACK_ARGS_HELP } from '../cli/stack-args.js';
import { principalOf } from '../ops/principal.js';
import { describeStackError, type StackTarget } from '../ops/stack.js';
import { gitCommit, trainAndRecord } from '../ops/train.js';
import { makeS3Client } from '../runtime/aws-clients.js';
import { BucketObjects } from '../runtime/s3-objects.js';
import { defaultAsOf, parseAsOf, parseCount, parseSeed, parseSymbols, type TrainSettings } from '../tasks/train.js';

const USAGE = `usage: npm run train -- [options]
  --as-of YYYY-MM-DD        train on history rows dated on or before this day (default: yesterday, UTC)
  --epochs N                default ${TRAIN_DEFAULTS.epochs}
  --seed N                  seeds weights, shuffles and dropout (default: random, recorded)
  --symbols A,B             only these symbols (default: every symbol of the history)
  --validation-rows N       the last rows of each symbol held out (default ${TRAIN_DEFAULTS.validationRows})
${STACK_ARGS_HELP}`;

export async function main(argv: string[], io: CommandIo): Promise<number> {
  let settings: TrainSettings;
  let target: StackTarget;
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: {
        ...STACK_ARGS,
        'as-of': { type: 'string' },
        epochs: { type: 'string' },
        seed: { type: 'string' },
        symbols: { type: 'string' },
        'validation-rows': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
    });
    if (values.help) return (io.out(USAGE), 0);
    if (positionals.length) throw new Error(`unexpected argument ${JSON.stringify(positionals[0])}`);
    target = resolveStackTarget(values, io.env);
    const backend = backendFromEnv(io.env);
    settings = {
      asOf: values['as-of'] !== undefined ? parseAsOf(values['as-of'], '--as-of') : defaultAsOf(),
      epochs: parseCount(values.epochs, '--epochs', TRAIN_DEFAULTS.epochs, 1),
      seed: parseSeed(values.seed, '--seed'),
      symbols: parseSymbols(values.symbols, '--symbols'),
      validationRows: parseCount(values['validation-rows'], '--validation-rows', TRAIN_DEFAULTS.validationRows, 0),
      pointerKey: MODEL_POINTER_KEY,
      codeCommit: io.env[WORKER_ENV.codeCommit] || (await gitCommit(REPO_ROOT)),
      imageDigest: /@(sha256:[0-9a-f]{64})$/.exec(io.env[WORKER_ENV.codeVersion] ?? '')?.[1] ?? null,
      ...(backend ? { backend } : {}),
    };
  } catch (err) {
    io.err(`train: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const objects = new BucketObjects(makeS3Client(target.clients), target.bucket);
  try {
    const registry = { objects, pointerKey: MODEL_POINTER_KEY, principal: await principalOf(target) };
    const trained = await trainAndRecord(objects, settings, registry, undefined, (e) =>
      io.err(
        `epoch ${e.epoch}/${settings.epochs}: loss ${e.loss.toFixed(5)}, val_loss ${e.valLoss?.toFixed(5) ?? '-'} (${e.windowsPerSecond.toFixed(0)} windows/s)`,
      ),
    );
    for (const v of trained.record.validation) {
      io.err(
        `hold-out ${v.symbol}: MAD ${v.mad.toPrecision(5)}, naive ${v.naive.toPrecision(5)}${v.baseline ? `, ${v.baseline.version} ${v.baseline.mad === null ? `n/a (${v.baseline.reason})` : v.baseline.mad.toPrecision(5)}` : ''}`,
      );
    }
    io.out(
      `trained ${trained.version} (${trained.status}) as of ${settings.asOf} to s3://${target.bucket}/models/${trained.version}/${trained.existed ? ' (already there: the same weights and scalers)' : ''}`,
    );
    return 0;
  } catch (err) {
    io.err(`train: ${describeStackError(err, target)}`);
    return 1;
  } finally {
    objects.s3.destroy();
  }
}

runIfEntry(import.meta.url, main);
