/**
 * Natural logarithm, exponential and integer square root on scaled BigInts
 * (a real r held as round-ish(r · 10^W)), for the numeric math functions
 * (src/sql/numeric-math.ts). Each result is within a few units of its last
 * place: every step works with guard digits beyond the requested scale and
 * truncates, so the error is a small count of the operations performed, far
 * below the margins numeric-math.ts leaves around a rounding boundary.
 *
 * Methods: ln by a reduction to [0.75, 1.5) (powers of 10 and of 2) and the
 * series ln(m) = 2·atanh((m-1)/(m+1)); exp by e^t = 10^n · e^r with
 * r = t - n·ln 10, r halved eight times, a Taylor series, then squared back;
 * ln 2 = 2·atanh(1/3) and ln 10 = 3·ln 2 + 2·atanh(1/9), cached at the
 * largest precision asked so far.
 */

const pow10Cache: bigint[] = [];

/** 10^n (n ≥ 0). */
export function pow10(n: number): bigint {
  if (n < 64) {
    let p = pow10Cache[n];
    if (p === undefined) {
      p = 10n ** BigInt(n);
      pow10Cache[n] = p;
    }
    return p;
  }
  return 10n ** BigInt(n);
}

/** x · 10^k, truncated toward zero when k < 0. */
export function shift(x: bigint, k: number): bigint {
  return k >= 0 ? x * pow10(k) : x / pow10(-k);
}

/** Decimal digits of |x| (1 for 0). */
export function digitCount(x: bigint): number {
  return (x < 0n ? -x : x).toString().length;
}

/** floor(sqrt(n)) for n ≥ 0 (Newton's iteration from above). */
export function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  // A first guess above the root: 2^ceil(bits/2).
  let x = 1n << BigInt(Math.ceil(n.toString(2).length / 2));
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

/** atanh(1/n) · 10^w, error below (terms + 1) units. */
function atanhInverse(n: bigint, w: number): bigint {
  let p = pow10(w) / n;
  let sum = p;
  const n2 = n * n;
  let k = 1n;
  while (p > 0n) {
    p /= n2;
    k += 2n;
    sum += p / k;
  }
  return sum;
}

const GUARD = 12;
let ln2At = -1;
let ln2Value = 0n;
let ln10Value = 0n;

/** [ln 2 · 10^w, ln 10 · 10^w], each within 1 unit. */
function constants(w: number): [bigint, bigint] {
  if (w + GUARD > ln2At) {
    const at = Math.max(w + GUARD, 2 * ln2At, 64);
    ln2Value = 2n * atanhInverse(3n, at);
    ln10Value = 3n * ln2Value + 2n * atanhInverse(9n, at);
    ln2At = at;
  }
  return [shift(ln2Value, w - ln2At), shift(ln10Value, w - ln2At)];
}

/** ln(u · 10^-s) · 10^w for u > 0, within a few units. */
export function lnScaled(u: bigint, s: number, w: number): bigint {
  const d = digitCount(u);
  const e10 = d - 1 - s;
  const wk = w + 8 + String(Math.abs(e10)).length;
  const one = pow10(wk);
  // m = u / 10^(d-1) in [1, 10), then halved into [0.75, 1.5).
  let m = shift(u, wk - (d - 1));
  const threshold = 15n * pow10(wk - 1);
  let halvings = 0n;
  while (m >= threshold) {
    m /= 2n;
    halvings++;
  }
  const z = ((m - one) * one) / (m + one);
  const z2 = (z * z) / one;
  let term = z;
  let sum = z;
  let k = 1n;
  while (term !== 0n) {
    term = (term * z2) / one;
    k += 2n;
    sum += term / k;
  }
  const [ln2, ln10] = constants(wk);
  return shift(2n * sum + halvings * ln2 + BigInt(e10) * ln10, w - wk);
}

/** A rough double of x · 10^-s (for choosing precisions only). */
export function approx(x: bigint, s: number): number {
  const t = (x < 0n ? -x : x).toString();
  const lead = Number(`${t.slice(0, 17)}e${t.length - Math.min(17, t.length) - s}`);
  return x < 0n ? -lead : lead;
}

/**
 * e^(t · 10^-st) · 10^r within a few units (plus a relative error near
 * 10^-(r + n) for a result near 10^n). The caller bounds the size.
 */
export function expScaled(t: bigint, st: number, r: number): bigint {
  const n = Math.floor(approx(t, st) / Math.LN10);
  // e^rem in [~1, ~10) at scale w gives the result at scale r with 4 spare digits.
  const w = Math.max(n + r + 4, 4);
  const wr = w + 8;
  const [, ln10] = constants(wr + String(Math.abs(n)).length);
  const ln10At = wr + String(Math.abs(n)).length;
  const rem = shift(t, wr - st) - shift(BigInt(n) * ln10, wr - ln10At);
  // Halve eight times (|rem| < 2.4 → < 0.01), Taylor series, square back.
  const one = pow10(wr);
  const x = rem / 256n;
  let sum = one + x;
  let term = x;
  let i = 2n;
  while (term !== 0n) {
    term = (term * x) / one / i;
    sum += term;
    i++;
  }
  for (let j = 0; j < 8; j++) sum = (sum * sum) / one;
  return shift(sum, n + r - wr);
}
