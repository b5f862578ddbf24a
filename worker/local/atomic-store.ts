import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { S3rverMetadata, S3rverObject, S3rverStore } from 's3rver';
import { etagMatches, s3WriteContext, type S3WriteContext } from './conditions.js';
import { noSuchKey, preconditionFailed, s3Error, S3Object } from './s3-errors.js';

/**
 * Makes s3rver's filesystem store write atomically, as S3 does: a reader sees the old object or the new one, whole.
 *
 * s3rver 3.7 writes an object in place (a GET during the write returned the bytes written so far, under the old
 * Content-Length, and hung when fewer came) and answers the PUT before its file is closed. Here every object, part,
 * ETag file and metadata file is written to `tmpDir` first and renamed into place; the three renames of one write
 * happen under an exclusive lock, and a read takes its metadata and opens its file under a shared one, so it streams
 * the inode it opened (POSIX keeps a renamed-over file readable) with the metadata that belongs to it.
 *
 * The write's preconditions (`If-None-Match: *`, `If-Match`) are checked inside the same exclusive section, so of two
 * conditional writes of one key exactly one can win. A streamed body whose SHA-256 differs from the declared one is
 * discarded before the rename. A crash between the renames of one write can leave a new object with its old ETag
 * file; a crash before them leaves only a temporary file, removed at the next start.
 */
export async function makeStoreAtomic(store: S3rverStore, tmpDir: string): Promise<void> {
  await fsp.rm(tmpDir, { recursive: true, force: true });
  await fsp.mkdir(tmpDir, { recursive: true });
  const lock = new ReadWriteLock();
  const rawGetMetadata = store.getMetadata.bind(store);
  const rawDeleteObject = store.deleteObject.bind(store);
  const paths = (bucket: string, key: string) => ({
    object: store.getResourcePath(bucket, key, 'object'),
    md5: store.getResourcePath(bucket, key, 'object.md5'),
    metadata: store.getResourcePath(bucket, key, 'metadata.json'),
  });
  const temp = () => path.join(tmpDir, randomUUID());

  const currentEtag = async (bucket: string, key: string): Promise<string | undefined> => {
    try {
      return (await rawGetMetadata(bucket, key)).etag;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  };

  const checkConditions = async (bucket: string, key: string, ctx: S3WriteContext | undefined): Promise<void> => {
    if (ctx?.ifMatch === undefined && ctx?.ifNoneMatch === undefined) return;
    const etag = await currentEtag(bucket, key);
    if (ctx.ifNoneMatch !== undefined && etag !== undefined) throw preconditionFailed('If-None-Match');
    if (ctx.ifMatch !== undefined) {
      if (etag === undefined) throw noSuchKey(key);
      if (!etagMatches(ctx.ifMatch, etag)) throw preconditionFailed('If-Match');
    }
  };

  /** Moves the written temporary files into place, after the write's preconditions hold. */
  const commit = (bucket: string, key: string, files: { object: string; md5: string; metadata: string }, ctx: S3WriteContext | undefined) =>
    lock.write(async () => {
      await checkConditions(bucket, key, ctx);
      const target = paths(bucket, key);
      await fsp.mkdir(path.dirname(target.object), { recursive: true });
      await fsp.rename(files.object, target.object);
      await fsp.rename(files.md5, target.md5);
      await fsp.rename(files.metadata, target.metadata);
    });

  const removeAll = (files: string[]) => Promise.all(files.map((f) => fsp.rm(f, { force: true })));

  store.getMetadata = (bucket, key) => lock.read(() => rawGetMetadata(bucket, key));

  store.getObject = (bucket, key, options) =>
    lock.read(async () => {
      let metadata: S3rverMetadata;
      try {
        metadata = await rawGetMetadata(bucket, key);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw err;
      }
      // As s3rver's own getObject: an unsatisfiable range is returned without content.
      const lastByte = Math.max(0, Number(metadata['content-length']) - 1);
      const ranged = options !== undefined && (options.start !== undefined || options.end !== undefined);
      const range = { start: options?.start ?? 0, end: Math.min(options?.end ?? Infinity, lastByte) };
      const object = (content: S3rverObject['content']) => Object.assign(new S3Object(bucket, key, content, metadata), ranged ? { range } : {});
      if (range.start < 0 || range.end < range.start) return object(null);
      const content = await new Promise<fs.ReadStream>((resolve, reject) => {
        const stream = fs
          .createReadStream(paths(bucket, key).object, range)
          .on('error', reject)
          .on('open', () => resolve(stream));
      });
      return object(content);
    });

  store.putObject = async (object) => {
    const ctx = s3WriteContext.getStore();
    const files = { object: temp(), md5: temp(), metadata: temp() };
    try {
      const md5 = createHash('md5');
      let size = 0;
      if (Buffer.isBuffer(object.content)) {
        md5.update(object.content);
        size = object.content.length;
        await fsp.writeFile(files.object, object.content);
      } else if (object.content) {
        const count = new Transform({
          transform(chunk: Buffer, _encoding, callback) {
            md5.update(chunk);
            size += chunk.length;
            callback(null, chunk);
          },
        });
        await pipeline(object.content, count, fs.createWriteStream(files.object));
      } else {
        await fsp.writeFile(files.object, '');
      }
      await ctx?.payloadVerified?.();
      const digest = md5.digest('hex');
      await fsp.writeFile(files.md5, digest);
      await fsp.writeFile(files.metadata, JSON.stringify(storedMetadata(object.metadata), null, 2));
      await commit(object.bucket, object.key, files, ctx);
      return { size, md5: digest };
    } finally {
      await removeAll(Object.values(files));
    }
  };

  store.copyObject = async (srcBucket, srcKey, destBucket, destKey, replacementMetadata) => {
    const ctx = s3WriteContext.getStore();
    const files = { object: temp(), md5: temp(), metadata: temp() };
    try {
      await lock.read(async () => {
        const src = paths(srcBucket, srcKey);
        const { etag } = await rawGetMetadata(srcBucket, srcKey);
        await fsp.copyFile(src.object, files.object);
        await fsp.writeFile(files.md5, etag.replace(/"/g, ''));
        const metadata = replacementMetadata
          ? JSON.stringify(storedMetadata(replacementMetadata), null, 2)
          : await fsp.readFile(src.metadata, 'utf8').catch((err: NodeJS.ErrnoException) => {
              if (err.code === 'ENOENT') return '{}';
              throw err;
            });
        await fsp.writeFile(files.metadata, metadata);
      });
      await commit(destBucket, destKey, files, ctx);
    } finally {
      await removeAll(Object.values(files));
    }
    return store.getMetadata(destBucket, destKey);
  };

  store.deleteObject = (bucket, key) => lock.write(() => rawDeleteObject(bucket, key));

  // Parts are not visible to readers; they are written whole (s3rver answered before its file was closed), and the
  // upload id and part number, taken from the query string, must not name a path.
  store.putPart = async (bucket, uploadId, partNumber, content) => {
    const part = partPath(store, bucket, uploadId, partNumber);
    const ctx = s3WriteContext.getStore();
    const tmp = temp();
    try {
      const md5 = createHash('md5');
      let size = 0;
      const count = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          md5.update(chunk);
          size += chunk.length;
          callback(null, chunk);
        },
      });
      await pipeline(content, count, fs.createWriteStream(tmp));
      await ctx?.payloadVerified?.();
      const digest = md5.digest('hex');
      await fsp.mkdir(path.dirname(part), { recursive: true });
      await fsp.rename(tmp, part);
      await fsp.writeFile(`${part}.md5`, digest);
      return { size, md5: digest };
    } finally {
      await fsp.rm(tmp, { force: true });
    }
  };

  const rawPutObjectMultipart = store.putObjectMultipart.bind(store);
  store.putObjectMultipart = async (bucket, uploadId, parts) => {
    partPath(store, bucket, uploadId, 1);
    return rawPutObjectMultipart(bucket, uploadId, parts);
  };
}

function partPath(store: S3rverStore, bucket: string, uploadId: string, partNumber: string | number): string {
  if (!/^[0-9a-f]{32}$/.test(uploadId)) {
    throw s3Error('NoSuchUpload', 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.', {
      UploadId: uploadId,
    });
  }
  const n = Number(partNumber);
  if (!Number.isInteger(n) || n < 1 || n > 10000 || String(n) !== String(partNumber)) {
    throw s3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', {
      ArgumentName: 'partNumber',
      ArgumentValue: String(partNumber),
    });
  }
  return path.join(store.getResourcePath(bucket, undefined, 'uploads'), uploadId, String(n));
}

/** What s3rver keeps of a PUT's headers (its putMetadata): the standard metadata headers and `x-amz-meta-*`. */
function storedMetadata(metadata: Record<string, string | number>): Record<string, string | number> {
  const kept: Record<string, string | number> = {};
  for (const [name, value] of Object.entries(metadata)) {
    if (S3Object.ALLOWED_METADATA.includes(name) || name.startsWith('x-amz-meta-')) kept[name] = value;
  }
  return kept;
}

/**
 * Shared for reads, exclusive for commits; a waiting writer holds back new readers, so a stream of GETs cannot
 * starve an overwrite. Not re-entrant: nothing inside a section takes the lock again.
 */
class ReadWriteLock {
  private readers = 0;
  private writing = false;
  private writersWaiting = 0;
  private waiters: (() => void)[] = [];

  async read<T>(fn: () => Promise<T>): Promise<T> {
    while (this.writing || this.writersWaiting > 0) await this.wait();
    this.readers++;
    try {
      return await fn();
    } finally {
      this.readers--;
      this.wake();
    }
  }

  async write<T>(fn: () => Promise<T>): Promise<T> {
    this.writersWaiting++;
    try {
      while (this.writing || this.readers > 0) await this.wait();
    } finally {
      this.writersWaiting--;
    }
    this.writing = true;
    try {
      return await fn();
    } finally {
      this.writing = false;
      this.wake();
    }
  }

  private wait(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }
}
