/** `npm run dlq -- [--redrive] [--json] [target flags]` */
import { parseArgs } from 'node:util';
import { runIfEntry, type CommandIo } from '../cli/entry.js';
import { resolveStackTarget, STACK_ARGS, STACK_ARGS_HELP } from '../cli/stack-args.js';
import { formatDlqTable, listDlq, redriveDlq } from '../ops/dlq.js';
import { describeStackError, type StackTarget } from '../ops/stack.js';
import { makeSqsClient } from '../runtime/aws-clients.js';

const USAGE = `usage: npm run dlq -- [--redrive] [--json] [--target aws] [--endpoint-url URL] [--pulumi-outputs FILE]
  (no option)               list the dead-letter queue: key, origin, receives, first received, reason
  --redrive                 move every DLQ message back to the work queue
  --json                    machine-readable output
${STACK_ARGS_HELP}`;

export async function main(argv: string[], io: CommandIo): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { ...STACK_ARGS, redrive: { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    io.err(`dlq: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  let target: StackTarget;
  try {
    target = resolveStackTarget(values, io.env);
  } catch (err) {
    io.err(`dlq: ${(err as Error).message}`);
    return 2;
  }
  const sqs = makeSqsClient(target.clients);
  try {
    // SQS samples its servers on a short poll and can miss messages; the embedded queue needs no wait.
    const waitSeconds = target.kind === 'local' ? 0 : 1;
    if (values.redrive) {
      const result = await redriveDlq(sqs, target.dlqUrl, target.queueUrl, { waitSeconds });
      if (values.json) io.out(JSON.stringify(result, null, 2));
      else {
        io.out(`moved ${result.moved} message${result.moved === 1 ? '' : 's'} from ${target.dlqUrl} to ${target.queueUrl}`);
        for (const f of result.failed) io.out(`  not moved: ${f.messageId}: ${f.error}`);
      }
      return result.failed.length === 0 ? 0 : 1;
    }
    const entries = await listDlq(sqs, target.dlqUrl, { waitSeconds });
    io.out(values.json ? JSON.stringify(entries, null, 2) : `${target.dlqUrl}\n${formatDlqTable(entries)}`);
    return 0;
  } catch (err) {
    io.err(`dlq: ${describeStackError(err, target)}`);
    return 1;
  } finally {
    sqs.destroy();
  }
}

runIfEntry(import.meta.url, main);
