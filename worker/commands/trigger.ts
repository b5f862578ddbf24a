/** `npm run trigger -- forecast [--as-of YYYY-MM-DD] [target flags]` */
import { parseArgs } from 'node:util';
import { runIfEntry, type CommandIo } from '../cli/entry.js';
import { resolveStackTarget, STACK_ARGS, STACK_ARGS_HELP } from '../cli/stack-args.js';
import { describeStackError, type StackTarget } from '../ops/stack.js';
import { forecastCommand, sendCommand } from '../ops/trigger.js';
import { makeSqsClient } from '../runtime/aws-clients.js';

const USAGE = `usage: npm run trigger -- forecast [--as-of YYYY-MM-DD] [--target aws] [--endpoint-url URL] [--pulumi-outputs FILE]
  forecast                  send {"command":"forecast"} to the work queue: forecasts/<day after asOf>.csv for every symbol
  --as-of YYYY-MM-DD        the day to forecast from (default: the latest day in the history)
${STACK_ARGS_HELP}`;

export async function main(argv: string[], io: CommandIo): Promise<number> {
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      options: { ...STACK_ARGS, 'as-of': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: true,
    }));
  } catch (err) {
    io.err(`trigger: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  if (positionals.length !== 1 || positionals[0] !== 'forecast') {
    io.err(`trigger: expected the command "forecast"; got ${positionals.length ? JSON.stringify(positionals.join(' ')) : 'none'}\n${USAGE}`);
    return 2;
  }
  let target: StackTarget;
  let command;
  try {
    command = forecastCommand(values['as-of']);
    target = resolveStackTarget(values, io.env);
  } catch (err) {
    io.err(`trigger: ${(err as Error).message}`);
    return 2;
  }
  const sqs = makeSqsClient(target.clients);
  try {
    const id = await sendCommand(sqs, target.queueUrl, command);
    io.out(`sent ${JSON.stringify(command)} to ${target.queueUrl} (message ${id})`);
    return 0;
  } catch (err) {
    io.err(`trigger: ${describeStackError(err, target)}`);
    return 1;
  } finally {
    sqs.destroy();
  }
}

runIfEntry(import.meta.url, main);
