/**
 * numeric sqrt, exp, ln, log(x) / log10(x), log(b, x) and power(x, y) /
 * x ^ y on numeric_out texts, digit for digit as Postgres's numeric.c
 * returns them.
 *
 * What has to match is (1) the result scale, which Postgres chooses from
 * estimates (the input's weight, doubles such as the input converted by
 * strtod times log10(e), libm's log() and log10() of leading digits), and
 * (2) the digits, which Postgres computes with its own multi-precision
 * series rounded to that scale. (1) is reproduced step for step; where an
 * estimate goes through libm (whose last bit may differ from V8's) and lies
 * so close to an integer that the truncation could go either way, the call
 * is forwarded. (2) is computed here independently with 20 guard digits
 * (src/sql/decimal-transcendental.ts): sqrt exactly (Postgres's Karatsuba
 * square root is exact before its half-up rounding, so the answers agree
 * always); the others to far better than Postgres's own working precision
 * (8 or more guard digits), so both round alike unless the exact value lies
 * within a hair (a thousandth of the last place, more for large powers) of
 * a halfway point, where the call is forwarded too. Integer powers are
 * computed exactly when that is cheap.
 *
 * Version differences: before Postgres 16 (commit 40c7fcb) an integer
 * exponent gave the result scale max(16, the base's scale), from 16 on the
 * same rule as other exponents (at least 16 significant digits, the scale
 * of either input); before 16 a negative base with an integral exponent
 * beyond int4 failed in ln(). Unknown versions forward those cases.
 *
 * Errors (logarithm of zero or a negative number, 2201F power domain
 * errors, division by zero, overflow) throw NotLocal: upstream raises them.
 * Work is bounded: inputs beyond 1000 significant digits, results needing
 * more than MAX_WORK digits of precision, are forwarded.
 */
import type Database from 'better-sqlite3';
import { NotLocal } from '../errors.js';
import { approx, digitCount, expScaled, isqrt, lnScaled, pow10, shift } from './decimal-transcendental.js';
import { checkNumericSize, formatNumeric, parseNumeric } from './pgtypes.js';

export const NumMathFn = {
  /** `(name, version_num, a[, b])`: see `numericMath`. */
  call: 'outpost_numeric_math',
} as const;

/** NUMERIC_MIN_SIG_DIGITS, NUMERIC_MAX_DISPLAY_SCALE, NUMERIC_MAX_RESULT_SCALE. */
const MIN_SIG = 16;
const MAX_DISPLAY = 1000;
const MAX_RESULT_SCALE = 2000;
/** Guard digits of the independent computation. */
const GUARD = 20;
/** Largest precision (decimal digits) computed here; more is forwarded. */
const MAX_WORK = 4000;
const MAX_INPUT_DIGITS = 1000;
/** Postgres 16: integer exponents choose their result scale like the others. */
const POWER_INT_SCALE = 160000;

/** A finite numeric: |value| = u · 10^-s. */
interface Num {
  neg: boolean;
  u: bigint;
  s: number;
  text: string;
}

type Special = 'NaN' | 'Infinity' | '-Infinity';
const isSpecial = (t: string): t is Special => t === 'NaN' || t === 'Infinity' || t === '-Infinity';

function num(text: string): Num {
  const v = parseNumeric(text);
  if (!v) throw new NotLocal('numeric operand not in numeric_out form');
  const neg = v.unscaled < 0n;
  const u = neg ? -v.unscaled : v.unscaled;
  if (u !== 0n && digitCount(u) > MAX_INPUT_DIGITS)
    throw new NotLocal('numeric math on more than 1000 digits');
  return { neg, u, s: v.scale, text };
}

const sign = (v: Num): number => (v.u === 0n ? 0 : v.neg ? -1 : 1);
const scaleFor = (r: number, ...scales: number[]): number => Math.min(Math.max(r, ...scales, 0), MAX_DISPLAY);
const zero = (scale: number): string => formatNumeric(0n, scale);

/** The value's base-10000 digits (stripped) and weight, as a NumericVar holds them. */
function nbase(v: Num): { weight: number; digits: number[] } {
  if (v.u === 0n) return { weight: 0, digits: [] };
  const s4 = Math.ceil(v.s / 4) * 4;
  let t = shift(v.u, s4 - v.s).toString();
  t = '0'.repeat((4 - (t.length % 4)) % 4) + t;
  const digits: number[] = [];
  for (let i = 0; i < t.length; i += 4) digits.push(Number(t.slice(i, i + 4)));
  const weight = digits.length - 1 - s4 / 4;
  while (digits[digits.length - 1] === 0) digits.pop();
  return { weight, digits };
}

/** Whether the value is an integer (no fraction digits after stripping). */
function integral(v: Num): boolean {
  return v.u % pow10(v.s) === 0n;
}

/** The integer value (integral inputs only). */
const intValue = (v: Num): bigint => (v.neg ? -1n : 1n) * (v.u / pow10(v.s));

/**
 * Truncation toward zero of a double that came through libm: NotLocal when
 * a last-bit difference (`tol`) could move it across an integer.
 */
function truncLibm(x: number, tol: number, what: string): number {
  const k = Math.round(x);
  if (tol > 0 && Math.abs(x - k) <= tol && !(k === 0 && Math.abs(x) < 0.5)) {
    throw new NotLocal(`${what}: a libm estimate on an integer boundary`);
  }
  return Math.trunc(x) + 0;
}

/** estimate_ln_dweight: the decimal weight Postgres assumes for ln(v), v > 0. */
function estimateLnDweight(v: Num): number {
  if (v.neg || v.u === 0n) return 0;
  const one = pow10(v.s);
  if (v.u * 10n >= 9n * one && v.u * 10n <= 11n * one) {
    // 0.9 <= v <= 1.1: the weight of v - 1's leading decimal digit
    // (log10 of a 1-4 digit integer is exact at powers of ten).
    const d = v.u - one;
    if (d === 0n) return 0;
    return digitCount(d) - 1 - v.s;
  }
  const { weight, digits } = nbase(v);
  let d = digits[0] as number;
  let dweight = weight * 4;
  if (digits.length > 1) {
    d = d * 10000 + (digits[1] as number);
    dweight -= 4;
  }
  const lnv = Math.log(d) + dweight * 2.302585092994046;
  // (int) log10(fabs(ln_var)): log and log10 each within an ulp or two of libm's.
  return truncLibm(Math.log10(Math.abs(lnv)), 1e-12, 'ln()');
}

/**
 * `v` (≈ value · 10^(rscale + GUARD), error ≪ 1e-6 of the last place)
 * rounded half away from zero to rscale digits: NotLocal within `delta`
 * (fraction of the last place) of a halfway point, where Postgres's own
 * rounding error could decide.
 */
function rounded(v: bigint, rscale: number, delta: number, what: string): string {
  const neg = v < 0n;
  const a = neg ? -v : v;
  const unit = pow10(GUARD);
  let q = a / unit;
  const rem = a % unit;
  const half = unit / 2n;
  // delta < 0: `v` is exact and so is Postgres's rounding of it (a tie rounds up).
  if (delta >= 0) {
    const margin = BigInt(Math.ceil(Math.min(delta, 0.4) * 1e9)) * pow10(GUARD - 9) + 1_000_000n;
    const dist = rem > half ? rem - half : half - rem;
    if (dist <= margin)
      throw new NotLocal(`${what}: too close to a rounding boundary to be sure of the last digit`);
  }
  if (rem > half || (delta < 0 && rem === half)) q++;
  return checkNumericSize(neg ? -q : q, rscale);
}

/** Half away from zero of an exact u · 10^-s to `rscale` digits. */
function roundExact(neg: boolean, u: bigint, s: number, rscale: number): string {
  let q = u;
  if (s > rscale) {
    const p = pow10(s - rscale);
    q = u / p;
    if (2n * (u % p) >= p) q++;
  } else q = shift(u, rscale - s);
  return checkNumericSize(neg ? -q : q, rscale);
}

const DELTA = 1e-3;

function work(digits: number, what: string): void {
  if (digits > MAX_WORK) throw new NotLocal(`${what}: more than ${MAX_WORK} digits to compute here`);
}

/** numeric_sqrt. */
function sqrtNumeric(v: Num): string {
  if (v.neg && v.u !== 0n) throw new NotLocal('cannot take square root of a negative number');
  const rscale = scaleFor(MIN_SIG - (nbase(v).weight * 2 + 1), v.s);
  if (v.u === 0n) return zero(rscale);
  work(digitCount(v.u) / 2 + rscale, 'sqrt()');
  // floor(sqrt(v) · 10^(rscale+1)), then half up: Postgres's exact square root, rounded.
  const t = isqrt(v.u * pow10(2 * (rscale + 1) - v.s));
  return checkNumericSize((t + 5n) / 10n, rscale);
}

/** numeric_exp. */
function expNumeric(v: Num): string {
  const x = Number(v.text);
  const w = Math.min(Math.max(x * 0.434294481903252, -MAX_RESULT_SCALE), MAX_RESULT_SCALE);
  const rscale = scaleFor(MIN_SIG - Math.trunc(w), v.s);
  if (Math.abs(x) >= MAX_RESULT_SCALE * 3) {
    if (x > 0) throw new NotLocal('value overflows numeric format');
    return zero(rscale);
  }
  return expOf(v.neg ? -v.u : v.u, v.s, rscale, DELTA, 'exp()');
}

/** e^(t · 10^-st) rounded to rscale (exp_var's rounding), or its zero. */
function expOf(t: bigint, st: number, rscale: number, delta: number, what: string): string {
  const dweight = approx(t, st) * Math.LOG10E;
  // Below a hundredth of the last place: Postgres's result rounds to zero too.
  if (dweight < -rscale - 2) return zero(rscale);
  work(dweight + rscale + GUARD, what);
  return rounded(expScaled(t, st, rscale + GUARD), rscale, delta, what);
}

function lnChecks(v: Num): void {
  if (v.u === 0n) throw new NotLocal('cannot take logarithm of zero');
  if (v.neg) throw new NotLocal('cannot take logarithm of a negative number');
}

/** numeric_ln. */
function lnNumeric(v: Num): string {
  lnChecks(v);
  const rscale = scaleFor(MIN_SIG - estimateLnDweight(v), v.s);
  work(rscale + GUARD, 'ln()');
  return rounded(lnScaled(v.u, v.s, rscale + GUARD), rscale, DELTA, 'ln()');
}

/** floor(log10(|ln v|)) to within one, v > 0 (for precisions). */
function lnMagnitude(v: Num): number {
  const one = pow10(v.s);
  const d = v.u - one;
  if (d === 0n) return -Infinity;
  // Near 1, |ln v| is |v - 1| within a factor 2; elsewhere the double suffices.
  if (2n * (d < 0n ? -d : d) < one) return digitCount(d) - 1 - v.s;
  const e10 = digitCount(v.u) - 1 - v.s;
  const lead = approx(v.u, v.s + e10);
  return Math.floor(Math.log10(Math.abs(Math.log(lead) + e10 * Math.LN10)));
}

/** log_var: numeric_log(base, num) and log(num) = log(10, num). */
function logNumeric(b: Num, x: Num): string {
  lnChecks(b);
  lnChecks(x);
  const rw = estimateLnDweight(x) - estimateLnDweight(b);
  const rscale = scaleFor(MIN_SIG - rw, b.s, x.s);
  const mb = lnMagnitude(b);
  if (mb === -Infinity) throw new NotLocal('division by zero');
  const ma = lnMagnitude(x);
  if (ma === -Infinity) return zero(rscale);
  // ln x / ln b with both logarithms precise enough for rscale + GUARD digits of the quotient.
  const w = rscale + GUARD + 6 + Math.max(0, -mb, ma - 2 * mb);
  work(w, 'log()');
  const a = lnScaled(x.u, x.s, w);
  const bl = lnScaled(b.u, b.s, w);
  return rounded((a * pow10(rscale + GUARD)) / bl, rscale, DELTA, 'log()');
}

/** numeric_power: NaN and infinities, then power_var. */
function powerNumeric(x: string, y: string, version: number): string {
  if (x === 'NaN') return !isSpecial(y) && sign(num(y)) === 0 ? '1' : 'NaN';
  if (y === 'NaN') return !isSpecial(x) && isOne(num(x)) ? '1' : 'NaN';
  if (isSpecial(x) || isSpecial(y)) return powerSpecial(x, y);
  const a = num(x);
  const b = num(y);
  if (sign(a) === 0 && sign(b) < 0) throw new NotLocal('zero raised to a negative power is undefined');
  if (a.neg && !integral(b)) throw new NotLocal('a negative number raised to a non-integer power');
  return powerVar(a, b, version);
}

const isOne = (v: Num): boolean => !v.neg && v.u === pow10(v.s);

/** numeric_power's POSIX rules for an infinite operand (neither is NaN). */
function powerSpecial(x: string, y: string): string {
  const s1 = x === 'Infinity' ? 1 : x === '-Infinity' ? -1 : sign(num(x));
  const s2 = y === 'Infinity' ? 1 : y === '-Infinity' ? -1 : sign(num(y));
  if (s1 === 0 && s2 < 0) throw new NotLocal('zero raised to a negative power is undefined');
  if (s1 < 0 && !isSpecial(y) && !integral(num(y))) {
    throw new NotLocal('a negative number raised to a non-integer power');
  }
  if (!isSpecial(x) && isOne(num(x))) return '1';
  if (s2 === 0) return '1';
  if (s1 === 0 && s2 > 0) return '0';
  if (isSpecial(y)) {
    let gtOne = true;
    if (!isSpecial(x)) {
      const a = num(x);
      if (a.neg && a.u === pow10(a.s)) return '1';
      gtOne = a.u > pow10(a.s);
    }
    return gtOne === s2 > 0 ? 'Infinity' : '0';
  }
  if (x === 'Infinity') return s2 > 0 ? 'Infinity' : '0';
  if (s2 < 0) return '0';
  const b = num(y);
  return integral(b) && intValue(b) % 2n !== 0n ? '-Infinity' : 'Infinity';
}

const INT32 = 2n ** 31n;

/** power_var for finite operands. */
function powerVar(a: Num, b: Num, version: number): string {
  if (integral(b)) {
    const e = intValue(b);
    if (e >= -INT32 && e < INT32) return powerInt(a, Number(e), b.s, version);
  }
  if (a.u === 0n) return zero(MIN_SIG);
  if (a.neg && version < POWER_INT_SCALE) {
    throw new NotLocal('negative base with an integral exponent beyond int4 before Postgres 16');
  }
  const negResult = a.neg && intValue(b) % 2n !== 0n;
  const abs: Num = { ...a, neg: false };
  // Postgres first computes ln(base) · exp to about 8 significant digits; its
  // double gives the result's weight, hence the scale. Reproduce that value.
  const lnDweight = estimateLnDweight(abs);
  const lowScale = Math.max(8 - lnDweight, 0);
  if (lowScale > MAX_DISPLAY && version < POWER_INT_SCALE)
    throw new NotLocal('power() of a base this close to 1');
  work(lowScale + GUARD + digitCount(b.u), 'power()');
  const lnLow = rounded(lnScaled(abs.u, abs.s, lowScale + GUARD), lowScale, DELTA, 'power()');
  const l = num(lnLow);
  // mul_var(ln_base, exp, ln_num, local_rscale): the exact product rounded (tie margin for its truncation).
  const prodScale = l.s + b.s;
  const prod = (l.neg !== b.neg ? -1n : 1n) * l.u * b.u;
  // A product with at most 4 digits beyond the scale is computed exactly by mul_var (its guard digits).
  const exactProd = prodScale <= lowScale + 4;
  const lnNum = rounded(
    shift(prod, lowScale + GUARD - prodScale),
    lowScale,
    exactProd ? -1 : DELTA,
    'power()',
  );
  let val = Number(lnNum);
  if (Math.abs(val) > MAX_RESULT_SCALE * 3.01) {
    if (val > 0) throw new NotLocal('value overflows numeric format');
    return zero(MAX_DISPLAY);
  }
  val *= 0.434294481903252;
  const rscale = scaleFor(MIN_SIG - Math.trunc(val), a.s, b.s);
  // The real calculation: t = exp · ln(base) to rscale + GUARD digits of e^t.
  const tScale = rscale + GUARD + Math.max(Math.ceil(val), 0) + 4;
  const lnScale = tScale + digitCount(b.u) - b.s + 2;
  work(Math.max(tScale, lnScale), 'power()');
  const t = (lnScaled(abs.u, abs.s, Math.max(lnScale, b.s)) * (b.neg ? -b.u : b.u)) / pow10(b.s);
  const tAt = Math.max(lnScale, b.s);
  // exp_var's own range check on the full-precision product.
  const td = approx(t, tAt);
  if (Math.abs(Math.abs(td) - MAX_RESULT_SCALE * 3) < 1e-6)
    throw new NotLocal('power() on the overflow boundary');
  if (Math.abs(td) >= MAX_RESULT_SCALE * 3) {
    if (td > 0) throw new NotLocal('value overflows numeric format');
    return zero(rscale);
  }
  const r = expOf(t, tAt, rscale, DELTA + Math.abs(val) * 1e-6, 'power()');
  return negResult && !/^0(\.0*)?$/.test(r) ? `-${r}` : r;
}

/**
 * power_var_int's estimate of the result's decimal weight, exp · (log10(f) + p)
 * for base ≈ f · 10^p from its first four base-10000 digits, and how far
 * libm's log10 could move it (0 on powers of ten, where both are exact).
 */
function powerWeight(a: Num, e: number): { f: number; tol: number } {
  if (a.u === 0n) return { f: 0, tol: 0 };
  const { weight, digits } = nbase(a);
  let fd = digits[0] as number;
  let p = weight * 4;
  for (let i = 1; i < digits.length && i * 4 < 16; i++) {
    fd = fd * 10000 + (digits[i] as number);
    p -= 4;
  }
  const l = Math.log10(fd);
  const exact = Number.isInteger(l) && 10 ** l === fd;
  return { f: e * (l + p), tol: exact ? 0 : Math.abs(e) * (Math.abs(l) + Math.abs(p) + 1) * 2 ** -49 };
}

/**
 * Whether power_var_int's square-and-multiply loop (sig_digits of precision,
 * each product rounded to what it needs of that) computes |a|^n exactly:
 * then Postgres's final rounding is of the exact value.
 */
function exactChain(a: Num, n: number, rscale: number, f: number, tol: number): boolean {
  const lnN = Math.log(n);
  if (Math.abs(lnN - Math.round(lnN)) < 1e-9) return false;
  if (tol > 0 && Math.abs(f - Math.round(f)) <= tol) return false;
  const sig = 1 + rscale + Math.trunc(f) + Math.trunc(lnN) + 8;
  const weight = (u: bigint, s: number): number => nbase({ neg: false, u, s, text: '' }).weight;
  // Each product must keep its exact scale (trailing zeros aside: the scale is what mul_var keeps).
  const mul = (x: [bigint, number], y: [bigint, number]): [bigint, number] | undefined => {
    let local = sig - (weight(x[0], x[1]) + weight(y[0], y[1])) * 4;
    local = Math.max(Math.min(local, x[1] + y[1]), 0);
    const u = x[0] * y[0];
    const s = x[1] + y[1];
    if (local < s && u % pow10(s - local) !== 0n) return undefined;
    return [shift(u, local - s), local];
  };
  let base: [bigint, number] | undefined = [a.u, a.s];
  let result: [bigint, number] | undefined = n & 1 ? [a.u, a.s] : [1n, 0];
  for (let mask = n >>> 1; mask > 0; mask >>>= 1) {
    base = mul(base, base);
    if (!base) return false;
    if (mask & 1) {
      result = mul(base, result);
      if (!result) return false;
    }
  }
  return true;
}

/** power_var_int: integer exponents (int4 range). */
function powerInt(a: Num, e: number, expScale: number, version: number): string {
  if (version === 0) throw new NotLocal('power() with an integer exponent on an unknown Postgres version');
  const { f, tol } = powerWeight(a, e);
  let rscale: number;
  if (version >= POWER_INT_SCALE) {
    if (f > 131072 || f + 1 < -MAX_DISPLAY) truncLibm(f, tol, 'power()');
    if (f > 131072) throw new NotLocal('value overflows numeric format');
    if (f + 1 < -MAX_DISPLAY) return zero(MAX_DISPLAY);
    rscale = scaleFor(MIN_SIG - truncLibm(f, tol, 'power()'), a.s, expScale);
  } else rscale = scaleFor(MIN_SIG, a.s);
  switch (e) {
    case 0:
      return formatNumeric(pow10(rscale), rscale);
    case 1:
      return roundExact(a.neg, a.u, a.s, rscale);
    case -1:
      // div_var(1, base): exact long division, rounded.
      return rounded(((a.neg ? -1n : 1n) * pow10(rscale + GUARD + a.s)) / a.u, rscale, -1, 'power()');
    default:
      break;
  }
  if (a.u === 0n) return zero(rscale);
  if (f > 4 * MAX_WORK) throw new NotLocal('power() result too large to compute here');
  const neg = a.neg && e % 2 !== 0;
  const n = Math.abs(e);
  const delta = DELTA + Math.abs(f) * 1e-6;
  if (n * digitCount(a.u) <= 20000) {
    // Exact: u^n · 10^-(s·n), or its reciprocal.
    const p = a.u ** BigInt(n);
    if (e > 0) {
      if (a.s * n <= rscale) return checkNumericSize((neg ? -p : p) * pow10(rscale - a.s * n), rscale);
      // mul_var(base, base) is exact with up to 4 digits beyond the scale (its guard digits).
      const exact = n === 2 ? 2 * a.s <= rscale + 4 : exactChain(a, n, rscale, f, tol);
      return rounded(shift(neg ? -p : p, rscale + GUARD - a.s * n), rscale, exact ? -1 : delta, 'power()');
    }
    // 1 / (exact |a|^n): an exact division before Postgres 18 (whose division here is approximate).
    const exact = version < 180000 && exactChain(a, n, rscale, f, tol);
    return rounded(
      ((neg ? -1n : 1n) * pow10(rscale + GUARD + a.s * n)) / p,
      rscale,
      exact ? -1 : delta,
      'power()',
    );
  }
  // |a|^e = e^(e · ln|a|), to rscale + GUARD digits.
  const tScale = rscale + GUARD + Math.max(Math.ceil(f), 0) + 4;
  const lnScale = tScale + String(n).length + 2;
  work(lnScale, 'power()');
  const t = lnScaled(a.u, a.s, lnScale) * BigInt(e);
  const r = expOf(t, lnScale, rscale, delta, 'power()');
  return neg && !/^0(\.0*)?$/.test(r) ? `-${r}` : r;
}

/** One numeric math function of stored numeric texts; `version` is the upstream's server_version_num. */
export function numericMath(name: string, version: number, x: string, y?: string): string {
  switch (name) {
    case 'sqrt':
      if (x === 'NaN' || x === 'Infinity') return x;
      if (x === '-Infinity') throw new NotLocal('cannot take square root of a negative number');
      return sqrtNumeric(num(x));
    case 'exp':
      if (x === 'NaN' || x === 'Infinity') return x;
      if (x === '-Infinity') return '0';
      return expNumeric(num(x));
    case 'ln':
      if (x === 'NaN' || x === 'Infinity') return x;
      if (x === '-Infinity') throw new NotLocal('cannot take logarithm of a negative number');
      return lnNumeric(num(x));
    case 'log':
      return y === undefined ? logOf('10', x) : logOf(x, y);
    case 'power':
      if (y === undefined) throw new NotLocal('power() of one argument');
      return powerNumeric(x, y, version);
  }
  throw new NotLocal(`numeric function ${name}`);
}

/** numeric_log's NaN and infinity rules, then log_var. */
function logOf(b: string, x: string): string {
  if (b === 'NaN' || x === 'NaN') return 'NaN';
  if (isSpecial(b) || isSpecial(x)) {
    const s1 = b === 'Infinity' ? 1 : b === '-Infinity' ? -1 : sign(num(b));
    const s2 = x === 'Infinity' ? 1 : x === '-Infinity' ? -1 : sign(num(x));
    if (s1 < 0 || s2 < 0) throw new NotLocal('cannot take logarithm of a negative number');
    if (s1 === 0 || s2 === 0) throw new NotLocal('cannot take logarithm of zero');
    if (b === 'Infinity') return x === 'Infinity' ? 'NaN' : '0';
    return 'Infinity';
  }
  return logNumeric(num(b), num(x));
}

const numericText = (v: unknown): string => {
  if (typeof v === 'string') return v;
  if (typeof v === 'bigint') return v.toString();
  throw new NotLocal('numeric stored as non-text');
};

export function registerNumericMath(db: Database.Database): void {
  db.function(
    NumMathFn.call,
    { deterministic: true, safeIntegers: true, varargs: true },
    (name: unknown, version: unknown, x: unknown, y?: unknown) => {
      if (x === null || y === null) return null;
      return numericMath(
        String(name),
        Number(version),
        numericText(x),
        y === undefined ? undefined : numericText(y),
      );
    },
  );
}
