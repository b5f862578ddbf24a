import fs from 'node:fs';
import { Readable } from 'node:stream';
import { expect } from 'chai';
import { initBackend } from '../../model/backend.js';
import { predictCsv } from '../../model/engine.js';
import { createInference } from '../../model/inference.js';
import { loadModelFromSources } from '../../model/model-store.js';
import { daysFromCivil } from '../../model/input-table.js';
import type { InferenceEngine, LoadedModel } from '../../model/types.js';
import { shared } from '../helpers/paths.js';

const TEST_CSV = shared('data/crypto_test.csv');

describe('prediction engine: the cold-start reason (a symbol without a scaler, with its history rows)', () => {
  let model: LoadedModel;
  let inference: InferenceEngine;
  before(async () => {
    await initBackend();
    model = await loadModelFromSources(shared('model_out/model.h5'), shared('model_out/scaler.pkl'));
    inference = createInference(model, 'fast');
  });
  after(() => {
    inference?.dispose();
    model?.layers.dispose();
  });

  it('asks the history rows of the unknown symbols only, once, and names k of N in the reason', async () => {
    const asked: { symbol: string; lastDay: number }[][] = [];
    const result = await predictCsv(fs.createReadStream(TEST_CSV), model, inference, {
      mode: 'anchored',
      coldStart: { minRows: 30, historyRows: async (symbols) => (asked.push([...symbols]), new Map([['DOGE', 12]])) },
    });
    // crypto_test.csv: 60 days from 2018-01-25.
    expect(asked).to.deep.equal([[{ symbol: 'DOGE', lastDay: daysFromCivil(2018, 3, 25) }]]);
    const doge = result.symbols.find((s) => s.symbol === 'DOGE')!;
    expect(doge).to.include({ status: 'skipped', reason: 'unknown symbol: no scaler yet (12 of 30 rows in history)' });
    // Today's tests of the reason match this prefix.
    expect(doge)
      .to.have.property('reason')
      .that.matches(/unknown symbol.*no scaler/);
    expect(result.counts).to.include({ predicted: 3, skipped: 1 });
  });

  it('counts a symbol the history does not know as 0, and does not ask when every symbol has a scaler', async () => {
    const none = await predictCsv(fs.createReadStream(TEST_CSV), model, inference, {
      mode: 'anchored',
      coldStart: { minRows: 30, historyRows: async () => new Map() },
    });
    expect(none.symbols.find((s) => s.symbol === 'DOGE')).to.have.property('reason', 'unknown symbol: no scaler yet (0 of 30 rows in history)');
    const known = fs
      .readFileSync(TEST_CSV, 'utf8')
      .split('\n')
      .filter((l) => !l.startsWith('DOGE,'))
      .join('\n');
    let calls = 0;
    const r = await predictCsv(Readable.from([Buffer.from(known)]), model, inference, {
      mode: 'anchored',
      coldStart: { minRows: 30, historyRows: async () => (calls++, new Map()) },
    });
    expect(r.counts).to.include({ predicted: 3, skipped: 0 });
    expect(calls).to.equal(0);
  });
});
