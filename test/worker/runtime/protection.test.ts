import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { createLogger } from '../../../worker/runtime/log.js';
import { ScaleInProtection } from '../../../worker/runtime/protection.js';

describe('ECS task scale-in protection', () => {
  let server: http.Server;
  let uri: string;
  const calls: { method: string; url: string; body: unknown }[] = [];
  let status = 200;

  before(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        calls.push({ method: req.method!, url: req.url!, body: JSON.parse(body) });
        res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());
  beforeEach(() => {
    calls.length = 0;
    status = 200;
  });

  it('turns protection on while any message is held and off when the last is done', async () => {
    const p = new ScaleInProtection(
      uri,
      createLogger({}, 'error', () => {}),
      { expiresInMinutes: 30 },
    );
    await p.acquire();
    await p.acquire();
    await p.release();
    expect(calls).to.have.length(1);
    await p.release();
    expect(calls).to.deep.equal([
      { method: 'PUT', url: '/task-protection/v1/state', body: { ProtectionEnabled: true, ExpiresInMinutes: 30 } },
      { method: 'PUT', url: '/task-protection/v1/state', body: { ProtectionEnabled: false } },
    ]);
  });

  it('renews a held protection before it lapses, and stops renewing once released', async () => {
    const p = new ScaleInProtection(
      uri,
      createLogger({}, 'error', () => {}),
      { expiresInMinutes: 1, renewEveryMs: 50 },
    );
    await p.acquire();
    const on = (c: (typeof calls)[number]) => (c.body as { ProtectionEnabled: boolean }).ProtectionEnabled;
    for (let i = 0; i < 200 && calls.filter(on).length < 3; i++) await new Promise((r) => setTimeout(r, 10));
    expect(calls.filter(on).length, 'the first call and two renewals').to.be.at.least(3);
    expect(calls.every((c) => !on(c) || (c.body as { ExpiresInMinutes: number }).ExpiresInMinutes === 1)).to.equal(true);
    await p.release();
    const after = calls.length;
    expect(calls.at(-1)!.body).to.deep.equal({ ProtectionEnabled: false });
    expect(p.renewing, 'no renewal scheduled after the release').to.equal(false);
    expect(calls.length).to.equal(after);
  });

  it('logs a refused request and carries on (a lost protection only risks a redelivery)', async () => {
    status = 400;
    const logs: string[] = [];
    const p = new ScaleInProtection(
      uri,
      createLogger({}, 'warn', (l) => void logs.push(l)),
    );
    await p.acquire();
    expect(JSON.parse(logs[0])).to.include({ event: 'scale-in-protection.failed', level: 'warn' });
  });

  it('does nothing without ECS_AGENT_URI (the local stack)', async () => {
    const p = new ScaleInProtection(
      undefined,
      createLogger({}, 'error', () => {}),
    );
    await p.acquire();
    await p.release();
    expect(calls).to.have.length(0);
  });
});
