import { ModelError } from './errors.js';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { kerasInputShapes } from './keras-config.js';
import { lazyLayersModel, parseKerasH5, type H5Weight } from './keras-h5.js';
import { scalerSetFromPickle, scalersFromJson, scalersToJson } from './scalers.js';
import { CHECK_FILE, computeModelCheck, modelCheckJson, parseModelCheck } from './self-check.js';
import type { LoadedModel, ModelMetadata } from './types.js';

/**
 * A model version is a folder (or, in S3, a key prefix) holding these files:
 * - `model.json`: TensorFlow.js layers format, as tensorflowjs_converter writes it for a Keras HDF5 file
 *   (Keras topology, weight names without the `:0` suffix, one weights file);
 * - `weights.bin`: float32 little-endian weights in manifest order;
 * - `scalers.json`: the per-symbol scalers and model_hypers (model/scalers.ts);
 * - `check.json`: check windows and the reference engine's outputs for them (model/self-check.ts);
 * - `metadata.json`: ModelMetadata; its `version` is derived from the four files above.
 */
export const MODEL_VERSION_FILES = ['model.json', 'weights.bin', 'scalers.json', 'check.json', 'metadata.json'] as const;
/** The files whose bytes define the version id (metadata.json only describes them). */
const HASHED_FILES = ['model.json', 'weights.bin', 'scalers.json', 'check.json'] as const;
export const MODEL_FORMAT = 'tfjs-layers+scalers-json/1';
const WEIGHTS_FILE = 'weights.bin';
const IMPORTER = 'crypto-open-fleet model/import';
/** The team's file names in a model folder. */
export const SOURCE_FILES = { h5: 'model.h5', scaler: 'scaler.pkl' } as const;

export class ModelStoreError extends ModelError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ModelStoreError';
  }
}

/** A model version in memory: file name -> bytes, in MODEL_VERSION_FILES order. */
export type ModelVersionFiles = ReadonlyMap<string, Buffer>;

export interface PreparedModelVersion {
  files: ModelVersionFiles;
  metadata: ModelMetadata;
}

interface WeightSpec {
  name: string;
  shape: number[];
  dtype: 'float32';
}

interface TfjsModelJson {
  format: 'layers-model';
  generatedBy: string;
  convertedBy: string;
  modelTopology: Record<string, unknown>;
  weightsManifest: { paths: string[]; weights: WeightSpec[] }[];
}

const sha256 = (bytes: Uint8Array | string): string => createHash('sha256').update(bytes).digest('hex');

/** The content-derived id of a version: a digest of the bytes of model.json, weights.bin, scalers.json and check.json. */
export function versionIdOf(files: ModelVersionFiles): string {
  const h = createHash('sha256');
  for (const name of HASHED_FILES) h.update(`${name} ${sha256(files.get(name)!)}\n`);
  return `v-${h.digest('hex').slice(0, 16)}`;
}

async function readSource(file: string, what: string): Promise<Buffer> {
  try {
    return await fs.readFile(file);
  } catch (err) {
    throw new ModelStoreError(`${what} ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`, { cause: err });
  }
}

export interface PrepareOptions {
  /**
   * A folder of versions prepared earlier, one sub-folder per pair of source files (by content and name): a
   * later run with the same files reads that version instead of converting again. Written atomically, so
   * concurrent runs are safe; a folder that cannot be written only costs the conversion.
   */
  cacheDir?: string;
}

/**
 * Converts model.h5 + scaler.pkl into the files of a model version. Without `cacheDir`, touches nothing
 * on disk but the two sources.
 */
export async function prepareModelVersion(h5File: string, scalerFile: string, options: PrepareOptions = {}): Promise<PreparedModelVersion> {
  const [h5Bytes, scalerBytes] = await Promise.all([readSource(h5File, 'model file'), readSource(scalerFile, 'scaler file')]);
  if (options.cacheDir === undefined) return convertSources(h5Bytes, h5File, scalerBytes, scalerFile);
  const sources = { h5: { file: path.basename(h5File), sha256: sha256(h5Bytes) }, scaler: { file: path.basename(scalerFile), sha256: sha256(scalerBytes) } };
  const dir = path.join(options.cacheDir, `sources-${sha256(JSON.stringify(sources)).slice(0, 32)}`);
  const cached = await readCachedVersion(dir, sources);
  if (cached) return cached;
  const prepared = await convertSources(h5Bytes, h5File, scalerBytes, scalerFile);
  try {
    // An entry that failed its checks is replaced; one written meanwhile by another run is left as it is.
    if (
      await fs.stat(path.join(dir, 'metadata.json')).then(
        () => true,
        () => false,
      )
    )
      await fs.rm(dir, { recursive: true, force: true });
    await writeModelVersion(dir, prepared.files);
  } catch {
    // The cache is an optimisation: the converted files are served all the same.
  }
  return prepared;
}

/** A cache entry whose metadata names exactly these sources and whose files match their version id. */
async function readCachedVersion(dir: string, sources: ModelMetadata['sources']): Promise<PreparedModelVersion | undefined> {
  let files: Map<string, Buffer>;
  try {
    files = await listModelVersionFiles(dir);
  } catch {
    return undefined;
  }
  try {
    const metadata = JSON.parse(files.get('metadata.json')!.toString('utf8')) as ModelMetadata;
    if (JSON.stringify(metadata.sources) !== JSON.stringify(sources) || metadata.format !== MODEL_FORMAT || metadata.version !== versionIdOf(files))
      return undefined;
    return { files, metadata };
  } catch {
    return undefined;
  }
}

async function convertSources(h5Bytes: Buffer, h5File: string, scalerBytes: Buffer, scalerFile: string): Promise<PreparedModelVersion> {
  const h5 = parseKerasH5(h5Bytes, h5File);
  const scalers = scalerSetFromPickle(scalerBytes, scalerFile);

  const weights: WeightSpec[] = [];
  const chunks: Buffer[] = [];
  for (const [layer, layerWeights] of h5.layerWeights) {
    for (const w of layerWeights) {
      // The reader groups weights by this prefix, so the format relies on it.
      if (!w.name.startsWith(`${layer}/`)) throw new ModelStoreError(`${h5File}: weight '${w.name}' of layer '${layer}' is not named '${layer}/...'`);
      weights.push({ name: w.name.replace(/:0$/, ''), shape: w.shape, dtype: 'float32' });
      chunks.push(Buffer.from(w.values.buffer, w.values.byteOffset, w.values.byteLength));
    }
  }
  const modelJson: TfjsModelJson = {
    format: 'layers-model',
    generatedBy: `keras v${h5.kerasVersion}`,
    convertedBy: IMPORTER,
    modelTopology: { ...h5.modelConfig, keras_version: h5.kerasVersion, backend: h5.kerasBackend },
    weightsManifest: [{ paths: [WEIGHTS_FILE], weights }],
  };
  const files = new Map<string, Buffer>([
    ['model.json', Buffer.from(JSON.stringify(modelJson))],
    [WEIGHTS_FILE, Buffer.concat(chunks)],
    ['scalers.json', Buffer.from(scalersToJson(scalers))],
  ]);
  await addModelCheck(files);
  const metadata: ModelMetadata = {
    version: versionIdOf(files),
    format: MODEL_FORMAT,
    sources: {
      h5: { file: path.basename(h5File), sha256: sha256(h5Bytes) },
      scaler: { file: path.basename(scalerFile), sha256: sha256(scalerBytes) },
    },
    keras: { version: h5.kerasVersion, backend: h5.kerasBackend },
    features: scalers.hypers,
    symbols: [...scalers.symbols.keys()],
    importedBy: IMPORTER,
  };
  files.set('metadata.json', Buffer.from(JSON.stringify(metadata, null, 2) + '\n'));
  return { files, metadata };
}

/**
 * Adds `check.json` to a version's content (model.json, weights.bin, scalers.json): the reference engine's outputs
 * on the check windows, on the active backend.
 */
export async function addModelCheck(content: Map<string, Buffer>): Promise<void> {
  const modelJson = parseJson<TfjsModelJson>(content.get('model.json')!, 'model.json');
  const layerWeights = layerWeightsOf(modelJson, content.get(WEIGHTS_FILE)!, 'model version');
  const { class_name, config } = modelJson.modelTopology;
  const scalers = scalersFromJson(content.get('scalers.json')!.toString('utf8'), 'scalers.json');
  const check = await computeModelCheck({ modelConfig: { class_name, config }, layerWeights }, scalers.hypers.seqLen, scalers.hypers.featCols.length);
  content.set(CHECK_FILE, modelCheckJson(check));
}

function parseJson<T>(bytes: Buffer, where: string): T {
  try {
    return JSON.parse(bytes.toString('utf8')) as T;
  } catch (err) {
    throw new ModelStoreError(`${where}: not valid JSON`, { cause: err });
  }
}

/** model.json + weights.bin -> per-layer weights, in the shape layersModelFromH5 takes. */
function layerWeightsOf(modelJson: TfjsModelJson, weightsBin: Buffer, source: string): Map<string, H5Weight[]> {
  if (typeof modelJson?.modelTopology !== 'object' || modelJson.modelTopology === null) throw new ModelStoreError(`${source}/model.json: no modelTopology`);
  const manifest = modelJson.weightsManifest;
  if (
    !Array.isArray(manifest) ||
    manifest.length !== 1 ||
    !Array.isArray(manifest[0].weights) ||
    manifest[0].paths?.length !== 1 ||
    manifest[0].paths[0] !== WEIGHTS_FILE
  ) {
    throw new ModelStoreError(`${source}/model.json: weightsManifest must be one group with paths ['${WEIGHTS_FILE}']`);
  }
  const byLayer = new Map<string, H5Weight[]>();
  let offset = 0;
  for (const spec of manifest[0].weights) {
    if (spec.dtype !== 'float32') throw new ModelStoreError(`${source}/model.json: weight '${spec.name}' has dtype ${spec.dtype}, only float32 is supported`);
    const bytes = spec.shape.reduce((a, b) => a * b, 1) * 4;
    if (offset + bytes > weightsBin.length)
      throw new ModelStoreError(`${source}/${WEIGHTS_FILE}: ends before weight '${spec.name}' (${weightsBin.length} bytes)`);
    // Copy: a Buffer's byteOffset need not be float-aligned.
    const values = new Float32Array(weightsBin.buffer.slice(weightsBin.byteOffset + offset, weightsBin.byteOffset + offset + bytes));
    offset += bytes;
    const layer = spec.name.split('/')[0];
    if (!byLayer.has(layer)) byLayer.set(layer, []);
    byLayer.get(layer)!.push({ name: spec.name, shape: spec.shape, values });
  }
  if (offset !== weightsBin.length) throw new ModelStoreError(`${source}/${WEIGHTS_FILE}: ${weightsBin.length} bytes, the manifest describes ${offset}`);
  return byLayer;
}

/** Builds a servable model from a version's files (e.g. as read from S3); checks them against the version id. */
export async function loadModelVersionFromFiles(files: ModelVersionFiles, source = 'model version'): Promise<LoadedModel> {
  const missing = MODEL_VERSION_FILES.filter((name) => !files.has(name));
  if (missing.length > 0) throw new ModelStoreError(`${source}: not a model version, missing ${missing.join(', ')}`);
  const metadata = parseJson<ModelMetadata>(files.get('metadata.json')!, `${source}/metadata.json`);
  if (metadata?.format !== MODEL_FORMAT) {
    throw new ModelStoreError(`${source}/metadata.json: format is ${JSON.stringify(metadata?.format)}, expected '${MODEL_FORMAT}'`);
  }
  const actual = versionIdOf(files);
  if (metadata.version !== actual) {
    throw new ModelStoreError(`${source}: files do not match version ${JSON.stringify(metadata.version)} (their content gives ${actual})`);
  }
  const scalers = scalersFromJson(files.get('scalers.json')!.toString('utf8'), `${source}/scalers.json`);
  const modelJson = parseJson<TfjsModelJson>(files.get('model.json')!, `${source}/model.json`);
  const layerWeights = layerWeightsOf(modelJson, files.get(WEIGHTS_FILE)!, source);
  const { class_name, config } = modelJson.modelTopology;
  const keras = { modelConfig: { class_name, config }, layerWeights };
  // Checked from the config: the graph itself is built only if the layers engine asks for it.
  const expected = [null, scalers.hypers.seqLen, scalers.hypers.featCols.length];
  const inputShapes = kerasInputShapes(keras.modelConfig);
  if (inputShapes.length !== 1 || JSON.stringify(inputShapes[0]) !== JSON.stringify(expected)) {
    throw new ModelStoreError(
      `${source}: the model's input shape is ${JSON.stringify(inputShapes[0])}, the scalers' model_hypers need ${JSON.stringify(expected)}`,
    );
  }
  const check = parseModelCheck(files.get(CHECK_FILE)!, `${source}/${CHECK_FILE}`);
  if (check.seqLen !== scalers.hypers.seqLen || check.features !== scalers.hypers.featCols.length)
    throw new ModelStoreError(`${source}/${CHECK_FILE}: windows of [${check.seqLen}, ${check.features}] do not fit the model`);
  return { metadata, scalers, keras, layers: lazyLayersModel(keras), check };
}

/** Reads the files of a version folder, in MODEL_VERSION_FILES order (e.g. to upload them). */
export async function listModelVersionFiles(dir: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const missing: string[] = [];
  for (const name of MODEL_VERSION_FILES) {
    try {
      files.set(name, await fs.readFile(path.join(dir, name)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new ModelStoreError(`${dir}/${name}: ${(err as Error).message}`, { cause: err });
      missing.push(name);
    }
  }
  if (missing.length > 0) throw new ModelStoreError(`${dir}: not a model version, missing ${missing.join(', ')}`);
  return files;
}

export async function readModelVersion(dir: string): Promise<LoadedModel> {
  return loadModelVersionFromFiles(await listModelVersionFiles(dir), dir);
}

/** Name of the first file whose bytes differ from `dir`'s copy, or undefined when all match. */
async function firstDifference(dir: string, files: ModelVersionFiles): Promise<string | undefined> {
  for (const [name, bytes] of files) {
    const existing = await fs.readFile(path.join(dir, name)).catch(() => undefined);
    if (!existing?.equals(bytes)) return name;
  }
  return undefined;
}

/**
 * Writes a version folder atomically (temp folder, then rename). Content-addressed: writing the same
 * files again is a no-op; different files under an existing folder are refused.
 */
export async function writeModelVersion(dir: string, files: ModelVersionFiles): Promise<void> {
  const names = [...files.keys()];
  if (names.length !== MODEL_VERSION_FILES.length || !MODEL_VERSION_FILES.every((n) => files.has(n))) {
    throw new ModelStoreError(`writeModelVersion: files must be exactly ${MODEL_VERSION_FILES.join(', ')}; got ${names.join(', ')}`);
  }
  const refuseIfDifferent = async (): Promise<void> => {
    const differs = await firstDifference(dir, files);
    if (differs) throw new ModelStoreError(`${dir} already exists and its ${differs} differs from the one being written`);
  };
  if (
    await fs.stat(dir).then(
      () => true,
      () => false,
    )
  )
    return refuseIfDifferent();

  await fs.mkdir(path.dirname(dir), { recursive: true });
  const tmp = await fs.mkdtemp(`${dir}.tmp-`);
  try {
    for (const [name, bytes] of files) await fs.writeFile(path.join(tmp, name), bytes);
    await fs.chmod(tmp, 0o755); // mkdtemp makes it private
    await fs.rename(tmp, dir);
  } catch (err) {
    await fs.rm(tmp, { recursive: true, force: true });
    // Another writer may have created the same version meanwhile.
    if (['EEXIST', 'ENOTEMPTY'].includes((err as NodeJS.ErrnoException).code ?? '')) return refuseIfDifferent();
    throw new ModelStoreError(`${dir}: cannot write the model version: ${(err as Error).message}`, { cause: err });
  }
}

/** Loads straight from model.h5 + scaler.pkl; the metadata is what importing them would record. */
export async function loadModelFromSources(h5File: string, scalerFile: string, options: PrepareOptions = {}): Promise<LoadedModel> {
  const { files } = await prepareModelVersion(h5File, scalerFile, options);
  return loadModelVersionFromFiles(files, `${h5File} + ${scalerFile}`);
}

async function assertFolder(dir: string, label: string): Promise<void> {
  const stat = await fs.stat(dir).catch(() => undefined);
  if (!stat) throw new ModelStoreError(`${label} ${dir} does not exist`);
  if (!stat.isDirectory()) throw new ModelStoreError(`${label} ${dir} is not a folder`);
}

export interface ResolvedModelFiles {
  files: ModelVersionFiles;
  /** Where they came from, for messages. */
  source: string;
}

/** The files of an imported version folder; `label` names the folder in messages (e.g. the option that gave it). */
export async function versionFilesInFolder(dir: string, label: string): Promise<ResolvedModelFiles> {
  await assertFolder(dir, label);
  return { files: await listModelVersionFiles(dir), source: dir };
}

/** model.h5 + scaler.pkl converted into a version's files (in memory, or once into `options.cacheDir`). */
export async function versionFilesFromSources(h5File: string, scalerFile: string, options: PrepareOptions = {}): Promise<ResolvedModelFiles> {
  return { files: (await prepareModelVersion(h5File, scalerFile, options)).files, source: `${h5File} + ${scalerFile}` };
}

/** A folder holding either an imported version (metadata.json) or the team's model.h5 + scaler.pkl. */
export async function versionFilesInModelFolder(dir: string, label: string, options: PrepareOptions = {}): Promise<ResolvedModelFiles> {
  await assertFolder(dir, label);
  const has = (name: string) =>
    fs.stat(path.join(dir, name)).then(
      (s) => s.isFile(),
      () => false,
    );
  if (await has('metadata.json')) return { files: await listModelVersionFiles(dir), source: dir };
  const missing = [];
  for (const name of Object.values(SOURCE_FILES)) if (!(await has(name))) missing.push(name);
  if (missing.length > 0) {
    throw new ModelStoreError(
      `${label} ${dir} holds neither an imported model version (no metadata.json) nor the source files (missing ${missing.join(', ')})`,
    );
  }
  return versionFilesFromSources(path.join(dir, SOURCE_FILES.h5), path.join(dir, SOURCE_FILES.scaler), options);
}
