import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { expect } from 'chai';
import { DAILY_PREDS_KEY, predictionsKey } from '../../shared/layout.js';
import type { RunManifest } from '../../shared/manifest.js';
import { WORKER_ENV } from '../../shared/worker-env.js';
import { main as modelMain } from '../../worker/commands/model.js';
import { makeS3Client } from '../../worker/runtime/aws-clients.js';
import { runInProcess } from '../helpers/command.js';
import { REQUEST_LOG_FILE, shared } from '../helpers/paths.js';
import { eventually, inProcessWorker, readJson, runsWith, startTestStack, type TestStack } from '../helpers/test-stack.js';

const TEST_CSV = fs.readFileSync(shared('data/crypto_test.csv'));

/**
 * What each principal does that the rest of the suite does not: the team's upload and read, the `model` command, a
 * worker under ECS (scale-in protection). Their requests are recorded with everyone else's for the IAM check.
 */
describe('principals at work (recorded for the IAM check)', () => {
  let stack: TestStack;
  let agent: http.Server;
  const protectionCalls: unknown[] = [];
  before(async () => {
    stack = await startTestStack();
    agent = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => (protectionCalls.push(JSON.parse(body)), res.writeHead(200).end('{}')));
    });
    await new Promise<void>((r) => agent.listen(0, '127.0.0.1', r));
  });
  after(async () => {
    agent.close();
    await stack?.close();
  });

  it('records requests: the suite runs with AWS_REQUEST_LOG set', () => {
    expect(process.env[WORKER_ENV.requestLog]).to.equal(REQUEST_LOG_FILE);
  });

  it('the team uploads to test_url and reads pred_url; a worker under ECS protects its task while it runs', async () => {
    const worker = await inProcessWorker(stack, { [WORKER_ENV.ecsAgentUri]: `http://127.0.0.1:${(agent.address() as AddressInfo).port}` });
    const team = makeS3Client({ ...stack.stack.clients, requestLog: { file: REQUEST_LOG_FILE, principal: 'team' } });
    try {
      const key = 'incoming/team/crypto_test.csv';
      const put = await team.send(new PutObjectCommand({ Bucket: stack.stack.bucket, Key: key, Body: TEST_CSV }));
      await stack.stack.settled();
      const etag = (put.ETag ?? '').replace(/"/g, '');
      await eventually(async () => {
        for (const k of await runsWith(stack, 'manifest.json')) if ((await readJson<RunManifest>(stack, k)).input.etag === etag) return true;
        return undefined;
      }, 'the run');
      const preds = await team.send(new GetObjectCommand({ Bucket: stack.stack.bucket, Key: predictionsKey(key) }));
      expect((await preds.Body!.transformToString()).split('\n')[0]).to.equal('symbol,index,date,val_open,pred_open,v_open_scaled,v_open');
      // The file the team points its unchanged frontend at every day.
      const daily = await team.send(new GetObjectCommand({ Bucket: stack.stack.bucket, Key: DAILY_PREDS_KEY }));
      expect((await daily.Body!.transformToString()).split('\n')[0]).to.equal('symbol,index,date,pred_open,val_open');
      expect(protectionCalls).to.deep.include({ ProtectionEnabled: true, ExpiresInMinutes: 60 });
    } finally {
      team.destroy();
      await worker.stop();
    }
  });

  it('an operator lists, publishes, reviews and switches model versions with `npm run model`, and reads the log', async () => {
    const args = ['--endpoint-url', stack.stack.endpoint];
    const list = await runInProcess(modelMain, ['list', ...args]);
    expect(list.stdout).to.contain(`* ${stack.modelVersion}`);
    const publish = await runInProcess(modelMain, ['publish', ...args], { ...process.env, MODEL_DIR: '' });
    expect(publish.code, publish.stderr).to.equal(0);
    const approve = await runInProcess(modelMain, ['approve', stack.modelVersion, '--reason', 'the team model', ...args]);
    expect(approve.code, approve.stderr).to.equal(0);
    const use = await runInProcess(modelMain, ['use', stack.modelVersion, '--reason', 'IAM scenario', ...args]);
    expect(use.stdout).to.equal(`in service: ${stack.modelVersion} (was ${stack.modelVersion})\n`);
    const log = await runInProcess(modelMain, ['log', ...args]);
    expect(log.stdout.trim().split('\n')).to.have.length(3);
  });
});
