/**
 * A pickle reader that only parses: it runs no code and imports nothing. It accepts the opcode subset
 * that a scikit-learn scaler file uses (SPEC §4), and resolves an allow-list of globals into inert
 * descriptors. numpy arrays and scalars are rebuilt from their raw bytes.
 */

export class PickleError extends Error {
  /** Byte offset of the opcode being read when the problem was found. */
  readonly offset: number;
  constructor(message: string, offset: number, options?: { cause?: unknown }) {
    super(`${message} (at byte ${offset})`, options);
    this.name = 'PickleError';
    this.offset = offset;
  }
}

type GlobalRole = 'class' | 'reconstruct' | 'ndarray' | 'dtype' | 'scalar';

/** `module name` as written by GLOBAL -> what the reader does with it. Anything else is refused. */
const ALLOWED_GLOBALS: ReadonlyMap<string, GlobalRole> = new Map([
  ['sklearn.preprocessing.data StandardScaler', 'class'],
  ['numpy.core.multiarray _reconstruct', 'reconstruct'],
  ['numpy ndarray', 'ndarray'],
  ['numpy dtype', 'dtype'],
  ['numpy.core.multiarray scalar', 'scalar'],
]);

/** An allowed global, by name only. */
export class PickleGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
    readonly role: GlobalRole,
  ) {}
}

/** An object of an allowed class: its class name and the attribute dict set by BUILD. */
export class PickleInstance {
  readonly state = new Map<PickleKey, PickleValue>();
  constructor(readonly className: string) {}
}

/** A numpy dtype such as `<f8`. */
export class NumpyDtype {
  byteOrder = '|';
  constructor(readonly code: string) {}
}

/** A numeric numpy array, values widened to float64, row-major. */
export class NdArray {
  shape: number[] = [];
  dtype: NumpyDtype | undefined;
  data: Float64Array = new Float64Array(0);
}

export type PickleKey = string | number;
export type PickleValue =
  null | boolean | number | string | Uint8Array | readonly PickleValue[] | Map<PickleKey, PickleValue> | PickleGlobal | PickleInstance | NumpyDtype | NdArray;

/** Exactly the opcodes SPEC §4 lists for the team's scaler.pkl (protocol 3); every other one is refused. */
const OP = {
  MARK: 0x28,
  STOP: 0x2e,
  BININT: 0x4a,
  BININT1: 0x4b,
  NONE: 0x4e,
  REDUCE: 0x52,
  BINUNICODE: 0x58,
  SHORT_BINBYTES: 0x43,
  EMPTY_LIST: 0x5d,
  BUILD: 0x62,
  GLOBAL: 0x63,
  APPENDS: 0x65,
  BINGET: 0x68,
  LONG_BINGET: 0x6a,
  BINPUT: 0x71,
  LONG_BINPUT: 0x72,
  TUPLE: 0x74,
  SETITEMS: 0x75,
  EMPTY_TUPLE: 0x29,
  EMPTY_DICT: 0x7d,
  PROTO: 0x80,
  NEWOBJ: 0x81,
  TUPLE1: 0x85,
  TUPLE2: 0x86,
  TUPLE3: 0x87,
  NEWTRUE: 0x88,
  NEWFALSE: 0x89,
} as const;

/** Names of the opcodes this reader refuses, so the error says which one it met. */
const REFUSED_OPCODES: Record<number, string> = {
  0x30: 'POP',
  0x31: 'POP_MARK',
  0x32: 'DUP',
  0x46: 'FLOAT',
  0x49: 'INT',
  0x4c: 'LONG',
  0x50: 'PERSID',
  0x51: 'BINPERSID',
  0x53: 'STRING',
  0x54: 'BINSTRING',
  0x55: 'SHORT_BINSTRING',
  0x56: 'UNICODE',
  0x42: 'BINBYTES',
  0x47: 'BINFLOAT',
  0x4d: 'BININT2',
  0x61: 'APPEND',
  0x73: 'SETITEM',
  0x8c: 'SHORT_BINUNICODE',
  0x94: 'MEMOIZE',
  0x95: 'FRAME',
  0x64: 'DICT',
  0x67: 'GET',
  0x69: 'INST',
  0x6c: 'LIST',
  0x6f: 'OBJ',
  0x70: 'PUT',
  0x82: 'EXT1',
  0x83: 'EXT2',
  0x84: 'EXT4',
  0x8a: 'LONG1',
  0x8b: 'LONG4',
  0x8d: 'BINUNICODE8',
  0x8e: 'BINBYTES8',
  0x8f: 'EMPTY_SET',
  0x90: 'ADDITEMS',
  0x91: 'FROZENSET',
  0x92: 'NEWOBJ_EX',
  0x93: 'STACK_GLOBAL',
  0x96: 'BYTEARRAY8',
  0x97: 'NEXT_BUFFER',
  0x98: 'READONLY_BUFFER',
};
const OPCODE_NAMES: Record<number, string> = {
  ...REFUSED_OPCODES,
  ...Object.fromEntries(Object.entries(OP).map(([name, code]) => [code, name])),
};

const ELEMENT_SIZE: Record<string, number> = { f8: 8, f4: 4, i8: 8, i4: 4 };
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Strict UTF-8 decoding; ASCII (every name in a scaler pickle) without TextDecoder, whose fatal mode costs
 * ~15 µs a call here: a third of a cold `npm run predict --h5` went into the pickle's ~2,000 short strings.
 */
function decodeUtf8(bytes: Uint8Array): string {
  let ascii = true;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i]! > 0x7f) {
      ascii = false;
      break;
    }
  }
  return ascii ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1') : utf8.decode(bytes);
}

/** Parses a pickle (protocol 2 to 4) into plain values; throws PickleError on anything outside the subset. */
export function parsePickle(bytes: Uint8Array): PickleValue {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 0;
  let opStart = 0;
  let opName = '';
  let stack: PickleValue[] = [];
  const marks: PickleValue[][] = [];
  const memo = new Map<number, PickleValue>();

  const fail = (message: string): never => {
    throw new PickleError(`${opName}: ${message}`, opStart);
  };
  /** Claims the next n bytes of the stream, returning their offset. */
  const take = (n: number): number => {
    if (pos + n > bytes.length) {
      throw new PickleError(`truncated stream: ${opName} needs ${n} byte(s), ${bytes.length - pos} left`, opStart);
    }
    pos += n;
    return pos - n;
  };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) throw new PickleError(`truncated stream: ${opName} argument has no end of line`, opStart);
    const text = decodeUtf8(bytes.subarray(pos, end));
    pos = end + 1;
    return text;
  };
  const text = (n: number): string => {
    const at = take(n);
    try {
      return decodeUtf8(bytes.subarray(at, at + n));
    } catch (err) {
      throw new PickleError(`${opName}: invalid UTF-8`, opStart, { cause: err });
    }
  };
  const pop = (): PickleValue => (stack.length > 0 ? stack.pop()! : fail('stack underflow'));
  const top = (): PickleValue => (stack.length > 0 ? stack[stack.length - 1] : fail('stack underflow'));
  const popMark = (): PickleValue[] => {
    const items = stack;
    stack = marks.pop() ?? fail('no MARK before it');
    return items;
  };
  const tuple = (items: PickleValue[]): readonly PickleValue[] => Object.freeze(items);
  const setItems = (items: PickleValue[]): void => {
    const dict = top();
    if (!(dict instanceof Map)) fail('target is not a dict');
    if (items.length % 2 !== 0) fail('odd number of key/value items');
    for (let i = 0; i < items.length; i += 2) {
      const key = items[i];
      if (typeof key !== 'string' && typeof key !== 'number') fail(`unsupported dict key type ${describe(key)}`);
      (dict as Map<PickleKey, PickleValue>).set(key as PickleKey, items[i + 1]);
    }
  };
  const appendItems = (items: PickleValue[]): void => {
    const list = top();
    if (!Array.isArray(list) || Object.isFrozen(list)) fail('target is not a list');
    (list as PickleValue[]).push(...items);
  };

  for (;;) {
    if (pos >= bytes.length) throw new PickleError('truncated stream: ended without STOP', pos);
    opStart = pos;
    const code = bytes[pos++];
    opName = OPCODE_NAMES[code] ?? `0x${code.toString(16).padStart(2, '0')}`;
    switch (code) {
      case OP.PROTO: {
        const version = bytes[take(1)];
        if (version < 2 || version > 3) fail(`protocol ${version} is not supported (2 and 3 are)`);
        break;
      }
      case OP.STOP:
        return pop();
      case OP.MARK:
        marks.push(stack);
        stack = [];
        break;
      case OP.BINPUT:
        memo.set(bytes[take(1)], top());
        break;
      case OP.LONG_BINPUT:
        memo.set(view.getUint32(take(4), true), top());
        break;
      case OP.BINGET:
      case OP.LONG_BINGET: {
        const index = code === OP.BINGET ? bytes[take(1)] : view.getUint32(take(4), true);
        stack.push(memo.has(index) ? memo.get(index)! : fail(`memo entry ${index} was never stored`));
        break;
      }
      case OP.NONE:
        stack.push(null);
        break;
      case OP.NEWTRUE:
        stack.push(true);
        break;
      case OP.NEWFALSE:
        stack.push(false);
        break;
      case OP.BININT:
        stack.push(view.getInt32(take(4), true));
        break;
      case OP.BININT1:
        stack.push(bytes[take(1)]);
        break;
      case OP.BINUNICODE:
        stack.push(text(view.getUint32(take(4), true)));
        break;
      case OP.SHORT_BINBYTES: {
        const n = bytes[take(1)];
        const at = take(n);
        stack.push(bytes.slice(at, at + n));
        break;
      }
      case OP.EMPTY_TUPLE:
        stack.push(tuple([]));
        break;
      case OP.TUPLE: {
        const items = tuple(popMark());
        stack.push(items);
        break;
      }
      case OP.TUPLE1:
        stack.push(tuple([pop()]));
        break;
      case OP.TUPLE2: {
        const b = pop();
        const a = pop();
        stack.push(tuple([a, b]));
        break;
      }
      case OP.TUPLE3: {
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push(tuple([a, b, c]));
        break;
      }
      case OP.EMPTY_LIST:
        stack.push([]);
        break;
      case OP.APPENDS:
        appendItems(popMark());
        break;
      case OP.EMPTY_DICT:
        stack.push(new Map());
        break;
      case OP.SETITEMS:
        setItems(popMark());
        break;
      case OP.GLOBAL: {
        const module = line();
        const name = line();
        const role = ALLOWED_GLOBALS.get(`${module} ${name}`);
        if (!role) fail(`global '${module} ${name}' is not allowed`);
        stack.push(new PickleGlobal(module, name, role!));
        break;
      }
      case OP.NEWOBJ: {
        const args = pop();
        const cls = pop();
        if (!(cls instanceof PickleGlobal) || cls.role !== 'class') fail(`cannot instantiate ${describe(cls)}`);
        if (!Array.isArray(args) || args.length > 0) fail('constructor arguments are not supported');
        stack.push(new PickleInstance(`${(cls as PickleGlobal).module}.${(cls as PickleGlobal).name}`));
        break;
      }
      case OP.REDUCE: {
        const args = pop();
        const fn = pop();
        if (!Array.isArray(args)) fail('arguments are not a tuple');
        stack.push(reduce(fn, args as readonly PickleValue[], fail));
        break;
      }
      case OP.BUILD: {
        const state = pop();
        build(top(), state, fail);
        break;
      }
      default:
        fail(REFUSED_OPCODES[code] ? 'opcode is not allowed' : 'unknown opcode');
    }
  }
}

type Fail = (message: string) => never;

function describe(value: PickleValue): string {
  if (value instanceof PickleGlobal) return `global '${value.module} ${value.name}'`;
  if (value === null) return 'None';
  if (Array.isArray(value)) return Object.isFrozen(value) ? 'tuple' : 'list';
  if (value instanceof Map) return 'dict';
  if (value instanceof Uint8Array) return 'bytes';
  return typeof value === 'object' ? value.constructor.name : typeof value;
}

/** The effect of calling an allowed global, computed without calling anything. */
function reduce(fn: PickleValue, args: readonly PickleValue[], fail: Fail): PickleValue {
  if (!(fn instanceof PickleGlobal)) return fail(`cannot call ${describe(fn)}`);
  switch (fn.role) {
    case 'reconstruct': {
      const cls = args[0];
      if (!(cls instanceof PickleGlobal) || cls.role !== 'ndarray') return fail(`_reconstruct of ${describe(cls ?? null)}`);
      return new NdArray();
    }
    case 'dtype': {
      const [code] = args;
      if (typeof code !== 'string' || !(code in ELEMENT_SIZE)) return fail(`dtype ${JSON.stringify(code)} is not supported`);
      return new NumpyDtype(code);
    }
    case 'scalar': {
      const [dtype, raw] = args;
      if (!(dtype instanceof NumpyDtype) || !(raw instanceof Uint8Array)) return fail('scalar expects (dtype, bytes)');
      const values = decodeNumbers(dtype, raw, fail);
      return values.length === 1 ? values[0] : fail(`scalar holds ${raw.length} bytes for dtype ${dtype.code}`);
    }
    default:
      return fail(`cannot call ${describe(fn)}`);
  }
}

function build(target: PickleValue, state: PickleValue, fail: Fail): void {
  if (target instanceof PickleInstance) {
    if (!(state instanceof Map)) return fail(`state of ${target.className} is a ${describe(state)}, not a dict`);
    for (const [k, v] of state) target.state.set(k, v);
  } else if (target instanceof NumpyDtype) {
    // (version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata])
    const byteOrder = Array.isArray(state) ? state[1] : undefined;
    if (typeof byteOrder !== 'string') return fail('dtype state has no byte order');
    target.byteOrder = byteOrder;
  } else if (target instanceof NdArray) {
    // (version, shape, dtype, is_fortran, raw bytes)
    if (!Array.isArray(state) || state.length !== 5) return fail('ndarray state is not a 5-tuple');
    const [, shape, dtype, fortran, raw] = state as readonly PickleValue[];
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && (d as number) >= 0)) return fail('ndarray shape is invalid');
    if (!(dtype instanceof NumpyDtype)) return fail('ndarray dtype is missing');
    if (!(raw instanceof Uint8Array)) return fail('ndarray data is not raw bytes (object arrays are not supported)');
    const dims = shape as number[];
    if (fortran === true && dims.length > 1) return fail('Fortran-ordered arrays are not supported');
    const count = dims.reduce((a, b) => a * b, 1);
    if (raw.length !== count * ELEMENT_SIZE[dtype.code])
      return fail(`ndarray of shape [${dims}] ${dtype.code} needs ${count * ELEMENT_SIZE[dtype.code]} bytes, has ${raw.length}`);
    target.shape = dims;
    target.dtype = dtype;
    target.data = decodeNumbers(dtype, raw, fail);
  } else {
    fail(`cannot set the state of ${describe(target)}`);
  }
}

function decodeNumbers(dtype: NumpyDtype, raw: Uint8Array, fail: Fail): Float64Array {
  if (!['<', '>', '|', '='].includes(dtype.byteOrder)) return fail(`byte order '${dtype.byteOrder}' is invalid`);
  const little = dtype.byteOrder !== '>';
  const size = ELEMENT_SIZE[dtype.code];
  if (raw.length % size !== 0) return fail(`${raw.length} bytes is not a whole number of ${dtype.code} values`);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out = new Float64Array(raw.length / size);
  for (let i = 0; i < out.length; i++) {
    const at = i * size;
    switch (dtype.code) {
      case 'f8':
        out[i] = view.getFloat64(at, little);
        break;
      case 'f4':
        out[i] = view.getFloat32(at, little);
        break;
      case 'i4':
        out[i] = view.getInt32(at, little);
        break;
      case 'i8': {
        const v = view.getBigInt64(at, little);
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) return fail(`int64 ${v} does not fit a double exactly`);
        out[i] = Number(v);
        break;
      }
    }
  }
  return out;
}
