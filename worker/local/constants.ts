import type { AwsClientSettings } from '../runtime/aws-clients.js';
import { WORKER_ENV } from '../../shared/worker-env.js';

/** Fixed names of the embedded stack: S3 and SQS share one port (`--endpoint-url` serves both). */
export const LOCAL_STACK = {
  host: '127.0.0.1',
  port: 4569,
  region: 'us-east-1',
  accountId: '000000000000',
  bucket: 'crypto-open-local',
  queueName: 'crypto-open-work',
  dlqName: 'crypto-open-work-dlq',
  /** The one key pair the stack accepts: the gateway checks every S3 and SQS request's Signature V4 against it. */
  credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
} as const;

export function localEndpoint(port: number = LOCAL_STACK.port, host: string = LOCAL_STACK.host): string {
  return `http://${host}:${port}`;
}

/** Queue URL as the embedded SQS server forms it: `<endpoint>/<account>/<name>`. */
export function localQueueUrl(sqsEndpoint: string, queueName: string): string {
  return `${sqsEndpoint.replace(/\/+$/, '')}/${LOCAL_STACK.accountId}/${queueName}`;
}

/** SDK settings for the embedded stack: path-style S3, its key pair, checksums only where required. */
export function localClientSettings(s3Endpoint: string, sqsEndpoint: string = s3Endpoint): AwsClientSettings {
  return {
    region: LOCAL_STACK.region,
    s3Endpoint,
    sqsEndpoint,
    s3ForcePathStyle: true,
    credentials: { ...LOCAL_STACK.credentials },
    checksumsWhenRequired: true,
  };
}

/** Environment for a process (a worker, the AWS CLI) that should reach the embedded stack through the standard variables. */
export function localStackEnv(endpoint: string): Record<string, string> {
  return {
    [WORKER_ENV.s3Endpoint]: endpoint,
    [WORKER_ENV.sqsEndpoint]: endpoint,
    [WORKER_ENV.s3ForcePathStyle]: 'true',
    AWS_REGION: LOCAL_STACK.region,
    AWS_DEFAULT_REGION: LOCAL_STACK.region,
    AWS_ACCESS_KEY_ID: LOCAL_STACK.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_STACK.credentials.secretAccessKey,
    AWS_REQUEST_CHECKSUM_CALCULATION: 'when_required',
    AWS_RESPONSE_CHECKSUM_VALIDATION: 'when_required',
  };
}
