import type { Tensor } from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { tf } from './tf-core.js';
import type { InferenceEngine, LazyLayersModel } from './types.js';
import { checkWindowBatch, chunkWindowsOption, InferenceInputError, predictInChunks, type WindowShape } from './window-batch.js';

export interface LayersEngineOptions {
  /** Windows per `model.predict` call (default 8192). */
  chunkWindows?: number;
}

export function modelWindowShape(model: tfl.LayersModel): WindowShape {
  const shape = model.inputs[0]?.shape;
  if (model.inputs.length !== 1 || shape?.length !== 3 || !shape[1] || !shape[2]) {
    throw new InferenceInputError(`the model needs one input of shape [null, seqLen, features]; got ${JSON.stringify(model.inputs.map((i) => i.shape))}`);
  }
  return { seqLen: shape[1], features: shape[2] };
}

/** The reference engine: TensorFlow.js's own Keras layers, run chunk by chunk. */
export function createLayersEngine(model: tfl.LayersModel, options: LayersEngineOptions = {}): InferenceEngine {
  const chunk = chunkWindowsOption(options.chunkWindows, 8192);
  const shape = modelWindowShape(model);
  const windowSize = shape.seqLen * shape.features;
  return {
    name: 'layers',
    async predict(windows: Float32Array, count: number): Promise<Float32Array> {
      checkWindowBatch('layers', windows, count, shape);
      return predictInChunks(count, chunk, (start, n) =>
        tf.tidy(() => {
          const x = tf.tensor3d(windows.subarray(start * windowSize, (start + n) * windowSize), [n, shape.seqLen, shape.features]);
          return model.predict(x, { batchSize: n }) as Tensor;
        }),
      );
    },
    dispose(): void {
      // Holds no tensors of its own: the weights belong to the model.
    },
  };
}

/** The reference engine on a graph built at its first `predict` (see LoadedModel.layers). */
export function createDeferredLayersEngine(model: LazyLayersModel, options: LayersEngineOptions = {}): InferenceEngine {
  chunkWindowsOption(options.chunkWindows, 8192);
  let engine: Promise<InferenceEngine> | undefined;
  return {
    name: 'layers',
    async predict(windows: Float32Array, count: number): Promise<Float32Array> {
      engine ??= model.get().then((m) => createLayersEngine(m, options));
      return (await engine).predict(windows, count);
    },
    dispose(): void {
      // Holds no tensors of its own: the weights belong to the model.
    },
  };
}
