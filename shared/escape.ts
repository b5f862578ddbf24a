/**
 * Text from an upload, made safe to show: printable ASCII only, so that it cannot carry terminal escape
 * codes, NULs or raw bytes into a message, a log line or an SQS attribute (which refuses most control
 * characters). Pure functions; nothing imported.
 */

const HEX = '0123456789abcdef';

function hex(code: number, digits: number): string {
  let s = '';
  for (let i = digits - 1; i >= 0; i--) s += HEX[(code >> (4 * i)) & 0xf];
  return s;
}

/**
 * `text` with every character outside printable ASCII (0x20-0x7e) escaped as in a JSON or JavaScript
 * string: `\n`, `\r`, `\t`, `\\`, `\xNN` for other control bytes and DEL, `\uNNNN` for the rest of the BMP
 * (a lone surrogate included), `\u{NNNNN}` beyond it. With `quote`, `"` is escaped too.
 */
export function escapePrintable(text: string, quote = false): string {
  let out = '';
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x20 && c <= 0x7e && c !== 0x5c && !(quote && c === 0x22)) continue;
    out += text.slice(start, i);
    if (c === 0x5c) out += '\\\\';
    else if (c === 0x22) out += '\\"';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c < 0x20 || c === 0x7f) out += `\\x${hex(c, 2)}`;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      const cp = ((c - 0xd800) << 10) + (text.charCodeAt(i + 1) - 0xdc00) + 0x10000;
      out += `\\u{${cp.toString(16)}}`;
      i += 1;
    } else out += `\\u${hex(c, 4)}`;
    start = i + 1;
  }
  return start === 0 ? text : out + text.slice(start);
}

/**
 * `text` in double quotes for a message, escaped (see escapePrintable) and cut to its first `maxChars`
 * characters, with the length said when cut: `"abc"`, `"xxxxxxxx..." (65,536 chars)`. For printable ASCII
 * text of at most `maxChars` it equals JSON.stringify(text).
 */
export function quoteForMessage(text: string, maxChars = 32): string {
  if (text.length <= maxChars) return `"${escapePrintable(text, true)}"`;
  // Cut on a code point boundary: never half a surrogate pair.
  let end = maxChars;
  if ((text.charCodeAt(end - 1) & 0xfc00) === 0xd800) end -= 1;
  return `"${escapePrintable(text.slice(0, end), true)}..." (${text.length.toLocaleString('en-US')} chars)`;
}
