import os from 'node:os';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { AwsClientSettings } from '../runtime/aws-clients.js';
import { attachRequestLog } from '../runtime/request-log.js';
import type { StackTarget } from './stack.js';

/** The ARN of the identity the clients' credentials belong to (STS GetCallerIdentity, which needs no permission). */
export async function awsCallerIdentity(s: AwsClientSettings, endpoint?: string): Promise<string> {
  const client = new STSClient({ region: s.region, ...(endpoint ? { endpoint } : {}), ...(s.credentials ? { credentials: s.credentials } : {}) });
  if (s.requestLog) attachRequestLog(client, s.requestLog);
  try {
    const r = await client.send(new GetCallerIdentityCommand({}));
    if (!r.Arn) throw new Error('STS GetCallerIdentity returned no Arn');
    return r.Arn;
  } finally {
    client.destroy();
  }
}

/** `local:<user>`: who runs a command against the embedded stack, which has one key pair for everyone. */
export function localPrincipal(): string {
  let user: string;
  try {
    user = os.userInfo().username;
  } catch {
    user = process.env.USER || 'unknown';
  }
  return `local:${user}`;
}

/** Who the registry records as acting: the caller's AWS identity on AWS, the local user on the embedded stack. */
export async function principalOf(target: StackTarget): Promise<string> {
  return target.kind === 'aws' ? awsCallerIdentity(target.clients) : localPrincipal();
}
