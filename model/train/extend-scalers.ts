import type { ModelVersionFiles, PreparedModelVersion } from '../model-store.js';
import { scalersToJson } from '../scalers.js';
import type { ModelMetadata, ScalerSet, SymbolScalers } from '../types.js';
import { TrainingInputError, type SymbolHistories } from './history.js';
import type { Provenance, ScalerExtensionRecord } from './record.js';
import { fitSymbolScalers } from './scaler-fit.js';
import { TRAINER } from './train.js';
import { finishVersion, readVersion } from './version-files.js';

/** issue 11's default: a symbol needs this many rows of history before it gets scalers. */
export const DEFAULT_MIN_ROWS = 30;

export interface ExtendScalersOptions {
  provenance?: Provenance;
}

export interface ExtendScalersResult extends PreparedModelVersion {
  /** False when no symbol was added: `files` and `metadata` are then the input version's, unchanged. */
  changed: boolean;
  added: string[];
  skipped: ScalerExtensionRecord['skipped'];
  record?: ScalerExtensionRecord;
}

/**
 * The cold-start rule (issue 11): a new version with the same network (model.json and weights.bin byte for byte),
 * the old scalers unchanged, and StandardScalers fitted on all given rows of every symbol that has none yet and
 * at least `minRows` rows. Symbols that already have scalers are never refitted.
 */
export async function extendScalers(
  files: ModelVersionFiles,
  newSymbolRows: SymbolHistories,
  minRows = DEFAULT_MIN_ROWS,
  opts: ExtendScalersOptions = {},
): Promise<ExtendScalersResult> {
  if (!Number.isSafeInteger(minRows) || minRows < 2) throw new TrainingInputError(`minRows must be an integer >= 2; got ${minRows}`);
  const base = await readVersion(files, 'base model version');
  try {
    const added: ScalerExtensionRecord['added'] = [];
    const skipped: ScalerExtensionRecord['skipped'] = [];
    const symbols = new Map<string, SymbolScalers>(base.scalers.symbols);
    for (const symbol of [...newSymbolRows.keys()].sort()) {
      const rows = newSymbolRows.get(symbol)!;
      if (symbol.trim() === '') throw new TrainingInputError('a symbol name is empty');
      if (base.scalers.symbols.has(symbol)) {
        skipped.push({ symbol, rows: rows.length, reason: `model version ${base.metadata.version} already has its scalers` });
      } else if (rows.length < minRows) {
        skipped.push({ symbol, rows: rows.length, reason: `${rows.length} of ${minRows} rows needed` });
      } else {
        symbols.set(symbol, fitSymbolScalers(rows, symbol));
        added.push({ symbol, rows: rows.length, firstDate: rows[0]!.date, lastDate: rows.at(-1)!.date });
      }
    }
    if (added.length === 0) return { files, metadata: base.metadata, changed: false, added: [], skipped };

    const scalers: ScalerSet = { symbols, hypers: base.scalers.hypers };
    const content = new Map<string, Buffer>([
      ['model.json', files.get('model.json')!],
      ['weights.bin', files.get('weights.bin')!],
      ['scalers.json', Buffer.from(scalersToJson(scalers))],
      // The same network: the same check windows and outputs.
      ['check.json', files.get('check.json')!],
    ]);
    const record: ScalerExtensionRecord = {
      kind: 'extend-scalers',
      trainer: TRAINER,
      baseVersion: base.metadata.version,
      minRows,
      added,
      skipped,
      createdAt: new Date().toISOString(),
      provenance: { ...opts.provenance },
    };
    const { version: _version, format: _format, training: _training, ...inherited } = base.metadata;
    const metadata: Omit<ModelMetadata, 'version' | 'format'> = {
      ...inherited,
      symbols: [...symbols.keys()].sort(),
      importedBy: TRAINER,
      training: record,
    };
    return { ...finishVersion(content, metadata), changed: true, added: added.map((a) => a.symbol), skipped, record };
  } finally {
    base.layers.dispose();
  }
}
