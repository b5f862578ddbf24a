import fs from 'node:fs';
import { finished } from 'node:stream/promises';
import { format, writeToString } from 'fast-csv';

/**
 * Synthetic daily OHLC rows in the team's layout, for a first run on a fresh clone without any data file.
 * A seeded random walk per symbol from a plausible price (its open on 2018-01-25), with:
 * high >= max(open, close), low <= min(open, close), low > 0, the open of day t+1 near the close of day t,
 * market = close * circulating supply.
 */

export const SAMPLE_HEADER = [
  'symbol',
  '',
  'slug',
  'name',
  'date',
  'ranknow',
  'open',
  'high',
  'low',
  'close',
  'volume',
  'market',
  'close_ratio',
  'spread',
] as const;

interface SymbolProfile {
  slug: string;
  name: string;
  rank: number;
  price: number;
  supply: number;
  /** Daily log-return standard deviation. */
  volatility: number;
  volume: number;
}

/** BTC, LTC and XRP are the symbols the team's model knows; ETH and DOGE show how unknown symbols are reported. */
export const SAMPLE_SYMBOLS: Readonly<Record<string, SymbolProfile>> = {
  BTC: { slug: 'bitcoin', name: 'Bitcoin', rank: 1, price: 11421.7, supply: 16_820_000, volatility: 0.045, volume: 8.9e9 },
  ETH: { slug: 'ethereum', name: 'Ethereum', rank: 2, price: 1056.03, supply: 97_400_000, volatility: 0.055, volume: 4.2e9 },
  XRP: { slug: 'ripple', name: 'Ripple', rank: 3, price: 1.36, supply: 38_740_000_000, volatility: 0.065, volume: 9.9e8 },
  LTC: { slug: 'litecoin', name: 'Litecoin', rank: 5, price: 181.56, supply: 54_900_000, volatility: 0.055, volume: 3.6e8 },
  DOGE: { slug: 'dogecoin', name: 'Dogecoin', rank: 39, price: 0.006533, supply: 113_000_000_000, volatility: 0.07, volume: 4.5e7 },
};

export interface SampleOptions {
  symbols: string[];
  days: number;
  /** ISO date of the first row. */
  start?: string;
  seed?: number;
}

export type SampleRow = [string, number, string, string, string, number, number, number, number, number, number, number, number, number];

export class SampleOptionsError extends Error {
  override readonly name = 'SampleOptionsError';
}

export function generateSample(opts: SampleOptions): SampleRow[] {
  const { symbols, days, start, seed } = validate(opts);
  const random = gaussian(mulberry32(seed));
  const rows: SampleRow[] = [];
  for (const symbol of symbols) symbolSeries(symbol, SAMPLE_SYMBOLS[symbol]!, days, start, random, (row) => rows.push(row));
  return rows;
}

/** One symbol's seeded random walk, a row at a time. */
function symbolSeries(symbol: string, p: SymbolProfile, days: number, start: string, random: () => number, emit: (row: SampleRow) => void): void {
  const decimals = p.price >= 100 ? 2 : p.price >= 1 ? 4 : p.price >= 0.001 ? 6 : 8;
  const round = (x: number) => Number(x.toFixed(decimals));
  const tick = 10 ** -decimals;
  const first = Date.parse(`${start}T00:00:00Z`);
  let previousClose = p.price;
  for (let t = 0; t < days; t++) {
    const open = t === 0 ? round(p.price) : Math.max(tick, round(previousClose * (1 + 0.003 * random())));
    const close = Math.max(tick, round(open * Math.exp(p.volatility * random())));
    const high = round(Math.max(open, close) * (1 + Math.abs(random()) * p.volatility * 0.5));
    const low = Math.max(tick, round(Math.min(open, close) * (1 - Math.min(0.5, Math.abs(random()) * p.volatility * 0.5))));
    const spread = round(high - low);
    const closeRatio = high === low ? 0 : Number(((close - low) / (high - low)).toFixed(4));
    const volume = Math.round(p.volume * Math.exp(0.3 * random()));
    const market = Math.round(close * p.supply * (1 + t * 1e-4));
    emit([
      symbol,
      t,
      p.slug,
      p.name,
      new Date(first + t * 86_400_000).toISOString().slice(0, 10),
      p.rank,
      open,
      high,
      low,
      close,
      volume,
      market,
      closeRatio,
      spread,
    ]);
    previousClose = close;
  }
}

/**
 * Generated symbol names: `Q` and four letters (`QAAAA`, `QAAAB`, ...). Five characters starting with Q: no name of
 * the team's scaler set (three or four characters) nor of the sample profiles, so every generated symbol is new.
 */
export function generatedSymbol(index: number): string {
  let name = '';
  for (let i = 0, n = index; i < 4; i++, n = Math.floor(n / 26)) name = String.fromCharCode(65 + (n % 26)) + name;
  return `Q${name}`;
}

export const MAX_GENERATED_SYMBOLS = 26 ** 4;

/**
 * A generated symbol's profile, from its index and the seed alone (the first 2,000 symbols of a 10,000-symbol file
 * are those of a 2,000-symbol one): a price from 0.0001 to 50,000 (log-uniform, so every symbol's scalers differ),
 * a daily volatility from 2 % to 12 %, a market capitalisation from 1e6 to 1e10.
 */
export function generatedProfile(index: number, seed: number): SymbolProfile {
  const u = mulberry32((Math.imul(seed, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0);
  u();
  const price = Number((10 ** (-4 + u() * Math.log10(5e8))).toPrecision(6));
  const cap = 10 ** (6 + 4 * u());
  const symbol = generatedSymbol(index);
  return {
    slug: symbol.toLowerCase(),
    name: `Generated ${symbol}`,
    rank: 100 + index,
    price,
    supply: Math.round(cap / price),
    volatility: 0.02 + 0.1 * u(),
    volume: Math.round(cap * (0.01 + 0.1 * u())),
  };
}

export interface GeneratedSampleOptions {
  count: number;
  days: number;
  start?: string;
  seed?: number;
}

/**
 * `count` generated symbols x `days` days, written as it is generated (never all in memory): rows grouped by symbol,
 * dates ascending. Returns the row count.
 */
export async function writeGeneratedSample(opts: GeneratedSampleOptions, file: string): Promise<number> {
  if (!Number.isInteger(opts.count) || opts.count < 1 || opts.count > MAX_GENERATED_SYMBOLS)
    throw new SampleOptionsError(`--count must be an integer from 1 to ${MAX_GENERATED_SYMBOLS}, got ${opts.count}`);
  const { days, start, seed } = validate({ symbols: ['BTC'], days: opts.days, start: opts.start, seed: opts.seed });
  const out = fs.createWriteStream(file);
  const done = finished(out);
  out.write(`${SAMPLE_HEADER.join(',')}\n`);
  let chunk: string[] = [];
  let rows = 0;
  for (let i = 0; i < opts.count; i++) {
    const random = gaussian(mulberry32((seed * 1_000_003 + i) >>> 0));
    symbolSeries(generatedSymbol(i), generatedProfile(i, seed), days, start, random, (row) => chunk.push(row.join(',')));
    rows += days;
    if (chunk.length >= 20_000 || i === opts.count - 1) {
      if (!out.write(`${chunk.join('\n')}\n`)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
      chunk = [];
    }
  }
  out.end();
  await done;
  return rows;
}

/** The rows as CSV text in the team's layout. */
export function sampleCsvText(rows: SampleRow[]): Promise<string> {
  return writeToString(rows, { headers: [...SAMPLE_HEADER], includeEndRowDelimiter: true });
}

export async function writeSampleCsv(rows: SampleRow[], file: string): Promise<void> {
  const csv = format({ headers: [...SAMPLE_HEADER], includeEndRowDelimiter: true });
  const out = fs.createWriteStream(file);
  csv.pipe(out);
  for (const row of rows) csv.write(row);
  csv.end();
  await finished(out);
}

function validate(opts: SampleOptions): Required<SampleOptions> {
  const symbols = opts.symbols.map((s) => s.trim().toUpperCase()).filter(Boolean);
  if (symbols.length === 0) throw new SampleOptionsError('--symbols must name at least one symbol');
  const unknown = symbols.filter((s) => !(s in SAMPLE_SYMBOLS));
  if (unknown.length) throw new SampleOptionsError(`--symbols: no sample profile for ${unknown.join(', ')} (known: ${Object.keys(SAMPLE_SYMBOLS).join(', ')})`);
  if (new Set(symbols).size !== symbols.length) throw new SampleOptionsError('--symbols names a symbol twice');
  if (!Number.isInteger(opts.days) || opts.days < 1 || opts.days > 10_000)
    throw new SampleOptionsError(`--days must be an integer from 1 to 10000, got ${opts.days}`);
  const start = opts.start ?? '2018-01-25';
  if (
    !/^\d{4}-\d{2}-\d{2}$/.test(start) ||
    Number.isNaN(Date.parse(`${start}T00:00:00Z`)) ||
    new Date(`${start}T00:00:00Z`).toISOString().slice(0, 10) !== start
  ) {
    throw new SampleOptionsError(`--start must be an ISO date YYYY-MM-DD, got ${JSON.stringify(start)}`);
  }
  const seed = opts.seed ?? 1;
  if (!Number.isInteger(seed)) throw new SampleOptionsError(`--seed must be an integer, got ${seed}`);
  return { symbols, days: opts.days, start, seed };
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal draws (Box-Muller) from a uniform source. */
function gaussian(uniform: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}
