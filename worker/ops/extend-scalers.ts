import { paginateListObjectsV2 } from '@aws-sdk/client-s3';
import type { ModelVersionFiles } from '../../model/model-store.js';
import { DEFAULT_MIN_ROWS, extendScalers, type ExtendScalersResult } from '../../model/train/extend-scalers.js';
import type { HistoryRow as TrainingRow } from '../../model/train/history.js';
import type { HistoryObjectRef } from '../../model/train/record.js';
import type { ModelMetadata } from '../../model/types.js';
import { modelPrefix } from '../../shared/layout.js';
import { compareSegments, dayNumber, isoDay, parseSegmentCsv, parseSegmentKey, SEGMENTS_PREFIX, type HistoryRow, type SegmentRef } from '../runtime/history.js';
import { readModelPointer } from '../runtime/model-source.js';
import type { BucketObjects } from '../runtime/s3-objects.js';
import { publishModelVersion } from './model-publish.js';

/**
 * The cold-start rule as an operator step: scalers for every symbol of the history store that has at least `minRows`
 * rows (as of a day) and none in the version in service, written as a new version that is not put in service.
 */

export interface ExtendFromHistoryOptions {
  pointerKey: string;
  minRows?: number;
  /** ISO date: only rows dated on or before it are used (default: today, UTC). */
  asOf?: string;
  /** The version to extend (default: the one in service). */
  baseVersion?: string;
}

/** Where one new symbol's rows came from (metadata.json, key `scalerHistory`). */
export interface SymbolHistorySource {
  symbol: string;
  rows: number;
  firstDate: string;
  lastDate: string;
  objects: { key: string; etag: string; rows: number }[];
}

/** What this step adds to the version's metadata.json, beside the training record. */
export interface CandidateMetadata {
  /** Not in service: the model registry's `candidate`. `npm run model -- use <version>` serves it. */
  status: 'candidate';
  scalerHistory: SymbolHistorySource[];
}

export interface ExtendFromHistoryOutcome {
  baseVersion: string;
  /** The new version's id; null when no symbol qualified (nothing was written). */
  version: string | null;
  result: ExtendScalersResult;
  sources: SymbolHistorySource[];
}

export class ExtendScalersError extends Error {
  override readonly name = 'ExtendScalersError';
}

/** The files of a published version, as a worker reads them. */
export async function readPublishedVersion(objects: BucketObjects, version: string): Promise<ModelVersionFiles> {
  const prefix = modelPrefix(version);
  const files = new Map<string, Buffer>();
  for await (const page of paginateListObjectsV2({ client: objects.s3 }, { Bucket: objects.bucket, Prefix: prefix })) {
    for (const o of page.Contents ?? []) {
      const name = o.Key!.slice(prefix.length);
      if (name && !name.includes('/')) files.set(name, Buffer.from((await objects.getBytes(o.Key!)).body));
    }
  }
  if (files.size === 0) throw new ExtendScalersError(`model version ${version}: nothing under s3://${objects.bucket}/${prefix}`);
  return files;
}

/**
 * Every row of the history dated on or before `asOfDay`, per symbol with the latest correction of each day (segments
 * applied in upload order, as the history store does), each row with the segment it came from.
 */
async function historyAsOf(
  objects: BucketObjects,
  asOfDay: number,
  keep: (symbol: string) => boolean,
): Promise<Map<string, { row: HistoryRow; ref: SegmentRef }[]>> {
  const refs: SegmentRef[] = [];
  for await (const page of paginateListObjectsV2({ client: objects.s3 }, { Bucket: objects.bucket, Prefix: SEGMENTS_PREFIX })) {
    for (const o of page.Contents ?? []) {
      const ref = parseSegmentKey(o.Key!, (o.ETag ?? '').replace(/"/g, ''));
      if (ref && ref.firstDay <= asOfDay) refs.push(ref);
    }
  }
  refs.sort(compareSegments);
  const days = new Map<string, Map<number, { row: HistoryRow; ref: SegmentRef }>>();
  for (const ref of refs) {
    const rows = parseSegmentCsv(Buffer.from((await objects.getBytes(ref.key)).body).toString('utf8'), ref.key);
    for (const row of rows) {
      if (row.day > asOfDay || !keep(row.symbol)) continue;
      let perDay = days.get(row.symbol);
      if (!perDay) days.set(row.symbol, (perDay = new Map()));
      perDay.set(row.day, { row, ref });
    }
  }
  return new Map([...days].map(([symbol, perDay]) => [symbol, [...perDay.values()].sort((a, b) => a.row.day - b.row.day)]));
}

const trainingRow = (r: HistoryRow): TrainingRow => ({ date: isoDay(r.day), open: r.open, high: r.high, low: r.low, close: r.close, market: r.market });

/** Fits, writes the candidate version under models/<id>/ (models/current.json untouched) and says what it did. */
export async function extendScalersFromHistory(objects: BucketObjects, opts: ExtendFromHistoryOptions): Promise<ExtendFromHistoryOutcome> {
  const minRows = opts.minRows ?? DEFAULT_MIN_ROWS;
  const asOf = opts.asOf ?? new Date().toISOString().slice(0, 10);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(asOf) || isoDay(dayNumber(asOf)) !== asOf)
    throw new ExtendScalersError(`--as-of must be a date YYYY-MM-DD, got ${JSON.stringify(asOf)}`);
  const baseVersion = opts.baseVersion ?? (await readModelPointer(objects, opts.pointerKey))?.version;
  if (!baseVersion) throw new ExtendScalersError(`no model version in service (s3://${objects.bucket}/${opts.pointerKey}): publish one first`);
  const base = await readPublishedVersion(objects, baseVersion);
  const known = new Set((JSON.parse(base.get('metadata.json')?.toString('utf8') ?? '{}') as Partial<ModelMetadata>).symbols ?? []);

  const history = await historyAsOf(objects, dayNumber(asOf), (s) => !known.has(s));
  const offered = new Map([...history].map(([symbol, rows]) => [symbol, rows.map((r) => trainingRow(r.row))]));
  const sources: SymbolHistorySource[] = [];
  const perObject = new Map<string, HistoryObjectRef & { rows: number }>();
  for (const [symbol, rows] of [...history].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (rows.length < minRows) continue;
    const objectsOf = new Map<string, { key: string; etag: string; rows: number }>();
    for (const { ref } of rows) {
      const o = objectsOf.get(ref.key) ?? { key: ref.key, etag: ref.etag, rows: 0 };
      o.rows++;
      objectsOf.set(ref.key, o);
      const total = perObject.get(ref.key) ?? { key: ref.key, etag: ref.etag, rows: 0 };
      total.rows++;
      perObject.set(ref.key, total);
    }
    sources.push({
      symbol,
      rows: rows.length,
      firstDate: isoDay(rows[0]!.row.day),
      lastDate: isoDay(rows.at(-1)!.row.day),
      objects: [...objectsOf.values()].sort((a, b) => (a.key < b.key ? -1 : 1)),
    });
  }
  const historyObjects = [...perObject.values()].sort((a, b) => (a.key < b.key ? -1 : 1));
  const result = await extendScalers(base, offered, minRows, { provenance: { asOf, historyObjects } });
  if (!result.changed) return { baseVersion, version: null, result, sources };

  // metadata.json is not part of the version id: the candidate status and the per-symbol sources ride along with it.
  const metadata = { ...JSON.parse(result.files.get('metadata.json')!.toString('utf8')), status: 'candidate', scalerHistory: sources } as ModelMetadata &
    CandidateMetadata;
  const files = new Map(result.files);
  files.set('metadata.json', Buffer.from(`${JSON.stringify(metadata, null, 2)}\n`));
  const pointer = await publishModelVersion(objects, files, opts.pointerKey, false);
  return { baseVersion, version: pointer.version, result: { ...result, files, metadata }, sources };
}
