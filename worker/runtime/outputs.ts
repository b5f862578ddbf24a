import type { OutputObject } from '../../shared/manifest.js';
import { forecastKey, predictionsKey } from '../../shared/layout.js';
import { compareSequencers, type ObjectCreated } from '../../shared/s3-event.js';
import type { BucketObjects } from './s3-objects.js';

/** User metadata on published objects: which upload (by its event's sequencer) and which run they come from. */
const SEQUENCER = 'sequencer';
const RUN_ID = 'run-id';

export type Publication = { published: { preds: OutputObject; forecast: OutputObject } } | { published: null; reason: string };

/**
 * Replaces `predictions/<path>_preds.csv` and `_forecast.csv` with this run's outputs, unless a newer upload of the
 * same key exists: the input key must still hold this upload (its version, else its ETag), and the published files
 * must not come from an upload with a later sequencer (S3's order of events for one key).
 */
export async function publishPredictions(
  objects: BucketObjects,
  r: ObjectCreated,
  source: { etag: string; versionId: string | null },
  runId: string,
  texts: { preds: string; forecast: string },
  signal?: AbortSignal,
): Promise<Publication> {
  const input = await objects.head(r.key, signal);
  if (input === null) return { published: null, reason: 'the input was deleted during the run: predictions/ are left as they are' };
  const stillLatest = source.versionId ? input.versionId === source.versionId : input.etag === source.etag;
  if (!stillLatest) return { published: null, reason: 'a newer upload of this key exists; its run owns predictions/' };
  const current = await objects.head(predictionsKey(r.key), signal);
  const theirs = current?.metadata[SEQUENCER];
  if (theirs && compareSequencers(theirs, r.sequencer) > 0) {
    return { published: null, reason: `predictions/ hold the run ${current!.metadata[RUN_ID] ?? '?'} of a later upload of this key` };
  }
  const metadata = { [SEQUENCER]: r.sequencer, [RUN_ID]: runId };
  const [preds, forecast] = await Promise.all([
    objects.put(predictionsKey(r.key), texts.preds, 'text/csv', signal, metadata),
    objects.put(forecastKey(r.key), texts.forecast, 'text/csv', signal, metadata),
  ]);
  return { published: { preds, forecast } };
}
