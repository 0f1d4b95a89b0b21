/**
 * make_interval(years, months, weeks, days, hours, mins, secs) (timestamp.c).
 * Postgres 17 checks every field for overflow; 15 and 16 let months and days
 * wrap: a result out of an int32 field, or at the bit patterns 17 reads as
 * infinite, is forwarded (storeInterval), so every major agrees.
 */
import type Database from 'better-sqlite3';
import { NotLocal } from '../errors.js';
import { rint } from './interval.js';
import { storeInterval } from './interval-ops.js';

export const MakeIntervalFn = {
  /** `(years, months, weeks, days, hours, mins, secs)`: the interval as stored. */
  make: 'outpost_make_interval',
} as const;

const USECS_PER_MINUTE = 60_000_000n;
const USECS_PER_HOUR = 60n * USECS_PER_MINUTE;

function secsValue(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (v === 'NaN') return Number.NaN;
  if (v === '-0') return -0;
  throw new NotLocal('float8 stored as text');
}

export function makeInterval(fields: readonly bigint[], secs: number): string {
  const [years, months, weeks, days, hours, mins] = fields as [
    bigint,
    bigint,
    bigint,
    bigint,
    bigint,
    bigint,
  ];
  if (!Number.isFinite(secs)) throw new NotLocal('interval out of range');
  const scaled = secs * 1e6;
  // float8_mul: an infinite product is an error.
  if (!Number.isFinite(scaled)) throw new NotLocal('value out of range: overflow');
  const usecs = rint(scaled);
  // FLOAT8_FITS_IN_INT64: [-2^63, 2^63).
  if (!(usecs >= -(2 ** 63) && usecs < 2 ** 63)) throw new NotLocal('interval out of range');
  const usec = hours * USECS_PER_HOUR + mins * USECS_PER_MINUTE + BigInt(usecs);
  return storeInterval({ months: Number(years * 12n + months), days: Number(weeks * 7n + days), usec });
}

export function registerMakeIntervalFunctions(db: Database.Database): void {
  db.function(
    MakeIntervalFn.make,
    { deterministic: true, safeIntegers: true, varargs: true },
    (...args: unknown[]) => {
      if (args.some((a) => a === null)) return null;
      const ints = args.slice(0, 6).map((a) => {
        if (typeof a !== 'bigint') throw new NotLocal('integer stored as non-integer');
        return a;
      });
      return makeInterval(ints, secsValue(args[6]));
    },
  );
}
