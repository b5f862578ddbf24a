/** The part of s3rver 3.7 (a Koa app) the local stack uses; the package ships no types. */
declare module 's3rver' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export interface S3rverOptions {
    directory: string;
    silent?: boolean;
    resetOnClose?: boolean;
    allowMismatchedSignatures?: boolean;
    vhostBuckets?: boolean;
    configureBuckets?: { name: string; configs?: (string | Buffer)[] }[];
  }

  /** What `event` carries: one record, key not encoded, eTag only for Put and Post. */
  export interface S3rverEvent {
    Records: {
      eventTime: string;
      eventName: string;
      s3: { bucket: { name: string }; object: { key: string; size?: number; eTag?: string; sequencer: string } };
      requestParameters: { sourceIPAddress: string };
    }[];
  }

  export type S3rverMetadata = Record<string, string | number> & { etag: string; 'content-length': number; 'last-modified': string };

  /** lib/models/object.js: `content` is a stream or a Buffer (to write) or a read stream (read), or null. */
  export interface S3rverObject {
    bucket: string;
    key: string;
    content: NodeJS.ReadableStream | Buffer | null;
    metadata: Record<string, string | number>;
    range?: { start: number; end: number };
  }

  /** lib/stores/filesystem.js (FilesystemStore): the methods the local stack uses or replaces. */
  export interface S3rverStore {
    rootDirectory: string;
    /** `<root>/<bucket>/<key dirs>/<last segment>._S3rver_<resource>` */
    getResourcePath(bucket: string, key: string | undefined, resource: string): string;
    /** Throws ENOENT when the object does not exist. `etag` is quoted. */
    getMetadata(bucket: string, key: string): Promise<S3rverMetadata>;
    getBucket(bucket: string): Promise<unknown>;
    getObject(bucket: string, key: string, options?: { start?: number; end?: number }): Promise<S3rverObject | null>;
    putObject(object: S3rverObject): Promise<{ size: number; md5: string }>;
    copyObject(
      srcBucket: string,
      srcKey: string,
      destBucket: string,
      destKey: string,
      replacementMetadata: Record<string, string> | null,
    ): Promise<S3rverMetadata>;
    deleteObject(bucket: string, key: string): Promise<void>;
    putPart(bucket: string, uploadId: string, partNumber: string | number, content: NodeJS.ReadableStream): Promise<{ size: number; md5: string }>;
    putObjectMultipart(bucket: string, uploadId: string, parts: { number: number; etag: string }[]): Promise<{ size: number; md5: string }>;
  }

  export default class S3rver {
    constructor(options: S3rverOptions);
    store: S3rverStore;
    logger: { close(): void };
    configureBuckets(): Promise<void>;
    /** The Koa request handler. */
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    on(event: 'event', listener: (event: S3rverEvent) => void): this;
    on(event: 'error', listener: (err: Error) => void): this;
  }
}
