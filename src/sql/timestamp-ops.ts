/**
 * timestamp arithmetic on stored values (timestamp_out text, DateStyle ISO):
 * timestamp - timestamp (timestamp_mi), timestamp ± interval
 * (timestamp_pl_interval / timestamp_mi_interval) and date ± interval
 * (through the timestamp at midnight). Results outside years 1-9999 AD, and
 * every infinite operand (15 and 17 differ there: 17 has infinite
 * intervals), throw NotLocal so that upstream answers.
 */
import { NotLocal } from '../errors.js';
import { daysInMonth } from './datetime-input.js';
import { parseStoredInterval, storeInterval } from './interval-ops.js';
import { civilFromDays, daysFromCivil } from './pgtypes.js';

const USECS_PER_DAY = 86_400_000_000n;

interface Civil {
  /** Astronomical year: 1 BC is 0. */
  year: number;
  month: number;
  day: number;
  /** Microseconds since midnight. */
  usec: bigint;
}

const STORED = /^(\d{4,})-(\d{2})-(\d{2})(?: (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?)?( BC)?$/;

function civil(stored: string, what: string): Civil {
  const m = STORED.exec(stored);
  if (!m) throw new NotLocal(`${what} ${stored.slice(0, 30)} not finite ISO`);
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', bc] = m;
  const year = bc ? 1 - Number(y) : Number(y);
  const usec =
    ((BigInt(h) * 60n + BigInt(mi)) * 60n + BigInt(s)) * 1_000_000n + BigInt(frac.padEnd(6, '0') || '0');
  return { year, month: Number(mo), day: Number(d), usec };
}

function toUsec(c: Civil): bigint {
  return BigInt(daysFromCivil(c.year, c.month, c.day)) * USECS_PER_DAY + c.usec;
}

const pad = (n: number | bigint, w = 2): string => String(n).padStart(w, '0');

function format(t: bigint, what: string): string {
  let days = t / USECS_PER_DAY;
  let usec = t % USECS_PER_DAY;
  if (usec < 0n) {
    usec += USECS_PER_DAY;
    days -= 1n;
  }
  const [y, mo, d] = civilFromDays(Number(days));
  if (y < 1 || y > 9999) throw new NotLocal(`${what}: result outside years 1-9999 AD`);
  const secs = usec / 1_000_000n;
  const frac = (usec % 1_000_000n).toString().padStart(6, '0').replace(/0+$/, '');
  return (
    `${pad(y, 4)}-${pad(mo)}-${pad(d)} ${pad(secs / 3600n)}:${pad((secs / 60n) % 60n)}:${pad(secs % 60n)}` +
    `${frac ? `.${frac}` : ''}`
  );
}

/** timestamp_mi: the difference in microseconds, then interval_justify_hours. */
export function timestampDiff(a: string, b: string): string {
  const t = toUsec(civil(a, 'timestamp')) - toUsec(civil(b, 'timestamp'));
  // Postgres subtracts in int64: 15 wraps around, 17 raises 22008 ("interval out of range").
  if (t >= 1n << 63n || t < -(1n << 63n)) throw new NotLocal('timestamp difference overflows int64');
  const days = t / USECS_PER_DAY;
  let time = t - days * USECS_PER_DAY;
  let d = Number(days);
  if (d > 0 && time < 0n) {
    time += USECS_PER_DAY;
    d--;
  } else if (d < 0 && time > 0n) {
    time -= USECS_PER_DAY;
    d++;
  }
  return storeInterval({ months: 0, days: d, usec: time });
}

/** timestamptz_mi: the same on the stored UTC forms, whatever the session's TimeZone. */
export function timestamptzDiff(a: string, b: string): string {
  const utc = (v: string): string => {
    if (!v.endsWith('+00')) throw new NotLocal(`timestamptz ${v.slice(0, 40)} not a finite AD value`);
    return v.slice(0, -3);
  };
  return timestampDiff(utc(a), utc(b));
}

/** timestamp_pl_interval (sign 1) / timestamp_mi_interval (sign -1); a date operand is its midnight. */
export function timestampAddInterval(stored: string, interval: string, sign: number): string {
  const iv = parseStoredInterval(interval);
  if (typeof iv === 'string') throw new NotLocal('infinite interval operand');
  // An infinite timestamp (or date, as its timestamp) plus a finite interval stays itself, on 15 and 17.
  if (stored === 'infinity' || stored === '-infinity') return stored;
  // Far beyond years 1-9999 an intermediate step could leave Postgres's range where the result does not.
  if (Math.abs(iv.months) > 2_000_000 || Math.abs(iv.days) > 50_000_000)
    throw new NotLocal('interval too large to add exactly');
  const c = civil(stored, 'timestamp');
  const months = sign * iv.months;
  const days = sign * iv.days;
  const time = BigInt(sign) * iv.usec;
  if (months !== 0) {
    let mon = c.month + months;
    let year = c.year;
    if (mon > 12) {
      year += Math.trunc((mon - 1) / 12);
      mon = ((mon - 1) % 12) + 1;
    } else if (mon < 1) {
      year += Math.trunc(mon / 12) - 1;
      mon = (mon % 12) + 12;
    }
    c.year = year;
    c.month = mon;
    c.day = Math.min(c.day, daysInMonth(year, mon));
  }
  let t = toUsec(c);
  if (days !== 0) t += BigInt(days) * USECS_PER_DAY;
  t += time;
  return format(t, 'timestamp');
}

const STORED_TIME = /^(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/;

/** A stored time (time_out text) as microseconds since midnight. */
export function timeUsec(stored: string): bigint {
  const m = STORED_TIME.exec(stored);
  if (!m) throw new NotLocal(`time ${stored.slice(0, 20)} not in time_out form`);
  const [, h, mi, s, frac = ''] = m;
  return (
    ((BigInt(h as string) * 60n + BigInt(mi as string)) * 60n + BigInt(s as string)) * 1_000_000n +
    BigInt(frac.padEnd(6, '0') || '0')
  );
}

function formatTime(usec: bigint): string {
  const secs = usec / 1_000_000n;
  const frac = (usec % 1_000_000n).toString().padStart(6, '0').replace(/0+$/, '');
  return `${pad(secs / 3600n)}:${pad((secs / 60n) % 60n)}:${pad(secs % 60n)}${frac ? `.${frac}` : ''}`;
}

/** time_mi_time: the difference as an interval of microseconds (not justified). */
export function timeDiff(a: string, b: string): string {
  return storeInterval({ months: 0, days: 0, usec: timeUsec(a) - timeUsec(b) });
}

/** time_pl_interval / time_mi_interval: only the interval's time part counts, wrapped into one day. */
export function timeAddInterval(stored: string, interval: string, sign: number): string {
  const iv = parseStoredInterval(interval);
  if (typeof iv === 'string') throw new NotLocal('infinite interval added to a time');
  let r = (timeUsec(stored) + BigInt(sign) * iv.usec) % USECS_PER_DAY;
  if (r < 0n) r += USECS_PER_DAY;
  return formatTime(r);
}

/** date + time (datetime_pl): the timestamp; an infinite date stays infinite. */
export function dateAddTime(date: string, time: string): string {
  if (date === 'infinity' || date === '-infinity') return date;
  return format(toUsec(civil(date, 'date')) + timeUsec(time), 'timestamp');
}

/** Fields of extract(field FROM time) (the others are errors for time). */
export const TIME_FIELDS: ReadonlySet<string> = new Set([
  'microseconds',
  'milliseconds',
  'second',
  'minute',
  'hour',
  'epoch',
]);

/** extract(field FROM time) (time_part_common, numeric result). */
export function extractTime(field: string, stored: string): string {
  const usec = timeUsec(stored);
  const inMinute = usec % 60_000_000n;
  const scaled = (v: bigint, scale: number): string => {
    const digits = v.toString().padStart(scale + 1, '0');
    return `${digits.slice(0, digits.length - scale)}.${digits.slice(digits.length - scale)}`;
  };
  switch (field) {
    case 'microseconds':
      return String(inMinute);
    case 'milliseconds':
      return scaled(inMinute, 3);
    case 'second':
      return scaled(inMinute, 6);
    case 'minute':
      return String((usec / 60_000_000n) % 60n);
    case 'hour':
      return String(usec / 3_600_000_000n);
    case 'epoch':
      return scaled(usec, 6);
  }
  throw new NotLocal(`extract(${field} FROM time)`);
}

/** Fields of date_trunc(field, timestamp) served locally. */
export const TRUNC_FIELDS: ReadonlySet<string> = new Set([
  'microseconds',
  'milliseconds',
  'second',
  'minute',
  'hour',
  'day',
  'week',
  'month',
  'quarter',
  'year',
  'decade',
  'century',
  'millennium',
]);

/** timestamp_trunc for finite AD timestamps (infinite and BC ones are forwarded). */
export function timestampTrunc(field: string, stored: string): string {
  if (stored.endsWith('infinity') || stored.endsWith(' BC'))
    throw new NotLocal('date_trunc of an infinite or BC timestamp');
  const c = civil(stored, 'timestamp');
  const usecOf = (h: bigint, mi: bigint, s: bigint, us: bigint): bigint =>
    ((h * 60n + mi) * 60n + s) * 1_000_000n + us;
  const h = c.usec / 3_600_000_000n;
  const mi = (c.usec / 60_000_000n) % 60n;
  const s = (c.usec / 1_000_000n) % 60n;
  const us = c.usec % 1_000_000n;
  const day = (y: number, m: number, d: number): bigint => BigInt(daysFromCivil(y, m, d)) * USECS_PER_DAY;
  switch (field) {
    case 'microseconds':
      return format(toUsec(c), 'timestamp');
    case 'milliseconds':
      return format(day(c.year, c.month, c.day) + usecOf(h, mi, s, (us / 1000n) * 1000n), 'timestamp');
    case 'second':
      return format(day(c.year, c.month, c.day) + usecOf(h, mi, s, 0n), 'timestamp');
    case 'minute':
      return format(day(c.year, c.month, c.day) + usecOf(h, mi, 0n, 0n), 'timestamp');
    case 'hour':
      return format(day(c.year, c.month, c.day) + usecOf(h, 0n, 0n, 0n), 'timestamp');
    case 'day':
      return format(day(c.year, c.month, c.day), 'timestamp');
    case 'week': {
      // The Monday on or before (ISO weeks); 1970-01-01 was a Thursday.
      const n = daysFromCivil(c.year, c.month, c.day);
      const dow = (((n + 3) % 7) + 7) % 7;
      return format(BigInt(n - dow) * USECS_PER_DAY, 'timestamp');
    }
    case 'month':
      return format(day(c.year, c.month, 1), 'timestamp');
    case 'quarter':
      return format(day(c.year, 3 * Math.floor((c.month - 1) / 3) + 1, 1), 'timestamp');
    case 'year':
      return format(day(c.year, 1, 1), 'timestamp');
    case 'decade':
      return format(day(Math.floor(c.year / 10) * 10, 1, 1), 'timestamp');
    case 'century':
      return format(day(Math.floor((c.year + 99) / 100) * 100 - 99, 1, 1), 'timestamp');
    case 'millennium':
      return format(day(Math.floor((c.year + 999) / 1000) * 1000 - 999, 1, 1), 'timestamp');
  }
  throw new NotLocal(`date_trunc(${field}, timestamp)`);
}

const INT64_MAX = 2n ** 63n - 1n;
/** Postgres's timestamp range (MIN_TIMESTAMP ≤ t < END_TIMESTAMP), in microseconds since 1970. */
const PG_EPOCH_SHIFT = 946_684_800_000_000n;
const MIN_TIMESTAMP = -211_813_488_000_000_000n + PG_EPOCH_SHIFT;
const END_TIMESTAMP = 9_223_371_331_200_000_000n + PG_EPOCH_SHIFT;

/** A stored timestamptz (UTC text, `+00` before any ` BC`) as its timestamp text at UTC. */
function utcText(stored: string): string {
  const m = /^(.*)\+00( BC)?$/.exec(stored);
  if (!m) throw new NotLocal(`timestamptz ${stored.slice(0, 40)} not in stored form`);
  return `${m[1]}${m[2] ?? ''}`;
}

/**
 * date_bin(stride, source, origin) (timestamp_bin / timestamptz_bin; the
 * zone plays no part): origin plus the whole strides up to source, rounded
 * towards -infinity. An infinite source is returned as is. Every error
 * Postgres raises (infinite origin or stride, a stride with months, not
 * positive, or overflowing; a difference or result out of range) throws
 * NotLocal, as does a result outside years 1-9999 AD. `floorBefore`: the
 * upstream rounds a source before the origin down (verified on 15.18 and
 * 17.10; other minors are not assumed to), else that case is not local.
 */
export function dateBin(
  stride: string,
  source: string,
  origin: string,
  tz: boolean,
  floorBefore: boolean,
): string {
  if (source === 'infinity' || source === '-infinity') return source;
  if (origin === 'infinity' || origin === '-infinity') throw new NotLocal('date_bin: origin out of range');
  const iv = parseStoredInterval(stride);
  if (typeof iv === 'string') throw new NotLocal('date_bin: infinite stride');
  if (iv.months !== 0) throw new NotLocal('date_bin: stride with months or years');
  // Both steps are overflow-checked in Postgres (pg_mul_s64_overflow, pg_add_s64_overflow).
  const outOfRange = (v: bigint): boolean => v > INT64_MAX || v < -INT64_MAX - 1n;
  const dayUsec = BigInt(iv.days) * USECS_PER_DAY;
  const strideUsec = dayUsec + iv.usec;
  if (outOfRange(dayUsec) || outOfRange(strideUsec)) throw new NotLocal('date_bin: interval out of range');
  if (strideUsec <= 0n) throw new NotLocal('date_bin: stride must be greater than zero');
  const s = toUsec(civil(tz ? utcText(source) : source, 'timestamp'));
  const o = toUsec(civil(tz ? utcText(origin) : origin, 'timestamp'));
  const diff = s - o;
  if (outOfRange(diff)) throw new NotLocal('date_bin: interval out of range');
  const modulo = diff % strideUsec;
  let result = o + (diff - modulo);
  if (modulo < 0n) {
    if (!floorBefore) throw new NotLocal('date_bin: source before origin on this upstream minor');
    result -= strideUsec;
    if (result < MIN_TIMESTAMP || result >= END_TIMESTAMP)
      throw new NotLocal('date_bin: timestamp out of range');
  }
  const text = format(result, 'date_bin');
  return tz ? `${text}+00` : text;
}
