import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { ModelMetadata } from '../../../model/types.js';
import { MODEL_POINTER_KEY } from '../../../shared/layout.js';
import type { RunManifest } from '../../../shared/manifest.js';
import type { ChangeLogEntry, VersionStatusRecord } from '../../../shared/registry.js';
import { versionStatusKey } from '../../../shared/registry.js';
import { main as modelMain } from '../../../worker/commands/model.js';
import { main as trainMain } from '../../../worker/commands/train.js';
import { loadHistoryFile } from '../../../worker/ops/history-load.js';
import { awsCallerIdentity, localPrincipal, principalOf } from '../../../worker/ops/principal.js';
import { resolveStackTarget } from '../../../worker/cli/stack-args.js';
import { readChangeLog } from '../../../worker/ops/registry.js';
import { readModelPointer } from '../../../worker/runtime/model-source.js';
import { loadBucketVersion } from '../../../worker/runtime/model-files.js';
import { writeWindows } from '../../../model/features.js';
import { loadModelVersionFromFiles, prepareModelVersion } from '../../../model/model-store.js';
import { createInference } from '../../../model/inference.js';
import { historyFeatures } from '../../../model/train/dataset.js';
import { N_FEATURES } from '../../../model/types.js';
import { loadHistories } from '../../model/train/fixture.js';
import { runInProcess, runSpawned } from '../../helpers/command.js';
import { shared } from '../../helpers/paths.js';
import { eventually, inProcessWorker, listKeys, readJson, readText, startTestStack, upload, type TestStack } from '../../helpers/test-stack.js';

const HISTORY = fs.readFileSync(shared('data/crypto_markets_btc_ltc_xrp.csv'), 'utf8').split('\n').filter(Boolean);
const HEADER = HISTORY[0]!;
/** The first `n` rows of each of BTC and LTC. */
function historySubset(n: number): string {
  const rows = (symbol: string) => HISTORY.filter((l) => l.split(',')[1] === symbol).slice(0, n);
  return `${[HEADER, ...rows('BTC'), ...rows('LTC')].join('\n')}\n`;
}
/** Rows `from .. from + n` of BTC and LTC: a daily upload after the training rows. */
function uploadRows(from: number, n: number): string {
  const rows = (symbol: string) => HISTORY.filter((l) => l.split(',')[1] === symbol).slice(from, from + n);
  return `${[HEADER, ...rows('BTC'), ...rows('LTC')].join('\n')}\n`;
}

describe('model registry and retraining: train, review, use, roll back (embedded stack)', function () {
  this.timeout(300_000);
  let fleet: TestStack;
  let tmp: string;
  let args: string[];
  let candidate: string;
  const env = () => ({ ...process.env, MODEL_DIR: '' });

  before(async () => {
    fleet = await startTestStack();
    args = ['--endpoint-url', fleet.stack.endpoint];
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'registry-'));
    const file = path.join(tmp, 'history.csv');
    fs.writeFileSync(file, historySubset(90));
    await loadHistoryFile(fleet.objects, file);
  });
  after(async () => {
    await fleet?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  const model = (...argv: string[]) => runInProcess(modelMain, [...argv, ...args], env());
  const inService = async () => (await readModelPointer(fleet.objects, MODEL_POINTER_KEY))?.version;

  it('asks STS who the caller is (on AWS the registry records that ARN; the embedded stack answers for its key pair)', async () => {
    const target = resolveStackTarget({ 'endpoint-url': fleet.stack.endpoint }, process.env);
    expect(await awsCallerIdentity(target.clients, fleet.stack.endpoint)).to.equal('arn:aws:iam::000000000000:user/S3RVER');
    expect(await principalOf(target)).to.equal(localPrincipal());
  });

  it("publishes the team's own model as approved at import, without moving the pointer", async () => {
    const r = await model('publish');
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(
      new RegExp(`^published ${fleet.modelVersion} from .*model\\.h5 .* to s3://crypto-open-local/models/${fleet.modelVersion}/: approved\n$`),
    );
    expect(await inService()).to.equal(fleet.modelVersion);
    const status = await readJson<VersionStatusRecord>(fleet, versionStatusKey(fleet.modelVersion));
    expect(status).to.include({ status: 'approved', principal: localPrincipal() });
    expect(status.reason).to.match(/^the team's own model, imported from model\.h5 \(sha256 [0-9a-f]{12}\) and scaler\.pkl/);
  });

  it('trains a seeded candidate from the history as of a cut-off; its record lists the history objects, rows per symbol and the comparison', async () => {
    const asOf = HISTORY.filter((l) => l.split(',')[1] === 'BTC')[79]!.split(',')[3]!;
    const r = await runInProcess(trainMain, ['--as-of', asOf, '--epochs', '1', '--seed', '7', '--validation-rows', '10', ...args], env());
    expect(r.code, r.stderr).to.equal(0);
    const m = /^trained (v-[0-9a-f]+) \(candidate\) as of (\S+) to s3:\/\/crypto-open-local\/models\/\1\/\n$/.exec(r.stdout);
    expect(m, r.stdout).to.not.equal(null);
    candidate = m![1]!;
    expect(m![2]).to.equal(asOf);
    const meta = await readJson<ModelMetadata>(fleet, `models/${candidate}/metadata.json`);
    const t = meta.training!;
    if (t.kind !== 'train') throw new Error('not a training record');
    // 80 of the 90 loaded rows per symbol are on or before the cut-off.
    expect(t.data.symbols.map((s) => [s.symbol, s.rows, s.lastDate])).to.deep.equal([
      ['BTC', 80, asOf],
      ['LTC', 80, asOf],
    ]);
    expect(t.provenance.asOf).to.equal(asOf);
    expect(t.provenance.codeCommit).to.match(/^[0-9a-f]{40}$|^unknown$/);
    const objects = t.provenance.historyObjects!;
    expect(objects.length).to.be.at.least(1);
    for (const o of objects) expect(o.key).to.match(/^history\/segments\/\d{4}-\d{2}\//);
    expect(objects.reduce((n, o) => n + o.rows!, 0)).to.equal(160);
    expect(objects.reduce((n, o) => n + (o.symbols!.BTC ?? 0), 0)).to.equal(80);
    expect(t.seed).to.equal(7);
    expect(t.epochs).to.have.length(1);
    expect(t.epochs[0]!.valLoss).to.be.a('number');
    expect(t.validation.map((v) => v.symbol)).to.deep.equal(['BTC', 'LTC']);
    for (const v of t.validation) {
      expect(v.rows).to.equal(10);
      expect(v.naive).to.be.above(0);
      expect(v.baseline).to.include({ version: fleet.modelVersion });
      expect((v.baseline as { mad: number }).mad).to.be.a('number');
    }
    expect(await inService(), 'training does not move the pointer').to.equal(fleet.modelVersion);
    const status = await readJson<VersionStatusRecord>(fleet, versionStatusKey(candidate));
    expect(status.status).to.equal('candidate');

    // Loadable from the bucket; the fast and layers engines agree within SPEC §7 (1e-4 on v_open_scaled).
    const loaded = await loadBucketVersion(fleet.objects, candidate);
    const fast = createInference(loaded, 'fast');
    const layers = createInference(loaded, 'layers');
    try {
      const rows = (await loadHistories()).get('BTC')!.slice(0, 80);
      const windows = new Float32Array((rows.length + 1) * 5 * N_FEATURES);
      writeWindows(historyFeatures(rows, loaded.scalers.symbols.get('BTC')!), rows.length, 5, windows, 0);
      const [a, b] = [await fast.predict(windows, rows.length + 1), await layers.predict(windows, rows.length + 1)];
      expect(Math.max(...a.map((v, i) => Math.abs(v - b[i]!)))).to.be.at.most(1e-4);
    } finally {
      fast.dispose();
      layers.dispose();
      loaded.layers.dispose();
    }
  });

  it('trains the same weights again with the same seed and data (the same content-derived version id)', async () => {
    const asOf = HISTORY.filter((l) => l.split(',')[1] === 'BTC')[79]!.split(',')[3]!;
    const r = await runInProcess(trainMain, ['--as-of', asOf, '--epochs', '1', '--seed', '7', '--validation-rows', '10', ...args], env());
    expect(r.code, r.stderr).to.equal(0);
    // weights.bin, model.json and scalers.json were created again with the same bytes (a create-only PUT accepts only those).
    expect(r.stdout).to.contain(
      `trained ${candidate} (candidate) as of ${asOf} to s3://crypto-open-local/models/${candidate}/ (already there: the same weights and scalers)`,
    );
  });

  it('exports the candidate as a Keras 2.2.4 HDF5 file and scalers JSON; re-imported, it gives the same outputs', async () => {
    const h5 = path.join(tmp, 'candidate.h5');
    const r = await model('export', candidate, '--h5', h5);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.equal(`exported ${candidate} (candidate) to ${h5} and ${path.join(tmp, 'candidate.scalers.json')}\n`);
    // The importer pairs a model file with a scaler.pkl; the network's outputs do not depend on which.
    const imported = await loadModelVersionFromFiles((await prepareModelVersion(h5, shared('model_out/scaler.pkl'))).files);
    const original = await loadBucketVersion(fleet.objects, candidate);
    const rows = (await loadHistories()).get('LTC')!.slice(0, 80);
    const windows = new Float32Array((rows.length + 1) * 5 * N_FEATURES);
    writeWindows(historyFeatures(rows, original.scalers.symbols.get('LTC')!), rows.length, 5, windows, 0);
    const [ea, eb] = [createInference(original, 'fast'), createInference(imported, 'fast')];
    try {
      const [ya, yb] = [await ea.predict(windows, rows.length + 1), await eb.predict(windows, rows.length + 1)];
      expect(Buffer.from(ya.buffer).equals(Buffer.from(yb.buffer))).to.equal(true);
    } finally {
      ea.dispose();
      eb.dispose();
    }
    const scalers = JSON.parse(fs.readFileSync(path.join(tmp, 'candidate.scalers.json'), 'utf8'));
    expect(Object.keys(scalers.scalers)).to.deep.equal(['BTC', 'LTC']);
    expect(scalers.scalers.LTC.v_open.mean_).to.deep.equal([original.scalers.symbols.get('LTC')!.v_open!.mean]);
  });

  it("trains as the image's one-off task from its environment: a candidate under models/, nothing under registry/, the pointer unchanged", async () => {
    const env = fleet.env({
      TRAIN_AS_OF: HISTORY.filter((l) => l.split(',')[1] === 'LTC')[69]!.split(',')[3]!,
      TRAIN_EPOCHS: '1',
      TRAIN_SEED: '3',
      TRAIN_SYMBOLS: 'LTC',
      TRAIN_VALIDATION_ROWS: '10',
      CODE_COMMIT: 'c0ffee',
    });
    // The task runs as its own role (infra's), not as the worker: its requests are not recorded as the worker's.
    delete env.AWS_REQUEST_LOG;
    delete env.AWS_REQUEST_PRINCIPAL;
    const r = await runSpawned('worker/commands/train-task.ts', [], env, 180_000);
    expect(r.code, r.stderr).to.equal(0);
    const line = r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.event === 'train.candidate');
    expect(line, r.stdout).to.not.equal(undefined);
    const version = String(line!.version);
    const meta = await readJson<ModelMetadata>(fleet, `models/${version}/metadata.json`);
    expect(meta.training).to.deep.include({ seed: 3 });
    expect((meta.training as { provenance: { codeCommit: string } }).provenance.codeCommit).to.equal('c0ffee');
    expect(await fleet.objects.exists(versionStatusKey(version))).to.equal(false);
    expect((await readChangeLog(fleet.objects)).some((e) => e.version === version)).to.equal(false);
    expect(await inService()).to.equal(fleet.modelVersion);
    const list = await model('list');
    expect(list.stdout).to.contain(`  ${version}  candidate`);
  });

  it('refuses to put a candidate in service, and needs a reason', async () => {
    const noReason = await model('use', candidate);
    expect(noReason.code).to.equal(1);
    expect(noReason.stderr).to.contain('use needs --reason');
    const r = await model('use', candidate, '--reason', 'try it');
    expect(r.code).to.equal(1);
    expect(r.stderr).to.contain(`model version ${candidate} is candidate: only an approved version can be put in service`);
    expect(await inService()).to.equal(fleet.modelVersion);
  });

  it("approve, use, rollback: the pointer and the workers' next run follow, and the log records each with principal and reason", async () => {
    const worker = await inProcessWorker(fleet);
    const runVersion = async (name: string, body: string): Promise<string> => {
      const key = `incoming/registry/${name}.csv`;
      const etag = await upload(fleet, key, body);
      return eventually(
        async () => {
          if (!(await fleet.objects.exists(`predictions/registry/${name}_preds.csv`))) return undefined;
          for (const k of await listKeys(fleet, 'runs/')) {
            if (!k.endsWith('/manifest.json')) continue;
            const manifest = await readJson<RunManifest>(fleet, k);
            if (manifest.input.key === key && manifest.input.etag === etag) return manifest.model.version;
          }
          return undefined;
        },
        `the run of ${key}`,
        120_000,
      );
    };
    try {
      expect(await runVersion('day-1', uploadRows(80, 8))).to.equal(fleet.modelVersion);

      const approve = await model('approve', candidate, '--reason', 'hold-out MAD below naive on BTC and LTC');
      expect(approve.stdout).to.equal(`${candidate}: approved\n`);
      const use = await model('use', candidate, '--reason', 'weekly retrain');
      expect(use.code, use.stderr).to.equal(0);
      expect(use.stdout).to.equal(`in service: ${candidate} (was ${fleet.modelVersion})\n`);
      expect(await runVersion('day-2', uploadRows(81, 8))).to.equal(candidate);
      // The candidate's predictions have the SPEC shape: the header and a row per input row.
      const preds = (await readText(fleet, 'predictions/registry/day-2_preds.csv')).trim().split('\n');
      expect(preds[0]).to.equal('symbol,index,date,val_open,pred_open,v_open_scaled,v_open');
      expect(preds).to.have.length(17);

      const rollback = await model('rollback', '--reason', 'worse than naive for 3 days');
      expect(rollback.code, rollback.stderr).to.equal(0);
      expect(rollback.stdout).to.equal(`rolled back: ${candidate} -> ${fleet.modelVersion} (in service)\n`);
      expect(await inService()).to.equal(fleet.modelVersion);
      expect(await runVersion('day-3', uploadRows(82, 8))).to.equal(fleet.modelVersion);
    } finally {
      await worker.stop();
    }

    const entries: ChangeLogEntry[] = await readChangeLog(fleet.objects);
    const mine = entries.filter((e) => ['approve', 'use', 'rollback'].includes(e.action));
    expect(mine.map((e) => [e.action, e.version, e.previous, e.inService, e.principal, e.reason])).to.deep.equal([
      ['approve', candidate, fleet.modelVersion, fleet.modelVersion, localPrincipal(), 'hold-out MAD below naive on BTC and LTC'],
      ['use', candidate, fleet.modelVersion, candidate, localPrincipal(), 'weekly retrain'],
      ['rollback', fleet.modelVersion, candidate, fleet.modelVersion, localPrincipal(), 'worse than naive for 3 days'],
    ]);
    expect((mine[1]!.evidence as { validation: unknown[] }).validation).to.have.length(2);
    expect(entries.map((e) => e.action)).to.deep.equal(['import', 'train', 'approve', 'use', 'rollback']);

    const log = await model('log');
    expect(log.stdout.trim().split('\n')).to.have.length(5);
    expect(log.stdout).to.contain(
      `rollback ${fleet.modelVersion}  ${candidate} -> ${fleet.modelVersion}  approved  by ${localPrincipal()}: worse than naive for 3 days`,
    );

    const list = await model('list');
    expect(list.stdout).to.contain(`* ${fleet.modelVersion}  approved`);
    expect(list.stdout).to.contain(`  ${candidate}  approved`);
  });

  it('refuses a second rollback past the start of the log, and rejecting the version in service', async () => {
    const r = await model('rollback', '--reason', 'again');
    // The stack: [team model] after the rollback; nothing before it.
    expect(r.code).to.equal(1);
    expect(r.stderr).to.contain(`the change log names no version in service before ${fleet.modelVersion}`);
    const reject = await model('reject', fleet.modelVersion, '--reason', 'x');
    expect(reject.stderr).to.contain('is in service: roll back');
    const ok = await model('reject', candidate, '--reason', 'drifted');
    expect(ok.stdout).to.equal(`${candidate}: rejected\n`);
    const use = await model('use', candidate, '--reason', 'again');
    expect(use.stderr).to.contain(`model version ${candidate} is rejected`);
  });
});
