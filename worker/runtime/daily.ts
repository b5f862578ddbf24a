import { createHash } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { predictSeries } from '../../model/engine.js';
import { csvCell, safeText } from '../../model/output-csv.js';
import type { InferenceEngine, LoadedModel } from '../../model/types.js';
import { DAILY_PREDS_KEY } from '../../shared/layout.js';
import type { HistoryObject } from '../../shared/manifest.js';
import { isPreconditionFailed } from './failures.js';
import { historyOf, isoDay, type HistoryRow, type HistoryStore } from './history.js';
import type { Logger } from './log.js';
import type { RunContext } from './run.js';
import { unquote } from './s3-objects.js';

/** SPEC §6: what the team's frontend reads. */
export const DAILY_COLUMNS = ['symbol', 'index', 'date', 'pred_open', 'val_open'] as const;
const ATTEMPTS = 5;

/**
 * `daily/latest_preds.csv`: for each of the `days` days up to `latestDay` and every symbol with a row that day, the
 * one-step-ahead prediction made from the history before that day (the number the forecast at the previous close
 * gave: anchored, the previous open plus the predicted change) beside the day's actual open.
 */
export async function dailyPredsCsv(
  store: HistoryStore,
  model: LoadedModel,
  inference: InferenceEngine,
  latestDay: number,
  days: number,
  signal?: AbortSignal,
): Promise<{ text: string; read: HistoryObject[] }> {
  const from = latestDay - days + 1;
  const window = await store.scan(from, latestDay, signal);
  const before = await store.prior(new Map([...window.rows.keys()].map((s) => [s, from])), model.scalers.hypers.seqLen + 1, signal);
  const symbols = [...window.rows.keys()].sort();
  const { predictions } = await predictSeries(
    symbols.map((symbol) => {
      const lead = before.rows.get(symbol) ?? [];
      return { symbol, rows: [...lead, ...window.rows.get(symbol)!], lead: lead.length };
    }),
    model,
    inference,
  );
  let text = DAILY_COLUMNS.join(',');
  for (const p of predictions) {
    const symbol = csvCell(safeText(p.symbol));
    p.rows.forEach((row, i) => (text += `\n${symbol},${i},${isoDay(row.day)},${p.predOpen[i]},${row.openText}`));
  }
  const read = new Map([...before.objects, ...window.objects].map((o) => [o.key, o]));
  return { text: `${text}\n`, read: [...read.values()].sort((a, b) => (a.key < b.key ? -1 : 1)) };
}

/**
 * Rewrites the daily file after a run whose rows fall in its window (a new latest day, or a correction of one of the
 * days it shows). The object is shared and overwritten, so writers compare and swap: each reads the file's ETag
 * first, then the history, and writes with If-Match on that ETag (If-None-Match for the first file). A writer that
 * loses the race reads again and retries. The last write to succeed was computed from a history read after every
 * earlier successful write, and any run that added rows after that read would find the ETag changed and retry, so
 * the file ends up computed from every run's rows. Unchanged content is not written again.
 */
export async function updateDailyFile(ctx: RunContext, model: LoadedModel, inference: InferenceEngine, added: readonly HistoryRow[], log: Logger = ctx.log): Promise<HistoryObject | null> {
  if (added.length === 0) return null;
  const store = historyOf(ctx.objects);
  const days = ctx.config.dailyWindowDays;
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const current = await ctx.objects.head(DAILY_PREDS_KEY, ctx.signal);
    const latestDay = await store.lastDay(ctx.signal);
    if (latestDay === undefined) return null;
    let newest = -Infinity;
    for (const r of added) newest = Math.max(newest, r.day);
    if (newest < latestDay - days + 1) return null;
    const { text } = await dailyPredsCsv(store, model, inference, latestDay, days, ctx.signal);
    const digest = createHash('sha256').update(text).digest('hex');
    if (current && current.metadata['content-sha256'] === digest) return { key: DAILY_PREDS_KEY, etag: current.etag, ...(current.versionId ? { versionId: current.versionId } : {}) };
    try {
      const res = await ctx.objects.s3.send(
        new PutObjectCommand({
          Bucket: ctx.objects.bucket,
          Key: DAILY_PREDS_KEY,
          Body: Buffer.from(text),
          ContentType: 'text/csv',
          Metadata: { 'content-sha256': digest, 'latest-day': isoDay(latestDay) },
          ...(current ? { IfMatch: `"${current.etag}"` } : { IfNoneMatch: '*' }),
        }),
        { abortSignal: ctx.signal },
      );
      log.info('daily.written', { key: DAILY_PREDS_KEY, latestDay: isoDay(latestDay), attempt });
      return { key: DAILY_PREDS_KEY, etag: unquote(res.ETag ?? ''), ...(res.VersionId ? { versionId: res.VersionId } : {}) };
    } catch (err) {
      if (!isPreconditionFailed(err)) throw err;
      log.info('daily.raced', { attempt });
    }
  }
  // Every attempt lost to another writer, each of which read the history after this run's rows were added.
  log.warn('daily.gave-up', { attempts: ATTEMPTS });
  return null;
}
