import fs from 'node:fs';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { expect } from 'chai';
import { MODEL_POINTER_KEY, runKey } from '../../shared/layout.js';
import type { RunError } from '../../shared/manifest.js';
import { API_DEFAULTS } from '../../shared/worker-env.js';
import { forecastDayKey, registryVersionKey } from '../../worker/api/keys.js';
import { startApiServer, type ApiServer } from '../../worker/console/server.js';
import { makeS3Client, requestLogFromEnv } from '../../worker/runtime/aws-clients.js';
import { checkedFetch, validateResponse } from '../helpers/openapi.js';
import { shared } from '../helpers/paths.js';
import { eventually, inProcessWorker, readJson, startTestStack, type TestStack } from '../helpers/test-stack.js';

const TEST_CSV = fs.readFileSync(shared('data/crypto_test.csv'));

describe('REST API against the embedded stack: responses match docs/openapi.yaml', function () {
  this.timeout(180_000);
  let fleet: TestStack;
  let worker: Awaited<ReturnType<typeof inProcessWorker>>;
  let api: ApiServer;
  let s3: ReturnType<typeof makeS3Client>;

  before(async () => {
    fleet = await startTestStack();
    worker = await inProcessWorker(fleet);
    // Recorded as the API's Lambda role (test/iam/program-policies.ts maps `api` to it).
    const requestLog = requestLogFromEnv(process.env, 'api');
    s3 = makeS3Client(requestLog ? { ...fleet.stack.clients, requestLog: { ...requestLog, principal: 'api' } } : fleet.stack.clients);
    api = await startApiServer({ api: { s3, config: { bucket: fleet.stack.bucket, maxBodyBytes: API_DEFAULTS.maxBodyBytes, presignSeconds: 300 } } });
  });
  after(async () => {
    await api?.close();
    s3?.destroy();
    await worker?.stop();
    await fleet?.close();
  });

  const status = async (statusUrl: string) => checkedFetch(`${api.url}${statusUrl}`, undefined, { method: 'GET', path: '/runs/{id}' });
  const postCsv = (body: BodyInit, type = 'text/csv') =>
    checkedFetch(`${api.url}/runs`, { method: 'POST', headers: { 'content-type': type }, body }, { method: 'POST', path: '/runs' });

  it('POST /runs with crypto_test.csv answers 202; its status URL answers pending, then the finished manifest with presigned links', async () => {
    const posted = await postCsv(TEST_CSV);
    expect(posted.status).to.equal(202);
    const accepted = posted.body as any;
    expect(accepted.upload.key).to.equal(`incoming/api/${accepted.id}.csv`);
    expect(accepted.pred_url).to.equal(`s3://${fleet.stack.bucket}/predictions/api/${accepted.id}_preds.csv`);
    expect(posted.headers.get('location')).to.equal(accepted.status_url);
    expect(Buffer.from((await fleet.objects.getBytes(accepted.upload.key)).body).equals(TEST_CSV), 'stored exactly as sent').to.equal(true);

    const done = await eventually(
      async () => {
        const r = await status(accepted.status_url);
        return (r.body as any).status === 'pending' ? undefined : (r.body as any);
      },
      'the run to finish',
      120_000,
      250,
    );
    expect(done.status).to.equal('succeeded');
    const manifest = await readJson<any>(fleet, runKey(done.runId, 'manifest'));
    expect(done.manifest).to.deep.equal(manifest);
    expect(done.manifest.input).to.include({ key: accepted.upload.key, etag: accepted.upload.etag });
    expect(done.counts).to.deep.equal(manifest.counts);
    expect(done.skipped.map((s: any) => s.symbol)).to.deep.equal(manifest.symbols.filter((s: any) => s.status === 'skipped').map((s: any) => s.symbol));
    const preds = await (await fetch(done.urls.predictions)).text();
    expect(preds.split('\n')[0]).to.match(/^symbol,index,date,.*pred_open/);
    const viaManifest = await (await fetch(done.urls.manifest)).json();
    expect(viaManifest).to.deep.equal(manifest);
    // The run id works as the id too.
    const byRun = await status(`/runs/${done.runId}`);
    expect((byRun.body as any).manifest).to.deep.equal(manifest);
  });

  it('a malformed CSV is accepted, then fails with the worker one-line reason from its error record', async () => {
    const posted = await postCsv('symbol,date,open,high,low,close\nBTC,2018-01-01,1,2,0.5,1\n');
    expect(posted.status).to.equal(202);
    const failed = await eventually(
      async () => {
        const r = (await status((posted.body as any).status_url)).body as any;
        return r.status === 'pending' ? undefined : r;
      },
      'the run to fail',
      60_000,
      250,
    );
    expect(failed.status).to.equal('failed');
    const record = await readJson<RunError>(fleet, runKey(failed.runId, 'error'));
    expect(failed.error).to.deep.equal(record.error);
    expect(failed.error.message).to.match(/required column 'market' missing/);
    expect(failed.error.message).to.not.include('\n');
  });

  it('415 for a body that is not CSV, as problem+json', async () => {
    const r = await postCsv('{"a":1}', 'application/json');
    expect(r.status).to.equal(415);
    expect(r.contentType).to.equal('application/problem+json');
    expect((r.body as any).detail).to.match(/text\/csv.*application\/json/);
  });

  it(`413 for a body over the documented ${API_DEFAULTS.maxBodyBytes}-byte limit; nothing is stored`, async () => {
    const before = (await fleet.s3.send(new ListObjectsV2Command({ Bucket: fleet.stack.bucket, Prefix: 'incoming/api/' }))).KeyCount;
    const r = await postCsv(Buffer.alloc(API_DEFAULTS.maxBodyBytes + 1, 'a'));
    expect(r.status).to.equal(413);
    expect((r.body as any).limit).to.equal(API_DEFAULTS.maxBodyBytes);
    expect(r.headers.get('connection'), 'the unread body ends the connection').to.equal('close');
    const after = (await fleet.s3.send(new ListObjectsV2Command({ Bucket: fleet.stack.bucket, Prefix: 'incoming/api/' }))).KeyCount;
    expect(after).to.equal(before);
  });

  it('400 for an empty body or a malformed id, 404 for an unknown upload, route or forecast', async () => {
    expect((await postCsv('')).status).to.equal(400);
    expect((await status('/runs/not-an-id')).status).to.equal(400);
    const unknown = await status('/runs/00000000-0000-4000-8000-000000000000');
    expect(unknown.status).to.equal(404);
    expect((unknown.body as any).detail).to.include('incoming/api/00000000-0000-4000-8000-000000000000.csv');
    const noRoute = await fetch(`${api.url}/nowhere`);
    expect(noRoute.status).to.equal(404);
    expect(noRoute.headers.get('content-type')).to.equal('application/problem+json');
    const noForecast = await checkedFetch(`${api.url}/forecasts/2018-02-30`, undefined, { method: 'GET', path: '/forecasts/{date}' });
    expect(noForecast.status).to.equal(400);
    const absent = await checkedFetch(`${api.url}/forecasts/2018-02-01`, undefined, { method: 'GET', path: '/forecasts/{date}' });
    expect(absent.status).to.equal(404);
  });

  it('POST /runs/uploads answers a presigned PUT URL; the file PUT there runs like any upload', async () => {
    const r = await checkedFetch(`${api.url}/runs/uploads`, { method: 'POST' }, { method: 'POST', path: '/runs/uploads' });
    expect(r.status).to.equal(201);
    const p = r.body as any;
    const put = await fetch(p.upload_url, { method: 'PUT', headers: p.headers, body: TEST_CSV });
    expect(put.status, await put.text()).to.equal(200);
    const done = await eventually(
      async () => {
        const s = (await status(p.status_url)).body as any;
        return s.status === 'pending' ? undefined : s;
      },
      'the presigned upload run',
      120_000,
      250,
    );
    expect(done.status).to.equal('succeeded');
    expect(done.manifest.input.key).to.equal(p.key);
  });

  it('GET /forecasts/{date} reads forecasts/<date>.csv; GET /models lists versions, the pointer and registry records', async () => {
    await fleet.objects.put(forecastDayKey('2018-02-02'), 'symbol,date,pred_open\nBTC,2018-02-02,9000.5\n', 'text/csv');
    const f = await checkedFetch(`${api.url}/forecasts/2018-02-02`, undefined, { method: 'GET', path: '/forecasts/{date}' });
    expect(f.status).to.equal(200);
    expect((f.body as any).rows).to.deep.equal([{ symbol: 'BTC', date: '2018-02-02', pred_open: '9000.5' }]);

    const m = await checkedFetch(`${api.url}/models`, undefined, { method: 'GET', path: '/models' });
    const pointer = await readJson<any>(fleet, MODEL_POINTER_KEY);
    expect((m.body as any).pointer).to.deep.equal(pointer);
    const current = (m.body as any).versions.find((v: any) => v.current);
    expect(current.version).to.equal(fleet.modelVersion);
    expect(current.registry).to.equal(null);
    await fleet.objects.putJson(registryVersionKey(fleet.modelVersion), { status: 'approved' });
    const again = await checkedFetch(`${api.url}/models`, undefined, { method: 'GET', path: '/models' });
    expect((again.body as any).versions.find((v: any) => v.current).registry).to.deep.equal({ status: 'approved' });
  });

  it('the validator refuses a response that breaks the document (so the checks above can fail)', () => {
    expect(() =>
      validateResponse('GET', '/runs/{id}', { status: 200, contentType: 'application/json', body: { id: 'x', status: 'succeeded', upload: null, runId: 'r' } }),
    ).to.throw(/required property/);
    expect(() => validateResponse('POST', '/runs', { status: 500, contentType: 'application/problem+json', body: {} })).to.throw(/does not document/);
  });
});
