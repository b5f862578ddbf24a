import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { S3rverStore } from 's3rver';
import { withLegacyAttributeNames } from './sqs-compat.js';

/**
 * One HTTP port for both services, so `--endpoint-url` (or AWS_ENDPOINT_URL) points every client at the stack.
 * SQS requests are told apart by their protocol: the JSON protocol names its operation in `X-Amz-Target`, the query
 * protocol POSTs a form to a path without a query string. Every S3 POST carries a query string (`?uploads`,
 * `?delete`, ...) or a multipart form.
 */
export function isSqsRequest(req: IncomingMessage): boolean {
  const target = req.headers['x-amz-target'];
  if (typeof target === 'string') return target.startsWith('AmazonSQS.');
  return req.method === 'POST' && !(req.url ?? '').includes('?') && (req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
}

export interface GatewayHandlers {
  s3: RequestListener;
  sqs: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  store: S3rverStore;
  onError: (err: unknown) => void;
}

export function gateway(h: GatewayHandlers): RequestListener {
  return (req, res) => {
    const handle = async (): Promise<void> => {
      if (isSqsRequest(req)) return h.sqs(await withLegacyAttributeNames(req), res);
      if (await preconditionFailed(req, res, h.store)) return;
      h.s3(req, res);
    };
    handle().catch((err: unknown) => {
      h.onError(err);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  };
}

/**
 * s3rver ignores `If-Match` on GET and HEAD; S3 answers 412 when the object's ETag differs. The worker relies on it to
 * never read a newer upload than its event names. A missing object is left to s3rver (404 NoSuchKey, as S3).
 */
async function preconditionFailed(req: IncomingMessage, res: ServerResponse, store: S3rverStore): Promise<boolean> {
  const ifMatch = req.headers['if-match'];
  if (!ifMatch || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
  const match = /^\/([^/]+)\/(.+)$/.exec(new URL(req.url ?? '/', 'http://local').pathname);
  if (!match) return false;
  let etag: string;
  try {
    etag = (await store.getMetadata(decodeURIComponent(match[1]), decodeURIComponent(match[2]))).etag;
  } catch {
    return false;
  }
  const wanted = ifMatch.split(',').map((t) => t.trim());
  if (wanted.includes('*') || wanted.includes(etag) || wanted.includes(etag.replace(/"/g, ''))) return false;
  res.writeHead(412, { 'content-type': 'application/xml' });
  res.end(
    req.method === 'HEAD'
      ? undefined
      : '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message><Condition>If-Match</Condition></Error>',
  );
  return true;
}
