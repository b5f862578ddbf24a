/** `npm run history -- show <symbol> [--from D] [--to D] | load <csv>` plus the target flags. */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { escapePrintable } from '../../shared/escape.js';
import { runIfEntry, type CommandIo } from '../cli/entry.js';
import { resolveStackTarget, STACK_ARGS, STACK_ARGS_HELP } from '../cli/stack-args.js';
import { loadHistoryFile } from '../ops/history-load.js';
import { describeStackError, type StackTarget } from '../ops/stack.js';
import { makeS3Client } from '../runtime/aws-clients.js';
import { dayNumber, HistoryStore, isoDay } from '../runtime/history.js';
import { BucketObjects } from '../runtime/s3-objects.js';

const USAGE = `usage: npm run history -- <show SYMBOL [--from YYYY-MM-DD] [--to YYYY-MM-DD] | load CSV> [target flags]
  show SYMBOL               the symbol's rows in the history (latest corrections), oldest first (default: the last 30 days)
  load CSV                  bootstrap the history from a full history file (validated as an upload; no predictions)
${STACK_ARGS_HELP}`;

const ISO = /^\d{4}-\d{2}-\d{2}$/;

export async function main(argv: string[], io: CommandIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...STACK_ARGS, from: { type: 'string' }, to: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    io.err(`history: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) return (io.out(USAGE), 0);
  const [verb, arg, ...extra] = positionals;
  if (!['show', 'load'].includes(verb ?? '') || !arg || extra.length > 0) {
    io.err(`history: expected show SYMBOL or load CSV\n${USAGE}`);
    return 2;
  }
  for (const flag of ['from', 'to'] as const) {
    if (values[flag] !== undefined && !ISO.test(values[flag]!)) {
      io.err(`history: --${flag} must be a date YYYY-MM-DD, got ${JSON.stringify(values[flag])}`);
      return 2;
    }
  }
  if (verb === 'load' && !fs.existsSync(arg)) {
    io.err(`history: no such file: ${arg}`);
    return 2;
  }
  let target: StackTarget;
  try {
    target = resolveStackTarget(values, io.env);
  } catch (err) {
    io.err(`history: ${(err as Error).message}`);
    return 2;
  }
  const objects = new BucketObjects(makeS3Client(target.clients), target.bucket);
  try {
    if (verb === 'load') {
      const { record, alreadyLoaded } = await loadHistoryFile(objects, arg);
      io.out(
        `${alreadyLoaded ? 'already loaded' : 'loaded'} ${record.file.name} (sha256 ${record.file.sha256.slice(0, 12)}): ${record.rows} rows of ${record.symbols.loaded.length} symbols in ${record.segments.length} segments (load ${record.loadId})`,
      );
      for (const s of record.symbols.skipped) io.out(`skipped ${escapePrintable(s.symbol) || '(empty symbol)'}: ${s.reason}`);
      return 0;
    }
    const to = values.to ? dayNumber(values.to) : dayNumber(new Date().toISOString().slice(0, 10));
    const from = values.from ? dayNumber(values.from) : to - 29;
    const read = await new HistoryStore(objects).range(arg, from, to);
    const rows = read.rows.get(arg) ?? [];
    io.out('date,open,high,low,close,market');
    for (const r of rows) io.out(`${isoDay(r.day)},${r.openText},${r.high},${r.low},${r.close},${r.market}`);
    io.out(`${rows.length} rows of ${escapePrintable(arg)} from ${isoDay(from)} to ${isoDay(to)}, from ${read.objects.length} segments`);
    return 0;
  } catch (err) {
    io.err(`history: ${describeStackError(err, target)}`);
    return 1;
  } finally {
    objects.s3.destroy();
  }
}

runIfEntry(import.meta.url, main);
