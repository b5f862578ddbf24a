import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { CopyObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, UploadPartCommand, type S3Client } from '@aws-sdk/client-s3';
import { ListQueuesCommand, ReceiveMessageCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { expect } from 'chai';
import { LOCAL_STACK } from '../../../worker/local/constants.js';
import type { LocalStack } from '../../../worker/local/stack.js';
import { makeS3Client, makeSqsClient } from '../../../worker/runtime/aws-clients.js';
import { listFiles, queueDepth, rawRequest, tempStack, xmlCode } from '../../helpers/local-stack.js';

/**
 * The local stack checks what S3 and SQS check: every request signed (Signature Version 4) with its key pair, presigned
 * URLs within their validity, a declared payload hash against the body, and no path outside the bucket folder.
 * Each of these passed unchecked on s3rver 3.7 + local-aws-sqs 2.0.2 alone (run against the gateway without its
 * checks, every test below but the first fails).
 */
describe('local stack security: signatures, presigned URLs, payload hashes, paths', () => {
  let base: string;
  let stack: LocalStack;
  let cleanup: () => Promise<void>;
  let s3: S3Client;
  let sqs: SQSClient;
  const failure = (err: { name?: string; $metadata?: { httpStatusCode?: number } }) => `${err.name} ${err.$metadata?.httpStatusCode}`;
  const outcome = <T>(p: Promise<T>) => p.then(() => 'ok', failure);

  before(async () => {
    // Nested, so a path escaping the data folder by a few levels still lands inside `base`, where the test looks.
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'local-security-'));
    ({ stack, cleanup } = await tempStack({ dataDir: path.join(base, 'a', 'b', 'c', 'data') }));
    s3 = makeS3Client(stack.clients);
    sqs = makeSqsClient(stack.clients);
    await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'tmp/kept.txt', Body: 'kept' }));
  });
  after(async () => {
    s3?.destroy();
    sqs?.destroy();
    await cleanup?.();
    fs.rmSync(base, { recursive: true, force: true });
  });

  const objectBody = async (key: string) =>
    s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: key })).then(
      (r) => r.Body!.transformToString(),
      (err: { name: string }) => err.name,
    );

  it('accepts the SDK clients signed with the stack key pair (S3 path-style, SQS JSON protocol)', async () => {
    expect(await objectBody('tmp/kept.txt')).to.equal('kept');
    const { QueueUrls = [] } = await sqs.send(new ListQueuesCommand({}));
    expect(QueueUrls).to.include(stack.queueUrl);
  });

  it('rejects a wrong secret key (SignatureDoesNotMatch) and an unknown key id (InvalidAccessKeyId, InvalidClientTokenId)', async () => {
    const wrongSecret = { ...stack.clients, credentials: { accessKeyId: LOCAL_STACK.credentials.accessKeyId, secretAccessKey: 'not-the-secret' } };
    const unknownKey = { ...stack.clients, credentials: { accessKeyId: 'AKIAUNKNOWN', secretAccessKey: LOCAL_STACK.credentials.secretAccessKey } };
    for (const [settings, s3Error, sqsError] of [
      [wrongSecret, 'SignatureDoesNotMatch 403', 'SignatureDoesNotMatch 403'],
      [unknownKey, 'InvalidAccessKeyId 403', 'InvalidClientTokenId 403'],
    ] as const) {
      const badS3 = makeS3Client({ ...settings, maxAttempts: 1 });
      const badSqs = makeSqsClient({ ...settings, maxAttempts: 1 });
      expect(await outcome(badS3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: 'tmp/kept.txt' }))), 'S3 GET').to.equal(s3Error);
      expect(await outcome(badS3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'tmp/forged.txt', Body: 'x' }))), 'S3 PUT').to.equal(s3Error);
      expect(await outcome(badSqs.send(new SendMessageCommand({ QueueUrl: stack.queueUrl, MessageBody: 'forged' }))), 'SQS send').to.equal(sqsError);
      badS3.destroy();
      badSqs.destroy();
    }
    expect(await objectBody('tmp/forged.txt')).to.equal('NoSuchKey');
    expect(await queueDepth(sqs, stack.queueUrl)).to.deep.equal({ visible: 0, inFlight: 0 });
  });

  it('rejects unsigned GET, PUT and DELETE with AccessDenied, and unsigned SQS calls, leaving everything as it was', async () => {
    const objectPath = `/${stack.bucket}/tmp/kept.txt`;
    const get = await rawRequest(stack.endpoint, { method: 'GET', path: objectPath });
    expect([get.status, xmlCode(get.body)]).to.deep.equal([403, 'AccessDenied']);
    expect(get.body).to.not.contain('kept');
    const put = await rawRequest(stack.endpoint, { method: 'PUT', path: `/${stack.bucket}/tmp/unsigned.txt`, body: 'unsigned' });
    expect([put.status, xmlCode(put.body)]).to.deep.equal([403, 'AccessDenied']);
    const del = await rawRequest(stack.endpoint, { method: 'DELETE', path: objectPath });
    expect([del.status, xmlCode(del.body)]).to.deep.equal([403, 'AccessDenied']);
    expect(await objectBody('tmp/kept.txt')).to.equal('kept');
    expect(await objectBody('tmp/unsigned.txt')).to.equal('NoSuchKey');

    const send = await rawRequest(stack.endpoint, {
      method: 'POST',
      path: '/',
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AmazonSQS.SendMessage' },
      body: JSON.stringify({ QueueUrl: stack.queueUrl, MessageBody: 'unsigned' }),
    });
    expect(send.status).to.equal(403);
    expect(send.headers['x-amzn-query-error']).to.equal('MissingAuthenticationToken;Sender');
    expect(await queueDepth(sqs, stack.queueUrl)).to.deep.equal({ visible: 0, inFlight: 0 });
  });

  it('serves presigned GET and PUT URLs of @aws-sdk/s3-request-presigner, and refuses them zeroed, altered or expired', async () => {
    const getUrl = await getSignedUrl(s3, new GetObjectCommand({ Bucket: stack.bucket, Key: 'tmp/kept.txt' }), { expiresIn: 300 });
    const ok = await fetch(getUrl);
    expect([ok.status, await ok.text()]).to.deep.equal([200, 'kept']);

    const putUrl = await getSignedUrl(s3, new PutObjectCommand({ Bucket: stack.bucket, Key: 'tmp/presigned.txt' }), { expiresIn: 300 });
    const put = await fetch(putUrl, { method: 'PUT', body: 'put through a presigned URL' });
    expect(put.status).to.equal(200);
    expect(await objectBody('tmp/presigned.txt')).to.equal('put through a presigned URL');

    const refused = async (url: string, init?: RequestInit) => {
      const r = await fetch(url, init);
      return `${r.status} ${xmlCode(await r.text())}`;
    };
    const zeroed = getUrl.replace(/X-Amz-Signature=[0-9a-f]{64}/, `X-Amz-Signature=${'0'.repeat(64)}`);
    expect(zeroed).to.not.equal(getUrl);
    expect(await refused(zeroed), 'zeroed signature').to.equal('403 SignatureDoesNotMatch');
    expect(await refused(getUrl.replace('tmp/kept.txt', 'tmp/presigned.txt')), 'another key').to.equal('403 SignatureDoesNotMatch');
    expect(await refused(getUrl.replace('X-Amz-Expires=300', 'X-Amz-Expires=600')), 'a longer validity').to.equal('403 SignatureDoesNotMatch');
    expect(await refused(putUrl, { method: 'DELETE' }), 'another method').to.equal('403 SignatureDoesNotMatch');
    expect(await refused(putUrl.replace('tmp/presigned.txt', 'tmp/other.txt'), { method: 'PUT', body: 'x' }), 'PUT to another key').to.equal(
      '403 SignatureDoesNotMatch',
    );

    const expired = await getSignedUrl(s3, new GetObjectCommand({ Bucket: stack.bucket, Key: 'tmp/kept.txt' }), {
      expiresIn: 60,
      signingDate: new Date(Date.now() - 120_000),
    });
    const r = await fetch(expired);
    const body = await r.text();
    expect([r.status, xmlCode(body)]).to.deep.equal([403, 'AccessDenied']);
    expect(body).to.contain('expired');
    expect(await objectBody('tmp/other.txt')).to.equal('NoSuchKey');
  });

  it('checks a declared payload hash: a body that differs from its x-amz-content-sha256 is refused and not stored', async () => {
    const signedBody = 'the body that was signed';
    const sent = 'a body that was swapped!';
    expect(sent.length).to.equal(signedBody.length);
    const put = await rawRequest(stack.endpoint, { method: 'PUT', path: `/${stack.bucket}/tmp/swapped.txt`, body: sent, sign: { signedBody } });
    expect([put.status, xmlCode(put.body)]).to.deep.equal([400, 'XAmzContentSHA256Mismatch']);
    expect(await objectBody('tmp/swapped.txt')).to.equal('NoSuchKey');
    // The same request with the body it signed goes through: the refusal was the hash, not the signing.
    const honest = await rawRequest(stack.endpoint, { method: 'PUT', path: `/${stack.bucket}/tmp/swapped.txt`, body: signedBody, sign: {} });
    expect(honest.status).to.equal(200);
    expect(await objectBody('tmp/swapped.txt')).to.equal(signedBody);
  });

  it('refuses paths with . or .. segments, raw or percent-encoded, before anything is written (400 InvalidURI)', async () => {
    const paths = [
      `/${stack.bucket}/x/../../../../escape_test.txt`,
      `/${stack.bucket}/x/%2e%2e/%2E%2E/%2e%2e/%2e%2e/escape_test.txt`,
      `/${stack.bucket}/x%2F..%2F..%2F..%2F..%2Fescape_test.txt`,
      `/${stack.bucket}/./escape_test.txt`,
      `/../escape_test.txt`,
    ];
    for (const p of paths) {
      for (const sign of [undefined, {}]) {
        const r = await rawRequest(stack.endpoint, { method: 'PUT', path: p, body: 'escaped', ...(sign ? { sign } : {}) });
        expect([r.status, xmlCode(r.body)], `${sign ? 'signed' : 'unsigned'} PUT ${p}`).to.deep.equal([400, 'InvalidURI']);
      }
    }
    const copy = await outcome(
      s3.send(new CopyObjectCommand({ Bucket: stack.bucket, Key: 'tmp/copied.txt', CopySource: `${stack.bucket}/x/../../../../../../etc/hostname` })),
    );
    expect(copy, 'a copy source outside the bucket').to.equal('InvalidURI 400');
    const part = await outcome(
      s3.send(new UploadPartCommand({ Bucket: stack.bucket, Key: 'tmp/part.txt', UploadId: '../../../../escape_test', PartNumber: 1, Body: 'escaped' })),
    );
    expect(part, 'an upload id that is a path').to.equal('NoSuchUpload 404');
    expect(
      listFiles(base).filter((f) => f.includes('escape_test') || f.includes('copied')),
      'files written',
    ).to.deep.equal([]);
  });

  it('accepts the AWS CLI (S3 with payload hashes and multipart, SQS query protocol) and refuses it with a wrong secret', async () => {
    const cli = process.env.AWS_CLI ?? (fs.existsSync('/usr/bin/aws') ? '/usr/bin/aws' : 'aws');
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: base,
      AWS_ACCESS_KEY_ID: LOCAL_STACK.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_STACK.credentials.secretAccessKey,
      AWS_DEFAULT_REGION: LOCAL_STACK.region,
      AWS_REQUEST_CHECKSUM_CALCULATION: 'when_required',
      AWS_RESPONSE_CHECKSUM_VALIDATION: 'when_required',
    };
    const aws = (args: string[], extra: Record<string, string> = {}) =>
      promisify(execFile)(cli, ['--endpoint-url', stack.endpoint, ...args], { env: { ...env, ...extra }, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    const { stdout: version } = await aws(['--version']);
    expect(version).to.match(/^aws-cli\//);

    const big = path.join(base, 'big.bin');
    const bytes = Buffer.alloc(20 * 1024 * 1024 + 123);
    for (let i = 0; i < bytes.length; i += 4096) bytes.writeUInt32BE(i, i);
    fs.writeFileSync(big, bytes);
    await aws(['s3', 'cp', big, `s3://${stack.bucket}/tmp/big.bin`]);
    const back = path.join(base, 'back.bin');
    await aws(['s3', 'cp', `s3://${stack.bucket}/tmp/big.bin`, back]);
    expect(fs.readFileSync(back).equals(bytes), 'the multipart upload read back byte for byte').to.equal(true);
    const { stdout: small } = await aws(['s3', 'cp', `s3://${stack.bucket}/tmp/kept.txt`, '-']);
    expect(small).to.equal('kept');

    await aws(['sqs', 'send-message', '--queue-url', stack.dlqUrl, '--message-body', 'from the cli']);
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: stack.dlqUrl, WaitTimeSeconds: 1 }));
    expect(Messages.map((m) => m.Body)).to.deep.equal(['from the cli']);

    const wrong = await aws(['s3', 'cp', `s3://${stack.bucket}/tmp/kept.txt`, '-'], { AWS_SECRET_ACCESS_KEY: 'wrong' }).then(
      () => 'ok',
      (err: { stderr: string }) => err.stderr,
    );
    expect(wrong).to.contain('403');
    const wrongSqs = await aws(['sqs', 'send-message', '--queue-url', stack.dlqUrl, '--message-body', 'forged'], { AWS_SECRET_ACCESS_KEY: 'wrong' }).then(
      () => 'ok',
      (err: { stderr: string }) => err.stderr,
    );
    expect(wrongSqs).to.contain('SignatureDoesNotMatch');
    const head = await s3.send(new HeadObjectCommand({ Bucket: stack.bucket, Key: 'tmp/big.bin' }));
    expect(head.ContentLength).to.equal(bytes.length);
  });
});
