import { expect } from 'chai';
import { MODEL_POINTER_KEY } from '../../../shared/layout.js';
import { readModelPointer } from '../../../worker/runtime/model-source.js';
import { listModelVersions, useModelVersion } from '../../../worker/ops/model-versions.js';
import { startTestStack, type TestStack } from '../../helpers/test-stack.js';

describe('model versions in the bucket (embedded S3)', () => {
  let fleet: TestStack;
  before(async () => (fleet = await startTestStack()));
  after(async () => fleet?.close());

  it('lists the published version, marked as in service, with its source hashes', async () => {
    const versions = await listModelVersions(fleet.objects, MODEL_POINTER_KEY);
    expect(versions).to.have.length(1);
    expect(versions[0]).to.include({ version: fleet.modelVersion, current: true, kerasVersion: '2.2.4', symbols: 20 });
    expect(versions[0].h5Sha256).to.match(/^[0-9a-f]{64}$/);
  });

  it('refuses to put an unpublished version in service and leaves the pointer alone', async () => {
    try {
      await useModelVersion(fleet.objects, MODEL_POINTER_KEY, 'v-0000000000000000');
      expect.fail('expected an error');
    } catch (err) {
      expect((err as Error).message).to.match(/model version v-0000000000000000 is not published under s3:\/\/crypto-open-local\/models\/v-0000000000000000\//);
    }
    expect((await readModelPointer(fleet.objects, MODEL_POINTER_KEY))?.version).to.equal(fleet.modelVersion);
  });

  it('repoints models/current.json at a published version', async () => {
    await fleet.objects.putJson(MODEL_POINTER_KEY, { version: 'v-elsewhere', prefix: 'models/v-elsewhere/' });
    const p = await useModelVersion(fleet.objects, MODEL_POINTER_KEY, fleet.modelVersion);
    expect(p).to.deep.equal({ version: fleet.modelVersion, prefix: `models/${fleet.modelVersion}/` });
    expect(await readModelPointer(fleet.objects, MODEL_POINTER_KEY)).to.deep.equal(p);
  });
});
