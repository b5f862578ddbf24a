import fs from 'node:fs/promises';
import path from 'node:path';
import type { ResolvedModelFiles } from '../../model/model-store.js';
import { teamUrls } from '../../shared/layout.js';
import { API_DEFAULTS, QUEUE_DEFAULTS, WORKER_ENV } from '../../shared/worker-env.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { makeS3Client, makeSqsClient, requestLogFromEnv } from '../runtime/aws-clients.js';
import { startApiServer, type ApiServer } from '../console/server.js';
import { BucketObjects } from '../runtime/s3-objects.js';
import { reconcile, type ReconcileReport } from '../tasks/reconcile.js';
import { localStackEnv } from './constants.js';
import { startWorkerProcesses, type Fleet } from './fleet.js';
import { ensureModelInBucket, type SeededModel } from './model-seed.js';
import { copyRunFiles, summarize, uploadCsv, waitForRun } from './once.js';
import { generateSample, writeSampleCsv } from '../ops/sample.js';
import { REPO_ROOT, startLocalStack, type LocalStack } from './stack.js';

/** `npm start`: the embedded stack, a model in service, and N worker processes. */

export interface StartOptions {
  workers?: number;
  fresh?: boolean;
  dataDir?: string;
  port?: number;
  visibilityTimeoutSeconds?: number;
  maxReceiveCount?: number;
  /** The model to publish when the bucket has none in service (read only then). */
  modelFiles: () => Promise<ResolvedModelFiles>;
  /** The workers' environment, before the stack's own variables (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Where output goes, one line at a time (default stdout). */
  print?: (line: string) => void;
  /** Forward only warnings, errors and non-JSON lines of the workers and the bridge (for `--once`). */
  quiet?: boolean;
  /** argv of one worker; default `node --import tsx worker/commands/worker.ts`. */
  workerCommand?: string[];
  /** Extra variables for every worker (e.g. shorter heartbeats in tests). */
  workerEnv?: Record<string, string>;
  /** Uploads younger than this are on their way, not lost, when the start-up reconciler looks (default 60 s). */
  reconcileGraceMs?: number;
  /** The REST API (and the console beside it) on its own localhost port; `false` serves neither. */
  api?: { port?: number; console?: boolean } | false;
}

export interface Running {
  stack: LocalStack;
  model: SeededModel;
  fleet: Fleet;
  /** The REST API and console, unless turned off. */
  api: ApiServer | null;
  /**
   * Lost work resumed: once the workers have drained the queue (which survives restarts), every upload without a
   * record is requeued. Resolves with the reconciler's report (null when the stack stopped first).
   */
  reconciled: Promise<ReconcileReport | null>;
  /** Endpoints, team URLs and how to use the AWS CLI. */
  banner(): string;
  /** Workers first (SIGTERM, then SIGKILL after the stop timeout), then the servers. Safe to call twice. */
  stop(): Promise<void>;
}

export class StartError extends Error {
  override readonly name = 'StartError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export async function startLocal(opts: StartOptions): Promise<Running> {
  const workers = opts.workers ?? 2;
  if (!Number.isInteger(workers) || workers < 0 || workers > 64) throw new StartError(`--workers must be an integer from 0 to 64, got ${workers}`);
  const env = opts.env ?? process.env;
  const print = opts.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const forward = opts.quiet ? (line: string) => (isQuiet(line) ? undefined : print(line)) : print;

  const stack = await startLocalStack({
    dataDir: opts.dataDir,
    port: opts.port,
    fresh: opts.fresh,
    visibilityTimeoutSeconds: opts.visibilityTimeoutSeconds,
    maxReceiveCount: opts.maxReceiveCount,
    log: (l) => forward(`[stack] ${JSON.stringify({ time: new Date().toISOString(), level: l.event === 'bridge.error' ? 'error' : 'info', ...l })}`),
  });
  let model: SeededModel;
  const s3 = makeS3Client(stack.clients);
  try {
    model = await ensureModelInBucket(s3, stack.bucket, opts.modelFiles);
  } catch (err) {
    await stack.stop();
    throw new StartError(
      `no model in service and none could be imported: ${(err as Error).message.split('\n')[0]} (set MODEL_DIR to a folder with model.h5 + scaler.pkl, or an imported version)`,
      { cause: err },
    );
  } finally {
    s3.destroy();
  }

  const heartbeat = Math.min(QUEUE_DEFAULTS.heartbeatSeconds, Math.max(1, Math.floor(stack.visibilityTimeoutSeconds / 3)));
  const fleet = startWorkerProcesses({
    count: workers,
    command: opts.workerCommand ?? [process.execPath, '--import', 'tsx', path.join(REPO_ROOT, 'worker/commands/worker.ts')],
    cwd: REPO_ROOT,
    env: (id) => ({
      ...env,
      ...localStackEnv(stack.endpoint),
      [WORKER_ENV.queueUrl]: stack.queueUrl,
      [WORKER_ENV.dlqUrl]: stack.dlqUrl,
      [WORKER_ENV.bucket]: stack.bucket,
      [WORKER_ENV.maxReceiveCount]: String(stack.maxReceiveCount),
      [WORKER_ENV.visibilityTimeoutSeconds]: String(stack.visibilityTimeoutSeconds),
      [WORKER_ENV.heartbeatSeconds]: String(heartbeat),
      [WORKER_ENV.workerId]: id,
      ...opts.workerEnv,
    }),
    print: forward,
  });

  let api: ApiServer | null = null;
  if (opts.api !== false) {
    try {
      api = await startLocalApi(stack, opts.api ?? {});
    } catch (err) {
      await fleet.stop(QUEUE_DEFAULTS.ecsStopTimeoutSeconds * 1000);
      await stack.stop();
      throw new StartError(`the API could not start: ${(err as Error).message.split('\n')[0]}`, { cause: err });
    }
  }

  let stopping: Promise<void> | undefined;
  const reconciled = workers === 0 ? Promise.resolve(null) : resumeLostWork(stack, forward, () => stopping !== undefined, opts.reconcileGraceMs ?? 60_000);
  return {
    stack,
    model,
    fleet,
    api,
    reconciled,
    banner: () => banner(stack, model, fleet, api),
    stop: () => {
      stopping ??= Promise.resolve(api?.close())
        .then(() => fleet.stop(QUEUE_DEFAULTS.ecsStopTimeoutSeconds * 1000))
        .then(() => stack.stop());
      return stopping;
    },
  };
}

/** Waits for an empty queue, then requeues the uploads that have no record (their events were lost). */
async function resumeLostWork(stack: LocalStack, print: (line: string) => void, stopped: () => boolean, graceMs: number): Promise<ReconcileReport | null> {
  const s3 = makeS3Client(stack.clients);
  const sqs = makeSqsClient(stack.clients);
  try {
    for (;;) {
      if (stopped()) return null;
      const { Attributes = {} } = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: stack.queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
      );
      if (Number(Attributes.ApproximateNumberOfMessages) + Number(Attributes.ApproximateNumberOfMessagesNotVisible) === 0) break;
      await sleep(500);
    }
    // Grace: an upload whose event is on its way is not lost.
    const report = await reconcile(new BucketObjects(s3, stack.bucket), sqs, stack.queueUrl, { requeue: true, graceMs, region: stack.clients.region });
    print(
      `[stack] ${JSON.stringify({ time: new Date().toISOString(), level: report.missing.length ? 'warn' : 'info', event: 'stack.reconciled', checked: report.checked, requeued: report.requeued, neverPickedUp: report.neverPickedUp.map((o) => o.key) })}`,
    );
    return report;
  } catch (err) {
    if (stopped()) return null;
    print(`[stack] ${JSON.stringify({ time: new Date().toISOString(), level: 'error', event: 'stack.reconcile-failed', error: (err as Error).message })}`);
    return null;
  } finally {
    s3.destroy();
    sqs.destroy();
  }
}

/** The API and console against the embedded stack, with its clients (recorded as `api` when requests are logged). */
async function startLocalApi(stack: LocalStack, opts: { port?: number; console?: boolean }): Promise<ApiServer> {
  const requestLog = requestLogFromEnv(process.env, 'api');
  const clients = requestLog ? { ...stack.clients, requestLog } : stack.clients;
  const s3 = makeS3Client(clients);
  const sqs = makeSqsClient(stack.clients);
  const server = await startApiServer({
    api: { s3, config: { bucket: stack.bucket, maxBodyBytes: API_DEFAULTS.maxBodyBytes, presignSeconds: API_DEFAULTS.presignSeconds } },
    console:
      opts.console === false
        ? undefined
        : { s3: makeS3Client(stack.clients), sqs, queueUrl: stack.queueUrl, dlqUrl: stack.dlqUrl, dlqWaitSeconds: 0, target: 'local' },
    port: opts.port ?? 0,
  });
  return {
    ...server,
    close: async () => {
      await server.close();
      s3.destroy();
      sqs.destroy();
    },
  };
}

function banner(stack: LocalStack, model: SeededModel, fleet: Fleet, api: ApiServer | null): string {
  const { testUrl, predUrl } = teamUrls(stack.bucket);
  const e = localStackEnv(stack.endpoint);
  return [
    `local stack up; data in ${stack.dataDir} (S3 objects and queued messages persist across restarts; --fresh wipes both)`,
    `  endpoint   ${stack.endpoint}  (S3 and SQS; region ${stack.clients.region})`,
    `  bucket     ${stack.bucket}`,
    `  queue      ${stack.queueUrl}  (visibility ${stack.visibilityTimeoutSeconds} s, DLQ after ${stack.maxReceiveCount} receives)`,
    `  dlq        ${stack.dlqUrl}`,
    `  model      ${model.version}${model.source ? ` (imported from ${model.source})` : ' (already in service)'}`,
    `  workers    ${fleet.workers.map((w) => `${w.id} pid ${w.pid}`).join(', ') || 'none'}`,
    `  test_url   ${testUrl}`,
    `  pred_url   ${predUrl}`,
    `  api        ${api ? `${api.url}  (POST ${api.url}/runs with a CSV body; docs/api.md)` : 'off'}`,
    `  console    ${api?.consoleUrl ?? 'off'}`,
    'AWS CLI against it:',
    `  export AWS_ENDPOINT_URL=${stack.endpoint} AWS_DEFAULT_REGION=${stack.clients.region} AWS_ACCESS_KEY_ID=${e.AWS_ACCESS_KEY_ID} AWS_SECRET_ACCESS_KEY=${e.AWS_SECRET_ACCESS_KEY} \\`,
    `         AWS_REQUEST_CHECKSUM_CALCULATION=${e.AWS_REQUEST_CHECKSUM_CALCULATION} AWS_RESPONSE_CHECKSUM_VALIDATION=${e.AWS_RESPONSE_CHECKSUM_VALIDATION}`,
    `  aws s3 cp crypto_test.csv ${testUrl}`,
    `  aws s3 cp ${predUrl} -`,
    `  aws --endpoint-url ${stack.endpoint} sqs get-queue-attributes --queue-url ${stack.queueUrl} --attribute-names All`,
    '  (AWS CLI v1 ignores AWS_ENDPOINT_URL for sqs, v2 before 2.13 for everything: give it --endpoint-url)',
    '  npm run dlq        lists failed messages; npm run dlq -- --redrive moves them back',
    ...(api ? [`  curl -H 'content-type: text/csv' --data-binary @crypto_test.csv ${api.url}/runs`] : []),
    'Ctrl-C stops the workers, then the stack.',
  ].join('\n');
}

export interface OnceOptions {
  /** The CSV to upload; default: a synthetic sample of BTC, LTC and XRP. */
  csv?: string;
  outDir: string;
  timeoutMs: number;
}

/** Uploads one file, waits for its run, copies its files to `outDir`. Returns the summary and the exit code. */
export async function runOnce(running: Running, opts: OnceOptions): Promise<{ exitCode: number; summary: string }> {
  const { stack } = running;
  const s3 = makeS3Client(stack.clients);
  let csv = opts.csv;
  if (!csv) {
    csv = path.join(stack.dataDir, 'sample', 'crypto_sample.csv');
    await fs.mkdir(path.dirname(csv), { recursive: true });
    await writeSampleCsv(generateSample({ symbols: ['BTC', 'LTC', 'XRP'], days: 60 }), csv);
  }
  const upload = await uploadCsv(s3, stack.bucket, csv);
  const outcome = await waitForRun(s3, upload, { timeoutMs: opts.timeoutMs, maxReceiveCount: stack.maxReceiveCount });
  const files = outcome.status === 'timed-out' ? [] : await copyRunFiles(s3, stack.bucket, outcome, opts.outDir);
  s3.destroy();
  return { exitCode: outcome.status === 'succeeded' ? 0 : 1, summary: summarize(upload, outcome, files) };
}

/** For `--once`: keep warnings, errors and anything that is not a JSON log line. */
function isQuiet(line: string): boolean {
  const json = line.slice(line.indexOf(']') + 2);
  try {
    const level = (JSON.parse(json) as { level?: unknown }).level;
    return level === 'info' || level === 'debug';
  } catch {
    return false;
  }
}
