import type { PredictionResult } from '../../model/engine.js';
import type { LoadedModel } from '../../model/types.js';
import { dedupeRows, worseDays } from '../../shared/accuracy.js';
import { dayNumber, isoDay } from './history.js';
import type { Logger } from './log.js';
import { readAccuracy, scoreRun, writeAccuracy } from './accuracy.js';
import type { RunContext } from './run.js';
import type { BucketObjects } from './s3-objects.js';
import { runShadow, ShadowModels, type ShadowInput } from './shadow.js';

/** Days of accuracy records read back to count the version's consecutive days worse than naive. */
const WORSE_DAYS_WINDOW = 60;

const shadows = new WeakMap<BucketObjects, ShadowModels>();

export interface WatchedRun {
  runId: string;
  input: ShadowInput;
  model: LoadedModel;
  result: PredictionResult;
}

/**
 * After a run's outputs are written: the version in shadow (if any) runs on the same upload, and the forecasts whose
 * actual the upload brought are scored per version into the accuracy record. Logs `accuracy.recorded` with
 * `worseDays`, the consecutive days the version in service did worse than the naive forecast (a metric filter and an
 * alarm watch it). Never fails the run: a problem here is logged.
 */
export async function watchRun(ctx: RunContext, run: WatchedRun, log: Logger): Promise<void> {
  const version = run.model.metadata.version;
  const seqLen = run.model.scalers.hypers.seqLen;
  try {
    const rows = scoreRun(run.result.predictions, version, 'in-service', seqLen);
    let held = shadows.get(ctx.objects);
    if (!held) shadows.set(ctx.objects, (held = new ShadowModels(ctx.objects)));
    const shadow = await held.current(version, ctx.signal);
    if (shadow) {
      const result = await runShadow(ctx.objects, shadow, run.runId, run.input, ctx.config.mode, ctx.config.maxUploadBytes, ctx.signal);
      rows.push(...scoreRun(result.predictions, shadow.model.metadata.version, 'shadow', seqLen));
      log.info('shadow.ran', { shadow: shadow.model.metadata.version, predicted: result.counts.predicted });
    }
    if (rows.length === 0) return;
    await writeAccuracy(ctx.objects, run.runId, run.input.key, rows, ctx.signal);
    const latest = rows.reduce((d, r) => (r.date > d ? r.date : d), rows[0]!.date);
    const recent = dedupeRows(await readAccuracy(ctx.objects, isoDay(dayNumber(latest) - WORSE_DAYS_WINDOW + 1), latest, ctx.signal));
    const mine = rows.filter((r) => r.version === version);
    log.info('accuracy.recorded', {
      version,
      date: latest,
      symbols: mine.length,
      mad: mine.length ? mine.reduce((s, r) => s + r.absError, 0) / mine.length : null,
      naiveMad: mine.length ? mine.reduce((s, r) => s + r.naiveAbsError, 0) / mine.length : null,
      worseDays: worseDays(recent, version),
      ...(shadow ? { shadow: shadow.model.metadata.version, shadowWorseDays: worseDays(recent, shadow.model.metadata.version) } : {}),
    });
  } catch (err) {
    log.warn('accuracy.failed', { version, error: err });
  }
}
