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

  export interface S3rverStore {
    /** Throws ENOENT when the object does not exist. `etag` is quoted. */
    getMetadata(bucket: string, key: string): Promise<{ etag: string; 'content-length': number; 'last-modified': string }>;
    getBucket(bucket: string): Promise<unknown>;
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
