import os from 'node:os';
import type { Readable } from 'node:stream';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { parseUpload, predictParsed } from '../../model/engine.js';
import { forecastCsv, predictionsCsv } from '../../model/output-csv.js';
import { PermanentFailure } from '../../shared/failures.js';
import { runKey, shardInputKey, shardKey, shardPlanKey } from '../../shared/layout.js';
import { coldStartCounter } from './cold-start.js';
import { isNotFound } from './failures.js';
import { historyOf, rowsFromInput } from './history.js';
import { settleShardedRun, type Settlement, type ShardManifest } from './finisher.js';
import type { RunContext } from './run.js';
import { failureReason } from './run.js';
import { ObjectExistsError } from './s3-objects.js';
import type { ShardPlan } from './shards.js';

export class BadShardMessageError extends PermanentFailure {
  readonly kind = 'bad-message';
  override readonly name = 'BadShardMessageError';
}

export class ShardInputMissingError extends PermanentFailure {
  readonly kind = 'source-missing';
  override readonly name = 'ShardInputMissingError';
}

function parseShardMessage(body: unknown): { runId: string; shard: number } {
  const b = body as { runId?: unknown; shard?: unknown };
  if (typeof b.runId !== 'string' || !/^[\w.-]{1,200}$/.test(b.runId)) throw new BadShardMessageError('shard message: field "runId" must be a run id');
  if (!Number.isSafeInteger(b.shard) || (b.shard as number) < 0) throw new BadShardMessageError('shard message: field "shard" must be an integer >= 0');
  return { runId: b.runId, shard: b.shard as number };
}

const round = (ms: number): number => Math.round(ms * 10) / 10;

/**
 * One shard of a sharded run, by any worker: its predictions and manifest under `runs/<run id>/shards/<i>/`, created
 * once (a duplicate or late delivery finds the manifest and only settles the run), then the finisher's check. A
 * permanent failure, or the last attempt of a transient one, leaves `<i>/error.json`, so that the upload's status
 * names the shard's symbols as missing (`partial`) while its message waits in the DLQ.
 */
export async function runShard(ctx: RunContext, body: unknown): Promise<{ runId: string; shard: number; settlement: Settlement }> {
  const { runId, shard } = parseShardMessage(body);
  const log = ctx.log.child({ runId, shard });
  let plan: ShardPlan;
  try {
    plan = JSON.parse(Buffer.from((await ctx.objects.getBytes(shardPlanKey(runId), ctx.signal)).body).toString('utf8')) as ShardPlan;
  } catch (err) {
    if (isNotFound(err)) throw new BadShardMessageError(`shard message: run ${runId} has no shard plan (${shardPlanKey(runId)})`, { cause: err });
    throw err;
  }
  if (shard >= plan.shards) throw new BadShardMessageError(`shard message: run ${runId} has ${plan.shards} shards, not a shard ${shard}`);
  if (await ctx.objects.exists(runKey(runId, 'manifest'), ctx.signal)) return { runId, shard, settlement: 'already-complete' };
  if (!(await ctx.objects.exists(shardKey(runId, shard, 'manifest'), ctx.signal))) {
    try {
      await predictShard(ctx, plan, shard, log);
    } catch (err) {
      const last = err instanceof PermanentFailure || ctx.receiveCount >= ctx.config.maxReceiveCount;
      if (last) {
        const message = err instanceof PermanentFailure ? failureReason(err) : `last attempt failed: ${(err as Error).message}`;
        const record = {
          schema: 'crypto-open-fleet/shard-error/1',
          runId,
          shard,
          error: { kind: err instanceof PermanentFailure ? err.kind : 'transient', message },
          worker: { id: ctx.config.workerId, receiveCount: ctx.receiveCount },
          at: new Date().toISOString(),
        };
        await ctx.objects.createJson(shardKey(runId, shard, 'error'), record, ctx.signal).catch((e: unknown) => {
          if (!(e instanceof ObjectExistsError)) throw e;
        });
        await settleShardedRun(ctx, plan);
      }
      log.warn('shard.failed', { reason: (err as Error).message, final: last });
      throw err;
    }
  }
  return { runId, shard, settlement: await settleShardedRun(ctx, plan) };
}

async function predictShard(ctx: RunContext, plan: ShardPlan, shard: number, log: RunContext['log']): Promise<void> {
  const runId = plan.runId;
  const t0 = performance.now();
  const model = await ctx.models.current(ctx.signal);
  const inference = ctx.inference(model);
  let source: Readable;
  try {
    const res = await ctx.objects.s3.send(new GetObjectCommand({ Bucket: ctx.objects.bucket, Key: shardInputKey(runId, shard) }), { abortSignal: ctx.signal });
    source = res.Body as Readable;
  } catch (err) {
    if (isNotFound(err)) throw new ShardInputMissingError(`shard input missing: ${shardInputKey(runId, shard)}`, { cause: err });
    throw err;
  }
  log.info('shard.started', { model: model.metadata.version, receiveCount: ctx.receiveCount });
  // Like an unsharded run: lead rows from the history (point in time), and this shard's rows added to it, named by
  // run id and shard so that the shards of one upload never collide and a redelivered shard adds nothing.
  const tParse = performance.now();
  const parsed = await parseUpload(source, { maxBytes: ctx.config.maxUploadBytes });
  const store = historyOf(ctx.objects);
  let historyRead: { key: string; etag: string }[] = [];
  const result = await predictParsed(
    parsed,
    model,
    inference,
    {
      mode: ctx.config.mode,
      coldStart: coldStartCounter(ctx.objects, ctx.config.coldStartMinRows, ctx.signal),
      allowEmpty: true,
      prior: async (firstDays, need) => {
        const read = await store.prior(firstDays, need, ctx.signal);
        historyRead = read.objects;
        return read.rows;
      },
    },
    performance.now() - tParse,
  );
  const r = plan.record;
  const historyWritten = await store.add(
    rowsFromInput(parsed, () => true),
    { runId: `${runId}-s${shard}`, inputKey: r.key, inputVersion: plan.input.versionId, eventTime: r.eventTime, sequencer: r.sequencer },
    ctx.signal,
  );
  const tPredicted = performance.now();
  const [predsText, forecastText] = await Promise.all([predictionsCsv(result.table), forecastCsv(result.forecasts)]);
  let outputs: ShardManifest['outputs'];
  try {
    const [preds, forecast] = await Promise.all([
      ctx.objects.create(shardKey(runId, shard, 'preds'), predsText, 'text/csv', ctx.signal),
      ctx.objects.create(shardKey(runId, shard, 'forecast'), forecastText, 'text/csv', ctx.signal),
    ]);
    outputs = { preds, forecast };
  } catch (err) {
    // Another worker wrote this shard's outputs (other floats: another backend): its manifest follows them.
    if (err instanceof ObjectExistsError)
      throw new Error(`shard ${shard} of run ${runId}: outputs written by another worker, waiting for its manifest`, { cause: err });
    throw err;
  }
  const manifest: ShardManifest = {
    schema: 'crypto-open-fleet/shard-manifest/1',
    runId,
    shard,
    input: { key: shardInputKey(runId, shard), sha256: result.input.sha256, bytes: result.input.bytes },
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
    worker: { id: ctx.config.workerId, host: os.hostname(), receiveCount: ctx.receiveCount, backend: ctx.backend, engine: inference.name },
    timings: {
      ...Object.fromEntries(Object.entries(result.timingsMs).map(([k, v]) => [`${k}Ms`, round(v)])),
      writeMs: round(performance.now() - tPredicted),
      totalMs: round(performance.now() - t0),
    },
    outputs,
    history: { read: historyRead, written: historyWritten },
    finishedAt: new Date().toISOString(),
  };
  try {
    await ctx.objects.createJson(shardKey(runId, shard, 'manifest'), manifest, ctx.signal);
  } catch (err) {
    // A duplicate delivery finished first: its manifest stands, and the outputs it names are these bytes.
    if (!(err instanceof ObjectExistsError)) throw err;
    log.info('shard.done-elsewhere');
    return;
  }
  log.info('shard.succeeded', {
    symbols: result.counts.symbols,
    predicted: result.counts.predicted,
    rows: result.counts.rows,
    totalMs: manifest.timings.totalMs,
  });
}
