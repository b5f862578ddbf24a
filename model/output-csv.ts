import type { ForecastRow, PredictionRow, PredictionTable } from './predictions.js';
import { civilFromDays } from './input-table.js';

/**
 * OWASP ASVS 5.0 1.2.10: a text cell starting with = + - @ tab or CR is prefixed with `'`, so a hostile
 * symbol cannot become a spreadsheet formula. Numeric cells are never passed through here.
 */
export function safeText(text: string): string {
  return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
}

export const PREDICTION_COLUMNS = ['symbol', 'index', 'date', 'val_open', 'pred_open', 'v_open_scaled', 'v_open'] as const;
export const FORECAST_COLUMNS = ['symbol', 'last_date', 'date', 'last_open', 'v_open_scaled', 'v_open', 'forecast_open'] as const;

/**
 * One cell as fast-csv 5's formatter wrote it (the files' format so far, kept byte for byte): NULs dropped;
 * quoted when it holds `"` (doubled), `,`, CR, LF or `|` (the last by a quirk of its pattern).
 */
export function csvCell(value: unknown): string {
  let s = `${value ?? ''}`;
  if (s.includes('\0')) s = s.replace(/\0/g, '');
  if (s.includes('"')) return `"${s.replace(/"/g, '""')}"`;
  return /[,\r\n|]/.test(s) ? `"${s}"` : s;
}

function rowsText(headers: readonly string[], rows: Iterable<string>): string {
  let out = headers.map(csvCell).join(',');
  let any = false;
  for (const r of rows) {
    out += `\n${r}`;
    any = true;
  }
  // fast-csv wrote no header for no rows, and always a final line break.
  return any ? `${out}\n` : '\n';
}

/**
 * The table's rows as CSV text, in pieces of about `bytes` characters. One string concatenation per row;
 * dates come from a per-call cache (the symbols of one file share their dates) and the input's open text
 * straight from its bytes.
 */
function* tablePieces(table: PredictionTable, bytes: number): Generator<string> {
  const { input } = table;
  const dates = new Map<number, string>();
  const { offsets, bytes: text } = input.openText;
  let out = '';
  for (const s of table.symbols) {
    const symbol = csvCell(safeText(s.symbol));
    const { predOpen, scaled, vOpen } = s;
    for (let t = 0; t < s.n; t++) {
      const k = s.start + t;
      const day = input.day[k]!;
      let date = dates.get(day);
      if (date === undefined) dates.set(day, (date = civilFromDays(day)));
      let open = '';
      for (let b = offsets[k]!; b < offsets[k + 1]!; b++) open += String.fromCharCode(text[b]!);
      // Dates and the input's open text were validated (ISO date, decimal): never quoted or prefixed.
      out += `\n${symbol},${t},${date},${open},${predOpen[t]},${scaled[t]},${vOpen[t]}`;
      if (out.length >= bytes) {
        yield out;
        out = '';
      }
    }
  }
  if (out !== '') yield out;
}

function* objectLines(rows: readonly PredictionRow[]): Generator<string> {
  for (const r of rows) yield [safeText(r.symbol), r.index, safeText(r.date), r.valOpen, r.predOpen, r.vOpenScaled, r.vOpen].map(csvCell).join(',');
}

/** The predictions file (from the engine's table, or from row objects). */
export async function predictionsCsv(rows: readonly PredictionRow[] | PredictionTable): Promise<string> {
  if (!Array.isArray(rows)) return [...predictionsCsvChunks(rows as PredictionTable)].join('');
  return rowsText(PREDICTION_COLUMNS, objectLines(rows as readonly PredictionRow[]));
}

/** The predictions file in pieces of about `bytes` characters, for writing to a stream. */
export function* predictionsCsvChunks(table: PredictionTable, bytes = 1 << 20): Generator<string> {
  let any = false;
  for (const piece of tablePieces(table, bytes)) {
    yield any ? piece : PREDICTION_COLUMNS.join(',') + piece;
    any = true;
  }
  // fast-csv wrote no header for no rows, and always a final line break.
  yield '\n';
}

export async function forecastCsv(rows: readonly ForecastRow[]): Promise<string> {
  return rowsText(
    FORECAST_COLUMNS,
    rows.map((r) => [safeText(r.symbol), safeText(r.lastDate), safeText(r.date), r.lastOpen, r.vOpenScaled, r.vOpen, r.forecastOpen].map(csvCell).join(',')),
  );
}
