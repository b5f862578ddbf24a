import { writeToString } from 'fast-csv';
import type { ForecastRow, PredictionRow } from './predictions.js';

/**
 * OWASP ASVS 5.0 1.2.10: a text cell starting with = + - @ tab or CR is prefixed with `'`, so a hostile
 * symbol cannot become a spreadsheet formula. Numeric cells are never passed through here.
 */
export function safeText(text: string): string {
  return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
}

export const PREDICTION_COLUMNS = ['symbol', 'index', 'date', 'val_open', 'pred_open', 'v_open_scaled', 'v_open'] as const;
export const FORECAST_COLUMNS = ['symbol', 'last_date', 'date', 'last_open', 'v_open_scaled', 'v_open', 'forecast_open'] as const;

export function predictionsCsv(rows: readonly PredictionRow[]): Promise<string> {
  return writeToString(
    rows.map((r) => [safeText(r.symbol), r.index, safeText(r.date), r.valOpen, r.predOpen, r.vOpenScaled, r.vOpen]),
    { headers: [...PREDICTION_COLUMNS], includeEndRowDelimiter: true },
  );
}

export function forecastCsv(rows: readonly ForecastRow[]): Promise<string> {
  return writeToString(
    rows.map((r) => [safeText(r.symbol), safeText(r.lastDate), safeText(r.date), r.lastOpen, r.vOpenScaled, r.vOpen, r.forecastOpen]),
    { headers: [...FORECAST_COLUMNS], includeEndRowDelimiter: true },
  );
}
