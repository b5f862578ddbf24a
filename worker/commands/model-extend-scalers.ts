/**
 * `npm run model -- extend-scalers [--min-rows 30] [--as-of YYYY-MM-DD] [--base VERSION]` plus the target flags: scalers
 * for the history's new symbols, written as a candidate version (not put in service).
 */
import { parseArgs } from 'node:util';
import { MODEL_POINTER_KEY } from '../../shared/layout.js';
import { runIfEntry, type CommandIo } from '../cli/entry.js';
import { resolveStackTarget, STACK_ARGS, STACK_ARGS_HELP } from '../cli/stack-args.js';
import { extendScalersFromHistory } from '../ops/extend-scalers.js';
import { describeStackError, type StackTarget } from '../ops/stack.js';
import { makeS3Client } from '../runtime/aws-clients.js';
import { BucketObjects } from '../runtime/s3-objects.js';

export const EXTEND_SCALERS_USAGE = `usage: npm run model -- extend-scalers [--min-rows 30] [--as-of YYYY-MM-DD] [--base VERSION] [target flags]
  fits scalers from the history store for every symbol with at least --min-rows rows (dated on or before --as-of,
  default today) and no scaler in the base version (default: the one in service); writes a candidate version under
  models/ without putting it in service, and prints its id (\`npm run model -- use <id>\` serves it)
${STACK_ARGS_HELP}`;

export async function main(argv: string[], io: CommandIo): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        ...STACK_ARGS,
        'min-rows': { type: 'string', default: '30' },
        'as-of': { type: 'string' },
        base: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    io.err(`model extend-scalers: ${(err as Error).message}\n${EXTEND_SCALERS_USAGE}`);
    return 2;
  }
  if (values.help) return (io.out(EXTEND_SCALERS_USAGE), 0);
  const minRows = Number(values['min-rows']);
  if (!Number.isSafeInteger(minRows) || minRows < 2) {
    io.err(`model extend-scalers: --min-rows must be an integer >= 2, got ${JSON.stringify(values['min-rows'])}`);
    return 2;
  }
  const asOf = values['as-of'];
  if (asOf !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(asOf)) {
    io.err(`model extend-scalers: --as-of must be a date YYYY-MM-DD, got ${JSON.stringify(asOf)}`);
    return 2;
  }
  let target: StackTarget;
  try {
    target = resolveStackTarget(values, io.env);
  } catch (err) {
    io.err(`model extend-scalers: ${(err as Error).message}`);
    return 2;
  }
  const objects = new BucketObjects(makeS3Client(target.clients), target.bucket);
  try {
    const outcome = await extendScalersFromHistory(objects, {
      pointerKey: MODEL_POINTER_KEY,
      minRows,
      ...(asOf ? { asOf } : {}),
      ...(values.base ? { baseVersion: values.base } : {}),
    });
    const short = outcome.result.skipped.filter((s) => !s.reason.includes('already has'));
    if (outcome.version === null) {
      io.err(
        `model extend-scalers: no new symbol has ${minRows} rows in the history (${short.length} below the threshold); nothing written, ${outcome.baseVersion} unchanged`,
      );
      return 1;
    }
    io.err(
      `added scalers for ${outcome.result.added.length} symbols to ${outcome.baseVersion} (${short.length} below ${minRows} rows); candidate version, not in service`,
    );
    io.out(outcome.version);
    return 0;
  } catch (err) {
    io.err(`model extend-scalers: ${describeStackError(err, target)}`);
    return 1;
  } finally {
    objects.s3.destroy();
  }
}

runIfEntry(import.meta.url, main);
