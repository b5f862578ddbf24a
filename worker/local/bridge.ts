import { setTimeout as sleep } from 'node:timers/promises';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { S3rverEvent, S3rverStore } from 's3rver';
import { isIncomingCsv } from '../../shared/layout.js';
import { buildS3Event } from '../tasks/s3-notification.js';

/**
 * Plays S3's event notification configuration: `ObjectCreated:*` on `incoming/**.csv` of the stack's bucket ->
 * the notification JSON S3 sends, on the work queue. Events are forwarded one at a time, in order.
 */

export interface BridgeOptions {
  bucket: string;
  region: string;
  queueUrl: string;
  sqs: SQSClient;
  store: S3rverStore;
  log: (line: Record<string, unknown>) => void;
}

export interface Bridge {
  onEvent(event: S3rverEvent): void;
  /** Resolves once every event received so far is on the queue (or was logged as failed). */
  settled(): Promise<void>;
  readonly forwarded: number;
}

/** How long to wait for s3rver to finish writing an object it already announced (its write stream can lag). */
const SETTLE_TIMEOUT_MS = 5_000;

export function createBridge(opts: BridgeOptions): Bridge {
  let chain: Promise<void> = Promise.resolve();
  let forwarded = 0;
  const sequencer = monotonicSequencer();

  const forward = async (record: S3rverEvent['Records'][number]): Promise<void> => {
    const { key } = record.s3.object;
    const announced = record.s3.object.eTag;
    // An object deleted meanwhile is still announced, as S3 does: its run records "source missing".
    const onDisk = await settledObject(opts.store, opts.bucket, key, announced, record.s3.object.size);
    const event = buildS3Event({
      bucket: opts.bucket,
      key,
      size: record.s3.object.size ?? onDisk?.size ?? 0,
      eTag: announced ?? onDisk?.etag ?? '',
      sequencer: sequencer(),
      eventName: record.eventName,
      eventTime: new Date(record.eventTime),
      region: opts.region,
      sourceIp: record.requestParameters.sourceIPAddress,
    });
    // Retried by the client (the stack gives it 8 attempts), as S3 retries its deliveries.
    const sent = await opts.sqs.send(new SendMessageCommand({ QueueUrl: opts.queueUrl, MessageBody: JSON.stringify(event) }));
    forwarded++;
    opts.log({
      event: 'bridge.forwarded',
      key,
      eTag: event.Records[0].s3.object.eTag,
      sequencer: event.Records[0].s3.object.sequencer,
      messageId: sent.MessageId,
    });
  };

  return {
    onEvent(event) {
      for (const record of event.Records) {
        if (!record.eventName.startsWith('ObjectCreated:') || record.s3.bucket.name !== opts.bucket || !isIncomingCsv(record.s3.object.key)) continue;
        chain = chain
          .then(() => forward(record))
          .catch((err: unknown) => opts.log({ event: 'bridge.error', key: record.s3.object.key, error: (err as Error).message }));
      }
    },
    settled: () => chain,
    get forwarded() {
      return forwarded;
    },
  };
}

/**
 * Waits until the announced object is fully on disk (s3rver emits its event before its file write completes).
 * Returns null when the object is gone; returns at once when it was replaced (the newer upload has its own event).
 */
async function settledObject(
  store: S3rverStore,
  bucket: string,
  key: string,
  eTag: string | undefined,
  size: number | undefined,
): Promise<{ etag: string; size: number } | null> {
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  for (;;) {
    let meta: Awaited<ReturnType<S3rverStore['getMetadata']>>;
    try {
      meta = await store.getMetadata(bucket, key);
    } catch {
      return null;
    }
    const current = { etag: meta.etag.replace(/"/g, ''), size: Number(meta['content-length']) };
    const replaced = eTag !== undefined && current.etag !== eTag;
    if (replaced || size === undefined || current.size >= size || Date.now() > deadline) return current;
    await sleep(2);
  }
}

/** Uppercase hex, 18 digits like S3's, strictly increasing within the process and across restarts (time-based). */
export function monotonicSequencer(now: () => number = Date.now): () => string {
  let last = 0n;
  return () => {
    const micros = BigInt(now()) * 1000n;
    last = micros > last ? micros : last + 1n;
    return last.toString(16).toUpperCase().padStart(18, '0');
  };
}
