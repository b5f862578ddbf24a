import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { repoRoot } from '../helpers/paths.js';

/** What the worker image compiles and holds, checked without a Docker engine: the build tsconfig and the build context. */
describe('the worker image (tsconfig.build.json, Dockerfile, .dockerignore)', () => {
  let out: string;
  let emitted: string[];
  before(async function () {
    this.timeout(120_000);
    out = fs.mkdtempSync(path.join(os.tmpdir(), 'image-build-'));
    await promisify(execFile)(
      process.execPath,
      [path.join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', path.join(repoRoot, 'tsconfig.build.json'), '--outDir', out],
      { cwd: repoRoot },
    );
    emitted = (fs.readdirSync(out, { recursive: true }) as string[]).filter((f) => f.endsWith('.js')).map((f) => f.split(path.sep).join('/'));
  });
  after(() => fs.rmSync(out, { recursive: true, force: true }));

  it('compiles the worker entry and the runtime, engine and shared code it imports', () => {
    expect(emitted).to.include.members([
      'worker/commands/worker.js',
      'worker/runtime/run.js',
      'worker/runtime/consumer.js',
      'model/engine.js',
      'model/inference-thread.js',
      'shared/layout.js',
    ]);
  });

  it('emits nothing of the local stack, operator commands, flag parsing, infra or tests', () => {
    const outside = emitted.filter((f) => /^(worker\/(local|ops|cli)\/|infra\/|test\/)/.test(f));
    expect(emitted).to.include('worker/tasks/reconcile.js');
    expect(outside).to.deep.equal([]);
    const commands = emitted.filter((f) => f.startsWith('worker/commands/'));
    // Only the entries of what runs on AWS: the worker and the one-off tasks.
    for (const c of commands) expect(c, c).to.match(/^worker\/commands\/(worker|train-task|reconcile-task)\.js$/);
    expect(commands).to.include.members(['worker/commands/reconcile-task.js', 'worker/commands/train-task.js']);
    expect(emitted).to.include.members(['worker/tasks/train.js', 'model/train/train.js']);
  });

  it('sends only those sources to the Docker build', () => {
    const ignored = fs
      .readFileSync(path.join(repoRoot, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    expect(ignored).to.include.members(['test', 'infra', 'worker/local', 'worker/ops', 'worker/cli', 'node_modules', '.local']);
    const dockerfile = fs.readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');
    const copied = [...dockerfile.matchAll(/^COPY (?!--from)(\S+)/gm)].map((m) => m[1]);
    expect(copied).to.deep.equal([
      'package.json',
      'tsconfig.json',
      'shared',
      'model',
      'worker/runtime',
      'worker/tasks',
      'worker/commands',
      'package.json',
      'package.json',
    ]);
    expect(dockerfile).to.match(/npx tsc -p tsconfig\.build\.json/);
    expect(dockerfile).to.match(/^FROM \$\{NODE_IMAGE\}/m);
    expect(dockerfile).to.match(/^ARG NODE_IMAGE=node:24-bookworm-slim$/m);
  });
});
