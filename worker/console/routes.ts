import { paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { Hono } from 'hono';
import Papa from 'papaparse';
import { PREFIX, runKey } from '../../shared/layout.js';
import type { RunError, RunManifest } from '../../shared/manifest.js';
import { DAILY_LATEST_KEY, RUN_ID } from '../api/keys.js';
import { problem } from '../api/problem.js';
import { ApiStore } from '../api/store.js';
import { listDlq, redriveDlq } from '../ops/dlq.js';

/**
 * The console's own reads under `/console/api/`, made with the operator's credentials (the caller's, or the local
 * stack's): listing runs, the run files as text, the daily file, the DLQ and its redrive. The Lambda serves none of
 * these, so its role needs no listing of runs/ and no SQS.
 */

export interface ConsoleDeps {
  s3: S3Client;
  sqs: SQSClient;
  bucket: string;
  queueUrl: string;
  dlqUrl: string;
  /** Long-poll seconds per DLQ receive: 0 locally, 1 or more on AWS (a short poll can miss messages). */
  dlqWaitSeconds: number;
  target: 'local' | 'aws';
}

export interface RunSummary {
  runId: string;
  status: 'succeeded' | 'failed';
  input: string;
  symbolsOk: number | null;
  symbolsSkipped: number | null;
  model: string | null;
  latencyMs: number | null;
  at: string;
  reason: string | null;
}

const RUN_FILES = { 'preds.csv': 'preds', 'forecast.csv': 'forecast' } as const;

export function consoleRoutes(deps: ConsoleDeps): Hono {
  const store = new ApiStore(deps.s3, deps.bucket, 900);
  const app = new Hono();

  app.get('/config', (c) => c.json({ target: deps.target, bucket: deps.bucket, queueUrl: deps.queueUrl, dlqUrl: deps.dlqUrl }));

  app.get('/runs', async (c) => {
    const limit = Math.min(200, Math.max(1, Number(c.req.query('limit') ?? 50) || 50));
    const ids: string[] = [];
    for await (const page of paginateListObjectsV2({ client: deps.s3 }, { Bucket: deps.bucket, Prefix: PREFIX.runs, Delimiter: '/' })) {
      for (const p of page.CommonPrefixes ?? []) ids.push(p.Prefix!.slice(PREFIX.runs.length, -1));
    }
    // Run ids start with the upload's event time: newest first.
    ids.sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
    const rows = await Promise.all(ids.slice(0, limit).map((id) => summary(store, id)));
    return c.json({ runs: rows.filter((r): r is RunSummary => r !== null), total: ids.length });
  });

  app.get('/runs/:runId/:file', async (c) => {
    const { runId, file } = c.req.param();
    const name = RUN_FILES[file as keyof typeof RUN_FILES];
    if (!RUN_ID.test(runId) || !name) return problem(c, 404, 'Not Found', `no run file ${file} for ${runId} (files: ${Object.keys(RUN_FILES).join(', ')})`);
    const text = await store.text(runKey(runId, name));
    if (text === null) return problem(c, 404, 'Not Found', `runs/${runId}/${file} does not exist`);
    return c.body(text, 200, { 'content-type': 'text/csv; charset=utf-8' });
  });

  app.get('/daily', async (c) => {
    const text = await store.text(DAILY_LATEST_KEY);
    if (text === null) return problem(c, 404, 'Not Found', `no daily file: s3://${deps.bucket}/${DAILY_LATEST_KEY} does not exist yet`);
    const parsed = Papa.parse<Record<string, string>>(text.trim(), { header: true, skipEmptyLines: true });
    return c.json({ key: DAILY_LATEST_KEY, columns: parsed.meta.fields ?? [], rows: parsed.data });
  });

  app.get('/dlq', async (c) => {
    const entries = await listDlq(deps.sqs, deps.dlqUrl, { holdSeconds: 5, waitSeconds: deps.dlqWaitSeconds });
    return c.json({ messages: entries });
  });

  app.post('/dlq/redrive', async (c) => {
    const result = await redriveDlq(deps.sqs, deps.dlqUrl, deps.queueUrl, { holdSeconds: 30, waitSeconds: deps.dlqWaitSeconds });
    return c.json(result);
  });

  return app;
}

async function summary(store: ApiStore, runId: string): Promise<RunSummary | null> {
  const m = await store.json<RunManifest>(runKey(runId, 'manifest'));
  if (m) {
    const ok = m.symbols.filter((s) => s.status === 'ok').length;
    return {
      runId,
      status: 'succeeded',
      input: m.input.key,
      symbolsOk: ok,
      symbolsSkipped: m.symbols.length - ok,
      model: m.model.version,
      latencyMs: Date.parse(m.finishedAt) - Date.parse(m.event.eventTime),
      at: m.finishedAt,
      reason: null,
    };
  }
  const e = await store.json<RunError>(runKey(runId, 'error'));
  if (e)
    return {
      runId,
      status: 'failed',
      input: e.input.key,
      symbolsOk: null,
      symbolsSkipped: null,
      model: null,
      latencyMs: null,
      at: e.at,
      reason: e.error.message,
    };
  return null;
}
