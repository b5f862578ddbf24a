import { createHash } from 'node:crypto';
import { SendMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import { isIncomingCsv } from '../shared/layout.js';
import { BadMessageError, parseQueueMessage } from '../shared/s3-event.js';
import { PermanentRunError } from './errors.js';
import { runUpload, writeRunError, type RunContext, type RunOutcome } from './run.js';

export interface HandlerDeps extends Omit<RunContext, 'receiveCount' | 'log' | 'signal'> {
  sqs: SQSClient;
  log: RunContext['log'];
}

/** What became of one queue message. Every outcome but `retry` (a thrown error) deletes the message. */
export type MessageOutcome =
  | { kind: 'ignored'; reason: string }
  | { kind: 'runs'; runs: RunOutcome[] }
  | { kind: 'unsupported-command'; command: string; runId: string }
  | { kind: 'dead-lettered'; reason: string };

const commandRunId = (m: Message): string =>
  `${new Date().toISOString().slice(0, 10).replace(/-/g, '')}-command-${createHash('sha256').update(m.MessageId ?? m.Body ?? '').digest('hex').slice(0, 16)}`;

/** Sends the original body to the DLQ with the reason attached, so nothing is lost and `npm run dlq` can say why. */
async function deadLetter(deps: HandlerDeps, m: Message, reason: string, runId?: string, signal?: AbortSignal): Promise<void> {
  await deps.sqs.send(
    new SendMessageCommand({
      QueueUrl: deps.config.dlqUrl,
      MessageBody: m.Body ?? '',
      MessageAttributes: {
        reason: { DataType: 'String', StringValue: reason.slice(0, 1000) },
        sourceMessageId: { DataType: 'String', StringValue: m.MessageId ?? 'unknown' },
        failedAt: { DataType: 'String', StringValue: new Date().toISOString() },
        ...(runId ? { runId: { DataType: 'String', StringValue: runId } } : {}),
      },
    }),
    { abortSignal: signal },
  );
}

/**
 * Handles one queue message: S3 events run uploads, the S3 test event and non-upload keys are
 * acknowledged, commands not implemented yet get an error record, junk and invalid input go to the DLQ.
 * Throws (so SQS redelivers) only for transient failures.
 */
export async function handleMessage(deps: HandlerDeps, m: Message, signal?: AbortSignal): Promise<MessageOutcome> {
  const receiveCount = Number(m.Attributes?.ApproximateReceiveCount ?? '1');
  const log = deps.log.child({ messageId: m.MessageId, receiveCount });
  let parsed;
  try {
    parsed = parseQueueMessage(m.Body ?? '');
  } catch (err) {
    if (!(err instanceof BadMessageError)) throw err;
    log.warn('message.bad', { reason: err.message });
    await deadLetter(deps, m, err.message, undefined, signal);
    return { kind: 'dead-lettered', reason: err.message };
  }
  if (parsed.kind === 's3-test') {
    log.info('message.s3-test-event', { bucket: parsed.bucket });
    return { kind: 'ignored', reason: 's3:TestEvent' };
  }
  const ctx: RunContext = { ...deps, receiveCount, log, signal };
  if (parsed.kind === 'command') {
    const runId = commandRunId(m);
    const message = `unsupported command: ${JSON.stringify(parsed.command)} is not implemented by this worker`;
    await writeRunError(ctx, runId, { bucket: deps.config.bucket, key: '' }, { kind: 'unsupported-command', message, retryable: false });
    log.warn('message.unsupported-command', { command: parsed.command, runId });
    return { kind: 'unsupported-command', command: parsed.command, runId };
  }
  for (const ignored of parsed.ignored) log.info('message.record-ignored', { record: ignored });
  const runs: RunOutcome[] = [];
  const failures: string[] = [];
  const settled: string[] = [];
  for (const record of parsed.records) {
    if (record.bucket !== deps.config.bucket || !isIncomingCsv(record.key)) {
      log.info('message.record-ignored', { bucket: record.bucket, key: record.key, reason: 'not an upload under incoming/ of this bucket' });
      continue;
    }
    try {
      runs.push(await runUpload(ctx, record));
    } catch (err) {
      if (!(err instanceof PermanentRunError)) throw err;
      (err.toDlq ? failures : settled).push(`${record.key}: ${err.message}`);
    }
  }
  if (failures.length > 0) {
    // Records of this message that succeeded have manifests: a redrive re-acknowledges them without inference.
    const reason = failures.join('; ');
    await deadLetter(deps, m, reason, undefined, signal);
    return { kind: 'dead-lettered', reason };
  }
  if (runs.length > 0) return { kind: 'runs', runs };
  return { kind: 'ignored', reason: settled.length > 0 ? settled.join('; ') : 'no upload under incoming/ in this message' };
}
