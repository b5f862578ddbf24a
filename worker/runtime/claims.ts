import { setTimeout as sleep } from 'node:timers/promises';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { PREFIX } from '../../shared/layout.js';
import { isNotFound, isPreconditionFailed } from './failures.js';
import type { Logger } from './log.js';
import { unquote, type BucketObjects } from './s3-objects.js';

/**
 * One run per run id, whatever the deliveries: before inference a worker claims `claims/<run id>.json` with a
 * conditional write (`If-None-Match: *`). The claim expires unless renewed (each heartbeat renews it, `If-Match` its
 * own ETag), so a crashed claimant's run is taken over (`If-Match` the expired claim's ETag) by whoever holds the next
 * delivery. A second delivery meanwhile waits for the claimant: its manifest or final error ends the wait.
 */

export interface ClaimRecord {
  schema: 'crypto-open-fleet/run-claim/1';
  runId: string;
  worker: string;
  claimedAt: string;
  expiresAt: string;
  /** Set when the claimant is done: `succeeded`, `failed`, or `retry` (it gave the message back to be retried). */
  released?: 'succeeded' | 'failed' | 'retry';
}

export interface ClaimOptions {
  workerId: string;
  /** A claim not renewed for this long may be taken over. */
  ttlMs: number;
  renewEveryMs: number;
  /** How often a waiting delivery looks again (default 250 ms). */
  pollMs?: number;
  log: Logger;
}

export class ClaimLostError extends Error {
  override readonly name = 'ClaimLostError';
}

export const claimKey = (runId: string): string => `${PREFIX.claims}${runId}.json`;

/** A claim this worker holds: renewed until released. */
export interface HeldClaim {
  /** Aborts when the claim could not be renewed (another worker took the run over): the run must stop. */
  lost: AbortSignal;
  release(outcome: NonNullable<ClaimRecord['released']>): Promise<void>;
}

export type ClaimResult = { kind: 'held'; claim: HeldClaim } | { kind: 'done-elsewhere'; by: ClaimRecord };

export class RunClaims {
  constructor(
    private readonly objects: BucketObjects,
    private readonly o: ClaimOptions,
  ) {}

  private record(runId: string, released?: ClaimRecord['released']): ClaimRecord {
    const now = Date.now();
    return {
      schema: 'crypto-open-fleet/run-claim/1',
      runId,
      worker: this.o.workerId,
      claimedAt: new Date(now).toISOString(),
      expiresAt: new Date(now + this.o.ttlMs).toISOString(),
      ...(released ? { released } : {}),
    };
  }

  /** PUT the claim with a condition; the new ETag, or null when the condition failed. */
  private async put(runId: string, record: ClaimRecord, condition: { IfNoneMatch: '*' } | { IfMatch: string }, signal?: AbortSignal): Promise<string | null> {
    try {
      const r = await this.objects.s3.send(
        new PutObjectCommand({
          Bucket: this.objects.bucket,
          Key: claimKey(runId),
          Body: `${JSON.stringify(record)}\n`,
          ContentType: 'application/json',
          ...condition,
        }),
        { abortSignal: signal },
      );
      return unquote(r.ETag ?? '');
    } catch (err) {
      // 404: an If-Match on a claim that is gone; 409: a concurrent conditional write to the same key.
      if (isPreconditionFailed(err) || isNotFound(err) || (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 409) return null;
      throw err;
    }
  }

  private async read(runId: string, signal?: AbortSignal): Promise<{ etag: string; record: ClaimRecord } | null> {
    try {
      const r = await this.objects.s3.send(new GetObjectCommand({ Bucket: this.objects.bucket, Key: claimKey(runId) }), { abortSignal: signal });
      return { etag: unquote(r.ETag ?? ''), record: JSON.parse(await r.Body!.transformToString()) as ClaimRecord };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  /**
   * Claims the run, waiting while another live worker holds it. `isDone` tells whether the run has ended (its manifest,
   * or a final error record): then this delivery has nothing to do.
   */
  async acquire(runId: string, isDone: () => Promise<boolean>, signal?: AbortSignal): Promise<ClaimResult> {
    let waitingOn: string | undefined;
    for (;;) {
      signal?.throwIfAborted();
      const created = await this.put(runId, this.record(runId), { IfNoneMatch: '*' }, signal);
      if (created) return { kind: 'held', claim: this.hold(runId, created) };
      const current = await this.read(runId, signal);
      if (!current) continue;
      const { record } = current;
      const expired = Date.parse(record.expiresAt) <= Date.now();
      // A released claim whose run did not end (its worker gave the message back) is free to take.
      const free = record.released === 'retry' || (record.released === undefined && expired) || record.worker === this.o.workerId;
      if (record.released && record.released !== 'retry' && (await isDone())) return { kind: 'done-elsewhere', by: record };
      if (free) {
        const taken = await this.put(runId, this.record(runId), { IfMatch: `"${current.etag}"` }, signal);
        if (taken) {
          if (record.worker !== this.o.workerId)
            this.o.log.info('run.claim-taken-over', { runId, from: record.worker, expiredAt: record.expiresAt, released: record.released ?? null });
          return { kind: 'held', claim: this.hold(runId, taken) };
        }
        continue;
      }
      if (await isDone()) return { kind: 'done-elsewhere', by: record };
      if (waitingOn !== record.worker) {
        waitingOn = record.worker;
        this.o.log.info('run.claimed-elsewhere', { runId, by: record.worker, expiresAt: record.expiresAt });
      }
      await sleep(this.o.pollMs ?? 250, undefined, { signal });
    }
  }

  private hold(runId: string, firstEtag: string): HeldClaim {
    let etag = firstEtag;
    const lost = new AbortController();
    let renewing: Promise<void> = Promise.resolve();
    const timer = setInterval(() => {
      renewing = renewing.then(async () => {
        const next = await this.put(runId, this.record(runId), { IfMatch: `"${etag}"` }).catch(() => null);
        if (next) etag = next;
        else if (!lost.signal.aborted) {
          this.o.log.warn('run.claim-lost', { runId });
          lost.abort(new ClaimLostError(`the claim on run ${runId} was taken over: this run stops`));
        }
      });
    }, this.o.renewEveryMs);
    timer.unref();
    let released: Promise<void> | undefined;
    return {
      lost: lost.signal,
      release: (outcome) =>
        (released ??= (async () => {
          clearInterval(timer);
          await renewing;
          if (lost.signal.aborted) return;
          // Best effort: an unreleased claim only makes a later delivery wait for its expiry.
          await this.put(runId, this.record(runId, outcome), { IfMatch: `"${etag}"` }).catch(() => null);
        })()),
    };
  }
}
