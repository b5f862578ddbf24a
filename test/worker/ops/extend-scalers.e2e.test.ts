import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { scalersFromJson } from '../../../model/scalers.js';
import { SCALED_COLUMNS, type ModelMetadata } from '../../../model/types.js';
import { MODEL_POINTER_KEY } from '../../../shared/layout.js';
import { main as historyMain } from '../../../worker/commands/history.js';
import { main as modelMain } from '../../../worker/commands/model.js';
import type { CandidateMetadata } from '../../../worker/ops/extend-scalers.js';
import { readPublishedVersion } from '../../../worker/ops/extend-scalers.js';
import { runInProcess } from '../../helpers/command.js';
import { SCALER_SYMBOLS } from '../../helpers/history.js';
import { shared } from '../../helpers/paths.js';
import { readJson, startTestStack, type TestStack } from '../../helpers/test-stack.js';

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

/**
 * NumPy's StandardScaler arithmetic, independent of the TypeScript fit: the 12 columns from their SPEC §2 definitions
 * in float64, then `mean()` and `var()` (population). The team's scaler.pkl BTC entry saw 1,967 rows, more than the
 * shared history holds (1,793), so its rows cannot be identified and this is the reference.
 */
function numpyFit(csvText: string, symbol: string): Record<string, { mean: number; var: number; n: number }> {
  const script = `
import sys, csv, json, io
import numpy as np
rows = [r for r in csv.DictReader(io.StringIO(sys.stdin.read())) if r['symbol'] == sys.argv[1]]
rows.sort(key=lambda r: r['date'])
f = lambda k: np.array([float(r[k]) for r in rows], dtype=np.float64)
o, h, l, c = f('open'), f('high'), f('low'), f('close')
spread = h - l
with np.errstate(divide='ignore', invalid='ignore'):
    ratio = np.where(spread == 0, 0.0, (c - l) / np.where(spread == 0, 1, spread))
base = {'open': o, 'high': h, 'low': l, 'close': c, 'close_ratio': ratio, 'spread': spread}
out = {}
for k, v in list(base.items()):
    out[k] = v
    out['v_' + k] = np.concatenate([[0.0], np.diff(v)])
print(json.dumps({k: {'mean': float(v.mean()), 'var': float(v.var()), 'n': int(v.size)} for k, v in out.items()}))
`;
  return JSON.parse(execFileSync('python3', ['-c', script, symbol], { input: csvText }).toString('utf8'));
}

const near = (actual: number, expected: number, rel: number, what: string) =>
  expect(Math.abs(actual - expected), `${what}: ${actual} vs ${expected}`).to.be.at.most(rel * Math.max(Math.abs(expected), 1e-300));

describe('npm run model -- extend-scalers (the cold-start rule, against the embedded stack)', function () {
  this.timeout(120_000);
  let stack: TestStack;
  let dir: string;
  let historyCsv: string;
  before(async () => {
    stack = await startTestStack();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'extend-scalers-'));
    // The BTC history under a name the team's file does not know (HELD), LTC (known) as is, and a symbol with 10 rows.
    const [header, ...lines] = fs.readFileSync(shared('data/crypto_markets_btc_ltc_xrp.csv'), 'utf8').trim().split('\n');
    const col = header!.split(',').indexOf('symbol');
    const rename = (line: string, to: string) =>
      line
        .split(',')
        .map((v, i) => (i === col ? to : v))
        .join(',');
    const symbolOf = (line: string) => line.split(',')[col];
    const out = [header!];
    for (const line of lines) {
      if (symbolOf(line) === 'BTC') out.push(rename(line, 'HELD'));
      if (symbolOf(line) === 'LTC') out.push(line);
    }
    out.push(
      ...lines
        .filter((l) => symbolOf(l) === 'XRP')
        .slice(0, 10)
        .map((l) => rename(l, 'SHORT')),
    );
    historyCsv = `${out.join('\n')}\n`;
    fs.writeFileSync(path.join(dir, 'history.csv'), historyCsv);
    const load = await runInProcess(historyMain, ['load', path.join(dir, 'history.csv'), '--endpoint-url', stack.stack.endpoint]);
    expect(load.code, load.stderr).to.equal(0);
  });
  after(async () => {
    await stack?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });
  const run = (...args: string[]) => runInProcess(modelMain, ['extend-scalers', ...args, '--endpoint-url', stack.stack.endpoint]);

  it('writes a candidate version with the held-out symbol fitted as NumPy fits it, the 20 scalers and the network byte for byte, without serving it', async () => {
    const r = await run('--min-rows', '30', '--as-of', '2018-03-25');
    expect(r.code, r.stderr).to.equal(0);
    const version = r.stdout.trim();
    expect(version).to.match(/^v-[0-9a-f]{16}$/);
    expect(version).to.not.equal(stack.modelVersion);
    expect(r.stderr).to.match(/added scalers for 1 symbols to v-[0-9a-f]{16} \(1 below 30 rows\); candidate version, not in service/);
    expect((await readJson<{ version: string }>(stack, MODEL_POINTER_KEY)).version, 'still in service').to.equal(stack.modelVersion);

    const team = await readPublishedVersion(stack.objects, stack.modelVersion);
    const files = await readPublishedVersion(stack.objects, version);
    expect(files.get('model.json')!.equals(team.get('model.json')!)).to.equal(true);
    expect(files.get('weights.bin')!.equals(team.get('weights.bin')!)).to.equal(true);
    expect(files.get('check.json')!.equals(team.get('check.json')!)).to.equal(true);
    const oldJson = team.get('scalers.json')!.toString('utf8');
    const newJson = files.get('scalers.json')!.toString('utf8');
    for (const symbol of SCALER_SYMBOLS) expect(symbolBlock(newJson, symbol), symbol).to.equal(symbolBlock(oldJson, symbol));

    const scalers = scalersFromJson(newJson, 'new');
    expect([...scalers.symbols.keys()].sort()).to.deep.equal([...SCALER_SYMBOLS, 'HELD'].sort());
    const reference = numpyFit(historyCsv, 'HELD');
    const held = scalers.symbols.get('HELD')!;
    for (const column of SCALED_COLUMNS) {
      expect(held[column]!.nSamplesSeen, column).to.equal(reference[column]!.n).and.to.equal(1793);
      near(held[column]!.mean, reference[column]!.mean, 1e-12, `${column} mean`);
      near(held[column]!.var, reference[column]!.var, 1e-12, `${column} var`);
      expect(held[column]!.scale).to.equal(reference[column]!.var === 0 ? 1 : Math.sqrt(held[column]!.var));
    }

    const metadata = JSON.parse(files.get('metadata.json')!.toString('utf8')) as ModelMetadata & CandidateMetadata;
    expect(metadata.status).to.equal('candidate');
    expect(metadata.version).to.equal(version);
    const record = metadata.training!;
    if (record.kind !== 'extend-scalers') throw new Error(`expected an extend-scalers record, got ${record.kind}`);
    expect(record.baseVersion).to.equal(stack.modelVersion);
    expect(record.added).to.deep.equal([{ symbol: 'HELD', rows: 1793, firstDate: '2013-04-28', lastDate: '2018-03-25' }]);
    expect(record.skipped).to.deep.equal([{ symbol: 'SHORT', rows: 10, reason: '10 of 30 rows needed' }]);
    expect(record.provenance.asOf).to.equal('2018-03-25');
    const [source] = metadata.scalerHistory;
    expect(metadata.scalerHistory).to.have.length(1);
    expect(source).to.include({ symbol: 'HELD', rows: 1793, firstDate: '2013-04-28', lastDate: '2018-03-25' });
    // Every monthly segment of the load, each with the rows it gave.
    expect(source!.objects.length).to.be.greaterThan(55);
    expect(source!.objects.reduce((n, o) => n + o.rows, 0)).to.equal(1793);
    for (const o of source!.objects) expect(o.key).to.match(/^history\/segments\/\d{4}-\d{2}\//);
    expect(record.provenance.historyObjects!.map((o) => o.key)).to.deep.equal(source!.objects.map((o) => o.key));

    // The same history and threshold give the same version (content-addressed); the listing shows it as not in service.
    expect((await run('--min-rows', '30', '--as-of', '2018-03-25')).stdout.trim()).to.equal(version);
    const list = await runInProcess(modelMain, ['list', '--endpoint-url', stack.stack.endpoint]);
    expect(list.stdout).to.match(new RegExp(`^  ${version} .* 21 symbols`, 'm'));
    expect(list.stdout).to.match(new RegExp(`^\\* ${stack.modelVersion} `, 'm'));
  });

  it('uses only rows dated on or before --as-of, and writes nothing when no symbol has enough', async () => {
    const r = await run('--min-rows', '30', '--as-of', '2013-05-20');
    expect(r.code).to.equal(1);
    expect(r.stderr).to.match(/no new symbol has 30 rows in the history \(1 below the threshold\); nothing written/);
    const r2 = await run('--min-rows', '20', '--as-of', '2013-05-20');
    expect(r2.code, r2.stderr).to.equal(0);
    const metadata = JSON.parse((await readPublishedVersion(stack.objects, r2.stdout.trim())).get('metadata.json')!.toString('utf8')) as ModelMetadata &
      CandidateMetadata;
    expect(metadata.scalerHistory.map((s) => [s.symbol, s.rows, s.lastDate])).to.deep.equal([['HELD', 23, '2013-05-20']]);
  });

  it('names a bad flag', async () => {
    expect((await run('--min-rows', '1')).stderr).to.match(/--min-rows must be an integer >= 2, got "1"/);
    expect((await run('--as-of', '2018-3-1')).stderr).to.match(/--as-of must be a date YYYY-MM-DD/);
  });
});
