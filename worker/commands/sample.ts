/** `npm run sample -- --out <csv> [--symbols ... | --count N] [--days N]`: plausible daily OHLC rows. */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runIfEntry, type CommandIo } from '../cli/entry.js';
import { generateSample, SAMPLE_SYMBOLS, writeGeneratedSample, writeSampleCsv } from '../ops/sample.js';

const USAGE = `usage: npm run sample -- --out <csv> [--symbols BTC,LTC,XRP | --count N] [--days 60] [--seed 1] [--start 2018-01-25]
  symbols with a profile: ${Object.keys(SAMPLE_SYMBOLS).join(', ')} (the model knows BTC, LTC, XRP)
  --count N                 N generated symbols (QAAAA, QAAAB, ...: names the team's model never had), each with its own
                            price scale and volatility, instead of --symbols`;

export async function main(argv: string[], io: CommandIo): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        symbols: { type: 'string' },
        count: { type: 'string' },
        days: { type: 'string', default: '60' },
        out: { type: 'string' },
        seed: { type: 'string', default: '1' },
        start: { type: 'string', default: '2018-01-25' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    io.err(`sample: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  if (!values.out) {
    io.err(`sample: --out <csv> is required\n${USAGE}`);
    return 2;
  }
  if (values.count !== undefined && values.symbols !== undefined) {
    io.err(`sample: --count and --symbols exclude each other\n${USAGE}`);
    return 2;
  }
  try {
    if (values.count !== undefined) {
      const rows = await writeGeneratedSample(
        { count: Number(values.count), days: Number(values.days), seed: Number(values.seed), start: values.start },
        values.out,
      );
      io.out(`wrote ${rows} rows of ${Number(values.count)} generated symbols to ${path.resolve(values.out)}`);
      return 0;
    }
    const rows = generateSample({
      symbols: (values.symbols ?? 'BTC,LTC,XRP').split(','),
      days: Number(values.days),
      seed: Number(values.seed),
      start: values.start,
    });
    await writeSampleCsv(rows, values.out);
    io.out(`wrote ${rows.length} rows to ${path.resolve(values.out)}`);
    return 0;
  } catch (err) {
    io.err(`sample: ${(err as Error).message}`);
    return 1;
  }
}

runIfEntry(import.meta.url, main);
