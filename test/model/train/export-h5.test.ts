import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { initBackend } from '../../../model/backend.js';
import { createFastEngine } from '../../../model/fast-inference.js';
import { writeWindows } from '../../../model/features.js';
import { loadModelVersionFromFiles, prepareModelVersion, type ModelVersionFiles, type PreparedModelVersion } from '../../../model/model-store.js';
import { historyFeatures } from '../../../model/train/dataset.js';
import { ExportError, exportKerasH5, exportScalersJson, writeKerasH5 } from '../../../model/train/export-h5.js';
import { KERAS_TRAINING_CONFIG } from '../../../model/train/keras-topology.js';
import { trainModel } from '../../../model/train/train.js';
import { finishVersion } from '../../../model/train/version-files.js';
import { N_FEATURES } from '../../../model/types.js';
import { shared } from '../../helpers/paths.js';
import { loadHistories, subset } from './fixture.js';

const H5 = shared('model_out/model.h5');
const PKL = shared('model_out/scaler.pkl');

type H5Module = typeof import('h5wasm/node').default;

interface H5Tree {
  attrs: Record<string, unknown>;
  datasets: Record<string, { shape: number[]; dtype: string; bytes: Buffer }>;
  groups: string[];
}

/** Everything Keras's loader reads from a model file: root and model_weights attributes, each layer's weight_names and datasets. */
async function readTree(file: string): Promise<H5Tree> {
  const { default: h5 }: { default: H5Module } = await import('h5wasm/node');
  await h5.ready;
  const f = new h5.File(file, 'r');
  try {
    const tree: H5Tree = { attrs: {}, datasets: {}, groups: [] };
    const value = (v: unknown) => (ArrayBuffer.isView(v) ? Array.from(v as Float64Array) : v);
    for (const [k, a] of Object.entries(f.attrs)) tree.attrs[k] = k.endsWith('_config') ? JSON.parse(String(a.value)) : a.value;
    const walk = (g: InstanceType<H5Module['Group']>, at: string) => {
      for (const [k, a] of Object.entries(g.attrs)) tree.attrs[`${at}@${k}`] = value(a.value);
      for (const name of g.keys()) {
        const child = g.get(name);
        const p = `${at}/${name}`;
        if (child instanceof h5.Group) {
          tree.groups.push(p);
          walk(child, p);
        } else if (child instanceof h5.Dataset) {
          const v = child.value as Float32Array;
          tree.datasets[p] = { shape: [...(child.shape ?? [])], dtype: child.dtype as string, bytes: Buffer.from(v.buffer, v.byteOffset, v.byteLength) };
        }
      }
    };
    walk(f.get('model_weights') as InstanceType<H5Module['Group']>, '/model_weights');
    return tree;
  } finally {
    f.close();
  }
}

describe('train: export as a Keras 2.2.4 HDF5 file (issue 12)', () => {
  let tmp: string;
  let team: PreparedModelVersion;

  before(async () => {
    await initBackend();
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'export-test-'));
    team = await prepareModelVersion(H5, PKL);
  });

  after(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it("exports the team's model with model.h5's structure: same attributes, layer and weight names, datasets and weight bytes", async () => {
    const out = path.join(tmp, 'team.h5');
    await writeKerasH5(team.files, out);
    const [ours, theirs] = [await readTree(out), await readTree(H5)];
    expect(ours.attrs).to.deep.equal(theirs.attrs);
    expect(ours.groups).to.have.members(theirs.groups);
    expect(Object.keys(ours.datasets)).to.have.members(Object.keys(theirs.datasets));
    for (const [p, d] of Object.entries(theirs.datasets)) {
      expect(ours.datasets[p]!.shape, p).to.deep.equal(d.shape);
      expect(ours.datasets[p]!.dtype, p).to.equal(d.dtype);
      expect(ours.datasets[p]!.bytes.equals(d.bytes), p).to.equal(true);
    }
    expect(ours.attrs.training_config).to.deep.equal(KERAS_TRAINING_CONFIG);
  });

  it("re-imports the team's export as the very same model version", async () => {
    const bytes = await exportKerasH5(team.files);
    const file = path.join(tmp, 'roundtrip.h5');
    await fs.writeFile(file, bytes);
    const again = await prepareModelVersion(file, PKL);
    for (const name of ['model.json', 'weights.bin', 'scalers.json']) expect(again.files.get(name)!.equals(team.files.get(name)!), name).to.equal(true);
    expect(again.metadata.version).to.equal(team.metadata.version);
  });

  it('exports a trained version: re-imported, it holds the same weights and gives the same outputs', async () => {
    const histories = subset(await loadHistories(), ['LTC', 'XRP'], 80);
    const trained = await trainModel(histories, { epochs: 1, seed: 11, validationRows: 10 });
    const file = path.join(tmp, 'trained.h5');
    await writeKerasH5(trained.files, file, { trainingConfig: null });
    // The importer pairs a model file with a scaler.pkl; the network's outputs do not depend on which.
    const imported = await prepareModelVersion(file, PKL);
    expect(imported.files.get('weights.bin')!.equals(trained.files.get('weights.bin')!)).to.equal(true);
    const [a, b] = [await loadModelVersionFromFiles(trained.files), await loadModelVersionFromFiles(imported.files)];
    const rows = histories.get('LTC')!;
    const windows = new Float32Array((rows.length + 1) * 5 * N_FEATURES);
    writeWindows(historyFeatures(rows, a.scalers.symbols.get('LTC')!), rows.length, 5, windows, 0);
    const [ea, eb] = [createFastEngine(a.keras), createFastEngine(b.keras)];
    const [ya, yb] = [await ea.predict(windows, rows.length + 1), await eb.predict(windows, rows.length + 1)];
    ea.dispose();
    eb.dispose();
    expect(Buffer.from(ya.buffer).equals(Buffer.from(yb.buffer))).to.equal(true);
    expect((await readTree(file)).attrs).to.not.have.property('training_config');

    const forPython = JSON.parse(await exportScalersJson(trained.files));
    expect(forPython.model_hypers).to.deep.equal({
      dat_cols: a.scalers.hypers.datCols,
      feat_cols: a.scalers.hypers.featCols,
      target_col: 'v_open',
      batch_size: 32,
      seq_len: 5,
    });
    expect(Object.keys(forPython.scalers)).to.deep.equal(['LTC', 'XRP']);
    const s = a.scalers.symbols.get('XRP')!.v_open!;
    expect(forPython.scalers.XRP.v_open).to.deep.equal({ mean_: [s.mean], scale_: [s.scale], var_: [s.var], n_samples_seen_: s.nSamplesSeen });
  });

  it('refuses what Keras could not load, naming what is wrong, and leaves no file behind', async () => {
    const broken = new Map(team.files);
    broken.set('weights.bin', Buffer.alloc(8));
    const failure = async (files: ModelVersionFiles, file: string) => {
      try {
        await writeKerasH5(files, file);
      } catch (err) {
        expect(
          await fs.stat(file).then(
            () => true,
            () => false,
          ),
          `${file} written`,
        ).to.equal(false);
        expect(
          (await fs.readdir(tmp)).filter((n) => n.startsWith(path.basename(file))),
          'temporary files',
        ).to.deep.equal([]);
        return err as Error;
      }
      throw new Error('expected a failure');
    };
    expect((await failure(broken, path.join(tmp, 'broken.h5'))).message).to.match(/files do not match version/);

    // A layer name HDF5's ASCII names cannot hold.
    const json = team.files.get('model.json')!.toString('utf8').replaceAll('dense_3', 'dense_\u00e9');
    const renamed = finishVersion(
      new Map([...team.files].filter(([n]) => n !== 'metadata.json').map(([n, b]) => [n, n === 'model.json' ? Buffer.from(json) : b])),
      team.metadata,
    );
    const err = await failure(renamed.files, path.join(tmp, 'renamed.h5'));
    expect(err).to.be.instanceOf(ExportError);
    expect(err.message).to.equal('layer_names: "dense_é" is not printable ASCII, which Keras\'s HDF5 names need');
  });
});
