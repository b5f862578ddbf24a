/**
 * The Keras 2.2.4 description of the SPEC §4 network, as `model.h5` records it: the functional `model_config`
 * (so that a trained version's model.json has the same shape as an imported one and tfjs-layers can build it)
 * and the `training_config` the notebook compiled with.
 */

export const KERAS_VERSION = '2.2.4';
export const KERAS_BACKEND = 'tensorflow';

/** The network's shape and its regularisation, as the team's model.h5 has them. */
export interface NetworkShape {
  seqLen: number;
  inputDim: number;
  units: number;
  dropout: number;
  recurrentDropout: number;
  batchNormMomentum: number;
  batchNormEpsilon: number;
  dense: { units: number; activation: 'tanh' | 'relu' | 'linear' }[];
}

export const TEAM_NETWORK: NetworkShape = {
  seqLen: 5,
  inputDim: 13,
  units: 50,
  dropout: 0.1,
  recurrentDropout: 0.1,
  batchNormMomentum: 0.99,
  batchNormEpsilon: 0.001,
  dense: [
    { units: 20, activation: 'tanh' },
    { units: 10, activation: 'relu' },
    { units: 1, activation: 'linear' },
  ],
};

/** Keras's layer names, in model order (the weights' group names in HDF5 and in model.json). */
export const LAYER_NAMES = {
  input: 'input_1',
  bidirectional: 'bidirectional_1',
  gru: 'gru_1',
  batchNorm: 'batch_normalization_1',
  dense: (i: number) => `dense_${i + 1}`,
} as const;

const glorotUniform = () => ({ class_name: 'VarianceScaling', config: { scale: 1.0, mode: 'fan_avg', distribution: 'uniform', seed: null } });
const zeros = () => ({ class_name: 'Zeros', config: {} });
const ones = () => ({ class_name: 'Ones', config: {} });
const inbound = (name: string) => [[[name, 0, 0, {}]]];

/** The functional model config of the network, key for key as Keras 2.2.4 writes it. */
export function kerasModelConfig(shape: NetworkShape = TEAM_NETWORK): Record<string, unknown> {
  const dense = shape.dense.map((d, i) => ({
    name: LAYER_NAMES.dense(i),
    class_name: 'Dense',
    config: {
      name: LAYER_NAMES.dense(i),
      trainable: true,
      units: d.units,
      activation: d.activation,
      use_bias: true,
      kernel_initializer: glorotUniform(),
      bias_initializer: zeros(),
      kernel_regularizer: null,
      bias_regularizer: null,
      activity_regularizer: null,
      kernel_constraint: null,
      bias_constraint: null,
    },
    inbound_nodes: inbound(i === 0 ? LAYER_NAMES.batchNorm : LAYER_NAMES.dense(i - 1)),
  }));
  const layers = [
    {
      name: LAYER_NAMES.input,
      class_name: 'InputLayer',
      config: { batch_input_shape: [null, shape.seqLen, shape.inputDim], dtype: 'float32', sparse: false, name: LAYER_NAMES.input },
      inbound_nodes: [],
    },
    {
      name: LAYER_NAMES.bidirectional,
      class_name: 'Bidirectional',
      config: {
        name: LAYER_NAMES.bidirectional,
        trainable: true,
        layer: {
          class_name: 'GRU',
          config: {
            name: LAYER_NAMES.gru,
            trainable: true,
            return_sequences: false,
            return_state: false,
            go_backwards: false,
            stateful: false,
            unroll: false,
            units: shape.units,
            activation: 'tanh',
            recurrent_activation: 'hard_sigmoid',
            use_bias: true,
            kernel_initializer: glorotUniform(),
            recurrent_initializer: { class_name: 'Orthogonal', config: { gain: 1.0, seed: null } },
            bias_initializer: zeros(),
            kernel_regularizer: null,
            recurrent_regularizer: null,
            bias_regularizer: null,
            activity_regularizer: null,
            kernel_constraint: null,
            recurrent_constraint: null,
            bias_constraint: null,
            dropout: shape.dropout,
            recurrent_dropout: shape.recurrentDropout,
            implementation: 1,
            reset_after: false,
          },
        },
        merge_mode: 'concat',
      },
      inbound_nodes: inbound(LAYER_NAMES.input),
    },
    {
      name: LAYER_NAMES.batchNorm,
      class_name: 'BatchNormalization',
      config: {
        name: LAYER_NAMES.batchNorm,
        trainable: true,
        axis: -1,
        momentum: shape.batchNormMomentum,
        epsilon: shape.batchNormEpsilon,
        center: true,
        scale: true,
        beta_initializer: zeros(),
        gamma_initializer: ones(),
        moving_mean_initializer: zeros(),
        moving_variance_initializer: ones(),
        beta_regularizer: null,
        gamma_regularizer: null,
        beta_constraint: null,
        gamma_constraint: null,
      },
      inbound_nodes: inbound(LAYER_NAMES.bidirectional),
    },
    ...dense,
  ];
  return {
    class_name: 'Model',
    config: {
      name: 'model_1',
      layers,
      input_layers: [[LAYER_NAMES.input, 0, 0]],
      output_layers: [[LAYER_NAMES.dense(shape.dense.length - 1), 0, 0]],
    },
  };
}

/** What `model.compile` recorded in model.h5 (`training_config`): Adam, MSE loss, MAPE metric. Values as stored (float32 round trips). */
export const KERAS_TRAINING_CONFIG = {
  optimizer_config: {
    class_name: 'Adam',
    config: { lr: 0.0007999999797903001, beta_1: 0.8999999761581421, beta_2: 0.9990000128746033, decay: 0.0, epsilon: 1e-7, amsgrad: false },
  },
  loss: 'mean_squared_error',
  metrics: ['mean_absolute_percentage_error'],
  sample_weight_mode: null,
  loss_weights: null,
} as const;

/** Keras weight names per layer, in `weight_names` order (without the `:0` suffix). */
export function kerasWeightNames(shape: NetworkShape = TEAM_NETWORK): [string, string[]][] {
  const gru = (direction: 'forward' | 'backward') =>
    ['kernel', 'recurrent_kernel', 'bias'].map((w) => `${LAYER_NAMES.bidirectional}/${direction}_${LAYER_NAMES.gru}/${w}`);
  const bn = ['gamma', 'beta', 'moving_mean', 'moving_variance'].map((w) => `${LAYER_NAMES.batchNorm}/${w}`);
  return [
    [LAYER_NAMES.input, []],
    [LAYER_NAMES.bidirectional, [...gru('forward'), ...gru('backward')]],
    [LAYER_NAMES.batchNorm, bn],
    ...shape.dense.map((_, i): [string, string[]] => [LAYER_NAMES.dense(i), ['kernel', 'bias'].map((w) => `${LAYER_NAMES.dense(i)}/${w}`)]),
  ];
}
