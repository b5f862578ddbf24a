import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { readInputCsv } from '../../model/csv-input.js';
import { PREFIX } from '../../shared/layout.js';
import type { HistoryObject } from '../../shared/manifest.js';
import { HistoryStore, rowsFromInput } from '../runtime/history.js';
import { ObjectExistsError, type BucketObjects } from '../runtime/s3-objects.js';

/** `history/loads/<load id>.json`: what a bootstrap load wrote, from which file. */
export interface HistoryLoadRecord {
  schema: 'crypto-open-fleet/history-load/1';
  loadId: string;
  file: { name: string; sha256: string; bytes: number };
  rows: number;
  symbols: { loaded: string[]; skipped: { symbol: string; reason: string }[] };
  segments: HistoryObject[];
  at: string;
}

export interface LoadOutcome {
  record: HistoryLoadRecord;
  /** The same file was loaded before: nothing was written. */
  alreadyLoaded: boolean;
}

/**
 * Bootstraps the history from a full history file: validated with the upload's rules (a structural problem refuses the
 * file; a symbol with a bad value is skipped and reported), written straight to `history/` with a load record, without
 * predictions and whatever the scalers. Loading the same file again writes nothing.
 */
export async function loadHistoryFile(objects: BucketObjects, file: string): Promise<LoadOutcome> {
  const bytes = fs.readFileSync(file);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const loadId = `load-${sha256.slice(0, 16)}`;
  const recordKey = `${PREFIX.history}loads/${loadId}.json`;
  if (await objects.exists(recordKey)) {
    const existing = JSON.parse(Buffer.from((await objects.getBytes(recordKey)).body).toString('utf8')) as HistoryLoadRecord;
    return { record: existing, alreadyLoaded: true };
  }
  const parsed = await readInputCsv(fs.createReadStream(file));
  const rows = rowsFromInput(parsed, () => true);
  const at = new Date().toISOString();
  const segments = await new HistoryStore(objects).add(rows, {
    runId: loadId,
    inputKey: `load:${path.basename(file)}`,
    inputVersion: sha256,
    eventTime: at,
    sequencer: '0',
  });
  const record: HistoryLoadRecord = {
    schema: 'crypto-open-fleet/history-load/1',
    loadId,
    file: { name: path.basename(file), sha256, bytes: bytes.length },
    rows: rows.length,
    symbols: {
      loaded: parsed.symbols.filter((s) => !s.problem).map((s) => s.symbol),
      skipped: parsed.symbols
        .filter((s) => s.problem)
        .map((s) => ({ symbol: s.symbol, reason: `row ${s.problem!.row}, column '${s.problem!.column}': ${s.problem!.reason}` })),
    },
    segments,
    at,
  };
  try {
    await objects.createJson(recordKey, record);
  } catch (err) {
    // Two loads of the same file at once: the other one's record stands.
    if (!(err instanceof ObjectExistsError)) throw err;
  }
  return { record, alreadyLoaded: false };
}
