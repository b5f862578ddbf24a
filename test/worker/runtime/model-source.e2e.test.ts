import { expect } from 'chai';
import type { LoadedModel } from '../../../model/types.js';
import { MODEL_POINTER_KEY } from '../../../shared/layout.js';
import { resolveModelFiles } from '../../../worker/cli/model-args.js';
import { publishModelVersion } from '../../../worker/ops/model-publish.js';
import { ModelSource, ModelUnavailableError } from '../../../worker/runtime/model-source.js';
import { variantWithout } from '../../helpers/model-variant.js';
import { repoRoot } from '../../helpers/paths.js';
import { startTestStack, type TestStack } from '../../helpers/test-stack.js';

describe('model source: the version in service, switched on the next run (embedded S3)', () => {
  let fleet: TestStack;
  let other: string;
  before(async () => {
    fleet = await startTestStack();
    const { files } = await resolveModelFiles({}, {}, repoRoot);
    other = (await publishModelVersion(fleet.objects, variantWithout(files, 'XRP'), MODEL_POINTER_KEY, false)).version;
    await publishModelVersion(fleet.objects, files, MODEL_POINTER_KEY, true);
  });
  after(async () => fleet?.close());

  it('loads a version once, swaps to the repointed one on the next call, and releases the one out of service', async () => {
    const released: string[] = [];
    const source = new ModelSource(fleet.objects, MODEL_POINTER_KEY, { release: (m: LoadedModel) => released.push(m.metadata.version) });
    const a = await source.current();
    expect(a.metadata.version).to.equal(fleet.modelVersion);
    expect(await source.current(), 'kept, not reloaded').to.equal(a);
    expect(released).to.deep.equal([]);

    await fleet.objects.putJson(MODEL_POINTER_KEY, { version: other, prefix: `models/${other}/` });
    const b = await source.current();
    expect(b.metadata.version).to.equal(other);
    expect(b.scalers.symbols.has('XRP')).to.equal(false);
    expect(released).to.deep.equal([fleet.modelVersion]);

    // Rolled back: the released version is loaded again, not served from a disposed copy.
    await fleet.objects.putJson(MODEL_POINTER_KEY, { version: fleet.modelVersion, prefix: `models/${fleet.modelVersion}/` });
    const c = await source.current();
    expect(c.metadata.version).to.equal(fleet.modelVersion);
    expect(c).to.not.equal(a);
    expect(released).to.deep.equal([fleet.modelVersion, other]);
  });

  it('refuses a version that fails verification: keeps serving the one it has, and tries the refused one only once', async () => {
    const released: string[] = [];
    const refused: [string, string | null][] = [];
    let verifications = 0;
    const source = new ModelSource(fleet.objects, MODEL_POINTER_KEY, {
      release: (m) => released.push(m.metadata.version),
      verify: async (m) => {
        verifications++;
        if (m.metadata.version === other) throw new Error('outputs differ from the reference');
      },
      onRefused: (version, _err, kept) => refused.push([version, kept]),
    });
    await fleet.objects.putJson(MODEL_POINTER_KEY, { version: fleet.modelVersion, prefix: `models/${fleet.modelVersion}/` });
    const a = await source.current();
    await fleet.objects.putJson(MODEL_POINTER_KEY, { version: other, prefix: `models/${other}/` });
    expect(await source.current(), 'still the verified version').to.equal(a);
    expect(await source.current()).to.equal(a);
    expect(source.inService).to.equal(fleet.modelVersion);
    expect(refused).to.deep.equal([[other, fleet.modelVersion]]);
    expect(verifications, 'the refused version is not loaded again on every message').to.equal(2);
    expect(released, 'the refused copy is freed, the served one kept').to.deep.equal([other]);

    // With nothing in service, the refusal is the caller's error.
    const fresh = new ModelSource(fleet.objects, MODEL_POINTER_KEY, { verify: async () => Promise.reject(new Error('bad backend')) });
    try {
      await fresh.current();
      expect.fail('expected a refusal');
    } catch (err) {
      expect((err as Error).message).to.equal('bad backend');
    }
  });

  it('says which pointer is missing, and loads nothing', async () => {
    const source = new ModelSource(fleet.objects, 'models/none.json');
    try {
      await source.current();
      expect.fail('expected an error');
    } catch (err) {
      expect(err).to.be.instanceOf(ModelUnavailableError);
      expect((err as Error).message).to.equal('model pointer s3://crypto-open-local/models/none.json unreadable: no such object');
    }
  });
});
