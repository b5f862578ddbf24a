/**
 * The floor of the embedded stand-ins, no inference: PUT incoming/x.csv -> bridge -> queue -> long-poll receive ->
 * GET (If-Match) -> PUT predictions/x_preds.csv -> delete. The stack runs in this process; the client (uploader and
 * "worker") in a child process, as `npm start` would have it.
 *   npx tsx test/local/stand-in-floor.ts [uploads=20]
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { DeleteMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { parseQueueMessage } from '../../shared/s3-event.js';
import { makeS3Client, makeSqsClient } from '../../worker/runtime/aws-clients.js';
import { startLocalStack } from '../../worker/local/stack.js';
import { resolveStackTarget } from '../../worker/cli/stack-args.js';

const self = fileURLToPath(import.meta.url);
const WARMUP = 3;

async function client(endpoint: string, uploads: number): Promise<void> {
  const stack = resolveStackTarget({ 'endpoint-url': endpoint }, {});
  const s3 = makeS3Client(stack.clients);
  const sqs = makeSqsClient(stack.clients);
  const body = fs.readFileSync(path.resolve(path.dirname(self), '../../../shared/data/crypto_test.csv'));
  const ms: number[] = [];
  for (let i = 0; i < WARMUP + uploads; i++) {
    const key = `incoming/floor/${i}.csv`;
    const t0 = performance.now();
    const receiving = sqs.send(new ReceiveMessageCommand({ QueueUrl: stack.queueUrl, WaitTimeSeconds: 20, MaxNumberOfMessages: 1 }));
    await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: body }));
    const [m] = (await receiving).Messages ?? [];
    const parsed = parseQueueMessage(m.Body!);
    if (parsed.kind !== 's3-records' || parsed.records[0].key !== key) throw new Error(`unexpected message for ${key}: ${m.Body}`);
    const got = await s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: key, IfMatch: `"${parsed.records[0].eTag}"` }));
    const bytes = await got.Body!.transformToByteArray();
    await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: `predictions/floor/${i}_preds.csv`, Body: bytes }));
    await sqs.send(new DeleteMessageCommand({ QueueUrl: stack.queueUrl, ReceiptHandle: m.ReceiptHandle! }));
    if (i >= WARMUP) ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  const q = (p: number) => ms[Math.min(ms.length - 1, Math.ceil(p * ms.length) - 1)];
  console.log(
    JSON.stringify({
      uploads,
      bytes: body.length,
      medianMs: +q(0.5).toFixed(1),
      p95Ms: +q(0.95).toFixed(1),
      minMs: +ms[0].toFixed(1),
      maxMs: +ms[ms.length - 1].toFixed(1),
    }),
  );
}

async function main(): Promise<void> {
  const [mode, endpoint, n] = process.argv.slice(2);
  if (mode === '--client') return client(endpoint, Number(n));
  const uploads = Number(mode ?? 20);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'floor-'));
  const stack = await startLocalStack({ port: 0, dataDir });
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', self, '--client', stack.endpoint, String(uploads)], { stdio: 'inherit' });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    if (code !== 0) process.exitCode = 1;
  } finally {
    await stack.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
