import { expect } from 'chai';
import { switchBackend, type BackendName } from '../../model/backend.js';
import { createInference } from '../../model/inference.js';
import { loadModelVersionFromFiles, prepareModelVersion } from '../../model/model-store.js';
import { checkWindows, ModelCheckFailedError, parseModelCheck, runModelCheck, ModelCheckFileError } from '../../model/self-check.js';
import type { LoadedModel } from '../../model/types.js';
import { shared } from '../helpers/paths.js';

describe('model self-check: a version proves its numbers on the backend that serves it', () => {
  let files: Map<string, Buffer>;
  let model: LoadedModel;
  before(async function () {
    this.timeout(120_000);
    files = new Map((await prepareModelVersion(shared('model_out/model.h5'), shared('model_out/scaler.pkl'))).files);
    model = await loadModelVersionFromFiles(files);
  });
  after(async () => {
    model?.layers.dispose();
    await switchBackend('wasm');
  });

  it('carries its check windows and the reference engine outputs in the version (so in its id)', () => {
    const check = JSON.parse(files.get('check.json')!.toString('utf8'));
    expect(check).to.include({ format: 'model-check/1', tolerance: 1e-4, seqLen: 5, features: 13 });
    expect(check.reference.engine).to.equal('layers');
    expect(check.windows).to.have.length(16);
    expect(
      check.windows[0].every((v: number) => v === 0),
      'a symbol-start window',
    ).to.equal(true);
    expect(Array.from(checkWindows(5, 13).subarray(65, 130))).to.deep.equal(check.windows[1]);
  });

  for (const backend of ['wasm', 'cpu'] as BackendName[]) {
    it(`passes on the ${backend} backend with the fast engine and the layers engine`, async () => {
      await switchBackend(backend);
      for (const name of ['fast', 'layers'] as const) {
        const engine = createInference(model, name);
        const result = await runModelCheck(model.check, engine);
        engine.dispose();
        expect(result.ok, `${backend}/${name}: ${JSON.stringify(result.failures)}`).to.equal(true);
        expect(result.maxAbsDiff).to.be.below(1e-4);
      }
    });
  }

  it('refuses a version whose expected value was corrupted, naming the window', async () => {
    await switchBackend('wasm');
    const corrupted = { ...model.check, expected: model.check.expected.map((v, i) => (i === 7 ? v + 0.01 : v)) };
    const engine = createInference(model, 'fast');
    const result = await runModelCheck(corrupted, engine);
    engine.dispose();
    expect(result.ok).to.equal(false);
    expect(result.failures.map((f) => f.window)).to.deep.equal([7]);
    expect(new ModelCheckFailedError('v-x', result, 'wasm').message).to.match(
      /^model version v-x failed its check on the wasm backend: 1 of 16 windows off by more than the tolerance \(max \|diff\| 1\.00e-2; window 7: /,
    );
  });

  it('refuses a malformed check file, and a version without one', async () => {
    expect(() => parseModelCheck(Buffer.from('{"format":"model-check/1","windows":[],"expected":[]}'), 'check.json')).to.throw(
      ModelCheckFileError,
      /at least one/,
    );
    const without = new Map(files);
    without.delete('check.json');
    try {
      await loadModelVersionFromFiles(without, 'v');
      expect.fail('expected a refusal');
    } catch (err) {
      expect((err as Error).message).to.equal('v: not a model version, missing check.json');
    }
  });
});
