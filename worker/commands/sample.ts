/** `npm run sample -- --out <csv> [--symbols ...] [--days N]`: plausible daily OHLC rows. */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runIfEntry, type CommandIo } from '../cli/entry.js';
import { generateSample, SAMPLE_SYMBOLS, writeSampleCsv } from '../ops/sample.js';

const USAGE = `usage: npm run sample -- --out <csv> [--symbols BTC,LTC,XRP] [--days 60] [--seed 1] [--start 2018-01-25]
  symbols with a profile: ${Object.keys(SAMPLE_SYMBOLS).join(', ')} (the model knows BTC, LTC, XRP)`;

export async function main(argv: string[], io: CommandIo): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        symbols: { type: 'string', default: 'BTC,LTC,XRP' },
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
  try {
    const rows = generateSample({ symbols: values.symbols.split(','), days: Number(values.days), seed: Number(values.seed), start: values.start });
    await writeSampleCsv(rows, values.out);
    io.out(`wrote ${rows.length} rows to ${path.resolve(values.out)}`);
    return 0;
  } catch (err) {
    io.err(`sample: ${(err as Error).message}`);
    return 1;
  }
}

runIfEntry(import.meta.url, main);
