import fs from 'node:fs';
import { Readable } from 'node:stream';
import { expect } from 'chai';
import { parseDecimal, parseIsoDate, readInputCsv, type ParsedInput } from '../../model/csv-input.js';
import { InputFileError } from '../../model/errors.js';
import { fixture, shared } from '../helpers/paths.js';

const TEAM_HEADER = 'symbol,,slug,name,date,ranknow,open,high,low,close,volume,market,close_ratio,spread';
const row = (sym: string, i: number, date: string, open = '10', extra: Partial<Record<'high' | 'low' | 'close' | 'market', string>> = {}) =>
  `${sym},${i},slug,Name,${date},1,${open},${extra.high ?? '12'},${extra.low ?? '9'},${extra.close ?? '11'},100,${extra.market ?? '1000'},0.5,3`;
const parseText = (text: string | Buffer): Promise<ParsedInput> => readInputCsv(Readable.from([Buffer.from(text)]));

async function fileError(text: string): Promise<InputFileError> {
  try {
    await parseText(text);
  } catch (err) {
    expect(err).to.be.instanceOf(InputFileError);
    return err as InputFileError;
  }
  throw new Error('expected an InputFileError');
}

describe('input CSV', () => {
  it('reads the team layout: 4 symbols x 60 rows, the index column ignored', async () => {
    const p = await readInputCsv(fs.createReadStream(shared('data/crypto_test.csv')));
    expect(p.rows).to.equal(240);
    expect(p.symbols.map((s) => [s.symbol, s.rows.length])).to.deep.equal([
      ['BTC', 60],
      ['XRP', 60],
      ['LTC', 60],
      ['DOGE', 60],
    ]);
    expect(p.symbols[0].rows[1]).to.include({ date: '2018-01-26', open: 11256, openText: '11256.0', market: 189e9 });
    expect(p.sha256).to.match(/^[0-9a-f]{64}$/);
    expect(p.bytes).to.equal(fs.statSync(shared('data/crypto_test.csv')).size);
  });

  it("reads the public dataset's raw layout", async () => {
    const p = await readInputCsv(fs.createReadStream(shared('data/crypto_markets_btc_ltc_xrp.csv')));
    expect(p.rows).to.equal(5281);
    expect(p.symbols.map((s) => s.symbol)).to.deep.equal(['BTC', 'XRP', 'LTC']);
    expect(p.symbols.every((s) => !s.problem)).to.equal(true);
  });

  it('fails an empty file', async () => {
    expect((await fileError('')).message).to.match(/empty file/);
  });

  it('fails a header-only file: nothing to predict', async () => {
    expect((await fileError(`${TEAM_HEADER}\n`)).message).to.match(/no data rows/);
  });

  it('names a missing required column', async () => {
    const e = await fileError('symbol,date,open,high,low,close\nBTC,2018-01-01,1,2,0.5,1\n');
    expect(e.message).to.match(/required column 'market' missing/);
  });

  it('names a required column given twice', async () => {
    expect((await fileError('symbol,date,open,open,high,low,close,market\n')).message).to.match(/'open' appears 2 times/);
  });

  it('fails a file that is not CSV text with a header', async () => {
    const e = await fileError('\u0000\u0001PK\u0003\u0004 binary junk\n\u00ff\u00fe');
    expect(e.message).to.match(/required columns .*'symbol'/);
  });

  it('fails an unterminated quoted field as a CSV error', async () => {
    const e = await fileError(`${TEAM_HEADER}\n${row('BTC', 0, '2018-01-01')}\n"BTC,1,slug`);
    expect(e.message).to.match(/not a readable CSV/);
  });

  it('skips only the symbol with an empty required cell, naming row and column', async () => {
    const p = await parseText([TEAM_HEADER, row('BTC', 0, '2018-01-01'), row('BTC', 1, '2018-01-02', ''), row('LTC', 0, '2018-01-01')].join('\n'));
    const btc = p.symbols.find((s) => s.symbol === 'BTC')!;
    expect(btc.problem).to.deep.equal({ row: 3, column: 'open', reason: 'empty value' });
    expect(btc.rowCount).to.equal(2);
    expect(p.symbols.find((s) => s.symbol === 'LTC')!.problem).to.equal(undefined);
  });

  it('does not validate ignored columns (blank or junk)', async () => {
    const p = await parseText(`${TEAM_HEADER}\nBTC,,,,2018-01-01,,10,12,9,11,junk,1000,,\n`);
    expect(p.symbols[0].problem).to.equal(undefined);
    expect(p.symbols[0].rows[0].close).to.equal(11);
  });

  it('reads E-notation numbers (fixture)', async () => {
    const p = await readInputCsv(fs.createReadStream(fixture('e-notation.csv')));
    const r = p.symbols[0].rows[0];
    expect(r.market).to.equal(1.92e11);
    expect(r.open).to.equal(11421.7);
    expect(r.openText).to.equal('1.14217E+04');
  });

  it('rejects non-numeric, NaN and Inf values with row and column', async () => {
    const cases: [string, RegExp][] = [
      ['abc', /not a number: "abc"/],
      ['NaN', /not a finite number/],
      ['Inf', /not a finite number/],
      ['-infinity', /not a finite number/],
      ['1e999', /not a finite number/],
      ['0x10', /not a number/],
    ];
    for (const [value, reason] of cases) {
      const p = await parseText([TEAM_HEADER, row('BTC', 0, '2018-01-01'), row('BTC', 1, '2018-01-02', '10', { close: value })].join('\n'));
      expect(p.symbols[0].problem?.row, value).to.equal(3);
      expect(p.symbols[0].problem?.column, value).to.equal('close');
      expect(p.symbols[0].problem?.reason, value).to.match(reason);
    }
  });

  it('rejects a bad date', async () => {
    const p = await parseText([TEAM_HEADER, row('BTC', 0, '2018-02-30')].join('\n'));
    expect(p.symbols[0].problem).to.include({ column: 'date', row: 2 });
    expect(p.symbols[0].problem!.reason).to.match(/not a calendar date/);
  });

  it('skips a symbol with a duplicated (symbol, date), naming both rows', async () => {
    const p = await parseText([TEAM_HEADER, row('BTC', 0, '2018-01-01'), row('LTC', 0, '2018-01-01'), row('BTC', 1, '2018-01-01')].join('\n'));
    expect(p.symbols[0].problem).to.include({ column: 'date', row: 4 });
    expect(p.symbols[0].problem!.reason).to.match(/duplicated date 2018-01-01 .*row 2/);
    expect(p.symbols[1].problem).to.equal(undefined);
  });

  it('sorts rows out of date order instead of rejecting them', async () => {
    const p = await parseText([TEAM_HEADER, row('BTC', 0, '2018-01-03', '3'), row('BTC', 1, '2018-01-01', '1'), row('BTC', 2, '2018-01-02', '2')].join('\n'));
    expect(p.symbols[0].rows.map((r) => r.open)).to.deep.equal([1, 2, 3]);
  });

  it('accepts a UTF-8 BOM, CRLF line ends, quoted fields and extra columns', async () => {
    const text = `\uFEFF${TEAM_HEADER},extra\r\nBTC,0,bitcoin,"Bitcoin, ""the first""",2018-01-01,1,"10",12,9,11,100,1000,0.5,3,x\r\n\r\n`;
    const p = await parseText(text);
    expect(p.symbols[0].problem).to.equal(undefined);
    expect(p.symbols[0].rows[0]).to.include({ open: 10, date: '2018-01-01' });
  });

  it('skips the symbol of a row with a cell too many or too few (its columns would be shifted)', async () => {
    const unquotedComma = `BTC,1,slug,Name,2018-01-02,1,10,12,9,11,8,873170000.0,1000,0.5,3`;
    const p = await parseText([TEAM_HEADER, row('BTC', 0, '2018-01-01'), unquotedComma, row('LTC', 0, '2018-01-01')].join('\n'));
    expect(p.symbols[0].problem).to.deep.equal({ row: 3, column: '(row)', reason: 'row has 15 cells, the header has 14' });
    const short = await parseText([TEAM_HEADER, 'BTC,0,slug,Name,2018-01-01,1,10,12,9,11'].join('\n'));
    expect(short.symbols[0].problem?.reason).to.equal('row has 10 cells, the header has 14');
    expect(p.symbols[1].problem).to.equal(undefined);
  });

  it('counts blank lines in row numbers without treating them as data', async () => {
    const p = await parseText([TEAM_HEADER, row('BTC', 0, '2018-01-01'), '', ',,,,,,,,,,,,,', row('BTC', 1, '2018-01-02', 'x')].join('\n'));
    expect(p.rows).to.equal(2);
    expect(p.symbols[0].problem).to.include({ row: 5, column: 'open' });
  });

  it('passes a failure of the source stream through unchanged (a network error is not bad input)', async () => {
    const failing = new Readable({
      read() {
        this.push(Buffer.from(`${TEAM_HEADER}\n${row('BTC', 0, '2018-01-01')}\n`));
        this.destroy(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
      },
    });
    try {
      await readInputCsv(failing);
      expect.fail('expected the stream error');
    } catch (err) {
      expect(err).to.not.be.instanceOf(InputFileError);
      expect((err as NodeJS.ErrnoException).code).to.equal('ECONNRESET');
    }
  });

  it('accepts exactly the calendar days Date knows, leap years included', () => {
    const byDate = (t: string) => {
      const d = new Date(`${t}T00:00:00Z`);
      return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === t;
    };
    let accepted = 0;
    for (const year of [0, 4, 100, 1600, 1900, 1999, 2000, 2016, 2018, 2019, 2100, 2400, 9999]) {
      for (let month = 0; month <= 13; month++) {
        for (let day = 0; day <= 32; day++) {
          const t = `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
          const ours = parseIsoDate(t);
          expect(typeof ours === 'string', t).to.equal(byDate(t));
          if (typeof ours === 'string') accepted += 1;
          else expect(ours.error).to.equal(`not a calendar date: "${t}"`);
        }
      }
    }
    expect(accepted).to.equal(13 * 365 + 6); // Feb 29 in 0, 4, 1600, 2000, 2016, 2400; not in 100, 1900, 2100
    expect(parseIsoDate(' 2016-02-29 ')).to.equal('2016-02-29');
    expect(parseIsoDate('2016-2-29')).to.deep.equal({ error: 'not an ISO date (YYYY-MM-DD): "2016-2-29"' });
    expect(parseIsoDate('２０１６-02-29'))
      .to.have.property('error')
      .that.matches(/not an ISO date/);
    expect(parseIsoDate(' ')).to.deep.equal({ error: 'empty value' });
  });

  it('parses numbers strictly', () => {
    expect(parseDecimal(' 1.5 ')).to.equal(1.5);
    expect(parseDecimal('-2E-3')).to.equal(-0.002);
    expect(parseDecimal('')).to.equal('empty value');
    expect(parseDecimal('1,5')).to.match(/not a number/);
  });
});
