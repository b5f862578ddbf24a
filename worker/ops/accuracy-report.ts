import { dedupeRows, summarize, worseDays, type VersionAccuracy } from '../../shared/accuracy.js';
import { dayNumber, isoDay } from '../runtime/history.js';
import { readAccuracy } from '../runtime/accuracy.js';
import type { BucketObjects } from '../runtime/s3-objects.js';

export interface AccuracyReport {
  from: string;
  to: string;
  versions: (VersionAccuracy & { worseDays: number; roles: string[] })[];
}

/** Realized MAD per version over the `days` days up to `to` (default today, UTC), next to the naive baseline. */
export async function accuracyReport(objects: BucketObjects, days: number, to = new Date().toISOString().slice(0, 10)): Promise<AccuracyReport> {
  const from = isoDay(dayNumber(to) - days + 1);
  const rows = dedupeRows(await readAccuracy(objects, from, to));
  return {
    from,
    to,
    versions: summarize(rows).map((v) => ({
      ...v,
      worseDays: worseDays(rows, v.version),
      roles: [...new Set(rows.filter((r) => r.version === v.version).map((r) => r.role))].sort(),
    })),
  };
}
