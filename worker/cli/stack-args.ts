import fs from 'node:fs';
import { STACK_OUTPUT, WORKER_ENV } from '../../shared/worker-env.js';
import { LOCAL_STACK, localClientSettings, localEndpoint, localQueueUrl } from '../local/constants.js';
import type { StackTarget } from '../ops/stack.js';
import { requestLogFromEnv } from '../runtime/aws-clients.js';

/**
 * The target flags every command that talks to a stack takes: the embedded local stack by default, the deployed one
 * with `--target aws` (names from the environment or from `pulumi stack output --json`).
 */

export class StackArgsError extends Error {
  override readonly name = 'StackArgsError';
}

export interface StackArgs {
  target?: string;
  /** `--endpoint-url`: one endpoint for both S3 and SQS; wins over the environment. */
  'endpoint-url'?: string;
  /** A file holding the output of `pulumi stack output --json` (`--pulumi-outputs`). */
  'pulumi-outputs'?: string;
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

/** The target, its clients recording their requests where AWS_REQUEST_LOG says (as `operator` by default). */
export function resolveStackTarget(args: StackArgs, env: NodeJS.ProcessEnv): StackTarget {
  const target = resolveTarget(args, env);
  const requestLog = requestLogFromEnv(env, 'operator');
  return requestLog ? { ...target, clients: { ...target.clients, requestLog } } : target;
}

function resolveTarget(args: StackArgs, env: NodeJS.ProcessEnv): StackTarget {
  const kind = args.target ?? 'local';
  if (kind !== 'local' && kind !== 'aws') throw new StackArgsError(`--target must be "local" or "aws", got ${JSON.stringify(kind)}`);
  const endpointUrl = args['endpoint-url'];
  if (endpointUrl !== undefined) checkUrl(endpointUrl, '--endpoint-url');

  if (kind === 'local') {
    if (args['pulumi-outputs'] !== undefined) throw new StackArgsError('--pulumi-outputs applies only with --target aws');
    const endpointFor = (serviceVar: string): string => {
      const [value, name] = endpointUrl
        ? [endpointUrl, '--endpoint-url']
        : env[serviceVar]
          ? [env[serviceVar]!, serviceVar]
          : env.AWS_ENDPOINT_URL
            ? [env.AWS_ENDPOINT_URL, 'AWS_ENDPOINT_URL']
            : [localEndpoint(), 'the default'];
      checkUrl(value, name);
      return value.replace(/\/+$/, '');
    };
    const s3Endpoint = endpointFor(WORKER_ENV.s3Endpoint);
    const sqsEndpoint = endpointFor(WORKER_ENV.sqsEndpoint);
    return {
      kind,
      bucket: LOCAL_STACK.bucket,
      queueUrl: localQueueUrl(sqsEndpoint, LOCAL_STACK.queueName),
      dlqUrl: localQueueUrl(sqsEndpoint, LOCAL_STACK.dlqName),
      clients: localClientSettings(s3Endpoint, sqsEndpoint),
    };
  }

  const outputs = args['pulumi-outputs'] === undefined ? {} : readPulumiOutputs(args['pulumi-outputs']);
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
    throw new StackArgsError(
      `--target aws needs ${missing.join(', ')}; set the variables or pass --pulumi-outputs <file> with the output of \`pulumi stack output --json\``,
    );
  }
  checkUrl(queueUrl!, WORKER_ENV.queueUrl);
  checkUrl(dlqUrl!, WORKER_ENV.dlqUrl);
  const region = outputs[STACK_OUTPUT.region] || env.AWS_REGION || env.AWS_DEFAULT_REGION || regionOfQueueUrl(queueUrl!);
  if (!region) throw new StackArgsError(`--target aws needs a region: set AWS_REGION (the queue URL ${queueUrl} does not name one)`);
  return {
    kind,
    bucket: bucket!,
    queueUrl: queueUrl!,
    dlqUrl: dlqUrl!,
    clients: { region, ...(endpointUrl ? { s3Endpoint: endpointUrl, sqsEndpoint: endpointUrl } : {}) },
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
    throw new StackArgsError(`--pulumi-outputs: cannot read ${file}: ${(cause as Error).message}`, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new StackArgsError(`--pulumi-outputs: ${file} is not JSON (expected the output of \`pulumi stack output --json\`)`, { cause });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new StackArgsError(`--pulumi-outputs: ${file} must hold a JSON object`);
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(json)) if (typeof v === 'string') out[k] = v;
  return out;
}

function checkUrl(value: string, name: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch (cause) {
    throw new StackArgsError(`${name} is not a URL: ${JSON.stringify(value)}`, { cause });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new StackArgsError(`${name} must be an http(s) URL: ${JSON.stringify(value)}`);
}
