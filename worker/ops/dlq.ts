import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type Message,
  type MessageAttributeValue,
  type MessageSystemAttributeName,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { escapePrintable } from '../../shared/escape.js';
import { BadMessageError, parseQueueMessage, type QueueMessage } from '../../shared/s3-event.js';

/**
 * Reading and redriving the dead-letter queue. Two kinds of message land there:
 * - sent by the worker (invalid input, junk body): the original body with attributes `reason`, `sourceMessageId`,
 *   `failedAt` and, for a run, `runId`;
 * - moved by the queue's redrive policy after maxReceiveCount receives: the original body only (SQS adds the
 *   system attribute DeadLetterQueueSourceArn).
 */

export interface DlqEntry {
  messageId: string;
  origin: 'worker' | 'redrive-policy' | 'unknown';
  bucket: string | null;
  /** The upload's key (decoded), `command:<name>`, or null for a body that is not a known message. */
  key: string | null;
  reason: string;
  runId: string | null;
  sourceMessageId: string | null;
  /** ApproximateReceiveCount: every receive, including the main queue's when moved by the redrive policy, and listings. */
  receiveCount: number;
  firstReceivedAt: string | null;
  sentAt: string | null;
  failedAt: string | null;
  body: string;
}

export interface PeekOptions {
  /** Seconds the listed messages stay hidden while the queue is read; they are released right after. */
  holdSeconds?: number;
  /** Long-poll seconds per receive (SQS samples servers on a short poll and can miss messages); 0 locally. */
  waitSeconds?: number;
  max?: number;
}

interface Held {
  message: Message;
  entry: DlqEntry;
}

const SYSTEM_ATTRIBUTES: MessageSystemAttributeName[] = [
  'ApproximateReceiveCount',
  'ApproximateFirstReceiveTimestamp',
  'SentTimestamp',
  'DeadLetterQueueSourceArn',
];

/** Lists the DLQ without consuming it: every message is received (hidden for a moment) and then made visible again. */
export async function listDlq(sqs: SQSClient, dlqUrl: string, opts: PeekOptions = {}): Promise<DlqEntry[]> {
  const held = await hold(sqs, dlqUrl, opts);
  await release(
    sqs,
    dlqUrl,
    held.map((h) => h.message),
  );
  return held.map((h) => h.entry);
}

/** Deletes the DLQ messages `match` selects (their entries are returned) and makes the others visible again. */
export async function deleteDlqMessages(sqs: SQSClient, dlqUrl: string, match: (entry: DlqEntry) => boolean, opts: PeekOptions = {}): Promise<DlqEntry[]> {
  const held = await hold(sqs, dlqUrl, opts);
  const deleted: DlqEntry[] = [];
  const kept: Message[] = [];
  for (const h of held) {
    if (!match(h.entry)) {
      kept.push(h.message);
      continue;
    }
    await sqs.send(new DeleteMessageCommand({ QueueUrl: dlqUrl, ReceiptHandle: h.message.ReceiptHandle! }));
    deleted.push(h.entry);
  }
  await release(sqs, dlqUrl, kept);
  return deleted;
}

export interface RedriveResult {
  moved: number;
  failed: { messageId: string; error: string }[];
}

/** Moves every DLQ message back to the work queue: body and message attributes sent, then the DLQ copy deleted. */
export async function redriveDlq(sqs: SQSClient, dlqUrl: string, queueUrl: string, opts: PeekOptions = {}): Promise<RedriveResult> {
  const held = await hold(sqs, dlqUrl, opts);
  const result: RedriveResult = { moved: 0, failed: [] };
  const unsent: Message[] = [];
  for (const { message } of held) {
    try {
      await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: message.Body ?? '', MessageAttributes: message.MessageAttributes }));
    } catch (err) {
      result.failed.push({ messageId: message.MessageId!, error: `send to the work queue failed: ${(err as Error).message}` });
      unsent.push(message);
      continue;
    }
    try {
      await sqs.send(new DeleteMessageCommand({ QueueUrl: dlqUrl, ReceiptHandle: message.ReceiptHandle! }));
      result.moved++;
    } catch (err) {
      // Now on both queues: the run id makes the second delivery a no-op once the first completes.
      result.failed.push({ messageId: message.MessageId!, error: `sent, but not deleted from the DLQ: ${(err as Error).message}` });
    }
  }
  await release(sqs, dlqUrl, unsent);
  return result;
}

async function hold(sqs: SQSClient, dlqUrl: string, opts: PeekOptions): Promise<Held[]> {
  const holdSeconds = opts.holdSeconds ?? 30;
  const max = opts.max ?? 1000;
  const seen = new Map<string, Held>();
  while (seen.size < max) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: dlqUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: holdSeconds,
        WaitTimeSeconds: opts.waitSeconds ?? 1,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: SYSTEM_ATTRIBUTES,
      }),
    );
    const fresh = Messages.filter((m) => m.MessageId && !seen.has(m.MessageId));
    for (const m of fresh) seen.set(m.MessageId!, { message: m, entry: describeDlqMessage(m) });
    if (fresh.length === 0) break;
  }
  return [...seen.values()];
}

async function release(sqs: SQSClient, dlqUrl: string, messages: Message[]): Promise<void> {
  for (let i = 0; i < messages.length; i += 10) {
    const batch = messages.slice(i, i + 10);
    await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: dlqUrl,
        Entries: batch.map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle!, VisibilityTimeout: 0 })),
      }),
    );
  }
}

export function describeDlqMessage(m: Message): DlqEntry {
  const attr = (name: string): string | null => stringAttr(m.MessageAttributes?.[name]);
  const sys = m.Attributes ?? {};
  const body = m.Body ?? '';
  const source = sys.DeadLetterQueueSourceArn;
  const origin: DlqEntry['origin'] = attr('reason') ? 'worker' : source ? 'redrive-policy' : 'unknown';
  const { bucket, key, bodyReason } = whatItWas(body);
  const receiveCount = Number(sys.ApproximateReceiveCount ?? 0);
  const reason =
    attr('reason') ??
    bodyReason ??
    (source ? `not completed within the work queue's maxReceiveCount (moved from ${source.split(':').pop()})` : 'unknown: no reason attribute');
  return {
    messageId: m.MessageId ?? '',
    origin,
    bucket,
    key,
    reason,
    runId: attr('runId'),
    sourceMessageId: attr('sourceMessageId'),
    receiveCount,
    firstReceivedAt: isoOf(sys.ApproximateFirstReceiveTimestamp),
    sentAt: isoOf(sys.SentTimestamp),
    failedAt: attr('failedAt'),
    body,
  };
}

/** The original upload (or command) a DLQ body stands for; for a body shaped like an error record, its message. */
function whatItWas(body: string): { bucket: string | null; key: string | null; bodyReason: string | null } {
  let m: QueueMessage;
  try {
    m = parseQueueMessage(body);
  } catch (err) {
    if (!(err instanceof BadMessageError)) throw err;
    const record = errorRecordOf(body);
    return record ?? { bucket: null, key: null, bodyReason: `bad message: ${err.reason}` };
  }
  if (m.kind === 's3-test') return { bucket: m.bucket, key: 's3:TestEvent', bodyReason: null };
  if (m.kind === 'command') return { bucket: null, key: `command:${m.command}`, bodyReason: null };
  const keys = m.records.map((r) => r.key);
  return { bucket: m.records[0]?.bucket ?? null, key: keys.length > 1 ? `${keys[0]} (+${keys.length - 1} more)` : (keys[0] ?? null), bodyReason: null };
}

/** `{ input: { bucket, key }, error: { message } }`, as in `runs/<id>/error.json`; null for anything else. */
function errorRecordOf(body: string): { bucket: string | null; key: string | null; bodyReason: string } | null {
  try {
    const json = JSON.parse(body) as { input?: { bucket?: unknown; key?: unknown }; error?: { message?: unknown } };
    if (typeof json.error?.message !== 'string') return null;
    return {
      bucket: typeof json.input?.bucket === 'string' ? json.input.bucket : null,
      key: typeof json.input?.key === 'string' ? json.input.key : null,
      bodyReason: json.error.message,
    };
  } catch {
    return null;
  }
}

function stringAttr(v: MessageAttributeValue | undefined): string | null {
  return v?.StringValue ?? null;
}

function isoOf(millis: string | undefined): string | null {
  const n = Number(millis);
  return millis && Number.isFinite(n) && n > 0 ? new Date(n).toISOString() : null;
}

/** A fixed-width table for a terminal; `--json` gives every field. */
export function formatDlqTable(entries: DlqEntry[]): string {
  if (entries.length === 0) return 'DLQ is empty';
  // Keys and reasons come from uploads and message bodies: escaped, so no byte reaches the terminal raw.
  const rows = entries.map((e) => [
    escapePrintable(e.key ?? '(unknown)'),
    e.origin,
    String(e.receiveCount),
    e.firstReceivedAt ?? '-',
    truncate(escapePrintable(e.reason), 70),
  ]);
  const header = ['KEY', 'ORIGIN', 'RECEIVES', 'FIRST RECEIVED', 'REASON'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  return [line(header), ...rows.map(line), `${entries.length} message${entries.length === 1 ? '' : 's'}`].join('\n');
}

function truncate(s: string, n: number): string {
  const oneLine = s.replace(/\s+/g, ' ');
  return oneLine.length > n ? `${oneLine.slice(0, n - 1)}…` : oneLine;
}
