import { ListObjectVersionsCommand, paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { escapePrintable } from '../../shared/escape.js';
import { INPUT_SUFFIX, isIncomingCsv, PREFIX, uploadStatusKey } from '../../shared/layout.js';
import type { UploadStatus } from '../../shared/manifest.js';
import { isNotFound } from '../runtime/failures.js';
import type { BucketObjects } from '../runtime/s3-objects.js';
import { buildS3Event } from './s3-notification.js';

/**
 * Proves that every upload ended: each object (each version, where the bucket is versioned) under `incoming/` has
 * a status record (a manifest or an error record of its run), else it is missing — its event was lost (a dropped
 * notification, a DLQ message expired after 14 days, a local stack restarted with work queued). Objects no run will
 * ever pick up (another extension or case, such as `.CSV`) are listed apart. With `requeue`, each missing upload gets
 * a fresh S3-format event on the work queue; runs are idempotent, so sending one twice is harmless.
 */

export interface UploadObject {
  key: string;
  versionId: string | null;
  etag: string;
  size: number;
  lastModified: Date;
}

export interface ReconcileOptions {
  /** Only objects modified at or after this time. */
  since?: Date;
  /** Objects younger than this are in flight, not missing (default 5 minutes). */
  graceMs?: number;
  requeue?: boolean;
  now?: Date;
  region?: string;
}

export interface ReconcileReport {
  checked: number;
  missing: UploadObject[];
  /** Under incoming/ but not `*.csv`: no notification is configured for them. */
  neverPickedUp: UploadObject[];
  inFlight: number;
  failed: number;
  requeued: number;
}

function unquote(etag: string | undefined): string {
  return (etag ?? '').replace(/"/g, '');
}

/** Every version of every object under incoming/ where the bucket keeps versions, else every object. */
export async function listUploads(s3: S3Client, bucket: string): Promise<UploadObject[]> {
  const out: UploadObject[] = [];
  try {
    // The SDK has no paginator for ListObjectVersions: its pages go on from a key and version marker.
    let markers: { KeyMarker?: string; VersionIdMarker?: string } = {};
    for (;;) {
      const page = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: PREFIX.incoming, ...markers }));
      for (const v of page.Versions ?? []) {
        // An unversioned object (the local stack, or objects from before versioning) has the version id "null".
        const versionId = v.VersionId && v.VersionId !== 'null' ? v.VersionId : null;
        out.push({ key: v.Key!, versionId, etag: unquote(v.ETag), size: v.Size ?? 0, lastModified: v.LastModified ?? new Date(0) });
      }
      if (!page.IsTruncated) return out;
      markers = { KeyMarker: page.NextKeyMarker, VersionIdMarker: page.NextVersionIdMarker };
    }
  } catch (err) {
    // A store without versions (the embedded one) may not know the call at all.
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status !== 501 && status !== 405 && status !== 400 && (err as Error).name !== 'NotImplemented') throw err;
  }
  for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: bucket, Prefix: PREFIX.incoming })) {
    for (const o of page.Contents ?? [])
      out.push({ key: o.Key!, versionId: null, etag: unquote(o.ETag), size: o.Size ?? 0, lastModified: o.LastModified ?? new Date(0) });
  }
  return out;
}

/** The sequencer of a requeued event: from the object's modification time, so requeuing it again names the same run. */
export function requeueSequencer(lastModified: Date): string {
  return (BigInt(lastModified.getTime()) * 1000n).toString(16).toUpperCase().padStart(18, '0');
}

export async function reconcile(objects: BucketObjects, sqs: SQSClient, queueUrl: string, opts: ReconcileOptions = {}): Promise<ReconcileReport> {
  const now = opts.now ?? new Date();
  const grace = opts.graceMs ?? 5 * 60_000;
  const report: ReconcileReport = { checked: 0, missing: [], neverPickedUp: [], inFlight: 0, failed: 0, requeued: 0 };
  for (const o of await listUploads(objects.s3, objects.bucket)) {
    if (opts.since && o.lastModified < opts.since) continue;
    // A folder marker (`incoming/x/`) is not an upload.
    if (o.key.endsWith('/') && o.size === 0) continue;
    if (!isIncomingCsv(o.key)) {
      report.neverPickedUp.push(o);
      continue;
    }
    report.checked++;
    let status: UploadStatus | undefined;
    try {
      status = JSON.parse(
        Buffer.from((await objects.getBytes(uploadStatusKey(objects.bucket, o.key, o.versionId ?? o.etag))).body).toString('utf8'),
      ) as UploadStatus;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    if (status) {
      if (status.status === 'failed') report.failed++;
      continue;
    }
    if (now.getTime() - o.lastModified.getTime() < grace) {
      report.inFlight++;
      continue;
    }
    report.missing.push(o);
    if (opts.requeue) {
      const event = buildS3Event({
        bucket: objects.bucket,
        key: o.key,
        size: o.size,
        eTag: o.etag,
        sequencer: requeueSequencer(o.lastModified),
        ...(o.versionId ? { versionId: o.versionId } : {}),
        eventTime: o.lastModified,
        region: opts.region,
        configurationId: 'reconcile',
      });
      await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(event) }));
      report.requeued++;
    }
  }
  return report;
}

export function formatReconcileReport(r: ReconcileReport): string {
  const lines: string[] = [];
  for (const o of r.missing)
    lines.push(`missing        ${escapePrintable(o.key)}${o.versionId ? ` (version ${o.versionId})` : ''}  modified ${o.lastModified.toISOString()}`);
  for (const o of r.neverPickedUp) lines.push(`never picked   ${escapePrintable(o.key)}  (only *${INPUT_SUFFIX} under ${PREFIX.incoming} start a run)`);
  lines.push(
    `${r.checked} uploads checked: ${r.failed} failed (with an error record), ${r.inFlight} in flight, ${r.neverPickedUp.length} never picked up${r.requeued ? `, ${r.requeued} requeued` : ''}`,
  );
  lines.push(`${r.missing.length} missing`);
  return lines.join('\n');
}
