import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '../../model/backend.js';
import { importModel, type ImportedModel } from '../../model/import.js';
import { layersModelFromH5, readKerasH5 } from '../../model/keras-h5.js';
import {
  MODEL_VERSION_FILES,
  ModelStoreError,
  listModelVersionFiles,
  loadModelFromSources,
  loadModelVersionFromFiles,
  readModelVersion,
  writeModelVersion,
} from '../../model/model-store.js';
import type { LoadedModel } from '../../model/types.js';
import { shared } from '../helpers/paths.js';

const H5 = shared('model_out/model.h5');
const PKL = shared('model_out/scaler.pkl');
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Deterministic windows [count, 5, 13] with feature-like magnitudes. */
function windows(count: number): tf.Tensor3D {
  let seed = 12345;
  const values = Float32Array.from({ length: count * 5 * 13 }, () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return (seed / 2 ** 31) * 6 - 3;
  });
  return tf.tensor3d(values, [count, 5, 13]);
}

async function predict(model: tfl.LayersModel, x: tf.Tensor): Promise<number[]> {
  const y = model.predict(x) as tf.Tensor;
  const out = Array.from(await y.data());
  y.dispose();
  return out;
}

/** The message of the error `p` rejects with; every refusal here is a ModelStoreError. */
async function rejection(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).to.be.instanceOf(ModelStoreError);
    return (err as Error).message;
  }
  throw new Error('expected a rejection');
}

describe('model import and model versions', () => {
  let tmp: string;
  let imported: ImportedModel;
  let versionFiles: Map<string, Buffer>;
  const loaded: LoadedModel[] = [];
  const keep = (m: LoadedModel) => (loaded.push(m), m);

  before(async () => {
    await initBackend();
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'model-import-'));
    imported = await importModel({ h5: H5, scaler: PKL, out: path.join(tmp, 'models') });
    versionFiles = await listModelVersionFiles(imported.dir);
  });
  after(async () => {
    for (const m of loaded) m.layers.dispose();
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it('writes <out>/<version>/ with the four files and a content-derived id', async () => {
    expect(imported.metadata.version).to.match(/^v-[0-9a-f]{16}$/);
    expect(imported.dir).to.equal(path.join(tmp, 'models', imported.metadata.version));
    expect((await fs.readdir(imported.dir)).sort()).to.deep.equal([...MODEL_VERSION_FILES].sort());
    const size = [...versionFiles.values()].reduce((a, b) => a + b.length, 0);
    expect(size).to.be.below(200_000);
    const { metadata } = imported;
    expect(metadata.sources.h5).to.deep.equal({ file: 'model.h5', sha256: sha256(await fs.readFile(H5)) });
    expect(metadata.sources.scaler).to.deep.equal({ file: 'scaler.pkl', sha256: sha256(await fs.readFile(PKL)) });
    expect(metadata.keras).to.deep.equal({ version: '2.2.4', backend: 'tensorflow' });
    expect(metadata.features.seqLen).to.equal(5);
    expect(metadata.symbols).to.have.length(20);
    expect(JSON.parse(versionFiles.get('metadata.json')!.toString())).to.deep.equal(metadata);
  });

  it('re-importing the same files gives the same id and identical bytes, here and in a fresh folder', async () => {
    const again = await importModel({ h5: H5, scaler: PKL, out: path.join(tmp, 'models') });
    expect(again.dir).to.equal(imported.dir);
    expect(await listModelVersionFiles(again.dir)).to.deep.equal(versionFiles);
    const elsewhere = await importModel({ h5: H5, scaler: PKL, out: path.join(tmp, 'other') });
    expect(elsewhere.metadata.version).to.equal(imported.metadata.version);
    expect(await listModelVersionFiles(elsewhere.dir)).to.deep.equal(versionFiles);
  });

  it('a version read back from disk predicts what the model built from the h5 predicts', async () => {
    const fromDisk = keep(await readModelVersion(imported.dir));
    const direct = await layersModelFromH5(await readKerasH5(H5));
    const zeros = tf.zeros([1, 5, 13]);
    const x = windows(8);
    try {
      const graph = await fromDisk.layers.get();
      const [z] = await predict(graph, zeros);
      expect(z).to.be.closeTo(-0.011210888, 1e-6);
      expect(await predict(graph, x)).to.deep.equal(await predict(direct, x));
      expect(new Set(await predict(direct, x)).size, 'windows give distinct outputs').to.equal(8);
    } finally {
      direct.dispose();
      tf.dispose([zeros, x]);
    }
    expect(fromDisk.metadata).to.deep.equal(imported.metadata);
    expect([...fromDisk.scalers.symbols.keys()]).to.deep.equal(imported.metadata.symbols);
  });

  it('model.json + weights.bin load with the stock TensorFlow.js loader too', async () => {
    const modelJson = JSON.parse(versionFiles.get('model.json')!.toString());
    const bin = versionFiles.get('weights.bin')!;
    const stock = await tfl.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: modelJson.modelTopology,
        weightSpecs: modelJson.weightsManifest[0].weights,
        weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.length),
      }),
    );
    const fromDisk = keep(await readModelVersion(imported.dir));
    const x = windows(4);
    try {
      const a = await predict(stock, x);
      const b = await predict(await fromDisk.layers.get(), x);
      a.forEach((v, i) => expect(v).to.be.closeTo(b[i], 1e-6));
    } finally {
      stock.dispose();
      x.dispose();
    }
  });

  it('loads from in-memory files and straight from the sources with the same metadata', async () => {
    const fromFiles = keep(await loadModelVersionFromFiles(versionFiles));
    expect(fromFiles.metadata).to.deep.equal(imported.metadata);
    const fromSources = keep(await loadModelFromSources(H5, PKL));
    expect(fromSources.metadata).to.deep.equal(imported.metadata);
  });

  it('builds the Keras-layers graph only when asked, once, and frees it on dispose', async () => {
    const before = tf.memory().numTensors;
    const model = await loadModelVersionFromFiles(versionFiles);
    expect(tf.memory().numTensors, 'no tensors at load').to.equal(before);
    const graph = await model.layers.get();
    expect(await model.layers.get()).to.equal(graph);
    expect(tf.memory().numTensors).to.be.greaterThan(before);
    model.layers.dispose();
    await new Promise((r) => setImmediate(r));
    expect(tf.memory().numTensors).to.equal(before);
    let error: unknown;
    await model.layers.get().catch((e: unknown) => (error = e));
    expect((error as Error).message).to.equal('layers model: get() after dispose()');
  });

  it('refuses files that do not match their version id, or an incomplete set', async () => {
    const tampered = new Map(versionFiles);
    tampered.set('scalers.json', Buffer.from(versionFiles.get('scalers.json')!.toString().replace('"nSamplesSeen":1967', '"nSamplesSeen":1968')));
    expect(tampered.get('scalers.json')).to.not.deep.equal(versionFiles.get('scalers.json'));
    expect(await rejection(loadModelVersionFromFiles(tampered, 's3://b/models/x'))).to.match(
      /^s3:\/\/b\/models\/x: files do not match version "v-[0-9a-f]{16}" \(their content gives v-[0-9a-f]{16}\)$/,
    );
    const partial = new Map(versionFiles);
    partial.delete('weights.bin');
    expect(await rejection(loadModelVersionFromFiles(partial, 'mem'))).to.equal('mem: not a model version, missing weights.bin');
  });

  it('never overwrites an existing version with different bytes', async () => {
    const copy = path.join(tmp, 'copy');
    await writeModelVersion(copy, versionFiles);
    const changed = new Map(versionFiles);
    changed.set('metadata.json', Buffer.from('{}'));
    const msg = await rejection(writeModelVersion(copy, changed));
    expect(msg).to.equal(`${copy} already exists and its metadata.json differs from the one being written`);
    expect(await listModelVersionFiles(copy)).to.deep.equal(versionFiles);
  });
});
