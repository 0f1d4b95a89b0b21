/**
 * float4/float8 operations on stored floats (docs/architecture.md "Storage
 * of values": a REAL, or the TEXT 'NaN' / '-0'; a float4 is stored as the
 * double nearest its shortest float4out text, see `storeFloat4`).
 *
 * Each follows Postgres's float.c / float.h. Only operations whose result is
 * fixed by IEEE 754 (correctly rounded + - * / and sqrt, exact floor, ceil,
 * trunc, rint, negation, abs) or spelled out by C99 Annex F and Postgres's
 * own special cases (power() of NaN, infinities, 0 and 1; exp, ln, log10
 * and cbrt of NaN, infinities, 0 and 1) are computed here:
 * libm functions such as pow(), exp() or sin() may differ from V8's in the
 * last bit, so any other input throws NotLocal and the statement is
 * forwarded. Where Postgres raises an error (overflow, underflow, division
 * by zero, out-of-range casts) NotLocal lets upstream raise its own.
 */
import type Database from 'better-sqlite3';
import { NotLocal } from '../errors.js';
import { divisionByZero, intRangeError } from './exec-errors.js';
import { formatFloat4 } from './render.js';

export const FloatFn = {
  /** `(op, bits, a, b)`: + - * / of two floats of one width (4: float4pl..., 8: float8pl...). */
  arith: 'outpost_float_arith',
  /** `(bits, a)`: unary minus. */
  neg: 'outpost_float_neg',
  /** `(bits, a)`: abs() / `@`. */
  abs: 'outpost_float_abs',
  /** `(bits, numeric text)`: numeric_float8 / numeric_float4. */
  fromNumeric: 'outpost_float_from_numeric',
  /** `(int)`: int2/int4/int8 → float4 (i4tof, i8tof). */
  intToFloat4: 'outpost_int_to_float4',
  /** `(float4)`: float4 → float8 (exact). */
  float4To8: 'outpost_float4_to_8',
  /** `(float8)`: dtof. */
  float8To4: 'outpost_float8_to_4',
  /** `(bits, from bits, float)`: dtoi2/dtoi4/dtoi8 (ftoi2... from a float4): rint, then range-checked. */
  toInt: 'outpost_float_to_int',
  /** `(name, float8)`: floor, ceil, trunc, round, sign, sqrt; exp, ln, log10 and cbrt of special values. */
  unary: 'outpost_float8_unary',
  /** `(x, y)`: dpow where its result is exactly specified. */
  pow: 'outpost_float8_pow',
} as const;

/** A stored float (or an integer operand) as a JS number: NaN and -0 from their TEXT forms. */
export function readFloat(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') {
    const n = Number(v);
    if (BigInt(n) !== v) throw new NotLocal('float operand stored as a large integer');
    return n;
  }
  if (v === 'NaN') return Number.NaN;
  if (v === '-0') return -0;
  throw new NotLocal('float stored as text');
}

/** A float8 result in its stored form. */
export function storeFloat8(n: number): number | string {
  if (Number.isNaN(n)) return 'NaN';
  if (Object.is(n, -0)) return '-0';
  return n;
}

/**
 * A float4 value (a float32, held exactly in a double) in its stored form:
 * like a replicated float4 column, the double nearest its shortest text, so
 * that computed and replicated float4 values compare alike.
 */
export function storeFloat4(f: number): number | string {
  if (!Number.isFinite(f) || f === 0) return storeFloat8(f);
  return Number(formatFloat4(f));
}

/** A stored float4 back to its float32 value. */
export function readFloat4(v: unknown): number {
  return Math.fround(readFloat(v));
}

const FLT_TRUE_MIN = 2 ** -149;

/**
 * The float32 nearest a double x (the double being the correctly rounded
 * value of some decimal), or undefined when rounding twice could differ
 * from rounding the decimal once (strtof): when x lies exactly halfway
 * between two float32 values. Elsewhere the two roundings agree, since the
 * halfway points are doubles and rounding is monotonic.
 */
export function float32Of(x: number): number | undefined {
  const f = Math.fround(x);
  if (f === x || !Number.isFinite(x)) return f;
  // The float32 on the other side of x, then their midpoint (exact in a double).
  const other = nextFloat32Toward(f, x);
  if ((f + other) / 2 === x) return undefined;
  return f;
}

function nextFloat32Toward(f: number, x: number): number {
  if (!Number.isFinite(f)) return x > 0 ? 3.4028234663852886e38 : -3.4028234663852886e38;
  if (f === 0) return x > 0 ? FLT_TRUE_MIN : -FLT_TRUE_MIN;
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, f);
  const bits = view.getUint32(0);
  // Away from zero when x is farther from zero than f, else toward it.
  const away = Math.abs(x) > Math.abs(f);
  if (away && (bits & 0x7fffffff) === 0x7f7fffff) return f > 0 ? 2 ** 128 : -(2 ** 128);
  view.setUint32(0, away ? bits + 1 : bits - 1);
  return view.getFloat32(0);
}

const FLOAT_TEXT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
/** The characters C's isspace() skips (float8in/float4in allow them around the number). */
const SPACE = /^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g;

/**
 * float4in: the stored form of a float4 constant, or NotLocal (syntax
 * errors, 22003 for overflow and underflow to zero, spellings strtof
 * accepts beyond the plain ones: hex, `nan(...)`).
 */
export function float4Input(text: string, what: string): number | string {
  const t = text.replace(SPACE, '');
  const lower = t.toLowerCase();
  if (lower === 'nan') return 'NaN';
  if (lower === 'infinity' || lower === '+infinity' || lower === 'inf' || lower === '+inf')
    return Number.POSITIVE_INFINITY;
  if (lower === '-infinity' || lower === '-inf') return Number.NEGATIVE_INFINITY;
  if (!FLOAT_TEXT.test(t)) throw new NotLocal(`${what}: not a plain float`);
  const f = float32Of(Number(t));
  if (f === undefined) throw new NotLocal(`${what}: halfway between two float4 values`);
  if (!Number.isFinite(f)) throw new NotLocal(`${what}: out of range`);
  if (f === 0 && /[1-9]/.test(t.replace(/[eE].*$/, ''))) throw new NotLocal(`${what}: out of range`);
  return storeFloat4(f);
}

/** rint(): to the nearest integer, ties to even (the default rounding mode). */
export function rint(x: number): number {
  if (!Number.isFinite(x)) return x;
  const frac = Math.abs(x - Math.trunc(x));
  if (frac === 0.5) return 2 * Math.round(x / 2);
  return Math.round(x);
}

/** Postgres's float overflow/underflow checks (check_float8_val): NotLocal where it raises 22003. */
function checked(result: number, infOk: boolean, zeroOk: boolean): number {
  if (!Number.isFinite(result) && !Number.isNaN(result) && !infOk) throw new NotLocal('float overflow');
  if (result === 0 && !zeroOk) throw new NotLocal('float underflow');
  return result;
}

export function floatArith(op: string, a: number, b: number, round: (n: number) => number): number {
  const inf = (n: number): boolean => n === Number.POSITIVE_INFINITY || n === Number.NEGATIVE_INFINITY;
  switch (op) {
    case '+':
      return checked(round(a + b), inf(a) || inf(b), true);
    case '-':
      return checked(round(a - b), inf(a) || inf(b), true);
    case '*':
      return checked(round(a * b), inf(a) || inf(b), a === 0 || b === 0);
    case '/':
      if (b === 0 && !Number.isNaN(a)) throw divisionByZero();
      return checked(round(a / b), inf(a), a === 0 || inf(b));
    default:
      throw new NotLocal(`float operator ${op}`);
  }
}

/** float8 → integer of `bits` bits (dtoi4 and friends): rint, then 22003 outside the range. */
export function floatToInt(x: number, bits: number): bigint {
  const r = rint(x);
  const limit = 2 ** (bits - 1);
  if (Number.isNaN(r) || r < -limit || r >= limit) throw intRangeError(bits);
  return BigInt(r);
}

/** numeric_float8 / numeric_float4: numeric_out's text through float8in / float4in. */
export function numericToFloat(text: string, bits: number): number | string {
  if (text === 'NaN') return 'NaN';
  if (text === 'Infinity') return Number.POSITIVE_INFINITY;
  if (text === '-Infinity') return Number.NEGATIVE_INFINITY;
  if (!/^-?\d+(?:\.\d+)?$/.test(text)) throw new NotLocal('numeric stored as unexpected text');
  if (bits === 4) return float4Input(text, 'numeric to float4');
  const n = Number(text);
  if (!Number.isFinite(n)) throw new NotLocal('numeric out of range for float8');
  if (n === 0 && /[1-9]/.test(text)) throw new NotLocal('numeric underflows float8');
  return n === 0 ? 0 : n;
}

/** i4tof / i8tof: the float4 nearest the integer (one rounding). */
export function intToFloat4(v: bigint): number {
  const n = Number(v);
  // Exact in a double up to 2^53; beyond, rounding twice could differ from once.
  if (Math.abs(n) > 2 ** 53) throw new NotLocal('int8 beyond 2^53 to float4');
  return Math.fround(n);
}

/** dtof: 22003 when a finite value overflows or a non-zero one underflows. */
export function float8ToFloat4(x: number): number {
  const f = Math.fround(x);
  const inf = (n: number): boolean => n === Number.POSITIVE_INFINITY || n === Number.NEGATIVE_INFINITY;
  if (inf(f) && !inf(x)) throw new NotLocal('float4 overflow');
  if (f === 0 && x !== 0) throw new NotLocal('float4 underflow');
  return f;
}

export function float8Unary(name: string, x: number): number {
  switch (name) {
    case 'floor':
      return Math.floor(x);
    case 'ceil':
    case 'ceiling':
      return Math.ceil(x);
    case 'trunc':
      return Math.trunc(x);
    case 'round':
      return rint(x);
    case 'sign':
      // dsign: NaN is neither > 0 nor < 0.
      return x > 0 ? 1 : x < 0 ? -1 : 0;
    case 'sqrt':
      if (x < 0) throw new NotLocal('cannot take square root of a negative number');
      return checked(Math.sqrt(x), x === Number.POSITIVE_INFINITY, x === 0);
    case 'exp':
      // dexp: NaN, infinities and zero are Postgres's or C99 Annex F's own answers.
      if (Number.isNaN(x)) return x;
      if (x === Number.POSITIVE_INFINITY) return x;
      if (x === Number.NEGATIVE_INFINITY) return 0;
      if (x === 0) return 1;
      throw new NotLocal('exp(float8) needs the platform libm');
    case 'ln':
    case 'log':
    case 'log10':
      // dlog1 / dlog10: Postgres's errors first, then log(1) = +0 and log(Inf) = Inf (Annex F).
      if (x === 0) throw new NotLocal('cannot take logarithm of zero');
      if (x < 0) throw new NotLocal('cannot take logarithm of a negative number');
      if (Number.isNaN(x) || x === Number.POSITIVE_INFINITY) return x;
      if (x === 1) return 0;
      throw new NotLocal(`${name}(float8) needs the platform libm`);
    case 'cbrt':
      // dcbrt: cbrt(±0) = ±0, cbrt(±Inf) = ±Inf, NaN (Annex F); even cbrt(27) is libm's.
      if (Number.isNaN(x) || x === 0 || !Number.isFinite(x)) return x;
      throw new NotLocal('cbrt(float8) needs the platform libm');
    default:
      throw new NotLocal(`${name}(float8)`);
  }
}

/**
 * dpow: Postgres's own answers for NaN and infinite operands, its domain
 * errors (2201F), and pow()'s C99 Annex F cases (x^±0 = 1, 1^y = 1, ±0^y
 * for y > 0). Any other operands need the platform's pow(): NotLocal.
 */
export function float8Pow(x: number, y: number): number {
  if (Number.isNaN(x)) return Number.isNaN(y) || y !== 0 ? Number.NaN : 1;
  if (Number.isNaN(y)) return x !== 1 ? Number.NaN : 1;
  if (x === 0 && y < 0) throw new NotLocal('zero raised to a negative power is undefined');
  if (x < 0 && Math.floor(y) !== y) throw new NotLocal('a negative number raised to a non-integer power');
  const inf = (n: number): boolean => n === Number.POSITIVE_INFINITY || n === Number.NEGATIVE_INFINITY;
  if (inf(y)) {
    const ax = Math.abs(x);
    if (ax === 1) return 1;
    if (y > 0) return ax > 1 ? y : 0;
    return ax > 1 ? 0 : -y;
  }
  if (inf(x)) {
    if (y === 0) return 1;
    if (x > 0) return y > 0 ? x : 0;
    const half = y / 2;
    const odd = Math.floor(half) !== half;
    if (y > 0) return odd ? x : -x;
    return odd ? -0 : 0;
  }
  if (y === 0 || x === 1) return 1;
  if (x === 0 && y > 0) {
    // ±0 for an odd integer y keeps the sign; +0 otherwise.
    const oddInt = Number.isInteger(y) && Math.abs(y) < 2 ** 53 && Math.abs(y % 2) === 1;
    return oddInt ? x : 0;
  }
  throw new NotLocal('power() of these finite values needs the platform pow()');
}

function store(bits: unknown, n: number): number | string {
  return Number(bits) === 4 ? storeFloat4(n) : storeFloat8(n);
}

function read(bits: unknown, v: unknown): number {
  return Number(bits) === 4 ? readFloat4(v) : readFloat(v);
}

export function registerFloatFunctions(db: Database.Database): void {
  const opts = { deterministic: true, safeIntegers: true } as const;
  db.function(FloatFn.arith, opts, (op: unknown, bits: unknown, a: unknown, b: unknown) => {
    if (a === null || b === null) return null;
    const round = Number(bits) === 4 ? Math.fround : (n: number) => n;
    return store(bits, floatArith(String(op), read(bits, a), read(bits, b), round));
  });
  db.function(FloatFn.neg, opts, (bits: unknown, a: unknown) =>
    a === null ? null : store(bits, -read(bits, a)),
  );
  db.function(FloatFn.abs, opts, (bits: unknown, a: unknown) =>
    a === null ? null : store(bits, Math.abs(read(bits, a))),
  );
  db.function(FloatFn.fromNumeric, opts, (bits: unknown, v: unknown) => {
    if (v === null) return null;
    if (typeof v !== 'string') throw new NotLocal('numeric stored as non-text');
    return numericToFloat(v, Number(bits));
  });
  db.function(FloatFn.intToFloat4, opts, (v: unknown) => {
    if (v === null) return null;
    if (typeof v !== 'bigint') throw new NotLocal('integer stored as non-integer');
    return storeFloat4(intToFloat4(v));
  });
  db.function(FloatFn.float4To8, opts, (v: unknown) => (v === null ? null : storeFloat8(readFloat4(v))));
  db.function(FloatFn.float8To4, opts, (v: unknown) =>
    v === null ? null : storeFloat4(float8ToFloat4(readFloat(v))),
  );
  db.function(FloatFn.toInt, opts, (bits: unknown, from: unknown, v: unknown) =>
    v === null ? null : floatToInt(read(from, v), Number(bits)),
  );
  db.function(FloatFn.unary, opts, (name: unknown, v: unknown) =>
    v === null ? null : storeFloat8(float8Unary(String(name), readFloat(v))),
  );
  db.function(FloatFn.pow, opts, (x: unknown, y: unknown) =>
    x === null || y === null ? null : storeFloat8(float8Pow(readFloat(x), readFloat(y))),
  );
}
