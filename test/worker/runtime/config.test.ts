import { expect } from 'chai';
import { ConfigError, workerConfigFromEnv } from '../../../worker/runtime/config.js';

const base = { WORK_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/1/w', DLQ_URL: 'https://sqs.eu-west-1.amazonaws.com/1/d', BUCKET: 'b' };

describe('worker config (parsed once from the environment)', () => {
  it('records the image the task runs: its reference, commit and digest', () => {
    const digest = `sha256:${'cd'.repeat(32)}`;
    const c = workerConfigFromEnv({ ...base, CODE_VERSION: `123.dkr.ecr.eu-west-1.amazonaws.com/fleet:git-abc@${digest}`, CODE_COMMIT: 'abc' });
    expect(c).to.include({ codeCommit: 'abc', imageDigest: digest });
    expect(workerConfigFromEnv({ ...base, CODE_VERSION: 'local@abc' }).imageDigest).to.equal(null);
  });

  it('reads endpoints, path style, credentials and the request log into the client settings', () => {
    const c = workerConfigFromEnv({
      ...base,
      AWS_REGION: 'eu-west-1',
      AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:4569/',
      AWS_ENDPOINT_URL_SQS: 'http://127.0.0.1:4570',
      S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: 'k',
      AWS_SECRET_ACCESS_KEY: 's',
      AWS_REQUEST_CHECKSUM_CALCULATION: 'when_required',
      AWS_REQUEST_LOG: '/tmp/r.jsonl',
    });
    expect(c.aws).to.deep.equal({
      region: 'eu-west-1',
      s3Endpoint: 'http://127.0.0.1:4569',
      sqsEndpoint: 'http://127.0.0.1:4570',
      s3ForcePathStyle: true,
      credentials: { accessKeyId: 'k', secretAccessKey: 's' },
      checksumsWhenRequired: true,
      requestLog: { file: '/tmp/r.jsonl', principal: 'worker' },
    });
    expect(workerConfigFromEnv(base).aws).to.deep.equal({
      region: 'us-east-1',
      s3Endpoint: undefined,
      sqsEndpoint: undefined,
      s3ForcePathStyle: false,
      checksumsWhenRequired: false,
    });
  });

  it('names the variable at fault', () => {
    const fails = (env: Record<string, string>, message: RegExp) => expect(() => workerConfigFromEnv({ ...base, ...env })).to.throw(ConfigError, message);
    fails({ BUCKET: '' }, /^BUCKET is not set$/);
    fails({ TFJS_BACKEND: 'gpu' }, /TFJS_BACKEND must be one of tensorflow, wasm, cpu; got "gpu"/);
    fails({ S3_FORCE_PATH_STYLE: 'yes' }, /S3_FORCE_PATH_STYLE must be one of true, false/);
    fails({ AWS_ENDPOINT_URL_S3: 'localhost:4569' }, /AWS_ENDPOINT_URL_S3 must be an http\(s\) URL/);
    fails({ HEARTBEAT_SECONDS: '30', VISIBILITY_TIMEOUT_SECONDS: '40' }, /VISIBILITY_TIMEOUT_SECONDS \(40\) must be at least twice HEARTBEAT_SECONDS \(30\)/);
    fails({ PREDICTION_MODE: 'wild' }, /PREDICTION_MODE must be one of anchored, integrated/);
  });
});
