import fs from 'node:fs';
import { Readable } from 'node:stream';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { expect } from 'chai';
import { initBackend } from '../../../model/backend.js';
import { predictCsv, type PredictionResult } from '../../../model/engine.js';
import { createInference } from '../../../model/inference.js';
import { loadModelFromSources } from '../../../model/model-store.js';
import { nextDay } from '../../../model/predictions.js';
import type { InferenceEngine, LoadedModel } from '../../../model/types.js';
import { DAILY_PREDS_KEY, forecastsKey, runKey, uploadStatusKey } from '../../../shared/layout.js';
import type { ForecastManifest, RunError, RunManifest, UploadStatus } from '../../../shared/manifest.js';
import { dayNumber, HistoryStore, isoDay } from '../../../worker/runtime/history.js';
import { main as trigger } from '../../../worker/commands/trigger.js';
import { runInProcess } from '../../helpers/command.js';
import { parseCsvText } from '../../helpers/csv.js';
import { shared } from '../../helpers/paths.js';
import { eventually, inProcessWorker, listKeys, readJson, readText, runsWith, startTestStack, upload, type TestStack } from '../../helpers/test-stack.js';

const [HEADER, ...LINES] = fs.readFileSync(shared('data/crypto_markets_btc_ltc_xrp.csv'), 'utf8').trim().split('\n');
const DATE = HEADER!.split(',').indexOf('date');
const OPEN = HEADER!.split(',').indexOf('open');
const dateOf = (line: string) => line.split(',')[DATE]!;
const fileOf = (lines: string[]) => `${[HEADER, ...lines].join('\n')}\n`;
const DAYS = Array.from({ length: 10 }, (_, i) => isoDay(dayNumber('2018-01-01') + i));
const upTo = (day: string) => LINES.filter((l) => dateOf(l) <= day);
const on = (day: string) => LINES.filter((l) => dateOf(l) === day);

/** SPEC §7 tolerances. */
function near(actual: number, expected: number, what: string, scale = true): void {
  expect(Math.abs(actual - expected), `${what}: ${actual} vs ${expected}`).to.be.at.most(scale ? 1e-4 * Math.max(1, Math.abs(expected)) : 1e-4);
}

describe('daily uploads on the embedded stack: history-fed windows, forecasts, the daily file', function () {
  this.timeout(240_000);
  let fleet: TestStack;
  let workers: Awaited<ReturnType<typeof inProcessWorker>>[];
  let model: LoadedModel;
  let inference: InferenceEngine;
  const reference = new Map<string, PredictionResult>();
  const lastRuns: RunManifest[] = [];

  /** Predictions from the full history up to `day`, in one file (no store involved). */
  async function full(day: string): Promise<PredictionResult> {
    let r = reference.get(day);
    if (!r) reference.set(day, (r = await predictCsv(Readable.from([Buffer.from(fileOf(upTo(day)))]), model, inference, { mode: 'anchored' })));
    return r;
  }

  async function runOf(key: string, etag: string): Promise<RunManifest> {
    const status = await eventually(
      async () => {
        try {
          const s = await readJson<UploadStatus>(fleet, uploadStatusKey(fleet.stack.bucket, key, etag));
          return s.status === 'succeeded' ? s : undefined;
        } catch {
          return undefined;
        }
      },
      `the run of ${key}`,
      120_000,
    );
    return readJson<RunManifest>(fleet, runKey(status.runId, 'manifest'));
  }

  /** The run's predictions and forecast against the full-history ones of the same rows. */
  async function expectLikeFull(m: RunManifest, day: string, days: string[]): Promise<void> {
    const ref = await full(day);
    const preds = await parseCsvText(await readText(fleet, m.outputs.preds.key));
    expect(preds.map((p) => `${p.symbol} ${p.index} ${p.date}`).sort()).to.deep.equal(
      ['BTC', 'LTC', 'XRP'].flatMap((s) => days.map((d, i) => `${s} ${i} ${d}`)).sort(),
    );
    for (const p of preds) {
      const f = ref.predictions.find((r) => r.symbol === p.symbol && r.date === p.date)!;
      expect(p.val_open, 'the input value unchanged').to.equal(f.valOpen);
      near(Number(p.v_open_scaled), f.vOpenScaled, `${p.symbol} ${p.date} v_open_scaled`, false);
      near(Number(p.pred_open), f.predOpen, `${p.symbol} ${p.date} pred_open`);
    }
    const forecasts = await parseCsvText(await readText(fleet, m.outputs.forecast.key));
    expect(forecasts).to.have.length(3);
    for (const f of forecasts) {
      const g = ref.forecasts.find((r) => r.symbol === f.symbol)!;
      expect([f.last_date, f.date]).to.deep.equal([day, nextDay(day)]);
      near(Number(f.forecast_open), g.forecastOpen, `${f.symbol} forecast after ${day}`);
    }
  }

  async function sendForecast(body: Record<string, unknown>): Promise<void> {
    await fleet.sqs.send(new SendMessageCommand({ QueueUrl: fleet.stack.queueUrl, MessageBody: JSON.stringify(body) }));
  }

  async function forecastManifests(): Promise<ForecastManifest[]> {
    const keys = (await runsWith(fleet, 'manifest.json')).filter((k) => k.startsWith('runs/forecast-'));
    return Promise.all(keys.map((k) => readJson<ForecastManifest>(fleet, k)));
  }

  before(async () => {
    await initBackend();
    model = await loadModelFromSources(shared('model_out/model.h5'), shared('model_out/scaler.pkl'));
    inference = createInference(model, 'fast');
    fleet = await startTestStack({ visibilityTimeoutSeconds: 20 });
    workers = [await inProcessWorker(fleet), await inProcessWorker(fleet)];
  });
  after(async () => {
    for (const w of workers ?? []) await w.stop();
    await fleet?.close();
  });

  it('adds a full upload to the history (no history read: it holds every row its windows need)', async () => {
    const key = 'incoming/history/upto-2017-12-31.csv';
    const m = await runOf(key, await upload(fleet, key, fileOf(upTo('2017-12-31'))));
    expect(m.history!.read).to.deep.equal([]);
    expect(m.history!.written.length).to.be.greaterThan(50);
    for (const w of m.history!.written) expect(w.key).to.match(/^history\/segments\/\d{4}-\d{2}\/.*\.csv$/) && expect(w.etag).to.match(/^[0-9a-f]{32}$/);
    const ref = await full('2017-12-31');
    const preds = await parseCsvText(await readText(fleet, m.outputs.preds.key));
    expect(preds).to.have.length(ref.predictions.length);
  });

  it('predicts each of ten daily one-row-per-symbol uploads as the full history up to that day does', async () => {
    for (const day of DAYS) {
      const key = `incoming/daily/${day}.csv`;
      const m = await runOf(key, await upload(fleet, key, fileOf(on(day))));
      await expectLikeFull(m, day, [day]);
      for (const s of m.symbols)
        expect(s.status === 'ok' && s.history, `${s.symbol} on ${day}`).to.deep.equal({ rows: 6, lastDate: isoDay(dayNumber(day) - 1) });
      expect(m.history!.read.length, 'a bounded read: the segments of the week before').to.be.within(1, 8);
      expect(m.history!.written).to.have.length(1);
      lastRuns.push(m);
    }
  });

  it('keeps daily/latest_preds.csv: the last 60 days x every symbol, one step ahead from the history before each day', async () => {
    const rows = await parseCsvText(await readText(fleet, DAILY_PREDS_KEY));
    expect(Object.keys(rows[0]!)).to.deep.equal(['symbol', 'index', 'date', 'pred_open', 'val_open']);
    const first = isoDay(dayNumber('2018-01-10') - 59);
    for (const s of ['BTC', 'LTC', 'XRP']) {
      const mine = rows.filter((r) => r.symbol === s);
      expect(mine.map((r) => r.date)).to.deep.equal(Array.from({ length: 60 }, (_, i) => isoDay(dayNumber(first) + i)));
      expect(mine.map((r) => Number(r.index))).to.deep.equal([...Array(60).keys()]);
    }
    const ref = await full('2018-01-10');
    for (const r of rows) {
      const f = ref.predictions.find((p) => p.symbol === r.symbol && p.date === r.date)!;
      expect(r.val_open).to.equal(f.valOpen);
      near(Number(r.pred_open), f.predOpen, `daily ${r.symbol} ${r.date}`);
    }
    // The day's number is the forecast made at the previous close.
    const jan9 = await parseCsvText(await readText(fleet, lastRuns[8]!.outputs.forecast.key));
    for (const f of jan9)
      near(Number(rows.find((r) => r.symbol === f.symbol && r.date === '2018-01-10')!.pred_open), Number(f.forecast_open), `${f.symbol} 2018-01-10`);
  });

  it('forecasts on command as the last daily run did, once per command and history state', async () => {
    await sendForecast({ command: 'forecast', asOf: '2018-01-10' });
    const [m] = await eventually(async () => ((await forecastManifests()).length === 1 ? forecastManifests() : undefined), 'the forecast manifest');
    expect([m!.asOf, m!.forecastDate, m!.gaps.length, m!.fromPreviousDay]).to.deep.equal(['2018-01-10', '2018-01-11', 0, undefined]);
    expect(m!.history.read.length).to.be.within(1, 8);
    const published = await parseCsvText(await readText(fleet, forecastsKey('2018-01-11')));
    const daily = await parseCsvText(await readText(fleet, lastRuns.at(-1)!.outputs.forecast.key));
    expect(published).to.deep.equal(daily.sort((a, b) => (a.symbol! < b.symbol! ? -1 : 1)));
    await sendForecast({ command: 'forecast', asOf: '2018-01-10' });
    await eventually(
      async () => (workers.some((w) => w.logs.some((l) => l.event === 'forecast.already-complete')) ? true : undefined),
      'the repeated forecast to be a no-op',
    );
    expect(await forecastManifests()).to.have.length(1);
  });

  it('says so when the day that just closed has no upload yet: the forecast is from the previous day, with each gap', async () => {
    // Sent now, the command means the day before today; the history ends on 2018-01-10.
    await sendForecast({ command: 'forecast', asOf: '2018-01-12' });
    const m = await eventually(async () => (await forecastManifests()).find((f) => f.asOf === '2018-01-12'), 'the forecast as of 2018-01-12');
    expect(m.gaps).to.deep.equal(['BTC', 'LTC', 'XRP'].map((symbol) => ({ symbol, lastDate: '2018-01-10', gapDays: 2 })));
    const rows = await parseCsvText(await readText(fleet, forecastsKey('2018-01-13')));
    const daily = (await parseCsvText(await readText(fleet, lastRuns.at(-1)!.outputs.forecast.key))).sort((a, b) => (a.symbol! < b.symbol! ? -1 : 1));
    expect(rows.map((r) => [r.symbol, r.last_date, r.date, r.forecast_open])).to.deep.equal(
      daily.map((r) => [r.symbol, '2018-01-10', '2018-01-13', r.forecast_open]),
    );
    // The schedule's message has no asOf: the latest day in the history.
    await sendForecast({ command: 'forecast' });
    const late = await eventually(async () => (await forecastManifests()).find((f) => f.command.asOf === undefined), 'a forecast without asOf');
    expect([late.asOf, late.forecastDate]).to.deep.equal(['2018-01-10', '2018-01-11']);
    expect(late.fromPreviousDay).to.deep.equal({ expectedAsOf: isoDay(dayNumber(new Date().toISOString().slice(0, 10)) - 1), latestInHistory: '2018-01-10' });
  });

  it('changes nothing when a day is uploaded twice', async () => {
    const store = new HistoryStore(fleet.objects);
    const before = await store.range('BTC', dayNumber('2017-12-01'), dayNumber('2018-01-10'));
    const daily = await fleet.objects.head(DAILY_PREDS_KEY);
    const key = 'incoming/daily/2018-01-10-again.csv';
    const m = await runOf(key, await upload(fleet, key, fileOf(on('2018-01-10'))));
    await expectLikeFull(m, '2018-01-10', ['2018-01-10']);
    const after = await store.range('BTC', dayNumber('2017-12-01'), dayNumber('2018-01-10'));
    expect(after.rows).to.deep.equal(before.rows);
    expect((await fleet.objects.head(DAILY_PREDS_KEY))!.etag, 'the daily file is not rewritten').to.equal(daily!.etag);
  });

  it('predicts two days in one upload as the full history does, and two daily files on two workers at once lose nothing', async () => {
    const pair = ['2018-01-11', '2018-01-12'];
    const key = 'incoming/daily/two-days.csv';
    const m = await runOf(key, await upload(fleet, key, fileOf([...on(pair[0]!), ...on(pair[1]!)])));
    await expectLikeFull(m, pair[1]!, pair);
    const both = ['2018-01-13', '2018-01-14'];
    const etags = await Promise.all(both.map((d) => upload(fleet, `incoming/daily/${d}.csv`, fileOf(on(d)))));
    const runs = await Promise.all(both.map((d, i) => runOf(`incoming/daily/${d}.csv`, etags[i]!)));
    await expectLikeFull(runs[0]!, both[0]!, [both[0]!]);
    // The second day's run may have read the history before the first day's rows were added: it says so (a gap).
    const second = runs[1]!;
    const gap = second.symbols.some((s) => s.status === 'ok' && s.history?.gapDays === 2);
    if (!gap) await expectLikeFull(second, both[1]!, [both[1]!]);
    const store = new HistoryStore(fleet.objects);
    const read = await store.range('XRP', dayNumber('2018-01-10'), dayNumber('2018-01-14'));
    expect(read.rows.get('XRP')!.map((r) => [isoDay(r.day), r.openText])).to.deep.equal(
      DAYS.slice(9)
        .concat(pair, both)
        .map((d) => [
          d,
          on(d)
            .find((l) => l.includes(',XRP,'))!
            .split(',')[OPEN],
        ]),
    );
    // Whatever the order, the daily file is computed from every row.
    const rows = await eventually(async () => {
      const r = await parseCsvText(await readText(fleet, DAILY_PREDS_KEY));
      return r.some((x) => x.date === '2018-01-14') ? r : undefined;
    }, 'the daily file to reach 2018-01-14');
    const ref = await full('2018-01-14');
    for (const r of rows.filter((x) => x.date >= '2018-01-10'))
      near(Number(r.pred_open), ref.predictions.find((p) => p.symbol === r.symbol && p.date === r.date)!.predOpen, `daily ${r.symbol} ${r.date}`);
  });

  it('applies a corrected day: its row changes, and so do the later forecasts', async () => {
    const corrected = on('2018-01-14').map((l) => {
      const cells = l.split(',');
      cells[OPEN] = String(Number(cells[OPEN]) * 1.05);
      return cells.join(',');
    });
    const before = await parseCsvText(
      await readText(
        fleet,
        (await runOf('incoming/daily/2018-01-14.csv', (await fleet.objects.head('incoming/daily/2018-01-14.csv'))!.etag)).outputs.forecast.key,
      ),
    );
    const key = 'incoming/daily/2018-01-14-fix.csv';
    const m = await runOf(key, await upload(fleet, key, fileOf(corrected)));
    const store = new HistoryStore(fleet.objects);
    const btc = (await store.range('BTC', dayNumber('2018-01-14'), dayNumber('2018-01-14'))).rows.get('BTC')!;
    expect(btc[0]!.openText).to.equal(corrected.find((l) => l.includes(',BTC,'))!.split(',')[OPEN]);
    const after = await parseCsvText(await readText(fleet, m.outputs.forecast.key));
    for (const f of after) expect(f.forecast_open).to.not.equal(before.find((b) => b.symbol === f.symbol)!.forecast_open);
    // The next day's upload reads the corrected row.
    const next = 'incoming/daily/2018-01-15.csv';
    const n = await runOf(next, await upload(fleet, next, fileOf(on('2018-01-15'))));
    const ref = await predictCsv(Readable.from([Buffer.from(fileOf([...upTo('2018-01-13'), ...corrected, ...on('2018-01-15')]))]), model, inference, {
      mode: 'anchored',
    });
    for (const p of await parseCsvText(await readText(fleet, n.outputs.preds.key)))
      near(Number(p.pred_open), ref.predictions.find((r) => r.symbol === p.symbol && r.date === p.date)!.predOpen, `${p.symbol} after the fix`);
    // The daily file shows the corrected row, and the days after it predicted from it.
    const daily = await parseCsvText(await readText(fleet, DAILY_PREDS_KEY));
    for (const r of daily.filter((x) => x.date >= '2018-01-14')) {
      const f = ref.predictions.find((p) => p.symbol === r.symbol && p.date === r.date)!;
      expect(r.val_open).to.equal(f.valOpen);
      near(Number(r.pred_open), f.predOpen, `daily ${r.symbol} ${r.date} after the fix`);
    }
    // A forecast command after the correction runs again (another history digest).
    await sendForecast({ command: 'forecast', asOf: '2018-01-14' });
    const f = await eventually(async () => (await forecastManifests()).find((x) => x.asOf === '2018-01-14'), 'the forecast as of the corrected day');
    expect(f.history.read.some((o) => o.key.includes(m.runId))).to.equal(true);
  });

  it('sends the forecast command with npm run trigger (the target flags of dlq), refusing a day that is not one', async () => {
    const bad = await runInProcess(trigger, ['forecast', '--as-of', '2018-02-30', '--endpoint-url', fleet.stack.endpoint]);
    expect([bad.code, bad.stderr]).to.deep.equal([2, 'trigger: --as-of must be a day written YYYY-MM-DD; got "2018-02-30"\n']);
    expect((await runInProcess(trigger, ['retrain', '--endpoint-url', fleet.stack.endpoint])).code).to.equal(2);
    const r = await runInProcess(trigger, ['forecast', '--as-of', '2018-01-15', '--endpoint-url', fleet.stack.endpoint]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^sent \{"command":"forecast","asOf":"2018-01-15"\} to http:\/\/.+ \(message .+\)\n$/);
    const m = await eventually(async () => (await forecastManifests()).find((f) => f.asOf === '2018-01-15'), 'the triggered forecast');
    expect(m.gaps).to.deep.equal([]);
    const rows = await parseCsvText(await readText(fleet, forecastsKey('2018-01-16')));
    expect(rows.map((x) => x.symbol)).to.deep.equal(['BTC', 'LTC', 'XRP']);
  });

  it('adds the rows of an upload of only new symbols, which predicts nothing', async () => {
    const key = 'incoming/daily/new-symbols.csv';
    const etag = await upload(fleet, key, `${HEADER}\nnewcoin,NEWC,New Coin,2018-01-15,900,1.5,1.6,1.4,1.55,100,1000000,0.75,0.2\n`);
    const e = await eventually(async () => {
      for (const k of await runsWith(fleet, 'error.json')) {
        const r = await readJson<RunError>(fleet, k);
        if (r.input.key === key && r.input.etag === etag) return r;
      }
      return undefined;
    }, 'the error record');
    expect(e.error.message).to.match(/nothing to predict/);
    expect(e.history!.written).to.have.length(1);
    expect(await listKeys(fleet, e.history!.written[0]!.key)).to.have.length(1);
    const rows = (await new HistoryStore(fleet.objects).range('NEWC', dayNumber('2018-01-15'), dayNumber('2018-01-15'))).rows.get('NEWC')!;
    expect(rows.map((r) => r.openText)).to.deep.equal(['1.5']);
  });
});
