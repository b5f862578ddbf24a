import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { LOCAL_STACK } from './constants.js';

/**
 * STS, as much as the operator commands use of it: GetCallerIdentity (the query protocol's form POST), answered with
 * the identity of the stack's one key pair, `arn:aws:iam::<account>:user/<access key id>`. It needs no permission on
 * AWS either.
 */
export function isStsCallerIdentity(body: Buffer): boolean {
  const form = new URLSearchParams(body.toString('utf8'));
  return form.get('Action') === 'GetCallerIdentity' && form.get('Version') === '2011-06-15';
}

export function sendCallerIdentity(res: ServerResponse, accessKeyId: string): void {
  const xml =
    '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>' +
    `<Arn>arn:aws:iam::${LOCAL_STACK.accountId}:user/${accessKeyId}</Arn><UserId>${accessKeyId}</UserId><Account>${LOCAL_STACK.accountId}</Account>` +
    `</GetCallerIdentityResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></GetCallerIdentityResponse>`;
  res.writeHead(200, { 'content-type': 'text/xml', 'x-amzn-requestid': randomUUID() });
  res.end(xml);
}
