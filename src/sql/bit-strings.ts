/**
 * bit(n) and bit varying(n) (varbit.c). A value is stored as bit_out's text,
 * one '0' or '1' per bit (docs/architecture.md "Storage of values"): that
 * text orders under SQLite's BINARY exactly as bit_cmp orders the packed
 * bits (memcmp over the common bytes, the shorter string first on a tie), so
 * comparisons, sorting, DISTINCT and grouping use it as it is. The SQLite
 * functions below compute the operators and functions on that text; where
 * Postgres raises an error (sizes that differ, an index out of range) they
 * throw NotLocal, so the statement is forwarded and upstream raises it.
 */
import type Database from 'better-sqlite3';
import { InputError, NotLocal } from '../errors.js';

export const BitFn = {
  /** `(op, a, b)`: & | # of two strings of one length (bit_and, bit_or, bitxor). */
  binary: 'outpost_bit_binary',
  not: 'outpost_bit_not',
  /** `(a, n)`: bitshiftleft (a negative n shifts right). */
  shift: 'outpost_bit_shift',
  /** `(v, fixed, n)`: the explicit length coercion bit(n) (pad or truncate) or varbit(n) (truncate). */
  resize: 'outpost_bit_resize',
  /** `(v, n)`: bitfromint4/bitfromint8, the low n bits of the two's complement. */
  fromInt: 'outpost_bit_from_int',
  /** `(v, bits)`: bittoint4/bittoint8. */
  toInt: 'outpost_bit_to_int',
  /** `(text)`: bit_in of a text value (an I/O cast), typmod -1. */
  input: 'outpost_bit_in',
  /** `(s, start[, len])`: bitsubstr. */
  substr: 'outpost_bit_substr',
  /** `(s, sub)`: bitposition. */
  position: 'outpost_bit_position',
  getBit: 'outpost_bit_get',
  setBit: 'outpost_bit_set',
  /** `(s, placing, from[, for])`: bitoverlay. */
  overlay: 'outpost_bit_overlay',
  count: 'outpost_bit_count',
} as const;

const INT32_MAX = 2147483647;
const INT32_MIN = -2147483648;

/**
 * bit_in / varbit_in with typmod -1: `b`/`B` then binary digits, `x`/`X`
 * then hex digits (4 bits each), else binary digits. The first bad
 * character is quoted whole (pg_mblen), as Postgres does.
 */
export function bitInput(text: string, what: string): string {
  let body = text;
  let hex = false;
  const first = text[0];
  if (first === 'b' || first === 'B') body = text.slice(1);
  else if (first === 'x' || first === 'X') {
    body = text.slice(1);
    hex = true;
  }
  let out = '';
  for (const ch of body) {
    if (hex) {
      const v = /^[0-9a-fA-F]$/.test(ch) ? Number.parseInt(ch, 16) : -1;
      if (v < 0) throw bitDigitError(ch, 'hexadecimal', what);
      out += v.toString(2).padStart(4, '0');
    } else {
      if (ch !== '0' && ch !== '1') throw bitDigitError(ch, 'binary', what);
      out += ch;
    }
  }
  return out;
}

function bitDigitError(ch: string, kind: string, what: string): InputError {
  return new InputError(`${what}: not a ${kind} digit`, {
    code: '22P02',
    message: `"${ch}" is not a valid ${kind} digit`,
  });
}

/**
 * bit_in / varbit_in with a typmod (pg_input_is_valid and the like): bit(n)
 * requires exactly n bits (22026), varbit(n) at most n (22001).
 */
export function bitInputTypmod(text: string, fixed: boolean, n: number, what: string): string {
  const v = bitInput(text, what);
  if (fixed && v.length !== n) {
    throw new InputError(`${what}: length`, {
      code: '22026',
      message: `bit string length ${v.length} does not match type bit(${n})`,
    });
  }
  if (!fixed && v.length > n) {
    throw new InputError(`${what}: too long`, {
      code: '22001',
      message: `bit string too long for type bit varying(${n})`,
    });
  }
  return v;
}

/** The explicit cast's length coercion: bit(n) pads with zeros or truncates; varbit(n) truncates. */
export function bitResize(v: string, fixed: boolean, n: number): string {
  if (v.length > n) return v.slice(0, n);
  return fixed ? v.padEnd(n, '0') : v;
}

function bits(v: unknown): string {
  if (typeof v !== 'string' || !/^[01]*$/.test(v))
    throw new NotLocal('bit string stored as other than its text');
  return v;
}

function int(v: unknown): number {
  if (typeof v !== 'bigint' && typeof v !== 'number') throw new NotLocal('integer stored as non-integer');
  return Number(v);
}

function binary(op: string, a: string, b: string): string {
  if (a.length !== b.length) {
    throw new NotLocal(
      `cannot ${op === '&' ? 'AND' : op === '|' ? 'OR' : 'XOR'} bit strings of different sizes`,
    );
  }
  let out = '';
  for (let i = 0; i < a.length; i++) {
    const x = a[i] === '1';
    const y = b[i] === '1';
    const r = op === '&' ? x && y : op === '|' ? x || y : x !== y;
    out += r ? '1' : '0';
  }
  return out;
}

/** bitshiftleft/bitshiftright: the length stays, vacated bits are zeros. */
export function bitShift(a: string, n: number): string {
  const len = a.length;
  if (n >= len || n <= -len) return '0'.repeat(len);
  if (n >= 0) return a.slice(n) + '0'.repeat(n);
  return '0'.repeat(-n) + a.slice(0, len + n);
}

/** bitsubstring: bits start..start+len-1 (1-based, clipped); a negative length is 22011 upstream. */
export function bitSubstr(s: string, start: number, len: number | undefined): string {
  if (len !== undefined && len < 0) throw new NotLocal('negative substring length not allowed');
  const s1 = Math.max(start, 1);
  const end =
    len === undefined || start + len > INT32_MAX ? s.length + 1 : Math.min(start + len, s.length + 1);
  if (s1 > s.length || end <= s1) return '';
  return s.slice(s1 - 1, end - 1);
}

/** bitoverlay: substring(s, 1, from-1) || placing || substring(s, from+for). */
export function bitOverlay(s: string, placing: string, from: number, count: number): string {
  if (from <= 0) throw new NotLocal('negative substring length not allowed');
  if (from + count > INT32_MAX || from + count < INT32_MIN) throw new NotLocal('integer out of range');
  return bitSubstr(s, 1, from - 1) + placing + bitSubstr(s, from + count, undefined);
}

export function registerBitFunctions(db: Database.Database): void {
  const opts = { deterministic: true, safeIntegers: true } as const;
  db.function(BitFn.binary, opts, (op: unknown, a: unknown, b: unknown) =>
    a === null || b === null ? null : binary(String(op), bits(a), bits(b)),
  );
  db.function(BitFn.not, opts, (a: unknown) =>
    a === null
      ? null
      : bits(a)
          .split('')
          .map((c) => (c === '1' ? '0' : '1'))
          .join(''),
  );
  db.function(BitFn.shift, opts, (a: unknown, n: unknown) =>
    a === null || n === null ? null : bitShift(bits(a), int(n)),
  );
  db.function(BitFn.resize, opts, (v: unknown, fixed: unknown, n: unknown) =>
    v === null ? null : bitResize(bits(v), int(fixed) === 1, int(n)),
  );
  db.function(BitFn.fromInt, opts, (v: unknown, n: unknown) => {
    if (v === null) return null;
    if (typeof v !== 'bigint') throw new NotLocal('integer stored as non-integer');
    const width = int(n);
    return BigInt.asUintN(width, v).toString(2).padStart(width, '0');
  });
  db.function(BitFn.toInt, opts, (v: unknown, width: unknown) => {
    if (v === null) return null;
    const s = bits(v);
    const w = int(width);
    if (s.length > w) throw new NotLocal('integer out of range');
    return BigInt.asIntN(w, s === '' ? 0n : BigInt(`0b${s}`));
  });
  db.function(BitFn.input, opts, (v: unknown) => {
    if (v === null) return null;
    if (typeof v !== 'string') throw new NotLocal('text stored as non-text');
    return bitInput(v, 'bit input');
  });
  db.function(BitFn.substr, { ...opts, varargs: true }, (s: unknown, start: unknown, len?: unknown) => {
    if (s === null || start === null || len === null) return null;
    return bitSubstr(bits(s), int(start), len === undefined ? undefined : int(len));
  });
  db.function(BitFn.position, opts, (s: unknown, sub: unknown) => {
    if (s === null || sub === null) return null;
    const str = bits(s);
    const needle = bits(sub);
    if (str.length === 0 || needle.length > str.length) return 0;
    return str.indexOf(needle) + 1;
  });
  db.function(BitFn.getBit, opts, (s: unknown, n: unknown) => {
    if (s === null || n === null) return null;
    const str = bits(s);
    const i = int(n);
    if (i < 0 || i >= str.length) throw new NotLocal('bit index out of valid range');
    return str[i] === '1' ? 1 : 0;
  });
  db.function(BitFn.setBit, opts, (s: unknown, n: unknown, v: unknown) => {
    if (s === null || n === null || v === null) return null;
    const str = bits(s);
    const i = int(n);
    if (i < 0 || i >= str.length) throw new NotLocal('bit index out of valid range');
    const b = int(v);
    if (b !== 0 && b !== 1) throw new NotLocal('new bit must be 0 or 1');
    return `${str.slice(0, i)}${b}${str.slice(i + 1)}`;
  });
  db.function(
    BitFn.overlay,
    { ...opts, varargs: true },
    (s: unknown, p: unknown, from: unknown, n?: unknown) => {
      if (s === null || p === null || from === null || n === null) return null;
      const placing = bits(p);
      return bitOverlay(bits(s), placing, int(from), n === undefined ? placing.length : int(n));
    },
  );
  db.function(BitFn.count, opts, (s: unknown) =>
    s === null ? null : BigInt(bits(s).replace(/0/g, '').length),
  );
}
