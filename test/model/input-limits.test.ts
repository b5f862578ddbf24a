import { Readable } from 'node:stream';
import { expect } from 'chai';
import { readInputCsv } from '../../model/csv-input.js';
import { InputFileError } from '../../model/errors.js';

const HEADER = 'symbol,date,open,high,low,close,market';

/** A source that makes `total` bytes of `fill` on demand in 64 KiB chunks, counting what it hands out. */
function counted(prefix: string, fill: number, total: number): { source: Readable; read: () => number } {
  let made = 0;
  const chunk = 64 * 1024;
  const source = new Readable({
    read() {
      if (made >= total) return void this.push(null);
      const n = Math.min(chunk, total - made);
      const b = Buffer.alloc(n, fill);
      if (made === 0) b.write(prefix);
      made += n;
      this.push(b);
    },
  });
  return { source, read: () => made };
}

async function failure(source: Readable, options = {}): Promise<string> {
  try {
    await readInputCsv(source, options);
  } catch (err) {
    expect(err).to.be.instanceOf(InputFileError);
    return (err as Error).message;
  }
  throw new Error('expected an InputFileError');
}

describe('input CSV limits (bounded input)', () => {
  it('refuses a 100 MB single line after reading the line limit plus about one buffer, naming row and limit', async () => {
    const { source, read } = counted('', 0x78, 100 * 1024 * 1024);
    const message = await failure(source);
    expect(message).to.equal('row 1: a line is longer than the 65,536-byte limit');
    // The limit, the chunk that crossed it, and what the stream buffered ahead (its highWaterMark).
    expect(read()).to.be.at.most(64 * 1024 + 64 * 1024 + source.readableHighWaterMark);
    expect(source.destroyed).to.equal(true);
  });

  it('names the data row whose line is too long, and takes a configured limit', async () => {
    const text = `${HEADER}\nBTC,2018-01-01,1,2,0.5,1,10\nBTC,2018-01-02,${'9'.repeat(200)},2,0.5,1,10\n`;
    expect(await failure(Readable.from([Buffer.from(text)]), { maxLineBytes: 100 })).to.equal('row 3: a line is longer than the 100-byte limit');
    const ok = await readInputCsv(Readable.from([Buffer.from(text)]), { maxLineBytes: 230 });
    expect(ok.rows).to.equal(2);
  });

  it('refuses an input larger than maxBytes without reading on', async () => {
    const { source, read } = counted(`${HEADER}\n`, 0x0a, 10 * 1024 * 1024);
    expect(await failure(source, { maxBytes: 100_000 })).to.match(/^row \d+: the input is larger than the 100,000-byte limit$/);
    expect(read()).to.be.at.most(100_000 + 64 * 1024 + source.readableHighWaterMark);
  });

  it('refuses a row with more cells than the limit', async () => {
    const text = `${HEADER}\nBTC,2018-01-01,1,2,0.5,1,10${',x'.repeat(1200)}\n`;
    expect(await failure(Readable.from([Buffer.from(text)]))).to.equal('row 2: 1,207 cells, more than the 1,000-cell limit');
  });

  it('reports an unterminated quote in a short reason quoting a few escaped characters', async () => {
    const text = `${HEADER}\nBTC,2018-01-01,1,2,0.5,1,10\n"BTC,\u001b[2J${'y'.repeat(15_000)}`;
    const message = await failure(Readable.from([Buffer.from(text)]));
    expect(message).to.match(/^not a readable CSV near record 3: a quoted field is not closed \(at "\\"BTC,\\x1b\[2J/);
    expect(message.length).to.be.at.most(200);
    const runaway = await failure(Readable.from([Buffer.from(`${HEADER}\n"${'a\n'.repeat(40_000)}`)]));
    expect(runaway).to.equal('row 2: a quoted field runs over more than the 65,536-byte line limit');
  });

  it('says a UTF-16 or binary file is not UTF-8 text, with no raw bytes in the reason', async () => {
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(`${HEADER}\n`, 'utf16le')]);
    expect(await failure(Readable.from([utf16]))).to.equal('row 1: not UTF-8 text (UTF-16 LE byte-order mark at byte 0)');
    const noBom = await failure(Readable.from([Buffer.from(`${HEADER}\n`, 'utf16le')]));
    expect(noBom).to.match(/^header: required columns .* missing \(header is .*\); not UTF-8 text \(NUL byte at byte 1\)$/);
    expect(noBom).to.not.match(/[\x00-\x1f\x7f-\uffff]/);
    const tail = await failure(Readable.from([Buffer.from(`${HEADER}\nBTC,2018-01-01,1,2,0.5,1,10\n\u0000\u0001\u0002`)]));
    expect(tail).to.equal('row 3: not UTF-8 text (NUL byte at byte 67)');
  });

  it('still reads old Mac (CR) and mixed line ends', async () => {
    const rows = ['BTC,2018-01-01,1,2,0.5,1,10', 'BTC,2018-01-02,1,2,0.5,1,10', 'BTC,2018-01-03,1,2,0.5,1,10'];
    const cr = await readInputCsv(Readable.from([Buffer.from(`${HEADER}\r${rows.join('\r')}\r`)]));
    expect(cr.symbols[0]!.rows.map((r) => r.date)).to.deep.equal(['2018-01-01', '2018-01-02', '2018-01-03']);
    const mixed = await readInputCsv(Readable.from([Buffer.from(`${HEADER}\r\n${rows[0]}\n${rows[1]}\r`), Buffer.from(`\n${rows[2]}\r\n`)]));
    expect(mixed.symbols[0]!.rows.map((r) => [r.row, r.market])).to.deep.equal([
      [2, 10],
      [3, 10],
      [4, 10],
    ]);
  });
});

describe('input CSV data quality', () => {
  it('lists impossible prices per symbol with row, column and rule, in file order, capped with a count', async () => {
    const lines = [
      HEADER,
      'BTC,2018-01-01,-1,2,0.5,1,10',
      'BTC,2018-01-02,1,0.4,0.5,1,10',
      'BTC,2018-01-03,1,2,0.5,0,10',
      'BTC,2018-01-04,3,2,0.5,1,10',
      'LTC,2018-01-01,1,2,0.5,1,10',
    ];
    for (let d = 10; d < 25; d++) lines.push(`XRP,2018-01-${d},1,2,0.5,9,10`);
    const p = await readInputCsv(Readable.from([Buffer.from(lines.join('\n'))]));
    const [btc, ltc, xrp] = p.symbols;
    expect(btc!.quality).to.deep.equal({
      count: 4,
      issues: [
        { row: 2, column: 'open', rule: 'negative price' },
        { row: 3, column: 'high', rule: 'high < low' },
        { row: 4, column: 'close', rule: 'price is 0' },
        { row: 5, column: 'open', rule: 'open outside [low, high]' },
      ],
    });
    expect(ltc!.quality).to.equal(undefined);
    expect(xrp!.quality!.count).to.equal(15);
    expect(xrp!.quality!.issues).to.have.length(10);
    expect(xrp!.quality!.issues[0]).to.deep.equal({ row: 7, column: 'close', rule: 'close outside [low, high]' });
    // Flagged rows are still data: the default keeps today's predictions.
    expect(btc!.rows).to.have.length(4);
  });
});
