import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { expect } from 'chai';
import { predictionsKey } from '../../../shared/layout.js';
import { compareSequencers, type ObjectCreated } from '../../../shared/s3-event.js';
import { publishPredictions } from '../../../worker/runtime/outputs.js';
import { readText, startTestStack, upload, type TestStack } from '../../helpers/test-stack.js';

describe('publishing predictions/ (embedded S3)', () => {
  let fleet: TestStack;
  before(async () => (fleet = await startTestStack()));
  after(async () => fleet?.close());

  const record = (key: string, eTag: string, sequencer: string): ObjectCreated => ({
    bucket: fleet.stack.bucket,
    key,
    size: 1,
    eTag,
    versionId: null,
    sequencer,
    eventTime: new Date().toISOString(),
    eventName: 'ObjectCreated:Put',
    awsRegion: 'us-east-1',
  });

  it('orders sequencers as S3 documents: right-pad with zeros, then compare', () => {
    expect(compareSequencers('0055AED6DCD90281E5', '0055AED6DCD90281E6')).to.be.below(0);
    expect(compareSequencers('0055AED6DCD9028', '0055AED6DCD90281E5')).to.be.below(0);
    expect(compareSequencers('0055AED6DCD90290', '0055AED6DCD90281E5')).to.be.above(0);
    expect(compareSequencers('00ab', '00AB')).to.equal(0);
  });

  it("never lets an older upload's run replace the predictions of a newer one of the same key", async () => {
    const key = 'incoming/race.csv';
    const etag = await upload(fleet, key, 'same bytes\n');
    const newer = await publishPredictions(fleet.objects, record(key, etag, '0000000000000000B0'), { etag, versionId: null }, 'run-newer', {
      preds: 'newer\n',
      forecast: 'f\n',
    });
    expect(newer.published?.preds.key).to.equal(predictionsKey(key));
    const older = await publishPredictions(fleet.objects, record(key, etag, '0000000000000000A0'), { etag, versionId: null }, 'run-older', {
      preds: 'older\n',
      forecast: 'f\n',
    });
    expect(older).to.deep.equal({ published: null, reason: 'predictions/ hold the run run-newer of a later upload of this key' });
    expect(await readText(fleet, predictionsKey(key))).to.equal('newer\n');
    const newest = await publishPredictions(fleet.objects, record(key, etag, '0000000000000000C0'), { etag, versionId: null }, 'run-newest', {
      preds: 'newest\n',
      forecast: 'f\n',
    });
    expect(newest.published).to.not.equal(null);
    expect(await readText(fleet, predictionsKey(key))).to.equal('newest\n');
  });

  it('does not publish when the input key now holds other bytes', async () => {
    const key = 'incoming/replaced.csv';
    const first = await upload(fleet, key, 'first\n');
    await upload(fleet, key, 'second\n');
    const p = await publishPredictions(fleet.objects, record(key, first, '0000000000000000A0'), { etag: first, versionId: null }, 'run-first', {
      preds: 'x\n',
      forecast: 'f\n',
    });
    expect(p).to.deep.equal({ published: null, reason: 'a newer upload of this key exists; its run owns predictions/' });
    expect(await fleet.objects.exists(predictionsKey(key))).to.equal(false);
  });

  it('says the input was deleted when it was, and publishes nothing', async () => {
    const key = 'incoming/deleted.csv';
    const etag = await upload(fleet, key, 'gone soon\n');
    await fleet.s3.send(new DeleteObjectCommand({ Bucket: fleet.stack.bucket, Key: key }));
    const p = await publishPredictions(fleet.objects, record(key, etag, '0000000000000000A0'), { etag, versionId: null }, 'run-deleted', {
      preds: 'x\n',
      forecast: 'f\n',
    });
    expect(p).to.deep.equal({ published: null, reason: 'the input was deleted during the run: predictions/ are left as they are' });
    expect(await fleet.objects.exists(predictionsKey(key))).to.equal(false);
  });
});
