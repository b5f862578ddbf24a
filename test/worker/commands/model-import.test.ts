import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { prepareModelVersion } from '../../../model/model-store.js';
import { main } from '../../../worker/commands/model-import.js';
import { runInProcess, runSpawned } from '../../helpers/command.js';
import { shared } from '../../helpers/paths.js';

const H5 = shared('model_out/model.h5');
const PKL = shared('model_out/scaler.pkl');

describe('model:import command', () => {
  let tmp: string;
  let version: string;
  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'model-import-cli-'));
    version = (await prepareModelVersion(H5, PKL)).metadata.version;
  });
  after(() => fs.rm(tmp, { recursive: true, force: true }));

  it('prints the version id and folder (its own process, as npm runs it)', async () => {
    const r = await runSpawned('worker/commands/model-import.ts', ['--h5', H5, '--scaler', PKL, '--out', path.join(tmp, 'cli')]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.equal(`version ${version}\ndir ${path.join(tmp, 'cli', version)}\n`);
  });

  it('exits 2 with one usage line on bad arguments, 1 with one line on a failed import', async () => {
    const usage = await runInProcess(main, ['--h5', H5]);
    expect(usage.code).to.equal(2);
    expect(usage.stderr).to.match(/^model:import: missing --scaler, --out \(usage: npm run model:import -- .*\)\n$/);
    const failed = await runInProcess(main, ['--h5', H5, '--scaler', H5, '--out', path.join(tmp, 'cli')]);
    expect(failed.code).to.equal(1);
    expect(failed.stderr).to.equal(`model:import failed: ${H5}: 0x48: unknown opcode (at byte 1)\n`);
  });
});
