import type { AwsClientSettings } from '../runtime/aws-clients.js';

/** A deployed or embedded stack, as the operator commands reach it. */
export interface StackTarget {
  kind: 'local' | 'aws';
  bucket: string;
  queueUrl: string;
  dlqUrl: string;
  clients: AwsClientSettings;
}

/** One line for a failed call to a stack, saying what to do when the local stack is simply not running. */
export function describeStackError(err: unknown, target: StackTarget): string {
  const e = err as Error & { code?: string; cause?: { code?: string } };
  const refused = e.code === 'ECONNREFUSED' || e.cause?.code === 'ECONNREFUSED' || /ECONNREFUSED/.test(String(e.message));
  if (refused && target.kind === 'local') {
    return `nothing answers at ${target.clients.sqsEndpoint ?? target.clients.s3Endpoint}: start the local stack with \`npm start\` (or pass --endpoint-url)`;
  }
  return `${e.name && e.name !== 'Error' ? `${e.name}: ` : ''}${String(e.message ?? err).split('\n')[0]}`;
}
