import { createRequire } from 'node:module';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { S3rverObject } from 's3rver';

/** What s3rver answers for an error thrown anywhere in its request handling: `toXML()` with status `status`. */
export interface S3ErrorLike extends Error {
  code: string;
  status: number;
  detail: Record<string, string | number>;
  toXML(): string;
}

const require = createRequire(import.meta.url);
const S3Error = require('s3rver/lib/models/error.js') as new (code: string, message: string, detail?: Record<string, string | number>) => S3ErrorLike;
const S3Object = require('s3rver/lib/models/object.js') as {
  new (bucket: string, key: string, content: S3rverObject['content'], metadata: Record<string, string | number>): S3rverObject;
  ALLOWED_METADATA: string[];
};
export { S3Object };

/** s3rver's own error class, so a store method can throw it; `status` set where s3rver's table lacks the code. */
export function s3Error(code: string, message: string, detail: Record<string, string | number> = {}, status?: number): S3ErrorLike {
  const err = new S3Error(code, message, detail);
  if (status !== undefined) err.status = status;
  return err;
}

export function isS3Error(err: unknown): err is S3ErrorLike {
  return err instanceof S3Error;
}

export const preconditionFailed = (condition: 'If-Match' | 'If-None-Match'): S3ErrorLike =>
  s3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', { Condition: condition });

export const noSuchKey = (key: string): S3ErrorLike => s3Error('NoSuchKey', 'The specified key does not exist.', { Key: key });

/** Answers a request the gateway refuses before s3rver sees it, in the XML S3 sends (no body for HEAD). */
export function sendS3Error(req: IncomingMessage, res: ServerResponse, err: S3ErrorLike): void {
  const body = err.toXML();
  res.writeHead(err.status, { 'content-type': 'application/xml', 'content-length': req.method === 'HEAD' ? 0 : Buffer.byteLength(body) });
  res.end(req.method === 'HEAD' ? undefined : body);
}
