import { expect } from 'chai';
import { escapePrintable, quoteForMessage } from '../../shared/escape.js';

describe('escaping text for messages (shared/escape.ts)', () => {
  it('keeps printable ASCII and escapes everything else to printable ASCII', () => {
    expect(escapePrintable('BTC 1.5,x')).to.equal('BTC 1.5,x');
    expect(escapePrintable('\u001b[31mred\u0000\n\r\t\\\u007f')).to.equal('\\x1b[31mred\\x00\\n\\r\\t\\\\\\x7f');
    expect(escapePrintable('é\u202e\ud83d\ude00\ud800')).to.equal('\\u00e9\\u202e\\u{1f600}\\ud800');
    for (let c = 0; c < 0x3000; c++) expect(escapePrintable(String.fromCharCode(c))).to.match(/^[\x20-\x7e]+$/);
  });

  it('quotes like JSON.stringify for short printable text, and cuts long text saying its length', () => {
    for (const t of ['abc', 'NaN', '1,5', 'a"b', '']) expect(quoteForMessage(t)).to.equal(JSON.stringify(t));
    const long = quoteForMessage('x'.repeat(100_000));
    expect(long).to.equal(`"${'x'.repeat(32)}..." (100,000 chars)`);
    expect(quoteForMessage(`${'a'.repeat(31)}\ud83d\ude00`)).to.equal(`"${'a'.repeat(31)}..." (33 chars)`);
  });
});
