import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { LOCAL_STACK, type StackConfig } from './stack-config.js';
import { WORKER_ENV } from '../shared/worker-env.js';

/**
 * SDK clients for a resolved stack. Locally: s3rver needs path-style addressing, its own key pair, and no
 * flexible checksums (it would store the aws-chunked framing as the object's bytes).
 */
export function makeS3Client(stack: StackConfig): S3Client {
  if (stack.target === 'aws' && !stack.s3Endpoint) return new S3Client({ region: stack.region });
  return new S3Client({
    region: stack.region,
    endpoint: stack.s3Endpoint,
    ...(stack.target === 'local'
      ? { forcePathStyle: true, credentials: LOCAL_STACK.credentials, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' }
      : {}),
  });
}

export function makeSqsClient(stack: StackConfig): SQSClient {
  if (stack.target === 'aws' && !stack.sqsEndpoint) return new SQSClient({ region: stack.region });
  return new SQSClient({
    region: stack.region,
    endpoint: stack.sqsEndpoint,
    ...(stack.target === 'local' ? { credentials: LOCAL_STACK.credentials } : {}),
  });
}

/** Environment for a process (a worker, the AWS CLI) that should talk to the local stack through the standard variables. */
export function localStackEnv(stack: StackConfig): Record<string, string> {
  if (stack.target !== 'local' || !stack.s3Endpoint || !stack.sqsEndpoint) throw new Error('localStackEnv: not a local stack');
  return {
    [WORKER_ENV.localStack]: '1',
    AWS_ENDPOINT_URL_S3: stack.s3Endpoint,
    AWS_ENDPOINT_URL_SQS: stack.sqsEndpoint,
    AWS_REGION: stack.region,
    AWS_DEFAULT_REGION: stack.region,
    AWS_ACCESS_KEY_ID: LOCAL_STACK.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_STACK.credentials.secretAccessKey,
    AWS_REQUEST_CHECKSUM_CALCULATION: 'when_required',
    AWS_RESPONSE_CHECKSUM_VALIDATION: 'when_required',
  };
}

/** One line for a failed call to a stack, saying what to do when the local stack is simply not running. */
export function describeStackError(err: unknown, stack: StackConfig): string {
  const e = err as Error & { code?: string; cause?: { code?: string } };
  const refused = e.code === 'ECONNREFUSED' || e.cause?.code === 'ECONNREFUSED' || /ECONNREFUSED/.test(String(e.message));
  if (refused && stack.target === 'local') return `nothing answers at ${stack.sqsEndpoint ?? stack.s3Endpoint}: start the local stack with \`npm start\` (or pass --endpoint-url)`;
  return `${e.name && e.name !== 'Error' ? `${e.name}: ` : ''}${String(e.message ?? err).split('\n')[0]}`;
}
