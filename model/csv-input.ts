import { isAscii } from 'node:buffer';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import Papa from 'papaparse';
import type { QualityIssue } from '../shared/manifest.js';
import { quoteForMessage } from '../shared/escape.js';
import { QualityLog, qualityRule } from './data-quality.js';
import { InputFileError } from './errors.js';
import { count, resolvedLimits, type InputLimits } from './input-limits.js';
import { civilFromDays, daysFromCivil, InputTableBuilder, textAt, type InputTable } from './input-table.js';

/** Columns the engine reads, found by name (SPEC §1); every other column is ignored and not validated. */
export const REQUIRED_COLUMNS = ['symbol', 'date', 'open', 'high', 'low', 'close', 'market'] as const;
type Required = (typeof REQUIRED_COLUMNS)[number];

export interface InputRow {
  /** CSV record number, the header being record 1. */
  row: number;
  date: string;
  open: number;
  high: number;
  low: number;
  close: number;
  market: number;
  /** The input's own `open` text, copied to the output unchanged. */
  openText: string;
}

/** Why a symbol cannot be predicted, located in the file. */
export interface RowProblem {
  row: number;
  column: string;
  reason: string;
}

export interface SymbolInput {
  symbol: string;
  /** Data rows of this symbol in the file, valid or not. */
  rowCount: number;
  /** The symbol's rows, ascending by date: `count` rows of `ParsedInput.table` from `start`; none when it has a problem. */
  start: number;
  count: number;
  /** The same rows as objects (built on each access: the engine reads the table). */
  readonly rows: InputRow[];
  /** The first bad value found for this symbol, if any: the symbol is skipped, the rest go on. */
  problem?: RowProblem;
  /** Rows whose values are valid numbers but impossible prices (see data-quality.ts); absent when none. */
  quality?: { issues: QualityIssue[]; count: number };
}

export interface ParsedInput {
  /** In order of first appearance in the file. */
  symbols: SymbolInput[];
  rows: number;
  sha256: string;
  bytes: number;
  /** Every valid row of the symbols without a problem, grouped by symbol and sorted by date. */
  table: InputTable;
}

export type ReadInputOptions = InputLimits;

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Strict number parsing: `Number('')` is 0 and `Number('0x10')` is 16, neither is acceptable here. */
export function parseDecimal(text: string): number | string {
  const t = text.trim();
  if (t === '') return 'empty value';
  if (!DECIMAL.test(t)) return /^[+-]?(nan|inf(inity)?)$/i.test(t) ? `not a finite number: ${quoteForMessage(text)}` : `not a number: ${quoteForMessage(text)}`;
  const v = Number(t);
  return Number.isFinite(v) ? v : `not a finite number: ${quoteForMessage(text)}`;
}

const isDigit = (c: number) => c >= 48 && c <= 57;

/**
 * The value of a cell that is exactly a decimal of DECIMAL's form (no surrounding space), else NaN: the
 * per-cell fast path; anything else goes through parseDecimal, which says what is wrong.
 */
function plainDecimal(t: string): number {
  const n = t.length;
  let i = 0;
  let c = t.charCodeAt(0);
  if (c === 43 || c === 45) i = 1;
  const intStart = i;
  while (i < n && isDigit(t.charCodeAt(i))) i++;
  let digits = i - intStart;
  if (i < n && t.charCodeAt(i) === 46) {
    const fracStart = ++i;
    while (i < n && isDigit(t.charCodeAt(i))) i++;
    digits += i - fracStart;
  }
  if (digits === 0) return NaN;
  if (i < n && ((c = t.charCodeAt(i)) === 101 || c === 69)) {
    i++;
    if (i < n && ((c = t.charCodeAt(i)) === 43 || c === 45)) i++;
    const expStart = i;
    while (i < n && isDigit(t.charCodeAt(i))) i++;
    if (i === expStart) return NaN;
  }
  return i === n ? Number(t) : NaN;
}

/** The number written by the ASCII digits `t[from, to)`. */
function digits(t: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) n = n * 10 + t.charCodeAt(i) - 48;
  return n;
}

function calendarDay(year: number, month: number, day: number): boolean {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1];
  return days !== undefined && day >= 1 && day <= days;
}

/** `YYYY-MM-DD` naming a day of the proleptic Gregorian calendar (as `Date` reads it), e.g. not 2018-02-29. */
export function parseIsoDate(text: string): string | { error: string } {
  const t = text.trim();
  if (!ISO_DATE.test(t)) return { error: t === '' ? 'empty value' : `not an ISO date (YYYY-MM-DD): ${quoteForMessage(text)}` };
  if (!calendarDay(digits(t, 0, 4), digits(t, 5, 7), digits(t, 8, 10))) return { error: `not a calendar date: ${quoteForMessage(text)}` };
  return t;
}

/** Day number of a cell that is exactly a valid `YYYY-MM-DD`, else NaN (then parseIsoDate says why). */
function plainIsoDay(t: string): number {
  if (t.length !== 10 || t.charCodeAt(4) !== 45 || t.charCodeAt(7) !== 45) return NaN;
  for (const i of [0, 1, 2, 3, 5, 6, 8, 9]) if (!isDigit(t.charCodeAt(i))) return NaN;
  const year = digits(t, 0, 4);
  const month = digits(t, 5, 7);
  const day = digits(t, 8, 10);
  return calendarDay(year, month, day) ? daysFromCivil(year, month, day) : NaN;
}

function isBlank(cells: readonly string[]): boolean {
  for (const c of cells) if (c.trim() !== '') return false;
  return true;
}

/** At most this many characters of header names in a message. */
const HEADER_SHOWN_CHARS = 100;

function locateColumns(header: string[], hint: string): Record<Required, number> {
  const names = header.map((h, i) => (i === 0 ? h.replace(/^\uFEFF/, '') : h).trim());
  const found = {} as Record<Required, number>;
  const missing: string[] = [];
  for (const col of REQUIRED_COLUMNS) {
    const at = names.flatMap((n, i) => (n === col ? [i] : []));
    if (at.length > 1) {
      const shown = at
        .slice(0, 10)
        .map((i) => i + 1)
        .join(', ');
      throw new InputFileError(`header: column '${col}' appears ${at.length} times (positions ${shown}${at.length > 10 ? ', ...' : ''})${hint}`);
    }
    if (at.length === 0) missing.push(col);
    else found[col] = at[0]!;
  }
  if (missing.length > 0) {
    let shown = '';
    let i = 0;
    for (; i < names.length && shown.length < HEADER_SHOWN_CHARS; i++) shown += `${i > 0 ? ',' : ''}${quoteForMessage(names[i]!, 16)}`;
    throw new InputFileError(
      `header: required column${missing.length > 1 ? 's' : ''} ${missing.map((c) => `'${c}'`).join(', ')} missing (header is ${shown}${i < names.length ? ',...' : ''})${hint}`,
    );
  }
  return found;
}

function markProblem(entry: SymbolEntry, row: number, column: string, reason: string): void {
  entry.problem = { row, column, reason };
}

/** The value of a cell the fast path refused (e.g. padded with spaces), or NaN after marking why it is bad. */
function checkedDecimal(entry: SymbolEntry, row: number, column: string, text: string): number {
  const v = parseDecimal(text);
  if (typeof v === 'number') return v;
  markProblem(entry, row, column, v);
  return NaN;
}

interface SymbolEntry {
  index: number;
  symbol: string;
  rowCount: number;
  problem?: RowProblem;
  quality?: QualityLog;
}

class ParsedSymbol implements SymbolInput {
  constructor(
    readonly symbol: string,
    readonly rowCount: number,
    readonly start: number,
    readonly count: number,
    private readonly table: InputTable,
    readonly problem?: RowProblem,
    readonly quality?: { issues: QualityIssue[]; count: number },
  ) {
    if (problem === undefined) delete (this as { problem?: RowProblem }).problem;
    if (quality === undefined) delete (this as { quality?: unknown }).quality;
  }

  get rows(): InputRow[] {
    const t = this.table;
    const out: InputRow[] = [];
    for (let k = this.start; k < this.start + this.count; k++) {
      out.push({
        row: t.row[k]!,
        date: civilFromDays(t.day[k]!),
        open: t.open[k]!,
        high: t.high[k]!,
        low: t.low[k]!,
        close: t.close[k]!,
        market: t.market[k]!,
        openText: textAt(t.openText, k),
      });
    }
    return out;
  }
}

/** A short description of a papaparse quoting error at `index` of `text`. */
function csvError(record: number, error: Papa.ParseError, text: string): InputFileError {
  const at = Math.max(0, error.index ?? 0);
  const what =
    error.code === 'MissingQuotes'
      ? 'a quoted field is not closed'
      : error.code === 'InvalidQuotes'
        ? 'a closing quote is followed by more text'
        : error.message;
  return new InputFileError(`not a readable CSV near record ${record}: ${what} (at ${quoteForMessage(text.slice(Math.max(0, at - 1), at + 12), 12)})`);
}

/**
 * Reads an uploaded CSV as a stream (SPEC §1): columns by name, both layouts, BOM, CRLF and quoted fields.
 * Structural problems and broken limits throw `InputFileError` with a short reason naming the row; a bad
 * value marks only its symbol as skipped. Reads no more than a limit plus the source's current chunk.
 */
export async function readInputCsv(source: Readable, options: ReadInputOptions = {}): Promise<ParsedInput> {
  const limits = resolvedLimits(options);
  const hash = createHash('sha256');
  let bytes = 0;
  const decoder = new StringDecoder('utf8');
  // papaparse's low-level parser, fed the text chunk by chunk: `partial` is the incomplete last record.
  const parser = new Papa.Parser({ delimiter: ',', newline: '\n', quoteChar: '"' });
  let partial = '';
  let pendingCR = false;
  let sawCR = false;
  let lineBytes = 0;
  /** Set once a NUL byte (a binary or UTF-16 file) is seen; reported as soon as the header is read. */
  let binary: string | undefined;
  /** Offset of that NUL in the chunk being read, else -1. */
  let nulAt = -1;

  const bySymbol = new Map<string, SymbolEntry>();
  const entries: SymbolEntry[] = [];
  const builder = new InputTableBuilder();
  let cols: Record<Required, number> | undefined;
  let width = 0;
  let record = 0;
  let rows = 0;
  let iSymbol = 0;
  let iDate = 0;
  let iOpen = 0;
  let iHigh = 0;
  let iLow = 0;
  let iClose = 0;
  let iMarket = 0;
  // Rows of one symbol usually come together: the last entry saves a map lookup per row.
  let last: SymbolEntry | undefined;

  const onRow = (cells: string[]): void => {
    record += 1;
    if (sawCR) {
      const lastCell = cells[cells.length - 1]!;
      if (lastCell.charCodeAt(lastCell.length - 1) === 13) cells[cells.length - 1] = lastCell.slice(0, -1);
    }
    if (cells.length > limits.maxCells)
      throw new InputFileError(`row ${record}: ${count(cells.length)} cells, more than the ${count(limits.maxCells)}-cell limit`);
    if (!cols) {
      if (isBlank(cells)) return; // a blank line: counted for row numbers, not a data row
      cols = locateColumns(cells, binary ? `; not UTF-8 text (${binary})` : '');
      width = cells.length;
      ({ symbol: iSymbol, date: iDate, open: iOpen, high: iHigh, low: iLow, close: iClose, market: iMarket } = cols);
      return;
    }
    const symbol = (cells[iSymbol] ?? '').trim();
    if (symbol === '' && isBlank(cells)) return;
    rows += 1;
    let entry = last?.symbol === symbol ? last : bySymbol.get(symbol);
    if (!entry) {
      entry = { index: entries.length, symbol, rowCount: 0 };
      bySymbol.set(symbol, entry);
      entries.push(entry);
    }
    last = entry;
    entry.rowCount += 1;
    if (entry.problem) return;
    if (symbol === '') return markProblem(entry, record, 'symbol', 'empty value');
    // A cell too many or too few shifts every column after it: the values cannot be trusted.
    if (cells.length !== width) return markProblem(entry, record, '(row)', `row has ${cells.length} cells, the header has ${width}`);
    const dateText = cells[iDate] ?? '';
    let day = plainIsoDay(dateText);
    if (day !== day) {
      const date = parseIsoDate(dateText);
      if (typeof date !== 'string') return markProblem(entry, record, 'date', date.error);
      day = plainIsoDay(date);
    }
    // Checked in the order open, high, low, close, market: the first bad value is the one reported.
    let openText = cells[iOpen] ?? '';
    let open = plainDecimal(openText);
    if (!Number.isFinite(open)) {
      open = checkedDecimal(entry, record, 'open', openText);
      if (open !== open) return;
      openText = openText.trim();
    }
    let high = plainDecimal(cells[iHigh] ?? '');
    if (!Number.isFinite(high) && (high = checkedDecimal(entry, record, 'high', cells[iHigh] ?? '')) !== high) return;
    let low = plainDecimal(cells[iLow] ?? '');
    if (!Number.isFinite(low) && (low = checkedDecimal(entry, record, 'low', cells[iLow] ?? '')) !== low) return;
    let close = plainDecimal(cells[iClose] ?? '');
    if (!Number.isFinite(close) && (close = checkedDecimal(entry, record, 'close', cells[iClose] ?? '')) !== close) return;
    let market = plainDecimal(cells[iMarket] ?? '');
    if (!Number.isFinite(market) && (market = checkedDecimal(entry, record, 'market', cells[iMarket] ?? '')) !== market) return;
    const broken = qualityRule(open, high, low, close, market);
    if (broken) (entry.quality ??= new QualityLog()).add(record, broken.column, broken.rule);
    builder.push(record, entry.index, day, open, high, low, close, market, openText);
  };

  /** Parses `text` after the partial record; `final` flushes the last record. */
  const feed = (text: string, final: boolean): void => {
    if (pendingCR) {
      text = `\r${text}`;
      pendingCR = false;
    }
    if (!final && text.charCodeAt(text.length - 1) === 13) {
      // Whether it is a CRLF or an old Mac line end shows in the next chunk.
      pendingCR = true;
      text = text.slice(0, -1);
    }
    if (text.includes('\r')) {
      sawCR = true;
      // Old Mac line ends (CR alone) become LF; the CR of CRLF is dropped per row.
      if (/\r(?!\n)/.test(text)) text = text.replace(/\r(?!\n)/g, '\n');
    }
    const input = partial === '' ? text : partial + text;
    if (input === '') return;
    const result = parser.parse(input, 0, !final) as Papa.ParseResult<string[]>;
    const data = result.data;
    // Errors in the incomplete last record may be undone by the next chunk: only complete records count.
    for (const e of result.errors) if (final || (e.row ?? 0) < data.length) throw csvError(record + (e.row ?? 0) + 1, e, input);
    for (const cells of data) onRow(cells);
    partial = final ? '' : input.slice(result.meta.cursor);
    if (partial.length > limits.maxLineBytes) {
      // Only a quoted field gets here (a line break inside it is not the end of the record).
      const open = result.errors.find((e) => e.code === 'InvalidQuotes');
      throw open
        ? csvError(record + 1, open, input)
        : new InputFileError(`row ${record + 1}: a quoted field runs over more than the ${count(limits.maxLineBytes)}-byte line limit`);
    }
    if (binary && cols) throw new InputFileError(`header: not UTF-8 text (${binary})`);
  };

  /** Byte-level checks of one chunk: returns where to cut it and why, or undefined when it is fine. */
  const inspect = (chunk: Buffer): { cut: number; error: () => InputFileError } | undefined => {
    if (bytes === 0 && chunk.length >= 2 && ((chunk[0] === 0xff && chunk[1] === 0xfe) || (chunk[0] === 0xfe && chunk[1] === 0xff))) {
      return { cut: 0, error: () => new InputFileError(`row 1: not UTF-8 text (UTF-16 ${chunk[0] === 0xff ? 'LE' : 'BE'} byte-order mark at byte 0)`) };
    }
    let end = chunk.length;
    let why: (() => InputFileError) | undefined;
    if (bytes + chunk.length > limits.maxBytes) {
      end = limits.maxBytes - bytes;
      why = () => new InputFileError(`row ${record + 1}: the input is larger than the ${count(limits.maxBytes)}-byte limit`);
    }
    // Lines: bytes since the last LF or CR, counted across chunks.
    const hasCR = chunk.indexOf(13) >= 0;
    let pos = 0;
    while (pos < end) {
      let brk = chunk.indexOf(10, pos);
      if (hasCR) {
        const cr = chunk.indexOf(13, pos);
        if (cr >= 0 && (brk < 0 || cr < brk)) brk = cr;
      }
      const stop = brk < 0 || brk >= end ? end : brk;
      if (lineBytes + (stop - pos) > limits.maxLineBytes) {
        return {
          cut: pos + (limits.maxLineBytes - lineBytes),
          error: () => new InputFileError(`row ${record + 1}: a line is longer than the ${count(limits.maxLineBytes)}-byte limit`),
        };
      }
      if (stop === end) {
        lineBytes += stop - pos;
        break;
      }
      lineBytes = 0;
      pos = brk + 1;
    }
    if (binary === undefined && nulAt < 0) {
      const nul = chunk.subarray(0, end).indexOf(0);
      if (nul >= 0) nulAt = nul;
    }
    return why ? { cut: end, error: why } : undefined;
  };

  // ASCII chunks (most uploads) skip the UTF-8 decoder, until the first that is not.
  let ascii = true;
  for await (const piece of source) {
    const chunk: Buffer = typeof piece === 'string' ? Buffer.from(piece) : Buffer.isBuffer(piece) ? piece : Buffer.from(piece as Uint8Array);
    const stop = inspect(chunk);
    const usable = stop ? chunk.subarray(0, stop.cut) : chunk;
    hash.update(usable);
    bytes += usable.length;
    if (ascii && !isAscii(usable)) ascii = false;
    const text = (b: Buffer) => (ascii ? b.toString('latin1') : decoder.write(b));
    if (nulAt >= 0) {
      // Rows before the NUL are read first: after the header, it ends the file at its row; before, the
      // header check reports it, with what the header holds.
      const at = nulAt;
      nulAt = -1;
      feed(text(usable.subarray(0, at)), false);
      binary = `NUL byte at byte ${count(bytes - usable.length + at)}`;
      if (cols) throw new InputFileError(`row ${record + 1}: not UTF-8 text (${binary})`);
      feed(text(usable.subarray(at)), false);
    } else feed(text(usable), false);
    if (stop) throw stop.error();
  }
  feed(decoder.end(), true);
  if (!cols) throw new InputFileError(`empty file: no header row${binary ? `; not UTF-8 text (${binary})` : ''}`);
  if (rows === 0) throw new InputFileError('no data rows: the file has a header only, so there is nothing to predict');

  // Group by symbol and date; a duplicated (symbol, date) then skips its symbol.
  const keep = new Uint8Array(entries.length);
  for (const e of entries) keep[e.index] = e.problem ? 0 : 1;
  let grouped = builder.grouped(entries.length, keep);
  let dropped = false;
  for (const e of entries) {
    if (!keep[e.index]) continue;
    const { table } = grouped;
    const start = grouped.ranges[2 * e.index]!;
    const end = start + grouped.ranges[2 * e.index + 1]!;
    for (let k = start + 1; k < end; k++) {
      if (table.day[k] === table.day[k - 1]) {
        const date = civilFromDays(table.day[k]!);
        e.problem = { row: table.row[k]!, column: 'date', reason: `duplicated date ${date} for this symbol (also at row ${table.row[k - 1]})` };
        keep[e.index] = 0;
        dropped = true;
        break;
      }
    }
  }
  if (dropped) grouped = builder.grouped(entries.length, keep);
  const { table, ranges } = grouped;
  const symbols = entries.map(
    (e) =>
      new ParsedSymbol(
        e.symbol,
        e.rowCount,
        e.problem ? 0 : ranges[2 * e.index]!,
        e.problem ? 0 : ranges[2 * e.index + 1]!,
        table,
        e.problem,
        e.problem || !e.quality ? undefined : { issues: e.quality.issues, count: e.quality.count },
      ),
  );
  return { symbols, rows, sha256: hash.digest('hex'), bytes, table };
}
