import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import { LOCAL_STACK } from '../../worker/local/constants.js';
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

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * One HTTP request sent exactly as given (the path is not normalised, as `curl --path-as-is`), with node:http.
 * `sign` signs it with the SDK's signer first (S3 style: the path as it is, the payload hash of `signedBody`, which
 * defaults to the body sent).
 */
export async function rawRequest(
  endpoint: string,
  req: {
    method: string;
    path: string;
    headers?: Record<string, string>;
    body?: Buffer | string;
    sign?: { credentials?: { accessKeyId: string; secretAccessKey: string }; signedBody?: Buffer | string };
  },
): Promise<RawResponse> {
  const url = new URL(endpoint);
  let headers: Record<string, string> = { host: url.host, ...(req.headers ?? {}) };
  if (req.body !== undefined) headers['content-length'] = String(Buffer.byteLength(req.body));
  if (req.sign) {
    const [pathPart, queryPart = ''] = req.path.split('?');
    const query: Record<string, string> = {};
    for (const pair of queryPart.split('&').filter(Boolean)) {
      const [k, v = ''] = pair.split('=');
      query[decodeURIComponent(k)] = decodeURIComponent(v);
    }
    const signer = new SignatureV4({
      service: 's3',
      region: LOCAL_STACK.region,
      credentials: req.sign.credentials ?? LOCAL_STACK.credentials,
      sha256: Sha256,
      uriEscapePath: false,
    });
    const signedBody = req.sign.signedBody ?? req.body ?? '';
    const hash = new Sha256();
    hash.update(typeof signedBody === 'string' ? Buffer.from(signedBody) : signedBody);
    headers['x-amz-content-sha256'] = Buffer.from(await hash.digest()).toString('hex');
    const signed = await signer.sign({ method: req.method, protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: pathPart, query, headers });
    headers = signed.headers as Record<string, string>;
  }
  return new Promise((resolve, reject) => {
    const r = http.request({ host: url.hostname, port: url.port, method: req.method, path: req.path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    r.on('error', reject);
    r.end(req.body);
  });
}

/** The `<Code>` of an S3 XML error body. */
export const xmlCode = (body: string): string | undefined => /<Code>([^<]*)<\/Code>/.exec(body)?.[1];

/** Every file under `dir`, recursively (paths relative to it). */
export function listFiles(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((d) => d.isFile())
    .map((d) => path.relative(dir, path.join(d.parentPath, d.name)));
}
