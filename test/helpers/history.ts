import fs from 'node:fs';
import path from 'node:path';
import { parseString, writeToPath } from 'fast-csv';
import { sharedDir } from './paths.js';

/** Big inputs made from the public histories, for the worker tests and the benches. */

export const SCALER_SYMBOLS = [
  'ANC',
  'BITS',
  'BTB',
  'BTC',
  'BTM',
  'CBX',
  'DGC',
  'FAIR',
  'FTC',
  'GLD',
  'IXC',
  'LTC',
  'NMC',
  'NVC',
  'PPC',
  'PXC',
  'TRC',
  'WDC',
  'XPM',
  'XRP',
] as const;

/**
 * Writes the 20-symbol full-history file: the three histories of `crypto_markets_btc_ltc_xrp.csv`, each
 * copied under several of the scaler set's symbols (BTC, LTC and XRP keep their own; the others take the
 * three in turn), about 35,000 rows. Returns the row count.
 */
export async function writeTwentySymbolFile(dest: string, source = path.join(sharedDir, 'data/crypto_markets_btc_ltc_xrp.csv')): Promise<number> {
  const rows = await new Promise<string[][]>((resolve, reject) => {
    const out: string[][] = [];
    parseString(fs.readFileSync(source, 'utf8'), { headers: false })
      .on('data', (r: string[]) => out.push(r))
      .on('error', reject)
      .on('end', () => resolve(out));
  });
  const [header, ...data] = rows;
  const col = header!.indexOf('symbol');
  if (col < 0) throw new Error(`${source}: no 'symbol' column`);
  const histories = new Map<string, string[][]>();
  for (const r of data) histories.set(r[col]!, [...(histories.get(r[col]!) ?? []), r]);
  const own = [...histories.keys()];
  if (own.length !== 3) throw new Error(`${source}: expected 3 symbols, found ${own.join(', ')}`);
  const others = SCALER_SYMBOLS.filter((s) => !histories.has(s));
  const out: string[][] = [header!];
  for (const symbol of SCALER_SYMBOLS) {
    const from = histories.has(symbol) ? symbol : own[others.indexOf(symbol) % own.length]!;
    for (const r of histories.get(from)!) out.push(r.map((v, i) => (i === col ? symbol : v)));
  }
  await new Promise<void>((resolve, reject) => {
    writeToPath(dest, out)
      .on('error', reject)
      .on('finish', () => resolve());
  });
  return out.length - 1;
}

/** The 20-symbol histories `times` times over, each copy 400 years later than the last (a whole Gregorian cycle: leap days line up). */
export function writeRepeatedHistory(source: string, dest: string, times: number): number {
  const [header, ...rows] = fs.readFileSync(source, 'utf8').trim().split('\n');
  const out = [header];
  for (let i = 0; i < times; i++) {
    for (const r of rows) out.push(r.replace(/,(\d{4})-(\d\d-\d\d),/, (_, y: string, md: string) => `,${Number(y) + 400 * i}-${md},`));
  }
  fs.writeFileSync(dest, `${out.join('\n')}\n`);
  return out.length - 1;
}
