import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { createRequestHandler } from 'local-aws-sqs';
import { messageIdOf } from './sqs-compat.js';

/**
 * Keeps the stand-in queues on disk, so queued, in-flight and dead-lettered messages survive a restart (local-aws-sqs
 * keeps them in memory only).
 *
 * The store is an append-only journal, `<dir>/journal.ndjson`: one JSON object per line, written synchronously before
 * the request that caused it is answered, so what a client was told is on disk (a SIGKILL cannot lose it; only the
 * machine's crash could, as it is not fsynced):
 *
 *   {"op":"put","q":<queue>,"m":<message>,"visibleAt":<ms>}   sent, or moved to <queue> (a redrive keeps its id)
 *   {"op":"receive","id":<id>,"count":"<n>","first":"<ms>"}   received: ApproximateReceiveCount, first-receive time
 *   {"op":"delete","id":<id>}                                 deleted, or expired (retention period)
 *   {"op":"clear","q":<queue>}                                purged
 *
 * `<message>` holds MessageId, MessageBody, MessageAttributes, the MD5s and the system attributes (SentTimestamp,
 * ApproximateReceiveCount, ApproximateFirstReceiveTimestamp, DeadLetterQueueSourceArn, ...). The first line is
 * `{"op":"format","version":1}`.
 *
 * At start the journal is replayed (a last line cut short by a crash is ignored; any other unreadable line stops the
 * start, naming the file and line), rewritten compacted (one `put` per message, to a temporary file renamed over the
 * journal), and the messages are put back: visible ones stay visible, delayed ones keep the rest of their delay,
 * in-flight ones become visible again, as after their visibility timeout, except those whose receives reached the
 * redrive policy's maxReceiveCount, which move to the dead-letter queue as that timeout would have moved them.
 * Messages past their queue's retention period are dropped. The journal is compacted again as it grows.
 */

type SqsService = ReturnType<typeof createRequestHandler>['service'];
type Queue = SqsService['Queues'][number];

interface StoredMessage {
  MessageId: string;
  MessageBody: string;
  MessageAttributes?: unknown;
  MD5OfMessageBody?: string;
  MD5OfMessageAttributes?: string;
  attributes: Record<string, string>;
}
interface LiveWrapper {
  record: StoredMessage & { ReceiptHandle?: string };
  tmRetention?: NodeJS.Timeout;
}
type JournalLine =
  | { op: 'format'; version: number }
  | { op: 'put'; q: string; m: StoredMessage; visibleAt: number }
  | { op: 'receive'; id: string; count: string; first: string }
  | { op: 'delete'; id: string }
  | { op: 'clear'; q: string };

export class QueueStoreError extends Error {
  override readonly name = 'QueueStoreError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export interface PersistedQueues {
  /** Messages put back per queue at start. */
  restored: Record<string, number>;
  /** Closes the journal (idempotent); the queues are no longer recorded after it. */
  close(): void;
}

const FORMAT_VERSION = 1;
/** Compact once the journal has this many lines more than there are messages, and twice as many. */
const COMPACT_SLACK = 10_000;

export function persistQueues(service: SqsService, dir: string, now: () => number = Date.now): PersistedQueues {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'journal.ndjson');
  const releaseLock = lockFolder(dir);
  const queues = new Map(service.Queues.map((q) => [q.QueueName, q]));
  const state = replay(file);

  // Decide where each message goes back, before anything is written.
  const restore: { queue: Queue; message: StoredMessage; visibleAt: number }[] = [];
  for (const [, entry] of state) {
    let queue = queues.get(entry.q);
    if (!queue) continue; // a queue the stack no longer has
    const message = entry.m;
    if (Number(message.attributes.SentTimestamp) + queue.MessageRetentionPeriod * 1000 <= now()) continue;
    const policy = queue.RedrivePolicy;
    const dlq = policy && queues.get(policy.deadLetterTargetArn.split(':').pop()!);
    if (policy && dlq && Number(message.attributes.ApproximateReceiveCount) >= policy.maxReceiveCount) {
      message.attributes.DeadLetterQueueSourceArn = `arn:aws:sqs:${service.REGION}:${service.ACCOUNT_ID}:${queue.QueueName}`;
      queue = dlq;
    }
    restore.push({ queue, message, visibleAt: entry.visibleAt });
  }

  const live = new Map<string, { queue: Queue; wrapper: LiveWrapper; visibleAt: number }>();
  let fd = -1;
  let lines = 0;
  const writeAll = (entries: { q: string; m: StoredMessage; visibleAt: number }[]) => {
    const tmp = path.join(dir, `journal.${randomUUID()}.tmp`);
    const out = fs.openSync(tmp, 'w');
    try {
      fs.writeSync(out, `${JSON.stringify({ op: 'format', version: FORMAT_VERSION })}\n`);
      for (const e of entries) fs.writeSync(out, `${JSON.stringify({ op: 'put', q: e.q, m: e.m, visibleAt: e.visibleAt })}\n`);
      fs.fsyncSync(out);
    } finally {
      fs.closeSync(out);
    }
    fs.renameSync(tmp, file);
    if (fd >= 0) fs.closeSync(fd);
    fd = fs.openSync(file, 'a');
    lines = entries.length + 1;
  };
  const compact = () => writeAll([...live.values()].map((e) => ({ q: e.queue.QueueName, m: stored(e.wrapper.record), visibleAt: e.visibleAt })));
  for (const f of fs.readdirSync(dir)) if (f.endsWith('.tmp')) fs.rmSync(path.join(dir, f), { force: true });
  writeAll(restore.map((r) => ({ q: r.queue.QueueName, m: r.message, visibleAt: r.visibleAt })));

  let recording = false;
  let closed = false;
  const append = (line: JournalLine) => {
    if (!recording || closed) return;
    fs.writeSync(fd, `${JSON.stringify(line)}\n`);
    if (++lines > COMPACT_SLACK + 2 * live.size) compact();
  };

  for (const queue of queues.values()) {
    const newRecord = queue.newRecord;
    queue.newRecord = (msg: Record<string, unknown>, delay?: number) => {
      const wrapper = newRecord(msg, delay) as LiveWrapper;
      const seconds = delay === undefined || Number.isNaN(delay) ? queue.DelaySeconds : delay;
      const visibleAt = now() + seconds * 1000;
      const id = wrapper.record.MessageId;
      // Expiry through queue.delete, so it is recorded (the library's own timer removes the message silently).
      clearTimeout(wrapper.tmRetention);
      const expiresIn = Number(wrapper.record.attributes.SentTimestamp) + queue.MessageRetentionPeriod * 1000 - now();
      wrapper.tmRetention = setTimeout(() => queue.delete(receiptHandleOf(id, queue.QueueName)), Math.max(0, Math.min(expiresIn, 2 ** 31 - 1)));
      wrapper.tmRetention.unref();
      live.delete(id);
      live.set(id, { queue, wrapper, visibleAt });
      append({ op: 'put', q: queue.QueueName, m: stored(wrapper.record), visibleAt });
      return wrapper;
    };
    const receive = queue.receive.bind(queue);
    queue.receive = async (params: Record<string, unknown>) => {
      const got = (await receive(params)) as StoredMessage[];
      for (const m of got)
        append({ op: 'receive', id: m.MessageId, count: m.attributes.ApproximateReceiveCount, first: m.attributes.ApproximateFirstReceiveTimestamp });
      return got;
    };
    const del = queue.delete.bind(queue);
    queue.delete = (receiptHandle: string) => {
      const deleted = del(receiptHandle);
      const id = messageIdOf(receiptHandle);
      if (id !== undefined && live.get(id)?.queue === queue) {
        live.delete(id);
        append({ op: 'delete', id });
      }
      return deleted;
    };
    const clearRecords = queue.clearRecords.bind(queue);
    queue.clearRecords = () => {
      clearRecords();
      for (const [id, e] of live) if (e.queue === queue) live.delete(id);
      append({ op: 'clear', q: queue.QueueName });
    };
  }

  const restored: Record<string, number> = Object.fromEntries([...queues.keys()].map((q) => [q, 0]));
  for (const r of restore) {
    const record = { ...r.message, ReceiptHandle: '' };
    r.queue.newRecord(record, Math.max(0, r.visibleAt - now()) / 1000);
    live.get(r.message.MessageId)!.visibleAt = r.visibleAt;
    restored[r.queue.QueueName]++;
  }
  recording = true;

  return {
    restored,
    close() {
      if (closed) return;
      closed = true;
      fs.closeSync(fd);
      releaseLock();
    },
  };
}

/**
 * One stack per data folder: `<dir>/lock` holds the pid of the stack that has it. A lock left by a process that is
 * gone (a SIGKILL) is taken over.
 */
function lockFolder(dir: string): () => void {
  const lock = path.join(dir, 'lock');
  for (let attempt = 0; ; attempt++) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0)
        throw new QueueStoreError(`cannot lock the queue folder ${dir}: ${(err as Error).message}`, { cause: err });
      const holder = Number(fs.readFileSync(lock, 'utf8'));
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
        throw new QueueStoreError(
          `the queue folder ${dir} is in use by process ${holder} (another stack on the same data folder): stop it, or pass another --data-dir`,
        );
      }
      if (holder === process.pid)
        throw new QueueStoreError(`the queue folder ${dir} is already in use by this process (another stack on the same data folder)`);
      fs.rmSync(lock, { force: true });
    }
  }
  return () => fs.rmSync(lock, { force: true });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The journal's messages by id, in the order they were last put. */
function replay(file: string): Map<string, { q: string; m: StoredMessage; visibleAt: number }> {
  const state = new Map<string, { q: string; m: StoredMessage; visibleAt: number }>();
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return state;
    throw new QueueStoreError(`cannot read the queue journal ${file}: ${(err as Error).message}`, { cause: err });
  }
  // Every entry ends with a newline: an unterminated last line is a write a crash cut short, and is ignored.
  const rows = text.split('\n');
  const complete = rows.length - 1;
  for (let i = 0; i < complete; i++) {
    const row = rows[i];
    if (row === '') continue;
    let line: JournalLine;
    try {
      line = JSON.parse(row) as JournalLine;
    } catch (err) {
      throw new QueueStoreError(
        `the queue journal ${file} is damaged at line ${i + 1}: ${(err as Error).message} (move it away, or start with --fresh, to start with empty queues)`,
        {
          cause: err,
        },
      );
    }
    switch (line.op) {
      case 'format':
        if (line.version !== FORMAT_VERSION)
          throw new QueueStoreError(`the queue journal ${file} has format ${line.version}; this stack reads format ${FORMAT_VERSION}`);
        break;
      case 'put':
        state.delete(line.m.MessageId);
        state.set(line.m.MessageId, { q: line.q, m: line.m, visibleAt: line.visibleAt });
        break;
      case 'receive': {
        const entry = state.get(line.id);
        if (entry) Object.assign(entry.m.attributes, { ApproximateReceiveCount: line.count, ApproximateFirstReceiveTimestamp: line.first });
        break;
      }
      case 'delete':
        state.delete(line.id);
        break;
      case 'clear':
        for (const [id, e] of state) if (e.q === line.q) state.delete(id);
        break;
      default:
        throw new QueueStoreError(`the queue journal ${file} has an unknown entry at line ${i + 1}: ${row.slice(0, 80)}`);
    }
  }
  return state;
}

function stored(record: StoredMessage): StoredMessage {
  const { MessageId, MessageBody, MessageAttributes, MD5OfMessageBody, MD5OfMessageAttributes, attributes } = record;
  return { MessageId, MessageBody, MessageAttributes, MD5OfMessageBody, MD5OfMessageAttributes, attributes: { ...attributes } };
}

/** A receipt handle in local-aws-sqs's form (`<uuid>{"date","MessageId","QueueName"}`, base64), for a delete by id. */
function receiptHandleOf(messageId: string, queueName: string): string {
  return Buffer.from(`${randomUUID()}${JSON.stringify({ date: Date.now(), MessageId: messageId, QueueName: queueName })}`).toString('base64');
}
