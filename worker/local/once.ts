import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { GetObjectCommand, paginateListObjectsV2, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { PREFIX, predictionsKey, RUN_FILE, s3Url } from '../../shared/layout.js';
import type { RunError, RunManifest } from '../../shared/manifest.js';
import { unquote } from '../runtime/s3-objects.js';

/**
 * `npm start -- --once`: one upload to `incoming/<basename>`, then wait for the run whose manifest (or error record)
 * names exactly that upload (key and ETag), and copy its files out.
 */

export type OnceOutcome =
  | { status: 'succeeded'; runId: string; manifest: RunManifest; latencyMs: number }
  | { status: 'failed'; runId: string; error: RunError; latencyMs: number }
  | { status: 'timed-out'; waitedMs: number; lastError: RunError | null };

export interface Upload {
  bucket: string;
  key: string;
  etag: string;
  uploadedAt: number;
}

export async function uploadCsv(s3: S3Client, bucket: string, file: string): Promise<Upload> {
  const body = await fs.readFile(file);
  const key = `${PREFIX.incoming}${path.basename(file)}`;
  const uploadedAt = Date.now();
  const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'text/csv' }));
  return { bucket, key, etag: unquote(put.ETag ?? ''), uploadedAt };
}

/**
 * Polls `runs/` for the upload's run. Run ids begin with the event time (`yyyymmddThhmmssZ`), so the listing starts a
 * little before the upload. An error record that SQS will retry is remembered, not final: a later attempt may succeed.
 */
export async function waitForRun(s3: S3Client, upload: Upload, opts: { timeoutMs: number; maxReceiveCount: number; pollMs?: number }): Promise<OnceOutcome> {
  const startAfter = `${PREFIX.runs}${stamp(new Date(upload.uploadedAt - 60_000))}`;
  const checked = new Set<string>();
  let lastError: RunError | null = null;
  const deadline = upload.uploadedAt + opts.timeoutMs;
  for (;;) {
    const keys = await listKeys(s3, upload.bucket, startAfter);
    const manifests = keys.filter((k) => k.endsWith(`/${RUN_FILE.manifest}`) && !checked.has(k));
    const errors = keys.filter((k) => k.endsWith(`/${RUN_FILE.error}`) && !checked.has(k));
    for (const key of manifests) {
      const manifest = await getJson<RunManifest>(s3, upload.bucket, key);
      if (manifest) checked.add(key);
      if (manifest?.input?.key === upload.key && unquote(manifest.input.etag) === upload.etag && isThisUpload(manifest.event.eventTime, upload)) {
        return { status: 'succeeded', runId: manifest.runId, manifest, latencyMs: Date.now() - upload.uploadedAt };
      }
    }
    for (const key of errors) {
      const error = await getJson<RunError>(s3, upload.bucket, key);
      if (!error) continue;
      if (
        error.input?.key !== upload.key ||
        (error.input.etag !== undefined && unquote(error.input.etag) !== upload.etag) ||
        (error.event && !isThisUpload(error.event.eventTime, upload))
      ) {
        checked.add(key);
        continue;
      }
      // A failure to be retried is final on the last attempt: the message then goes to the DLQ.
      if (error.error.disposition !== 'retry' || error.worker.receiveCount >= opts.maxReceiveCount)
        return { status: 'failed', runId: error.runId, error, latencyMs: Date.now() - upload.uploadedAt };
      lastError = error;
    }
    if (Date.now() > deadline) return { status: 'timed-out', waitedMs: Date.now() - upload.uploadedAt, lastError };
    await sleep(opts.pollMs ?? 100);
  }
}

/**
 * The same bytes uploaded again have the same key and ETag: only the event time tells this upload's run from an
 * earlier one (the bridge stamps events after the PUT; a second of slack covers clock rounding).
 */
function isThisUpload(eventTime: string | undefined, upload: Upload): boolean {
  return eventTime !== undefined && Date.parse(eventTime) >= upload.uploadedAt - 1000;
}

/** Copies the run's files into `outDir`: preds.csv, forecast.csv, manifest.json, or error.json. Returns their paths. */
export async function copyRunFiles(s3: S3Client, bucket: string, outcome: Exclude<OnceOutcome, { status: 'timed-out' }>, outDir: string): Promise<string[]> {
  await fs.mkdir(outDir, { recursive: true });
  const prefix = `${PREFIX.runs}${outcome.runId}/`;
  const names = outcome.status === 'succeeded' ? [RUN_FILE.preds, RUN_FILE.forecast, RUN_FILE.manifest] : [RUN_FILE.error];
  const written: string[] = [];
  for (const name of names) {
    const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `${prefix}${name}` }));
    const file = path.join(outDir, name);
    await fs.writeFile(file, await res.Body!.transformToByteArray());
    written.push(file);
  }
  return written;
}

/** The one-screen summary printed by `--once`. */
export function summarize(upload: Upload, outcome: OnceOutcome, files: string[]): string {
  const lines = [`upload     ${s3Url(upload.bucket, upload.key)} (ETag ${upload.etag})`];
  if (outcome.status === 'timed-out') {
    lines.push(`result     TIMED OUT after ${(outcome.waitedMs / 1000).toFixed(1)} s: no manifest.json or error.json for this upload under ${PREFIX.runs}`);
    if (outcome.lastError)
      lines.push(`last error ${outcome.lastError.error.kind}: ${outcome.lastError.error.message} (to be retried; run ${outcome.lastError.runId})`);
    lines.push('hint       are the workers running and is a model in service? see the [wN] lines above; `npm run dlq` lists failed messages');
    return lines.join('\n');
  }
  lines.push(`run        ${outcome.runId}`);
  if (outcome.status === 'failed') {
    lines.push(`result     FAILED (${outcome.error.error.kind}): ${outcome.error.error.message}`);
  } else {
    const m = outcome.manifest;
    const ok = m.symbols.filter((s) => s.status === 'ok').map((s) => s.symbol);
    const skipped = m.symbols.flatMap((s) => (s.status === 'skipped' ? [`${s.symbol} (${s.reason})`] : []));
    lines.push('result     succeeded');
    lines.push(`symbols    ${ok.length} predicted: ${ok.join(', ') || '-'}`);
    if (skipped.length) lines.push(`skipped    ${skipped.join('; ')}`);
    lines.push(`rows       ${m.counts.rows} in, ${m.counts.predictionRows} predictions`);
    lines.push(`model      ${m.model.version}`);
    lines.push(`worker     ${m.worker.id} (${m.worker.backend}), receive #${m.worker.receiveCount}`);
    lines.push(`pred_url   ${s3Url(upload.bucket, predictionsKey(upload.key))}`);
  }
  lines.push(`latency    ${outcome.latencyMs} ms from upload to ${outcome.status === 'succeeded' ? 'manifest' : 'error record'} seen (polled)`);
  lines.push(`copied     ${files.join(', ')}`);
  return lines.join('\n');
}

async function listKeys(s3: S3Client, bucket: string, startAfter: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: bucket, Prefix: PREFIX.runs, StartAfter: startAfter })) {
    for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
  }
  return keys;
}

async function getJson<T>(s3: S3Client, bucket: string, key: string): Promise<T | null> {
  try {
    const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return JSON.parse(await res.Body!.transformToString()) as T;
  } catch {
    return null;
  }
}

/** `yyyymmddThhmmssZ`, the prefix of run ids (shared/manifest.ts). */
function stamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
}
