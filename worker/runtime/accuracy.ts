import { paginateListObjectsV2 } from '@aws-sdk/client-s3';
import type { PredictionRow } from '../../model/predictions.js';
import { accuracyKey, scoreForecasts, type AccuracyRecord, type AccuracyRow, type DayForecast } from '../../shared/accuracy.js';
import { PREFIX } from '../../shared/layout.js';
import type { BucketObjects } from './s3-objects.js';

/**
 * The forecasts a run can score: for each symbol, its last day D, forecast by the version from the `seqLen` days
 * before D (the prediction row of D: point in time, rows dated D or later never feed it), with D's actual open and
 * the naive forecast (D-1's open). A symbol with fewer than seqLen days before D in the upload is not scored: its
 * window would be zero-padded, not the forecast the version made.
 */
export function runForecasts(
  predictions: readonly PredictionRow[],
  version: string,
  role: AccuracyRow['role'],
  seqLen: number,
): { forecasts: DayForecast[]; actuals: Map<string, Map<string, number>> } {
  const bySymbol = new Map<string, PredictionRow[]>();
  for (const p of predictions) {
    const list = bySymbol.get(p.symbol);
    if (list) list.push(p);
    else bySymbol.set(p.symbol, [p]);
  }
  const forecasts: DayForecast[] = [];
  const actuals = new Map<string, Map<string, number>>();
  for (const [symbol, rows] of bySymbol) {
    if (rows.length < seqLen + 1) continue;
    const last = rows.at(-1)!;
    const before = rows.at(-2)!;
    forecasts.push({ symbol, date: last.date, version, role, forecast: last.predOpen, naive: Number(before.valOpen) });
    actuals.set(symbol, new Map([[last.date, Number(last.valOpen)]]));
  }
  return { forecasts, actuals };
}

export function scoreRun(predictions: readonly PredictionRow[], version: string, role: AccuracyRow['role'], seqLen: number): AccuracyRow[] {
  const { forecasts, actuals } = runForecasts(predictions, version, role, seqLen);
  return scoreForecasts(forecasts, actuals);
}

/** One create-only record per scored day of the run: `accuracy/<date>/<run id>.json`. */
export async function writeAccuracy(
  objects: BucketObjects,
  runId: string,
  inputKey: string,
  rows: readonly AccuracyRow[],
  signal?: AbortSignal,
): Promise<AccuracyRecord[]> {
  const byDate = new Map<string, AccuracyRow[]>();
  for (const r of rows) byDate.set(r.date, [...(byDate.get(r.date) ?? []), r]);
  const out: AccuracyRecord[] = [];
  for (const [date, list] of [...byDate].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const record: AccuracyRecord = { schema: 'crypto-open-fleet/accuracy/1', date, runId, inputKey, recordedAt: new Date().toISOString(), rows: list };
    await objects.createJson(accuracyKey(date, runId), record, signal);
    out.push(record);
  }
  return out;
}

/** Every accuracy record of the days fromDate .. toDate (ISO, inclusive). */
export async function readAccuracy(objects: BucketObjects, fromDate: string, toDate: string, signal?: AbortSignal): Promise<AccuracyRecord[]> {
  const keys: string[] = [];
  const pages = paginateListObjectsV2(
    { client: objects.s3 },
    { Bucket: objects.bucket, Prefix: PREFIX.accuracy, StartAfter: `${PREFIX.accuracy}${fromDate}` },
    { abortSignal: signal },
  );
  outer: for await (const page of pages) {
    for (const o of page.Contents ?? []) {
      const date = o.Key!.slice(PREFIX.accuracy.length, PREFIX.accuracy.length + 10);
      if (date > toDate) break outer;
      if (o.Key!.endsWith('.json')) keys.push(o.Key!);
    }
  }
  const out: AccuracyRecord[] = [];
  for (const key of keys) out.push(JSON.parse(Buffer.from((await objects.getBytes(key, signal)).body).toString('utf8')) as AccuracyRecord);
  return out;
}
