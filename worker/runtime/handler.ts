import { createHash } from 'node:crypto';
import { SendMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import { escapePrintable } from '../../shared/escape.js';
import { PermanentFailure } from '../../shared/failures.js';
import { isIncomingCsv } from '../../shared/layout.js';
import { BadMessageError, parseQueueMessage } from '../../shared/s3-event.js';
import { UnsupportedCommandError } from './failures.js';
import { parseForecastCommand, runForecast, type ForecastOutcome } from './forecast.js';
import { failureReason, runUpload, writeRunError, type RunContext, type RunOutcome } from './run.js';
import { runShard } from './shard-run.js';
import { SHARD_COMMAND } from './shards.js';

export interface HandlerDeps extends Omit<RunContext, 'receiveCount' | 'log' | 'signal'> {
  sqs: SQSClient;
  log: RunContext['log'];
}

/** What became of one queue message. Every outcome deletes the message; a retry is a thrown error instead. */
export type MessageOutcome =
  | { kind: 'ignored'; reason: string }
  | { kind: 'runs'; runs: RunOutcome[]; settled: string[] }
  | { kind: 'forecast'; forecast: Exclude<ForecastOutcome, { status: 'nothing-to-forecast' }> }
  | { kind: 'settled'; reason: string; runId?: string }
  | { kind: 'dead-lettered'; reason: string };

const commandRunId = (m: Message): string =>
  `${new Date().toISOString().slice(0, 10).replace(/-/g, '')}-command-${createHash('sha256')
    .update(m.MessageId ?? m.Body ?? '')
    .digest('hex')
    .slice(0, 16)}`;

/** Sends the original body to the DLQ with the reason attached, so nothing is lost and `npm run dlq` can say why. */
async function deadLetter(deps: HandlerDeps, m: Message, reason: string, signal?: AbortSignal): Promise<void> {
  await deps.sqs.send(
    new SendMessageCommand({
      QueueUrl: deps.config.dlqUrl,
      MessageBody: m.Body ?? '',
      MessageAttributes: {
        // Printable ASCII only: SQS refuses most control characters, and `npm run dlq` prints this to a terminal.
        reason: { DataType: 'String', StringValue: escapePrintable(reason).slice(0, 1000) },
        sourceMessageId: { DataType: 'String', StringValue: escapePrintable(m.MessageId ?? 'unknown') },
        failedAt: { DataType: 'String', StringValue: new Date().toISOString() },
      },
    }),
    { abortSignal: signal },
  );
}

/**
 * Handles one queue message. Each failure's kind decides the message's fate (shared/failures.ts): dead-letter (sent to
 * the DLQ with its reason, then deleted), settle (deleted), retry (thrown, so SQS redelivers it). Commands are
 * dispatched here: `forecast` (worker/runtime/forecast.ts); any other is settled with an error record.
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
    await deadLetter(deps, m, err.message, signal);
    return { kind: 'dead-lettered', reason: err.message };
  }
  if (parsed.kind === 's3-test') {
    log.info('message.s3-test-event', { bucket: parsed.bucket });
    return { kind: 'ignored', reason: 's3:TestEvent' };
  }
  const ctx: RunContext = { ...deps, receiveCount, log, signal };
  if (parsed.kind === 'command' && parsed.command === SHARD_COMMAND) {
    const outcome = await runShard(ctx, parsed.body).catch(async (err: unknown) => {
      if (!(err instanceof PermanentFailure) || err.disposition !== 'dead-letter') throw err;
      await deadLetter(deps, m, failureReason(err), signal);
      return { reason: failureReason(err) };
    });
    return 'reason' in outcome
      ? { kind: 'dead-lettered', reason: outcome.reason }
      : { kind: 'settled', reason: `shard ${outcome.shard}: ${outcome.settlement}`, runId: outcome.runId };
  }
  if (parsed.kind === 'command' && parsed.command === 'forecast') {
    let command;
    try {
      command = parseForecastCommand(parsed.body);
    } catch (err) {
      if (!(err instanceof BadMessageError)) throw err;
      log.warn('message.bad', { reason: err.message });
      await deadLetter(deps, m, err.message, signal);
      return { kind: 'dead-lettered', reason: err.message };
    }
    // The day that closed before the command was sent is the one a market-close schedule means.
    const sentAt = new Date(Number(m.Attributes?.SentTimestamp ?? m.Attributes?.ApproximateFirstReceiveTimestamp ?? Date.now()));
    const forecast = await runForecast(ctx, command, sentAt);
    if (forecast.status === 'nothing-to-forecast') {
      log.warn('forecast.nothing-to-forecast', { reason: forecast.reason, asOf: command.asOf ?? null });
      return { kind: 'settled', reason: `nothing to forecast: ${forecast.reason}` };
    }
    return { kind: 'forecast', forecast };
  }
  if (parsed.kind === 'command') {
    const runId = commandRunId(m);
    const failure = new UnsupportedCommandError(`unsupported command: ${JSON.stringify(parsed.command)} is not implemented by this worker`);
    await writeRunError(
      ctx,
      runId,
      { bucket: deps.config.bucket, key: '' },
      { kind: failure.kind, disposition: failure.disposition, message: failure.message },
    );
    log.warn('message.unsupported-command', { command: parsed.command, runId });
    return { kind: 'settled', reason: failure.message, runId };
  }
  for (const ignored of parsed.ignored) log.info('message.record-ignored', { record: ignored });
  const runs: RunOutcome[] = [];
  const deadLettered: string[] = [];
  const settled: string[] = [];
  for (const record of parsed.records) {
    if (record.bucket !== deps.config.bucket || !isIncomingCsv(record.key)) {
      log.info('message.record-ignored', { bucket: record.bucket, key: record.key, reason: 'not an upload under incoming/ of this bucket' });
      continue;
    }
    try {
      runs.push(await runUpload(ctx, record));
    } catch (err) {
      // A retry redelivers the whole message: records that completed are acknowledged again without inference.
      if (!(err instanceof PermanentFailure)) throw err;
      (err.disposition === 'dead-letter' ? deadLettered : settled).push(`${record.key}: ${failureReason(err)}`);
    }
  }
  if (deadLettered.length > 0) {
    // Records of this message that succeeded have manifests: a redrive re-acknowledges them without inference.
    const reason = deadLettered.join('; ');
    await deadLetter(deps, m, reason, signal);
    return { kind: 'dead-lettered', reason };
  }
  if (runs.length > 0) return { kind: 'runs', runs, settled };
  if (settled.length > 0) return { kind: 'settled', reason: settled.join('; ') };
  return { kind: 'ignored', reason: 'no upload under incoming/ in this message' };
}
