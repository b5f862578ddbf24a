import { createFastEngine } from './fast-inference.js';
import { createDeferredLayersEngine } from './layers-inference.js';
import type { InferenceEngine, LoadedModel } from './types.js';

export const INFERENCE_ENGINES = ['fast', 'layers'] as const;
export type InferenceName = (typeof INFERENCE_ENGINES)[number];

/** `fast`: the BiGRU as batched matrix products (default); `layers`: the Keras-layer graph, the reference. */
export function createInference(model: LoadedModel, name: InferenceName = 'fast'): InferenceEngine {
  return name === 'fast' ? createFastEngine(model.keras) : createDeferredLayersEngine(model.layers);
}
