import fs from 'node:fs';
import { Readable } from 'node:stream';
import { expect } from 'chai';
import { initBackend } from '../../model/backend.js';
import { predictCsv } from '../../model/engine.js';
import { createInference } from '../../model/inference.js';
import { loadModelFromSources } from '../../model/model-store.js';
import type { InferenceEngine, LoadedModel } from '../../model/types.js';
import { shared } from '../helpers/paths.js';

describe('prediction engine: data-quality policy', () => {
  let model: LoadedModel;
  let inference: InferenceEngine;
  // BTC's row of 2018-01-28 with a negative low and high below it.
  const text = fs.readFileSync(shared('data/crypto_test.csv'), 'utf8').replace(/^(BTC,3,bitcoin,Bitcoin,2018-01-28,1,[^,]+),[^,]+,[^,]+,/m, '$1,5,-7,');
  const run = (policy?: 'flag' | 'skip') => predictCsv(Readable.from([Buffer.from(text)]), model, inference, { mode: 'anchored', qualityPolicy: policy });

  before(async () => {
    await initBackend();
    model = await loadModelFromSources(shared('model_out/model.h5'), shared('model_out/scaler.pkl'));
    inference = createInference(model, 'fast');
  });

  it('flags by default: the symbol is predicted and its status lists the row, column and rule', async () => {
    expect(text).to.match(/2018-01-28,1,[^,]+,5,-7,/);
    const r = await run();
    const btc = r.symbols.find((s) => s.symbol === 'BTC')!;
    expect(btc.status).to.equal('ok');
    expect(btc.quality).to.deep.equal([{ row: 5, column: 'low', rule: 'negative price' }]);
    expect(btc.qualityIssues).to.equal(1);
    expect(r.counts.predicted).to.equal(3);
    expect(r.symbols.find((s) => s.symbol === 'LTC')).to.not.have.property('quality');
  });

  it("skips the symbol with qualityPolicy 'skip', saying why", async () => {
    const r = await run('skip');
    const btc = r.symbols.find((s) => s.symbol === 'BTC')!;
    expect(btc).to.include({ status: 'skipped', reason: "data quality: row 5, column 'low': negative price", row: 5, column: 'low' });
    expect(r.counts).to.include({ predicted: 2, skipped: 2 });
    expect(r.predictions.some((p) => p.symbol === 'BTC')).to.equal(false);
  });
});
