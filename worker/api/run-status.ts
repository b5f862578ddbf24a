import { runKey, uploadStatusKey } from '../../shared/layout.js';
import type { RunError, RunManifest, UploadStatus } from '../../shared/manifest.js';
import type { ApiStore } from './store.js';

/** What GET /runs/{id} answers (docs/openapi.yaml RunStatus). */
export interface RunStatusView {
  id: string;
  status: 'pending' | 'succeeded' | 'partial' | 'failed';
  upload: { bucket: string; key: string; versionId: string | null; etag: string } | null;
  runId: string | null;
  counts?: RunManifest['counts'];
  skipped?: { symbol: string; reason: string; row?: number; column?: string }[];
  model?: string;
  /** Upload (event time) to manifest, in milliseconds. */
  latencyMs?: number;
  urls?: { predictions: string; forecast: string; manifest: string };
  manifest?: RunManifest;
  error?: { kind: string; disposition: string; message: string };
  at?: string;
}

export interface UploadRef {
  bucket: string;
  key: string;
  versionId: string | null;
  etag: string;
}

/** An upload's run: pending until its status record exists, then the record's outcome with the run's files. */
export async function uploadRunStatus(store: ApiStore, id: string, upload: UploadRef): Promise<RunStatusView> {
  const record = await store.json<UploadStatus>(uploadStatusKey(upload.bucket, upload.key, upload.versionId ?? upload.etag));
  if (!record) return { id, status: 'pending', upload, runId: null };
  const view = await runView(store, id, record.runId, upload);
  if (record.status === 'failed' && view.status !== 'failed') return { ...view, status: 'failed', error: record.error, at: record.at };
  if (record.status === 'partial' && view.status === 'pending') return { ...view, status: 'partial', at: record.at };
  if (record.status === 'failed' && record.error) return { ...view, error: record.error };
  return view;
}

/** A run by its id: succeeded with its manifest, failed with its error record, else pending. */
export async function runView(store: ApiStore, id: string, runId: string, upload: UploadRef | null): Promise<RunStatusView> {
  const manifest = await store.json<RunManifest>(runKey(runId, 'manifest'));
  if (manifest) {
    const skipped = manifest.symbols.flatMap((s) =>
      s.status === 'skipped'
        ? [{ symbol: s.symbol, reason: s.reason, ...(s.row !== undefined ? { row: s.row } : {}), ...(s.column !== undefined ? { column: s.column } : {}) }]
        : [],
    );
    const [predictions, forecast, manifestUrl] = await Promise.all([
      store.presignGet(runKey(runId, 'preds')),
      store.presignGet(runKey(runId, 'forecast')),
      store.presignGet(runKey(runId, 'manifest')),
    ]);
    return {
      id,
      status: 'succeeded',
      upload: upload ?? { bucket: manifest.input.bucket, key: manifest.input.key, versionId: manifest.input.versionId, etag: manifest.input.etag },
      runId,
      counts: manifest.counts,
      skipped,
      model: manifest.model.version,
      latencyMs: Date.parse(manifest.finishedAt) - Date.parse(manifest.event.eventTime),
      urls: { predictions, forecast, manifest: manifestUrl },
      manifest,
      at: manifest.finishedAt,
    };
  }
  const error = await store.json<RunError>(runKey(runId, 'error'));
  if (error) {
    const input = error.input;
    // A failure to be retried is final only once the upload's status record says so (the last attempt).
    const final =
      error.error.disposition !== 'retry' ||
      (await store.json<UploadStatus>(uploadStatusKey(input.bucket, input.key, input.versionId ?? input.etag ?? '')))?.status === 'failed';
    return {
      id,
      status: final ? 'failed' : 'pending',
      upload: upload ?? { bucket: input.bucket, key: input.key, versionId: input.versionId ?? null, etag: input.etag ?? '' },
      runId,
      error: error.error,
      at: error.at,
    };
  }
  return { id, status: 'pending', upload, runId };
}
