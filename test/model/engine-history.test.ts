import fs from 'node:fs';
import { Readable } from 'node:stream';
import { expect } from 'chai';
import { initBackend } from '../../model/backend.js';
import { predictCsv, predictSeries, type PriorLoader, type PriorRow } from '../../model/engine.js';
import { createInference } from '../../model/inference.js';
import { daysFromCivil } from '../../model/input-table.js';
import { loadModelFromSources } from '../../model/model-store.js';
import type { InferenceEngine, LoadedModel } from '../../model/types.js';
import { shared } from '../helpers/paths.js';

const FULL = shared('data/crypto_markets_btc_ltc_xrp.csv');
const dayOf = (iso: string) => daysFromCivil(Number(iso.slice(0, 4)), Number(iso.slice(5, 7)), Number(iso.slice(8, 10)));
const close = (actual: number, expected: number, tol: number, what: string) =>
  expect(Math.abs(actual - expected), `${what}: ${actual} vs ${expected}`).to.be.at.most(tol);

/** The file's data lines split at a date: before it (the "history") and from it on (the "upload"). */
function split(text: string, firstUploaded: string): { header: string; before: string[]; after: string[] } {
  const [header, ...lines] = text.trim().split('\n');
  const dateCol = header!.split(',').indexOf('date');
  return {
    header: header!,
    before: lines.filter((l) => l.split(',')[dateCol]! < firstUploaded),
    after: lines.filter((l) => l.split(',')[dateCol]! >= firstUploaded),
  };
}

function priorRows(header: string, lines: string[]): Map<string, PriorRow[]> {
  const cols = header.split(',');
  const at = (cells: string[], name: string) => cells[cols.indexOf(name)]!;
  const out = new Map<string, PriorRow[]>();
  for (const l of lines) {
    const c = l.split(',');
    const row = {
      day: dayOf(at(c, 'date')),
      open: Number(at(c, 'open')),
      high: Number(at(c, 'high')),
      low: Number(at(c, 'low')),
      close: Number(at(c, 'close')),
      market: Number(at(c, 'market')),
      openText: at(c, 'open'),
    };
    out.set(at(c, 'symbol'), [...(out.get(at(c, 'symbol')) ?? []), row]);
  }
  for (const rows of out.values()) rows.sort((a, b) => a.day - b.day);
  return out;
}

describe('prediction engine with prior rows (the history feeds the windows)', () => {
  let model: LoadedModel;
  let inference: InferenceEngine;
  const text = fs.readFileSync(FULL, 'utf8');
  const stream = (s: string) => Readable.from([Buffer.from(s)]);

  before(async () => {
    await initBackend();
    model = await loadModelFromSources(shared('model_out/model.h5'), shared('model_out/scaler.pkl'));
    inference = createInference(model, 'fast');
  });

  for (const mode of ['anchored', 'integrated'] as const) {
    it(`predicts the uploaded rows as the full file does (${mode}), indexed from 0, with the previous open from the history`, async () => {
      const full = await predictCsv(stream(text), model, inference, { mode });
      const { header, before, after } = split(text, '2018-01-01');
      const all = priorRows(header, before);
      let asked: ReadonlyMap<string, number> | undefined;
      const prior: PriorLoader = async (firstDays, need) => {
        asked = firstDays;
        return new Map([...firstDays].map(([s, d]) => [s, (all.get(s) ?? []).filter((r) => r.day < d).slice(-need)]));
      };
      const part = await predictCsv(stream([header, ...after].join('\n')), model, inference, { mode, prior });
      expect([...asked!.entries()]).to.have.deep.members([
        ['BTC', dayOf('2018-01-01')],
        ['LTC', dayOf('2018-01-01')],
        ['XRP', dayOf('2018-01-01')],
      ]);
      const fullRows = new Map(full.predictions.map((p) => [`${p.symbol} ${p.date}`, p]));
      for (const p of part.predictions) {
        const f = fullRows.get(`${p.symbol} ${p.date}`)!;
        close(p.vOpenScaled, f.vOpenScaled, 1e-4, `${p.symbol} ${p.date} v_open_scaled`);
        if (mode === 'anchored') close(p.predOpen, f.predOpen, 1e-4 * Math.max(1, Math.abs(f.predOpen)), `${p.symbol} ${p.date} pred_open`);
        expect(p.valOpen).to.equal(f.valOpen);
      }
      const first = part.predictions.filter((p) => p.index === 0);
      expect(first.map((p) => p.date)).to.deep.equal(['2018-01-01', '2018-01-01', '2018-01-01']);
      if (mode === 'integrated') for (const p of first) expect(p.predOpen, 'integrated anchors at the first uploaded row').to.equal(Number(p.valOpen));
      else for (const p of first) expect(p.predOpen).to.not.equal(Number(p.valOpen));
      for (const f of part.forecasts) {
        const g = full.forecasts.find((x) => x.symbol === f.symbol)!;
        close(f.forecastOpen, g.forecastOpen, 1e-4 * Math.max(1, Math.abs(g.forecastOpen)), `${f.symbol} forecast`);
      }
      const btc = part.symbols.find((s) => s.symbol === 'BTC')!;
      expect(btc.status === 'ok' && btc.history).to.deep.equal({ rows: 6, lastDate: '2017-12-31' });
    });
  }

  it('reports a gap in days and fewer rows than a window needs; zero padding where no history exists', async () => {
    const { header, before } = split(text, '2018-01-01');
    const all = priorRows(header, before);
    const upload = [
      header,
      'bitcoin,BTC,Bitcoin,2018-01-03,1,15000,15500,14800,15200,1,250000000000,0.5,700',
      'ripple,XRP,Ripple,2018-01-03,3,2.5,2.6,2.4,2.5,1,90000000000,0.5,0.2',
    ].join('\n');
    const prior: PriorLoader = async (firstDays, need) =>
      new Map([...firstDays].filter(([s]) => s === 'BTC').map(([s, d]) => [s, (all.get(s) ?? []).filter((r) => r.day < d).slice(-need)]));
    const r = await predictCsv(stream(upload), model, inference, { mode: 'anchored', prior });
    const status = Object.fromEntries(r.symbols.map((s) => [s.symbol, s.status === 'ok' ? s.history : undefined]));
    expect(status).to.deep.equal({ BTC: { rows: 6, lastDate: '2017-12-31', gapDays: 3 }, XRP: { rows: 0, fewerThanNeeded: true } });
    const xrp = r.predictions.find((p) => p.symbol === 'XRP')!;
    expect(xrp.predOpen, 'no history: SPEC row 0').to.equal(2.5);
    const noPrior = await predictCsv(stream(upload), model, inference, { mode: 'anchored' });
    expect(noPrior.symbols.every((s) => s.status !== 'ok' || s.history === undefined)).to.equal(true);
    expect(noPrior.predictions.find((p) => p.symbol === 'XRP')!.vOpenScaled).to.equal(xrp.vOpenScaled);
  });

  it('predicts from known rows: the forecast after the last row, and one step ahead for the last days', async () => {
    const full = await predictCsv(stream(text), model, inference, { mode: 'anchored' });
    const { header, before } = split(text, '2018-01-01');
    const all = priorRows(header, before);
    const rows = all.get('LTC')!.slice(-16);
    const r = await predictSeries(
      [
        { symbol: 'LTC', rows, lead: 6 },
        { symbol: 'NEW', rows: rows.slice(-3), lead: 3 },
      ],
      model,
      inference,
    );
    expect(r.unknown).to.deep.equal(['NEW']);
    const ltc = r.predictions[0]!;
    expect(ltc.rows.length).to.equal(10);
    ltc.rows.forEach((row, i) => {
      const f = full.predictions.find((p) => p.symbol === 'LTC' && p.date === new Date(row.day * 86400e3).toISOString().slice(0, 10))!;
      close(ltc.predOpen[i]!, f.predOpen, 1e-4 * Math.max(1, Math.abs(f.predOpen)), `LTC day ${i}`);
    });
    const next = full.predictions.find((p) => p.symbol === 'LTC' && p.date === '2018-01-01')!;
    expect(ltc.forecast.date).to.equal('2018-01-01');
    close(ltc.forecast.forecastOpen, next.predOpen, 1e-4 * Math.max(1, Math.abs(next.predOpen)), 'LTC forecast = next day pred_open');
  });
});
