import type { NamedTensorMap, Tensor, Variable } from '@tensorflow/tfjs-core';
import { tf } from '../tf-core.js';

export interface AdamConfig {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

/** The `optimizer_config` of model.h5's `training_config`, as float32 (what Keras computed with). */
export const KERAS_ADAM: AdamConfig = { learningRate: 0.0007999999797903001, beta1: 0.8999999761581421, beta2: 0.9990000128746033, epsilon: 1e-7 };

export interface KerasAdam {
  /** Applies one update from the gradients (keyed by variable name) to every variable. */
  apply(grads: NamedTensorMap): void;
  readonly iterations: number;
  dispose(): void;
}

/**
 * Keras 2.2.4's Adam (no decay, no amsgrad): lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t);
 * m = beta1 m + (1 - beta1) g; v = beta2 v + (1 - beta2) g^2; p -= lr_t m / (sqrt(v) + epsilon).
 * TensorFlow.js's AdamOptimizer adds epsilon to the bias-corrected sqrt(v) instead, which is not the same.
 */
function zeroSlot(p: Variable): Variable {
  const zeros = tf.zerosLike(p);
  try {
    return tf.variable(zeros, false);
  } finally {
    zeros.dispose();
  }
}

export function kerasAdam(variables: readonly Variable[], config: AdamConfig = KERAS_ADAM): KerasAdam {
  const f = Math.fround;
  const b1 = f(config.beta1);
  const b2 = f(config.beta2);
  const lr = f(config.learningRate);
  const slots = variables.map((p) => ({ p, m: zeroSlot(p), v: zeroSlot(p) }));
  let iterations = 0;
  return {
    apply(grads: NamedTensorMap): void {
      iterations += 1;
      const t = iterations;
      const lrT = f(lr * f(f(Math.sqrt(f(1 - f(Math.pow(b2, t))))) / f(1 - f(Math.pow(b1, t)))));
      tf.tidy(() => {
        for (const { p, m, v } of slots) {
          const g = grads[p.name];
          if (!g) throw new Error(`kerasAdam: no gradient for variable ${p.name}`);
          const mT = tf.add<Tensor>(tf.mul(m, b1), tf.mul(g, f(1 - b1)));
          const vT = tf.add<Tensor>(tf.mul(v, b2), tf.mul(tf.square(g), f(1 - b2)));
          m.assign(mT);
          v.assign(vT);
          p.assign(tf.sub(p, tf.div(tf.mul(mT, lrT), tf.add(tf.sqrt(vT), config.epsilon))));
        }
      });
    },
    get iterations() {
      return iterations;
    },
    dispose(): void {
      tf.dispose(slots.flatMap((s) => [s.m, s.v]));
    },
  };
}
