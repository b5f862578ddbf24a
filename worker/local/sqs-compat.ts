import type { createRequestHandler } from 'local-aws-sqs';

/**
 * Where local-aws-sqs 2.0.2 differs from SQS in ways the worker and the `dlq` command depend on, corrected here
 * (each is covered by test/local/sqs-compat.test.ts, which fails if the library changes):
 *
 * 1. ChangeMessageVisibility increments ApproximateReceiveCount. In SQS only a receive counts, so a worker that
 *    extended visibility twice (sqs-consumer's heartbeat) and then died would send its message to the DLQ
 *    (maxReceiveCount 3) instead of having it redelivered.
 * 2. A message moved to the DLQ by the redrive policy starts over with no receives and a new SentTimestamp; SQS moves
 *    the message itself (same id, same enqueue time, and its receive history).
 * 3. A long poll asking for several messages waits until it has them all or the wait is over, and can return a
 *    message twice when its visibility timeout ends within the poll; SQS returns as soon as it has any.
 * 4. ReceiveMessage ignores `MessageSystemAttributeNames` (the SDK's current name) and honours only the legacy
 *    `AttributeNames`, so ApproximateReceiveCount would be missing (fixed in the gateway: `withLegacyAttributeNames`).
 */

type SqsService = ReturnType<typeof createRequestHandler>['service'];
type Queue = SqsService['Queues'][number];
interface LiveRecord {
  record: { MessageId: string; attributes: Record<string, string> };
}

/** Messages tracked; the oldest are forgotten past this (a forgotten one just loses the fixes). */
const TRACKED_MAX = 50_000;
const KEPT_ON_REDRIVE = ['ApproximateReceiveCount', 'ApproximateFirstReceiveTimestamp', 'SentTimestamp'];

/** Applies fixes 1 to 3 to every queue the service has now. */
export function applySqsFixes(service: SqsService): void {
  const live = new Map<string, { queue: Queue; wrapper: LiveRecord }>();
  for (const queue of service.Queues) {
    const newRecord = queue.newRecord;
    queue.newRecord = (msg: Record<string, unknown>, delay?: number) => {
      const wrapper = newRecord(msg, delay) as LiveRecord;
      const id = wrapper.record.MessageId;
      const source = live.get(id);
      if (source && source.queue.RedrivePolicy?.deadLetterTargetArn.endsWith(`:${queue.QueueName}`)) {
        for (const name of KEPT_ON_REDRIVE) {
          const value = source.wrapper.record.attributes[name];
          if (value !== undefined) wrapper.record.attributes[name] = value;
        }
      }
      live.delete(id);
      live.set(id, { queue, wrapper });
      if (live.size > TRACKED_MAX) live.delete(live.keys().next().value as string);
      return wrapper;
    };
    const changeVisibility = queue.changeVisibility.bind(queue);
    queue.changeVisibility = (receiptHandle: string, visibilityTimeout: string) => {
      const tracked = live.get(messageIdOf(receiptHandle) ?? '');
      const wrapper = tracked?.queue === queue ? tracked.wrapper : undefined;
      const before = wrapper?.record.attributes.ApproximateReceiveCount;
      const changed = changeVisibility(receiptHandle, visibilityTimeout);
      if (wrapper && before !== undefined) wrapper.record.attributes.ApproximateReceiveCount = before;
      return changed;
    };
    // Short polls (each returns what is visible within ~40 ms) until one finds something or the wait is over.
    const receive = queue.receive.bind(queue);
    queue.receive = async (params: { WaitTimeSeconds?: number | string; [k: string]: unknown }) => {
      const wait = Number(params.WaitTimeSeconds ?? queue.ReceiveMessageWaitTimeSeconds);
      const deadline = Date.now() + (Number.isFinite(wait) ? wait : 0) * 1000;
      for (;;) {
        const got = await receive({ ...params, WaitTimeSeconds: 0 });
        if (got.length > 0 || Date.now() >= deadline) return got;
      }
    };
    const del = queue.delete.bind(queue);
    queue.delete = (receiptHandle: string) => {
      const deleted = del(receiptHandle);
      const id = messageIdOf(receiptHandle) ?? '';
      if (live.get(id)?.queue === queue) live.delete(id);
      return deleted;
    };
  }
}

/** local-aws-sqs receipt handles are base64 of `<uuid>{"date":..,"MessageId":..,"QueueName":..}`. */
export function messageIdOf(receiptHandle: string): string | undefined {
  try {
    const text = Buffer.from(receiptHandle, 'base64').toString('utf8');
    const id = (JSON.parse(text.slice(text.indexOf('{'))) as { MessageId?: unknown }).MessageId;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The body of a JSON-protocol ReceiveMessage naming `MessageSystemAttributeNames`, with them also named as
 * `AttributeNames`; any other body is returned as it is.
 */
export function withLegacyAttributeNames(target: string | undefined, body: Buffer): Buffer {
  if (target !== 'AmazonSQS.ReceiveMessage') return body;
  try {
    const json = JSON.parse(body.toString('utf8')) as { MessageSystemAttributeNames?: unknown; AttributeNames?: unknown };
    if (!Array.isArray(json.MessageSystemAttributeNames)) return body;
    const legacy = Array.isArray(json.AttributeNames) ? json.AttributeNames : [];
    json.AttributeNames = [...new Set([...legacy, ...json.MessageSystemAttributeNames])];
    return Buffer.from(JSON.stringify(json));
  } catch {
    // Not JSON: the SQS server answers it with its own error.
    return body;
  }
}
