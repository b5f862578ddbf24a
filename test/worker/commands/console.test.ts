import { expect } from 'chai';
import { main } from '../../../worker/commands/console.js';

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (l: string) => void out.push(l), err: (l: string) => void err.push(l), env: {} as NodeJS.ProcessEnv } };
}

describe('npm run console: flags', () => {
  it('--help prints the usage and exits 0', async () => {
    const t = io();
    expect(await main(['--help'], t.io)).to.equal(0);
    expect(t.out.join('\n')).to.match(/usage: npm run console -- \[--port P\] \[--target aws\]/);
  });

  it('refuses a bad port and names it', async () => {
    const t = io();
    expect(await main(['--port', 'x'], t.io)).to.equal(2);
    expect(t.err.join('\n')).to.equal('console: --port must be an integer from 0 to 65535, got "x"');
  });

  it('--target aws without the stack names says which names are missing', async () => {
    const t = io();
    expect(await main(['--target', 'aws'], t.io)).to.equal(2);
    expect(t.err.join('\n')).to.match(/--target aws needs BUCKET .*WORK_QUEUE_URL.*DLQ_URL/);
  });
});
