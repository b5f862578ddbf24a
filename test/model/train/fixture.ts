import fs from 'node:fs';
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
    out.set(s.symbol, s.rows.map(({ date, open, high, low, close, market }) => ({ date, open, high, low, close, market })));
  }
  return out;
}

/** The first `rows` rows of each of `symbols`. */
export function subset(histories: SymbolHistories, symbols: readonly string[], rows: number): Map<string, HistoryRow[]> {
  return new Map(symbols.map((s) => [s, histories.get(s)!.slice(0, rows)]));
}
