import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequestHandler } from 'local-aws-sqs';
import S3rver from 's3rver';
import { QUEUE_DEFAULTS } from '../../shared/worker-env.js';
import type { StackTarget } from '../ops/stack.js';
import { makeSqsClient } from '../runtime/aws-clients.js';
import { createBridge } from './bridge.js';
import { LOCAL_STACK, localClientSettings, localEndpoint, localQueueUrl } from './constants.js';
import { makeStoreAtomic } from './atomic-store.js';
import { gateway } from './gateway.js';
import { applySqsFixes } from './sqs-compat.js';
import { persistQueues, type PersistedQueues } from './sqs-persistence.js';

/**
 * The embedded AWS-compatible stack, in this process: s3rver (objects on disk under `<dataDir>/s3`), local-aws-sqs
 * (the work queue and its DLQ, journaled under `<dataDir>/sqs`) behind one port, and the bridge that turns object-created events under
 * `incoming/` into S3 notifications on the queue.
 */

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const DEFAULT_DATA_DIR = path.join(REPO_ROOT, '.local');

export interface LocalStackOptions {
  /** Default `<repo>/.local`; objects (`<dataDir>/s3`) and queued messages (`<dataDir>/sqs`) survive a restart. */
  dataDir?: string;
  /** Default 4569; 0 picks a free port. */
  port?: number;
  /** Delete `<dataDir>/s3` and `<dataDir>/sqs` (objects and queued messages) first. */
  fresh?: boolean;
  visibilityTimeoutSeconds?: number;
  maxReceiveCount?: number;
  /** One JSON object per bridge event (forwarded, skipped, error); default: none. */
  log?: (line: Record<string, unknown>) => void;
}

export interface LocalStack extends StackTarget {
  kind: 'local';
  /** The one endpoint of S3 and SQS. */
  endpoint: string;
  port: number;
  dataDir: string;
  maxReceiveCount: number;
  visibilityTimeoutSeconds: number;
  /** Resolves once every upload seen so far has its notification on the queue. */
  settled(): Promise<void>;
  /** Stops the bridge, then the servers. Safe to call more than once. */
  stop(): Promise<void>;
}

export class LocalStackError extends Error {
  override readonly name = 'LocalStackError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export async function startLocalStack(opts: LocalStackOptions = {}): Promise<LocalStack> {
  const port = intOption('port', opts.port ?? LOCAL_STACK.port, 0, 65535);
  const visibilityTimeoutSeconds = intOption('visibilityTimeoutSeconds', opts.visibilityTimeoutSeconds ?? QUEUE_DEFAULTS.visibilityTimeoutSeconds, 0, 43200);
  const maxReceiveCount = intOption('maxReceiveCount', opts.maxReceiveCount ?? QUEUE_DEFAULTS.maxReceiveCount, 1, 1000);
  const dataDir = path.resolve(opts.dataDir ?? DEFAULT_DATA_DIR);
  const log = opts.log ?? (() => {});
  const s3Dir = path.join(dataDir, 's3');
  const sqsDir = path.join(dataDir, 'sqs');
  if (opts.fresh) {
    await fs.rm(s3Dir, { recursive: true, force: true });
    await fs.rm(sqsDir, { recursive: true, force: true });
  }
  await fs.mkdir(s3Dir, { recursive: true });

  const s3rver = new S3rver({ directory: s3Dir, silent: true, configureBuckets: [{ name: LOCAL_STACK.bucket }] });
  await s3rver.configureBuckets();
  await makeStoreAtomic(s3rver.store, path.join(dataDir, 's3-tmp'));
  s3rver.on('error', () => {}); // S3 errors are answered to the client; Koa would also print them.

  const dlqArn = `arn:aws:sqs:${LOCAL_STACK.region}:${LOCAL_STACK.accountId}:${LOCAL_STACK.dlqName}`;
  const sqs = createRequestHandler({
    port,
    hostname: LOCAL_STACK.host,
    region: LOCAL_STACK.region,
    accountId: LOCAL_STACK.accountId,
    emulateQueueCreationLifecycle: false,
    queues: [
      { QueueName: LOCAL_STACK.dlqName, Attributes: { MessageRetentionPeriod: 1209600 } },
      {
        QueueName: LOCAL_STACK.queueName,
        Attributes: { VisibilityTimeout: visibilityTimeoutSeconds, RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount }) },
      },
    ],
  });
  applySqsFixes(sqs.service);
  let queueStore: PersistedQueues;
  try {
    queueStore = persistQueues(sqs.service, sqsDir);
  } catch (err) {
    s3rver.logger.close();
    throw new LocalStackError((err as Error).message, { cause: err });
  }
  if (Object.values(queueStore.restored).some((n) => n > 0)) log({ event: 'stack.queues-restored', ...queueStore.restored });

  const server = http.createServer(
    gateway({
      s3: s3rver.callback(),
      sqs: sqs.requestHandler,
      store: s3rver.store,
      credentials: LOCAL_STACK.credentials,
      region: LOCAL_STACK.region,
      onError: (err) => log({ event: 'stack.error', error: (err as Error).message }),
    }),
  );
  // Workers keep connections alive; a long poll may outlast the default timeouts.
  server.keepAliveTimeout = 65_000;
  server.requestTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new LocalStackError(
          err.code === 'EADDRINUSE'
            ? `port ${port} is in use: stop the other stack or pass another port (--port)`
            : `cannot listen on ${LOCAL_STACK.host}:${port}: ${err.message}`,
          { cause: err },
        ),
      ),
    );
    server.listen(port, LOCAL_STACK.host, resolve);
  }).catch((err: unknown) => {
    queueStore.close();
    s3rver.logger.close();
    throw err;
  });
  const actualPort = (server.address() as { port: number }).port;
  sqs.service.PORT = actualPort;
  const endpoint = localEndpoint(actualPort);

  const target: StackTarget & { kind: 'local' } = {
    kind: 'local',
    bucket: LOCAL_STACK.bucket,
    queueUrl: localQueueUrl(endpoint, LOCAL_STACK.queueName),
    dlqUrl: localQueueUrl(endpoint, LOCAL_STACK.dlqName),
    clients: localClientSettings(endpoint),
  };
  // S3 retries its event deliveries too: the SDK's standard strategy, with backoff, before a send is given up.
  const sqsClient = makeSqsClient({ ...target.clients, maxAttempts: 8 });
  const bridge = createBridge({ bucket: target.bucket, region: LOCAL_STACK.region, queueUrl: target.queueUrl, sqs: sqsClient, store: s3rver.store, log });
  s3rver.on('event', (event) => bridge.onEvent(event));

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await bridge.settled();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      sqsClient.destroy();
      queueStore.close();
      s3rver.logger.close();
    })();
    return stopping;
  };

  return {
    ...target,
    endpoint,
    port: actualPort,
    dataDir,
    maxReceiveCount,
    visibilityTimeoutSeconds,
    settled: () => bridge.settled(),
    stop,
  };
}

function intOption(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) throw new LocalStackError(`${name} must be an integer from ${min} to ${max}, got ${value}`);
  return value;
}
