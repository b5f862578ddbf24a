/**
 * The parsed input as typed-array columns, one entry per data row: about 70 bytes a row, where an object per
 * row cost several hundred. After parsing, rows are grouped by symbol and sorted by date, so that one symbol's
 * rows are the range [start, start + count) of every column.
 */

/** ASCII texts (the input's own `open` cells) back to back in one byte buffer. */
export interface TextColumn {
  /** Text i is bytes [offsets[i], offsets[i + 1]). */
  offsets: Uint32Array;
  bytes: Uint8Array;
}

export interface InputTable {
  length: number;
  /** CSV record number, the header being record 1. */
  row: Int32Array;
  /** Days since 1970-01-01 (proleptic Gregorian). */
  day: Int32Array;
  open: Float64Array;
  high: Float64Array;
  low: Float64Array;
  close: Float64Array;
  market: Float64Array;
  openText: TextColumn;
}

/** Room for this many rows at first: the grown copies of a small upload cost more than the spare room. */
const INITIAL_ROWS = 8192;

type Typed = Int32Array | Uint32Array | Float64Array | Uint8Array;

function grown<T extends Typed>(a: T, need: number): T {
  if (need <= a.length) return a;
  // 1.5x: the spare capacity of a large upload stays at a third of its rows at most.
  const next = new (a.constructor as new (n: number) => T)(Math.max(need, Math.ceil(a.length * 1.5), INITIAL_ROWS));
  next.set(a);
  return next;
}

/** Rows appended in file order; `grouped` reorders them by symbol and date. */
export class InputTableBuilder {
  length = 0;
  row = new Int32Array(INITIAL_ROWS);
  day = new Int32Array(INITIAL_ROWS);
  symbol = new Int32Array(INITIAL_ROWS);
  open = new Float64Array(INITIAL_ROWS);
  high = new Float64Array(INITIAL_ROWS);
  low = new Float64Array(INITIAL_ROWS);
  close = new Float64Array(INITIAL_ROWS);
  market = new Float64Array(INITIAL_ROWS);
  private textOffsets = new Uint32Array(INITIAL_ROWS + 1);
  private textBytes = new Uint8Array(8 * INITIAL_ROWS);
  private textLength = 0;

  /** `openText` must be ASCII (it passed the decimal check). */
  push(row: number, symbol: number, day: number, open: number, high: number, low: number, close: number, market: number, openText: string): void {
    const i = this.length;
    if (i === this.row.length) {
      const n = i + 1;
      this.row = grown(this.row, n);
      this.day = grown(this.day, n);
      this.symbol = grown(this.symbol, n);
      this.open = grown(this.open, n);
      this.high = grown(this.high, n);
      this.low = grown(this.low, n);
      this.close = grown(this.close, n);
      this.market = grown(this.market, n);
    }
    if (i + 2 > this.textOffsets.length) this.textOffsets = grown(this.textOffsets, i + 2);
    this.row[i] = row;
    this.day[i] = day;
    this.symbol[i] = symbol;
    this.open[i] = open;
    this.high[i] = high;
    this.low[i] = low;
    this.close[i] = close;
    this.market[i] = market;
    let at = this.textLength;
    if (at + openText.length > this.textBytes.length) this.textBytes = grown(this.textBytes, at + openText.length);
    const bytes = this.textBytes;
    for (let k = 0; k < openText.length; k++) bytes[at++] = openText.charCodeAt(k);
    this.textLength = at;
    this.textOffsets[i + 1] = at;
    this.length = i + 1;
  }

  /**
   * The rows of the symbols with `keep[symbol]` set, grouped by symbol (in symbol-index order) and, within
   * one, sorted by date; equal dates keep their file order. Returns the table and each kept symbol's range.
   */
  grouped(symbols: number, keep: Uint8Array): { table: InputTable; ranges: Int32Array } {
    const n = this.length;
    // Counting sort by symbol: stable, so each symbol's rows stay in file order.
    const counts = new Int32Array(symbols + 1);
    for (let i = 0; i < n; i++) if (keep[this.symbol[i]!]) counts[this.symbol[i]! + 1]! += 1;
    const starts = new Int32Array(symbols + 1);
    for (let s = 0; s < symbols; s++) starts[s + 1] = starts[s]! + counts[s + 1]!;
    const total = starts[symbols]!;
    const order = new Uint32Array(total);
    const next = starts.slice(0, symbols);
    for (let i = 0; i < n; i++) {
      const s = this.symbol[i]!;
      if (keep[s]) order[next[s]!++] = i;
    }
    const day = this.day;
    for (let s = 0; s < symbols; s++) {
      const part = order.subarray(starts[s], starts[s + 1]);
      let sorted = true;
      for (let k = 1; k < part.length && sorted; k++) sorted = day[part[k]!]! >= day[part[k - 1]!]!;
      if (!sorted) part.sort((a, b) => day[a]! - day[b]! || a - b);
    }
    const pick = <T extends Int32Array | Float64Array>(from: T): T => {
      const out = new (from.constructor as new (n: number) => T)(total);
      for (let k = 0; k < total; k++) out[k] = from[order[k]!]!;
      return out;
    };
    const offsets = new Uint32Array(total + 1);
    let textBytes = 0;
    for (let k = 0; k < total; k++) {
      const i = order[k]!;
      textBytes += this.textOffsets[i + 1]! - this.textOffsets[i]!;
      offsets[k + 1] = textBytes;
    }
    const bytes = new Uint8Array(textBytes);
    for (let k = 0; k < total; k++) {
      const i = order[k]!;
      bytes.set(this.textBytes.subarray(this.textOffsets[i], this.textOffsets[i + 1]), offsets[k]);
    }
    const table: InputTable = {
      length: total,
      row: pick(this.row),
      day: pick(this.day),
      open: pick(this.open),
      high: pick(this.high),
      low: pick(this.low),
      close: pick(this.close),
      market: pick(this.market),
      openText: { offsets, bytes },
    };
    const ranges = new Int32Array(2 * symbols);
    for (let s = 0; s < symbols; s++) {
      ranges[2 * s] = starts[s]!;
      ranges[2 * s + 1] = starts[s + 1]! - starts[s]!;
    }
    return { table, ranges };
  }
}

/** Text i of a text column. */
export function textAt(column: TextColumn, i: number): string {
  return Buffer.from(column.bytes.buffer, column.bytes.byteOffset + column.offsets[i]!, column.offsets[i + 1]! - column.offsets[i]!).toString('latin1');
}

/** Days since 1970-01-01 of a valid proleptic Gregorian date (year 0 to 9999), after H. Hinnant's days_from_civil. */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** `YYYY-MM-DD` of a day number (see daysFromCivil), for years 0 to 9999. */
export function civilFromDays(days: number): string {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  return `${String(y).padStart(4, '0')}-${m < 10 ? '0' : ''}${m}-${d < 10 ? '0' : ''}${d}`;
}
