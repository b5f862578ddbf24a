import { parseArgs } from 'node:util';
import { describeStackError, makeSqsClient } from './aws-clients.js';
import { formatDlqTable, listDlq, redriveDlq } from './dlq.js';
import { STACK_ARGS, STACK_ARGS_HELP, stackFromArgs, type StackConfig } from './stack-config.js';

const USAGE = `usage: npm run dlq -- [--redrive] [--json] [--target aws] [--endpoint-url URL] [--pulumi-outputs FILE]
  (no option)               list the dead-letter queue: key, origin, receives, first received, reason
  --redrive                 move every DLQ message back to the work queue
  --json                    machine-readable output
${STACK_ARGS_HELP}`;

async function main(argv: string[]): Promise<number> {
  let values: ReturnType<typeof parse>['values'];
  try {
    values = parse(argv).values;
  } catch (err) {
    console.error(`dlq: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  let stack: StackConfig;
  try {
    stack = stackFromArgs(values);
  } catch (err) {
    console.error(`dlq: ${(err as Error).message}`);
    return 2;
  }
  try {
    const sqs = makeSqsClient(stack);
    const waitSeconds = stack.target === 'local' ? 0 : 1;
    if (values.redrive) {
      const result = await redriveDlq(sqs, stack.dlqUrl, stack.queueUrl, { waitSeconds });
      if (values.json) console.log(JSON.stringify(result, null, 2));
      else {
        console.log(`moved ${result.moved} message${result.moved === 1 ? '' : 's'} from ${stack.dlqUrl} to ${stack.queueUrl}`);
        for (const f of result.failed) console.log(`  not moved: ${f.messageId}: ${f.error}`);
      }
      return result.failed.length === 0 ? 0 : 1;
    }
    const entries = await listDlq(sqs, stack.dlqUrl, { waitSeconds });
    console.log(values.json ? JSON.stringify(entries, null, 2) : `${stack.dlqUrl}\n${formatDlqTable(entries)}`);
    return 0;
  } catch (err) {
    console.error(`dlq: ${describeStackError(err, stack)}`);
    return 1;
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    options: { ...STACK_ARGS, redrive: { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
    allowPositionals: false,
  });
}

process.exitCode = await main(process.argv.slice(2));
