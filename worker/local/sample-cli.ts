import path from 'node:path';
import { parseArgs } from 'node:util';
import { generateSample, SAMPLE_SYMBOLS, writeSampleCsv } from './sample.js';

const USAGE = `usage: npm run sample -- --out <csv> [--symbols BTC,LTC,XRP] [--days 60] [--seed 1] [--start 2018-01-25]
  symbols with a profile: ${Object.keys(SAMPLE_SYMBOLS).join(', ')} (the model knows BTC, LTC, XRP)`;

async function main(argv: string[]): Promise<number> {
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
    console.error(`sample: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.out) {
    console.error(`sample: --out <csv> is required\n${USAGE}`);
    return 2;
  }
  try {
    const rows = generateSample({ symbols: values.symbols.split(','), days: Number(values.days), seed: Number(values.seed), start: values.start });
    await writeSampleCsv(rows, values.out);
    console.log(`wrote ${rows.length} rows to ${path.resolve(values.out)}`);
    return 0;
  } catch (err) {
    console.error(`sample: ${(err as Error).message}`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
