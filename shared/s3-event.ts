import { PermanentFailure } from './failures.js';

/**
 * S3 event notifications as S3 delivers them to SQS, and the other messages the work queue carries: their types and
 * their parsing. Building notifications is the embedded stack's job (worker/local/s3-notification.ts).
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
 */

export interface S3EventRecord {
  eventVersion: string;
  eventSource: string;
  awsRegion: string;
  /** ISO 8601, e.g. `2024-05-01T12:00:00.000Z`. */
  eventTime: string;
  /** Without the `s3:` prefix, e.g. `ObjectCreated:Put`. */
  eventName: string;
  userIdentity?: { principalId: string };
  requestParameters?: { sourceIPAddress: string };
  responseElements?: Record<string, string>;
  s3: {
    s3SchemaVersion: string;
    configurationId?: string;
    bucket: { name: string; ownerIdentity?: { principalId: string }; arn: string };
    object: {
      /** URL-encoded as a form value: space -> `+`, a literal `+` -> `%2B`, `/` kept. */
      key: string;
      size?: number;
      eTag?: string;
      /** Only where the bucket is versioned. */
      versionId?: string;
      /** Hex; orders events for one key. */
      sequencer: string;
    };
  };
}

export interface S3EventNotification {
  Records: S3EventRecord[];
}

/** What S3 sends once when a notification configuration is set. */
export interface S3TestEvent {
  Service: 'Amazon S3';
  Event: 's3:TestEvent';
  Time: string;
  Bucket: string;
  RequestId: string;
  HostId: string;
}

/** One `ObjectCreated:*` record, key decoded: what a run needs to know about its input. */
export interface ObjectCreated {
  bucket: string;
  key: string;
  size: number;
  /** Without quotes, as in the event. */
  eTag: string;
  versionId: string | null;
  sequencer: string;
  eventTime: string;
  eventName: string;
  awsRegion: string;
}

export type QueueMessage =
  | { kind: 's3-test'; bucket: string | null }
  /** `ignored` names records that are not `ObjectCreated:*` (e.g. `ObjectRemoved:Delete incoming/a.csv`). */
  | { kind: 's3-records'; records: ObjectCreated[]; ignored: string[] }
  | { kind: 'command'; command: string; body: unknown };

/** A queue message that is not an S3 event, an S3 test event or a command. */
export class BadMessageError extends PermanentFailure {
  override readonly name = 'BadMessageError';
  readonly kind = 'bad-message';
  constructor(
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`bad queue message: ${reason}`, options);
  }
}

export function parseQueueMessage(body: string): QueueMessage {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (cause) {
    throw new BadMessageError(`body is not JSON (starts with ${JSON.stringify(body.slice(0, 40))})`, { cause });
  }
  if (!isObject(json)) throw new BadMessageError(`body is JSON but not an object (${json === null ? 'null' : Array.isArray(json) ? 'array' : typeof json})`);

  if (json.Event === 's3:TestEvent') return { kind: 's3-test', bucket: typeof json.Bucket === 'string' ? json.Bucket : null };
  if ('Records' in json) return parseRecords(json.Records);
  if ('command' in json) {
    if (typeof json.command !== 'string' || json.command === '') throw new BadMessageError('field "command" must be a non-empty string');
    return { kind: 'command', command: json.command, body: json };
  }
  throw new BadMessageError(
    `JSON object is not an S3 event (no "Records"), an s3:TestEvent or a command (no "command"); keys: ${Object.keys(json).slice(0, 8).join(', ') || 'none'}`,
  );
}

function parseRecords(records: unknown): QueueMessage {
  if (!Array.isArray(records) || records.length === 0) throw new BadMessageError('"Records" must be a non-empty array');
  const created: ObjectCreated[] = [];
  const ignored: string[] = [];
  records.forEach((record, i) => {
    const where = `Records[${i}]`;
    if (!isObject(record)) throw new BadMessageError(`${where} is not an object`);
    const eventName = field(record, 'eventName', 'string', where);
    const s3 = record.s3;
    if (!isObject(s3) || !isObject(s3.bucket) || !isObject(s3.object)) throw new BadMessageError(`${where}.s3 must hold "bucket" and "object" objects`);
    const encodedKey = field(s3.object, 'key', 'string', `${where}.s3.object`);
    const key = decodeS3EventKey(encodedKey, `${where}.s3.object.key`);
    if (!eventName.startsWith('ObjectCreated:')) {
      ignored.push(`${eventName} ${key}`);
      return;
    }
    const versionId = s3.object.versionId;
    if (versionId !== undefined && versionId !== null && typeof versionId !== 'string')
      throw new BadMessageError(`${where}.s3.object.versionId must be a string when present`);
    created.push({
      bucket: field(s3.bucket, 'name', 'string', `${where}.s3.bucket`),
      key,
      size: field(s3.object, 'size', 'number', `${where}.s3.object`),
      eTag: field(s3.object, 'eTag', 'string', `${where}.s3.object`).replace(/"/g, ''),
      versionId: versionId ?? null,
      sequencer: hexSequencer(field(s3.object, 'sequencer', 'string', `${where}.s3.object`), `${where}.s3.object.sequencer`),
      eventTime: isoTime(field(record, 'eventTime', 'string', where), `${where}.eventTime`),
      eventName,
      awsRegion: field(record, 'awsRegion', 'string', where),
    });
  });
  return { kind: 's3-records', records: created, ignored };
}

// Both end up in run ids and object keys, so only their documented forms are accepted.
function hexSequencer(value: string, where: string): string {
  if (!/^[0-9A-Fa-f]{1,64}$/.test(value)) throw new BadMessageError(`${where} must be hexadecimal: ${JSON.stringify(value.slice(0, 80))}`);
  return value;
}

function isoTime(value: string, where: string): string {
  const t = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(value) || Number.isNaN(t))
    throw new BadMessageError(`${where} must be an ISO-8601 UTC time: ${JSON.stringify(value.slice(0, 80))}`);
  return new Date(t).toISOString();
}

/**
 * Orders two events of the same key as S3 documents: sequencers are hex strings; the shorter is right-padded with
 * zeros, then they compare as strings. Negative when `a` is older.
 */
export function compareSequencers(a: string, b: string): number {
  const n = Math.max(a.length, b.length);
  const pa = a.toUpperCase().padEnd(n, '0');
  const pb = b.toUpperCase().padEnd(n, '0');
  return pa < pb ? -1 : pa > pb ? 1 : 0;
}

/** A key as it appears in a notification -> the object's key: `+` is a space, then percent-decoding. */
export function decodeS3EventKey(encoded: string, where = 'key'): string {
  try {
    return decodeURIComponent(encoded.replace(/\+/g, ' '));
  } catch (cause) {
    throw new BadMessageError(`${where} is not valid URL encoding: ${JSON.stringify(encoded)}`, { cause });
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function field<T extends 'string' | 'number'>(obj: Record<string, unknown>, name: string, type: T, where: string): T extends 'string' ? string : number {
  const v = obj[name];
  if (typeof v !== type || (type === 'number' && !Number.isFinite(v))) {
    throw new BadMessageError(`${where}.${name} is ${v === undefined ? 'missing' : `not a ${type} (${JSON.stringify(v)})`}`);
  }
  return v as T extends 'string' ? string : number;
}
