import fs from 'node:fs';
import { expect } from 'chai';
import { readInputCsv } from '../../../model/csv-input.js';
import type { HistoryRow, SymbolHistories } from '../../../model/train/history.js';
import { shared } from '../../helpers/paths.js';

export const HISTORY_CSV = shared('data/crypto_markets_btc_ltc_xrp.csv');

/** The shared 3-symbol history (BTC, LTC, XRP), parsed by the pipeline's own CSV reader, rows in date order. */
export async function loadHistories(file = HISTORY_CSV): Promise<Map<string, HistoryRow[]>> {
  const parsed = await readInputCsv(fs.createReadStream(file));
  const out = new Map<string, HistoryRow[]>();
  for (const s of parsed.symbols) {
    if (s.problem) throw new Error(`${file}: symbol ${s.symbol}: ${s.problem.reason}`);
    out.set(
      s.symbol,
      s.rows.map(({ date, open, high, low, close, market }) => ({ date, open, high, low, close, market })),
    );
  }
  return out;
}

/** The first `rows` rows of each of `symbols`. */
export function subset(histories: SymbolHistories, symbols: readonly string[], rows: number): Map<string, HistoryRow[]> {
  return new Map(symbols.map((s) => [s, histories.get(s)!.slice(0, rows)]));
}

/** An independent float64 computation: features from their SPEC §2 definitions, two-pass mean and population variance. */
export function referenceColumns(rows: readonly HistoryRow[]): Record<string, number[]> {
  const base: Record<string, number[]> = {
    open: rows.map((r) => r.open),
    high: rows.map((r) => r.high),
    low: rows.map((r) => r.low),
    close: rows.map((r) => r.close),
    close_ratio: rows.map((r) => (r.high === r.low ? 0 : (r.close - r.low) / (r.high - r.low))),
    spread: rows.map((r) => r.high - r.low),
  };
  const out: Record<string, number[]> = { ...base };
  for (const [name, values] of Object.entries(base)) out[`v_${name}`] = values.map((v, t) => (t === 0 ? 0 : v - values[t - 1]!));
  return out;
}

export function referenceFit(values: number[]): { mean: number; var: number } {
  let sum = 0;
  for (const v of values) sum += v;
  const mean = sum / values.length;
  let sq = 0;
  for (const v of values) sq += (v - mean) ** 2;
  return { mean, var: sq / values.length };
}

/** |actual - expected| <= rel * |expected|. */
export function near(actual: number, expected: number, rel: number, what: string): void {
  expect(Math.abs(actual - expected), `${what}: ${actual} vs ${expected}`).to.be.at.most(rel * Math.max(Math.abs(expected), 1e-300));
}
