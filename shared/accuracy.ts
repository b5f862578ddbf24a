import { PREFIX } from './layout.js';

/**
 * Realized accuracy: once a day's actual open has arrived, the forecast of that day by each model version (the one in
 * service and any in shadow) is scored against it and against the naive "tomorrow = today's open". Pure functions
 * over the records (`accuracy/<date>/<run id>.json`, create-only, one per run and scored day).
 */

export interface AccuracyRow {
  symbol: string;
  /** The forecast day (ISO), whose actual open arrived. */
  date: string;
  version: string;
  role: 'in-service' | 'shadow';
  forecast: number;
  actual: number;
  /** The previous day's open: the naive forecast. */
  naive: number;
  absError: number;
  naiveAbsError: number;
}

export interface AccuracyRecord {
  schema: 'crypto-open-fleet/accuracy/1';
  date: string;
  runId: string;
  inputKey: string;
  recordedAt: string;
  rows: AccuracyRow[];
}

export function accuracyDayPrefix(date: string): string {
  return `${PREFIX.accuracy}${date}/`;
}

export function accuracyKey(date: string, runId: string): string {
  return `${accuracyDayPrefix(date)}${runId}.json`;
}

/** What a version forecast for a day, and the day before's open. */
export interface DayForecast {
  symbol: string;
  date: string;
  version: string;
  role: AccuracyRow['role'];
  forecast: number;
  naive: number;
}

/** Scores forecasts against the actual opens (symbol -> date -> open); a forecast without its actual is left out. */
export function scoreForecasts(forecasts: readonly DayForecast[], actuals: ReadonlyMap<string, ReadonlyMap<string, number>>): AccuracyRow[] {
  const out: AccuracyRow[] = [];
  for (const f of forecasts) {
    const actual = actuals.get(f.symbol)?.get(f.date);
    if (actual === undefined || !Number.isFinite(actual) || !Number.isFinite(f.forecast) || !Number.isFinite(f.naive)) continue;
    out.push({ ...f, actual, absError: Math.abs(f.forecast - actual), naiveAbsError: Math.abs(f.naive - actual) });
  }
  return out;
}

/** One row per (symbol, date, version): a day scored by several runs counts once (the last record's). */
export function dedupeRows(records: readonly AccuracyRecord[]): AccuracyRow[] {
  const byKey = new Map<string, AccuracyRow>();
  for (const r of [...records].sort((a, b) => (a.recordedAt < b.recordedAt ? -1 : a.recordedAt > b.recordedAt ? 1 : 0))) {
    for (const row of r.rows) byKey.set(`${row.symbol}\u0000${row.date}\u0000${row.version}`, row);
  }
  return [...byKey.values()];
}

export interface VersionAccuracy {
  version: string;
  /** Scored forecasts (symbol-days). */
  n: number;
  days: number;
  firstDate: string;
  lastDate: string;
  /** Mean absolute error of the version's forecasts. */
  mad: number;
  /** Of the naive forecast on the same symbol-days. */
  naiveMad: number;
}

/** Realized MAD per version next to the naive baseline on the same symbol-days, versions in name order. */
export function summarize(rows: readonly AccuracyRow[]): VersionAccuracy[] {
  const byVersion = new Map<string, AccuracyRow[]>();
  for (const r of rows) {
    const list = byVersion.get(r.version);
    if (list) list.push(r);
    else byVersion.set(r.version, [r]);
  }
  return [...byVersion]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([version, list]) => {
      const dates = [...new Set(list.map((r) => r.date))].sort();
      return {
        version,
        n: list.length,
        days: dates.length,
        firstDate: dates[0]!,
        lastDate: dates.at(-1)!,
        mad: list.reduce((s, r) => s + r.absError, 0) / list.length,
        naiveMad: list.reduce((s, r) => s + r.naiveAbsError, 0) / list.length,
      };
    });
}

/**
 * Consecutive scored days, counting back from the latest, on which `version` did worse than the naive forecast (its
 * MAD over that day's symbols above the naive MAD on the same symbols). A day it was not worse ends the count.
 */
export function worseDays(rows: readonly AccuracyRow[], version: string): number {
  const perDay = new Map<string, { err: number; naive: number }>();
  for (const r of rows) {
    if (r.version !== version) continue;
    const d = perDay.get(r.date) ?? { err: 0, naive: 0 };
    d.err += r.absError;
    d.naive += r.naiveAbsError;
    perDay.set(r.date, d);
  }
  let n = 0;
  for (const date of [...perDay.keys()].sort().reverse()) {
    const d = perDay.get(date)!;
    if (d.err > d.naive) n++;
    else break;
  }
  return n;
}
