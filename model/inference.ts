import { createFastEngine } from './fast-inference.js';
import type { InferencePool } from './inference-pool.js';
import { createDeferredLayersEngine } from './layers-inference.js';
import type { InferenceEngine, LoadedModel } from './types.js';

export const INFERENCE_ENGINES = ['fast', 'layers'] as const;
export type InferenceName = (typeof INFERENCE_ENGINES)[number];

/**
 * `fast`: the BiGRU as batched matrix products (default), on the pool's threads when one is given (every core),
 * else on this thread; `layers`: the Keras-layer graph, the reference (this thread).
 */
export function createInference(model: LoadedModel, name: InferenceName = 'fast', pool?: InferencePool): InferenceEngine {
  if (name === 'layers') return createDeferredLayersEngine(model.layers);
  return pool ? pool.engine(model.keras) : createFastEngine(model.keras);
}
