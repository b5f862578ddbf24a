import { expect } from 'chai';
import { PREFIX } from '../../../shared/layout.js';
import {
  compareSegments,
  dayNumber,
  HistoryStore,
  isoDay,
  parseSegmentKey,
  segmentCsv,
  parseSegmentCsv,
  type HistoryAddition,
  type HistoryRow,
} from '../../../worker/runtime/history.js';
import { listKeys, startTestStack, type TestStack } from '../../helpers/test-stack.js';

const row = (symbol: string, date: string, open: number): HistoryRow => ({
  symbol,
  day: dayNumber(date),
  open,
  high: open + 1,
  low: open - 1,
  close: open + 0.5,
  market: open * 1000,
  openText: String(open),
});
const addition = (runId: string, eventTime: string, sequencer = '0A'): HistoryAddition => ({
  runId,
  inputKey: `incoming/${runId}.csv`,
  inputVersion: null,
  eventTime,
  sequencer,
});
const days = (from: string, n: number): string[] => Array.from({ length: n }, (_, i) => isoDay(dayNumber(from) + i));

describe('history store (append-only segments on the embedded S3)', () => {
  let stack: TestStack;
  let store: HistoryStore;
  before(async () => {
    stack = await startTestStack();
    store = new HistoryStore(stack.objects);
  });
  after(async () => stack?.close());

  it('writes one segment per month of a run, named by date range, upload order and run; the text round-trips', async () => {
    const rows = [...days('2018-01-28', 6).map((d, i) => row('BTC', d, 100 + i)), row('a,"quoted" symbol', '2018-02-01', 5)];
    const written = await store.add(rows, addition('run-a', '2018-02-03T00:00:01.000Z'));
    expect(written.map((w) => w.key)).to.deep.equal([
      'history/segments/2018-01/2018-01-28_2018-01-31_20180203T000001000Z_0A_run-a.csv',
      'history/segments/2018-02/2018-02-01_2018-02-02_20180203T000001000Z_0A_run-a.csv',
    ]);
    const ref = parseSegmentKey(written[1]!.key, 'e')!;
    expect([isoDay(ref.firstDay), isoDay(ref.lastDay), ref.runId]).to.deep.equal(['2018-02-01', '2018-02-02', 'run-a']);
    const text = segmentCsv(rows.slice(4));
    expect(parseSegmentCsv(text, 'k')).to.deep.equal([...rows.slice(4)].sort((a, b) => (a.symbol < b.symbol ? -1 : 1)));
  });

  it('adds nothing when the same run adds its rows again (create-only, same bytes)', async () => {
    const before = await listKeys(stack, PREFIX.history);
    await store.add(
      days('2018-01-28', 6)
        .map((d, i) => row('BTC', d, 100 + i))
        .concat(row('a,"quoted" symbol', '2018-02-01', 5)),
      addition('run-a', '2018-02-03T00:00:01.000Z'),
    );
    expect(await listKeys(stack, PREFIX.history)).to.deep.equal(before);
  });

  it('finds the last six rows before a day, never a row of that day or later (point in time)', async () => {
    await store.add(
      days('2018-02-03', 3).map((d, i) => row('BTC', d, 106 + i)),
      addition('run-b', '2018-02-06T00:00:00.000Z'),
    );
    const read = await store.prior(new Map([['BTC', dayNumber('2018-02-04')]]), 6);
    expect(read.rows.get('BTC')!.map((r) => isoDay(r.day))).to.deep.equal(['2018-01-29', '2018-01-30', '2018-01-31', '2018-02-01', '2018-02-02', '2018-02-03']);
    expect(read.objects.map((o) => o.key.split('/').pop())).to.deep.equal([
      '2018-01-28_2018-01-31_20180203T000001000Z_0A_run-a.csv',
      '2018-02-01_2018-02-02_20180203T000001000Z_0A_run-a.csv',
      '2018-02-03_2018-02-05_20180206T000000000Z_0A_run-b.csv',
    ]);
  });

  it('applies a later upload of a (symbol, date) over the earlier one, by event time then sequencer', async () => {
    await store.add([row('BTC', '2018-02-02', 999)], addition('run-fix', '2018-02-07T00:00:00.000Z', '01'));
    await store.add([row('BTC', '2018-02-02', 111)], addition('run-older-fix', '2018-02-04T00:00:00.000Z', 'FF'));
    const read = await store.prior(new Map([['BTC', dayNumber('2018-02-03')]]), 2);
    // run-fix's event is the latest; run-older-fix, added afterwards, came from an earlier upload and loses.
    expect(read.rows.get('BTC')!.map((r) => r.open)).to.deep.equal([104, 999]);
    const fed = read.objects.map((o) => parseSegmentKey(o.key, '')!.runId);
    expect(fed).to.include('run-fix').and.not.include('run-older-fix');
    const same = (seq: string) => parseSegmentKey(`history/segments/2018-02/2018-02-02_2018-02-02_20180207T000000000Z_${seq}_x.csv`, '')!;
    expect(compareSegments(same('0100'), same('00FF')), 'one event time: the sequencer decides').to.equal(1);
  });

  it('keeps both of two concurrent additions (no read-modify-write to lose one)', async () => {
    await Promise.all([
      store.add([row('LTC', '2018-03-01', 10)], addition('run-c1', '2018-03-02T00:00:00.000Z')),
      store.add([row('XRP', '2018-03-01', 1)], addition('run-c2', '2018-03-02T00:00:00.000Z')),
    ]);
    const read = await store.latest(dayNumber('2018-03-01'), 6);
    expect(read.rows.get('LTC')!.map((r) => r.open)).to.deep.equal([10]);
    expect(read.rows.get('XRP')!.map((r) => r.open)).to.deep.equal([1]);
  });

  it('looks further back, month by month, for a symbol with a gap, up to the lookback', async () => {
    await store.add([row('GAP', '2017-10-10', 7), row('GAP', '2017-10-11', 8)], addition('run-old', '2017-10-12T00:00:00.000Z'));
    const read = await store.prior(new Map([['GAP', dayNumber('2018-03-05')]]), 6);
    expect(read.rows.get('GAP')!.map((r) => isoDay(r.day))).to.deep.equal(['2017-10-10', '2017-10-11']);
    const short = await new HistoryStore(stack.objects, { maxLookbackDays: 30 }).prior(new Map([['GAP', dayNumber('2018-03-05')]]), 6);
    expect(short.rows.has('GAP'), 'outside a 30-day lookback').to.equal(false);
  });

  it('reads one symbol over a range', async () => {
    const read = await store.range('BTC', dayNumber('2018-02-01'), dayNumber('2018-02-03'));
    expect([...read.rows.keys()]).to.deep.equal(['BTC']);
    expect(read.rows.get('BTC')!.map((r) => [isoDay(r.day), r.open])).to.deep.equal([
      ['2018-02-01', 104],
      ['2018-02-02', 999],
      ['2018-02-03', 106],
    ]);
  });
});
