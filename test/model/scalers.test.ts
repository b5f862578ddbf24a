import fs from 'node:fs';
import { expect } from 'chai';
import { ScalerFileError, scalerSetFromPickle, scalersFromJson, scalersToJson } from '../../model/scalers.js';
import { SCALED_COLUMNS, type ScalerSet } from '../../model/types.js';
import { shared } from '../helpers/paths.js';

const SYMBOLS = 'ANC BITS BTB BTC BTM CBX DGC FAIR FTC GLD IXC LTC NMC NVC PPC PXC TRC WDC XPM XRP'.split(' ');

function scalerError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(ScalerFileError);
    return (err as Error).message;
  }
  throw new Error('expected a ScalerFileError');
}

describe('scalers (scaler.pkl -> ScalerSet -> scalers.json)', () => {
  let set: ScalerSet;
  before(() => {
    set = scalerSetFromPickle(fs.readFileSync(shared('model_out/scaler.pkl')), 'scaler.pkl');
  });

  it('has the 20 symbols, each with the 12 scaled columns, and the model hypers', () => {
    expect([...set.symbols.keys()]).to.deep.equal(SYMBOLS);
    for (const columns of set.symbols.values()) expect(Object.keys(columns)).to.deep.equal(SCALED_COLUMNS);
    expect(set.hypers).to.deep.equal({
      datCols: ['open', 'high', 'low', 'close', 'close_ratio', 'spread'],
      featCols: [...SCALED_COLUMNS, 'log_shares'],
      targetCol: 'v_open',
      batchSize: 32,
      seqLen: 5,
    });
  });

  it('scales BTC row 0 of the test upload as the golden features do', () => {
    // data/crypto_test.csv BTC 2018-01-25 and golden/crypto_test.features.csv BTC index 0
    const btc = set.symbols.get('BTC')!;
    const raw = { open: 11421.7, high: 11785.7, low: 11057.4, close: 11259.4, v_open: 0 };
    const golden = { open: 2.718449527, high: 2.701272491, low: 2.763173081, close: 2.669358105, v_open: -0.01368522553 };
    for (const [column, x] of Object.entries(raw)) {
      const s = btc[column];
      const expected = golden[column as keyof typeof golden];
      expect(Math.abs((x - s.mean) / s.scale - expected), column).to.be.below(1e-9 * Math.max(1, Math.abs(expected)));
      expect(s.scale, `${column} scale = sqrt(var)`).to.be.closeTo(Math.sqrt(s.var), 1e-9 * s.scale);
      expect(s.nSamplesSeen).to.be.above(1000);
    }
  });

  it('round-trips through scalers.json exactly, with stable bytes', () => {
    const text = scalersToJson(set);
    const back = scalersFromJson(text, 'scalers.json');
    expect(back.hypers).to.deep.equal(set.hypers);
    expect([...back.symbols]).to.deep.equal([...set.symbols]);
    expect(scalersToJson(back)).to.equal(text);
    const doc = JSON.parse(text);
    expect(Object.keys(doc.symbols)).to.deep.equal(SYMBOLS);
    expect(Object.keys(doc.symbols.BTC.open)).to.deep.equal(['mean', 'scale', 'var', 'nSamplesSeen']);
  });

  describe('refuses a scaler file the engine cannot use', () => {
    const edited = (edit: (doc: any) => void): string => {
      const doc = JSON.parse(scalersToJson(set));
      edit(doc);
      return JSON.stringify(doc);
    };

    it('a missing column, naming symbol and column', () => {
      expect(
        scalerError(() =>
          scalersFromJson(
            edited((d) => delete d.symbols.LTC.v_spread),
            'x.json',
          ),
        ),
      ).to.equal("x.json: symbol 'LTC' has no scaler for column 'v_spread'");
    });
    it('a zero scale', () => {
      expect(
        scalerError(() =>
          scalersFromJson(
            edited((d) => (d.symbols.XRP.close.scale = 0)),
            'x.json',
          ),
        ),
      ).to.equal("x.json: symbol 'XRP' column 'close': scale is 0, must be > 0");
    });
    it('a non-finite value', () => {
      expect(
        scalerError(() =>
          scalersFromJson(
            edited((d) => (d.symbols.BTC.high.mean = null)),
            'x.json',
          ),
        ),
      ).to.equal("x.json: symbol 'BTC' column 'high': mean is null, not a finite number");
    });
    it('feature columns in another order', () => {
      expect(
        scalerError(() =>
          scalersFromJson(
            edited((d) => d.hypers.featCols.reverse()),
            'x.json',
          ),
        ),
      ).to.match(/^x\.json: model_hypers\.feat_cols is \["log_shares",.*the engine's feature order is \["open",/);
    });
    it('a scalers.json of another format', () => {
      expect(
        scalerError(() =>
          scalersFromJson(
            edited((d) => (d.format = 'other')),
            'x.json',
          ),
        ),
      ).to.equal(`x.json: format is "other", expected 'scalers-json/1'`);
    });
    it('a pickle that is not the scaler dict, naming the file', () => {
      // protocol 3: an empty dict, then STOP
      expect(scalerError(() => scalerSetFromPickle(Uint8Array.from([0x80, 3, 0x7d, 0x2e]), 'empty.pkl'))).to.equal("empty.pkl: no 'model_hypers' dict");
      expect(scalerError(() => scalerSetFromPickle(Uint8Array.from([0x80, 3, 0x7d]), 'cut.pkl'))).to.equal(
        'cut.pkl: truncated stream: ended without STOP (at byte 3)',
      );
    });
  });
});
