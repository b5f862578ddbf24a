import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { ForecastCommand } from '../../shared/manifest.js';

export class TriggerArgsError extends Error {
  override readonly name = 'TriggerArgsError';
}

/** The forecast command's message body; `asOf` checked as a real `YYYY-MM-DD` day (the worker checks it again). */
export function forecastCommand(asOf: string | undefined): ForecastCommand {
  if (asOf === undefined) return { command: 'forecast' };
  const d = new Date(`${asOf}T00:00:00Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(asOf) || Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== asOf) {
    throw new TriggerArgsError(`--as-of must be a day written YYYY-MM-DD; got ${JSON.stringify(asOf)}`);
  }
  return { command: 'forecast', asOf };
}

/** Sends a command to the work queue, as the market-close schedule does; returns the message id. */
export async function sendCommand(sqs: SQSClient, queueUrl: string, command: ForecastCommand): Promise<string> {
  const r = await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(command) }));
  return r.MessageId ?? '';
}
