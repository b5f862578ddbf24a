import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { expect } from 'chai';
import { PREFIX } from '../../../shared/layout.js';
import type { RunManifest } from '../../../shared/manifest.js';
import { main as reconcileMain } from '../../../worker/commands/reconcile.js';
import { LOCAL_STACK, localClientSettings } from '../../../worker/local/constants.js';
import { makeS3Client } from '../../../worker/runtime/aws-clients.js';
import { runInProcess } from '../../helpers/command.js';
import { writeTwentySymbolFile } from '../../helpers/history.js';
import { repoRoot } from '../../helpers/paths.js';
import { eventually } from '../../helpers/test-stack.js';

const startCli = path.join(repoRoot, 'worker/commands/start.ts');

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<void>;
}

/** `npm start` in its own process group (the workers are its children), so SIGKILL takes the whole stack down at once. */
function start(dataDir: string, port: number): Started {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', startCli, '--workers', '1', '--port', String(port), '--data-dir', dataDir, '--reconcile-grace', '0'],
    {
      cwd: repoRoot,
      env: process.env,
      detached: true,
    },
  );
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, output: () => out, exited };
}

const reconciledLine = (out: string): Record<string, unknown> | undefined => {
  const line = out.split('\n').find((l) => l.includes('"event":"stack.reconciled"'));
  return line ? (JSON.parse(line.slice(line.indexOf('{'))) as Record<string, unknown>) : undefined;
};

async function manifestsByKey(s3: S3Client): Promise<Map<string, RunManifest>> {
  const out = new Map<string, RunManifest>();
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: LOCAL_STACK.bucket, Prefix: PREFIX.runs }));
  for (const o of listed.Contents ?? []) {
    if (!o.Key!.endsWith('/manifest.json')) continue;
    const body = await s3.send(new GetObjectCommand({ Bucket: LOCAL_STACK.bucket, Key: o.Key! }));
    const m = JSON.parse(await body.Body!.transformToString()) as RunManifest;
    out.set(m.input.key, m);
  }
  return out;
}

describe('npm start after a SIGKILL: queued and in-flight uploads resume, nothing is left to reconcile', function () {
  this.timeout(240_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'restart-'));
  const dataDir = path.join(dir, 'data');
  let running: Started | undefined;
  let s3: S3Client | undefined;
  after(async () => {
    s3?.destroy();
    if (running && running.child.exitCode === null) {
      process.kill(-running.child.pid!, 'SIGKILL');
      await running.exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('every upload ends with a manifest after kill -9 and a restart on the same data folder', async () => {
    try {
      await restartScenario();
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- npm start's output (tail) ---\n${running?.output().slice(-4000) ?? ''}`, { cause: err });
    }
  });

  async function restartScenario(): Promise<void> {
    const file = path.join(dir, 'twenty.csv');
    await writeTwentySymbolFile(file);
    const body = fs.readFileSync(file);

    const first = start(dataDir, 0);
    running = first;
    const endpoint = await eventually(
      async () => /endpoint {3}(http:\/\/127\.0\.0\.1:\d+)/.exec(first.output())?.[1],
      'the first start to print its endpoint',
      120_000,
    );
    const port = Number(new URL(endpoint).port);
    s3 = makeS3Client(localClientSettings(endpoint));
    const keys = ['a', 'b', 'c', 'd'].map((n) => `incoming/restart/${n}.csv`);
    for (const key of keys) await s3.send(new PutObjectCommand({ Bucket: LOCAL_STACK.bucket, Key: key, Body: body }));
    await eventually(async () => (first.output().includes('"event":"run.started"') ? true : undefined), 'a run in flight', 120_000);

    process.kill(-first.child.pid!, 'SIGKILL');
    await first.exited;
    s3.destroy();

    const second = start(dataDir, port);
    running = second;
    await eventually(async () => (second.output().includes('Ctrl-C stops') ? true : undefined), 'the second start', 120_000);
    s3 = makeS3Client(localClientSettings(endpoint));
    const report = await eventually(async () => reconciledLine(second.output()), 'the start-up reconciliation (after the queue drains)', 200_000, 250);
    expect(report.checked).to.equal(keys.length);

    const client = s3;
    const manifests = await eventually(
      async () => {
        const m = await manifestsByKey(client);
        return keys.every((k) => m.get(k)?.status === 'succeeded') ? m : undefined;
      },
      'a manifest for every upload',
      120_000,
      250,
    );
    expect([...manifests.keys()].sort()).to.deep.equal(keys);
    const resumed = second
      .output()
      .split('\n')
      .filter((l) => l.includes('"event":"run.succeeded"')).length;
    expect(resumed, 'the queued uploads (and the one in flight, after its visibility timeout) ran after the restart').to.be.at.least(keys.length - 1);

    const reconciled = await runInProcess(reconcileMain, ['--endpoint-url', endpoint, '--grace', '0']);
    expect(reconciled.code, reconciled.stderr).to.equal(0);
    expect(reconciled.stdout.trim().split('\n').at(-1)).to.equal('0 missing');

    second.child.kill('SIGINT');
    await second.exited;
    expect(second.child.exitCode).to.equal(0);
  }
});
