import { expect } from 'chai';
import { splitTarget, verifySignature, type SignedRequest, type VerifyOptions } from '../../../worker/local/sigv4.js';

/**
 * The examples of AWS's "Authenticating Requests (AWS Signature Version 4)" S3 documentation (GET Object with a
 * range, PUT Object signing its Date header, a presigned GET URL): valid as published, refused when changed.
 */
describe('verifySignature (Signature Version 4)', () => {
  const credentials = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
  const opts = (now: string, over: Partial<VerifyOptions> = {}): VerifyOptions => ({
    service: 's3',
    region: 'us-east-1',
    credentials,
    now: new Date(now),
    ...over,
  });
  const emptySha = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
  const getObject: SignedRequest = {
    method: 'GET',
    url: '/test.txt',
    headers: {
      host: 'examplebucket.s3.amazonaws.com',
      range: 'bytes=0-9',
      'x-amz-content-sha256': emptySha,
      'x-amz-date': '20130524T000000Z',
      authorization:
        'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
    },
  };
  const putObject: SignedRequest = {
    method: 'PUT',
    url: '/test%24file.text',
    headers: {
      host: 'examplebucket.s3.amazonaws.com',
      date: 'Fri, 24 May 2013 00:00:00 GMT',
      'x-amz-date': '20130524T000000Z',
      'x-amz-storage-class': 'REDUCED_REDUNDANCY',
      'x-amz-content-sha256': '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072',
      authorization:
        'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd',
    },
  };
  const presignedGet: SignedRequest = {
    method: 'GET',
    url: '/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404',
    headers: { host: 'examplebucket.s3.amazonaws.com' },
  };
  const kind = async (req: SignedRequest, o: VerifyOptions) => {
    const r = await verifySignature(req, o);
    return r.ok ? (r.presigned ? 'presigned' : 'ok') : r.kind;
  };
  const withHeaders = (req: SignedRequest, headers: Record<string, string | undefined>): SignedRequest => ({ ...req, headers: { ...req.headers, ...headers } });

  it('accepts the published examples', async () => {
    expect(await kind(getObject, opts('2013-05-24T00:05:00Z'))).to.equal('ok');
    expect(await kind(putObject, opts('2013-05-24T00:05:00Z')), 'a signed Date header').to.equal('ok');
    expect(await kind(presignedGet, opts('2013-05-24T12:00:00Z'))).to.equal('presigned');
  });

  it('refuses them with another secret, another signed header value, method or path', async () => {
    const other = { ...credentials, secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEX' };
    expect(await kind(getObject, opts('2013-05-24T00:05:00Z', { credentials: other }))).to.equal('mismatch');
    expect(await kind(withHeaders(getObject, { range: 'bytes=0-10' }), opts('2013-05-24T00:05:00Z'))).to.equal('mismatch');
    expect(await kind({ ...putObject, method: 'POST' }, opts('2013-05-24T00:05:00Z'))).to.equal('mismatch');
    expect(await kind({ ...presignedGet, url: presignedGet.url.replace('/test.txt', '/test2.txt') }, opts('2013-05-24T12:00:00Z'))).to.equal('mismatch');
    expect(
      await kind({ ...presignedGet, url: presignedGet.url.replace(/Signature=[0-9a-f]+/, `Signature=${'0'.repeat(64)}`) }, opts('2013-05-24T12:00:00Z')),
    ).to.equal('mismatch');
  });

  it('refuses by kind: unsigned, unknown key, expired, too far from now, wrong region or service, missing parts', async () => {
    expect(await kind({ method: 'GET', url: '/x', headers: { host: 'h' } }, opts('2013-05-24T00:00:00Z'))).to.equal('unsigned');
    expect(await kind(getObject, opts('2013-05-24T00:05:00Z', { credentials: { ...credentials, accessKeyId: 'AKIAOTHER' } }))).to.equal('unknown-key');
    expect(await kind(presignedGet, opts('2013-05-25T00:00:01Z')), 'past X-Amz-Expires').to.equal('expired');
    expect(await kind(getObject, opts('2013-05-24T00:15:01Z')), 'more than 15 minutes late').to.equal('skewed');
    expect(await kind(getObject, opts('2013-05-24T00:05:00Z', { region: 'eu-west-1' }))).to.equal('malformed');
    expect(await kind(getObject, opts('2013-05-24T00:05:00Z', { service: 'sqs' }))).to.equal('malformed');
    expect(await kind(withHeaders(getObject, { range: undefined }), opts('2013-05-24T00:05:00Z')), 'a signed header missing').to.equal('malformed');
    expect(await kind(withHeaders(getObject, { 'x-amz-content-sha256': undefined }), opts('2013-05-24T00:05:00Z')), 'S3 needs the payload hash').to.equal(
      'malformed',
    );
    const both = { ...presignedGet, headers: { ...presignedGet.headers, authorization: getObject.headers.authorization } };
    expect(await kind(both, opts('2013-05-24T00:05:00Z')), 'two mechanisms').to.equal('malformed');
  });

  it('splits a request target into the path as sent and the decoded query, keeping + and repeated keys', () => {
    expect(splitTarget('/b/a%20b+c?prefix=a%2Bb+c&uploads&k=1&k=2')).to.deep.equal({
      path: '/b/a%20b+c',
      query: { prefix: 'a+b+c', uploads: '', k: ['1', '2'] },
    });
    expect(splitTarget('http://127.0.0.1:4569/b/k?x=1').path).to.equal('/b/k');
  });
});
