import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { parseString } from 'fast-csv';
import { PREFIX, predictionsKey, runKey, uploadStatusKey } from '../../shared/layout.js';
import type { RunManifest, UploadStatus } from '../../shared/manifest.js';
import { isNotFound } from '../runtime/failures.js';
import { deleteDlqMessages, listDlq } from './dlq.js';
import { generateSample, sampleCsvText } from './sample.js';
import type { StackTarget } from './stack.js';

/**
 * The last step of a deployment: a run end to end through the stack as the team uses it. One upload of
 * crypto_test.csv-shaped data under `incoming/_smoke/` (which history and training ignore), its predictions read as the
 * team's frontend reads them, its manifest's sha256s checked against the bytes, and a malformed upload found in the
 * DLQ with its reason, then removed from it so the DLQ alarm is not left firing.
 */

export const SMOKE_PREFIX = `${PREFIX.incoming}_smoke/`;

export interface SmokeCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface SmokeReport {
  ok: boolean;
  key: string;
  checks: SmokeCheck[];
  /** PUT done -> the run's status record seen (polled every 100 ms). */
  latencyMs: number | null;
}

export interface SmokeOptions {
  timeoutMs: number;
  /** Long-poll seconds when reading the DLQ (0 for the embedded queue). */
  dlqWaitSeconds: number;
}

const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

async function getBytes(s3: S3Client, bucket: string, key: string): Promise<Buffer | undefined> {
  try {
    const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from(await r.Body!.transformToByteArray());
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

async function poll<T>(timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined || Date.now() > deadline) return v;
    await sleep(100);
  }
}

function parseRows(text: string): Promise<Record<string, string>[]> {
  return new Promise((resolve, reject) => {
    const rows: Record<string, string>[] = [];
    parseString(text, { headers: true })
      .on('data', (r: Record<string, string>) => rows.push(r))
      .on('error', reject)
      .on('end', () => resolve(rows));
  });
}

/** What the team's frontend needs of a predictions file (SPEC §6), as one line; empty when it is all there. */
export async function frontendProblems(key: string, text: string): Promise<string[]> {
  const problems: string[] = [];
  if (!key.includes('preds')) problems.push(`key ${key} does not contain "preds"`);
  const rows = await parseRows(text);
  if (rows.length === 0) return [...problems, 'no rows'];
  for (const col of ['symbol', 'index', 'date', 'pred_open', 'val_open']) if (!(col in rows[0]!)) problems.push(`no '${col}' column`);
  const bySymbol = new Map<string, Record<string, string>[]>();
  for (const r of rows) bySymbol.set(r.symbol!, [...(bySymbol.get(r.symbol!) ?? []), r]);
  for (const [symbol, list] of bySymbol) {
    if (list.some((r, i) => Number(r.index) !== i)) problems.push(`${symbol}: index is not 0..${list.length - 1}`);
    if (list.some((r) => Number.isNaN(Date.parse(r.date ?? '')))) problems.push(`${symbol}: a date does not parse`);
    const mad = list.reduce((a, r) => a + Math.abs(Number(r.pred_open) - Number(r.val_open)), 0) / list.length;
    if (!Number.isFinite(mad)) problems.push(`${symbol}: MAD is not a number (blank or NaN in pred_open or val_open)`);
  }
  return problems;
}

export async function runSmoke(target: StackTarget, s3: S3Client, sqs: SQSClient, opts: SmokeOptions): Promise<SmokeReport> {
  const checks: SmokeCheck[] = [];
  const check = (name: string, ok: boolean, detail: string) => checks.push({ name, ok, detail });
  const stamp = new Date().toISOString().replace(/[-:.]/g, '');
  const id = `${stamp}-${randomUUID().slice(0, 8)}`;
  const key = `${SMOKE_PREFIX}${id}.csv`;
  const badKey = `${SMOKE_PREFIX}${id}-malformed.csv`;
  const { bucket } = target;
  let latencyMs: number | null = null;

  const body = Buffer.from(await sampleCsvText(generateSample({ symbols: ['BTC', 'LTC', 'XRP'], days: 60, seed: 7 })));
  const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'text/csv' }));
  const putAt = Date.now();
  const versionOrEtag = put.VersionId ?? (put.ETag ?? '').replace(/"/g, '');
  const statusBytes = await poll(opts.timeoutMs, () => getBytes(s3, bucket, uploadStatusKey(bucket, key, versionOrEtag)));
  const status = statusBytes ? (JSON.parse(statusBytes.toString('utf8')) as UploadStatus) : undefined;
  if (status) latencyMs = Date.now() - putAt;
  check(
    'upload runs',
    status?.status === 'succeeded',
    status
      ? `${status.status} in ${latencyMs} ms (run ${status.runId})${status.error ? `: ${status.error.message}` : ''}`
      : `no status record after ${opts.timeoutMs} ms`,
  );

  if (status?.status === 'succeeded') {
    const pred = predictionsKey(key);
    const preds = await getBytes(s3, bucket, pred);
    const problems = preds ? await frontendProblems(pred, preds.toString('utf8')) : [`${pred} missing`];
    check('pred_url reads as the frontend reads it', problems.length === 0, problems.length ? problems.join('; ') : `s3://${bucket}/${pred}`);

    const manifestBytes = await getBytes(s3, bucket, runKey(status.runId, 'manifest'));
    const manifest = manifestBytes ? (JSON.parse(manifestBytes.toString('utf8')) as RunManifest) : undefined;
    const mismatches: string[] = [];
    if (!manifest) mismatches.push('manifest.json missing');
    else {
      if (manifest.input.sha256 !== sha256(body)) mismatches.push('input sha256');
      const outputs = [
        manifest.outputs.preds,
        manifest.outputs.forecast,
        ...(manifest.outputs.published ? [manifest.outputs.published.preds, manifest.outputs.published.forecast] : []),
      ];
      for (const o of outputs) {
        const bytes = await getBytes(s3, bucket, o.key);
        if (!bytes || sha256(bytes) !== o.sha256) mismatches.push(o.key);
      }
      if (!manifest.outputs.published) mismatches.push('predictions/ not published');
    }
    check(
      'manifest sha256s match the bytes',
      mismatches.length === 0,
      mismatches.length ? `differ: ${mismatches.join(', ')}` : `model ${manifest!.model.version}, code ${manifest!.code.commit}`,
    );
  }

  await s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: badKey, Body: 'symbol,date,open,high,low,close\nBTC,2018-01-01,1,2,0.5,1\n', ContentType: 'text/csv' }),
  );
  const dead = await poll(opts.timeoutMs, async () =>
    (await listDlq(sqs, target.dlqUrl, { waitSeconds: opts.dlqWaitSeconds, holdSeconds: 5 })).find((e) => e.key === badKey),
  );
  check(
    'a malformed upload reaches the DLQ with its reason',
    Boolean(dead && /required column 'market' missing/.test(dead.reason)),
    dead ? dead.reason : `not in the DLQ after ${opts.timeoutMs} ms`,
  );
  if (dead) {
    const removed = await deleteDlqMessages(sqs, target.dlqUrl, (e) => e.messageId === dead.messageId, { waitSeconds: opts.dlqWaitSeconds });
    check('its DLQ message is removed (the alarm is not left firing)', removed.length === 1, `${removed.length} message(s) deleted`);
  }
  return { ok: checks.every((c) => c.ok), key, checks, latencyMs };
}

export function formatSmokeReport(r: SmokeReport): string {
  const width = Math.max(...r.checks.map((c) => c.name.length));
  const lines = r.checks.map((c) => `${c.ok ? 'PASS' : 'FAIL'}  ${c.name.padEnd(width)}  ${c.detail}`);
  return [
    `smoke test: ${r.key}`,
    ...lines,
    `${r.ok ? 'PASSED' : 'FAILED'}: ${r.checks.filter((c) => c.ok).length}/${r.checks.length} checks; upload -> status ${r.latencyMs ?? '-'} ms`,
  ].join('\n');
}
