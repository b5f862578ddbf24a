import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { chromium, type Browser, type Page } from 'playwright-core';
import { runKey } from '../../shared/layout.js';
import { API_DEFAULTS } from '../../shared/worker-env.js';
import { startApiServer, type ApiServer } from '../../worker/console/server.js';
import { makeS3Client, makeSqsClient, requestLogFromEnv } from '../../worker/runtime/aws-clients.js';
import { repoRoot, shared } from '../helpers/paths.js';
import { eventually, inProcessWorker, peekDlq, queueCounts, readText, startTestStack, type TestStack } from '../helpers/test-stack.js';

const TEST_CSV_FILE = shared('data/crypto_test.csv');
const SHOTS = path.join(repoRoot, '.local/test-output');

/** MAD as the team's pandas frontend computes it: numpy's mean, Python's round and str. */
function frontendMad(predsCsv: string, symbol: string): string {
  const script = [
    'import csv, io, sys',
    'import numpy as np',
    'rows = [r for r in csv.DictReader(io.StringIO(sys.stdin.read())) if r["symbol"] == sys.argv[1]]',
    'p = np.array([float(r["pred_open"]) for r in rows]); v = np.array([float(r["val_open"]) for r in rows])',
    'print("MAD = " + str(round(np.mean(np.abs(p - v)), 2)))',
  ].join('\n');
  return execFileSync('python3', ['-c', script, symbol], { input: predsCsv, encoding: 'utf8' }).trim();
}

describe('console in headless Chromium: upload, runs, run chart, DLQ redrive', function () {
  this.timeout(240_000);
  let fleet: TestStack;
  let worker: Awaited<ReturnType<typeof inProcessWorker>> | undefined;
  let server: ApiServer;
  let browser: Browser;
  let page: Page;
  const clients: { destroy(): void }[] = [];
  let runId: string;

  before(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    fleet = await startTestStack();
    worker = await inProcessWorker(fleet);
    const log = (principal: string) => {
      const l = requestLogFromEnv(process.env, principal);
      return l ? { ...fleet.stack.clients, requestLog: { ...l, principal } } : fleet.stack.clients;
    };
    // As `npm run console` runs it: the API's handlers and the console's own reads with the operator's credentials.
    const apiS3 = makeS3Client(log('operator'));
    const opS3 = makeS3Client(log('operator'));
    const opSqs = makeSqsClient(log('operator'));
    clients.push(apiS3, opS3, opSqs);
    server = await startApiServer({
      api: { s3: apiS3, config: { bucket: fleet.stack.bucket, maxBodyBytes: API_DEFAULTS.maxBodyBytes, presignSeconds: 300 } },
      console: { s3: opS3, sqs: opSqs, queueUrl: fleet.stack.queueUrl, dlqUrl: fleet.stack.dlqUrl, dlqWaitSeconds: 0, target: 'local' },
    });
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    page.on('pageerror', (err) => console.error(`      page error: ${err.message}`));
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    for (const c of clients) c.destroy();
    await worker?.stop();
    await fleet?.close();
  });

  it('uploads crypto_test.csv through the form and follows its run to succeeded', async () => {
    await page.goto(`${server.url}/#/upload`);
    await page.setInputFiles('#file', TEST_CSV_FILE);
    await page.click('#upload-submit');
    await page.waitForSelector('#upload-status.status-succeeded', { timeout: 120_000 });
    const link = await page.getAttribute('#run-link', 'href');
    runId = link!.replace('#/run/', '');
    await page.screenshot({ path: path.join(SHOTS, 'console-upload.png') });
    const manifest = JSON.parse(await readText(fleet, runKey(runId, 'manifest')));
    expect(manifest.input.key).to.match(/^incoming\/api\/[0-9a-f-]{36}\.csv$/);
    expect(manifest.input.sha256).to.equal((await import('node:crypto')).createHash('sha256').update(fs.readFileSync(TEST_CSV_FILE)).digest('hex'));
  });

  it('the runs page lists it, newest first, with its symbols and model', async () => {
    await page.goto(`${server.url}/#/runs`);
    const row = page.locator('#runs-table tbody tr').first();
    await row.waitFor();
    const cells = await row.locator('td').allTextContents();
    expect(cells[0]).to.equal(runId);
    expect(cells[1]).to.match(/^incoming\/api\/.*\.csv$/);
    expect(cells[2]).to.equal('succeeded');
    expect(Number(cells[3])).to.be.greaterThan(0);
    expect(cells[5]).to.equal(fleet.modelVersion);
    await page.screenshot({ path: path.join(SHOTS, 'console-runs.png') });
  });

  it('the run page draws BTC, titled with the MAD the team frontend computes from the predictions file', async () => {
    await page.goto(`${server.url}/#/run/${runId}`);
    await page.waitForSelector('#chart canvas');
    await page.selectOption('#symbol', 'BTC');
    await page.waitForFunction(() => document.getElementById('chart')?.dataset.symbol === 'BTC');
    const title = (await page.textContent('#mad-title'))!.trim();
    const preds = await readText(fleet, runKey(runId, 'preds'));
    expect(title).to.equal(frontendMad(preds, 'BTC'));
    const btcRows = preds.split('\n').filter((l) => l.startsWith('BTC,')).length;
    expect(await page.getAttribute('#chart', 'data-points')).to.equal(String(btcRows));
    expect(await page.locator('#chart .u-title').textContent()).to.equal(`BTC: ${title}`);
    const shaCells = await page.locator('#manifest-table code').allTextContents();
    const manifest = JSON.parse(await readText(fleet, runKey(runId, 'manifest')));
    expect(shaCells).to.deep.equal([manifest.input.sha256, manifest.outputs.preds.sha256, manifest.outputs.forecast.sha256]);
    expect(await page.locator('#forecast-table tbody tr').count()).to.be.greaterThan(0);
    await page.screenshot({ path: path.join(SHOTS, 'console-run.png'), fullPage: true });
  });

  it('a malformed upload appears on the DLQ page with its reason; redrive from the page moves it back to the work queue', async () => {
    await page.goto(`${server.url}/#/upload`);
    const bad = path.join(SHOTS, 'missing-market.csv');
    fs.writeFileSync(bad, 'symbol,date,open,high,low,close\nBTC,2018-01-01,1,2,0.5,1\n');
    await page.setInputFiles('#file', bad);
    await page.click('#upload-submit');
    await page.waitForSelector('#upload-status.status-failed', { timeout: 60_000 });
    await eventually(async () => ((await peekDlq(fleet)).length === 1 ? true : undefined), 'the message on the DLQ');
    // No worker from here on: the redriven message stays on the work queue to be seen there.
    await worker!.stop();
    worker = undefined;

    await page.goto(`${server.url}/#/dlq`);
    await page.waitForSelector('#dlq-table tbody tr');
    const cells = await page.locator('#dlq-table tbody tr').first().locator('td').allTextContents();
    expect(cells[0]).to.match(/^incoming\/api\/.*\.csv$/);
    expect(cells[1]).to.match(/invalid input: header: required column 'market' missing/);
    expect(Number(cells[3])).to.be.at.least(1);
    await page.screenshot({ path: path.join(SHOTS, 'console-dlq.png') });

    await page.click('#redrive');
    await page.waitForSelector('#redrive-result[data-moved]');
    expect(await page.textContent('#redrive-result')).to.equal('moved 1 message back to the work queue');
    expect(await peekDlq(fleet)).to.have.length(0);
    const work = await queueCounts(fleet, fleet.stack.queueUrl);
    expect(work.visible + work.inFlight).to.equal(1);
    await page.goto(`${server.url}/#/runs`);
    await page.goto(`${server.url}/#/dlq`);
    await page.waitForSelector('#dlq-count');
    expect(await page.textContent('#dlq-count')).to.equal('0 messages');
  });

  it('the models and daily pages render in the browser', async () => {
    await page.goto(`${server.url}/#/models`);
    await page.waitForSelector('#models-table');
    expect(await page.textContent('#model-pointer')).to.include(fleet.modelVersion);
    await page.screenshot({ path: path.join(SHOTS, 'console-models.png') });
    await fleet.objects.put('daily/latest_preds.csv', 'symbol,date,pred_open\nBTC,2018-02-02,9000.5\nLTC,2018-02-02,150.25\n', 'text/csv');
    await page.goto(`${server.url}/#/daily`);
    await page.waitForSelector('main h3');
    expect(await page.locator('main h3').allTextContents()).to.deep.equal(['BTC', 'LTC']);
  });
});
