import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { main } from '../../../worker/commands/predict.js';
import { runInProcess, runSpawned } from '../../helpers/command.js';
import { readCsvFile } from '../../helpers/csv.js';
import { shared } from '../../helpers/paths.js';

const env = { ...process.env, MODEL_DIR: '' };
/** One spawned run proves the wiring of `npm run predict`; the other cases run in this process. */
const predictSpawned = (args: string[]) => runSpawned('worker/commands/predict.ts', args, env);
const predict = (args: string[]) => runInProcess(main, args, env);

describe('predict command', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'predict-cli-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes predictions, forecast and a summary recording input sha256, model version, backend, counts, symbols and timings', async () => {
    const out = path.join(dir, 'x_preds.csv');
    const forecast = path.join(dir, 'x_forecast.csv');
    const summaryFile = path.join(dir, 'summary.json');
    const r = await predictSpawned(['--input', shared('data/crypto_test.csv'), '--output', out, '--forecast', forecast, '--summary', summaryFile]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/predicted 3\/4 symbols, 180 rows/);
    expect(r.stdout).to.match(/skipped DOGE: unknown symbol/);
    expect(await readCsvFile(out)).to.have.length(180);
    expect(await readCsvFile(forecast)).to.have.length(3);
    const s = JSON.parse(fs.readFileSync(summaryFile, 'utf8'));
    expect(s.input.sha256).to.match(/^[0-9a-f]{64}$/);
    expect(s.model.version).to.match(/^v-[0-9a-f]{16}$/);
    expect(s.backend).to.be.oneOf(['tensorflow', 'wasm', 'cpu']);
    expect(s.counts).to.include({ symbols: 4, predicted: 3, skipped: 1, predictionRows: 180 });
    expect(s.symbols.map((x: { status: string }) => x.status).sort()).to.deep.equal(['ok', 'ok', 'ok', 'skipped']);
    expect(s.timingsMs.total).to.be.a('number');
  });

  it('fails a structurally bad file with exit 1 and one readable line', async () => {
    const bad = path.join(dir, 'header-only.csv');
    fs.writeFileSync(bad, 'symbol,date,open,high,low,close,market\n');
    const r = await predict(['--input', bad, '--output', path.join(dir, 'never.csv')]);
    expect(r.code).to.equal(1);
    expect(r.stderr.trim().split('\n')).to.deep.equal(['predict: invalid input: no data rows: the file has a header only, so there is nothing to predict']);
    expect(fs.existsSync(path.join(dir, 'never.csv'))).to.equal(false);
  });

  it('rejects bad usage with exit 2, naming the option', async () => {
    const r = await predict(['--input', shared('data/crypto_test.csv'), '--output', path.join(dir, 'y.csv'), '--mode', 'sideways']);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/^predict: --mode must be one of anchored, integrated; got sideways/);
  });
});
