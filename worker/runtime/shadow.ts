import { GetObjectCommand } from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { predictCsv, type PredictionResult } from '../../model/engine.js';
import { createInference } from '../../model/inference.js';
import { forecastCsv, predictionsCsv } from '../../model/output-csv.js';
import type { InferenceEngine, LoadedModel } from '../../model/types.js';
import { REGISTRY } from '../../shared/registry.js';
import { runPrefix } from '../../shared/layout.js';
import type { PredictionMode } from '../../model/predictions.js';
import { loadBucketVersion } from './model-files.js';
import { isNotFound } from './failures.js';
import type { BucketObjects } from './s3-objects.js';

/** `runs/<run id>/shadow/<version>/`: a shadow version's outputs, beside (never into) the published ones. */
export function shadowPrefix(runId: string, version: string): string {
  return `${runPrefix(runId)}shadow/${version}/`;
}

/** The version in shadow, or undefined when there is none (no pointer, or `{ "version": null }` after `shadow --off`). */
export async function readShadowPointer(objects: BucketObjects, signal?: AbortSignal): Promise<string | undefined> {
  let raw: Uint8Array;
  try {
    raw = (await objects.getBytes(REGISTRY.shadowPointer, signal)).body;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  const p = JSON.parse(Buffer.from(raw).toString('utf8')) as { version?: unknown };
  if (p.version === null) return undefined;
  if (typeof p.version !== 'string' || !/^[\w.-]+$/.test(p.version)) throw new Error(`${REGISTRY.shadowPointer}: 'version' missing or malformed`);
  return p.version;
}

/**
 * The version in shadow (`registry/shadow.json`, written by `npm run model -- shadow`), loaded once per version and
 * kept with its engine; replaced (and released) when the pointer names another.
 */
export class ShadowModels {
  private held: { version: string; model: LoadedModel; engine: InferenceEngine } | undefined;

  constructor(private readonly objects: BucketObjects) {}

  /** The shadow version, unless there is none or it is `inService` (nothing to compare). */
  async current(inService: string, signal?: AbortSignal): Promise<{ model: LoadedModel; engine: InferenceEngine } | undefined> {
    const version = await readShadowPointer(this.objects, signal);
    if (!version || version === inService) return undefined;
    if (this.held?.version !== version) {
      const model = await loadBucketVersion(this.objects, version, signal);
      this.release();
      this.held = { version, model, engine: createInference(model, 'fast') };
    }
    return this.held;
  }

  release(): void {
    this.held?.engine.dispose();
    this.held?.model.layers.dispose();
    this.held = undefined;
  }
}

export interface ShadowInput {
  bucket: string;
  key: string;
  versionId: string | null;
}

/** Runs the shadow version on the same upload (the version the run read) and writes its preds and forecast under the run. */
export async function runShadow(
  objects: BucketObjects,
  shadow: { model: LoadedModel; engine: InferenceEngine },
  runId: string,
  input: ShadowInput,
  mode: PredictionMode,
  maxBytes: number,
  signal?: AbortSignal,
): Promise<PredictionResult> {
  const got = await objects.s3.send(
    new GetObjectCommand({ Bucket: input.bucket, Key: input.key, ...(input.versionId ? { VersionId: input.versionId } : {}) }),
    { abortSignal: signal },
  );
  const body = Readable.from([Buffer.from(await got.Body!.transformToByteArray())]);
  const result = await predictCsv(body, shadow.model, shadow.engine, { mode, maxBytes });
  const prefix = shadowPrefix(runId, shadow.model.metadata.version);
  const [preds, forecast] = await Promise.all([predictionsCsv(result.predictions), forecastCsv(result.forecasts)]);
  await objects.create(`${prefix}preds.csv`, preds, 'text/csv', signal);
  await objects.create(`${prefix}forecast.csv`, forecast, 'text/csv', signal);
  return result;
}
