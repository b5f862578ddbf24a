import { timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { Sha256 } from '@smithy/core/checksum';
import { createScope, getCanonicalHeaders, getPayloadHash, getSigningKey, SignatureV4 } from '@smithy/signature-v4';

/**
 * AWS Signature Version 4, checked as S3 and SQS check it: the request's signature is computed again with the SDK's own
 * signer (`@smithy/signature-v4`: its canonical request, string to sign and signing key; SHA-256 and HMAC from
 * `@smithy/core`) and the known secret, from what the request says it signed (its credential scope, signed headers,
 * date, query and payload hash), and the two are compared.
 *
 * - Header-signed requests (`Authorization: AWS4-HMAC-SHA256 ...`): the date must be within 15 minutes of now.
 * - Presigned URLs (`X-Amz-Algorithm=AWS4-HMAC-SHA256&...`): valid from `X-Amz-Date` for `X-Amz-Expires` seconds
 *   (at most 7 days); the payload is `UNSIGNED-PAYLOAD` unless the URL says otherwise (`X-Amz-Content-Sha256`).
 * - The payload hash a request signs is the `x-amz-content-sha256` header (S3 requires it); where it is absent (SQS)
 *   the signer hashes the body, which the caller then passes. Checking a declared hash against the body is the
 *   caller's part (see `declaredPayloadHash`). For aws-chunked uploads (`STREAMING-*`) only the seed signature, the
 *   one in the Authorization header, is checked; the per-chunk signatures are not.
 */

export type Service = 's3' | 'sqs' | 'sts';
type HttpRequest = Parameters<SignatureV4['presign']>[0];
export type AuthFailureKind = 'unsigned' | 'unknown-key' | 'mismatch' | 'malformed' | 'skewed' | 'expired';

export interface AuthFailure {
  ok: false;
  kind: AuthFailureKind;
  message: string;
  accessKeyId?: string;
}
export type AuthResult = { ok: true; presigned: boolean; accessKeyId: string } | AuthFailure;

export interface SignedRequest {
  method: string;
  /** The request target as received (path and query, still percent-encoded). */
  url: string;
  headers: IncomingHttpHeaders;
  /** The body, for requests that sign it without declaring its hash (SQS). */
  body?: Buffer;
}

export interface VerifyOptions {
  service: Service;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  now?: Date;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';
const MAX_SKEW_MS = 15 * 60 * 1000;
const MAX_PRESIGNED_SECONDS = 7 * 24 * 3600;
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
const SHA256_HEADER = 'x-amz-content-sha256';

export async function verifySignature(req: SignedRequest, opts: VerifyOptions): Promise<AuthResult> {
  const { path, query } = splitTarget(req.url);
  const authorization = header(req.headers, 'authorization');
  const presigned = query['X-Amz-Algorithm'] !== undefined;
  if (authorization === undefined && !presigned) return fail('unsigned', 'the request is not signed (no Authorization header and no X-Amz-Signature)');
  if (authorization !== undefined && presigned)
    return fail('malformed', 'only one auth mechanism allowed: the Authorization header or X-Amz-Algorithm query parameters');
  return presigned ? verifyPresigned(req, path, query, opts) : verifyHeader(req, path, query, authorization!, opts);
}

async function verifyHeader(req: SignedRequest, path: string, query: Query, authorization: string, opts: VerifyOptions): Promise<AuthResult> {
  const space = authorization.indexOf(' ');
  const algorithm = space < 0 ? authorization : authorization.slice(0, space);
  if (algorithm !== ALGORITHM)
    return fail('malformed', `unsupported authorization type ${JSON.stringify(algorithm.slice(0, 32))}: only ${ALGORITHM} (Signature Version 4)`);
  const parts = new Map<string, string>();
  for (const part of authorization.slice(space + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) parts.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = parts.get('Credential');
  const signedHeaders = parts.get('SignedHeaders');
  const signature = parts.get('Signature');
  if (!credential || !signedHeaders || !signature) return fail('malformed', 'the authorization header requires Credential, SignedHeaders and Signature');
  const scope = checkScope(credential, opts);
  if (!scope.ok) return scope;
  const date = header(req.headers, 'x-amz-date');
  const signingDate = date === undefined ? undefined : parseAmzDate(date);
  if (!signingDate) return fail('malformed', 'a signed request needs a valid x-amz-date header (YYYYMMDDTHHMMSSZ)', scope.accessKeyId);
  if (date!.slice(0, 8) !== scope.date)
    return fail('mismatch', `the credential scope date ${scope.date} is not the date of x-amz-date ${date}`, scope.accessKeyId);
  const now = (opts.now ?? new Date()).getTime();
  if (Math.abs(now - signingDate.getTime()) > MAX_SKEW_MS)
    return fail('skewed', `the request time ${date} is more than 15 minutes from the server time`, scope.accessKeyId);
  if (opts.service === 's3' && header(req.headers, SHA256_HEADER) === undefined)
    return fail('malformed', 'missing required header for this request: x-amz-content-sha256', scope.accessKeyId);

  const names = signedHeaders.split(';');
  if (!names.includes('host')) return fail('malformed', 'SignedHeaders must include host', scope.accessKeyId);
  const headers: Record<string, string> = {};
  for (const name of names) {
    const value = header(req.headers, name);
    if (value === undefined) return fail('malformed', `the signed header ${name} is missing from the request`, scope.accessKeyId);
    headers[name] = value;
  }
  // The payload hash is the x-amz-content-sha256 header's value where there is one (S3), else the body's (SQS).
  const declared = header(req.headers, SHA256_HEADER);
  const payloadHash = await getPayloadHash(
    { headers: declared === undefined ? {} : { [SHA256_HEADER]: declared }, body: req.body ?? new Uint8Array(0) } as HttpRequest,
    Sha256,
  );
  const request = { method: req.method, protocol: 'http:', hostname: 'localhost', path, query, headers } as HttpRequest;
  const expected = await new Verifier(scope, opts).signatureOf(request, getCanonicalHeaders(request, new Set(), new Set(names)), payloadHash, date!, scope);
  if (!sameHex(expected, signature)) return mismatch(scope.accessKeyId);
  return { ok: true, presigned: false, accessKeyId: scope.accessKeyId };
}

/**
 * The SDK's signer, asked for the signature of a request as it was signed: `sign()` would drop a signed `date` header
 * and add headers of its own, so the canonical request, string to sign and signing key come from the signer's parts.
 */
class Verifier extends SignatureV4 {
  private readonly credentials: VerifyOptions['credentials'];

  constructor(scope: Scope, opts: VerifyOptions) {
    super(signerInit(scope, opts));
    this.credentials = opts.credentials;
  }

  async signatureOf(request: HttpRequest, canonicalHeaders: Record<string, string>, payloadHash: string, longDate: string, scope: Scope): Promise<string> {
    const canonicalRequest = this.createCanonicalRequest(request, canonicalHeaders, payloadHash);
    const stringToSign = await this.createStringToSign(longDate, createScope(scope.date, scope.region, scope.service), canonicalRequest, ALGORITHM);
    const hmac = new Sha256(await getSigningKey(Sha256, this.credentials, scope.date, scope.region, scope.service));
    hmac.update(new TextEncoder().encode(stringToSign));
    return Buffer.from(await hmac.digest()).toString('hex');
  }
}

async function verifyPresigned(req: SignedRequest, path: string, query: Query, opts: VerifyOptions): Promise<AuthResult> {
  const single = (name: string) => (typeof query[name] === 'string' ? (query[name] as string) : undefined);
  if (single('X-Amz-Algorithm') !== ALGORITHM) return fail('malformed', `X-Amz-Algorithm only supports "${ALGORITHM}"`);
  const credential = single('X-Amz-Credential');
  const date = single('X-Amz-Date');
  const expires = single('X-Amz-Expires');
  const signedHeaders = single('X-Amz-SignedHeaders');
  const signature = single('X-Amz-Signature');
  if (!credential || !date || !expires || !signedHeaders || !signature) {
    return fail('malformed', 'a presigned URL needs X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders and X-Amz-Signature');
  }
  const scope = checkScope(credential, opts);
  if (!scope.ok) return scope;
  const signingDate = parseAmzDate(date);
  if (!signingDate) return fail('malformed', `X-Amz-Date must be YYYYMMDDTHHMMSSZ, got ${JSON.stringify(date.slice(0, 32))}`, scope.accessKeyId);
  if (date.slice(0, 8) !== scope.date)
    return fail('mismatch', `the credential scope date ${scope.date} is not the date of X-Amz-Date ${date}`, scope.accessKeyId);
  const expiresIn = /^\d{1,7}$/.test(expires) ? Number(expires) : NaN;
  if (!(expiresIn >= 1 && expiresIn <= MAX_PRESIGNED_SECONDS))
    return fail(
      'malformed',
      `X-Amz-Expires must be from 1 to ${MAX_PRESIGNED_SECONDS} seconds, got ${JSON.stringify(expires.slice(0, 16))}`,
      scope.accessKeyId,
    );
  const now = (opts.now ?? new Date()).getTime();
  if (signingDate.getTime() - now > MAX_SKEW_MS) return fail('skewed', `the URL is not valid yet: it is signed for ${date}`, scope.accessKeyId);
  if (now > signingDate.getTime() + expiresIn * 1000)
    return fail('expired', `request has expired: signed ${date}, valid for ${expiresIn} s`, scope.accessKeyId);

  const names = signedHeaders.split(';');
  const headers: Record<string, string> = {};
  for (const name of names) {
    const value = header(req.headers, name);
    if (value !== undefined) headers[name] = value;
  }
  const payloadSigned = names.includes(SHA256_HEADER);
  if (!payloadSigned) headers[SHA256_HEADER] = single('X-Amz-Content-Sha256') ?? UNSIGNED_PAYLOAD;
  const { 'X-Amz-Signature': _signature, ...unsigned } = query;
  const signer = signerFor(scope, opts);
  const signed = await signer.presign(
    { method: req.method, protocol: 'http:', hostname: 'localhost', path, query: unsigned, headers },
    {
      signingDate,
      expiresIn,
      signableHeaders: new Set(names),
      unhoistableHeaders: new Set([...names, SHA256_HEADER]),
      unsignableHeaders: payloadSigned ? new Set() : new Set([SHA256_HEADER]),
    },
  );
  const expectedSignature = signed.query?.['X-Amz-Signature'];
  if (signed.query?.['X-Amz-SignedHeaders'] !== signedHeaders || typeof expectedSignature !== 'string' || !sameHex(expectedSignature, signature))
    return mismatch(scope.accessKeyId);
  return { ok: true, presigned: true, accessKeyId: scope.accessKeyId };
}

/** The payload hash the request declares: a hex SHA-256 to check against the body, or a literal such as UNSIGNED-PAYLOAD. */
export function declaredPayloadHash(req: SignedRequest, presigned: boolean): string {
  if (presigned) return splitTarget(req.url).query['X-Amz-Content-Sha256']?.toString() ?? header(req.headers, SHA256_HEADER) ?? UNSIGNED_PAYLOAD;
  return header(req.headers, SHA256_HEADER) ?? UNSIGNED_PAYLOAD;
}

export const isHexSha256 = (value: string): boolean => /^[0-9a-fA-F]{64}$/.test(value);

type Query = Record<string, string | string[]>;
interface Scope {
  ok: true;
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
}

function checkScope(credential: string, opts: VerifyOptions): Scope | AuthFailure {
  const parts = credential.split('/');
  if (parts.length !== 5 || parts[4] !== 'aws4_request' || !/^\d{8}$/.test(parts[1])) {
    return fail('malformed', 'the credential must be <access key id>/<YYYYMMDD>/<region>/<service>/aws4_request');
  }
  const [accessKeyId, date, region, service] = parts;
  if (accessKeyId !== opts.credentials.accessKeyId)
    return fail('unknown-key', `the access key id ${JSON.stringify(accessKeyId.slice(0, 64))} does not exist in the local stack's records`, accessKeyId);
  if (region !== opts.region) return fail('malformed', `the region '${region.slice(0, 32)}' is wrong; expecting '${opts.region}'`, accessKeyId);
  if (service !== opts.service) return fail('malformed', `the credential should be scoped to the correct service: '${opts.service}'`, accessKeyId);
  return { ok: true, accessKeyId, date, region, service };
}

function signerInit(scope: Scope, opts: VerifyOptions): ConstructorParameters<typeof SignatureV4>[0] {
  // S3 signs the path as sent; other services (SQS) normalise and encode it once more, as the SDK does.
  return {
    service: scope.service,
    region: scope.region,
    credentials: opts.credentials,
    sha256: Sha256,
    uriEscapePath: opts.service !== 's3',
    applyChecksum: false,
  };
}

const signerFor = (scope: Scope, opts: VerifyOptions): SignatureV4 => new SignatureV4(signerInit(scope, opts));

/** Path (as sent) and query (decoded; `+` is not a space in SigV4) of a request target. */
export function splitTarget(url: string): { path: string; query: Query } {
  const target = url.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?]*/i, '');
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  const query: Query = {};
  if (q >= 0) {
    for (const pair of target.slice(q + 1).split('&')) {
      if (pair === '') continue;
      const eq = pair.indexOf('=');
      const key = safeDecode(eq < 0 ? pair : pair.slice(0, eq));
      const value = eq < 0 ? '' : safeDecode(pair.slice(eq + 1));
      const prior = query[key];
      query[key] = prior === undefined ? value : Array.isArray(prior) ? [...prior, value] : [prior, value];
    }
  }
  return { path: path || '/', query };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

function parseAmzDate(value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const date = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function sameHex(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const fail = (kind: AuthFailureKind, message: string, accessKeyId?: string): AuthFailure => ({
  ok: false,
  kind,
  message,
  ...(accessKeyId ? { accessKeyId } : {}),
});
const mismatch = (accessKeyId: string): AuthFailure =>
  fail('mismatch', 'the request signature we calculated does not match the signature you provided; check your key and signing method', accessKeyId);
