import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { Readable, Transform } from 'node:stream';

/**
 * Requests the gateway has read (to check a signature or a payload hash) are handed on as streams that carry the
 * request's method, URL, headers and socket, which is all that s3rver (Koa) and local-aws-sqs read of a request.
 */
function asRequest(stream: Readable, req: IncomingMessage, headers: IncomingHttpHeaders = req.headers): IncomingMessage {
  return Object.assign(stream, {
    headers,
    rawHeaders: req.rawHeaders,
    method: req.method,
    url: req.url,
    socket: req.socket,
    httpVersion: req.httpVersion,
    httpVersionMajor: req.httpVersionMajor,
    httpVersionMinor: req.httpVersionMinor,
  }) as unknown as IncomingMessage;
}

/** The request again, its body being `body` (Content-Length set to its length). */
export function replayBody(req: IncomingMessage, body: Buffer): IncomingMessage {
  const headers = { ...req.headers };
  if (headers['content-length'] !== undefined || headers['transfer-encoding'] === undefined) headers['content-length'] = String(body.length);
  return asRequest(Readable.from(body.length ? [body] : []), req, headers);
}

/**
 * The request again, its body streamed through a SHA-256; `digest()` is its hex digest once the body has been read
 * to the end (undefined before).
 */
export function hashingReplay(req: IncomingMessage): { req: IncomingMessage; digest: () => string | undefined } {
  const hash = createHash('sha256');
  let digest: string | undefined;
  const tee = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      callback(null, chunk);
    },
    flush(callback) {
      digest = hash.digest('hex');
      callback();
    },
  });
  req.on('error', (err) => tee.destroy(err));
  req.on('aborted', () => tee.destroy(new Error('the client aborted the request')));
  req.pipe(tee);
  return { req: asRequest(tee, req), digest: () => digest };
}

export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError';
}

/** The whole body, refusing more than `limit` bytes. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new BodyTooLargeError(`the request body is larger than the ${limit} bytes this request may have`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
