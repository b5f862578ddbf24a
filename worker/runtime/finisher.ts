import os from 'node:os';
import { paginateListObjectsV2 } from '@aws-sdk/client-s3';
import { runKey, shardKey, shardsPrefix, uploadStatusKey } from '../../shared/layout.js';
import { updateDailyFileForDays } from './daily.js';
import { dayNumber } from './history.js';
import type { HistoryObject, OutputObject, RunManifest, SymbolStatus, UploadStatus } from '../../shared/manifest.js';
import { publishPredictions } from './outputs.js';
import type { RunContext } from './run.js';
import { writeUploadStatus } from './run.js';
import { ObjectExistsError, sha256 } from './s3-objects.js';
import { csvField, type ShardPlan } from './shards.js';

/** `runs/<run id>/shards/<i>/manifest.json`: one shard's outcome. */
export interface ShardManifest {
  schema: 'crypto-open-fleet/shard-manifest/1';
  runId: string;
  shard: number;
  input: OutputObject;
  counts: RunManifest['counts'];
  symbols: SymbolStatus[];
  model: RunManifest['model'];
  features: RunManifest['features'];
  worker: RunManifest['worker'];
  timings: Record<string, number>;
  outputs: { preds: OutputObject; forecast: OutputObject };
  /** The history segments whose rows fed this shard's windows, and the one it added. */
  history?: { read: HistoryObject[]; written: HistoryObject[] };
  finishedAt: string;
}

export type Settlement = 'complete' | 'already-complete' | 'partial' | 'pending';

const text = async (ctx: RunContext, key: string): Promise<string> => Buffer.from((await ctx.objects.getBytes(key, ctx.signal)).body).toString('utf8');

/** The shards with a manifest and those with an error record. */
async function shardStates(ctx: RunContext, runId: string): Promise<{ done: Set<number>; failed: Set<number> }> {
  const prefix = shardsPrefix(runId);
  const done = new Set<number>();
  const failed = new Set<number>();
  for await (const page of paginateListObjectsV2({ client: ctx.objects.s3 }, { Bucket: ctx.objects.bucket, Prefix: prefix }, { abortSignal: ctx.signal })) {
    for (const o of page.Contents ?? []) {
      const m = /^(\d+)\/(manifest|error)\.json$/.exec(o.Key!.slice(prefix.length));
      if (m) (m[2] === 'manifest' ? done : failed).add(Number(m[1]));
    }
  }
  return { done, failed };
}

/** A CSV's lines after its header, in blocks of consecutive lines with the same first field (one block per symbol). */
function symbolBlocks(csv: string): { header: string | undefined; blocks: string[][] } {
  const lines = csv.split('\n').filter((l) => l !== '');
  const [header, ...rows] = lines;
  const blocks: string[][] = [];
  let last: string | undefined;
  for (const line of rows) {
    const symbol = csvField(line, 0);
    if (symbol !== last || blocks.length === 0) blocks.push([]);
    blocks.at(-1)!.push(line);
    last = symbol;
  }
  return { header, blocks };
}

/**
 * Merges shard outputs in the plan's symbol order: each shard's blocks are in its own order of first appearance, a
 * subsequence of the plan's, so the next predicted symbol of a shard is its next block.
 */
function mergeInPlanOrder(plan: ShardPlan, manifests: ShardManifest[], csvs: string[]): string {
  const parts = csvs.map(symbolBlocks);
  const predicted = manifests.map((m) => new Set(m.symbols.filter((s) => s.status === 'ok').map((s) => s.symbol)));
  parts.forEach((p, i) => {
    if (p.blocks.length !== predicted[i]!.size)
      throw new Error(`shard ${i} of run ${plan.runId}: ${p.blocks.length} symbol blocks for ${predicted[i]!.size} predicted symbols`);
  });
  const next = parts.map(() => 0);
  const header = parts.find((p) => p.header !== undefined)?.header;
  if (header === undefined) return '\n';
  let out = header;
  plan.symbols.forEach((symbol, k) => {
    const i = plan.shardOf[k]!;
    if (!predicted[i]!.has(symbol)) return;
    for (const line of parts[i]!.blocks[next[i]!++]!) out += `\n${line}`;
  });
  return `${out}\n`;
}

/**
 * Called after every shard outcome. When every shard has its manifest, merges them into the run's preds.csv and
 * forecast.csv (their bytes are a function of the shards', so two finishers write the same), publishes, and creates
 * the run's manifest: that create-only PUT (If-None-Match) completes the run once; a second finisher finds it taken.
 * While shards are missing and some of them failed, the upload's status is `partial`, naming their symbols.
 */
export async function settleShardedRun(ctx: RunContext, plan: ShardPlan): Promise<Settlement> {
  const runId = plan.runId;
  if (await ctx.objects.exists(runKey(runId, 'manifest'), ctx.signal)) return 'already-complete';
  const r = plan.record;
  const upload = { bucket: r.bucket, key: r.key, versionId: plan.input.versionId, etag: plan.input.etag };
  const { done, failed } = await shardStates(ctx, runId);
  if (done.size < plan.shards) {
    const missing = [...failed].filter((i) => !done.has(i)).sort((a, b) => a - b);
    if (missing.length === 0) return 'pending';
    const symbols = plan.symbols.filter((_, k) => missing.includes(plan.shardOf[k]!));
    const record: UploadStatus = {
      schema: 'crypto-open-fleet/upload-status/1',
      ...upload,
      runId,
      status: 'partial',
      missing: { shards: missing, symbols },
      at: new Date().toISOString(),
    };
    await ctx.objects.putJson(uploadStatusKey(upload.bucket, upload.key, upload.versionId ?? upload.etag), record, ctx.signal);
    ctx.log.warn('run.partial', { runId, missingShards: missing, missingSymbols: symbols.length });
    return 'partial';
  }
  const t0 = performance.now();
  const shards = Array.from({ length: plan.shards }, (_, i) => i);
  const manifestBytes = await Promise.all(shards.map(async (i) => (await ctx.objects.getBytes(shardKey(runId, i, 'manifest'), ctx.signal)).body));
  const manifests = manifestBytes.map((b) => JSON.parse(Buffer.from(b).toString('utf8')) as ShardManifest);
  const [preds, forecast] = await Promise.all(
    (['preds', 'forecast'] as const).map(async (file) =>
      mergeInPlanOrder(plan, manifests, await Promise.all(shards.map((i) => text(ctx, shardKey(runId, i, file))))),
    ),
  );
  const [predsObject, forecastObject] = await Promise.all([
    ctx.objects.create(runKey(runId, 'preds'), preds!, 'text/csv', ctx.signal),
    ctx.objects.create(runKey(runId, 'forecast'), forecast!, 'text/csv', ctx.signal),
  ]);
  const publication = await publishPredictions(
    ctx.objects,
    r,
    { etag: plan.input.etag, versionId: plan.input.versionId },
    runId,
    { preds: preds!, forecast: forecast! },
    ctx.signal,
  );
  if (publication.published === null) ctx.log.warn('run.not-published', { runId, reason: publication.reason });

  const statusOf = new Map<string, SymbolStatus>();
  for (const m of manifests) for (const s of m.symbols) statusOf.set(s.symbol, s);
  // The shards added their rows to the history: the daily file is brought up to date once, for the whole upload.
  let earliest = Infinity;
  let newest = -Infinity;
  for (const s of statusOf.values()) {
    if (s.status !== 'ok') continue;
    earliest = Math.min(earliest, dayNumber(s.firstDate));
    newest = Math.max(newest, dayNumber(s.lastDate));
  }
  const dailyModel = await ctx.models.current(ctx.signal);
  const daily = earliest <= newest ? await updateDailyFileForDays(ctx, dailyModel, ctx.inference(dailyModel), { earliest, newest }) : null;
  const sum = (f: (c: RunManifest['counts']) => number) => manifests.reduce((n, m) => n + f(m.counts), 0);
  const first = manifests[0]!;
  const manifest: RunManifest = {
    schema: 'crypto-open-fleet/run-manifest/1',
    runId,
    status: 'succeeded',
    input: { bucket: r.bucket, key: r.key, versionId: plan.input.versionId, etag: plan.input.etag, sha256: plan.input.sha256, bytes: plan.input.bytes },
    event: { eventTime: r.eventTime, sequencer: r.sequencer, eventName: r.eventName },
    counts: {
      rows: sum((c) => c.rows),
      symbols: plan.symbols.length,
      predicted: sum((c) => c.predicted),
      skipped: sum((c) => c.skipped),
      predictionRows: sum((c) => c.predictionRows),
    },
    symbols: plan.symbols.map((s) => statusOf.get(s)!).filter(Boolean),
    model: first.model,
    features: first.features,
    code: { version: ctx.config.codeVersion, commit: ctx.config.codeCommit, imageDigest: ctx.config.imageDigest },
    worker: { id: ctx.config.workerId, host: os.hostname(), receiveCount: ctx.receiveCount, backend: ctx.backend, engine: first.worker.engine },
    timings: { finishMs: Math.round(performance.now() - t0), eventToDoneMs: Date.now() - Date.parse(r.eventTime) },
    startedAt: r.eventTime,
    finishedAt: new Date().toISOString(),
    outputs: { preds: predsObject, forecast: forecastObject, published: publication.published, ...(daily ? { daily } : {}) },
    shards: manifests.map((m, i) => ({
      shard: i,
      symbols: plan.objects[i]!.symbols,
      input: m.input,
      manifest: { key: shardKey(runId, i, 'manifest'), sha256: sha256(manifestBytes[i]!), bytes: manifestBytes[i]!.length },
      worker: m.worker.id,
      model: m.model.version,
    })),
  };
  const versions = new Set(manifests.map((m) => m.model.version));
  if (versions.size > 1) ctx.log.warn('run.shards-model-versions', { runId, versions: [...versions] });
  try {
    await ctx.objects.createJson(runKey(runId, 'manifest'), manifest, ctx.signal);
  } catch (err) {
    if (err instanceof ObjectExistsError) return 'already-complete';
    throw err;
  }
  await writeUploadStatus(ctx, upload, runId, 'succeeded');
  ctx.log.info('run.succeeded', {
    runId,
    sharded: plan.shards,
    symbols: manifest.counts.symbols,
    skipped: manifest.counts.skipped,
    rows: manifest.counts.rows,
    published: publication.published !== null,
  });
  return 'complete';
}
