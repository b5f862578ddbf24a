import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse } from 'fast-csv';
import { InputFileError } from './errors.js';

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
  /** Ascending by date once parsing is done; empty when the symbol has a problem. */
  rows: InputRow[];
  /** The first bad value found for this symbol, if any: the symbol is skipped, the rest go on. */
  problem?: RowProblem;
}

export interface ParsedInput {
  /** In order of first appearance in the file. */
  symbols: SymbolInput[];
  rows: number;
  sha256: string;
  bytes: number;
}

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Strict number parsing: `Number('')` is 0 and `Number('0x10')` is 16, neither is acceptable here. */
export function parseDecimal(text: string): number | string {
  const t = text.trim();
  if (t === '') return 'empty value';
  if (!DECIMAL.test(t)) return /^[+-]?(nan|inf(inity)?)$/i.test(t) ? `not a finite number: ${JSON.stringify(text)}` : `not a number: ${JSON.stringify(text)}`;
  const v = Number(t);
  return Number.isFinite(v) ? v : `not a finite number: ${JSON.stringify(text)}`;
}

/** The number written by the ASCII digits `t[from, to)`. */
function digits(t: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) n = n * 10 + t.charCodeAt(i) - 48;
  return n;
}

/** `YYYY-MM-DD` naming a day of the proleptic Gregorian calendar (as `Date` reads it), e.g. not 2018-02-29. */
export function parseIsoDate(text: string): string | { error: string } {
  const t = text.trim();
  if (!ISO_DATE.test(t)) return { error: t === '' ? 'empty value' : `not an ISO date (YYYY-MM-DD): ${JSON.stringify(text)}` };
  const year = digits(t, 0, 4);
  const month = digits(t, 5, 7);
  const day = digits(t, 8, 10);
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1];
  if (days === undefined || day < 1 || day > days) return { error: `not a calendar date: ${JSON.stringify(text)}` };
  return t;
}

function isBlank(cells: readonly string[]): boolean {
  for (const c of cells) if (c.trim() !== '') return false;
  return true;
}

function markProblem(entry: SymbolInput, row: number, column: string, reason: string): void {
  entry.problem = { row, column, reason };
}

function locateColumns(header: string[]): Record<Required, number> {
  const names = header.map((h, i) => (i === 0 ? h.replace(/^\uFEFF/, '') : h).trim());
  const found = {} as Record<Required, number>;
  const missing: string[] = [];
  for (const col of REQUIRED_COLUMNS) {
    const at = names.flatMap((n, i) => (n === col ? [i] : []));
    if (at.length > 1) throw new InputFileError(`header: column '${col}' appears ${at.length} times (positions ${at.map((i) => i + 1).join(', ')})`);
    if (at.length === 0) missing.push(col);
    else found[col] = at[0];
  }
  if (missing.length > 0) {
    const shown = names.slice(0, 20).map((n) => JSON.stringify(n)).join(',');
    throw new InputFileError(`header: required column${missing.length > 1 ? 's' : ''} ${missing.map((c) => `'${c}'`).join(', ')} missing (header is ${shown}${names.length > 20 ? ',...' : ''})`);
  }
  return found;
}

/**
 * Reads an uploaded CSV as a stream (SPEC §1): columns by name, both layouts, BOM, CRLF and quoted fields.
 * Structural problems throw `InputFileError`; a bad value marks only its symbol as skipped.
 */
export async function readInputCsv(source: Readable): Promise<ParsedInput> {
  const hash = createHash('sha256');
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  const bySymbol = new Map<string, SymbolInput>();
  let cols: Record<Required, number> | undefined;
  let width = 0;
  let record = 0;
  let rows = 0;
  // Set from the header: the positions of the required columns.
  let iSymbol = 0;
  let iDate = 0;
  let iOpen = 0;
  let iHigh = 0;
  let iLow = 0;
  let iClose = 0;
  let iMarket = 0;
  // Rows of one symbol usually come together: the last entry saves a map lookup per row.
  let last: SymbolInput | undefined;

  const onRow = (cells: string[]): void => {
    record += 1;
    if (!cols) {
      if (isBlank(cells)) return; // a blank line: counted for row numbers, not a data row
      cols = locateColumns(cells);
      width = cells.length;
      ({ symbol: iSymbol, date: iDate, open: iOpen, high: iHigh, low: iLow, close: iClose, market: iMarket } = cols);
      return;
    }
    const symbol = (cells[iSymbol] ?? '').trim();
    if (symbol === '' && isBlank(cells)) return;
    rows += 1;
    let entry = last?.symbol === symbol ? last : bySymbol.get(symbol);
    if (!entry) {
      entry = { symbol, rowCount: 0, rows: [] };
      bySymbol.set(symbol, entry);
    }
    last = entry;
    entry.rowCount += 1;
    if (entry.problem) return;
    if (symbol === '') return markProblem(entry, record, 'symbol', 'empty value');
    // A cell too many or too few shifts every column after it: the values cannot be trusted.
    if (cells.length !== width) return markProblem(entry, record, '(row)', `row has ${cells.length} cells, the header has ${width}`);
    const date = parseIsoDate(cells[iDate] ?? '');
    if (typeof date !== 'string') return markProblem(entry, record, 'date', date.error);
    // Checked in the order open, high, low, close, market: the first bad value is the one reported.
    const openText = cells[iOpen] ?? '';
    const open = parseDecimal(openText);
    if (typeof open === 'string') return markProblem(entry, record, 'open', open);
    const high = parseDecimal(cells[iHigh] ?? '');
    if (typeof high === 'string') return markProblem(entry, record, 'high', high);
    const low = parseDecimal(cells[iLow] ?? '');
    if (typeof low === 'string') return markProblem(entry, record, 'low', low);
    const close = parseDecimal(cells[iClose] ?? '');
    if (typeof close === 'string') return markProblem(entry, record, 'close', close);
    const market = parseDecimal(cells[iMarket] ?? '');
    if (typeof market === 'string') return markProblem(entry, record, 'market', market);
    entry.rows.push({ row: record, date, open, high, low, close, market, openText: openText.trim() });
  };

  // Errors of the source stream (a network read) are not the file's fault: they are rethrown as they are.
  let sourceError: unknown;
  source.once('error', (err) => (sourceError = err));
  const parser = parse({ headers: false }).on('data', onRow);
  try {
    await pipeline(source, tap, parser);
  } catch (err) {
    if (err instanceof InputFileError) throw err;
    if (sourceError !== undefined) throw sourceError;
    throw new InputFileError(`not a readable CSV near record ${record + 1}: ${(err as Error).message}`, { cause: err });
  }
  if (!cols) throw new InputFileError('empty file: no header row');
  if (rows === 0) throw new InputFileError('no data rows: the file has a header only, so there is nothing to predict');

  for (const entry of bySymbol.values()) {
    if (entry.problem) {
      entry.rows = [];
      continue;
    }
    entry.rows.sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));
    for (let i = 1; i < entry.rows.length; i++) {
      if (entry.rows[i].date === entry.rows[i - 1].date) {
        entry.problem = { row: entry.rows[i].row, column: 'date', reason: `duplicated date ${entry.rows[i].date} for this symbol (also at row ${entry.rows[i - 1].row})` };
        entry.rows = [];
        break;
      }
    }
  }
  return { symbols: [...bySymbol.values()], rows, sha256: hash.digest('hex'), bytes };
}
