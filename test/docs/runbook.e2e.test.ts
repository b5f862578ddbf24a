import { expect } from 'chai';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { LOCAL_STACK, localEndpoint, localStackEnv } from '../../worker/local/constants.js';
import { eventually, inProcessWorker, startTestStack, type TestStack } from '../helpers/test-stack.js';
import { sharedDir } from '../helpers/paths.js';
import { DOCS_DIR } from './render.js';
import { commandRows } from './runbook-table.js';

/**
 * The runbook's local AWS CLI commands, exactly as the runbook's table writes them, against the embedded stack (its
 * endpoint swapped for the test stack's free port): drop a CSV, read its predictions, list its run folder.
 */
describe('docs/runbook.md: the local aws CLI steps, run as written', () => {
  const rows = commandRows(fs.readFileSync(path.join(DOCS_DIR, 'runbook.md'), 'utf8'));
  const local = (step: string): string => {
    const row = rows.find((r) => r.step === step && r.where === 'local' && r.command.startsWith('aws '));
    if (!row) throw new Error(`runbook.md: no local aws command for "${step}"`);
    return row.command;
  };
  let fleet: TestStack;
  let worker: Awaited<ReturnType<typeof inProcessWorker>>;
  let cwd: string;

  before(async () => {
    fleet = await startTestStack();
    worker = await inProcessWorker(fleet);
    cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'runbook-'));
    fs.copyFileSync(path.join(sharedDir, 'data', 'crypto_test.csv'), path.join(cwd, 'crypto_test.csv'));
  });
  after(async () => {
    await worker?.stop();
    await fleet?.close();
    if (cwd) fs.rmSync(cwd, { recursive: true, force: true });
  });

  /** A runbook command line as argv (its words have no quotes), pointed at the test stack. */
  const aws = async (command: string): Promise<string> => {
    expect(command).to.contain(localEndpoint()).and.to.contain(`s3://${LOCAL_STACK.bucket}/`);
    const argv = command.replace(localEndpoint(), fleet.stack.endpoint).split(/\s+/);
    const cli = process.env.AWS_CLI ?? (fs.existsSync('/usr/bin/aws') ? '/usr/bin/aws' : 'aws');
    const env = { PATH: process.env.PATH ?? '', HOME: cwd, ...localStackEnv(fleet.stack.endpoint) };
    const { stdout } = await promisify(execFile)(cli, argv.slice(1), { cwd, env, encoding: 'utf8' });
    return stdout;
  };

  it('drops crypto_test.csv, finds its predictions (the frontend columns) and its run folder with the manifest', async () => {
    await aws(local('drop a CSV'));
    const preds = await eventually(async () => aws(local('find predictions')).catch(() => undefined), 'the predictions file');
    expect(preds.split('\n')[0]).to.equal('symbol,index,date,val_open,pred_open,v_open_scaled,v_open');
    expect(preds.split('\n').filter((l) => l.startsWith('BTC,')).length).to.be.greaterThan(0);
    expect(local('find the manifest')).to.contain('--recursive');
    const listing = await eventually(async () => {
      const out = await aws(local('find the manifest'));
      return /runs\/[^\s]+\/manifest\.json/.test(out) ? out : undefined;
    }, 'the run folder with its manifest');
    const manifestKey = /(runs\/[^\s]+\/manifest\.json)/.exec(listing)![1]!;
    const manifest = JSON.parse(await aws(`aws --endpoint-url ${localEndpoint()} s3 cp s3://${LOCAL_STACK.bucket}/${manifestKey} -`)) as { input: { key: string } };
    expect(manifest.input.key).to.equal('incoming/crypto_test.csv');
  });
});
