/** `npm run console -- [--target aws] [--port P]`: the console and the API on localhost, against a stack, with the caller's credentials. */
import { parseArgs } from 'node:util';
import { runIfEntry, type CommandIo } from '../cli/entry.js';
import { resolveStackTarget, STACK_ARGS, STACK_ARGS_HELP } from '../cli/stack-args.js';
import { startApiServer, type ApiServer } from '../console/server.js';
import type { StackTarget } from '../ops/stack.js';
import { makeS3Client, makeSqsClient } from '../runtime/aws-clients.js';
import { API_DEFAULTS } from '../../shared/worker-env.js';

const USAGE = `usage: npm run console -- [--port P] [--target aws] [--endpoint-url URL] [--pulumi-outputs FILE]
  --port P                  localhost port (default 4571; 0 picks a free one)
${STACK_ARGS_HELP}
Every read, upload and redrive is made with your credentials (the default AWS credential chain with --target aws).`;

export async function main(argv: string[], io: CommandIo): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { ...STACK_ARGS, port: { type: 'string', default: '4571' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    io.err(`console: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    io.err(`console: --port must be an integer from 0 to 65535, got ${JSON.stringify(values.port)}`);
    return 2;
  }
  let target: StackTarget;
  try {
    target = resolveStackTarget(values, io.env);
  } catch (err) {
    io.err(`console: ${(err as Error).message}`);
    return 2;
  }
  const s3 = makeS3Client(target.clients);
  const sqs = makeSqsClient(target.clients);
  let server: ApiServer;
  try {
    server = await startApiServer({
      api: { s3, config: { bucket: target.bucket, maxBodyBytes: API_DEFAULTS.maxBodyBytes, presignSeconds: API_DEFAULTS.presignSeconds } },
      console: { s3, sqs, queueUrl: target.queueUrl, dlqUrl: target.dlqUrl, dlqWaitSeconds: target.kind === 'local' ? 0 : 1, target: target.kind },
      port,
    });
  } catch (err) {
    io.err(`console: cannot listen on port ${port}: ${(err as Error).message}`);
    s3.destroy();
    sqs.destroy();
    return 1;
  }
  io.out(`console    ${server.consoleUrl}  (${target.kind}: bucket ${target.bucket})\napi        ${server.url}\nCtrl-C stops it.`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await server.close();
  s3.destroy();
  sqs.destroy();
  return 0;
}

runIfEntry(import.meta.url, main);
