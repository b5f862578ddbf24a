import fs from 'node:fs';
import { expect } from 'chai';
import { NdArray, NumpyDtype, PickleError, PickleInstance, parsePickle, type PickleValue } from '../../model/pickle.js';
import { shared } from '../helpers/paths.js';

/** Builds a pickle from opcode chars, byte arrays and latin-1 strings. */
const pk = (...parts: (string | number[])[]): Uint8Array =>
  Uint8Array.from(parts.flatMap((p) => (typeof p === 'string' ? [...p].map((c) => c.charCodeAt(0)) : p)));
const u32 = (n: number): number[] => [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff];
const str = (s: string): (string | number[])[] => ['X', u32(s.length), s];
const PROTO3 = [0x80, 3];
const f64le = (...xs: number[]): number[] => [...new Uint8Array(Float64Array.from(xs).buffer)];

function parseError(bytes: Uint8Array): PickleError {
  try {
    parsePickle(bytes);
  } catch (err) {
    expect(err).to.be.instanceOf(PickleError);
    return err as PickleError;
  }
  throw new Error('expected a PickleError');
}

describe('pickle reader', () => {
  it('parses the team scaler.pkl into dicts, StandardScaler states and float64 arrays', () => {
    const root = parsePickle(fs.readFileSync(shared('model_out/scaler.pkl'))) as Map<string, PickleValue>;
    expect(root).to.be.instanceOf(Map);
    expect(root.size).to.equal(21);
    const scaler = (root.get('BTC') as Map<string, PickleValue>).get('v_open') as PickleInstance;
    expect(scaler.className).to.equal('sklearn.preprocessing.data.StandardScaler');
    const mean = scaler.state.get('mean_') as NdArray;
    expect(mean).to.be.instanceOf(NdArray);
    expect(mean.shape).to.deep.equal([1]);
    expect(mean.dtype?.code).to.equal('f8');
    expect(mean.dtype?.byteOrder).to.equal('<');
    expect(mean.data).to.be.instanceOf(Float64Array);
    expect(Number.isInteger(scaler.state.get('n_samples_seen_'))).to.equal(true);
    expect(scaler.state.get('_sklearn_version')).to.equal('0.20.2');
    const hypers = root.get('model_hypers') as Map<string, PickleValue>;
    expect(hypers.get('seq_len')).to.equal(5);
    expect((hypers.get('feat_cols') as string[]).length).to.equal(13);
  });

  it('reads containers, memo references, numpy arrays and scalars from a hand-built stream', () => {
    const dtypeF8 = [
      'cnumpy\ndtype\n',
      ...str('f8'),
      'K',
      [0],
      'K',
      [1],
      [0x87],
      'R',
      '(',
      'K',
      [3],
      ...str('<'),
      'NNNJ',
      u32(-1 >>> 0),
      'J',
      u32(-1 >>> 0),
      'K',
      [0],
      't',
      'b',
    ];
    const body = [
      PROTO3,
      '}q',
      [0],
      '(',
      ...str('list'),
      ']q',
      [1],
      '(',
      'K',
      [7],
      'J',
      u32(0x1234),
      'J',
      u32(-5 >>> 0),
      [0x88],
      'e', // [7, 0x1234, -5, True]
      ...str('same'),
      'h',
      [1],
      ...str('tuple'),
      'N',
      [0x89],
      [0x86],
      ...str('array'),
      'cnumpy.core.multiarray\n_reconstruct\n',
      'cnumpy\nndarray\n',
      'K',
      [0],
      [0x85],
      'C',
      [1],
      'b',
      [0x87],
      'R',
      '(',
      'K',
      [1],
      'K',
      [2],
      [0x85],
      ...dtypeF8,
      [0x89],
      'C',
      [16],
      f64le(1.5, -2),
      't',
      'b',
      ...str('scalar'),
      'cnumpy.core.multiarray\nscalar\n',
      ...dtypeF8,
      'C',
      [8],
      f64le(0.25),
      [0x86],
      'R',
      'u',
    ];
    const root = parsePickle(pk(...body, '.')) as Map<string, PickleValue>;
    expect(root.get('list')).to.deep.equal([7, 0x1234, -5, true]);
    expect(root.get('same')).to.equal(root.get('list'));
    expect(root.get('tuple')).to.deep.equal([null, false]);
    const array = root.get('array') as NdArray;
    expect(array.shape).to.deep.equal([2]);
    expect([...array.data]).to.deep.equal([1.5, -2]);
    expect(array.dtype).to.be.instanceOf(NumpyDtype);
    expect(root.get('scalar')).to.equal(0.25);
  });

  it('refuses a global outside the allow-list, naming it and the byte offset', () => {
    const err = parseError(pk(PROTO3, 'cos\nsystem\n', ...str('ls'), [0x85], 'R.'));
    expect(err.message).to.equal("GLOBAL: global 'os system' is not allowed (at byte 2)");
    expect(err.offset).to.equal(2);
  });

  it('refuses calling an allowed class through REDUCE', () => {
    const err = parseError(pk(PROTO3, 'csklearn.preprocessing.data\nStandardScaler\n', ')R.'));
    expect(err.message).to.equal("REDUCE: cannot call global 'sklearn.preprocessing.data StandardScaler' (at byte 46)");
  });

  it('refuses an opcode outside the subset by name, and an unknown one by value', () => {
    const stackGlobal = parseError(pk(PROTO3, [0x93], '.'));
    expect(stackGlobal.message).to.equal('STACK_GLOBAL: opcode is not allowed (at byte 2)');
    // Opcodes of the pickle format that the team's file does not use (SPEC §4) are refused too.
    expect(parseError(pk(PROTO3, 'G', [0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18], '.')).message).to.equal('BINFLOAT: opcode is not allowed (at byte 2)');
    expect(parseError(pk(PROTO3, 'N', [0x94], '.')).message).to.equal('MEMOIZE: opcode is not allowed (at byte 3)');
    expect(parseError(pk([0x80, 4], [0x95], u32(1), u32(0), 'N.')).message).to.equal('PROTO: protocol 4 is not supported (2 and 3 are) (at byte 0)');
    const unknown = parseError(pk(PROTO3, 'N', [0xff], '.'));
    expect(unknown.message).to.equal('0xff: unknown opcode (at byte 3)');
    expect(unknown.offset).to.equal(3);
  });

  it('reports a truncated stream', () => {
    expect(parseError(pk(PROTO3, 'X', u32(16), 'abc')).message).to.equal('truncated stream: BINUNICODE needs 16 byte(s), 3 left (at byte 2)');
    expect(parseError(pk(PROTO3, 'cnumpy\nndar')).message).to.equal('truncated stream: GLOBAL argument has no end of line (at byte 2)');
    expect(parseError(pk(PROTO3, '}N')).message).to.equal('truncated stream: ended without STOP (at byte 4)');
  });

  it('reports a malformed stream', () => {
    expect(parseError(pk(PROTO3, 'h', [9], '.')).message).to.equal('BINGET: memo entry 9 was never stored (at byte 2)');
    expect(parseError(pk(PROTO3, 'Nt.')).message).to.equal('TUPLE: no MARK before it (at byte 3)');
    expect(parseError(pk(PROTO3, ')(N', 'e.')).message).to.equal('APPENDS: target is not a list (at byte 5)');
    expect(parseError(pk([0x80, 5], 'N.')).message).to.equal('PROTO: protocol 5 is not supported (2 and 3 are) (at byte 0)');
  });
});
