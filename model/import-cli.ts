import { parseArgs } from 'node:util';
import { importModel } from './import.js';

const USAGE = 'usage: npm run model:import -- --h5 <model.h5> --scaler <scaler.pkl> --out <dir>';

function parseCli(argv: string[]): { h5: string; scaler: string; out: string } {
  const { values } = parseArgs({
    args: argv,
    options: { h5: { type: 'string' }, scaler: { type: 'string' }, out: { type: 'string' } },
    strict: true,
    allowPositionals: false,
  });
  const missing = (['h5', 'scaler', 'out'] as const).filter((k) => !values[k]);
  if (missing.length > 0) throw new Error(`missing ${missing.map((k) => `--${k}`).join(', ')}`);
  return { h5: values.h5!, scaler: values.scaler!, out: values.out! };
}

async function main(): Promise<number> {
  let opts: ReturnType<typeof parseCli>;
  try {
    opts = parseCli(process.argv.slice(2));
  } catch (err) {
    console.error(`model:import: ${(err as Error).message} (${USAGE})`);
    return 2;
  }
  try {
    const { dir, metadata } = await importModel(opts);
    console.log(`version ${metadata.version}`);
    console.log(`dir ${dir}`);
    return 0;
  } catch (err) {
    // First line only: some TF.js errors carry pages of minified source.
    console.error(`model:import failed: ${String((err as Error).message ?? err).split('\n')[0]}`);
    return 1;
  }
}

process.exitCode = await main();
