import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { WORKER_ENV } from '../../shared/worker-env.js';
import { attachRequestLog, type RequestLogSettings } from './request-log.js';

/**
 * How to reach S3 and SQS. On AWS only `region` is set (the SDK's own endpoints and credential chain); an explicit
 * endpoint, path-style addressing, fixed credentials and checksums only where required serve S3-compatible stores
 * such as the embedded stack, which would store the aws-chunked framing of flexible checksums as the object's bytes.
 */
export interface AwsClientSettings {
  region: string;
  s3Endpoint?: string;
  sqsEndpoint?: string;
  s3ForcePathStyle?: boolean;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  checksumsWhenRequired?: boolean;
  /** Attempts per call, retries included (the SDK's standard retry strategy; its default is 3). */
  maxAttempts?: number;
  /** Record every request (tests: each request is checked against the stack's IAM policies). */
  requestLog?: RequestLogSettings;
}

const recorded = <C extends S3Client | SQSClient>(client: C, s: AwsClientSettings): C => (s.requestLog ? attachRequestLog(client, s.requestLog) : client);

export function makeS3Client(s: AwsClientSettings): S3Client {
  return recorded(
    new S3Client({
      region: s.region,
      ...(s.s3Endpoint ? { endpoint: s.s3Endpoint } : {}),
      ...(s.s3ForcePathStyle ? { forcePathStyle: true } : {}),
      ...(s.credentials ? { credentials: s.credentials } : {}),
      ...(s.checksumsWhenRequired ? { requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' } : {}),
      ...(s.maxAttempts ? { maxAttempts: s.maxAttempts } : {}),
    }),
    s,
  );
}

export function makeSqsClient(s: AwsClientSettings): SQSClient {
  return recorded(
    new SQSClient({
      region: s.region,
      ...(s.sqsEndpoint ? { endpoint: s.sqsEndpoint } : {}),
      ...(s.credentials ? { credentials: s.credentials } : {}),
      ...(s.maxAttempts ? { maxAttempts: s.maxAttempts } : {}),
    }),
    s,
  );
}

/** The request log named by the environment, if any; `principal` unless AWS_REQUEST_PRINCIPAL names another. */
export function requestLogFromEnv(env: NodeJS.ProcessEnv, principal: string): RequestLogSettings | undefined {
  const file = env[WORKER_ENV.requestLog];
  return file ? { file, principal: env[WORKER_ENV.requestPrincipal] || principal } : undefined;
}
