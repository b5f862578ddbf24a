import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { startLocalStack, type LocalStack, type LocalStackOptions } from '../../worker/local/stack.js';


/** A stack on a free port with its data in a fresh temporary folder (removed by `cleanup`). */
export async function tempStack(opts: LocalStackOptions = {}): Promise<{ stack: LocalStack; cleanup: () => Promise<void> }> {
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'local-stack-'));
  const stack = await startLocalStack({ port: 0, ...opts, dataDir });
  return {
    stack,
    cleanup: async () => {
      await stack.stop();
      if (!opts.dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function queueDepth(sqs: SQSClient, queueUrl: string): Promise<{ visible: number; inFlight: number }> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  return { visible: Number(Attributes.ApproximateNumberOfMessages), inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible) };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
