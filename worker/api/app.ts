import { randomUUID } from 'node:crypto';
import { HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { zValidator } from '@hono/zod-validator';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import Papa from 'papaparse';
import { z } from 'zod';
import { predictionsKey, s3Url } from '../../shared/layout.js';
import { isNotFound } from '../runtime/failures.js';
import { unquote } from '../runtime/s3-objects.js';
import type { ApiConfig } from './config.js';
import { apiUploadKey, forecastDayKey, RUN_ID, UPLOAD_ID } from './keys.js';
import { modelsView } from './models.js';
import { ApiProblem, installProblemHandlers, problem } from './problem.js';
import { runView, uploadRunStatus, type UploadRef } from './run-status.js';
import { ApiStore } from './store.js';

/**
 * The REST API (docs/openapi.yaml): one Hono app, served by @hono/node-server locally (worker/console/server.ts) and
 * by the Lambda adapter on AWS (worker/api/lambda.ts).
 */

export interface ApiDeps {
  s3: S3Client;
  config: ApiConfig;
}

/** `text/csv` with any parameters (`; charset=utf-8`); also `application/csv`, which some clients send. */
const CSV_TYPE = /^(text|application)\/csv\s*(;.*)?$/i;

const onInvalid = (result: { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } }, c: Context) => {
  if (result.success) return undefined;
  const issue = result.error?.issues[0];
  const where = issue?.path.length ? `${issue.path.map(String).join('.')}: ` : '';
  return problem(c, 400, 'Bad Request', `${where}${issue?.message ?? 'invalid request'}`);
};

const idParam = z.object({
  id: z.string().refine((s) => UPLOAD_ID.test(s) || RUN_ID.test(s), {
    message: 'expected an upload id (a UUID from POST /runs) or a run id (<yyyymmddThhmmssZ>-<16 hex>)',
  }),
});
const statusQuery = z.object({
  version: z.string().min(1).max(1024).optional(),
  etag: z.string().min(1).max(128).optional(),
});
const dateParam = z.object({
  date: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/, { message: 'expected a date YYYY-MM-DD' })
    .refine((s) => !Number.isNaN(Date.parse(`${s}T00:00:00Z`)) && new Date(`${s}T00:00:00Z`).toISOString().startsWith(s), { message: 'not a calendar date' }),
});

export function statusPath(uploadId: string, upload: { versionId: string | null; etag: string }): string {
  return `/runs/${uploadId}?${upload.versionId ? `version=${encodeURIComponent(upload.versionId)}` : `etag=${encodeURIComponent(upload.etag)}`}`;
}

export function createApiApp({ s3, config }: ApiDeps): Hono {
  const store = new ApiStore(s3, config.bucket, config.presignSeconds);
  const app = new Hono();

  installProblemHandlers(app);

  app.post(
    '/runs',
    async (c, next) => {
      const type = c.req.header('content-type') ?? '';
      if (!CSV_TYPE.test(type))
        return problem(c, 415, 'Unsupported Media Type', `POST /runs takes a CSV body with Content-Type text/csv, got ${type ? JSON.stringify(type) : 'none'}`);
      await next();
    },
    bodyLimit({
      maxSize: config.maxBodyBytes,
      onError: (c) => {
        // The rest of the body is not read: the connection cannot carry another request.
        c.header('connection', 'close');
        return problem(
          c,
          413,
          'Content Too Large',
          `the body is over the ${config.maxBodyBytes.toLocaleString('en-US')}-byte limit of POST /runs; use POST /runs/uploads for a presigned S3 upload`,
          { limit: config.maxBodyBytes },
        );
      },
    }),
    async (c) => {
      const body = new Uint8Array(await c.req.arrayBuffer());
      if (body.length === 0) return problem(c, 400, 'Bad Request', 'the body is empty: POST /runs takes the CSV file as its body');
      const id = randomUUID();
      const key = apiUploadKey(id);
      const put = await s3.send(new PutObjectCommand({ Bucket: config.bucket, Key: key, Body: body, ContentType: 'text/csv' }));
      const upload: UploadRef = { bucket: config.bucket, key, versionId: put.VersionId ?? null, etag: unquote(put.ETag ?? '') };
      const statusUrl = statusPath(id, upload);
      c.header('location', statusUrl);
      return c.json(
        { id, status: 'pending' as const, upload, bytes: body.length, pred_url: s3Url(config.bucket, predictionsKey(key)), status_url: statusUrl },
        202,
      );
    },
  );

  app.post('/runs/uploads', async (c) => {
    const id = randomUUID();
    const key = apiUploadKey(id);
    const url = await store.presignPut(key, 'text/csv');
    return c.json(
      {
        id,
        key,
        upload_url: url,
        method: 'PUT' as const,
        headers: { 'content-type': 'text/csv' },
        expires_at: new Date(Date.now() + config.presignSeconds * 1000).toISOString(),
        pred_url: s3Url(config.bucket, predictionsKey(key)),
        status_url: `/runs/${id}`,
      },
      201,
    );
  });

  app.get('/runs/:id', zValidator('param', idParam, onInvalid), zValidator('query', statusQuery, onInvalid), async (c) => {
    const { id } = c.req.valid('param');
    if (RUN_ID.test(id)) {
      const view = await runView(store, id, id, null);
      if (view.status === 'pending' && !view.upload)
        throw new ApiProblem(404, 'Not Found', `no run ${id}: neither runs/${id}/manifest.json nor runs/${id}/error.json exists`);
      return c.json(view);
    }
    const key = apiUploadKey(id);
    const q = c.req.valid('query');
    let head;
    try {
      head = await s3.send(new HeadObjectCommand({ Bucket: config.bucket, Key: key, ...(q.version ? { VersionId: q.version } : {}) }));
    } catch (err) {
      if (isNotFound(err))
        throw new ApiProblem(404, 'Not Found', `no upload ${id}: ${s3Url(config.bucket, key)} does not exist${q.version ? ` in version ${q.version}` : ''}`);
      throw err;
    }
    const upload: UploadRef = { bucket: config.bucket, key, versionId: q.version ?? head.VersionId ?? null, etag: q.etag ?? unquote(head.ETag ?? '') };
    return c.json(await uploadRunStatus(store, id, upload));
  });

  app.get('/forecasts/:date', zValidator('param', dateParam, onInvalid), async (c) => {
    const { date } = c.req.valid('param');
    const key = forecastDayKey(date);
    const text = await store.text(key);
    if (text === null) throw new ApiProblem(404, 'Not Found', `no forecast for ${date}: ${s3Url(config.bucket, key)} does not exist`);
    const parsed = Papa.parse<Record<string, string>>(text.trim(), { header: true, skipEmptyLines: true });
    return c.json({ date, key, columns: parsed.meta.fields ?? [], rows: parsed.data, url: await store.presignGet(key) });
  });

  app.get('/models', async (c) => {
    return c.json(await modelsView(store));
  });

  return app;
}
