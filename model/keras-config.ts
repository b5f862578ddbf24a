/**
 * Reading a Keras 2 model config (the HDF5 `model_config` attribute, model.json's `modelTopology`) without
 * building it: what the fast engine and the model store need, without loading @tensorflow/tfjs-layers.
 */
export type KerasConfig = Record<string, unknown>;

export interface KerasLayerConfig {
  className: string;
  name: string;
  config: KerasConfig;
}

interface RawLayer extends KerasConfig {
  class_name?: unknown;
  name?: unknown;
  config?: unknown;
  inbound_nodes?: unknown;
}

const isObject = (v: unknown): v is KerasConfig => typeof v === 'object' && v !== null && !Array.isArray(v);

function rawLayers(modelConfig: KerasConfig): RawLayer[] {
  const c = modelConfig.config;
  // Keras before 2.2.3 wrote a Sequential's config as the bare list of its layers.
  const list = Array.isArray(c) ? c : isObject(c) ? c.layers : undefined;
  return Array.isArray(list) ? list.filter(isObject) : [];
}

function layerOf(raw: RawLayer): KerasLayerConfig {
  const config = isObject(raw.config) ? raw.config : {};
  // Functional models name a layer beside its config, Sequential ones inside it.
  return { className: String(raw.class_name), name: String(raw.name ?? config.name ?? ''), config };
}

const isSequential = (modelConfig: KerasConfig) => modelConfig.class_name === 'Sequential';

/** A Functional model's `input_layers` / `output_layers`: the layer name of each `[name, node, tensor]`. */
function endpoints(modelConfig: KerasConfig, key: 'input_layers' | 'output_layers'): unknown[] {
  const list = isObject(modelConfig.config) ? modelConfig.config[key] : undefined;
  return Array.isArray(list) ? list.map((ref) => (Array.isArray(ref) ? ref[0] : undefined)) : [];
}

/** The `batch_input_shape` of each model input, in input order (undefined where the config gives none). */
export function kerasInputShapes(modelConfig: KerasConfig): unknown[] {
  const layers = rawLayers(modelConfig).map(layerOf);
  if (isSequential(modelConfig)) return layers.length > 0 ? [layers[0]!.config.batch_input_shape] : [];
  return endpoints(modelConfig, 'input_layers').map((name) => layers.find((l) => l.name === name)?.config.batch_input_shape);
}

/**
 * The layers of a model whose graph is a single chain, in order and without the InputLayer: a Sequential, or
 * a Functional model with one input and one output in which each layer is called once, on the previous one.
 * Undefined for any other graph.
 */
export function kerasLayerChain(modelConfig: KerasConfig): KerasLayerConfig[] | undefined {
  const raw = rawLayers(modelConfig);
  if (isSequential(modelConfig)) return raw.map(layerOf).filter((l) => l.className !== 'InputLayer');
  const [input, ...moreInputs] = endpoints(modelConfig, 'input_layers');
  const [output, ...moreOutputs] = endpoints(modelConfig, 'output_layers');
  if (input === undefined || output === undefined || moreInputs.length > 0 || moreOutputs.length > 0) return undefined;
  const chain: KerasLayerConfig[] = [];
  let previous = input;
  for (const r of raw) {
    const layer = layerOf(r);
    if (layer.name === input) {
      if (layer.className !== 'InputLayer') return undefined;
      continue;
    }
    // Keras 2: inbound_nodes = [[[inbound layer, node index, tensor index, kwargs], ...], ...], one entry per call.
    const nodes = r.inbound_nodes;
    const node = Array.isArray(nodes) && nodes.length === 1 && Array.isArray(nodes[0]) && nodes[0].length === 1 ? nodes[0][0] : undefined;
    if (!Array.isArray(node) || node[0] !== previous) return undefined;
    chain.push(layer);
    previous = layer.name;
  }
  return previous === output ? chain : undefined;
}
