import type { ColdStart } from '../../model/engine.js';
import { HistoryStore } from './history.js';
import type { BucketObjects } from './s3-objects.js';

/**
 * The worker's side of the cold-start rule: for each symbol of an upload that has no scaler, how many rows the history
 * holds for it (up to its last day in the upload), so its skip reason says how far it is from getting scalers
 * (`npm run model -- extend-scalers`). Counted up to `minRows` and within `2 * minRows` days, so a run with new
 * symbols reads a bounded slice of the history, not all of it: a symbol with `minRows` rows is ready, whatever more it has.
 */
export function coldStartCounter(objects: BucketObjects, minRows: number, signal?: AbortSignal): ColdStart {
  return {
    minRows,
    historyRows: async (symbols) => {
      const store = new HistoryStore(objects, { maxLookbackDays: 2 * minRows });
      const read = await store.prior(new Map(symbols.map((s) => [s.symbol, s.lastDay + 1])), minRows, signal);
      return new Map(symbols.map((s) => [s.symbol, read.rows.get(s.symbol)?.length ?? 0]));
    },
  };
}
