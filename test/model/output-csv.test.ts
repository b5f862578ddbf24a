import fs from 'node:fs';
import { Readable } from 'node:stream';
import { expect } from 'chai';
import { initBackend } from '../../model/backend.js';
import { predictCsv } from '../../model/engine.js';
import { createInference } from '../../model/inference.js';
import { loadModelFromSources } from '../../model/model-store.js';
import { csvCell, forecastCsv, predictionsCsv, predictionsCsvChunks } from '../../model/output-csv.js';
import type { LoadedModel } from '../../model/types.js';
import * as reference from '../helpers/reference-output-csv.js';
import { shared } from '../helpers/paths.js';

describe('output CSV (bytes as the fast-csv writer wrote them)', () => {
  let model: LoadedModel;
  before(async () => {
    await initBackend();
    model = await loadModelFromSources(shared('model_out/model.h5'), shared('model_out/scaler.pkl'));
  });

  it("writes the golden input's predictions and forecasts byte for byte as before, from the table and from row objects", async () => {
    for (const mode of ['anchored', 'integrated'] as const) {
      const r = await predictCsv(fs.createReadStream(shared('data/crypto_test.csv')), model, createInference(model, 'fast'), { mode });
      const before = await reference.predictionsCsv(r.predictions);
      expect(before.split('\n')).to.have.length(182);
      expect(await predictionsCsv(r.table)).to.equal(before);
      expect(await predictionsCsv(r.predictions)).to.equal(before);
      expect([...predictionsCsvChunks(r.table, 1000)].join('')).to.equal(before);
      expect(await forecastCsv(r.forecasts)).to.equal(await reference.forecastCsv(r.forecasts));
    }
  });

  it('quotes, doubles quotes, drops NULs and prefixes formulas in hostile symbols exactly as before', async () => {
    const symbols = ['=HYPERLINK("http://x")', '@SUM(A1)', '\tX', 'a,b', 'line\nbreak', 'cr\rx', 'pipe|x', 'nul\0x', '+1', '-2', 'plain', '"q"', ''];
    const text = ['symbol,date,open,high,low,close,market', ...symbols.map((s, i) => `${csvCell(s)},2018-01-0${1 + (i % 9)},10,12,9,11,1000`)].join('\n');
    const known = [...model.scalers.symbols.keys()][0]!;
    const rows = (
      await predictCsv(Readable.from([Buffer.from(`${text}\n${known},2018-01-01,10,12,9,11,1000\n`)]), model, createInference(model, 'fast'), {
        mode: 'anchored',
      })
    ).predictions;
    const hostile = symbols.map((symbol, i) => ({ ...rows[0]!, symbol, index: i, valOpen: i % 2 ? '-5' : '1.5E+03' }));
    expect(await predictionsCsv(hostile)).to.equal(await reference.predictionsCsv(hostile));
    expect(await predictionsCsv([])).to.equal(await reference.predictionsCsv([]));
  });
});
