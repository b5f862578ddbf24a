/**
 * What a trained or derived model version records about how it was made (metadata.json, key `training`).
 * The `provenance` slots are filled by the caller, who knows where the rows came from and what code ran.
 */

/** One history object the rows were read from (filled by the history store's caller). */
export interface HistoryObjectRef {
  key: string;
  versionId?: string;
  etag?: string;
  sha256?: string;
  rows?: number;
  /** Rows per symbol taken from this object. */
  symbols?: Record<string, number>;
}

export interface Provenance {
  /** The history cut-off the rows were read as of (ISO date). */
  asOf?: string;
  historyObjects?: HistoryObjectRef[];
  codeCommit?: string;
  imageDigest?: string;
}

export interface TrainingHyperparameters {
  network: {
    seqLen: number;
    inputDim: number;
    gruUnits: number;
    activation: 'tanh';
    recurrentActivation: 'hard_sigmoid';
    resetAfter: false;
    dropout: number;
    recurrentDropout: number;
    batchNormMomentum: number;
    batchNormEpsilon: number;
    dense: { units: number; activation: string }[];
  };
  optimizer: { name: 'Adam'; learningRate: number; beta1: number; beta2: number; epsilon: number; decay: 0; amsgrad: false };
  loss: 'mean_squared_error';
  metrics: ['mean_absolute_percentage_error'];
  batchSize: number;
  epochs: number;
  validationRows: number;
  /** How samples are ordered each epoch. */
  shuffle: 'seeded Fisher-Yates per epoch';
  /** Which rows are training targets. */
  targets: 'rows 1 .. n - validationRows - 1 of each symbol (row 0 has no previous day)';
  /** The rows the scalers are fitted on. */
  scalersFittedOn: 'training rows (the hold-out excluded)';
}

export interface EpochRecord {
  epoch: number;
  /** Mean squared error over the epoch's batches (training mode, before each update, weighted by batch size), as Keras reports `loss`. */
  loss: number;
  mape: number;
  /** On the hold-out, inference mode, after the epoch; null without a hold-out. */
  valLoss: number | null;
  valMape: number | null;
  windows: number;
  seconds: number;
  /** Training windows per second (optimisation steps only). */
  windowsPerSecond: number;
}

export interface SymbolData {
  symbol: string;
  rows: number;
  firstDate: string;
  lastDate: string;
  trainRows: number;
  validationRows: number;
  trainWindows: number;
}

/** Mean absolute deviation of anchored pred_open from the actual open (SPEC §5, §6) over a symbol's hold-out rows. */
export interface SymbolValidation {
  symbol: string;
  rows: number;
  firstDate: string;
  lastDate: string;
  /** The trained model. */
  mad: number;
  /** The baseline model version (e.g. the one in service) on the same rows, with its own scalers. */
  baseline: { version: string; mad: number } | { version: string; mad: null; reason: string } | null;
  /** "Tomorrow = today's open". */
  naive: number;
}

export interface TrainingRecord {
  kind: 'train';
  trainer: string;
  /** TensorFlow.js backend and version: seeded runs repeat bit for bit on the same backend and data. */
  backend: string;
  tfjsVersion: string;
  seed: number;
  hyperparameters: TrainingHyperparameters;
  data: { symbols: SymbolData[]; trainWindows: number; validationWindows: number };
  epochs: EpochRecord[];
  validation: SymbolValidation[];
  startedAt: string;
  durationSeconds: number;
  provenance: Provenance;
}

/** A version made from another by adding scalers for new symbols (issue 11): same network, old scalers unchanged. */
export interface ScalerExtensionRecord {
  kind: 'extend-scalers';
  trainer: string;
  baseVersion: string;
  minRows: number;
  /** Rows each new symbol's scalers were fitted on. */
  added: { symbol: string; rows: number; firstDate: string; lastDate: string }[];
  /** Symbols offered but not added. */
  skipped: { symbol: string; rows: number; reason: string }[];
  createdAt: string;
  provenance: Provenance;
}

export type VersionRecord = TrainingRecord | ScalerExtensionRecord;
