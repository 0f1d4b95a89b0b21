/**
 * width_bucket(numeric, numeric, numeric, int4) and (float8, float8, float8,
 * int4). Postgres computes the bucket differently across majors (numeric: an
 * exact floor division from 16 on, a rounded division then floor before;
 * float8: count * (x / width) from 16 on, count * x / width before), so a
 * bucket is served only where every major gives the same one: otherwise,
 * and wherever Postgres raises an error, NotLocal forwards the statement.
 */
import type Database from 'better-sqlite3';
import { NotLocal } from '../errors.js';

export const BucketFn = {
  /** `(kind, operand, low, high, count)`: kind 'numeric' or 'float8'. */
  widthBucket: 'outpost_width_bucket',
} as const;

const INT32_MAX = 2147483647;

function checkCount(count: number): void {
  if (count <= 0) throw new NotLocal('count must be greater than zero');
}

function plusOne(count: number): number {
  if (count + 1 > INT32_MAX) throw new NotLocal('integer out of range');
  return count + 1;
}

/** A finite numeric's text as an integer scaled by 10^scale. */
interface Decimal {
  m: bigint;
  scale: number;
}

function decimal(text: string): Decimal | 'nan' | 'inf' | '-inf' {
  if (text === 'NaN') return 'nan';
  if (text === 'Infinity') return 'inf';
  if (text === '-Infinity') return '-inf';
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
  if (!m) throw new NotLocal(`numeric stored as ${JSON.stringify(text.slice(0, 20))}`);
  const frac = m[3] ?? '';
  return { m: BigInt(`${m[1]}${m[2]}${frac}`), scale: frac.length };
}

function align(a: Decimal, b: Decimal): [bigint, bigint] {
  const s = Math.max(a.scale, b.scale);
  return [a.m * 10n ** BigInt(s - a.scale), b.m * 10n ** BigInt(s - b.scale)];
}

function cmp(a: Decimal | 'inf' | '-inf', b: Decimal): number {
  if (a === 'inf') return 1;
  if (a === '-inf') return -1;
  const [x, y] = align(a, b);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function widthBucketNumeric(operand: string, low: string, high: string, count: number): number {
  checkCount(count);
  const x = decimal(operand);
  const b1 = decimal(low);
  const b2 = decimal(high);
  if (x === 'nan' || b1 === 'nan' || b2 === 'nan')
    throw new NotLocal('operand, lower bound, and upper bound cannot be NaN');
  if (typeof b1 === 'string' || typeof b2 === 'string')
    throw new NotLocal('lower and upper bounds must be finite');
  const order = cmp(b1, b2);
  if (order === 0) throw new NotLocal('lower bound cannot equal upper bound');
  if (order < 0 ? cmp(x, b1) < 0 : cmp(x, b1) > 0) return 0;
  if (order < 0 ? cmp(x, b2) >= 0 : cmp(x, b2) <= 0) return plusOne(count);
  const xd = x as Decimal;
  // (x - b1) * count / (b2 - b1), exactly: numerator and denominator at one scale.
  const s = Math.max(xd.scale, b1.scale, b2.scale);
  const at = (d: Decimal): bigint => d.m * 10n ** BigInt(s - d.scale);
  let num = (at(xd) - at(b1)) * BigInt(count);
  let den = at(b2) - at(b1);
  if (den < 0n) {
    num = -num;
    den = -den;
  }
  const q = num / den;
  const rem = num - q * den;
  // Before 16 the quotient was rounded to at least 6 decimals before the
  // floor: within 10^-6 below the next integer, majors may disagree.
  if (rem !== 0n && (den - rem) * 1_000_000n < den * 10n)
    throw new NotLocal('width_bucket near a bucket edge');
  return Number(q) + 1;
}

function float(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (v === 'NaN') return Number.NaN;
  if (v === '-0') return -0;
  throw new NotLocal('float8 stored as text');
}

export function widthBucketFloat8(x: number, b1: number, b2: number, count: number): number {
  checkCount(count);
  if (Number.isNaN(x) || Number.isNaN(b1) || Number.isNaN(b2))
    throw new NotLocal('operand, lower bound, and upper bound cannot be NaN');
  if (!Number.isFinite(b1) || !Number.isFinite(b2))
    throw new NotLocal('lower and upper bounds must be finite');
  if (b1 === b2) throw new NotLocal('lower bound cannot equal upper bound');
  const up = b1 < b2;
  if (up ? x < b1 : x > b1) return 0;
  if (up ? x >= b2 : x <= b2) return plusOne(count);
  const width = up ? b2 - b1 : b1 - b2;
  const offset = up ? x - b1 : b1 - x;
  if (!Number.isFinite(width)) throw new NotLocal('width_bucket over bounds wider than float8');
  // 16+: count * (offset / width), clamped below count; before: count * offset / width.
  let now = Math.trunc(count * (offset / width));
  if (now >= count) now = count - 1;
  const before = Math.trunc((count * offset) / width);
  if (before !== now) throw new NotLocal('width_bucket differs between Postgres majors here');
  return now + 1;
}

export function registerBucketFunctions(db: Database.Database): void {
  db.function(
    BucketFn.widthBucket,
    { deterministic: true, safeIntegers: true },
    (kind: unknown, x: unknown, lo: unknown, hi: unknown, n: unknown) => {
      if (x === null || lo === null || hi === null || n === null) return null;
      const count = Number(n);
      if (kind === 'numeric') {
        const text = (v: unknown): string => (typeof v === 'bigint' ? v.toString() : String(v));
        return BigInt(widthBucketNumeric(text(x), text(lo), text(hi), count));
      }
      return BigInt(widthBucketFloat8(float(x), float(lo), float(hi), count));
    },
  );
}
