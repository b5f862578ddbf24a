import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { readInputCsv } from '../../../model/csv-input.js';
import { generateSample, SAMPLE_HEADER, writeSampleCsv } from '../../../worker/ops/sample.js';
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
    expect(parsed.symbols.map((s) => [s.problem ?? null, s.rows.length])).to.deep.equal([[null, 60], [null, 60], [null, 60]]);
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
});
