import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { readInputCsv } from '../../../model/csv-input.js';
import { generatedSymbol, generateSample, SAMPLE_HEADER, SAMPLE_SYMBOLS, writeGeneratedSample, writeSampleCsv } from '../../../worker/ops/sample.js';
import { SCALER_SYMBOLS } from '../../helpers/history.js';
import { parseCsvText } from '../../helpers/csv.js';

describe('sample generator (npm run sample)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sample-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("writes the team's layout, one row per symbol and day, which the engine's reader accepts", async () => {
    const file = path.join(dir, 's.csv');
    await writeSampleCsv(generateSample({ symbols: ['BTC', 'LTC', 'XRP'], days: 60, seed: 7 }), file);
    const text = fs.readFileSync(file, 'utf8');
    expect(text.split('\n')[0]).to.equal(SAMPLE_HEADER.join(','));
    expect(text.endsWith('\n')).to.equal(true);
    const rows = await parseCsvText(text.replace(/^symbol,,/, 'symbol,index,'));
    expect(rows).to.have.length(180);
    for (const symbol of ['BTC', 'LTC', 'XRP']) {
      const mine = rows.filter((r) => r.symbol === symbol);
      expect(mine.map((r) => Number(r.index))).to.deep.equal([...Array(60).keys()]);
      expect(mine[0].date).to.equal('2018-01-25');
      expect(mine[59].date).to.equal('2018-03-25');
    }
    const parsed = await readInputCsv(fs.createReadStream(file));
    expect(parsed.symbols.map((s) => s.symbol).sort()).to.deep.equal(['BTC', 'LTC', 'XRP']);
    expect(parsed.symbols.map((s) => [s.problem ?? null, s.rows.length])).to.deep.equal([
      [null, 60],
      [null, 60],
      [null, 60],
    ]);
  });

  it('satisfies the OHLC invariants and links days', async () => {
    const rows = generateSample({ symbols: ['BTC', 'LTC', 'XRP', 'DOGE'], days: 365, seed: 3 });
    for (const [symbol, index, , , , , open, high, low, close, volume, market, closeRatio, spread] of rows) {
      const where = `${symbol} #${index}`;
      expect(high, where).to.be.at.least(Math.max(open, close));
      expect(low, where).to.be.at.most(Math.min(open, close));
      expect(low, where).to.be.greaterThan(0);
      expect(volume, where).to.be.greaterThan(0);
      expect(spread, where).to.be.closeTo(high - low, 1e-6 * high);
      expect(closeRatio, where).to.be.within(0, 1);
      const supply = market / close;
      expect(Number.isFinite(Math.log(Math.ceil(supply))), where).to.equal(true);
    }
    for (let i = 1; i < rows.length; i++) {
      if (rows[i][0] !== rows[i - 1][0]) continue;
      const prevClose = rows[i - 1][9];
      const open = rows[i][6];
      expect(Math.abs(open / prevClose - 1), `${rows[i][0]} #${rows[i][1]} open vs previous close`).to.be.below(0.03);
    }
  });

  it('is reproducible for a seed and differs between seeds', () => {
    const a = generateSample({ symbols: ['BTC'], days: 30, seed: 42 });
    expect(generateSample({ symbols: ['BTC'], days: 30, seed: 42 })).to.deep.equal(a);
    expect(generateSample({ symbols: ['BTC'], days: 30, seed: 43 })).to.not.deep.equal(a);
  });

  it('names the bad option', () => {
    expect(() => generateSample({ symbols: ['BTC', 'FOO'], days: 5 })).to.throw(/--symbols: no sample profile for FOO \(known: .*BTC/);
    expect(() => generateSample({ symbols: [], days: 5 })).to.throw(/--symbols must name at least one/);
    expect(() => generateSample({ symbols: ['BTC'], days: 0 })).to.throw(/--days must be an integer/);
    expect(() => generateSample({ symbols: ['BTC'], days: 5, start: '2018-02-30' })).to.throw(/--start must be an ISO date/);
  });

  it("generates many symbols (--count) the team's scalers never had, each with its own price scale, that the engine reads", async function () {
    this.timeout(60_000);
    const file = path.join(dir, 'many.csv');
    expect(await writeGeneratedSample({ count: 1000, days: 40, seed: 5 }, file)).to.equal(40_000);
    const parsed = await readInputCsv(fs.createReadStream(file));
    expect(parsed.rows).to.equal(40_000);
    expect(parsed.symbols).to.have.length(1000);
    expect(parsed.symbols.filter((s) => s.problem || s.quality)).to.deep.equal([]);
    const names = parsed.symbols.map((s) => s.symbol);
    expect(new Set(names).size).to.equal(1000);
    expect(names.slice(0, 3)).to.deep.equal(['QAAAA', 'QAAAB', 'QAAAC']);
    const taken = new Set<string>([...SCALER_SYMBOLS, ...Object.keys(SAMPLE_SYMBOLS)]);
    expect(names.filter((n) => taken.has(n))).to.deep.equal([]);
    expect(generatedSymbol(26 ** 4 - 1)).to.equal('QZZZZ');
    for (const s of parsed.symbols) {
      expect(s.rows.map((r) => r.date)[39]).to.equal('2018-03-05');
      for (const r of s.rows) {
        expect(r.high, s.symbol).to.be.at.least(Math.max(r.open, r.close));
        expect(r.low, s.symbol).to.be.at.most(Math.min(r.open, r.close)).and.greaterThan(0);
      }
    }
    // Price scales spread over decades, so fitted scalers differ from symbol to symbol.
    const decades = new Set(parsed.symbols.map((s) => Math.floor(Math.log10(s.rows[0]!.open))));
    expect(decades.size).to.be.at.least(8);
    // A symbol's series depends on its index and the seed only: a smaller file is a prefix of a larger one.
    const small = path.join(dir, 'small.csv');
    await writeGeneratedSample({ count: 10, days: 40, seed: 5 }, small);
    const smallText = fs.readFileSync(small, 'utf8');
    expect(fs.readFileSync(file, 'utf8').startsWith(smallText)).to.equal(true);
    let error: unknown;
    await writeGeneratedSample({ count: 0, days: 5 }, small).catch((err) => (error = err));
    expect(String(error)).to.match(/--count must be an integer from 1 to 456976, got 0/);
  });
});
