import { ModelError } from './errors.js';
import { NdArray, PickleInstance, parsePickle, type PickleValue } from './pickle.js';
import { FEATURE_COLUMNS, SCALED_COLUMNS, type ColumnScaler, type ModelHypers, type ScalerSet, type SymbolScalers } from './types.js';

export class ScalerFileError extends ModelError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ScalerFileError';
  }
}

const STANDARD_SCALER = 'sklearn.preprocessing.data.StandardScaler';
const HYPERS_KEY = 'model_hypers';
/** Version tag of `scalers.json`. */
export const SCALERS_JSON_FORMAT = 'scalers-json/1';

/** Reads the team's `scaler.pkl` (SPEC §4) into a validated ScalerSet. `source` names the file in errors. */
export function scalerSetFromPickle(bytes: Uint8Array, source: string): ScalerSet {
  let root: PickleValue;
  try {
    root = parsePickle(bytes);
  } catch (err) {
    throw new ScalerFileError(`${source}: ${(err as Error).message}`, { cause: err });
  }
  if (!(root instanceof Map)) throw new ScalerFileError(`${source}: the pickle holds a ${typeName(root)}, not a dict`);
  const hypersValue = root.get(HYPERS_KEY);
  if (!(hypersValue instanceof Map)) throw new ScalerFileError(`${source}: no '${HYPERS_KEY}' dict`);
  const hypers: ModelHypers = {
    datCols: hypersValue.get('dat_cols') as string[],
    featCols: hypersValue.get('feat_cols') as string[],
    targetCol: hypersValue.get('target_col') as string,
    batchSize: hypersValue.get('batch_size') as number,
    seqLen: hypersValue.get('seq_len') as number,
  };
  const symbols = new Map<string, Record<string, ColumnScaler>>();
  for (const [symbol, columns] of root) {
    if (symbol === HYPERS_KEY) continue;
    if (typeof symbol !== 'string' || !(columns instanceof Map)) {
      throw new ScalerFileError(`${source}: entry ${JSON.stringify(symbol)} is not a symbol -> {column -> StandardScaler} dict`);
    }
    const scalers: Record<string, ColumnScaler> = {};
    for (const [column, scaler] of columns) scalers[String(column)] = columnScaler(scaler, `${source}: symbol '${symbol}' column '${column}'`);
    symbols.set(symbol, scalers);
  }
  return validated(symbols, hypers, source);
}

function columnScaler(value: PickleValue, where: string): ColumnScaler {
  if (!(value instanceof PickleInstance) || value.className !== STANDARD_SCALER) {
    throw new ScalerFileError(`${where}: expected a ${STANDARD_SCALER}, got ${typeName(value)}`);
  }
  const single = (name: string): number => {
    const v = value.state.get(name);
    if (typeof v === 'number') return v;
    if (v instanceof NdArray && v.data.length === 1) return v.data[0];
    throw new ScalerFileError(`${where}: ${name} is ${v === undefined ? 'missing' : `a ${typeName(v)}`}, expected one number`);
  };
  return { mean: single('mean_'), scale: single('scale_'), var: single('var_'), nSamplesSeen: single('n_samples_seen_') };
}

function typeName(v: PickleValue | undefined): string {
  if (v instanceof PickleInstance) return v.className;
  if (v instanceof NdArray) return `array of shape [${v.shape}]`;
  if (v instanceof Map) return 'dict';
  if (Array.isArray(v)) return 'list';
  return v === null ? 'None' : typeof v;
}

function sameList(a: unknown, b: readonly string[]): boolean {
  return Array.isArray(a) && a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Checks a ScalerSet against what the engine needs and returns it with symbols and columns in a stable order. */
function validated(symbols: ReadonlyMap<string, Readonly<Record<string, ColumnScaler>>>, hypers: ModelHypers, source: string): ScalerSet {
  const h = `${source}: model_hypers`;
  if (!sameList(hypers.featCols, FEATURE_COLUMNS)) {
    throw new ScalerFileError(`${h}.feat_cols is ${JSON.stringify(hypers.featCols)}; the engine's feature order is ${JSON.stringify(FEATURE_COLUMNS)}`);
  }
  if (!sameList(hypers.datCols, FEATURE_COLUMNS.slice(0, 6))) {
    throw new ScalerFileError(`${h}.dat_cols is ${JSON.stringify(hypers.datCols)}; expected ${JSON.stringify(FEATURE_COLUMNS.slice(0, 6))}`);
  }
  // SPEC §5 un-scales the output as v_open and adds it to an open price.
  if (hypers.targetCol !== 'v_open') throw new ScalerFileError(`${h}.target_col is ${JSON.stringify(hypers.targetCol)}; the engine predicts 'v_open'`);
  for (const key of ['batchSize', 'seqLen'] as const) {
    if (!Number.isInteger(hypers[key]) || hypers[key] < 1)
      throw new ScalerFileError(`${h}.${key} is ${JSON.stringify(hypers[key])}; expected a positive integer`);
  }
  if (symbols.size === 0) throw new ScalerFileError(`${source}: no symbol scalers`);

  const ordered = new Map<string, SymbolScalers>();
  for (const symbol of [...symbols.keys()].sort()) {
    const columns = symbols.get(symbol)!;
    if (typeof columns !== 'object' || columns === null) throw new ScalerFileError(`${source}: symbol '${symbol}' has no column scalers`);
    for (const column of SCALED_COLUMNS) {
      if (!Object.hasOwn(columns, column)) throw new ScalerFileError(`${source}: symbol '${symbol}' has no scaler for column '${column}'`);
    }
    const extra = Object.keys(columns)
      .filter((c) => !SCALED_COLUMNS.includes(c as never))
      .sort();
    const out: Record<string, ColumnScaler> = {};
    for (const column of [...SCALED_COLUMNS, ...extra]) {
      const s = columns[column];
      if (typeof s !== 'object' || s === null) throw new ScalerFileError(`${source}: symbol '${symbol}' column '${column}' is not a scaler object`);
      for (const field of ['mean', 'scale', 'var', 'nSamplesSeen'] as const) {
        if (typeof s[field] !== 'number' || !Number.isFinite(s[field])) {
          throw new ScalerFileError(`${source}: symbol '${symbol}' column '${column}': ${field} is ${s[field]}, not a finite number`);
        }
      }
      if (!(s.scale > 0)) throw new ScalerFileError(`${source}: symbol '${symbol}' column '${column}': scale is ${s.scale}, must be > 0`);
      out[column] = { mean: s.mean, scale: s.scale, var: s.var, nSamplesSeen: s.nSamplesSeen };
    }
    ordered.set(symbol, Object.freeze(out));
  }
  const cleanHypers: ModelHypers = {
    datCols: [...hypers.datCols],
    featCols: [...hypers.featCols],
    targetCol: hypers.targetCol,
    batchSize: hypers.batchSize,
    seqLen: hypers.seqLen,
  };
  return { symbols: ordered, hypers: cleanHypers };
}

/** The shape of `scalers.json`. */
interface ScalersJson {
  format: typeof SCALERS_JSON_FORMAT;
  hypers: ModelHypers;
  symbols: Record<string, Record<string, ColumnScaler>>;
}

/**
 * `scalers.json` text, one column scaler per line. Symbols sorted, columns in feature order and numbers
 * in shortest round-trip form, so equal sets give equal bytes.
 */
export function scalersToJson(set: ScalerSet): string {
  const v = validated(set.symbols, set.hypers, 'scaler set');
  const symbols = [...v.symbols].map(([symbol, columns]) => {
    const lines = Object.entries(columns).map(([column, s]) => `      ${JSON.stringify(column)}: ${JSON.stringify(s)}`);
    return `    ${JSON.stringify(symbol)}: {\n${lines.join(',\n')}\n    }`;
  });
  return `{\n  "format": ${JSON.stringify(SCALERS_JSON_FORMAT)},\n  "hypers": ${JSON.stringify(v.hypers)},\n  "symbols": {\n${symbols.join(',\n')}\n  }\n}\n`;
}

/** Parses and validates `scalers.json`; `source` names the file in errors. */
export function scalersFromJson(text: string, source: string): ScalerSet {
  let doc: Partial<ScalersJson>;
  try {
    doc = JSON.parse(text) as Partial<ScalersJson>;
  } catch (err) {
    throw new ScalerFileError(`${source}: not valid JSON`, { cause: err });
  }
  if (doc?.format !== SCALERS_JSON_FORMAT) throw new ScalerFileError(`${source}: format is ${JSON.stringify(doc?.format)}, expected '${SCALERS_JSON_FORMAT}'`);
  if (typeof doc.hypers !== 'object' || doc.hypers === null) throw new ScalerFileError(`${source}: no 'hypers' object`);
  if (typeof doc.symbols !== 'object' || doc.symbols === null) throw new ScalerFileError(`${source}: no 'symbols' object`);
  return validated(new Map(Object.entries(doc.symbols)), doc.hypers, source);
}
