import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { RunError, RunManifest } from '../../../shared/manifest.js';

const repoRoot = path.resolve(import.meta.dirname, '../../..');
const startCli = path.join(repoRoot, 'worker/commands/start.ts');
const env = { ...process.env };

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', startCli, ...args], { cwd: repoRoot, env, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** `npm start`, with the real worker processes, on a free port and a temporary data folder. */
describe('npm start (stack + model + real workers)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'start-'));
  const dataDir = path.join(dir, 'data');
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('--once with no file: imports the model, uploads a sample, copies the run files, prints the summary, exits 0', async () => {
    const out = path.join(dir, 'out');
    const res = await runCli(['--once', '--workers', '1', '--port', '0', '--data-dir', dataDir, '--out', out]);
    expect(res.code, `${res.stdout}\n${res.stderr}`.slice(-3000)).to.equal(0);
    expect(res.stdout).to.contain('result     succeeded');
    expect(res.stdout).to.contain('symbols    3 predicted: BTC, LTC, XRP');
    expect(res.stdout).to.contain('pred_url   s3://crypto-open-local/predictions/crypto_sample_preds.csv');

    expect(fs.readdirSync(out).sort()).to.deep.equal(['forecast.csv', 'manifest.json', 'preds.csv']);
    const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8')) as RunManifest;
    expect(manifest.input.key).to.equal('incoming/crypto_sample.csv');
    const sha = (f: string) =>
      createHash('sha256')
        .update(fs.readFileSync(path.join(out, f)))
        .digest('hex');
    expect(manifest.outputs.preds.sha256).to.equal(sha('preds.csv'));
    expect(manifest.outputs.forecast.sha256).to.equal(sha('forecast.csv'));
    expect(manifest.model.version).to.match(/^v-[0-9a-f]{16}$/);
  });

  it('--once with a malformed CSV: copies error.json, prints the reason, exits non-zero', async () => {
    const bad = path.join(dir, 'broken.csv');
    fs.writeFileSync(bad, 'symbol,date,open\nBTC,2018-01-25,1\n');
    const out = path.join(dir, 'out-broken');
    const res = await runCli(['--once', bad, '--workers', '1', '--port', '0', '--data-dir', dataDir, '--out', out, '--timeout', '60']);
    expect(res.code).to.equal(1);
    expect(res.stderr).to.match(/result {5}FAILED \(invalid-input\): .*(close|market|high|low)/);
    const error = JSON.parse(fs.readFileSync(path.join(out, 'error.json'), 'utf8')) as RunError;
    expect(error.input.key).to.equal('incoming/broken.csv');
    expect(error.error).to.include({ kind: 'invalid-input', disposition: 'dead-letter' });
  });

  it('without --once: prints endpoints and team URLs, and stops workers then the stack on SIGINT', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', startCli, '--workers', '1', '--port', '0', '--api-port', '0', '--data-dir', dataDir], {
      cwd: repoRoot,
      env,
    });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stdout += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    for (let i = 0; i < 600 && !stdout.includes('Ctrl-C stops'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(stdout).to.match(/endpoint {3}http:\/\/127\.0\.0\.1:\d+ {2}\(S3 and SQS; region us-east-1\)/);
    expect(stdout).to.contain('test_url   s3://crypto-open-local/incoming/');
    expect(stdout).to.contain('pred_url   s3://crypto-open-local/predictions/crypto_test_preds.csv');
    expect(stdout, 'the model published by the first start persists').to.match(/model {6}v-[0-9a-f]{16} \(already in service\)/);
    expect(stdout).to.contain('aws s3 cp crypto_test.csv s3://crypto-open-local/incoming/');
    const api = /api {8}(http:\/\/127\.0\.0\.1:\d+) /.exec(stdout)?.[1];
    expect(api, 'the banner names the API URL').to.be.a('string');
    expect(stdout).to.contain(`console    ${api}/`);
    const models = await fetch(`${api}/models`);
    expect(models.status).to.equal(200);
    expect(((await models.json()) as { pointer: { version: string } }).pointer.version).to.match(/^v-[0-9a-f]{16}$/);
    const page = await fetch(`${api}/`);
    expect(page.headers.get('content-type')).to.match(/^text\/html/);
    expect(await page.text()).to.contain('/vendor/uPlot.iife.min.js');
    child.kill('SIGINT');
    expect(await exited).to.equal(0);
    expect(stdout).to.contain('SIGINT: stopping workers, then the stack');
    expect(stdout, 'a stopped worker is not reported dead').to.not.contain('restarting');
  });

  it('--no-console: the API without the console at /', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', startCli, '--workers', '0', '--port', '0', '--api-port', '0', '--no-console', '--data-dir', path.join(dir, 'data-no-console')],
      { cwd: repoRoot, env },
    );
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stdout += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    for (let i = 0; i < 600 && !stdout.includes('Ctrl-C stops'); i++) await new Promise((r) => setTimeout(r, 50));
    try {
      const api = /api {8}(http:\/\/127\.0\.0\.1:\d+) /.exec(stdout)?.[1];
      expect(stdout).to.contain('console    off');
      const root = await fetch(`${api}/`);
      expect(root.status).to.equal(404);
      expect(root.headers.get('content-type')).to.equal('application/problem+json');
      expect((await fetch(`${api}/models`)).status).to.equal(200);
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).to.equal(0);
  });
});
