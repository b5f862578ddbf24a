import { createHash } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import Papa from 'papaparse';
import { predictSeries } from '../../model/engine.js';
import { csvCell, safeText } from '../../model/output-csv.js';
import type { InferenceEngine, LoadedModel } from '../../model/types.js';
import { DAILY_PREDS_KEY } from '../../shared/layout.js';
import type { HistoryObject } from '../../shared/manifest.js';
import { isNotFound, isPreconditionFailed } from './failures.js';
import { dayNumber, historyOf, isoDay, type HistoryRow, type HistoryStore } from './history.js';
import type { Logger } from './log.js';
import type { RunContext } from './run.js';
import { unquote } from './s3-objects.js';

/** SPEC §6: what the team's frontend reads. */
export const DAILY_COLUMNS = ['symbol', 'index', 'date', 'pred_open', 'val_open'] as const;
const ATTEMPTS = 5;

/** One line of the daily file; `symbol` as written (safeText applied), numbers as text. */
interface DailyLine {
  symbol: string;
  day: number;
  predOpen: string;
  valOpen: string;
}

/** What the file was computed with: a file made by another model or window is recomputed whole. */
interface DailyMeta {
  model: string;
  days: number;
}

/**
 * The one-step-ahead predictions of the days [fromDay, latestDay], every symbol with a row on them: each made from
 * the history before its day (anchored: the previous open plus the predicted change, the number the forecast at
 * the previous close gave), beside the day's actual open.
 */
export async function dailyLines(
  store: HistoryStore,
  model: LoadedModel,
  inference: InferenceEngine,
  fromDay: number,
  latestDay: number,
  signal?: AbortSignal,
): Promise<DailyLine[]> {
  const window = await store.scan(fromDay, latestDay, signal);
  const before = await store.prior(new Map([...window.rows.keys()].map((s) => [s, fromDay])), model.scalers.hypers.seqLen + 1, signal);
  const { predictions } = await predictSeries(
    [...window.rows.keys()].map((symbol) => {
      const lead = before.rows.get(symbol) ?? [];
      return { symbol, rows: [...lead, ...window.rows.get(symbol)!], lead: lead.length };
    }),
    model,
    inference,
  );
  return predictions.flatMap((p) =>
    p.rows.map((row, i) => ({ symbol: safeText(p.symbol), day: row.day, predOpen: String(p.predOpen[i]), valOpen: row.openText })),
  );
}

function fileText(lines: readonly DailyLine[]): string {
  const sorted = [...lines].sort((a, b) => (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : a.day - b.day));
  let text = DAILY_COLUMNS.join(',');
  let index = 0;
  sorted.forEach((l, k) => {
    index = k > 0 && sorted[k - 1]!.symbol === l.symbol ? index + 1 : 0;
    text += `\n${csvCell(l.symbol)},${index},${isoDay(l.day)},${l.predOpen},${l.valOpen}`;
  });
  return `${text}\n`;
}

function parseFile(text: string): DailyLine[] {
  const { data } = Papa.parse<Record<string, string>>(text, { header: true, skipEmptyLines: true });
  return data.map((r) => ({ symbol: r.symbol!, day: dayNumber(r.date!), predOpen: r.pred_open!, valOpen: r.val_open! }));
}

/**
 * Rewrites `daily/latest_preds.csv` after a run whose rows fall in its window (a new latest day, or a correction of a
 * day it shows). Only the days from the run's earliest row on are recomputed (a row changes the windows of the rows
 * after it, never of those before); the others are kept from the file, and days older than the window dropped.
 *
 * The object is shared and overwritten, so writers compare and swap: each reads the file (and its ETag) first, then
 * the history, and writes with If-Match on that ETag (If-None-Match for the first file); one that loses the race
 * starts again on the newer file. So successful writes form a sequence, each computed on top of the one before
 * with a history read after it: every run's days end up recomputed with every row added before, whatever the order.
 * Unchanged content is not written again.
 */
export async function updateDailyFile(
  ctx: RunContext,
  model: LoadedModel,
  inference: InferenceEngine,
  added: readonly HistoryRow[],
  log: Logger = ctx.log,
): Promise<HistoryObject | null> {
  if (added.length === 0) return null;
  let earliest = Infinity;
  let newest = -Infinity;
  for (const r of added) {
    earliest = Math.min(earliest, r.day);
    newest = Math.max(newest, r.day);
  }
  return updateDailyFileForDays(ctx, model, inference, { earliest, newest }, log);
}

/** The same, from the range of days a run added (a sharded run's finisher knows the days, not the rows). */
export async function updateDailyFileForDays(
  ctx: RunContext,
  model: LoadedModel,
  inference: InferenceEngine,
  { earliest, newest }: { earliest: number; newest: number },
  log: Logger = ctx.log,
): Promise<HistoryObject | null> {
  const store = historyOf(ctx.objects);
  const days = ctx.config.dailyWindowDays;
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const current = await readCurrent(ctx);
    const latestDay = await store.lastDay(ctx.signal);
    if (latestDay === undefined) return null;
    const first = latestDay - days + 1;
    if (newest < first) return null;
    const meta: DailyMeta = { model: model.metadata.version, days };
    const reuse = current && current.meta.model === meta.model && current.meta.days === meta.days;
    const from = reuse ? Math.max(first, earliest) : first;
    const kept = reuse ? parseFile(current.text).filter((l) => l.day >= first && l.day < from) : [];
    const text = fileText([...kept, ...(await dailyLines(store, model, inference, from, latestDay, ctx.signal))]);
    const digest = createHash('sha256').update(text).digest('hex');
    if (current && current.digest === digest)
      return { key: DAILY_PREDS_KEY, etag: current.etag, ...(current.versionId ? { versionId: current.versionId } : {}) };
    try {
      const res = await ctx.objects.s3.send(
        new PutObjectCommand({
          Bucket: ctx.objects.bucket,
          Key: DAILY_PREDS_KEY,
          Body: Buffer.from(text),
          ContentType: 'text/csv',
          Metadata: { 'content-sha256': digest, 'latest-day': isoDay(latestDay), 'model-version': meta.model, 'window-days': String(days) },
          ...(current ? { IfMatch: `"${current.etag}"` } : { IfNoneMatch: '*' }),
        }),
        { abortSignal: ctx.signal },
      );
      log.info('daily.written', { key: DAILY_PREDS_KEY, latestDay: isoDay(latestDay), recomputedFrom: isoDay(from), attempt });
      return { key: DAILY_PREDS_KEY, etag: unquote(res.ETag ?? ''), ...(res.VersionId ? { versionId: res.VersionId } : {}) };
    } catch (err) {
      if (!isPreconditionFailed(err)) throw err;
      log.info('daily.raced', { attempt });
    }
  }
  // Every attempt lost to another writer; each of those wrote after this run's rows were added and read them.
  log.warn('daily.gave-up', { attempts: ATTEMPTS });
  return null;
}

async function readCurrent(ctx: RunContext): Promise<{ text: string; etag: string; versionId: string | null; digest: string; meta: DailyMeta } | null> {
  try {
    // One GET: the body, its ETag (the one swapped) and what it was computed with belong together.
    const res = await ctx.objects.s3.send(new GetObjectCommand({ Bucket: ctx.objects.bucket, Key: DAILY_PREDS_KEY }), { abortSignal: ctx.signal });
    const body = await res.Body!.transformToByteArray();
    const meta = res.Metadata ?? {};
    return {
      text: Buffer.from(body).toString('utf8'),
      etag: unquote(res.ETag ?? ''),
      versionId: res.VersionId ?? null,
      digest: createHash('sha256').update(body).digest('hex'),
      meta: { model: meta['model-version'] ?? '', days: Number(meta['window-days'] ?? 0) },
    };
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}
