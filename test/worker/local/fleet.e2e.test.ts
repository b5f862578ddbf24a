import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { startWorkerProcesses } from '../../../worker/local/fleet.js';

/** Worker processes are stand-ins here (small scripts); the real worker runs in start.test.ts. */
describe('fleet: worker processes for npm start', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const script = (name: string, body: string) => {
    const file = path.join(dir, `${name}.mjs`);
    fs.writeFileSync(file, body);
    return [process.execPath, file];
  };
  const polite = script(
    'polite',
    `console.log(JSON.stringify({ level: 'info', event: 'ready', id: process.env.WORKER_ID, bucket: process.env.BUCKET }));
     console.error('x'.repeat(50000));
     process.on('SIGTERM', () => { console.log('bye'); process.exit(0); });
     setInterval(() => {}, 1000);`,
  );
  const stubborn = script('stubborn', `process.on('SIGTERM', () => console.log('ignoring SIGTERM')); console.log('up'); setInterval(() => {}, 1000);`);
  const crashing = script('crashing', `console.log('starting'); process.exit(3);`);
  const waitFor = async (pred: () => boolean, what: string) => {
    for (let i = 0; i < 200 && !pred(); i++) await new Promise((r) => setTimeout(r, 25));
    expect(pred(), what).to.equal(true);
  };

  it('starts N workers with their own environment and forwards their lines, prefixed and cut to a sane length', async () => {
    const lines: string[] = [];
    const fleet = startWorkerProcesses({
      count: 2,
      command: polite,
      cwd: dir,
      env: (id) => ({ ...process.env, WORKER_ID: id, BUCKET: 'b' }),
      print: (l) => lines.push(l),
    });
    await waitFor(() => lines.filter((l) => l.includes('"event":"ready"')).length === 2 && lines.filter((l) => l.includes('xxxx')).length === 2, 'both ready');
    expect(lines).to.include('[w1] {"level":"info","event":"ready","id":"w1","bucket":"b"}');
    expect(lines).to.include('[w2] {"level":"info","event":"ready","id":"w2","bucket":"b"}');
    const long = lines.find((l) => l.startsWith('[w1] xxx'))!;
    expect(long.length).to.be.below(2100);
    expect(long).to.match(/… \(50000 chars\)$/);
    await fleet.stop(5000);
    expect(lines.filter((l) => l.endsWith('bye'))).to.have.length(2);
    expect(fleet.workers.every((w) => !w.alive())).to.equal(true);
    expect(
      lines.some((l) => l.includes('restarting')),
      'a stop is not a death',
    ).to.equal(false);
  });

  it('reports a worker that dies and starts it again, backing off, as ECS replaces a stopped task', async () => {
    const lines: string[] = [];
    const deaths: string[] = [];
    const fleet = startWorkerProcesses({
      count: 1,
      command: crashing,
      cwd: dir,
      env: () => process.env,
      print: (l) => lines.push(l),
      onDeath: (id, how) => deaths.push(`${id}: ${how}`),
      restartDelayMs: 20,
    });
    expect(await fleet.workers[0].exited).to.equal('exited with code 3');
    await waitFor(() => deaths.length >= 3, 'three deaths reported');
    expect(deaths.slice(0, 3)).to.deep.equal(['w1: exited with code 3', 'w1: exited with code 3', 'w1: exited with code 3']);
    expect(lines).to.include('[w1] exited with code 3; restarting in 20 ms');
    expect(lines).to.include('[w1] exited with code 3; restarting in 40 ms');
    expect(lines.filter((l) => l === '[w1] starting').length, 'started again').to.be.at.least(3);
    await fleet.stop(1000);
    expect(fleet.workers[0].restarts).to.be.at.least(2);
    expect(fleet.workers[0].alive()).to.equal(false);
  });

  it('kills a worker that ignores SIGTERM once the grace period is over', async () => {
    const lines: string[] = [];
    const fleet = startWorkerProcesses({ count: 1, command: stubborn, cwd: dir, env: () => process.env, print: (l) => lines.push(l) });
    await waitFor(() => lines.includes('[w1] up'), 'up');
    await fleet.stop(300);
    expect(await fleet.workers[0].exited).to.equal('killed by SIGKILL');
    expect(lines).to.include('[w1] ignoring SIGTERM');
    expect(lines).to.include('[w1] still running 300 ms after SIGTERM: SIGKILL');
    await fleet.stop(300);
  });
});
