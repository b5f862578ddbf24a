import { createHash } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { S3rverStore } from 's3rver';
import { etagMatches, s3WriteContext, type S3WriteContext } from './conditions.js';
import { BodyTooLargeError, hashingReplay, readBody, replayBody } from './replay.js';
import { preconditionFailed, s3Error, sendS3Error, type S3ErrorLike } from './s3-errors.js';
import { declaredPayloadHash, isHexSha256, splitTarget, verifySignature, type AuthFailure } from './sigv4.js';
import { withLegacyAttributeNames } from './sqs-compat.js';
import { sendSqsError } from './sqs-errors.js';
import { isStsCallerIdentity, sendCallerIdentity } from './sts.js';

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
  /** The one key pair every request must be signed with, and the region of its credential scope. */
  credentials: { accessKeyId: string; secretAccessKey: string };
  region: string;
  onError: (err: unknown) => void;
}

/** SQS requests are at most 1 MiB of message data (a batch); their JSON or form encoding adds some. */
const SQS_BODY_LIMIT = 4 * 1024 * 1024;
/** S3 requests other than object and part uploads carry small XML documents (a multi-delete, a part list). */
const S3_DOCUMENT_LIMIT = 8 * 1024 * 1024;

/**
 * The corrections made before s3rver or local-aws-sqs see a request (the others live in the store and the queues):
 * every request but a CORS preflight must carry a valid Signature Version 4 of the stack's key pair; an S3 path or
 * copy source with a `.` or `..` segment is refused; a declared payload hash is checked (a small body before it is
 * handed on, an object's body as it is stored, which then keeps nothing if it differs); a write's `If-Match` /
 * `If-None-Match` go to the store, which checks them when it commits; `If-Match` on GET and HEAD is answered here.
 */
export function gateway(h: GatewayHandlers): RequestListener {
  return (req, res) => {
    const handle = async (): Promise<void> => {
      if (isSqsRequest(req)) return handleSqs(req, res, h);
      return handleS3(req, res, h);
    };
    handle().catch((err: unknown) => {
      h.onError(err);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  };
}

async function handleSqs(req: IncomingMessage, res: ServerResponse, h: GatewayHandlers): Promise<void> {
  let body: Buffer;
  try {
    body = await readBody(req, SQS_BODY_LIMIT);
  } catch (err) {
    if (err instanceof BodyTooLargeError) return sendSqsError(req, res, 400, 'InvalidParameterValue', err.message);
    throw err;
  }
  const signed = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body };
  // STS's query protocol posts a form too: GetCallerIdentity is answered here (worker/local/sts.ts).
  if (req.headers['x-amz-target'] === undefined && isStsCallerIdentity(body)) {
    const sts = await verifySignature(signed, { service: 'sts', region: h.region, credentials: h.credentials });
    if (!sts.ok) return sendSqsError(req, res, ...sqsAuthError(sts));
    return sendCallerIdentity(res, sts.accessKeyId);
  }
  const auth = await verifySignature(signed, { service: 'sqs', region: h.region, credentials: h.credentials });
  if (!auth.ok) return sendSqsError(req, res, ...sqsAuthError(auth));
  const declared = declaredPayloadHash(signed, false);
  if (isHexSha256(declared) && sha256(body) !== declared.toLowerCase()) {
    return sendSqsError(req, res, 403, 'SignatureDoesNotMatch', 'the x-amz-content-sha256 header does not match the SHA-256 of the body');
  }
  return h.sqs(replayBody(req, withLegacyAttributeNames(req.headers['x-amz-target'] as string | undefined, body)), res);
}

async function handleS3(req: IncomingMessage, res: ServerResponse, h: GatewayHandlers): Promise<void> {
  const unsafe = unsafeS3Path(req);
  if (unsafe) return sendS3Error(req, res, s3Error('InvalidURI', unsafe, { URI: (req.url ?? '').slice(0, 256) }));
  // A browser's CORS preflight carries no credentials, on S3 as here; s3rver answers it from the bucket's CORS rules.
  if (req.method === 'OPTIONS') return h.s3(req, res);

  const signed = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers };
  const auth = await verifySignature(signed, { service: 's3', region: h.region, credentials: h.credentials });
  if (!auth.ok) return sendS3Error(req, res, s3AuthError(auth, signed.url.includes('X-Amz-Algorithm=')));

  const ctx: S3WriteContext = {};
  let forward = req;
  const declared = declaredPayloadHash(signed, auth.presigned);
  if (isHexSha256(declared)) {
    const expected = declared.toLowerCase();
    if (isUpload(req)) {
      const replay = hashingReplay(req);
      forward = replay.req;
      ctx.payloadVerified = async () => {
        const actual = replay.digest();
        if (actual !== expected) throw contentSha256Mismatch(expected, actual);
      };
    } else {
      let body: Buffer;
      try {
        body = await readBody(req, S3_DOCUMENT_LIMIT);
      } catch (err) {
        if (err instanceof BodyTooLargeError) return sendS3Error(req, res, s3Error('MaxMessageLengthExceeded', err.message));
        throw err;
      }
      const actual = sha256(body);
      if (actual !== expected) return sendS3Error(req, res, contentSha256Mismatch(expected, actual));
      forward = replayBody(req, body);
    }
  }

  if (isConditionalWrite(req)) {
    const ifNoneMatch = headerValue(req, 'if-none-match');
    if (ifNoneMatch !== undefined && ifNoneMatch.trim() !== '*') {
      return sendS3Error(
        req,
        res,
        s3Error('NotImplemented', 'A header you provided implies functionality that is not implemented', { Header: 'If-None-Match' }),
      );
    }
    if (ifNoneMatch !== undefined) ctx.ifNoneMatch = '*';
    const ifMatch = headerValue(req, 'if-match');
    if (ifMatch !== undefined) ctx.ifMatch = ifMatch;
  }
  if (await readPreconditionFailed(req, res, h.store)) return;
  s3WriteContext.run(ctx, () => h.s3(forward, res));
}

/**
 * Why an S3 request names a path the stand-in must not touch, or undefined. s3rver maps a key to a file path
 * (`<bucket>/<key>`), so a `.` or `..` segment (raw or percent-encoded, in the path or in `x-amz-copy-source`) would
 * reach outside the bucket folder. S3 itself stores such keys as they are; the local stack refuses them.
 */
export function unsafeS3Path(req: IncomingMessage): string | undefined {
  const check = (raw: string, what: string): string | undefined => {
    let decoded: string;
    try {
      decoded = decodeURIComponent(raw);
    } catch {
      return `${what} is not valid percent-encoding`;
    }
    if (decoded.includes('\0')) return `${what} contains a NUL character`;
    if (decoded.split('/').some((s) => s === '.' || s === '..')) {
      return `${what} has a '.' or '..' segment: the local stack stores objects as files and refuses keys that would name a path outside the bucket folder`;
    }
    return undefined;
  };
  const copySource = headerValue(req, 'x-amz-copy-source');
  return (
    check(splitTarget(req.url ?? '/').path, 'the request path') ?? (copySource === undefined ? undefined : check(copySource.split('?')[0], 'x-amz-copy-source'))
  );
}

/** A PutObject or UploadPart: its body becomes a stored file, checked against its hash as it is written. */
function isUpload(req: IncomingMessage): boolean {
  if (req.method !== 'PUT' || headerValue(req, 'x-amz-copy-source') !== undefined) return false;
  return Object.keys(splitTarget(req.url ?? '/').query).every((name) => ['partNumber', 'uploadId', 'x-id'].includes(name) || name.startsWith('X-Amz-'));
}

/** PutObject, CopyObject (PUT) and CompleteMultipartUpload (POST ?uploadId): S3 honours If-Match / If-None-Match. */
function isConditionalWrite(req: IncomingMessage): boolean {
  if (req.method === 'PUT') return true;
  return req.method === 'POST' && splitTarget(req.url ?? '/').query.uploadId !== undefined;
}

/**
 * s3rver ignores `If-Match` on GET and HEAD; S3 answers 412 when the object's ETag differs. The worker relies on it to
 * never read a newer upload than its event names. A missing object is left to s3rver (404 NoSuchKey, as S3).
 */
async function readPreconditionFailed(req: IncomingMessage, res: ServerResponse, store: S3rverStore): Promise<boolean> {
  const ifMatch = headerValue(req, 'if-match');
  if (ifMatch === undefined || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
  const match = /^\/([^/]+)\/(.+)$/.exec(splitTarget(req.url ?? '/').path);
  if (!match) return false;
  let etag: string;
  try {
    etag = (await store.getMetadata(decodeURIComponent(match[1]), decodeURIComponent(match[2]))).etag;
  } catch {
    return false;
  }
  if (etagMatches(ifMatch, etag)) return false;
  sendS3Error(req, res, preconditionFailed('If-Match'));
  return true;
}

function s3AuthError(auth: AuthFailure, presigned: boolean): S3ErrorLike {
  const detail: Record<string, string> = auth.accessKeyId ? { AWSAccessKeyId: auth.accessKeyId } : {};
  switch (auth.kind) {
    case 'unsigned':
      return s3Error('AccessDenied', 'Access Denied: the local stack accepts only requests signed (Signature Version 4) with its key pair');
    case 'unknown-key':
      return s3Error('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', detail);
    case 'mismatch':
      return s3Error(
        'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
        detail,
      );
    case 'malformed':
      if (auth.message.startsWith('missing required header')) return s3Error('InvalidRequest', auth.message);
      return s3Error(presigned ? 'AuthorizationQueryParametersError' : 'AuthorizationHeaderMalformed', auth.message, detail);
    case 'skewed':
      return presigned ? s3Error('AccessDenied', auth.message, detail) : s3Error('RequestTimeTooSkewed', auth.message, detail);
    case 'expired':
      return s3Error('AccessDenied', auth.message, detail);
  }
}

function sqsAuthError(auth: AuthFailure): [number, string, string] {
  switch (auth.kind) {
    case 'unsigned':
      return [403, 'MissingAuthenticationToken', 'Request is missing Authentication Token'];
    case 'unknown-key':
      return [403, 'InvalidClientTokenId', 'The security token included in the request is invalid.'];
    case 'mismatch':
      return [403, 'SignatureDoesNotMatch', auth.message];
    case 'malformed':
      return [400, 'IncompleteSignature', auth.message];
    case 'skewed':
    case 'expired':
      return [400, 'RequestExpired', auth.message];
  }
}

function contentSha256Mismatch(expected: string, actual: string | undefined): S3ErrorLike {
  return s3Error(
    'XAmzContentSHA256Mismatch',
    "The provided 'x-amz-content-sha256' header does not match what was computed.",
    { ClientComputedContentSHA256: expected, S3ComputedContentSHA256: actual ?? '' },
    400,
  );
}

const sha256 = (body: Buffer) => createHash('sha256').update(body).digest('hex');

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}
