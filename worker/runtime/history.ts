import { createHash } from 'node:crypto';
import { paginateListObjectsV2 } from '@aws-sdk/client-s3';
import Papa from 'papaparse';
import type { ParsedInput, SymbolInput } from '../../model/csv-input.js';
import { civilFromDays, daysFromCivil, textAt } from '../../model/input-table.js';
import { historyMonthPrefix, PREFIX } from '../../shared/layout.js';
import type { HistoryObject } from '../../shared/manifest.js';
import { compareSequencers } from '../../shared/s3-event.js';
import type { BucketObjects } from './s3-objects.js';

/**
 * The per-symbol history: every validated row the pipeline has seen, the source of the windows of daily uploads, of
 * the forecasts and of training data.
 *
 * Layout: append-only segments `history/segments/<YYYY-MM>/<first>_<last>_<event time>_<sequencer>_<run id>.csv`, each
 * the rows of one run (or one load) dated in that month, created once (If-None-Match) and never changed. Nothing is
 * read-modify-written, so workers adding at once cannot lose each other's rows, and a run processed again writes the
 * same keys with the same bytes.
 * - Corrections: a later upload of a (symbol, date) replaces the earlier one; segments are applied in the order of
 *   their uploads' S3 event time (then sequencer, then run id), which their keys carry.
 * - Bounded reads: the rows before a day D are found by listing only the months of a window before D and reading the
 *   segments that overlap it: 7 days first, widened (doubling) for the symbols still short of rows, up to
 *   `maxLookbackDays`. A daily upload reads about a week of segments, whatever the years the history holds.
 * - Point in time: rows dated D or later never feed a window for D.
 */

export interface HistoryRow {
  symbol: string;
  /** Days since 1970-01-01. */
  day: number;
  open: number;
  high: number;
  low: number;
  close: number;
  market: number;
  /** The upload's own `open` text. */
  openText: string;
}

/** Who added a segment: the run (or load) and the upload it came from. */
export interface HistoryAddition {
  runId: string;
  inputKey: string;
  inputVersion: string | null;
  /** ISO time of the upload's S3 event (a load's own time). */
  eventTime: string;
  sequencer: string;
}

export interface SegmentRef {
  key: string;
  etag: string;
  firstDay: number;
  lastDay: number;
  eventStamp: string;
  sequencer: string;
  runId: string;
}

/** The rows found for a set of symbols, and the segments they were read from (for the run's manifest). */
export interface HistoryRead {
  rows: Map<string, HistoryRow[]>;
  objects: { key: string; etag: string }[];
}

export class HistoryFormatError extends Error {
  override readonly name = 'HistoryFormatError';
}

export const SEGMENTS_PREFIX = `${PREFIX.history}segments/`;
const HEADER = 'symbol,date,open,high,low,close,market';
const FIRST_WINDOW_DAYS = 7;

const stampOf = (iso: string): string => iso.replace(/[-:]/g, '').replace('.', '');
const monthOf = (day: number): string => civilFromDays(day).slice(0, 7);
const dayOf = (iso: string): number => daysFromCivil(Number(iso.slice(0, 4)), Number(iso.slice(5, 7)), Number(iso.slice(8, 10)));

/** `history/segments/<YYYY-MM>/<first>_<last>_<event time>_<sequencer>_<run id>.csv`. */
export function segmentKey(firstDay: number, lastDay: number, a: HistoryAddition): string {
  return `${historyMonthPrefix(monthOf(firstDay))}${civilFromDays(firstDay)}_${civilFromDays(lastDay)}_${stampOf(a.eventTime)}_${a.sequencer.toUpperCase()}_${a.runId}.csv`;
}

export function parseSegmentKey(key: string, etag: string): SegmentRef | undefined {
  const m = /^history\/segments\/\d{4}-\d{2}\/(\d{4}-\d{2}-\d{2})_(\d{4}-\d{2}-\d{2})_(\d{8}T\d{6,9}Z)_([0-9A-F]+)_([\w.-]+)\.csv$/.exec(key);
  if (!m) return undefined;
  return { key, etag, firstDay: dayOf(m[1]!), lastDay: dayOf(m[2]!), eventStamp: m[3]!, sequencer: m[4]!, runId: m[5]! };
}

/** Upload order: event time, then sequencer, then run id. */
export function compareSegments(a: SegmentRef, b: SegmentRef): number {
  return a.eventStamp < b.eventStamp
    ? -1
    : a.eventStamp > b.eventStamp
      ? 1
      : compareSequencers(a.sequencer, b.sequencer) || (a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0);
}

const num = (v: number): string => String(v);

/** One segment's text: rows sorted by symbol, then date. */
export function segmentCsv(rows: readonly HistoryRow[]): string {
  const sorted = [...rows].sort((a, b) => (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : a.day - b.day));
  const lines = [HEADER];
  for (const r of sorted)
    lines.push(Papa.unparse([[r.symbol, civilFromDays(r.day), r.openText, num(r.high), num(r.low), num(r.close), num(r.market)]], { newline: '' }));
  return `${lines.join('\n')}\n`;
}

export function parseSegmentCsv(text: string, key: string): HistoryRow[] {
  const parsed = Papa.parse<string[]>(text, { skipEmptyLines: true });
  const [header, ...data] = parsed.data;
  if (header?.join(',') !== HEADER) throw new HistoryFormatError(`${key}: not a history segment (header ${JSON.stringify(header?.join(',').slice(0, 60))})`);
  return data.map((cells, i) => {
    const [symbol, date, openText, high, low, close, market] = cells;
    const values = [openText, high, low, close, market].map(Number);
    if (cells.length !== 7 || !/^\d{4}-\d{2}-\d{2}$/.test(date ?? '') || values.some((v) => !Number.isFinite(v)))
      throw new HistoryFormatError(`${key}: row ${i + 2} is not symbol,date and five numbers`);
    return {
      symbol: symbol!,
      day: dayOf(date!),
      open: values[0]!,
      high: values[1]!,
      low: values[2]!,
      close: values[3]!,
      market: values[4]!,
      openText: openText!,
    };
  });
}

export interface HistoryStoreOptions {
  /** How far before a day the rows of a symbol are looked for (default 366). */
  maxLookbackDays?: number;
  /** Parsed segments kept in memory (segments never change, so a kept one is never stale; default 64). */
  cacheSegments?: number;
}

export class HistoryStore {
  private readonly maxLookbackDays: number;
  private readonly cacheSize: number;
  private readonly cache = new Map<string, HistoryRow[]>();

  constructor(
    private readonly objects: BucketObjects,
    options: HistoryStoreOptions = {},
  ) {
    this.maxLookbackDays = options.maxLookbackDays ?? 366;
    this.cacheSize = options.cacheSegments ?? 64;
  }

  /** A segment's rows: read once, then from memory (its key names immutable content). */
  private async rowsOf(ref: SegmentRef, signal?: AbortSignal): Promise<HistoryRow[]> {
    const cached = this.cache.get(ref.key);
    if (cached) {
      this.cache.delete(ref.key);
      this.cache.set(ref.key, cached);
      return cached;
    }
    const body = await this.objects.getBytes(ref.key, signal);
    const rows = parseSegmentCsv(Buffer.from(body.body).toString('utf8'), ref.key);
    this.cache.set(ref.key, rows);
    if (this.cache.size > this.cacheSize) this.cache.delete(this.cache.keys().next().value!);
    return rows;
  }

  /**
   * Adds rows as one segment per month they fall in; the same addition again writes nothing new. Returns each
   * segment's key and ETag (a single PUT's ETag is the MD5 of its bytes, which BucketObjects.create relies on too).
   */
  async add(rows: readonly HistoryRow[], addition: HistoryAddition, signal?: AbortSignal): Promise<HistoryObject[]> {
    const byMonth = new Map<string, HistoryRow[]>();
    for (const r of rows) {
      const m = monthOf(r.day);
      const list = byMonth.get(m);
      if (list) list.push(r);
      else byMonth.set(m, [r]);
    }
    const written: HistoryObject[] = [];
    for (const [, list] of [...byMonth].sort(([a], [b]) => (a < b ? -1 : 1))) {
      let first = Infinity;
      let last = -Infinity;
      for (const r of list) {
        first = Math.min(first, r.day);
        last = Math.max(last, r.day);
      }
      const text = segmentCsv(list);
      const out = await this.objects.create(segmentKey(first, last, addition), text, 'text/csv', signal);
      written.push({ key: out.key, etag: createHash('md5').update(text).digest('hex') });
    }
    return written;
  }

  /** The segments of the months that overlap [fromDay, toDay], in upload order. */
  private async segments(fromDay: number, toDay: number, signal?: AbortSignal): Promise<SegmentRef[]> {
    const months: string[] = [];
    for (let d = fromDay; ;) {
      const m = monthOf(d);
      if (months.at(-1) !== m) months.push(m);
      if (m === monthOf(toDay)) break;
      d += 28;
      if (d > toDay) d = toDay;
    }
    const refs: SegmentRef[] = [];
    for (const m of months) {
      for await (const page of paginateListObjectsV2(
        { client: this.objects.s3 },
        { Bucket: this.objects.bucket, Prefix: historyMonthPrefix(m) },
        { abortSignal: signal },
      )) {
        for (const o of page.Contents ?? []) {
          const ref = parseSegmentKey(o.Key!, (o.ETag ?? '').replace(/"/g, ''));
          if (ref && ref.lastDay >= fromDay && ref.firstDay <= toDay) refs.push(ref);
        }
      }
    }
    return refs.sort(compareSegments);
  }

  /**
   * For each symbol, its last `need` rows dated before `before.get(symbol)`, with the latest correction of each day,
   * looking back at most maxLookbackDays from the latest of those days.
   */
  async prior(before: ReadonlyMap<string, number>, need: number, signal?: AbortSignal): Promise<HistoryRead> {
    return this.collect(before, need, signal);
  }

  /**
   * Every symbol with a row in the `activeDays` up to `asOfDay`, and its last `need` rows on or before `asOfDay` (the
   * forecast's input); a symbol quiet for longer is not forecast.
   */
  async latest(asOfDay: number, need: number, activeDays = 14, signal?: AbortSignal): Promise<HistoryRead> {
    const recent = await this.scanWindow(asOfDay - activeDays + 1, asOfDay, () => true, signal);
    return this.collect(new Map([...recent.rows.keys()].map((s) => [s, asOfDay + 1])), need, signal);
  }

  private async collect(before: ReadonlyMap<string, number>, need: number, signal?: AbortSignal): Promise<HistoryRead> {
    const read = new Map<string, SegmentRef>();
    // symbol -> day -> [order, row]: a later segment replaces a day's row.
    const days = new Map<string, Map<number, { ref: SegmentRef; row: HistoryRow }>>();
    let end = -Infinity;
    for (const d of before.values()) end = Math.max(end, d - 1);
    if (before.size === 0) return { rows: new Map(), objects: [] };
    const limitOf = (symbol: string) => before.get(symbol) ?? -Infinity;
    const satisfied = () => {
      for (const [symbol, limit] of before) {
        let n = 0;
        for (const day of days.get(symbol)?.keys() ?? []) if (day < limit) n++;
        if (n < need) return false;
      }
      return true;
    };
    let span = FIRST_WINDOW_DAYS;
    for (;;) {
      const from = end - span + 1;
      const refs = (await this.segments(from, end, signal)).filter((r) => !read.has(r.key));
      for (const ref of refs) {
        read.set(ref.key, ref);
        for (const row of await this.rowsOf(ref, signal)) {
          if (row.day >= limitOf(row.symbol)) continue;
          let perDay = days.get(row.symbol);
          if (!perDay) days.set(row.symbol, (perDay = new Map()));
          const seen = perDay.get(row.day);
          if (!seen || compareSegments(seen.ref, ref) <= 0) perDay.set(row.day, { ref, row });
        }
      }
      if (satisfied() || span >= this.maxLookbackDays) break;
      span = Math.min(this.maxLookbackDays, span * 2);
    }
    const rows = new Map<string, HistoryRow[]>();
    const used = new Set<string>();
    for (const [symbol, perDay] of days) {
      const sorted = [...perDay.entries()].sort(([a], [b]) => a - b).slice(-need);
      rows.set(
        symbol,
        sorted.map(([, v]) => v.row),
      );
      for (const [, v] of sorted) used.add(v.ref.key);
    }
    // The manifest lists exactly the segments whose rows fed the run.
    const objects = [...read.values()]
      .filter((r) => used.has(r.key))
      .sort(compareSegments)
      .map((r) => ({ key: r.key, etag: r.etag }));
    return { rows, objects };
  }

  /** A symbol's rows in [fromDay, toDay] (all segments of those months), with the latest corrections. */
  async range(symbol: string, fromDay: number, toDay: number, signal?: AbortSignal): Promise<HistoryRead> {
    return this.scanWindow(fromDay, toDay, (s) => s === symbol, signal);
  }

  /** Every row dated on or before `cutoffDay` since `fromDay` (training reads the whole history it needs). */
  async scan(fromDay: number, cutoffDay: number, signal?: AbortSignal): Promise<HistoryRead> {
    return this.scanWindow(fromDay, cutoffDay, () => true, signal);
  }

  private async scanWindow(fromDay: number, toDay: number, keep: (symbol: string) => boolean, signal?: AbortSignal): Promise<HistoryRead> {
    const days = new Map<string, Map<number, { ref: SegmentRef; row: HistoryRow }>>();
    const refs = await this.segments(fromDay, toDay, signal);
    const used = new Set<string>();
    for (const ref of refs) {
      for (const row of await this.rowsOf(ref, signal)) {
        if (!keep(row.symbol) || row.day < fromDay || row.day > toDay) continue;
        let perDay = days.get(row.symbol);
        if (!perDay) days.set(row.symbol, (perDay = new Map()));
        perDay.set(row.day, { ref, row });
      }
    }
    const rows = new Map<string, HistoryRow[]>();
    for (const [symbol, perDay] of days) {
      const sorted = [...perDay.entries()].sort(([a], [b]) => a - b);
      rows.set(
        symbol,
        sorted.map(([, v]) => v.row),
      );
      for (const [, v] of sorted) used.add(v.ref.key);
    }
    return { rows, objects: refs.filter((r) => used.has(r.key)).map((r) => ({ key: r.key, etag: r.etag })) };
  }

  /**
   * The latest day any segment holds (the forecast's default `asOf`): one listing of the month folders, then of the
   * last month's segments; none when the history is empty.
   */
  async lastDay(signal?: AbortSignal): Promise<number | undefined> {
    const months: string[] = [];
    for await (const page of paginateListObjectsV2(
      { client: this.objects.s3 },
      { Bucket: this.objects.bucket, Prefix: SEGMENTS_PREFIX, Delimiter: '/' },
      { abortSignal: signal },
    )) {
      for (const p of page.CommonPrefixes ?? []) months.push(p.Prefix!.slice(SEGMENTS_PREFIX.length, -1));
    }
    for (const month of months.sort().reverse()) {
      let last: number | undefined;
      for await (const page of paginateListObjectsV2(
        { client: this.objects.s3 },
        { Bucket: this.objects.bucket, Prefix: historyMonthPrefix(month) },
        { abortSignal: signal },
      )) {
        for (const o of page.Contents ?? []) {
          const ref = parseSegmentKey(o.Key!, '');
          if (ref && (last === undefined || ref.lastDay > last)) last = ref.lastDay;
        }
      }
      if (last !== undefined) return last;
    }
    return undefined;
  }

  /** The first month that holds any segment, as a day number (for a scan of everything). */
  async firstDay(signal?: AbortSignal): Promise<number | undefined> {
    for await (const page of paginateListObjectsV2(
      { client: this.objects.s3 },
      { Bucket: this.objects.bucket, Prefix: SEGMENTS_PREFIX, Delimiter: '/' },
      { abortSignal: signal },
    )) {
      const first = (page.CommonPrefixes ?? []).map((p) => p.Prefix!.slice(SEGMENTS_PREFIX.length, -1)).sort()[0];
      if (first) return dayOf(`${first}-01`);
    }
    return undefined;
  }
}

const stores = new WeakMap<BucketObjects, HistoryStore>();

/** The history store of a bucket client, one per client: its cache of immutable segments outlives a run. */
export function historyOf(objects: BucketObjects): HistoryStore {
  let store = stores.get(objects);
  if (!store) stores.set(objects, (store = new HistoryStore(objects)));
  return store;
}

export const dayNumber = dayOf;
export const isoDay = civilFromDays;

/** The valid rows of the accepted symbols of a parsed upload, as history rows (the input's own open text kept). */
export function rowsFromInput(parsed: ParsedInput, accept: (entry: SymbolInput) => boolean): HistoryRow[] {
  const t = parsed.table;
  const rows: HistoryRow[] = [];
  for (const entry of parsed.symbols) {
    if (entry.problem || !accept(entry)) continue;
    for (let i = entry.start; i < entry.start + entry.count; i++) {
      rows.push({
        symbol: entry.symbol,
        day: t.day[i]!,
        open: t.open[i]!,
        high: t.high[i]!,
        low: t.low[i]!,
        close: t.close[i]!,
        market: t.market[i]!,
        openText: textAt(t.openText, i),
      });
    }
  }
  return rows;
}
