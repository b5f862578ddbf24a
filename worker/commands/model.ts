/**
 * `npm run model -- list | publish [--model <dir> | --h5 <file> --scaler <file>] [--no-use] | use <version>`
 * plus the target flags (local stack by default, `--target aws`).
 */
import { parseArgs } from 'node:util';
import { MODEL_POINTER_KEY } from '../../shared/layout.js';
import { REPO_ROOT, runIfEntry, type CommandIo } from '../cli/entry.js';
import { MODEL_ARGS, resolveModelFiles } from '../cli/model-args.js';
import { resolveStackTarget, STACK_ARGS, STACK_ARGS_HELP } from '../cli/stack-args.js';
import { publishModelVersion } from '../ops/model-publish.js';
import { listModelVersions, useModelVersion } from '../ops/model-versions.js';
import { describeStackError, type StackTarget } from '../ops/stack.js';
import { makeS3Client } from '../runtime/aws-clients.js';
import { BucketObjects } from '../runtime/s3-objects.js';
import { main as extendScalersMain } from './model-extend-scalers.js';

const USAGE = `usage: npm run model -- <list | publish | use VERSION> [options]
  list                      the versions under models/ in the bucket; * marks the one in service
  publish                   upload a model version (default: MODEL_DIR, else ../shared/model_out) and put it in service
    --model DIR | --h5 FILE --scaler FILE   the model to publish
    --no-use                upload without putting it in service
  use VERSION               put a published version in service (rollback); workers switch on their next message
  extend-scalers            scalers for the history's new symbols, as a candidate version (--help for its flags)
${STACK_ARGS_HELP}`;

export async function main(argv: string[], io: CommandIo): Promise<number> {
  if (argv[0] === 'extend-scalers') return extendScalersMain(argv.slice(1), io);
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...STACK_ARGS, ...MODEL_ARGS, 'no-use': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    io.err(`model: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [verb, arg] = positionals;
  if (values.help) return (io.out(USAGE), 0);
  if (!['list', 'publish', 'use'].includes(verb ?? '') || (verb === 'use') !== Boolean(arg)) {
    io.err(`model: expected list, publish or use VERSION\n${USAGE}`);
    return 2;
  }
  let target: StackTarget;
  try {
    target = resolveStackTarget(values, io.env);
  } catch (err) {
    io.err(`model: ${(err as Error).message}`);
    return 2;
  }
  const objects = new BucketObjects(makeS3Client(target.clients), target.bucket);
  try {
    if (verb === 'list') {
      const versions = await listModelVersions(objects, MODEL_POINTER_KEY);
      if (versions.length === 0) io.out(`no model versions under s3://${target.bucket}/models/`);
      for (const v of versions) io.out(`${v.current ? '*' : ' '} ${v.version}  keras ${v.kerasVersion}  ${v.symbols} symbols  h5 ${v.h5Sha256.slice(0, 12)}  scaler ${v.scalerSha256.slice(0, 12)}`);
    } else if (verb === 'publish') {
      const { files, source } = await resolveModelFiles(values, io.env, REPO_ROOT);
      const p = await publishModelVersion(objects, files, MODEL_POINTER_KEY, !values['no-use']);
      io.out(`published ${p.version} from ${source} to s3://${target.bucket}/${p.prefix}${values['no-use'] ? '' : ' (in service)'}`);
    } else {
      const p = await useModelVersion(objects, MODEL_POINTER_KEY, arg!);
      io.out(`in service: ${p.version}`);
    }
    return 0;
  } catch (err) {
    io.err(`model: ${describeStackError(err, target)}`);
    return 1;
  } finally {
    objects.s3.destroy();
  }
}

runIfEntry(import.meta.url, main);
