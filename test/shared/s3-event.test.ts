import { expect } from 'chai';
import { BadMessageError, decodeS3EventKey, parseQueueMessage, type ObjectCreated } from '../../shared/s3-event.js';
import { buildS3Event, buildS3TestEvent, encodeS3EventKey } from '../../worker/tasks/s3-notification.js';

/** A notification as AWS delivered it (documentation example, key with a space and a plus). */
const AWS_SAMPLE = JSON.stringify({
  Records: [
    {
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      awsRegion: 'eu-west-1',
      eventTime: '2024-05-01T12:00:00.123Z',
      eventName: 'ObjectCreated:Put',
      userIdentity: { principalId: 'AWS:AIDAINPONIXQXHT3IKHL2' },
      requestParameters: { sourceIPAddress: '205.255.255.255' },
      responseElements: {
        'x-amz-request-id': 'D82B88E5F771F645',
        'x-amz-id-2': 'vlR7PnpV2Ce81l0PRw6jlUpck7Jo5ZsQjryTjKlc5aLWGVHPZLj5NeC6qMa0emYBDXOo6QBU0Wo=',
      },
      s3: {
        s3SchemaVersion: '1.0',
        configurationId: '828aa6fc-f7b5-4305-8584-487c791949c1',
        bucket: { name: 'crypto-open', ownerIdentity: { principalId: 'A3I5XTEXAMAI3E' }, arn: 'arn:aws:s3:::crypto-open' },
        object: {
          key: 'incoming/team+a/c%2B%2B+data.csv',
          size: 1305107,
          eTag: 'b21b84d653bb07b05b1e6b33684dc11b',
          versionId: '096fKKXTRTtl3on89fVO.nfljtsv6qko',
          sequencer: '0055AED6DCD90281E5',
        },
      },
    },
  ],
});

function parsedRecords(body: string): ObjectCreated[] {
  const m = parseQueueMessage(body);
  if (m.kind !== 's3-records') throw new Error(`expected s3-records, got ${m.kind}`);
  return m.records;
}

function badReason(body: string): string {
  try {
    parseQueueMessage(body);
  } catch (e) {
    expect(e).to.be.instanceOf(BadMessageError);
    return (e as BadMessageError).reason;
  }
  throw new Error(`expected a BadMessageError for ${body}`);
}

describe('shared/s3-event', () => {
  describe('parseQueueMessage', () => {
    it('refuses an eventTime or sequencer outside their documented forms (they end up in run ids and keys)', () => {
      const withRecord = (patch: (r: Record<string, any>) => void) => {
        const body = JSON.parse(AWS_SAMPLE);
        patch(body.Records[0]);
        return JSON.stringify(body);
      };
      expect(badReason(withRecord((r) => (r.eventTime = '../../../../outside')))).to.match(/Records\[0\]\.eventTime must be an ISO-8601 UTC time/);
      expect(badReason(withRecord((r) => (r.s3.object.sequencer = '../x')))).to.match(/Records\[0\]\.s3\.object\.sequencer must be hexadecimal/);
    });

    it('decodes an AWS notification: "+" is a space, %2B is a plus, versionId kept', () => {
      const [r] = parsedRecords(AWS_SAMPLE);
      expect(r).to.deep.equal({
        bucket: 'crypto-open',
        key: 'incoming/team a/c++ data.csv',
        size: 1305107,
        eTag: 'b21b84d653bb07b05b1e6b33684dc11b',
        versionId: '096fKKXTRTtl3on89fVO.nfljtsv6qko',
        sequencer: '0055AED6DCD90281E5',
        eventTime: '2024-05-01T12:00:00.123Z',
        eventName: 'ObjectCreated:Put',
        awsRegion: 'eu-west-1',
      });
    });

    it('keeps every record of a multi-record message and lists the non-created ones as ignored', () => {
      const a = buildS3Event({ bucket: 'b', key: 'incoming/a.csv', size: 1, eTag: 'e1', sequencer: '01' }).Records[0];
      const b = buildS3Event({ bucket: 'b', key: 'incoming/b.csv', size: 2, eTag: 'e2', sequencer: '02', eventName: 'ObjectCreated:Copy' }).Records[0];
      const removed = { ...a, eventName: 'ObjectRemoved:Delete', s3: { ...a.s3, object: { key: 'incoming/gone.csv', sequencer: '03' } } };
      const m = parseQueueMessage(JSON.stringify({ Records: [a, removed, b] }));
      expect(m).to.have.property('kind', 's3-records');
      if (m.kind !== 's3-records') return;
      expect(m.records.map((r) => [r.key, r.eventName, r.versionId])).to.deep.equal([
        ['incoming/a.csv', 'ObjectCreated:Put', null],
        ['incoming/b.csv', 'ObjectCreated:Copy', null],
      ]);
      expect(m.ignored).to.deep.equal(['ObjectRemoved:Delete incoming/gone.csv']);
    });

    it('strips quotes from an eTag', () => {
      const event = buildS3Event({ bucket: 'b', key: 'incoming/a.csv', size: 1, eTag: 'abc', sequencer: '01' });
      event.Records[0].s3.object.eTag = '"abc"';
      expect(parsedRecords(JSON.stringify(event))[0].eTag).to.equal('abc');
    });

    it('recognises the s3:TestEvent', () => {
      expect(parseQueueMessage(JSON.stringify(buildS3TestEvent('crypto-open')))).to.deep.equal({ kind: 's3-test', bucket: 'crypto-open' });
      const aws =
        '{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2014-10-13T15:57:02.089Z","Bucket":"bucketname","RequestId":"5582815E1AEA5ADF","HostId":"8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"}';
      expect(parseQueueMessage(aws)).to.deep.equal({ kind: 's3-test', bucket: 'bucketname' });
    });

    it('returns a command message with its whole body', () => {
      const body = { command: 'forecast', symbols: ['BTC'] };
      expect(parseQueueMessage(JSON.stringify(body))).to.deep.equal({ kind: 'command', command: 'forecast', body });
    });

    it('rejects junk with a reason naming what is wrong', () => {
      expect(badReason('hello')).to.match(/not JSON/);
      expect(badReason('')).to.match(/not JSON/);
      expect(badReason('[1,2]')).to.match(/not an object \(array\)/);
      expect(badReason('null')).to.match(/not an object \(null\)/);
      expect(badReason('{"foo":1}')).to.match(/not an S3 event.*keys: foo/);
      expect(badReason('{"command":42}')).to.match(/"command" must be a non-empty string/);
      expect(badReason('{"Records":[]}')).to.match(/non-empty array/);
      expect(badReason('{"Records":[42]}')).to.match(/Records\[0\] is not an object/);
    });

    it('rejects a record missing a field, naming the field', () => {
      const event = buildS3Event({ bucket: 'b', key: 'incoming/a.csv', size: 1, eTag: 'e', sequencer: '01' });
      const noSeq = structuredClone(event) as { Records: { s3: { object: Record<string, unknown> } }[] };
      delete noSeq.Records[0].s3.object.sequencer;
      expect(badReason(JSON.stringify(noSeq))).to.equal('Records[0].s3.object.sequencer is missing');
      const badSize = structuredClone(event) as { Records: { s3: { object: Record<string, unknown> } }[] };
      badSize.Records[0].s3.object.size = '12';
      expect(badReason(JSON.stringify(badSize))).to.equal('Records[0].s3.object.size is not a number ("12")');
      const noBucket = structuredClone(event) as { Records: { s3: Record<string, unknown> }[] };
      delete noBucket.Records[0].s3.bucket;
      expect(badReason(JSON.stringify(noBucket))).to.match(/Records\[0\]\.s3 must hold "bucket" and "object"/);
    });

    it('rejects a key that is not valid URL encoding', () => {
      const event = buildS3Event({ bucket: 'b', key: 'incoming/a.csv', size: 1, eTag: 'e', sequencer: '01' });
      event.Records[0].s3.object.key = 'incoming/100%.csv';
      expect(badReason(JSON.stringify(event))).to.match(/Records\[0\]\.s3\.object\.key is not valid URL encoding/);
    });
  });

  describe('encodeS3EventKey / decodeS3EventKey', () => {
    const cases: [string, string][] = [
      ['incoming/a b/ü+x.csv', 'incoming/a+b/%C3%BC%2Bx.csv'],
      ['incoming/crypto_test.csv', 'incoming/crypto_test.csv'],
      ['incoming/dt=2018-05-04/(1) copy.csv', 'incoming/dt%3D2018-05-04/%281%29+copy.csv'],
      ["incoming/it's~*!.csv", 'incoming/it%27s%7E*%21.csv'],
      ['incoming/10%.csv', 'incoming/10%25.csv'],
    ];
    for (const [key, encoded] of cases) {
      it(`${JSON.stringify(key)} <-> ${encoded}`, () => {
        expect(encodeS3EventKey(key)).to.equal(encoded);
        expect(decodeS3EventKey(encoded)).to.equal(key);
      });
    }
  });

  describe('buildS3Event', () => {
    it('builds the record AWS sends, key encoded, no versionId unless given', () => {
      const t = new Date('2024-05-01T12:00:00.000Z');
      const { Records } = buildS3Event({
        bucket: 'crypto-open-local',
        key: 'incoming/a b.csv',
        size: 10,
        eTag: '"abc"',
        sequencer: '0190A',
        eventTime: t,
        region: 'eu-west-1',
      });
      expect(Records).to.have.length(1);
      const r = Records[0];
      expect(r).to.include({
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: 'eu-west-1',
        eventTime: '2024-05-01T12:00:00.000Z',
        eventName: 'ObjectCreated:Put',
      });
      expect(r.s3.bucket).to.include({ name: 'crypto-open-local', arn: 'arn:aws:s3:::crypto-open-local' });
      expect(r.s3.object).to.deep.equal({ key: 'incoming/a+b.csv', size: 10, eTag: 'abc', sequencer: '0190A' });
      const versioned = buildS3Event({ bucket: 'b', key: 'k', size: 1, eTag: 'e', sequencer: '1', versionId: 'v1' });
      expect(versioned.Records[0].s3.object.versionId).to.equal('v1');
    });
  });
});
