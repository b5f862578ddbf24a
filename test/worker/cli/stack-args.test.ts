import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { regionOfQueueUrl, resolveStackTarget, StackArgsError, type StackArgs } from '../../../worker/cli/stack-args.js';

const resolveStack = (o: { target?: string; endpointUrl?: string; pulumiOutputsJson?: string; env: NodeJS.ProcessEnv }) => {
  const args: StackArgs = { target: o.target, 'endpoint-url': o.endpointUrl, 'pulumi-outputs': o.pulumiOutputsJson };
  return resolveStackTarget(args, o.env);
};

describe('resolveStackTarget (the target flags of every stack command)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stack-config-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const outputsFile = (json: unknown) => {
    const f = path.join(dir, `${Math.random().toString(36).slice(2)}.json`);
    fs.writeFileSync(f, typeof json === 'string' ? json : JSON.stringify(json));
    return f;
  };
  const failure = (fn: () => unknown): string => {
    try {
      fn();
    } catch (e) {
      expect(e).to.be.instanceOf(StackArgsError);
      return (e as Error).message;
    }
    throw new Error('expected a StackArgsError');
  };

  it('defaults to the local stack on its fixed port and names', () => {
    expect(resolveStack({ env: {} })).to.deep.equal({
      kind: 'local',
      bucket: 'crypto-open-local',
      queueUrl: 'http://127.0.0.1:4569/000000000000/crypto-open-work',
      dlqUrl: 'http://127.0.0.1:4569/000000000000/crypto-open-work-dlq',
      clients: {
        region: 'us-east-1',
        s3Endpoint: 'http://127.0.0.1:4569',
        sqsEndpoint: 'http://127.0.0.1:4569',
        s3ForcePathStyle: true,
        credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
        checksumsWhenRequired: true,
      },
    });
  });

  it('honours --endpoint-url over AWS_ENDPOINT_URL_S3 / _SQS over AWS_ENDPOINT_URL', () => {
    const env = { AWS_ENDPOINT_URL: 'http://a:1', AWS_ENDPOINT_URL_SQS: 'http://q:2/' };
    const fromEnv = resolveStack({ env });
    expect([fromEnv.clients.s3Endpoint, fromEnv.clients.sqsEndpoint, fromEnv.queueUrl]).to.deep.equal([
      'http://a:1',
      'http://q:2',
      'http://q:2/000000000000/crypto-open-work',
    ]);
    const fromFlag = resolveStack({ env, endpointUrl: 'http://localhost:4600' });
    expect([fromFlag.clients.s3Endpoint, fromFlag.clients.sqsEndpoint, fromFlag.dlqUrl]).to.deep.equal([
      'http://localhost:4600',
      'http://localhost:4600',
      'http://localhost:4600/000000000000/crypto-open-work-dlq',
    ]);
  });

  it('reads the deployed stack from the worker variables', () => {
    const s = resolveStack({
      target: 'aws',
      env: {
        BUCKET: 'prod-bucket',
        WORK_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/work',
        DLQ_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/dlq',
      },
    });
    expect(s).to.deep.equal({
      kind: 'aws',
      bucket: 'prod-bucket',
      queueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/work',
      dlqUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/dlq',
      clients: { region: 'eu-west-1' },
    });
  });

  it('reads `pulumi stack output --json`, which wins over the variables', () => {
    const file = outputsFile({
      bucket_name: 'b-from-pulumi',
      queue_url: 'https://sqs.us-west-2.amazonaws.com/1/w',
      dlq_url: 'https://sqs.us-west-2.amazonaws.com/1/d',
      region: 'us-west-2',
      cluster_name: 'c',
    });
    const s = resolveStack({ target: 'aws', pulumiOutputsJson: file, env: { BUCKET: 'ignored', AWS_REGION: 'eu-central-1' } });
    expect(s).to.include({ bucket: 'b-from-pulumi', queueUrl: 'https://sqs.us-west-2.amazonaws.com/1/w' });
    expect(s.clients.region).to.equal('us-west-2');
  });

  it('names every missing or malformed setting', () => {
    expect(failure(() => resolveStack({ target: 'aws', env: { BUCKET: 'b' } }))).to.match(/needs WORK_QUEUE_URL \(or "queue_url"\), DLQ_URL \(or "dlq_url"\)/);
    expect(failure(() => resolveStack({ target: 'aws', env: { BUCKET: 'b', WORK_QUEUE_URL: 'http://x/q', DLQ_URL: 'http://x/d' } }))).to.match(
      /needs a region: set AWS_REGION/,
    );
    expect(failure(() => resolveStack({ target: 'aws', env: { BUCKET: 'b', WORK_QUEUE_URL: 'not a url', DLQ_URL: 'http://x/d' } }))).to.match(
      /WORK_QUEUE_URL is not a URL/,
    );
    expect(failure(() => resolveStack({ target: 'gcp', env: {} }))).to.match(/--target must be "local" or "aws"/);
    expect(failure(() => resolveStack({ endpointUrl: 'localhost:4569', env: {} }))).to.match(/--endpoint-url must be an http\(s\) URL/);
    expect(failure(() => resolveStack({ env: { AWS_ENDPOINT_URL_S3: 'nope' } }))).to.match(/AWS_ENDPOINT_URL_S3 is not a URL/);
    expect(failure(() => resolveStack({ target: 'aws', pulumiOutputsJson: path.join(dir, 'missing.json'), env: {} }))).to.match(
      /--pulumi-outputs: cannot read/,
    );
    expect(failure(() => resolveStack({ target: 'aws', pulumiOutputsJson: outputsFile('{oops'), env: {} }))).to.match(/is not JSON/);
    expect(failure(() => resolveStack({ pulumiOutputsJson: outputsFile({}), env: {} }))).to.match(/applies only with --target aws/);
  });

  it('takes the region from a queue URL', () => {
    expect(regionOfQueueUrl('https://sqs.ap-southeast-2.amazonaws.com/1/q')).to.equal('ap-southeast-2');
    expect(regionOfQueueUrl('http://127.0.0.1:4569/000000000000/q')).to.equal(undefined);
  });
});
