import { expect } from 'chai';
import { main } from '../../../worker/commands/history.js';
import { runInProcess } from '../../helpers/command.js';
import { shared } from '../../helpers/paths.js';
import { listKeys, startTestStack, type TestStack } from '../../helpers/test-stack.js';

describe('npm run history (load and show, against the embedded stack)', () => {
  let stack: TestStack;
  before(async () => (stack = await startTestStack()));
  after(async () => stack?.close());
  const run = (...args: string[]) => runInProcess(main, [...args, '--endpoint-url', stack.stack.endpoint]);

  it('loads a full history file into monthly segments with a load record, once', async () => {
    const first = await run('load', shared('data/crypto_markets_btc_ltc_xrp.csv'));
    expect(first.code, first.stderr).to.equal(0);
    expect(first.stdout).to.match(
      /^loaded crypto_markets_btc_ltc_xrp\.csv \(sha256 [0-9a-f]{12}\): 5281 rows of 3 symbols in \d+ segments \(load load-[0-9a-f]{16}\)\n$/,
    );
    const keys = await listKeys(stack, 'history/');
    expect(keys.filter((k) => k.startsWith('history/loads/'))).to.have.length(1);
    const segments = keys.filter((k) => k.startsWith('history/segments/'));
    expect(segments.length).to.be.greaterThan(50);
    const again = await run('load', shared('data/crypto_markets_btc_ltc_xrp.csv'));
    expect(again.stdout).to.match(/^already loaded crypto_markets_btc_ltc_xrp\.csv/);
    expect(await listKeys(stack, 'history/')).to.deep.equal(keys);
  });

  it('shows a symbol over a range, oldest first', async () => {
    const r = await run('show', 'BTC', '--from', '2017-12-29', '--to', '2018-01-02');
    expect(r.code, r.stderr).to.equal(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).to.equal('date,open,high,low,close,market');
    expect(lines.slice(1, -1).map((l) => l.split(',')[0])).to.deep.equal(['2017-12-29', '2017-12-30', '2017-12-31', '2018-01-01', '2018-01-02']);
    expect(lines.at(-1)).to.match(/^5 rows of BTC from 2017-12-29 to 2018-01-02, from 2 segments$/);
  });

  it('names a bad argument', async () => {
    expect((await run('show', 'BTC', '--from', '2018-1-1')).stderr).to.match(/--from must be a date YYYY-MM-DD/);
    expect((await run('load', '/no/such.csv')).stderr).to.match(/no such file: \/no\/such\.csv/);
    expect((await run('drop', 'BTC')).code).to.equal(2);
  });
});
