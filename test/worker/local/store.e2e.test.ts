import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { expect } from 'chai';
import type { LocalStack } from '../../../worker/local/stack.js';
import { makeS3Client } from '../../../worker/runtime/aws-clients.js';
import { rawRequest, tempStack, xmlCode } from '../../helpers/local-stack.js';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** `size` bytes that differ for each `seed`. */
function bytesOf(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i + 4 <= size; i += 4) b.writeUInt32BE((i * 2654435761 + seed) >>> 0, i);
  return b;
}

/**
 * A body that stops halfway until `gate` resolves, calling `atHalf` when it gets there: a write the test holds open
 * for as long as it needs, without sleeping.
 */
function heldBody(bytes: Buffer, gate: Promise<void>, atHalf: () => void): Readable {
  const chunk = 256 * 1024;
  return Readable.from(
    (async function* () {
      for (let off = 0; off < bytes.length; off += chunk) {
        if (off >= bytes.length / 2 && off < bytes.length / 2 + chunk) {
          atHalf();
          await gate;
        }
        yield bytes.subarray(off, off + chunk);
      }
    })(),
  );
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const failure = (err: { name?: string; $metadata?: { httpStatusCode?: number } }) => `${err.name} ${err.$metadata?.httpStatusCode}`;

describe('local stack store: atomic writes and conditional PUTs', () => {
  let stack: LocalStack;
  let cleanup: () => Promise<void>;
  let s3: S3Client;

  before(async () => {
    ({ stack, cleanup } = await tempStack());
    s3 = makeS3Client(stack.clients);
  });
  after(async () => {
    s3?.destroy();
    await cleanup?.();
  });

  /** The object's bytes' SHA-256, or the error's name; a GET that hangs is aborted after a minute and fails the test. */
  const getHash = (key: string) =>
    s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: key }), { abortSignal: AbortSignal.timeout(60_000) }).then(
      async (r) => sha256(await r.Body!.transformToByteArray()),
      (err: { name: string }) => err.name,
    );
  const put = (key: string, body: Buffer | Readable, extra: { IfMatch?: string; IfNoneMatch?: string } = {}) =>
    s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: body, ContentLength: Buffer.isBuffer(body) ? body.length : SIZE, ...extra }));
  const SIZE = 24 * 1024 * 1024;

  describe('atomic writes (s3rver alone writes in place and answers before its file is closed)', () => {
    it('shows nothing of an object being written: a GET meanwhile finds no object, then the whole one', async () => {
      const bytes = bytesOf(SIZE, 1);
      const gate = deferred();
      const half = deferred();
      const writing = put('big/new.bin', heldBody(bytes, gate.promise, half.resolve));
      await half.promise;
      const during = await Promise.all([getHash('big/new.bin'), getHash('big/new.bin'), getHash('big/new.bin')]);
      gate.resolve();
      await writing;
      expect(during).to.deep.equal(['NoSuchKey', 'NoSuchKey', 'NoSuchKey']);
      expect(await getHash('big/new.bin')).to.equal(sha256(bytes));
    });

    it('serves the whole old object or the whole new one while a 24 MiB object is overwritten, and no GET hangs', async () => {
      const old = bytesOf(SIZE, 2);
      const next = bytesOf(SIZE, 3);
      await put('big/over.bin', old);
      const gate = deferred();
      const half = deferred();
      let done = false;
      const writing = put('big/over.bin', heldBody(next, gate.promise, half.resolve)).finally(() => (done = true));
      await half.promise;
      const midway = await Promise.all([getHash('big/over.bin'), getHash('big/over.bin'), getHash('big/over.bin')]);
      expect(midway, 'halfway through the overwrite').to.deep.equal([sha256(old), sha256(old), sha256(old)]);

      gate.resolve();
      const seen: string[] = [];
      const reader = async () => {
        while (!done) seen.push(await getHash('big/over.bin'));
      };
      await Promise.all([writing, reader(), reader(), reader()]);
      seen.push(await getHash('big/over.bin'));
      expect(seen.length).to.be.greaterThan(3);
      expect(
        seen.filter((h) => h !== sha256(old) && h !== sha256(next)),
        'GETs that were neither',
      ).to.deep.equal([]);
      expect(seen.at(-1)).to.equal(sha256(next));
      const head = await s3.send(new HeadObjectCommand({ Bucket: stack.bucket, Key: 'big/over.bin' }));
      expect(head.ContentLength).to.equal(SIZE);
    });

    it('keeps nothing of an upload the client abandons halfway', async () => {
      const old = bytesOf(1024 * 1024, 4);
      await put('big/abandoned.bin', old);
      const half = deferred();
      const gate = deferred();
      const controller = new AbortController();
      const body = heldBody(bytesOf(SIZE, 5), gate.promise, half.resolve);
      const writing = s3
        .send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'big/abandoned.bin', Body: body, ContentLength: SIZE }), { abortSignal: controller.signal })
        .then(() => 'stored', failure);
      await half.promise;
      controller.abort();
      gate.resolve();
      expect(await writing).to.not.equal('stored');
      // The aborted upload is refused by the server once it notices the connection closed; until then and after, the old object.
      expect(await getHash('big/abandoned.bin')).to.equal(sha256(old));
    });
  });

  describe('conditional PUTs (s3rver alone ignores If-Match and If-None-Match on writes)', () => {
    it('If-None-Match: * creates an object once; the second PUT gets 412 PreconditionFailed and changes nothing', async () => {
      const first = await put('cond/once.txt', Buffer.from('first'), { IfNoneMatch: '*' });
      expect(first.ETag).to.match(/^"[0-9a-f]{32}"$/);
      const second = await put('cond/once.txt', Buffer.from('second'), { IfNoneMatch: '*' }).then(() => 'ok', failure);
      expect(second).to.equal('PreconditionFailed 412');
      expect(await getHash('cond/once.txt')).to.equal(sha256(Buffer.from('first')));
    });

    it('If-Match writes only over the named ETag: 412 for another, 404 NoSuchKey for a missing object', async () => {
      const v1 = await put('cond/match.txt', Buffer.from('v1'));
      const v2 = await put('cond/match.txt', Buffer.from('v2'), { IfMatch: v1.ETag });
      expect(v2.ETag).to.not.equal(v1.ETag);
      expect(await put('cond/match.txt', Buffer.from('v3'), { IfMatch: v1.ETag }).then(() => 'ok', failure), 'stale ETag').to.equal('PreconditionFailed 412');
      expect(await getHash('cond/match.txt')).to.equal(sha256(Buffer.from('v2')));
      expect(await put('cond/missing.txt', Buffer.from('x'), { IfMatch: v2.ETag }).then(() => 'ok', failure), 'missing object').to.equal('NoSuchKey 404');
      expect(await getHash('cond/missing.txt')).to.equal('NoSuchKey');
    });

    it('answers 412 with the S3 error document naming the condition', async () => {
      await put('cond/shape.txt', Buffer.from('x'));
      const r = await rawRequest(stack.endpoint, {
        method: 'PUT',
        path: `/${stack.bucket}/cond/shape.txt`,
        headers: { 'if-none-match': '*' },
        body: 'y',
        sign: {},
      });
      expect(r.status).to.equal(412);
      expect(r.headers['content-type']).to.equal('application/xml');
      expect(xmlCode(r.body)).to.equal('PreconditionFailed');
      expect(r.body).to.contain('<Condition>If-None-Match</Condition>');
      const other = await rawRequest(stack.endpoint, {
        method: 'PUT',
        path: `/${stack.bucket}/cond/shape.txt`,
        headers: { 'if-none-match': '"abc"' },
        body: 'y',
        sign: {},
      });
      expect([other.status, xmlCode(other.body)], 'If-None-Match other than *').to.deep.equal([501, 'NotImplemented']);
    });

    for (const [condition, setup] of [
      ['If-None-Match: *', async () => ({ IfNoneMatch: '*' })],
      ['If-Match of the current ETag', async () => ({ IfMatch: (await put('cond/race-match.txt', Buffer.from('base'))).ETag })],
    ] as const) {
      it(`lets exactly one of two concurrent writes with ${condition} win, five times over`, async () => {
        for (let round = 0; round < 5; round++) {
          const key = condition.startsWith('If-None') ? `cond/race-${round}.txt` : 'cond/race-match.txt';
          const extra = await setup();
          // Both bodies stop halfway until both requests are there, so both are in flight when either commits.
          const gate = deferred();
          let halfway = 0;
          const arrived = () => {
            if (++halfway === 2) gate.resolve();
          };
          const bodies = [bytesOf(SIZE, 100 + round), bytesOf(SIZE, 200 + round)];
          const results = await Promise.all(bodies.map((b) => put(key, heldBody(b, gate.promise, arrived), extra).then(() => 'ok', failure)));
          expect(results.slice().sort(), `round ${round}`).to.deep.equal(['PreconditionFailed 412', 'ok']);
          const winner = bodies[results.indexOf('ok')];
          expect(await getHash(key), `round ${round}: the winner's bytes`).to.equal(sha256(winner));
        }
      });
    }

    it('applies If-None-Match: * to CompleteMultipartUpload', async () => {
      const multipart = async (key: string, body: string) => {
        const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: stack.bucket, Key: key }));
        const part = await s3.send(new UploadPartCommand({ Bucket: stack.bucket, Key: key, UploadId, PartNumber: 1, Body: body }));
        return s3
          .send(
            new CompleteMultipartUploadCommand({
              Bucket: stack.bucket,
              Key: key,
              UploadId,
              IfNoneMatch: '*',
              MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
            }),
          )
          .then(() => 'ok', failure);
      };
      expect(await multipart('cond/multipart.txt', 'first')).to.equal('ok');
      expect(await multipart('cond/multipart.txt', 'second')).to.equal('PreconditionFailed 412');
      expect(await getHash('cond/multipart.txt')).to.equal(sha256(Buffer.from('first')));
    });
  });
});
