import { randomBytes } from 'node:crypto';
import type { S3EventNotification, S3EventRecord, S3TestEvent } from '../../shared/s3-event.js';

/** S3's event notifications as S3 sends them to SQS: built by the reconciler for lost uploads, and by the embedded stack's bridge. */

/**
 * An object key -> its form in a notification: form encoding as S3 does it (Java's URLEncoder:
 * letters, digits and `-_.*` kept, space -> `+`, everything else percent-encoded as UTF-8), except `/`, which S3 keeps.
 */
export function encodeS3EventKey(key: string): string {
  return encodeURIComponent(key)
    .replace(/[!'()~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+')
    .replace(/%2F/g, '/');
}

export interface BuildS3EventInput {
  bucket: string;
  /** The object's key, not encoded. */
  key: string;
  size: number;
  /** With or without quotes; written without. */
  eTag: string;
  sequencer: string;
  versionId?: string;
  eventName?: string;
  eventTime?: Date;
  region?: string;
  sourceIp?: string;
  configurationId?: string;
}

/** The notification JSON S3 sends to SQS for one object-created event (event version 2.1). */
export function buildS3Event(input: BuildS3EventInput): S3EventNotification {
  const object: S3EventRecord['s3']['object'] = {
    key: encodeS3EventKey(input.key),
    size: input.size,
    eTag: input.eTag.replace(/"/g, ''),
    ...(input.versionId === undefined ? {} : { versionId: input.versionId }),
    sequencer: input.sequencer,
  };
  return {
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: input.region ?? 'us-east-1',
        eventTime: (input.eventTime ?? new Date()).toISOString(),
        eventName: input.eventName ?? 'ObjectCreated:Put',
        userIdentity: { principalId: `AWS:${hex(10).toUpperCase()}` },
        requestParameters: { sourceIPAddress: input.sourceIp ?? '127.0.0.1' },
        responseElements: { 'x-amz-request-id': hex(8).toUpperCase(), 'x-amz-id-2': randomBytes(48).toString('base64') },
        s3: {
          s3SchemaVersion: '1.0',
          configurationId: input.configurationId ?? 'incoming-csv',
          bucket: { name: input.bucket, ownerIdentity: { principalId: hex(7).toUpperCase() }, arn: `arn:aws:s3:::${input.bucket}` },
          object,
        },
      },
    ],
  };
}

export function buildS3TestEvent(bucket: string, time = new Date()): S3TestEvent {
  return {
    Service: 'Amazon S3',
    Event: 's3:TestEvent',
    Time: time.toISOString(),
    Bucket: bucket,
    RequestId: hex(8).toUpperCase(),
    HostId: randomBytes(48).toString('base64'),
  };
}

function hex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}
