/** One validated daily row of a symbol's history, as the history store hands it over (SPEC §1 columns). */
export interface HistoryRow {
  /** ISO `YYYY-MM-DD`. */
  date: string;
  open: number;
  high: number;
  low: number;
  close: number;
  market: number;
}

/** symbol -> its rows in ascending date order. */
export type SymbolHistories = ReadonlyMap<string, readonly HistoryRow[]>;

export class TrainingInputError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TrainingInputError';
  }
}

const NUMERIC = ['open', 'high', 'low', 'close', 'market'] as const;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

/** Checks one symbol's rows: at least `minRows`, ISO dates strictly ascending, finite numbers. */
export function checkSymbolRows(symbol: string, rows: readonly HistoryRow[], minRows = 1): void {
  if (!Array.isArray(rows)) throw new TrainingInputError(`symbol '${symbol}': rows must be an array`);
  if (rows.length < minRows) throw new TrainingInputError(`symbol '${symbol}': ${rows.length} row(s), at least ${minRows} needed`);
  let previous = '';
  rows.forEach((r, i) => {
    if (typeof r?.date !== 'string' || !ISO_DATE.test(r.date)) {
      throw new TrainingInputError(`symbol '${symbol}' row ${i}: date ${JSON.stringify(r?.date)} is not YYYY-MM-DD`);
    }
    if (r.date <= previous)
      throw new TrainingInputError(
        `symbol '${symbol}' row ${i}: date ${r.date} does not follow ${previous} (rows must be in ascending date order, one per day)`,
      );
    previous = r.date;
    for (const key of NUMERIC) {
      if (typeof r[key] !== 'number' || !Number.isFinite(r[key])) {
        throw new TrainingInputError(`symbol '${symbol}' row ${i} (${r.date}): ${key} is ${String(r[key])}, not a finite number`);
      }
    }
  });
}
