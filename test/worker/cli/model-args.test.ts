import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { importModel, type ImportedModel } from '../../../model/import.js';
import { listModelVersionFiles, ModelStoreError, writeModelVersion } from '../../../model/model-store.js';
import type { LoadedModel } from '../../../model/types.js';
import { resolveModel, type ModelArgs } from '../../../worker/cli/model-args.js';
import { repoRoot, shared } from '../../helpers/paths.js';

const H5 = shared('model_out/model.h5');
const PKL = shared('model_out/scaler.pkl');
type Opts = ModelArgs & { env: NodeJS.ProcessEnv; repoRoot: string };

async function rejection(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).to.be.instanceOf(ModelStoreError);
    return (err as Error).message;
  }
  throw new Error('expected a rejection');
}

describe('model flags: --model, --h5 + --scaler, MODEL_DIR, the default folder', () => {
  let tmp: string;
  let imported: ImportedModel;
  let versionFiles: Map<string, Buffer>;
  const loaded: LoadedModel[] = [];
  const keep = (m: LoadedModel) => (loaded.push(m), m);
  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'model-args-'));
    imported = await importModel({ h5: H5, scaler: PKL, out: path.join(tmp, 'models') });
    versionFiles = await listModelVersionFiles(imported.dir);
  });
  after(async () => {
    for (const m of loaded) m.layers.dispose();
    await fs.rm(tmp, { recursive: true, force: true });
  });
  const missingDir = () => path.join(tmp, 'nowhere');
  const resolve = async (opts: Partial<Opts>) => keep(await resolveModel(opts, opts.env ?? {}, opts.repoRoot ?? repoRoot));

  it('--model wins over MODEL_DIR and the default folder', async () => {
    const m = await resolve({ model: imported.dir, env: { MODEL_DIR: missingDir() }, repoRoot: missingDir() });
    expect(m.metadata.version).to.equal(imported.metadata.version);
  });
  it('--h5 + --scaler win over MODEL_DIR', async () => {
    const m = await resolve({ h5: H5, scaler: PKL, env: { MODEL_DIR: missingDir() } });
    expect(m.metadata.version).to.equal(imported.metadata.version);
  });
  it('MODEL_DIR may be an imported version, and wins over the default folder', async () => {
    const m = await resolve({ env: { MODEL_DIR: imported.dir }, repoRoot: missingDir() });
    expect(m.metadata.version).to.equal(imported.metadata.version);
  });
  it('MODEL_DIR may be a folder holding model.h5 and scaler.pkl', async () => {
    const m = await resolve({ env: { MODEL_DIR: shared('model_out') }, repoRoot: missingDir() });
    expect(m.metadata.sources.h5.sha256).to.equal(imported.metadata.sources.h5.sha256);
  });
  it('defaults to ../shared/model_out beside the repo', async () => {
    const m = await resolve({});
    expect(m.metadata.version).to.equal(imported.metadata.version);
  });

  it('names the option or path and what is missing', async () => {
    const msg = (opts: Partial<Opts>) => rejection(resolveModel(opts, opts.env ?? {}, opts.repoRoot ?? repoRoot));
    expect(await msg({ h5: H5 })).to.equal('--h5 needs --scaler <scaler.pkl> as well');
    expect(await msg({ scaler: PKL })).to.equal('--scaler needs --h5 <model.h5> as well');
    expect(await msg({ model: imported.dir, h5: H5 })).to.equal('--model cannot be combined with --h5/--scaler');
    expect(await msg({ model: missingDir() })).to.equal(`--model ${missingDir()} does not exist`);
    expect(await msg({ h5: path.join(tmp, 'm.h5'), scaler: PKL })).to.equal(`model file ${path.join(tmp, 'm.h5')}: no such file`);
    expect(await msg({ env: { MODEL_DIR: missingDir() } })).to.equal(`MODEL_DIR ${missingDir()} does not exist`);
    const empty = await fs.mkdtemp(path.join(tmp, 'empty-'));
    expect(await msg({ env: { MODEL_DIR: empty } })).to.equal(
      `MODEL_DIR ${empty} holds neither an imported model version (no metadata.json) nor the source files (missing model.h5, scaler.pkl)`,
    );
    const fakeRepo = path.join(tmp, 'clone', 'repo');
    expect(await msg({ repoRoot: fakeRepo })).to.equal(`the default model folder ${path.join(tmp, 'clone', 'shared', 'model_out')} does not exist`);
    const broken = path.join(tmp, 'broken');
    await writeModelVersion(broken, versionFiles);
    await fs.rm(path.join(broken, 'weights.bin'));
    expect(await msg({ model: broken })).to.equal(`${broken}: not a model version, missing weights.bin`);
  });
});
