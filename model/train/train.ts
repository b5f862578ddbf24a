import { initBackend } from '../backend.js';
import { createFastEngine } from '../fast-inference.js';
import type { KerasModel } from '../keras-h5.js';
import { addModelCheck, type PreparedModelVersion } from '../model-store.js';
import { tf } from '../tf-core.js';
import { FEATURE_COLUMNS, N_FEATURES, type LoadedModel, type ModelHypers, type ScalerSet, type SymbolScalers } from '../types.js';
import { KERAS_ADAM } from './adam.js';
import { buildTrainingSet, writeBatch, type TrainingSet } from './dataset.js';
import { anchoredMad, naiveMad, symbolOutputs } from './evaluate.js';
import { TrainingInputError, type SymbolHistories } from './history.js';
import { KERAS_BACKEND, KERAS_TRAINING_CONFIG, KERAS_VERSION, TEAM_NETWORK, type NetworkShape } from './keras-topology.js';
import { initialKerasModel } from './network.js';
import { randomStream } from './prng.js';
import type { EpochRecord, Provenance, SymbolValidation, TrainingHyperparameters, TrainingRecord } from './record.js';
import { createTrainer, type Trainer } from './trainer.js';
import { fileSha256, finishVersion, versionContentFiles } from './version-files.js';

export const TRAINER = 'crypto-open-fleet model/train';
export const DEFAULT_EPOCHS = 10;
export const DEFAULT_VALIDATION_ROWS = 15;
/** model_hypers' batch size and window length, as the team's scaler.pkl records them. */
export const DEFAULT_BATCH_SIZE = 32;
const SEQ_LEN = TEAM_NETWORK.seqLen;
/** Windows per inference call on the hold-out. */
const EVAL_CHUNK = 1024;

export interface TrainOptions {
  /** Default 10. */
  epochs?: number;
  /** The last rows of each symbol held out for validation; default 15. */
  validationRows?: number;
  /** Default 32 (model_hypers). */
  batchSize?: number;
  /** Seeds the initial weights, the shuffles and the dropout masks; drawn at random (and recorded) when absent. */
  seed?: number;
  /** A version to compare with on the same hold-out rows (e.g. the one in service). */
  baseline?: LoadedModel;
  /** Where the rows came from and what ran: copied into the record as given. */
  provenance?: Provenance;
  /** Called after each epoch (progress output). */
  onEpoch?: (epoch: EpochRecord) => void;
}

export interface TrainedVersion extends PreparedModelVersion {
  record: TrainingRecord;
}

function positiveInteger(value: number | undefined, fallback: number, name: string, min = 1): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min) throw new TrainingInputError(`option ${name} must be an integer >= ${min}; got ${value}`);
  return value;
}

function hyperparameters(shape: NetworkShape, batchSize: number, epochs: number, validationRows: number): TrainingHyperparameters {
  return {
    network: {
      seqLen: shape.seqLen,
      inputDim: shape.inputDim,
      gruUnits: shape.units,
      activation: 'tanh',
      recurrentActivation: 'hard_sigmoid',
      resetAfter: false,
      dropout: shape.dropout,
      recurrentDropout: shape.recurrentDropout,
      batchNormMomentum: shape.batchNormMomentum,
      batchNormEpsilon: shape.batchNormEpsilon,
      dense: shape.dense.map((d) => ({ ...d })),
    },
    optimizer: {
      name: 'Adam',
      learningRate: KERAS_ADAM.learningRate,
      beta1: KERAS_ADAM.beta1,
      beta2: KERAS_ADAM.beta2,
      epsilon: KERAS_ADAM.epsilon,
      decay: 0,
      amsgrad: false,
    },
    loss: KERAS_TRAINING_CONFIG.loss,
    metrics: [KERAS_TRAINING_CONFIG.metrics[0]],
    batchSize,
    epochs,
    validationRows,
    shuffle: 'seeded Fisher-Yates per epoch',
    targets: 'rows 1 .. n - validationRows - 1 of each symbol (row 0 has no previous day)',
    scalersFittedOn: 'training rows (the hold-out excluded)',
  };
}

/** Loss and MAPE of the network in inference mode on the hold-out windows. */
function evaluateHoldOut(trainer: Trainer, set: TrainingSet): { loss: number; mape: number } | null {
  const count = set.validation.length;
  if (count === 0) return null;
  let se = 0;
  let ape = 0;
  for (let from = 0; from < count; from += EVAL_CHUNK) {
    const n = Math.min(EVAL_CHUNK, count - from);
    const x = new Float32Array(SEQ_LEN * n * N_FEATURES);
    const y = new Float32Array(n);
    writeBatch(set, set.validation, from, n, x, y);
    const out = trainer.predict(x, n);
    for (let i = 0; i < n; i++) {
      se += (out[i]! - y[i]!) ** 2;
      ape += Math.abs((y[i]! - out[i]!) / Math.max(Math.abs(y[i]!), 1e-7));
    }
  }
  return { loss: se / count, mape: (100 * ape) / count };
}

function runEpoch(trainer: Trainer, set: TrainingSet, epoch: number, batchSize: number, seed: number): EpochRecord {
  const shuffle = randomStream(seed, `shuffle/${epoch}`);
  const order = shuffle.permutation(set.train.length);
  const samples = Uint32Array.from(order, (i) => set.train[i]!);
  const x = new Float32Array(SEQ_LEN * batchSize * N_FEATURES);
  const y = new Float32Array(batchSize);
  let loss = 0;
  let mape = 0;
  const t0 = performance.now();
  for (let from = 0; from < samples.length; from += batchSize) {
    const n = Math.min(batchSize, samples.length - from);
    const xb = x.subarray(0, SEQ_LEN * n * N_FEATURES);
    const yb = y.subarray(0, n);
    writeBatch(set, samples, from, n, xb, yb);
    const r = trainer.trainBatch(xb, yb, n);
    if (!Number.isFinite(r.loss)) throw new Error(`epoch ${epoch + 1}: the training loss became ${r.loss} at step ${trainer.steps}`);
    loss += r.loss * n;
    mape += r.mape * n;
  }
  const seconds = (performance.now() - t0) / 1000;
  const held = evaluateHoldOut(trainer, set);
  return {
    epoch: epoch + 1,
    loss: loss / samples.length,
    mape: mape / samples.length,
    valLoss: held?.loss ?? null,
    valMape: held?.mape ?? null,
    windows: samples.length,
    seconds,
    windowsPerSecond: samples.length / seconds,
  };
}

async function holdOutValidation(keras: KerasModel, set: TrainingSet, baseline: LoadedModel | undefined): Promise<SymbolValidation[]> {
  if (set.validation.length === 0) return [];
  const engine = createFastEngine(keras);
  const baselineEngine = baseline ? createFastEngine(baseline.keras) : undefined;
  try {
    const out: SymbolValidation[] = [];
    for (const s of set.symbols) {
      const from = s.trainRows;
      const scaled = await symbolOutputs(engine, s.scalers, s.rows, SEQ_LEN);
      let base: SymbolValidation['baseline'] = null;
      if (baseline && baselineEngine) {
        const version = baseline.metadata.version;
        const scalers = baseline.scalers.symbols.get(s.symbol);
        base = scalers
          ? { version, mad: anchoredMad(s.rows, from, await symbolOutputs(baselineEngine, scalers, s.rows, baseline.scalers.hypers.seqLen), scalers.v_open!) }
          : { version, mad: null, reason: `model version ${version} has no scaler for ${s.symbol}` };
      }
      out.push({
        symbol: s.symbol,
        rows: s.rows.length - from,
        firstDate: s.rows[from]!.date,
        lastDate: s.rows.at(-1)!.date,
        mad: anchoredMad(s.rows, from, scaled, s.scalers.v_open!),
        baseline: base,
        naive: naiveMad(s.rows, from),
      });
    }
    return out;
  } finally {
    engine.dispose();
    baselineEngine?.dispose();
  }
}

/**
 * Trains the SPEC §4 network from scratch on per-symbol histories, as the notebook did (issue 12): scalers fitted
 * per symbol on its training rows, the inference pipeline's features and 5-day windows, target the scaled
 * `v_open` of the row after the window, Adam / MSE as model.h5's training_config, batch 32. Returns the files of
 * a new model version with the training record in its metadata.json. Runs on the active TensorFlow.js backend.
 */
export async function trainModel(histories: SymbolHistories, opts: TrainOptions = {}): Promise<TrainedVersion> {
  const epochs = positiveInteger(opts.epochs, DEFAULT_EPOCHS, 'epochs');
  const batchSize = positiveInteger(opts.batchSize, DEFAULT_BATCH_SIZE, 'batchSize');
  const validationRows = positiveInteger(opts.validationRows, DEFAULT_VALIDATION_ROWS, 'validationRows', 0);
  if (opts.seed !== undefined && !Number.isSafeInteger(opts.seed)) throw new TrainingInputError(`option seed must be a safe integer; got ${opts.seed}`);
  const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 31);
  const shape = TEAM_NETWORK;
  const backend = await initBackend();
  const startedAt = new Date();
  const set = buildTrainingSet(histories, { seqLen: shape.seqLen, validationRows });
  if (set.train.length === 0) throw new TrainingInputError('no training window');

  const trainer = createTrainer(initialKerasModel(shape, randomStream(seed, 'init')), { shape, seed });
  const history: EpochRecord[] = [];
  let keras: KerasModel;
  try {
    for (let e = 0; e < epochs; e++) {
      const record = runEpoch(trainer, set, e, batchSize, seed);
      history.push(record);
      opts.onEpoch?.(record);
    }
    keras = trainer.toKeras();
  } finally {
    trainer.dispose();
  }

  const hypers: ModelHypers = {
    datCols: FEATURE_COLUMNS.slice(0, 6),
    featCols: [...FEATURE_COLUMNS],
    targetCol: 'v_open',
    batchSize,
    seqLen: shape.seqLen,
  };
  const scalers: ScalerSet = { symbols: new Map<string, SymbolScalers>(set.symbols.map((s) => [s.symbol, s.scalers])), hypers };
  const content = versionContentFiles(keras, scalers, TRAINER);
  await addModelCheck(content);
  const validation = await holdOutValidation(keras, set, opts.baseline);
  const record: TrainingRecord = {
    kind: 'train',
    trainer: TRAINER,
    backend: backend.name,
    tfjsVersion: tf.version_core,
    seed,
    hyperparameters: hyperparameters(shape, batchSize, epochs, validationRows),
    data: {
      symbols: set.symbols.map((s) => ({
        symbol: s.symbol,
        rows: s.rows.length,
        firstDate: s.rows[0]!.date,
        lastDate: s.rows.at(-1)!.date,
        trainRows: s.trainRows,
        validationRows: s.rows.length - s.trainRows,
        trainWindows: s.trainRows - 1,
      })),
      trainWindows: set.train.length,
      validationWindows: set.validation.length,
    },
    epochs: history,
    validation,
    startedAt: startedAt.toISOString(),
    durationSeconds: (Date.now() - startedAt.getTime()) / 1000,
    provenance: { ...opts.provenance },
  };
  const version = finishVersion(content, {
    // A trained version has no model.h5 / scaler.pkl: its sources are its own weights and scalers.
    sources: {
      h5: { file: 'weights.bin', sha256: fileSha256(content.get('weights.bin')!) },
      scaler: { file: 'scalers.json', sha256: fileSha256(content.get('scalers.json')!) },
    },
    keras: { version: KERAS_VERSION, backend: KERAS_BACKEND },
    features: hypers,
    symbols: [...scalers.symbols.keys()].sort(),
    importedBy: TRAINER,
    training: record,
  });
  return { ...version, record };
}
