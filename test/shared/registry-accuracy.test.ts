import { expect } from 'chai';
import { dedupeRows, scoreForecasts, summarize, worseDays, type AccuracyRecord, type DayForecast } from '../../shared/accuracy.js';
import { rollbackTarget, serviceStack, type ChangeLogEntry } from '../../shared/registry.js';
import { ConfigError } from '../../worker/runtime/config.js';
import { defaultAsOf, trainTaskConfigFromEnv } from '../../worker/tasks/train.js';

const entry = (action: ChangeLogEntry['action'], previous: string | null, inService: string | null, version = inService ?? 'x'): ChangeLogEntry => ({
  schema: 'crypto-open-fleet/registry-log/1',
  id: 'i',
  at: 't',
  action,
  principal: 'p',
  version,
  previous,
  inService,
  status: 'approved',
  reason: 'r',
  evidence: {},
});

describe('registry: the versions in service from the change log', () => {
  it('rolls back to the version before, and a second rollback goes further back instead of returning', () => {
    const log = [entry('import', null, null, 'A'), entry('use', null, 'A'), entry('approve', 'A', 'A', 'B'), entry('use', 'A', 'B'), entry('use', 'B', 'C')];
    expect(serviceStack(log)).to.deep.equal(['A', 'B', 'C']);
    expect(rollbackTarget(log, 'C')).to.equal('B');
    const after = [...log, entry('rollback', 'C', 'B')];
    expect(serviceStack(after)).to.deep.equal(['A', 'B']);
    expect(rollbackTarget(after, 'B')).to.equal('A');
    expect(rollbackTarget([...after, entry('rollback', 'B', 'A')], 'A')).to.equal(undefined);
  });

  it('starts from the version that was in service before the log began (a pointer set outside the registry)', () => {
    expect(rollbackTarget([entry('use', 'seed', 'B')], 'B')).to.equal('seed');
  });
});

describe('accuracy: scoring forecasts against actuals (hand-computed)', () => {
  const f = (symbol: string, date: string, version: string, forecast: number, naive: number): DayForecast => ({
    symbol,
    date,
    version,
    role: 'in-service',
    forecast,
    naive,
  });
  const actuals = new Map([
    [
      'BTC',
      new Map([
        ['2020-01-02', 100],
        ['2020-01-03', 110],
      ]),
    ],
    [
      'LTC',
      new Map([
        ['2020-01-02', 10],
        ['2020-01-03', 12],
      ]),
    ],
  ]);
  const rows = scoreForecasts(
    [
      f('BTC', '2020-01-02', 'v1', 103, 99),
      f('LTC', '2020-01-02', 'v1', 9, 11),
      f('BTC', '2020-01-03', 'v1', 104, 100),
      f('LTC', '2020-01-03', 'v1', 12.5, 10),
      f('BTC', '2020-01-04', 'v1', 1, 1),
    ],
    actuals,
  );

  it('scores only forecasts whose actual has arrived, with the naive error beside', () => {
    expect(rows.map((r) => [r.symbol, r.date, r.absError, r.naiveAbsError])).to.deep.equal([
      ['BTC', '2020-01-02', 3, 1],
      ['LTC', '2020-01-02', 1, 1],
      ['BTC', '2020-01-03', 6, 10],
      ['LTC', '2020-01-03', 0.5, 2],
    ]);
  });

  it('summarizes per version: MAD (3 + 1 + 6 + 0.5) / 4 and naive (1 + 1 + 10 + 2) / 4', () => {
    expect(summarize(rows)).to.deep.equal([{ version: 'v1', n: 4, days: 2, firstDate: '2020-01-02', lastDate: '2020-01-03', mad: 10.5 / 4, naiveMad: 14 / 4 }]);
  });

  it('counts the consecutive latest days worse than naive', () => {
    // Day 2: 4 vs 2 (worse); day 3: 6.5 vs 12 (better).
    expect(worseDays(rows, 'v1')).to.equal(0);
    expect(
      worseDays(
        rows.filter((r) => r.date === '2020-01-02'),
        'v1',
      ),
    ).to.equal(1);
    expect(worseDays(rows, 'other')).to.equal(0);
  });

  it('counts a symbol-day scored by two runs once (the later record)', () => {
    const rec = (runId: string, at: string, err: number): AccuracyRecord => ({
      schema: 'crypto-open-fleet/accuracy/1',
      date: '2020-01-02',
      runId,
      inputKey: 'k',
      recordedAt: at,
      rows: [{ ...rows[0]!, absError: err }],
    });
    const kept = dedupeRows([rec('b', '2020-01-02T02:00:00Z', 5), rec('a', '2020-01-02T01:00:00Z', 3)]);
    expect(kept.map((r) => r.absError)).to.deep.equal([5]);
  });
});

describe('the training task configuration (environment)', () => {
  it('reads the bucket and training settings, with defaults, and names the variable at fault', () => {
    const c = trainTaskConfigFromEnv(
      { BUCKET: 'b', TRAIN_EPOCHS: '3', TRAIN_SEED: '5', TRAIN_SYMBOLS: 'BTC, LTC', CODE_VERSION: `repo:git-1@sha256:${'a'.repeat(64)}` },
      new Date('2026-03-02T08:00:00Z'),
    );
    expect(c.bucket).to.equal('b');
    expect(c.train).to.include({
      asOf: '2026-03-01',
      epochs: 3,
      seed: 5,
      validationRows: 15,
      pointerKey: 'models/current.json',
      imageDigest: `sha256:${'a'.repeat(64)}`,
    });
    expect(c.train.symbols).to.deep.equal(['BTC', 'LTC']);
    expect(defaultAsOf(new Date('2026-01-01T00:00:00Z'))).to.equal('2025-12-31');
    expect(() => trainTaskConfigFromEnv({})).to.throw(ConfigError, 'BUCKET is not set');
    expect(() => trainTaskConfigFromEnv({ BUCKET: 'b', TRAIN_EPOCHS: '0' })).to.throw(ConfigError, 'TRAIN_EPOCHS must be an integer >= 1');
    expect(() => trainTaskConfigFromEnv({ BUCKET: 'b', TRAIN_AS_OF: '2026-02-30' })).to.throw(ConfigError, 'TRAIN_AS_OF must be a date YYYY-MM-DD');
  });
});
