import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import { MODEL_POINTER_KEY, PREFIX } from '../../shared/layout.js';
import { WORKER_ENV } from '../../shared/worker-env.js';
import { resolveModelFiles } from '../../worker/cli/model-args.js';
import { localStackEnv } from '../../worker/local/constants.js';
import { makeS3Client, makeSqsClient } from '../../worker/runtime/aws-clients.js';
import { createWorkerApp, type WorkerApp } from '../../worker/runtime/app.js';
import { workerConfigFromEnv } from '../../worker/runtime/config.js';
import { createLogger } from '../../worker/runtime/log.js';
import { startLocalStack, type LocalStack } from '../../worker/local/stack.js';
import { publishModelVersion } from '../../worker/ops/model-publish.js';
import { BucketObjects } from '../../worker/runtime/s3-objects.js';
import { repoRoot } from './paths.js';

export interface TestStack {
  stack: LocalStack;
  s3: S3Client;
  sqs: SQSClient;
  objects: BucketObjects;
  modelVersion: string;
  env(overrides?: Record<string, string>): Record<string, string>;
  close(): Promise<void>;
}

/** The embedded stack on a free port and a fresh folder, with the team's model published as current. */
export async function startTestStack(opts: { visibilityTimeoutSeconds?: number; maxReceiveCount?: number } = {}): Promise<TestStack> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-'));
  const stack = await startLocalStack({
    port: 0,
    dataDir,
    fresh: true,
    visibilityTimeoutSeconds: opts.visibilityTimeoutSeconds ?? 4,
    maxReceiveCount: opts.maxReceiveCount ?? 3,
  });
  const s3 = makeS3Client(stack.clients);
  const sqs = makeSqsClient(stack.clients);
  const objects = new BucketObjects(s3, stack.bucket);
  const { files } = await resolveModelFiles({}, {}, repoRoot);
  const pointer = await publishModelVersion(objects, files, MODEL_POINTER_KEY, true);
  return {
    stack,
    s3,
    sqs,
    objects,
    modelVersion: pointer.version,
    env: (overrides = {}) => ({
      ...localStackEnv(stack.endpoint),
      [WORKER_ENV.queueUrl]: stack.queueUrl,
      [WORKER_ENV.dlqUrl]: stack.dlqUrl,
      [WORKER_ENV.bucket]: stack.bucket,
      [WORKER_ENV.heartbeatSeconds]: '1',
      [WORKER_ENV.visibilityTimeoutSeconds]: String(stack.visibilityTimeoutSeconds),
      [WORKER_ENV.waitTimeSeconds]: '1',
      [WORKER_ENV.maxReceiveCount]: String(stack.maxReceiveCount),
      [WORKER_ENV.stopBudgetSeconds]: '10',
      [WORKER_ENV.codeVersion]: 'test',
      // Recorded as the worker when the suite records requests (test/e2e-setup.ts).
      ...(process.env[WORKER_ENV.requestLog] ? { [WORKER_ENV.requestLog]: process.env[WORKER_ENV.requestLog]!, [WORKER_ENV.requestPrincipal]: 'worker' } : {}),
      ...overrides,
    }),
    close: async () => {
      s3.destroy();
      sqs.destroy();
      await stack.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A worker in this process (model loaded once for the whole test file); logs kept for assertions. */
export async function inProcessWorker(fleet: TestStack, overrides: Record<string, string> = {}): Promise<WorkerApp & { logs: Record<string, unknown>[] }> {
  const env = fleet.env({ [WORKER_ENV.workerId]: `in-process-${Math.random().toString(16).slice(2, 8)}`, ...overrides });
  const logs: Record<string, unknown>[] = [];
  const config = workerConfigFromEnv(env);
  const log = createLogger({ worker: config.workerId }, 'debug', (line) => void logs.push(JSON.parse(line)));
  const app = await createWorkerApp(config, log);
  app.worker.start();
  return Object.assign(app, { logs });
}

export interface WorkerProcess {
  child: ChildProcess;
  id: string;
  logs: Record<string, unknown>[];
  waitForLog(predicate: (l: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** A worker as a separate process, as `npm start` runs them. */
export function spawnWorker(fleet: TestStack, id: string, overrides: Record<string, string> = {}): WorkerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'worker/commands/worker.ts')], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...fleet.env({ [WORKER_ENV.workerId]: id, ...overrides }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const waiters: { predicate: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];
  let buffer = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line);
      } catch {
        entry = { event: 'stdout', text: line.slice(0, 300) };
      }
      logs.push(entry);
      for (const w of [...waiters]) if (w.predicate(entry)) (waiters.splice(waiters.indexOf(w), 1), w.resolve(entry));
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => logs.push({ event: 'stderr', text: chunk.toString('utf8').slice(0, 300) }));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    id,
    logs,
    exited,
    waitForLog: (predicate, timeoutMs = 60_000) => {
      const found = logs.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`worker ${id}: no matching log line in ${timeoutMs} ms; last: ${JSON.stringify(logs.slice(-5))}`)),
          timeoutMs,
        );
        waiters.push({ predicate, resolve: (l) => (clearTimeout(timer), resolve(l)) });
      });
    },
  };
}

export async function upload(fleet: TestStack, key: string, body: string | Buffer): Promise<string> {
  const r = await fleet.s3.send(new PutObjectCommand({ Bucket: fleet.stack.bucket, Key: key, Body: body }));
  await fleet.stack.settled();
  return (r.ETag ?? '').replace(/"/g, '');
}

export async function listKeys(fleet: TestStack, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const r = await fleet.s3.send(new ListObjectsV2Command({ Bucket: fleet.stack.bucket, Prefix: prefix, ContinuationToken: token }));
    keys.push(...(r.Contents ?? []).map((o) => o.Key!));
    token = r.NextContinuationToken;
  } while (token);
  return keys;
}

export async function readJson<T>(fleet: TestStack, key: string): Promise<T> {
  return JSON.parse(Buffer.from((await fleet.objects.getBytes(key)).body).toString('utf8')) as T;
}

export async function readText(fleet: TestStack, key: string): Promise<string> {
  return Buffer.from((await fleet.objects.getBytes(key)).body).toString('utf8');
}

/** Polls until `probe` returns a value (not undefined) or the time is up. */
export async function eventually<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 30_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Run folders holding a file `name` (manifest.json or error.json). */
export async function runsWith(fleet: TestStack, name: string): Promise<string[]> {
  return (await listKeys(fleet, PREFIX.runs)).filter((k) => k.endsWith(`/${name}`));
}

export async function queueCounts(fleet: TestStack, queueUrl: string): Promise<{ visible: number; inFlight: number }> {
  const r = await fleet.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  return { visible: Number(r.Attributes?.ApproximateNumberOfMessages ?? 0), inFlight: Number(r.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0) };
}

/** Reads DLQ messages without keeping them (visibility 0; local-aws-sqs may then return one message several times). */
export async function peekDlq(fleet: TestStack): Promise<Message[]> {
  const r = await fleet.sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: fleet.stack.dlqUrl,
      MaxNumberOfMessages: 10,
      VisibilityTimeout: 0,
      MessageAttributeNames: ['All'],
      MessageSystemAttributeNames: ['ApproximateReceiveCount'],
      WaitTimeSeconds: 0,
    }),
  );
  return [...new Map((r.Messages ?? []).map((m) => [m.MessageId, m])).values()];
}
