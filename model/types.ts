import type * as tfl from '@tensorflow/tfjs-layers';
import type { KerasModel } from './keras-h5.js';
import type { ModelCheck } from './self-check.js';
import type { VersionRecord } from './train/record.js';
import type { WindowBatch } from './window-batch.js';

/** The model's input order (SPEC §2): 12 scaled columns, then the unscaled `log_shares`. */
export const FEATURE_COLUMNS = [
  'open',
  'high',
  'low',
  'close',
  'close_ratio',
  'spread',
  'v_open',
  'v_high',
  'v_low',
  'v_close',
  'v_close_ratio',
  'v_spread',
  'log_shares',
] as const;
export type FeatureColumn = (typeof FEATURE_COLUMNS)[number];
export const SCALED_COLUMNS = FEATURE_COLUMNS.slice(0, 12) as readonly FeatureColumn[];
export const N_FEATURES = FEATURE_COLUMNS.length;

/** A fitted scikit-learn StandardScaler's state, as parsed from the pickle. */
export interface ColumnScaler {
  mean: number;
  scale: number;
  var: number;
  nSamplesSeen: number;
}

/** column name -> scaler, for one symbol. */
export type SymbolScalers = Readonly<Record<string, ColumnScaler>>;

/** The pickle's `model_hypers` entry. */
export interface ModelHypers {
  datCols: string[];
  featCols: string[];
  targetCol: string;
  batchSize: number;
  seqLen: number;
}

export interface ScalerSet {
  /** symbol -> per-column scalers (20 symbols in the team's file). */
  symbols: ReadonlyMap<string, SymbolScalers>;
  hypers: ModelHypers;
}

/** `metadata.json` of an imported model version. */
export interface ModelMetadata {
  /** Content-derived: the same sources always give the same id. */
  version: string;
  format: 'tfjs-layers+scalers-json/1';
  sources: { h5: { file: string; sha256: string }; scaler: { file: string; sha256: string } };
  keras: { version: string; backend: string };
  features: ModelHypers;
  symbols: string[];
  importedBy: string;
  /** How a trained or derived version was made (model/train); absent for an imported one. */
  training?: VersionRecord;
}

/** A model ready to serve: architecture and weights, scalers, and its audit identity. */
export interface LoadedModel {
  metadata: ModelMetadata;
  scalers: ScalerSet;
  /** The Keras config and weights as plain arrays: all the fast engine reads. */
  keras: KerasModel;
  /** The TensorFlow.js Keras-layers graph, which only the reference engine needs: built on first use. */
  layers: LazyLayersModel;
  /** Check windows and the reference engine's outputs, run where the version is served (model/self-check.ts). */
  check: ModelCheck;
}

/** A TensorFlow.js graph built on demand (building it loads @tensorflow/tfjs-layers and allocates its weights). */
export interface LazyLayersModel {
  get(): Promise<tfl.LayersModel>;
  /** Frees the graph's tensors if it was built; `get()` afterwards rejects. Safe to call twice. */
  dispose(): void;
}

/**
 * Runs the network on `count` windows laid out row-major as [count, seqLen, N_FEATURES] float32,
 * returning the scaled `v_open` per window. Implementations: the Keras-layers reference, the fast path.
 */
export interface InferenceEngine {
  readonly name: 'layers' | 'fast';
  predict(windows: Float32Array, count: number): Promise<Float32Array>;
  /**
   * The same on windows described by their feature rows (see WindowBatch), without writing them out; one
   * output per window, in window order. Optional: the engine writes the windows for engines without it.
   */
  predictBatch?(batch: WindowBatch): Promise<Float32Array>;
  /** Starts what the engine needs before its first prediction (e.g. its threads); optional, idempotent. */
  warmUp?(): Promise<void>;
  /** Frees the engine's own tensors (not the model's) and stops its threads. Safe to call twice. */
  dispose(): void;
}
