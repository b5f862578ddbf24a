import os from 'node:os';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { predictSeries } from '../../model/engine.js';
import { forecastCsv } from '../../model/output-csv.js';
import { nextDay } from '../../model/predictions.js';
import { forecastsKey, runKey } from '../../shared/layout.js';
import { forecastRunIdOf, type ForecastCommand, type ForecastManifest, type HistoryObject } from '../../shared/manifest.js';
import { BadMessageError } from '../../shared/s3-event.js';
import { isNotFound, isPreconditionFailed } from './failures.js';
import { compareSegments, dayNumber, historyOf, isoDay, parseSegmentKey, type SegmentRef } from './history.js';
import type { RunContext } from './run.js';
import { unquote } from './s3-objects.js';

const ISO_DAY = /^\d{4}-\d{2}-\d{2}$/;
const PUBLISH_ATTEMPTS = 5;

export type ForecastOutcome =
  | { runId: string; status: 'succeeded'; manifest: ForecastManifest }
  | { runId: string; status: 'already-complete' }
  | { runId: null; status: 'nothing-to-forecast'; reason: string };

/** The command's body, checked: `asOf` absent or a real `YYYY-MM-DD` day. */
export function parseForecastCommand(body: unknown): ForecastCommand {
  const asOf = (body as { asOf?: unknown }).asOf;
  if (asOf === undefined || asOf === null) return { command: 'forecast' };
  if (typeof asOf !== 'string' || !ISO_DAY.test(asOf) || isoDay(dayNumber(asOf)) !== asOf) {
    throw new BadMessageError(`forecast command: "asOf" must be a day written YYYY-MM-DD; got ${JSON.stringify(asOf).slice(0, 40)}`);
  }
  return { command: 'forecast', asOf };
}

/** The newest of the segments read (in upload order): a forecast from newer history replaces an older one. */
function newestSegment(read: readonly HistoryObject[]): SegmentRef | undefined {
  let newest: SegmentRef | undefined;
  for (const o of read) {
    const ref = parseSegmentKey(o.key, o.etag);
    if (ref && (!newest || compareSegments(newest, ref) < 0)) newest = ref;
  }
  return newest;
}

/**
 * The forecast command: the next day for every symbol the history holds as of `asOf` (default: its latest day), each
 * from its last rows on or before `asOf` (a symbol without a row on `asOf` from its last one, with the gap reported).
 * The run id derives from `asOf`, the model and the history objects read: the same command on the same history is a
 * no-op, one after a late upload or a correction runs again. Writes `runs/<id>/forecast.csv` and publishes
 * `forecasts/<asOf + 1>.csv`, then the manifest.
 */
export async function runForecast(ctx: RunContext, command: ForecastCommand, sentAt: Date): Promise<ForecastOutcome> {
  const started = new Date();
  const store = historyOf(ctx.objects);
  const latest = await store.lastDay(ctx.signal);
  const asOfDay = command.asOf ? dayNumber(command.asOf) : latest;
  if (asOfDay === undefined) return { runId: null, status: 'nothing-to-forecast', reason: 'the history holds no rows yet' };
  const model = await ctx.models.current(ctx.signal);
  const seqLen = model.scalers.hypers.seqLen;
  const read = await store.latest(asOfDay, seqLen + 1, 14, ctx.signal);
  if (read.rows.size === 0) return { runId: null, status: 'nothing-to-forecast', reason: `the history holds no rows in the 14 days up to ${isoDay(asOfDay)}` };
  const asOf = isoDay(asOfDay);
  const runId = forecastRunIdOf(command, asOf, read.objects, model.metadata.version);
  const log = ctx.log.child({ runId, asOf });
  if (await ctx.objects.exists(runKey(runId, 'manifest'), ctx.signal)) {
    log.info('forecast.already-complete');
    return { runId, status: 'already-complete' };
  }
  const claimed = await ctx.claims.acquire(runId, () => ctx.objects.exists(runKey(runId, 'manifest'), ctx.signal), ctx.signal);
  if (claimed.kind === 'done-elsewhere') return { runId, status: 'already-complete' };
  const claim = claimed.claim;
  try {
    const inference = ctx.inference(model);
    const symbols = [...read.rows.keys()].sort();
    const { predictions, unknown } = await predictSeries(
      symbols.map((symbol) => ({ symbol, rows: read.rows.get(symbol)!, lead: read.rows.get(symbol)!.length })),
      model,
      inference,
    );
    const forecastDate = nextDay(asOf);
    const rows = predictions.map((p) => ({ ...p.forecast, date: forecastDate }));
    const gaps = predictions
      .filter((p) => p.forecast.lastDate !== asOf)
      .map((p) => ({ symbol: p.symbol, lastDate: p.forecast.lastDate, gapDays: asOfDay - dayNumber(p.forecast.lastDate) }));
    const text = await forecastCsv(rows);
    const own = await ctx.objects.create(runKey(runId, 'forecast'), text, 'text/csv', ctx.signal);
    const published = await publishForecast(ctx, forecastsKey(forecastDate), text, runId, newestSegment(read.objects));
    // No day named and the day that closed before the command was sent is not in the history: its upload is late.
    const expected = isoDay(dayNumber(sentAt.toISOString().slice(0, 10)) - 1);
    const late = !command.asOf && latest !== undefined && latest < dayNumber(expected);
    const manifest: ForecastManifest = {
      schema: 'crypto-open-fleet/forecast-manifest/1',
      runId,
      status: 'succeeded',
      command,
      asOf,
      forecastDate,
      ...(late ? { fromPreviousDay: { expectedAsOf: expected, latestInHistory: asOf } } : {}),
      counts: { symbols: symbols.length, forecast: predictions.length, skipped: unknown.length },
      gaps,
      skipped: unknown.map((symbol) => ({ symbol, reason: `unknown symbol: model version ${model.metadata.version} has no scaler for it` })),
      model: {
        version: model.metadata.version,
        sources: { h5: model.metadata.sources.h5.sha256, scaler: model.metadata.sources.scaler.sha256 },
        kerasVersion: model.metadata.keras.version,
      },
      code: { version: ctx.config.codeVersion, commit: ctx.config.codeCommit, imageDigest: ctx.config.imageDigest },
      worker: { id: ctx.config.workerId, host: os.hostname(), receiveCount: ctx.receiveCount, backend: ctx.backend, engine: inference.name },
      startedAt: started.toISOString(),
      finishedAt: new Date().toISOString(),
      history: { read: read.objects },
      outputs: { forecast: own, published },
    };
    await ctx.objects.createJson(runKey(runId, 'manifest'), manifest, ctx.signal);
    await claim.release('succeeded');
    log.info('forecast.succeeded', { forecastDate, symbols: predictions.length, gaps: gaps.length, fromPreviousDay: late, published: published !== null });
    return { runId, status: 'succeeded', manifest };
  } catch (err) {
    await claim.release('retry');
    throw err;
  }
}

/**
 * Writes `forecasts/<date>.csv` unless one made from newer history is there (its newest segment, in upload order, is
 * kept in the object's metadata): compare and swap with If-Match / If-None-Match, retried when another writer won.
 */
async function publishForecast(ctx: RunContext, key: string, text: string, runId: string, newest: SegmentRef | undefined): Promise<HistoryObject | null> {
  for (let attempt = 1; attempt <= PUBLISH_ATTEMPTS; attempt++) {
    const current = await ctx.objects.head(key, ctx.signal);
    const theirs = current ? parseSegmentKey(current.metadata['history-newest'] ?? '', '') : undefined;
    if (current && theirs && newest && compareSegments(theirs, newest) > 0) return null;
    try {
      const res = await ctx.objects.s3.send(
        new PutObjectCommand({
          Bucket: ctx.objects.bucket,
          Key: key,
          Body: Buffer.from(text),
          ContentType: 'text/csv',
          Metadata: { 'run-id': runId, ...(newest ? { 'history-newest': newest.key } : {}) },
          ...(current ? { IfMatch: `"${current.etag}"` } : { IfNoneMatch: '*' }),
        }),
        { abortSignal: ctx.signal },
      );
      return { key, etag: unquote(res.ETag ?? ''), ...(res.VersionId ? { versionId: res.VersionId } : {}) };
    } catch (err) {
      if (!isPreconditionFailed(err) && !isNotFound(err)) throw err;
    }
  }
  ctx.log.warn('forecast.publish-gave-up', { key, attempts: PUBLISH_ATTEMPTS });
  return null;
}
