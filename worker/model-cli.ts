/**
 * `npm run model -- list | publish [--model <dir> | --h5 <file> --scaler <file>] [--no-use] | use <version>`
 * plus the stack options (local stack by default, `--target aws`).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { resolveModelFiles } from '../model/model-store.js';
import { MODEL_POINTER_KEY } from '../shared/layout.js';
import { describeStackError, makeS3Client } from './aws-clients.js';
import { publishModelVersion } from './model-publish.js';
import { listModelVersions, useModelVersion } from './model-versions.js';
import { BucketObjects } from './s3-objects.js';
import { STACK_ARGS, STACK_ARGS_HELP, stackFromArgs, type StackConfig } from './stack-config.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const USAGE = `usage: npm run model -- <list | publish | use VERSION> [options]
  list                      the versions under models/ in the bucket; * marks the one in service
  publish                   upload a model version (default: MODEL_DIR, else ../shared/model_out) and put it in service
    --model DIR | --h5 FILE --scaler FILE   the model to publish
    --no-use                upload without putting it in service
  use VERSION               put a published version in service (rollback); workers switch on their next message
${STACK_ARGS_HELP}`;

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...STACK_ARGS, model: { type: 'string' }, h5: { type: 'string' }, scaler: { type: 'string' }, 'no-use': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    console.error(`model: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [verb, arg] = positionals;
  if (values.help) return (console.log(USAGE), 0);
  if (!['list', 'publish', 'use'].includes(verb ?? '') || (verb === 'use') !== Boolean(arg)) {
    console.error(`model: expected list, publish or use VERSION\n${USAGE}`);
    return 2;
  }
  let stack: StackConfig;
  try {
    stack = stackFromArgs(values);
  } catch (err) {
    console.error(`model: ${(err as Error).message}`);
    return 2;
  }
  const objects = new BucketObjects(makeS3Client(stack), stack.bucket);
  try {
    if (verb === 'list') {
      const versions = await listModelVersions(objects, MODEL_POINTER_KEY);
      if (versions.length === 0) console.log(`no model versions under s3://${stack.bucket}/models/`);
      for (const v of versions) console.log(`${v.current ? '*' : ' '} ${v.version}  keras ${v.kerasVersion}  ${v.symbols} symbols  h5 ${v.h5Sha256.slice(0, 12)}  scaler ${v.scalerSha256.slice(0, 12)}`);
    } else if (verb === 'publish') {
      const { files, source } = await resolveModelFiles({ model: values.model, h5: values.h5, scaler: values.scaler, env: process.env, repoRoot: REPO_ROOT });
      const p = await publishModelVersion(objects, files, MODEL_POINTER_KEY, !values['no-use']);
      console.log(`published ${p.version} from ${source} to s3://${stack.bucket}/${p.prefix}${values['no-use'] ? '' : ' (in service)'}`);
    } else {
      const p = await useModelVersion(objects, MODEL_POINTER_KEY, arg!);
      console.log(`in service: ${p.version}`);
    }
    return 0;
  } catch (err) {
    console.error(`model: ${describeStackError(err, stack)}`);
    return 1;
  } finally {
    objects.s3.destroy();
  }
}

main(process.argv.slice(2)).then((code) => process.exit(code));
