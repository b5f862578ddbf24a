import fs from 'node:fs';
import { expect } from 'chai';
import { MODEL_POINTER_KEY } from '../../../shared/layout.js';
import type { RunManifest } from '../../../shared/manifest.js';
import { main as modelMain } from '../../../worker/commands/model.js';
import { resolveModelFiles } from '../../../worker/cli/model-args.js';
import { accuracyReport } from '../../../worker/ops/accuracy-report.js';
import { publishModelVersion } from '../../../worker/ops/model-publish.js';
import { parseCsvText } from '../../helpers/csv.js';
import { runInProcess } from '../../helpers/command.js';
import { variantWithout } from '../../helpers/model-variant.js';
import { repoRoot, shared } from '../../helpers/paths.js';
import { eventually, inProcessWorker, listKeys, readJson, readText, startTestStack, upload, type TestStack } from '../../helpers/test-stack.js';

const HISTORY = fs.readFileSync(shared('data/crypto_markets_btc_ltc_xrp.csv'), 'utf8').split('\n').filter(Boolean);
const HEADER = HISTORY[0]!;
const SYMBOLS = ['BTC', 'LTC'];
const rowsOf = (symbol: string) => HISTORY.filter((l) => l.split(',')[1] === symbol);
/** A daily upload: the 7 days up to day `last` of BTC and LTC (the last one is the new day). */
const dailyUpload = (last: number) => `${[HEADER, ...SYMBOLS.flatMap((s) => rowsOf(s).slice(last - 6, last + 1))].join('\n')}\n`;

describe('realized accuracy and shadow scoring over daily uploads (embedded stack)', function () {
  this.timeout(240_000);
  let fleet: TestStack;
  let shadow: string;
  const args = () => ['--endpoint-url', fleet.stack.endpoint];
  const days = [300, 301, 302, 303];
  const runs: { name: string; manifest: RunManifest }[] = [];
  let logs: Record<string, unknown>[] = [];

  before(async () => {
    fleet = await startTestStack();
    const { files } = await resolveModelFiles({}, {}, repoRoot);
    shadow = (await publishModelVersion(fleet.objects, variantWithout(files, 'XRP'), MODEL_POINTER_KEY, false)).version;
    const r = await runInProcess(modelMain, ['shadow', shadow, '--reason', 'compare on live uploads', ...args()]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.equal(`in shadow: ${shadow}\n`);
    const worker = await inProcessWorker(fleet);
    try {
      for (const d of days) {
        const name = `day-${d}`;
        const key = `incoming/acc/${name}.csv`;
        const etag = await upload(fleet, key, dailyUpload(d));
        const manifest = await eventually(
          async () => {
            for (const k of await listKeys(fleet, 'runs/')) {
              if (!k.endsWith('/manifest.json')) continue;
              const m = await readJson<RunManifest>(fleet, k);
              if (m.input.key === key && m.input.etag === etag) return m;
            }
            return undefined;
          },
          `the run of ${key}`,
          120_000,
        );
        // The accuracy record follows the manifest within the same message.
        await eventually(
          async () => ((await listKeys(fleet, `accuracy/`)).some((k) => k.endsWith(`/${manifest.runId}.json`)) ? true : undefined),
          `accuracy of ${name}`,
        );
        runs.push({ name, manifest });
      }
    } finally {
      await worker.stop();
      logs = worker.logs;
    }
  });
  after(async () => fleet?.close());

  /** By hand, from the published predictions: each day's last row per symbol, its pred_open against its open; naive = the day before's open. */
  async function handScored(predsKey: (run: { name: string; manifest: RunManifest }) => string) {
    const errors: number[] = [];
    const naive: number[] = [];
    const perDay: { err: number; naive: number }[] = [];
    for (const run of runs) {
      const rows = await parseCsvText(await readText(fleet, predsKey(run)));
      let e = 0;
      let n = 0;
      for (const s of SYMBOLS) {
        const mine = rows.filter((r) => r.symbol === s);
        const [before, last] = [mine.at(-2)!, mine.at(-1)!];
        errors.push(Math.abs(Number(last.pred_open) - Number(last.val_open)));
        naive.push(Math.abs(Number(before.val_open) - Number(last.val_open)));
        e += errors.at(-1)!;
        n += naive.at(-1)!;
      }
      perDay.push({ err: e, naive: n });
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    let worse = 0;
    for (const d of [...perDay].reverse()) {
      if (d.err > d.naive) worse++;
      else break;
    }
    return { mad: mean(errors), naiveMad: mean(naive), worse };
  }

  it('records the realized MAD of the version in service as computed by hand from the forecasts and actuals', async () => {
    const lastDate = rowsOf('BTC')[days.at(-1)!]!.split(',')[3]!;
    const report = await accuracyReport(fleet.objects, 30, lastDate);
    const served = report.versions.find((v) => v.version === fleet.modelVersion)!;
    const hand = await handScored((r) => `predictions/acc/${r.name}_preds.csv`);
    expect(served).to.include({ n: 8, days: 4, lastDate, worseDays: hand.worse });
    expect(served.roles).to.deep.equal(['in-service']);
    expect(Math.abs(served.mad - hand.mad)).to.be.below(1e-9 * hand.mad);
    expect(Math.abs(served.naiveMad - hand.naiveMad)).to.be.below(1e-9 * hand.naiveMad);

    const printed = await runInProcess(modelMain, ['accuracy', '--days', '30', '--to', lastDate, ...args()]);
    expect(printed.code, printed.stderr).to.equal(0);
    expect(printed.stdout).to.contain(
      `${fleet.modelVersion}  in-service  MAD ${hand.mad.toPrecision(6)}  naive ${hand.naiveMad.toPrecision(6)}  8 forecasts over 4 days`,
    );

    const recorded = logs.filter((l) => l.event === 'accuracy.recorded');
    expect(recorded).to.have.length(4);
    expect(recorded.every((l) => l.version === fleet.modelVersion && typeof l.worseDays === 'number')).to.equal(true);
    expect(recorded.at(-1)!.worseDays).to.equal(hand.worse);
  });

  it('runs the shadow version on every upload: its outputs beside the published ones, its accuracy accrued under its own id', async () => {
    for (const run of runs) {
      const published = await readText(fleet, `predictions/acc/${run.name}_preds.csv`);
      expect(published, "the published predictions are the version in service's").to.equal(await readText(fleet, `runs/${run.manifest.runId}/preds.csv`));
      expect(run.manifest.model.version).to.equal(fleet.modelVersion);
      const shadowPreds = await readText(fleet, `runs/${run.manifest.runId}/shadow/${shadow}/preds.csv`);
      expect(shadowPreds.split('\n')[0]).to.equal('symbol,index,date,val_open,pred_open,v_open_scaled,v_open');
    }
    const lastDate = rowsOf('BTC')[days.at(-1)!]!.split(',')[3]!;
    const report = await accuracyReport(fleet.objects, 30, lastDate);
    const mine = report.versions.find((v) => v.version === shadow)!;
    const hand = await handScored((r) => `runs/${r.manifest.runId}/shadow/${shadow}/preds.csv`);
    expect(mine).to.include({ n: 8, days: 4 });
    expect(mine.roles).to.deep.equal(['shadow']);
    expect(Math.abs(mine.mad - hand.mad)).to.be.below(1e-9 * hand.mad);

    const off = await runInProcess(modelMain, ['shadow', '--off', '--reason', 'enough days', ...args()]);
    expect(off.stdout).to.equal(`shadow off: ${shadow}\n`);
    const log = await runInProcess(modelMain, ['log', ...args()]);
    expect(log.stdout).to.match(/shadow {3}/);
    expect(log.stdout).to.contain('unshadow');
  });
});
