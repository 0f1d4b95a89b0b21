/**
 * RANGE frame offsets over one date, timestamp, timestamptz, time or
 * interval ORDER BY key (Postgres's in_range_*_interval support functions).
 * SQLite's RANGE offsets need a numeric key and a numeric offset, and it
 * tests `other row's key ± offset` against the current row's key where
 * Postgres tests the other key against `current ± offset`: the same test
 * only when the arithmetic is exact and linear. Each case maps the stored
 * text to an integer key (microseconds) on which the offset is one constant,
 * with the infinities as ±Inf (which no finite offset moves, as Postgres's
 * timestamp_pl_interval leaves them):
 *
 * - `usec`: date/timestamp as microseconds since 1970, for an offset of days
 *   and time (a day is 24 hours without a time zone); timestamptz for an
 *   offset of time only (days and months move in the session's TimeZone).
 * - `month`: date/timestamp for an offset of months only: month index ×
 *   31 days + the time since the 1st, where `base - n months` is `key - n ×
 *   31 days` as long as no day is past the 28th (Postgres clamps the 31st to
 *   a shorter month's last day: such a value aborts the run).
 * - `time`: microseconds since midnight; in_range_time_interval adds the
 *   offset's time field only (its days and months are ignored) without
 *   wrapping around.
 * - `interval`: interval_cmp's span (months as 30 days); in_range_interval
 *   adds field-wise, and the span of a sum is the sum of the spans.
 *
 * Values outside years 1-9999 AD (where base ± offset could leave Postgres's
 * range and raise its error) and spans too large for exact int64 sums abort
 * the run. Offsets: an interval literal (unknown, or cast to interval) with
 * no sign, `ago` or infinity, bounded so that every sum stays exact; every
 * other offset (negative: 22013, integer over a date: 42883, ...) forwards.
 */
import type Database from 'better-sqlite3';
import type { Node } from 'libpg-query';
import { NotLocal } from '../errors.js';
import { parseInterval } from './interval.js';
import { parseStoredInterval } from './interval-ops.js';
import { daysFromCivil, Oid } from './pgtypes.js';

export const RANGE_KEY_FUNCTION = 'outpost_range_key';

type Kind = 'usec' | 'month' | 'time' | 'interval';

const USECS_PER_DAY = 86_400_000_000n;
/** The month key's stride: more than any month's microseconds. */
const MONTH_STRIDE = 31n * USECS_PER_DAY;
/** Offsets beyond these could take a value in years 1-9999 out of Postgres's timestamp range, or overflow int64. */
const MAX_OFFSET_MONTHS = 12 * 2000;
const MAX_OFFSET_DAYS = 365 * 2000;
const MAX_OFFSET_USEC = 2000n * 366n * USECS_PER_DAY;
/** Interval fields whose spans (and their sums with a bounded offset) stay well inside int64. */
const MAX_KEY_MONTHS = 100_000;
const MAX_KEY_DAYS = 3_000_000;
const MAX_KEY_USEC = 100_000n * 366n * USECS_PER_DAY;

const STORED = /^(\d{4})-(\d{2})-(\d{2})(?: (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?)?(\+00)?$/;
const STORED_TIME = /^(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/;

function timeOfDay(h: string, mi: string, s: string, frac: string | undefined): bigint {
  return (
    ((BigInt(h) * 60n + BigInt(mi)) * 60n + BigInt(s)) * 1_000_000n + BigInt((frac ?? '').padEnd(6, '0'))
  );
}

/** The integer key of one stored value (see the module comment); NotLocal aborts the run. */
export function rangeKey(kind: Kind, stored: string): bigint | number {
  if (kind === 'interval') {
    const v = parseStoredInterval(stored);
    if (v === 'infinity') return Number.POSITIVE_INFINITY;
    if (v === '-infinity') return Number.NEGATIVE_INFINITY;
    if (Math.abs(v.months) > MAX_KEY_MONTHS || Math.abs(v.days) > MAX_KEY_DAYS)
      throw new NotLocal('RANGE offset over an interval too large to add exactly');
    if (v.usec > MAX_KEY_USEC || v.usec < -MAX_KEY_USEC)
      throw new NotLocal('RANGE offset over an interval too large to add exactly');
    return (BigInt(v.months) * 30n + BigInt(v.days)) * USECS_PER_DAY + v.usec;
  }
  if (kind === 'time') {
    const m = STORED_TIME.exec(stored);
    if (!m) throw new NotLocal(`time ${stored.slice(0, 20)} not in time_out form`);
    return timeOfDay(m[1] as string, m[2] as string, m[3] as string, m[4]);
  }
  if (stored === 'infinity') return Number.POSITIVE_INFINITY;
  if (stored === '-infinity') return Number.NEGATIVE_INFINITY;
  // Four-digit AD years only (BC and 5-digit years do not match).
  const m = STORED.exec(stored);
  if (!m) throw new NotLocal(`RANGE offset over ${stored.slice(0, 30)}: outside years 1-9999 AD`);
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac] = m;
  const year = Number(y);
  if (year < 1) throw new NotLocal('RANGE offset over a value outside years 1-9999 AD');
  const time = timeOfDay(h, mi, s, frac);
  if (kind === 'month') {
    if (Number(d) > 28) throw new NotLocal('RANGE offset of months from a day past the 28th');
    return (
      (BigInt(year) * 12n + BigInt(Number(mo) - 1)) * MONTH_STRIDE +
      BigInt(Number(d) - 1) * USECS_PER_DAY +
      time
    );
  }
  return BigInt(daysFromCivil(year, Number(mo), Number(d))) * USECS_PER_DAY + time;
}

export function registerRangeKeyFunction(db: Database.Database): void {
  db.function(
    RANGE_KEY_FUNCTION,
    { deterministic: true, safeIntegers: true },
    (kind: unknown, v: unknown) => {
      if (v === null) return null;
      if (typeof v !== 'string') throw new NotLocal('RANGE key of a non-text stored value');
      return rangeKey(kind as Kind, v);
    },
  );
}

/** The interval of a RANGE offset node: an interval literal without sign, `ago` or infinity. */
function offsetInterval(
  node: Node | undefined,
  what: string,
): { months: number; days: number; usec: bigint } {
  let n = node;
  if (n && 'TypeCast' in n) {
    const tc = n.TypeCast as {
      arg?: Node;
      typeName?: { names?: Node[]; typmods?: Node[]; arrayBounds?: Node[] };
    };
    const names = (tc.typeName?.names ?? []).map((x) => ('String' in x ? x.String.sval : ''));
    const plain =
      (names.length === 1 || (names.length === 2 && names[0] === 'pg_catalog')) &&
      names[names.length - 1] === 'interval' &&
      !tc.typeName?.typmods &&
      !tc.typeName?.arrayBounds;
    if (!plain) throw new NotLocal(`unsupported: RANGE frame ${what} offset cast`);
    n = tc.arg;
  }
  if (!n || !('A_Const' in n)) throw new NotLocal(`unsupported: RANGE frame ${what} offset`);
  const c = n.A_Const as { sval?: { sval?: string }; isnull?: boolean };
  const text = c.sval?.sval;
  if (c.isnull || text === undefined) throw new NotLocal(`unsupported: RANGE frame ${what} offset`);
  // A sign or `ago` may make it negative (Postgres's 22013) or read differently under IntervalStyle sql_standard.
  if (/[-+]|ago|inf/i.test(text))
    throw new NotLocal(`unsupported: RANGE frame ${what} offset ${text.slice(0, 20)}`);
  const v = parseInterval(text, 'RANGE frame offset');
  if (v.months < 0 || v.days < 0 || v.usec < 0n)
    throw new NotLocal('invalid preceding or following size in window function');
  if (v.months > MAX_OFFSET_MONTHS || v.days > MAX_OFFSET_DAYS || v.usec > MAX_OFFSET_USEC)
    throw new NotLocal(`unsupported: RANGE frame ${what} offset this large`);
  return v;
}

export interface RangeOffsets {
  /** windowFrame's rangeOffset callback: the offset as an integer literal. */
  offset(node: Node | undefined, what: string): string;
  /** After the frame is read: the ORDER BY expression SQLite sorts and offsets by. */
  key(x: string): string;
}

/**
 * The RANGE offsets over one ORDER BY key of `type`, or undefined when the
 * type has none here. The key kind depends on the offsets: both bounds must
 * agree (months only, or days and time only).
 */
export function datetimeRangeOffsets(type: number): RangeOffsets | undefined {
  if (
    type !== Oid.date &&
    type !== Oid.timestamp &&
    type !== Oid.timestamptz &&
    type !== Oid.time &&
    type !== Oid.interval
  )
    return undefined;
  let kind: Kind | undefined;
  const want = (k: Kind): void => {
    if (kind !== undefined && kind !== k)
      throw new NotLocal('unsupported: RANGE frame offsets of months and of days');
    kind = k;
  };
  return {
    offset(node, what) {
      const v = offsetInterval(node, what);
      if (type === Oid.time) {
        want('time');
        return String(v.usec);
      }
      if (type === Oid.interval) {
        want('interval');
        return String((BigInt(v.months) * 30n + BigInt(v.days)) * USECS_PER_DAY + v.usec);
      }
      // A zero offset is 0 in either key.
      if (v.months === 0 && v.days === 0 && v.usec === 0n) return '0';
      if (v.months !== 0 && (v.days !== 0 || v.usec !== 0n))
        throw new NotLocal('unsupported: RANGE frame offset of months and days');
      if (type === Oid.timestamptz && (v.months !== 0 || v.days !== 0))
        throw new NotLocal('unsupported: RANGE frame offset of days or months over timestamptz');
      if (v.months !== 0) {
        want('month');
        return String(BigInt(v.months) * MONTH_STRIDE);
      }
      want('usec');
      return String(BigInt(v.days) * USECS_PER_DAY + v.usec);
    },
    key(x) {
      return `${RANGE_KEY_FUNCTION}('${kind ?? 'usec'}', ${x})`;
    },
  };
}
