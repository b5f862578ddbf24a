import fs from 'node:fs';
import { STACK_OUTPUT, WORKER_ENV } from '../shared/worker-env.js';

/**
 * The one configuration every command that talks to a stack reads (`start`, `dlq`, `trigger`, `model`, `console`):
 * the embedded local stack by default, the deployed one with `--target aws`.
 */

export type StackTarget = 'local' | 'aws';

export interface StackConfig {
  target: StackTarget;
  region: string;
  bucket: string;
  queueUrl: string;
  dlqUrl: string;
  /** Set for the local stack (or an explicit endpoint); unset means the SDK's own AWS endpoints. */
  s3Endpoint?: string;
  sqsEndpoint?: string;
}

/** Fixed names of the embedded stack: S3 and SQS share one port (`--endpoint-url` serves both). */
export const LOCAL_STACK = {
  host: '127.0.0.1',
  port: 4569,
  region: 'us-east-1',
  accountId: '000000000000',
  bucket: 'crypto-open-local',
  queueName: 'crypto-open-work',
  dlqName: 'crypto-open-work-dlq',
  /** s3rver accepts only this key pair (it checks signatures); the SQS server accepts any. */
  credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
} as const;

export function localEndpoint(port: number = LOCAL_STACK.port, host: string = LOCAL_STACK.host): string {
  return `http://${host}:${port}`;
}

/** Queue URL as the embedded SQS server forms it: `<endpoint>/<account>/<name>`. */
export function localQueueUrl(sqsEndpoint: string, queueName: string): string {
  return `${sqsEndpoint.replace(/\/+$/, '')}/${LOCAL_STACK.accountId}/${queueName}`;
}

export interface ResolveStackOptions {
  target?: StackTarget;
  /** `--endpoint-url`: one endpoint for both S3 and SQS; wins over the environment. */
  endpointUrl?: string;
  env?: NodeJS.ProcessEnv;
  /** Path of a file holding the output of `pulumi stack output --json` (`--pulumi-outputs`). */
  pulumiOutputsJson?: string;
}

export class StackConfigError extends Error {
  override readonly name = 'StackConfigError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export function resolveStack(opts: ResolveStackOptions = {}): StackConfig {
  const env = opts.env ?? process.env;
  const target = opts.target ?? 'local';
  if (target !== 'local' && target !== 'aws') throw new StackConfigError(`--target must be "local" or "aws", got ${JSON.stringify(target)}`);
  if (opts.endpointUrl !== undefined) checkUrl(opts.endpointUrl, '--endpoint-url');

  if (target === 'local') {
    if (opts.pulumiOutputsJson !== undefined) throw new StackConfigError('--pulumi-outputs applies only with --target aws');
    const endpointFor = (serviceVar: string): string => {
      const [value, name] = opts.endpointUrl ? [opts.endpointUrl, '--endpoint-url'] : env[serviceVar] ? [env[serviceVar]!, serviceVar] : env.AWS_ENDPOINT_URL ? [env.AWS_ENDPOINT_URL, 'AWS_ENDPOINT_URL'] : [localEndpoint(), 'the default'];
      checkUrl(value, name);
      return value.replace(/\/+$/, '');
    };
    const s3Endpoint = endpointFor('AWS_ENDPOINT_URL_S3');
    const sqsEndpoint = endpointFor('AWS_ENDPOINT_URL_SQS');
    return {
      target,
      region: LOCAL_STACK.region,
      bucket: LOCAL_STACK.bucket,
      queueUrl: localQueueUrl(sqsEndpoint, LOCAL_STACK.queueName),
      dlqUrl: localQueueUrl(sqsEndpoint, LOCAL_STACK.dlqName),
      s3Endpoint,
      sqsEndpoint,
    };
  }

  const outputs = opts.pulumiOutputsJson === undefined ? {} : readPulumiOutputs(opts.pulumiOutputsJson);
  // An explicit --pulumi-outputs file wins over ambient variables.
  const from = (envName: string, outputName: string): string | undefined => outputs[outputName] || env[envName];
  const bucket = from(WORKER_ENV.bucket, STACK_OUTPUT.bucket);
  const queueUrl = from(WORKER_ENV.queueUrl, STACK_OUTPUT.queueUrl);
  const dlqUrl = from(WORKER_ENV.dlqUrl, STACK_OUTPUT.dlqUrl);
  const missing = [
    !bucket && `${WORKER_ENV.bucket} (or "${STACK_OUTPUT.bucket}" in the Pulumi outputs)`,
    !queueUrl && `${WORKER_ENV.queueUrl} (or "${STACK_OUTPUT.queueUrl}")`,
    !dlqUrl && `${WORKER_ENV.dlqUrl} (or "${STACK_OUTPUT.dlqUrl}")`,
  ].filter(Boolean);
  if (missing.length) {
    throw new StackConfigError(`--target aws needs ${missing.join(', ')}; set the variables or pass --pulumi-outputs <file> with the output of \`pulumi stack output --json\``);
  }
  checkUrl(queueUrl!, WORKER_ENV.queueUrl);
  checkUrl(dlqUrl!, WORKER_ENV.dlqUrl);
  const region = outputs[STACK_OUTPUT.region] || env.AWS_REGION || env.AWS_DEFAULT_REGION || regionOfQueueUrl(queueUrl!);
  if (!region) throw new StackConfigError(`--target aws needs a region: set AWS_REGION (the queue URL ${queueUrl} does not name one)`);
  return {
    target,
    region,
    bucket: bucket!,
    queueUrl: queueUrl!,
    dlqUrl: dlqUrl!,
    ...(opts.endpointUrl ? { s3Endpoint: opts.endpointUrl, sqsEndpoint: opts.endpointUrl } : {}),
  };
}

/** `https://sqs.eu-west-1.amazonaws.com/123/q` -> `eu-west-1`. */
export function regionOfQueueUrl(url: string): string | undefined {
  return /^https:\/\/sqs[.-]([a-z0-9-]+)\.amazonaws\.com/.exec(url)?.[1];
}

function readPulumiOutputs(file: string): Record<string, string | undefined> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (cause) {
    throw new StackConfigError(`--pulumi-outputs: cannot read ${file}: ${(cause as Error).message}`, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new StackConfigError(`--pulumi-outputs: ${file} is not JSON (expected the output of \`pulumi stack output --json\`)`, { cause });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new StackConfigError(`--pulumi-outputs: ${file} must hold a JSON object`);
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(json)) if (typeof v === 'string') out[k] = v;
  return out;
}

function checkUrl(value: string, name: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch (cause) {
    throw new StackConfigError(`${name} is not a URL: ${JSON.stringify(value)}`, { cause });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new StackConfigError(`${name} must be an http(s) URL: ${JSON.stringify(value)}`);
}

/** The `node:util` parseArgs options every stack command accepts. */
export const STACK_ARGS = {
  target: { type: 'string' },
  'endpoint-url': { type: 'string' },
  'pulumi-outputs': { type: 'string' },
} as const;

export const STACK_ARGS_HELP = `  --target local|aws        which stack (default local: the embedded one started by \`npm start\`)
  --endpoint-url URL        S3 and SQS endpoint (local default ${localEndpoint()}; also AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL_SQS)
  --pulumi-outputs FILE     with --target aws: the output of \`pulumi stack output --json\` (else ${WORKER_ENV.bucket}, ${WORKER_ENV.queueUrl}, ${WORKER_ENV.dlqUrl})`;

export function stackFromArgs(values: { target?: string; 'endpoint-url'?: string; 'pulumi-outputs'?: string }, env: NodeJS.ProcessEnv = process.env): StackConfig {
  return resolveStack({ target: values.target as StackTarget | undefined, endpointUrl: values['endpoint-url'], pulumiOutputsJson: values['pulumi-outputs'], env });
}
