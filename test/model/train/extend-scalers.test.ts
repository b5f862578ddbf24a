import fs from 'node:fs';
import { expect } from 'chai';
import { initBackend } from '../../../model/backend.js';
import { predictCsv } from '../../../model/engine.js';
import { createInference } from '../../../model/inference.js';
import { loadModelVersionFromFiles, prepareModelVersion, type ModelVersionFiles } from '../../../model/model-store.js';
import { extendScalers } from '../../../model/train/extend-scalers.js';
import { TrainingInputError, type HistoryRow } from '../../../model/train/history.js';
import { SCALED_COLUMNS } from '../../../model/types.js';
import { shared } from '../../helpers/paths.js';
import { SCALER_SYMBOLS } from '../../helpers/history.js';
import { loadHistories, near, referenceColumns, referenceFit } from './fixture.js';

const TEST_CSV = shared('data/crypto_test.csv');

/** The lines of one symbol's block in scalers.json (its 12 column scalers, as written). */
function symbolBlock(json: string, symbol: string): string {
  const lines = json.split('\n');
  const start = lines.indexOf(`    ${JSON.stringify(symbol)}: {`);
  if (start < 0) throw new Error(`no block for ${symbol}`);
  const end = lines.findIndex((l, i) => i > start && /^ {4}\}/.test(l));
  return lines
    .slice(start, end + 1)
    .join('\n')
    .replace(/,$/, '');
}

describe('train: scalers for new symbols (issue 11, extend-scalers)', () => {
  let team: ModelVersionFiles;
  let histories: Map<string, HistoryRow[]>;
  let doge: HistoryRow[];

  before(async () => {
    await initBackend();
    team = (await prepareModelVersion(shared('model_out/model.h5'), shared('model_out/scaler.pkl'))).files;
    histories = await loadHistories();
    doge = (await loadHistories(TEST_CSV)).get('DOGE')!;
  });

  it('adds fitted scalers for symbols with enough rows, keeps the network and the 20 original scalers byte for byte', async () => {
    const offered = new Map<string, HistoryRow[]>([
      ['DOGE', doge],
      ['NEWC', histories.get('XRP')!],
      ['BTC', histories.get('BTC')!],
      ['TINY', doge.slice(0, 29)],
    ]);
    const before = new Map(offered);
    const result = await extendScalers(team, offered, 30, { provenance: { asOf: '2018-03-25', historyObjects: [{ key: 'history/DOGE.csv', rows: 60 }] } });
    expect(offered).to.deep.equal(before);
    expect(result.changed).to.equal(true);
    expect(result.added).to.deep.equal(['DOGE', 'NEWC']);
    expect(result.files.get('model.json')!.equals(team.get('model.json')!)).to.equal(true);
    expect(result.files.get('weights.bin')!.equals(team.get('weights.bin')!)).to.equal(true);
    const oldJson = team.get('scalers.json')!.toString('utf8');
    const newJson = result.files.get('scalers.json')!.toString('utf8');
    for (const symbol of SCALER_SYMBOLS) expect(symbolBlock(newJson, symbol), symbol).to.equal(symbolBlock(oldJson, symbol));

    const model = await loadModelVersionFromFiles(result.files, 'extended');
    try {
      const old = await loadModelVersionFromFiles(team, 'team');
      expect(model.metadata.version).to.not.equal(old.metadata.version);
      expect(model.metadata.symbols).to.deep.equal([...SCALER_SYMBOLS, 'DOGE', 'NEWC'].sort());
      expect(model.metadata.sources).to.deep.equal(old.metadata.sources);
      for (const [symbol, rows] of [
        ['DOGE', doge],
        ['NEWC', histories.get('XRP')!],
      ] as const) {
        const fitted = model.scalers.symbols.get(symbol)!;
        const columns = referenceColumns(rows);
        for (const column of SCALED_COLUMNS) {
          const ref = referenceFit(columns[column]!);
          expect(fitted[column]!.nSamplesSeen, `${symbol} ${column}`).to.equal(rows.length);
          near(fitted[column]!.mean, ref.mean, column.startsWith('v_') ? 1e-9 : 1e-12, `${symbol} ${column} mean`);
          near(fitted[column]!.var, ref.var, 1e-10, `${symbol} ${column} var`);
          expect(fitted[column]!.scale).to.equal(ref.var === 0 ? 1 : Math.sqrt(fitted[column]!.var));
        }
      }
      const record = model.metadata.training!;
      expect(record.kind).to.equal('extend-scalers');
      if (record.kind !== 'extend-scalers') throw new Error('unreachable');
      expect(record).to.include({ baseVersion: old.metadata.version, minRows: 30 });
      expect(record.added).to.deep.equal([
        { symbol: 'DOGE', rows: 60, firstDate: doge[0]!.date, lastDate: doge[59]!.date },
        { symbol: 'NEWC', rows: histories.get('XRP')!.length, firstDate: histories.get('XRP')![0]!.date, lastDate: '2018-03-25' },
      ]);
      expect(record.skipped).to.deep.equal([
        { symbol: 'BTC', rows: histories.get('BTC')!.length, reason: `model version ${old.metadata.version} already has its scalers` },
        { symbol: 'TINY', rows: 29, reason: '29 of 30 rows needed' },
      ]);
      expect(record.provenance.historyObjects).to.deep.equal([{ key: 'history/DOGE.csv', rows: 60 }]);

      // The upload's unknown symbol is now predicted; the known ones exactly as before.
      const predict = async (m: typeof model) => {
        const engine = createInference(m, 'fast');
        try {
          return await predictCsv(fs.createReadStream(TEST_CSV), m, engine, { mode: 'anchored' });
        } finally {
          engine.dispose();
        }
      };
      const [now, then] = [await predict(model), await predict(old)];
      old.layers.dispose();
      expect(then.symbols.find((s) => s.symbol === 'DOGE')).to.include({ status: 'skipped' });
      expect(now.symbols.find((s) => s.symbol === 'DOGE')).to.include({ status: 'ok', rows: 60 });
      expect(now.counts).to.include({ predicted: 4, skipped: 0 });
      expect(now.predictions.filter((p) => p.symbol !== 'DOGE')).to.deep.equal(then.predictions);
    } finally {
      model.layers.dispose();
    }
  });

  it('returns the version unchanged when no symbol qualifies, and refuses a bad threshold', async () => {
    const result = await extendScalers(
      team,
      new Map([
        ['TINY', doge.slice(0, 5)],
        ['LTC', histories.get('LTC')!],
      ]),
      30,
    );
    expect(result.changed).to.equal(false);
    expect(result.files).to.equal(team);
    expect(result.skipped.map((s) => s.symbol)).to.deep.equal(['LTC', 'TINY']);
    let error: unknown;
    try {
      await extendScalers(team, new Map(), 1);
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(TrainingInputError);
    expect((error as Error).message).to.equal('minRows must be an integer >= 2; got 1');
  });
});
