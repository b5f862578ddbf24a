/** `npm run model:import -- --h5 <model.h5> --scaler <scaler.pkl> --out <dir>` */
import { parseArgs } from 'node:util';
import { initBackend } from '../../model/backend.js';
import { importModel } from '../../model/import.js';
import { runIfEntry, type CommandIo } from '../cli/entry.js';
import { backendFromEnv } from '../cli/model-args.js';

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

export async function main(argv: string[], io: CommandIo): Promise<number> {
  let opts: ReturnType<typeof parseCli>;
  try {
    opts = parseCli(argv);
  } catch (err) {
    io.err(`model:import: ${(err as Error).message} (${USAGE})`);
    return 2;
  }
  try {
    await initBackend(backendFromEnv(io.env));
    const { dir, metadata } = await importModel(opts);
    io.out(`version ${metadata.version}`);
    io.out(`dir ${dir}`);
    return 0;
  } catch (err) {
    // First line only: some TF.js errors carry pages of minified source.
    io.err(`model:import failed: ${String((err as Error).message ?? err).split('\n')[0]}`);
    return 1;
  }
}

runIfEntry(import.meta.url, main);
