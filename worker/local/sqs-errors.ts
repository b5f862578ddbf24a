import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * An SQS error answered by the gateway, in the protocol the request used: the JSON protocol (`X-Amz-Target`) gets
 * `{"__type", "message"}` with `x-amzn-query-error: <Code>;Sender` (what the SDK reads the error name from), the
 * query protocol gets the `ErrorResponse` XML.
 */
export function sendSqsError(req: IncomingMessage, res: ServerResponse, status: number, code: string, message: string): void {
  const requestId = randomUUID();
  if (typeof req.headers['x-amz-target'] === 'string') {
    const body = JSON.stringify({ __type: `com.amazon.coral.service#${code}`, message });
    res.writeHead(status, {
      'content-type': 'application/x-amz-json-1.0',
      'x-amzn-query-error': `${code};Sender`,
      'x-amzn-requestid': requestId,
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
    return;
  }
  const body = `<?xml version="1.0"?><ErrorResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${escapeXml(message)}</Message><Detail/></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
  res.writeHead(status, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

const escapeXml = (s: string) => s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
