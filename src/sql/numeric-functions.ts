/**
 * numeric and integer functions computed exactly on stored values (numeric
 * as numeric_out text, integers as SQLite integers): scale, min_scale,
 * trim_scale, abs, floor, ceil, sign, trunc, div, mod (and `%`), gcd, lcm,
 * factorial, and the numeric → integer casts. Each follows Postgres's
 * numeric.c / int.c / int8.c, result scales included (they show in the
 * text). Where Postgres raises an error (division by zero, overflow, NaN to
 * integer, a negative factorial) NotLocal lets upstream raise its own.
 */
import type Database from 'better-sqlite3';
import { NotLocal } from '../errors.js';
import { divisionByZero, intRangeError, intSpecialError } from './exec-errors.js';
import { checkNumericSize, intRange, parseNumeric } from './pgtypes.js';

export const NumFn = {
  /** `(name, a)` or `(name, a, b)` on numeric texts: see `numericFn`. */
  numeric: 'outpost_numeric_fn',
  /** `(name, bits, a, b)` on integers of `bits` width: abs (b unused), gcd, lcm. */
  int: 'outpost_int_fn',
  /** `(bits, numeric)`: numeric_int2 / numeric_int4 / numeric_int8. */
  toInt: 'outpost_numeric_to_int',
  /** `(int8)`: numeric_fac. */
  factorial: 'outpost_numeric_factorial',
  /** Aggregate `(op, value)`: bit_and ('&'), bit_or ('|'), bit_xor ('#') of integers or bit strings. */
  bitAgg: 'outpost_bit_agg',
} as const;

/** The numeric functions of one or two numeric arguments served here. */
export const NUMERIC_FUNCTIONS: ReadonlySet<string> = new Set([
  'scale',
  'min_scale',
  'trim_scale',
  'abs',
  'floor',
  'ceil',
  'ceiling',
  'sign',
  'trunc',
  'div',
  'mod',
  'gcd',
  'lcm',
]);

type Special = 'NaN' | 'Infinity' | '-Infinity';
type Finite = { unscaled: bigint; scale: number };

const isSpecial = (t: string): t is Special => t === 'NaN' || t === 'Infinity' || t === '-Infinity';

function finite(t: string): Finite {
  const v = parseNumeric(t);
  if (!v) throw new NotLocal('numeric operand not in numeric_out form');
  return v;
}

const abs = (n: bigint): bigint => (n < 0n ? -n : n);
const pow10 = (n: number): bigint => 10n ** BigInt(n);

/** get_min_scale: the fewest fraction digits that still show the value exactly. */
function minScale(v: Finite): number {
  if (v.unscaled === 0n) return 0;
  let s = v.scale;
  let u = v.unscaled;
  while (s > 0 && u % 10n === 0n) {
    u /= 10n;
    s--;
  }
  return s;
}

/** Both operands at one scale (the larger). */
function aligned(x: Finite, y: Finite): [bigint, bigint, number] {
  const s = Math.max(x.scale, y.scale);
  return [x.unscaled * pow10(s - x.scale), y.unscaled * pow10(s - y.scale), s];
}

function gcdBig(a: bigint, b: bigint): bigint {
  let x = abs(a);
  let y = abs(b);
  while (y !== 0n) [x, y] = [y, x % y];
  return x;
}

/** ±1 / 0 of a finite value, or the infinity's sign. */
function signOf(t: string): number {
  if (t === 'Infinity') return 1;
  if (t === '-Infinity') return -1;
  const u = finite(t).unscaled;
  return u > 0n ? 1 : u < 0n ? -1 : 0;
}

function unary(name: string, t: string, arg: bigint | null): string | bigint | null {
  if (isSpecial(t)) {
    switch (name) {
      case 'scale':
      case 'min_scale':
        return null;
      case 'abs':
        return t === 'NaN' ? 'NaN' : 'Infinity';
      case 'sign':
        return t === 'NaN' ? 'NaN' : t === 'Infinity' ? '1' : '-1';
      default:
        // trim_scale, floor, ceil, trunc keep NaN and the infinities.
        return t;
    }
  }
  const v = finite(t);
  switch (name) {
    case 'scale':
      return BigInt(v.scale);
    case 'min_scale':
      return BigInt(minScale(v));
    case 'trim_scale': {
      const s = minScale(v);
      return checkNumericSize(v.unscaled / pow10(v.scale - s), s);
    }
    case 'abs':
      return checkNumericSize(abs(v.unscaled), v.scale);
    case 'sign':
      return String(signOf(t));
    case 'floor':
    case 'ceil':
    case 'ceiling': {
      const p = pow10(v.scale);
      let q = v.unscaled / p;
      const exact = q * p === v.unscaled;
      if (!exact && name === 'floor' && v.unscaled < 0n) q -= 1n;
      if (!exact && name !== 'floor' && v.unscaled > 0n) q += 1n;
      return checkNumericSize(q, 0);
    }
    case 'trunc': {
      // numeric_trunc: toward zero at `arg` digits (negative: left of the point), scale max(arg, 0).
      const scale = Number(arg ?? 0n);
      let u = v.unscaled;
      if (scale < v.scale) {
        const p = pow10(v.scale - Math.max(scale, 0));
        u /= p;
        if (scale < 0) u = (u / pow10(-scale)) * pow10(-scale);
      } else u *= pow10(scale - v.scale);
      return checkNumericSize(u, Math.max(scale, 0));
    }
  }
  throw new NotLocal(`numeric function ${name}`);
}

function binary(name: string, a: string, b: string): string {
  if (isSpecial(a) || isSpecial(b)) {
    if (a === 'NaN' || b === 'NaN') return 'NaN';
    switch (name) {
      case 'div': {
        // numeric_div_trunc: ±Infinity by a finite non-zero value keeps its
        // sign; by ±Infinity NaN; a finite value by ±Infinity is 0.
        if (!isSpecial(a)) return '0';
        if (isSpecial(b)) return 'NaN';
        const s = signOf(b);
        if (s === 0) throw divisionByZero();
        return signOf(a) * s > 0 ? 'Infinity' : '-Infinity';
      }
      case 'mod':
        // numeric_mod: Infinity % non-zero is NaN; finite % ±Infinity is the dividend.
        if (isSpecial(a)) {
          if (!isSpecial(b) && signOf(b) === 0) throw divisionByZero();
          return 'NaN';
        }
        return a;
      default:
        // gcd, lcm of NaN or an infinity.
        return 'NaN';
    }
  }
  const x = finite(a);
  const y = finite(b);
  const [xu, yu, s] = aligned(x, y);
  switch (name) {
    case 'div':
      if (yu === 0n) throw divisionByZero();
      // div_var with rscale 0, truncated toward zero.
      return checkNumericSize(xu / yu, 0);
    case 'mod':
      // mod_var: x - trunc(x / y) * y, scale max(s1, s2); the sign is the dividend's.
      if (yu === 0n) throw divisionByZero();
      return checkNumericSize(xu % yu, s);
    case 'gcd':
      // gcd_var: positive, scale max(s1, s2).
      return checkNumericSize(gcdBig(xu, yu), s);
    case 'lcm': {
      if (xu === 0n || yu === 0n) return checkNumericSize(0n, s);
      return checkNumericSize(abs((xu / gcdBig(xu, yu)) * yu), s);
    }
  }
  throw new NotLocal(`numeric function ${name}`);
}

function inRange(v: bigint, bits: number): bigint {
  const [lo, hi] = intRange(bits);
  if (v < lo || v > hi) throw intRangeError(bits);
  return v;
}

/** int2abs/int4abs/int8abs, int4gcd/int8gcd, int4lcm/int8lcm (the minimum integer's results overflow). */
function intFn(name: string, bits: number, a: bigint, b: bigint): bigint {
  switch (name) {
    case 'abs':
      return inRange(abs(a), bits);
    case 'gcd':
      return inRange(gcdBig(a, b), bits);
    case 'lcm': {
      if (a === 0n || b === 0n) return 0n;
      return inRange(abs((a / gcdBig(a, b)) * b), bits);
    }
  }
  throw new NotLocal(`integer function ${name}`);
}

/** numeric_int2/4/8: rounded half away from zero, then range-checked. */
function numericToInt(bits: number, t: string): bigint {
  if (isSpecial(t)) throw intSpecialError(bits, t === 'NaN');
  const v = finite(t);
  const p = pow10(v.scale);
  const m = abs(v.unscaled);
  let q = m / p;
  if (2n * (m % p) >= p) q += 1n;
  return inRange(v.unscaled < 0n ? -q : q, bits);
}

/** Larger factorials are left to Postgres (up to 32177! is valid there, but costly to compute here). */
const MAX_FACTORIAL = 3000n;

function factorial(n: bigint): string {
  if (n < 0n) throw new NotLocal('factorial of a negative number is undefined');
  if (n > MAX_FACTORIAL) throw new NotLocal('factorial too large to compute here');
  let r = 1n;
  for (let i = 2n; i <= n; i++) r *= i;
  return r.toString();
}

const numericText = (v: unknown): string => {
  if (typeof v === 'string') return v;
  if (typeof v === 'bigint') return v.toString();
  throw new NotLocal('numeric stored as non-text');
};

type BitAcc = { v: bigint | string | null };

/** One step of bit_and/bit_or/bit_xor: integers (two's complement) or bit strings of one length. */
function bitStep(op: string, acc: bigint | string | null, v: bigint | string): bigint | string {
  if (acc === null) return v;
  if (typeof acc === 'bigint' && typeof v === 'bigint')
    return op === '&' ? acc & v : op === '|' ? acc | v : acc ^ v;
  if (typeof acc !== 'string' || typeof v !== 'string') throw new NotLocal('bit aggregate of mixed values');
  // bitand/bitor/bitxor: Postgres raises 22026 for strings of different lengths.
  if (acc.length !== v.length) throw new NotLocal('cannot combine bit strings of different sizes');
  let out = '';
  for (let i = 0; i < acc.length; i++) {
    const a = acc[i] === '1';
    const b = v[i] === '1';
    out += (op === '&' ? a && b : op === '|' ? a || b : a !== b) ? '1' : '0';
  }
  return out;
}

export function registerNumericFunctions(db: Database.Database): void {
  const opts = { deterministic: true, safeIntegers: true } as const;
  db.aggregate(NumFn.bitAgg, {
    safeIntegers: true,
    deterministic: true,
    start: (): BitAcc => ({ v: null }),
    step: ((acc: BitAcc, op: unknown, v: unknown): BitAcc => {
      if (v === null) return acc;
      if (typeof v !== 'bigint' && typeof v !== 'string')
        throw new NotLocal('bit aggregate of a non-integer');
      acc.v = bitStep(String(op), acc.v, v);
      return acc;
    }) as unknown as (total: BitAcc, next: unknown) => BitAcc,
    result: (acc: BitAcc) => acc.v,
  });
  db.function(NumFn.numeric, { ...opts, varargs: true }, (name: unknown, a: unknown, ...rest: unknown[]) => {
    const n = String(name);
    if (a === null) return null;
    if (n === 'trunc') {
      const s = rest[0];
      if (s === null) return null;
      return unary(n, numericText(a), typeof s === 'bigint' ? s : 0n);
    }
    if (rest.length === 0) return unary(n, numericText(a), null);
    const b = rest[0];
    if (b === null) return null;
    return binary(n, numericText(a), numericText(b));
  });
  db.function(NumFn.int, opts, (name: unknown, bits: unknown, a: unknown, b: unknown) => {
    if (a === null || b === null) return null;
    if (typeof a !== 'bigint' || typeof b !== 'bigint') throw new NotLocal('integer stored as non-integer');
    return intFn(String(name), Number(bits), a, b);
  });
  db.function(NumFn.toInt, opts, (bits: unknown, v: unknown) =>
    v === null ? null : numericToInt(Number(bits), numericText(v)),
  );
  db.function(NumFn.factorial, opts, (n: unknown) => {
    if (n === null) return null;
    if (typeof n !== 'bigint') throw new NotLocal('integer stored as non-integer');
    return factorial(n);
  });
}
