import os from 'node:os';
import type { Readable } from 'node:stream';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { parseUpload, predictParsed } from '../../model/engine.js';
import { InputFileError } from '../../model/errors.js';
import { forecastCsv, predictionsCsv } from '../../model/output-csv.js';
import type { InferenceEngine, LoadedModel } from '../../model/types.js';
import { FAILURE_DISPOSITION, PermanentFailure } from '../../shared/failures.js';
import { runKey, uploadKeyProblem, uploadStatusKey } from '../../shared/layout.js';
import { quoteForMessage } from '../../shared/escape.js';
import { runIdOf, type HistoryObject, type RunError, type RunInput, type RunManifest, type UploadStatus } from '../../shared/manifest.js';
import type { ObjectCreated } from '../../shared/s3-event.js';
import type { RunClaims } from './claims.js';
import { coldStartCounter } from './cold-start.js';
import { shardUpload } from './shards.js';
import type { WorkerConfig } from './config.js';
import { InvalidKeyError, isNotFound, isPreconditionFailed, SourceChangedError, SourceMissingError } from './failures.js';
import { updateDailyFile } from './daily.js';
import { historyOf, rowsFromInput, type HistoryAddition } from './history.js';
import { publishPredictions } from './outputs.js';
import type { Logger } from './log.js';
import type { ModelSource } from './model-source.js';
import { watchRun } from './model-watch.js';
import { ObjectExistsError, unquote, type BucketObjects } from './s3-objects.js';

export interface RunContext {
  config: WorkerConfig;
  objects: BucketObjects;
  claims: RunClaims;
  models: ModelSource;
  inference: (model: LoadedModel) => InferenceEngine;
  backend: string;
  /** The work queue's client, where a run sends the shards of a large upload (worker/runtime/shards.ts). */
  sqs?: SQSClient;
  receiveCount: number;
  log: Logger;
  signal?: AbortSignal;
}

export type RunOutcome = { runId: string; status: 'succeeded' | 'already-complete' | 'sharded'; manifest?: RunManifest };

export function runIdForRecord(r: ObjectCreated): string {
  return runIdOf({ bucket: r.bucket, key: r.key, versionOrEtag: r.versionId ?? r.eTag, sequencer: r.sequencer, eventTime: r.eventTime });
}

const eventOf = (r: ObjectCreated) => ({ eventTime: r.eventTime, sequencer: r.sequencer, eventName: r.eventName });

/** Writes `runs/<run-id>/error.json`; never throws (the error being reported matters more). */
export async function writeRunError(
  ctx: RunContext,
  runId: string,
  input: RunError['input'],
  error: RunError['error'],
  event?: RunError['event'],
  history?: RunError['history'],
): Promise<void> {
  const record: RunError = {
    schema: 'crypto-open-fleet/run-error/1',
    runId,
    input,
    ...(event ? { event } : {}),
    error,
    ...(history ? { history } : {}),
    worker: { id: ctx.config.workerId, receiveCount: ctx.receiveCount },
    at: new Date().toISOString(),
  };
  try {
    try {
      await ctx.objects.createJson(runKey(runId, 'error'), record, ctx.signal);
    } catch (err) {
      // An earlier attempt's record is kept: runs/ is create-only.
      if (!(err instanceof ObjectExistsError)) throw err;
      ctx.log.info('run.error-record-exists', { runId });
    }
    // Only a final failure is an upload's status: a retried one may still succeed.
    if (input.key && (error.disposition !== 'retry' || ctx.receiveCount >= ctx.config.maxReceiveCount)) {
      await writeUploadStatus(
        ctx,
        { bucket: input.bucket, key: input.key, versionId: input.versionId ?? null, etag: input.etag ?? '' },
        runId,
        'failed',
        error,
      );
    }
  } catch (err) {
    ctx.log.error('run.error-record-failed', { runId, error: err });
  }
}

/** `status/<hash>.json` of an upload: which run it had and how it ended. */
export async function writeUploadStatus(
  ctx: RunContext,
  upload: { bucket: string; key: string; versionId: string | null; etag: string },
  runId: string,
  status: UploadStatus['status'],
  error?: UploadStatus['error'],
): Promise<void> {
  const record: UploadStatus = {
    schema: 'crypto-open-fleet/upload-status/1',
    ...upload,
    runId,
    status,
    ...(error ? { error } : {}),
    at: new Date().toISOString(),
  };
  await ctx.objects.putJson(uploadStatusKey(upload.bucket, upload.key, upload.versionId ?? upload.etag), record, ctx.signal);
}

/** Opens exactly the announced object: its version where the bucket is versioned, else its ETag (If-Match). */
async function openSource(ctx: RunContext, r: ObjectCreated): Promise<{ body: Readable; etag: string; versionId: string | null }> {
  try {
    const res = await ctx.objects.s3.send(
      new GetObjectCommand({ Bucket: r.bucket, Key: r.key, ...(r.versionId ? { VersionId: r.versionId } : { IfMatch: `"${r.eTag}"` }) }),
      { abortSignal: ctx.signal },
    );
    return { body: res.Body as Readable, etag: unquote(res.ETag ?? r.eTag), versionId: res.VersionId ?? r.versionId };
  } catch (err) {
    if (isNotFound(err)) throw new SourceMissingError(`source missing: s3://${r.bucket}/${r.key} was deleted before it was read`, { cause: err });
    if (isPreconditionFailed(err)) {
      throw new SourceChangedError(`source changed: s3://${r.bucket}/${r.key} no longer has ETag ${r.eTag}; the newer upload has its own run`, { cause: err });
    }
    throw err;
  }
}

/**
 * One upload -> one run: idempotent per run id; the run's own files first,
 * then `predictions/...` (only if no newer upload of the key exists), `manifest.json` last.
 */
export async function runUpload(ctx: RunContext, r: ObjectCreated): Promise<RunOutcome> {
  const runId = runIdForRecord(r);
  const log = ctx.log.child({ runId, key: r.key });
  const started = new Date();
  const t0 = performance.now();
  if (await ctx.objects.exists(runKey(runId, 'manifest'), ctx.signal)) {
    log.info('run.already-complete');
    return { runId, status: 'already-complete' };
  }
  // One run per run id: a second delivery waits for the first to end, or takes over a crashed one.
  const claimed = await ctx.claims.acquire(runId, () => runEnded(ctx, runId), ctx.signal);
  if (claimed.kind === 'done-elsewhere') {
    log.info('run.done-elsewhere', { by: claimed.by.worker, outcome: claimed.by.released ?? null });
    return { runId, status: 'already-complete' };
  }
  const claim = claimed.claim;
  ctx = { ...ctx, signal: ctx.signal ? AbortSignal.any([ctx.signal, claim.lost]) : claim.lost };
  const baseInput = { bucket: r.bucket, key: r.key, versionId: r.versionId, etag: r.eTag };
  let historyWritten: RunError['history'];
  try {
    const keyProblem = uploadKeyProblem(r.key);
    if (keyProblem) throw new InvalidKeyError(`invalid key ${quoteForMessage(r.key, 120)}: ${keyProblem}`);
    if (r.size > ctx.config.maxUploadBytes) {
      throw new InputFileError(
        `the upload is ${r.size.toLocaleString('en-US')} bytes, over the ${ctx.config.maxUploadBytes.toLocaleString('en-US')}-byte limit (MAX_UPLOAD_BYTES)`,
      );
    }
    // A large upload becomes shards, each its own message; the last to finish writes the manifest (finisher.ts).
    const plan = await shardUpload(ctx, r, runId);
    if (plan)
      return (await claim.release('retry'), log.info('run.sharded', { shards: plan.shards, symbols: plan.symbols.length }), { runId, status: 'sharded' });
    const model = await ctx.models.current(ctx.signal);
    const inference = ctx.inference(model);
    const tModel = performance.now();
    const source = await openSource(ctx, r);
    log.info('run.started', { model: model.metadata.version, receiveCount: ctx.receiveCount });
    const coldStart = coldStartCounter(ctx.objects, ctx.config.coldStartMinRows, ctx.signal);
    const tParse = performance.now();
    const parsed = await parseUpload(source.body, { maxBytes: ctx.config.maxUploadBytes });
    // Every validated row goes to the history, unknown symbols' included (they are where new scalers come from).
    const historyRows = rowsFromInput(parsed, () => true);
    const addition: HistoryAddition = { runId, inputKey: r.key, inputVersion: source.versionId, eventTime: r.eventTime, sequencer: r.sequencer };
    const store = historyOf(ctx.objects);
    let historyRead: HistoryObject[] = [];
    let result;
    try {
      result = await predictParsed(
        parsed,
        model,
        inference,
        {
          mode: ctx.config.mode,
          coldStart,
          // Point in time: each symbol's rows dated before its first uploaded day, with the latest corrections.
          prior: async (firstDays, need) => {
            const read = await store.prior(firstDays, need, ctx.signal);
            historyRead = read.objects;
            return read.rows;
          },
        },
        performance.now() - tParse,
      );
    } catch (err) {
      // An upload of only new symbols predicts nothing and still adds its rows.
      if (err instanceof InputFileError && historyRows.length > 0) historyWritten = { read: [], written: await store.add(historyRows, addition, ctx.signal) };
      throw err;
    }
    const tPredicted = performance.now();

    const [predsText, forecastText] = await Promise.all([predictionsCsv(result.table), forecastCsv(result.forecasts)]);
    const [preds, forecast] = await Promise.all([
      ctx.objects.create(runKey(runId, 'preds'), predsText, 'text/csv', ctx.signal),
      ctx.objects.create(runKey(runId, 'forecast'), forecastText, 'text/csv', ctx.signal),
    ]);
    const publication = await publishPredictions(ctx.objects, r, source, runId, { preds: predsText, forecast: forecastText }, ctx.signal);
    if (publication.published === null) log.warn('run.not-published', { reason: publication.reason });
    const published = publication.published;
    const tPublished = performance.now();
    const written = await store.add(historyRows, addition, ctx.signal);
    const tHistory = performance.now();
    const daily = await updateDailyFile(ctx, model, inference, historyRows);
    const tWritten = performance.now();

    const input: RunInput = { ...baseInput, versionId: source.versionId, etag: source.etag, sha256: result.input.sha256, bytes: result.input.bytes };
    const manifest: RunManifest = {
      schema: 'crypto-open-fleet/run-manifest/1',
      runId,
      status: 'succeeded',
      input,
      event: eventOf(r),
      counts: {
        rows: result.counts.rows,
        symbols: result.counts.symbols,
        predicted: result.counts.predicted,
        skipped: result.counts.skipped,
        predictionRows: result.counts.predictionRows,
      },
      symbols: result.symbols,
      model: {
        version: model.metadata.version,
        sources: { h5: model.metadata.sources.h5.sha256, scaler: model.metadata.sources.scaler.sha256 },
        kerasVersion: model.metadata.keras.version,
      },
      features: { ...model.metadata.features, mode: ctx.config.mode },
      code: { version: ctx.config.codeVersion, commit: ctx.config.codeCommit, imageDigest: ctx.config.imageDigest },
      worker: { id: ctx.config.workerId, host: os.hostname(), receiveCount: ctx.receiveCount, backend: ctx.backend, engine: inference.name },
      timings: {
        modelMs: round(tModel - t0),
        ...Object.fromEntries(Object.entries(result.timingsMs).map(([k, v]) => [`${k}Ms`, round(v)])),
        writeMs: round(tPublished - tPredicted),
        historyMs: round(tHistory - tPublished),
        dailyMs: round(tWritten - tHistory),
        totalMs: round(performance.now() - t0),
        eventToDoneMs: Date.now() - Date.parse(r.eventTime),
      },
      startedAt: started.toISOString(),
      finishedAt: new Date().toISOString(),
      outputs: { preds, forecast, published, ...(daily ? { daily } : {}) },
      history: { read: historyRead, written },
    };
    await ctx.objects.createJson(runKey(runId, 'manifest'), manifest, ctx.signal);
    await watchRun(ctx, { runId, input: { bucket: r.bucket, key: r.key, versionId: source.versionId }, model, result }, log);
    await writeUploadStatus(ctx, { bucket: r.bucket, key: r.key, versionId: source.versionId, etag: source.etag }, runId, 'succeeded');
    await claim.release('succeeded');
    log.info('run.succeeded', {
      symbols: result.counts.symbols,
      skipped: result.counts.skipped,
      rows: result.counts.rows,
      totalMs: manifest.timings.totalMs,
      published: published !== null,
    });
    return { runId, status: 'succeeded', manifest };
  } catch (err) {
    if (err instanceof PermanentFailure) {
      const message = failureReason(err);
      await writeRunError(ctx, runId, baseInput, { kind: err.kind, disposition: err.disposition, message }, eventOf(r), historyWritten);
      log.warn('run.failed', { kind: err.kind, disposition: err.disposition, reason: message });
      await claim.release('failed');
      throw err;
    }
    if (ctx.receiveCount >= ctx.config.maxReceiveCount) {
      await writeRunError(
        ctx,
        runId,
        baseInput,
        { kind: 'transient', disposition: FAILURE_DISPOSITION.transient, message: `last attempt failed: ${(err as Error).message}` },
        eventOf(r),
      );
    }
    await claim.release('retry');
    log.error('run.attempt-failed', { error: err, receiveCount: ctx.receiveCount, maxReceiveCount: ctx.config.maxReceiveCount });
    throw err;
  }
}

const round = (ms: number): number => Math.round(ms * 10) / 10;

/** The run has ended: its manifest exists, or an error record that no retry will follow. */
async function runEnded(ctx: RunContext, runId: string): Promise<boolean> {
  if (await ctx.objects.exists(runKey(runId, 'manifest'), ctx.signal)) return true;
  try {
    const e = JSON.parse(Buffer.from((await ctx.objects.getBytes(runKey(runId, 'error'), ctx.signal)).body).toString('utf8')) as RunError;
    return e.error.disposition !== 'retry' || e.worker.receiveCount >= ctx.config.maxReceiveCount;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/** The one line recorded in error.json and the DLQ's `reason`: input and model problems say which they are. */
export function failureReason(err: PermanentFailure): string {
  if (err.kind === 'invalid-input') return `invalid input: ${err.message}`;
  if (err.kind === 'invalid-model') return `model unusable: ${err.message}`;
  return err.message;
}
