import { expect } from 'chai';
import { csvField, csvRecords, symbolHash } from '../../../worker/runtime/shards.js';

async function records(chunks: string[]): Promise<string[]> {
  const out: string[] = [];
  for await (const r of csvRecords(
    (async function* () {
      yield* chunks;
    })(),
  ))
    out.push(r);
  return out;
}

describe('shard routing: records, the symbol field and the hash, without numeric parsing', () => {
  it('splits records across chunk boundaries, CRLF or LF, keeping quoted newlines and dropping empty lines', async () => {
    expect(await records(['a,b\r', '\nBTC,1\n\n"X\nY",2', '\nLTC,3'])).to.deep.equal(['a,b', 'BTC,1', '"X\nY",2', 'LTC,3']);
    expect(await records(['h\n', 'x,"q""', '",1\r\n'])).to.deep.equal(['h', 'x,"q""",1']);
  });

  it('stops at a record over the limit, whether it spans chunks or not (the engine then reports the line)', async () => {
    const long = async (chunks: string[]) => {
      const out: string[] = [];
      try {
        for await (const r of csvRecords(
          (async function* () {
            yield* chunks;
          })(),
          10,
        ))
          out.push(r);
      } catch (err) {
        return (err as Error).name;
      }
      return out;
    };
    expect(await long(['abc\n', 'x'.repeat(6), 'y'.repeat(6)])).to.equal('RecordTooLongError');
    expect(await long(['abc\n', `${'x'.repeat(11)}\n`])).to.equal('RecordTooLongError');
    expect(await long(['abc\n0123456789\n'])).to.deep.equal(['abc', '0123456789']);
  });

  it('reads one field with RFC 4180 quoting, commas inside quotes included', () => {
    expect(csvField('BTC,0,bitcoin', 0)).to.equal('BTC');
    expect(csvField('"A,B",0,x', 0)).to.equal('A,B');
    expect(csvField('0,"say ""hi""",BTC', 1)).to.equal('say "hi"');
    expect(csvField('"a,b",q,BTC', 2)).to.equal('BTC');
    expect(csvField('a,b', 5)).to.equal('');
  });

  it('hashes a symbol the same everywhere (FNV-1a of its UTF-8 bytes)', () => {
    expect(symbolHash('')).to.equal(0x811c9dc5);
    expect(symbolHash('a')).to.equal(0xe40c292c);
    expect(symbolHash('foobar')).to.equal(0xbf9cf968);
  });
});
