import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { DEFAULT_MAX_LINE_BYTES } from '../../model/input-limits.js';
import { shardInputKey, shardPlanKey } from '../../shared/layout.js';
import type { OutputObject } from '../../shared/manifest.js';
import type { ObjectCreated } from '../../shared/s3-event.js';
import { isNotFound, isPreconditionFailed, SourceChangedError, SourceMissingError } from './failures.js';
import type { RunContext } from './run.js';

/**
 * Sharded fan-out of a large upload: one streaming pass over the file finds its symbols (in order of first appearance),
 * a second routes each row, as text, to shard `fnv1a(symbol) % shards` (no numeric parsing, one shard file on local
 * disk at a time in memory), each shard is created under `runs/<run id>/shards/<i>.csv`, then the plan, then one
 * `{"command":"shard"}` message per shard goes to the work queue, where any worker takes it (worker/runtime/shard-run.ts).
 * Everything written is a function of the upload's bytes and event: a routing pass run again writes the same objects.
 */

export const SHARD_COMMAND = 'shard';

export interface ShardPlan {
  schema: 'crypto-open-fleet/shard-plan/1';
  runId: string;
  /** The S3 event record of the upload (the finisher publishes and records the run from it). */
  record: ObjectCreated;
  input: { etag: string; versionId: string | null; sha256: string; bytes: number; rows: number };
  shards: number;
  /** Every symbol, in order of first appearance in the upload (the order an unsharded run writes them). */
  symbols: string[];
  /** `shardOf[i]`: the shard of `symbols[i]`. */
  shardOf: number[];
  objects: (OutputObject & { symbols: number; rows: number })[];
}

export interface ShardMessage {
  command: typeof SHARD_COMMAND;
  runId: string;
  shard: number;
}

/** 32-bit FNV-1a of the symbol's UTF-8 bytes: stable across processes and releases. */
export function symbolHash(symbol: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(symbol, 'utf8')) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

export class RecordTooLongError extends Error {
  override readonly name = 'RecordTooLongError';
}

/**
 * The records of a CSV stream as raw text (line ends removed), quote-aware: a quoted field may hold newlines. Each
 * chunk is scanned once; a record longer than `maxChars` stops the pass (the engine's line limit then reports it).
 */
export async function* csvRecords(source: AsyncIterable<string>, maxChars = DEFAULT_MAX_LINE_BYTES): AsyncGenerator<string> {
  let pieces: string[] = [];
  let partial = 0;
  let quoted = false;
  for await (const chunk of source) {
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (c === 34) quoted = !quoted;
      else if (c === 10 && !quoted) {
        let record = chunk.slice(start, i);
        if (pieces.length > 0) record = pieces.join('') + record;
        pieces = [];
        partial = 0;
        if (record.endsWith('\r')) record = record.slice(0, -1);
        if (record.length > maxChars) throw new RecordTooLongError(`a record is over ${maxChars} characters`);
        if (record.length > 0) yield record;
        start = i + 1;
      }
    }
    if (start < chunk.length) {
      pieces.push(chunk.slice(start));
      partial += chunk.length - start;
      if (partial > maxChars) throw new RecordTooLongError(`a record is over ${maxChars} characters`);
    }
  }
  let last = pieces.join('');
  if (last.endsWith('\r')) last = last.slice(0, -1);
  if (last.length > 0) yield last;
}

/** Field `index` of one CSV record (RFC 4180 quoting), without reading the others' values. */
export function csvField(record: string, index: number): string {
  let field = 0;
  let i = 0;
  while (field < index) {
    if (i >= record.length) return '';
    if (record.charCodeAt(i) === 34) {
      for (i++; i < record.length; i++) {
        if (record.charCodeAt(i) === 34) {
          if (record.charCodeAt(i + 1) === 34) i++;
          else break;
        }
      }
    }
    const comma = record.indexOf(',', i);
    if (comma < 0) return '';
    i = comma + 1;
    field++;
  }
  if (record.charCodeAt(i) === 34) {
    let out = '';
    for (let j = i + 1; j < record.length; j++) {
      if (record.charCodeAt(j) === 34) {
        if (record.charCodeAt(j + 1) !== 34) return out;
        out += '"';
        j++;
      } else out += record[j];
    }
    return out;
  }
  const comma = record.indexOf(',', i);
  return comma < 0 ? record.slice(i) : record.slice(i, comma);
}

async function openExact(ctx: RunContext, r: ObjectCreated): Promise<Readable> {
  try {
    const res = await ctx.objects.s3.send(
      new GetObjectCommand({ Bucket: r.bucket, Key: r.key, ...(r.versionId ? { VersionId: r.versionId } : { IfMatch: `"${r.eTag}"` }) }),
      { abortSignal: ctx.signal },
    );
    return res.Body as Readable;
  } catch (err) {
    if (isNotFound(err)) throw new SourceMissingError(`source missing: s3://${r.bucket}/${r.key} was deleted before it was read`, { cause: err });
    if (isPreconditionFailed(err))
      throw new SourceChangedError(`source changed: s3://${r.bucket}/${r.key} no longer has ETag ${r.eTag}; the newer upload has its own run`, { cause: err });
    throw err;
  }
}

/** A byte stream as text, each raw chunk also given to `onBytes` (the input's sha256 is of its bytes). */
async function* decoded(source: AsyncIterable<Uint8Array>, onBytes: (chunk: Uint8Array) => void = () => {}): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8');
  for await (const chunk of source) {
    onBytes(chunk);
    yield decoder.decode(chunk, { stream: true });
  }
  const rest = decoder.decode();
  if (rest) yield rest;
}

/** The lowest size an upload with more than `shardSymbols` symbols can have (a row is at least this many bytes). */
const MIN_ROW_BYTES = 20;

interface Scan {
  header: string;
  symbolColumn: number;
  symbols: string[];
  rows: number;
}

/** First pass: the header and the symbols in order of first appearance; undefined without a `symbol` column. */
async function scanSymbols(ctx: RunContext, r: ObjectCreated): Promise<Scan | undefined> {
  try {
    return await scanRecords(ctx, r);
  } catch (err) {
    if (err instanceof RecordTooLongError) return undefined;
    throw err;
  }
}

async function scanRecords(ctx: RunContext, r: ObjectCreated): Promise<Scan | undefined> {
  let header: string | undefined;
  let symbolColumn = -1;
  const seen = new Set<string>();
  const symbols: string[] = [];
  let rows = 0;
  for await (const record of csvRecords(decoded(await openExact(ctx, r)))) {
    if (header === undefined) {
      header = record;
      const names: string[] = [];
      for (let i = 0; ; i++) {
        const name = csvField(record.replace(/^\uFEFF/, ''), i);
        if (i > 0 && name === '' && record.split(',').length <= i) break;
        names.push(name.trim());
        if (names.length > 10_000) break;
      }
      symbolColumn = names.indexOf('symbol');
      if (symbolColumn < 0) return undefined;
      continue;
    }
    rows++;
    const symbol = csvField(record, symbolColumn);
    if (!seen.has(symbol)) {
      seen.add(symbol);
      symbols.push(symbol);
    }
  }
  if (header === undefined) return undefined;
  return { header, symbolColumn, symbols, rows };
}

/**
 * Splits the upload into shards when it has more symbols than `shardSymbols` or more bytes than `shardBytes`, and
 * queues them; returns the plan, or undefined when the upload is run whole (also when it has no `symbol` column, so that
 * the engine reports the problem).
 */
export async function shardUpload(ctx: RunContext, r: ObjectCreated, runId: string): Promise<ShardPlan | undefined> {
  const sqs = ctx.sqs;
  if (!sqs) return undefined;
  const { shardSymbols, shardBytes } = ctx.config;
  if (r.size <= shardBytes && r.size < shardSymbols * MIN_ROW_BYTES) return undefined;
  const scan = await scanSymbols(ctx, r);
  if (!scan || (scan.symbols.length <= shardSymbols && r.size <= shardBytes)) return undefined;
  const shards = Math.max(Math.ceil(scan.symbols.length / shardSymbols), Math.ceil(r.size / shardBytes), 2);
  const shardOf = scan.symbols.map((s) => symbolHash(s) % shards);

  // Second pass: rows to one local file per shard, as they come.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `shards-${runId.slice(-16)}-`));
  try {
    const shardIndex = new Map(scan.symbols.map((s, i) => [s, shardOf[i]!] as const));
    const files = Array.from({ length: shards }, (_, i) => path.join(dir, `${i}.csv`));
    const outs = files.map((f) => fs.createWriteStream(f));
    const pending: string[][] = files.map(() => []);
    const counts = files.map(() => ({ rows: 0 }));
    const hash = createHash('sha256');
    let bytes = 0;
    let first = true;
    const flush = async (i: number) => {
      if (pending[i]!.length === 0) return;
      const text = `${pending[i]!.join('\n')}\n`;
      pending[i] = [];
      if (!outs[i]!.write(text)) await new Promise<void>((resolve) => outs[i]!.once('drain', () => resolve()));
    };
    const source = decoded(await openExact(ctx, r), (chunk) => {
      hash.update(chunk);
      bytes += chunk.length;
    });
    for await (const record of csvRecords(source)) {
      if (first) {
        first = false;
        for (const out of outs) out.write(`${record}\n`);
        continue;
      }
      const i = shardIndex.get(csvField(record, scan.symbolColumn)) ?? 0;
      pending[i]!.push(record);
      counts[i]!.rows++;
      if (pending[i]!.length >= 2000) await flush(i);
    }
    for (let i = 0; i < shards; i++) await flush(i);
    await Promise.all(outs.map((o) => new Promise<void>((resolve, reject) => o.end((err?: Error | null) => (err ? reject(err) : resolve())))));

    const objects: ShardPlan['objects'] = [];
    for (let i = 0; i < shards; i++) {
      // One shard in memory at a time: the SDK's create-only PUT needs its length and MD5 comparison.
      const written = await ctx.objects.create(shardInputKey(runId, i), fs.readFileSync(files[i]!), 'text/csv', ctx.signal);
      objects.push({ ...written, symbols: shardOf.filter((s) => s === i).length, rows: counts[i]!.rows });
    }
    const plan: ShardPlan = {
      schema: 'crypto-open-fleet/shard-plan/1',
      runId,
      record: r,
      input: { etag: r.eTag, versionId: r.versionId, sha256: hash.digest('hex'), bytes, rows: scan.rows },
      shards,
      symbols: scan.symbols,
      shardOf,
      objects,
    };
    await ctx.objects.createJson(shardPlanKey(runId), plan, ctx.signal);
    for (let i = 0; i < shards; i++) {
      const body: ShardMessage = { command: SHARD_COMMAND, runId, shard: i };
      await sqs.send(new SendMessageCommand({ QueueUrl: ctx.config.queueUrl, MessageBody: JSON.stringify(body) }), { abortSignal: ctx.signal });
    }
    return plan;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
