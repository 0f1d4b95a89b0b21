/**
 * extract(field FROM timestamp | timestamptz) (numeric, Postgres 14+) and
 * date_part(text, date | time | timestamp | timestamptz | interval)
 * (float8) on stored values, following timestamp.c's timestamp_part_common,
 * time_part_common and interval_part_common: integer fields exactly, the
 * fractional ones with the same float8 operations in the same order (so the
 * same roundings). date_part(text, date) is Postgres's SQL function over the
 * date's timestamp. A timestamptz is broken down in the session's zone, a
 * fixed offset east of UTC (the router's `tzoffset` bind). Postgres's errors
 * (a unit not supported for the type, 0A000; not recognized, 22023; a date
 * beyond timestamp's range) and the numeric julian of a timestamp throw
 * NotLocal, so upstream answers.
 */
import { NotLocal } from '../errors.js';
import { extractInterval, parseStoredInterval } from './interval-ops.js';
import { civilFromDays, daysFromCivil } from './pgtypes.js';
import { extractTime, timeUsec } from './timestamp-ops.js';

const USECS_PER_DAY = 86_400_000_000n;
/** Julian day of 1970-01-01 (UNIX_EPOCH_JDATE). */
const UNIX_EPOCH_JDATE = 2_440_588;

/** Canonical unit names (INTERVAL_UNITS' spelling) read by the timestamp forms beside the interval ones. */
export const TIMESTAMP_FIELDS: ReadonlySet<string> = new Set([
  'microseconds',
  'milliseconds',
  'second',
  'minute',
  'hour',
  'day',
  'month',
  'quarter',
  'week',
  'year',
  'decade',
  'century',
  'millennium',
  'julian',
  'isoyear',
  'dow',
  'isodow',
  'doy',
  'epoch',
  'timezone',
  'timezone_h',
  'timezone_m',
]);

/** Units of datetktbl (DecodeSpecial) that extract() reads beside deltatktbl's (INTERVAL_UNITS). */
export const SPECIAL_UNITS: ReadonlyMap<string, string> = new Map([
  ['dow', 'dow'],
  ['doy', 'doy'],
  ['isodow', 'isodow'],
  ['isoyear', 'isoyear'],
  ['julian', 'julian'],
  ['j', 'julian'],
  ['jd', 'julian'],
  ['timezone', 'timezone'],
  ['timezone_h', 'timezone_h'],
  ['timezone_m', 'timezone_m'],
  // Words are compared on their first 10 letters (TOKMAXLEN).
  ['timezone_hour', 'timezone_h'],
  ['timezone_minute', 'timezone_m'],
]);

/** Units that grow with time: ±Infinity for an infinite value; the others (oscillating) are NULL. */
const MONOTONIC = new Set(['year', 'decade', 'century', 'millennium', 'julian', 'isoyear', 'epoch']);

interface Tm {
  /** Astronomical year (1 BC is 0), as timestamp2tm's tm_year. */
  year: number;
  mon: number;
  mday: number;
  hour: number;
  min: number;
  sec: number;
  /** Microseconds within the second. */
  fsec: number;
  /** Days since 1970-01-01. */
  days: number;
}

const STORED_TS = /^(\d{4,})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(\+00)?( BC)?$/;

/** A stored finite timestamp (or timestamptz, at UTC) as microseconds since 1970-01-01. */
function storedUsec(stored: string, tz: boolean): bigint {
  const m = STORED_TS.exec(stored);
  if (!m || (m[8] !== undefined) !== tz)
    throw new NotLocal(`timestamp ${stored.slice(0, 40)} not in stored form`);
  const [, y, mo, d, h, mi, s, frac = ''] = m;
  const year = m[9] ? 1 - Number(y) : Number(y);
  const days = daysFromCivil(year, Number(mo), Number(d));
  const usec =
    ((BigInt(h as string) * 60n + BigInt(mi as string)) * 60n + BigInt(s as string)) * 1_000_000n +
    BigInt(frac.padEnd(6, '0') || '0');
  return BigInt(days) * USECS_PER_DAY + usec;
}

function breakDown(t: bigint): Tm {
  let days = t / USECS_PER_DAY;
  let usec = t % USECS_PER_DAY;
  if (usec < 0n) {
    usec += USECS_PER_DAY;
    days -= 1n;
  }
  const n = Number(days);
  const [year, mon, mday] = civilFromDays(n);
  const secs = Number(usec / 1_000_000n);
  return {
    year,
    mon,
    mday,
    hour: Math.floor(secs / 3600),
    min: Math.floor(secs / 60) % 60,
    sec: secs % 60,
    fsec: Number(usec % 1_000_000n),
    days: n,
  };
}

const date2j = (y: number, m: number, d: number): number => daysFromCivil(y, m, d) + UNIX_EPOCH_JDATE;

/** j2day: 0 is Sunday. */
function j2day(j: number): number {
  const r = (j + 1) % 7;
  return r < 0 ? r + 7 : r;
}

/** C's integer division (toward zero). */
const cdiv = (a: number, b: number): number => Math.trunc(a / b);

/** date2isoweek / date2isoyear. */
function isoWeekYear(year: number, mon: number, mday: number): [number, number] {
  const dayn = date2j(year, mon, mday);
  let y = year;
  let day4 = date2j(y, 1, 4);
  let day0 = j2day(day4 - 1);
  if (dayn < day4 - day0) {
    y--;
    day4 = date2j(y, 1, 4);
    day0 = j2day(day4 - 1);
  }
  let week = cdiv(dayn - (day4 - day0), 7) + 1;
  if (week >= 52) {
    const next4 = date2j(y + 1, 1, 4);
    const next0 = j2day(next4 - 1);
    if (dayn >= next4 - next0) {
      week = 1;
      y++;
    }
  }
  return [week, y];
}

/** The calendar fields shared by date and timestamp (extract_date / timestamp_part_common), as integers. */
function calendarField(unit: string, tm: Tm): number | undefined {
  const y = tm.year;
  switch (unit) {
    case 'day':
      return tm.mday;
    case 'month':
      return tm.mon;
    case 'quarter':
      return cdiv(tm.mon - 1, 3) + 1;
    case 'week':
      return isoWeekYear(y, tm.mon, tm.mday)[0];
    case 'year':
      return y > 0 ? y : y - 1;
    case 'decade':
      return y >= 0 ? cdiv(y, 10) : -cdiv(8 - (y - 1), 10);
    case 'century':
      return y > 0 ? cdiv(y + 99, 100) : -cdiv(99 - (y - 1), 100);
    case 'millennium':
      return y > 0 ? cdiv(y + 999, 1000) : -cdiv(999 - (y - 1), 1000);
    case 'isoyear': {
      const iy = isoWeekYear(y, tm.mon, tm.mday)[1];
      return iy <= 0 ? iy - 1 : iy;
    }
    case 'dow':
    case 'isodow': {
      const dow = j2day(tm.days + UNIX_EPOCH_JDATE);
      return unit === 'isodow' && dow === 0 ? 7 : dow;
    }
    case 'doy':
      return tm.days + UNIX_EPOCH_JDATE - date2j(y, 1, 1) + 1;
  }
  return undefined;
}

/** int64_div_fast_to_numeric(v, scale): exactly `scale` decimals. */
function scaled(v: bigint, scale: number): string {
  const neg = v < 0n;
  const digits = (neg ? -v : v).toString().padStart(scale + 1, '0');
  return `${neg ? '-' : ''}${digits.slice(0, digits.length - scale)}.${digits.slice(digits.length - scale)}`;
}

const notSupported = (unit: string, type: string): never => {
  throw new NotLocal(`unit "${unit}" not supported for type ${type}`);
};

/**
 * timestamp_part_common / timestamptz_part_common: `stored` a stored
 * timestamp (`tz` false) or timestamptz, `offset` the session zone's
 * seconds east of UTC (timestamptz only). Numeric text, a float8 number, or
 * NULL.
 */
export function timestampPart(
  unit: string,
  stored: string,
  tz: boolean,
  offset: number,
  numeric: boolean,
): string | number | null {
  const type = tz ? 'timestamp with time zone' : 'timestamp without time zone';
  if (!TIMESTAMP_FIELDS.has(unit)) notSupported(unit, type);
  if (stored === 'infinity' || stored === '-infinity') {
    // NonFiniteTimestampTzPart: the time zone units are oscillating here, even for timestamp.
    if (!MONOTONIC.has(unit)) return null;
    const neg = stored === '-infinity';
    if (numeric) return neg ? '-Infinity' : 'Infinity';
    return neg ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  }
  const utc = storedUsec(stored, tz);
  if (unit === 'epoch') {
    // The stored value is UTC: (timestamp - epoch) / 1e6, whatever the zone.
    if (numeric) return scaled(utc, 6);
    return Number(utc) / 1000000.0;
  }
  if ((unit === 'timezone' || unit === 'timezone_h' || unit === 'timezone_m') && !tz)
    notSupported(unit, type);
  const tm = breakDown(tz ? utc + BigInt(offset) * 1_000_000n : utc);
  // timestamp2tm fails outside Julian days 0 .. 2^31; keep to the years both majors print.
  if (tm.year < -4712 || tm.year > 294276) throw new NotLocal('timestamp outside the plain range');
  let r: number;
  switch (unit) {
    case 'microseconds':
      r = tm.sec * 1000000 + tm.fsec;
      break;
    case 'milliseconds':
      if (numeric) return scaled(BigInt(tm.sec * 1000000 + tm.fsec), 3);
      return tm.sec * 1000.0 + tm.fsec / 1000.0;
    case 'second':
      if (numeric) return scaled(BigInt(tm.sec * 1000000 + tm.fsec), 6);
      return tm.sec + tm.fsec / 1000000.0;
    case 'minute':
      r = tm.min;
      break;
    case 'hour':
      r = tm.hour;
      break;
    case 'julian':
      if (numeric) throw new NotLocal('extract(julian FROM timestamp) as numeric');
      return (
        date2j(tm.year, tm.mon, tm.mday) +
        ((tm.hour * 60 + tm.min) * 60 + tm.sec + tm.fsec / 1000000.0) / 86400
      );
    case 'timezone':
      r = offset;
      break;
    case 'timezone_h':
      r = cdiv(offset, 3600);
      break;
    case 'timezone_m':
      r = cdiv(offset, 60) % 60;
      break;
    default:
      r = calendarField(unit, tm) as number;
  }
  return numeric ? String(r) : r;
}

const STORED_DATE = /^(\d{4,})-(\d{2})-(\d{2})( BC)?$/;

/** Days since 1970-01-01 of a stored finite date (BC and years past 9999 included). */
export function storedDateDays(stored: string): number {
  const m = STORED_DATE.exec(stored);
  if (!m) throw new NotLocal(`date ${stored.slice(0, 20)} not in stored form`);
  const year = m[4] ? 1 - Number(m[1]) : Number(m[1]);
  return daysFromCivil(year, Number(m[2]), Number(m[3]));
}

/** Units extract(… FROM date) reads (extract_date); the others are 0A000. */
export const DATE_PART_FIELDS: ReadonlySet<string> = new Set([
  'day',
  'month',
  'quarter',
  'week',
  'year',
  'decade',
  'century',
  'millennium',
  'julian',
  'isoyear',
  'dow',
  'isodow',
  'doy',
  'epoch',
]);

/** extract(unit FROM date) (extract_date, Postgres 14+), numeric text with scale 0. */
export function extractDateField(unit: string, stored: string): string | null {
  if (!DATE_PART_FIELDS.has(unit)) notSupported(unit, 'date');
  if (stored === 'infinity' || stored === '-infinity') {
    if (!MONOTONIC.has(unit)) return null;
    return stored === 'infinity' ? 'Infinity' : '-Infinity';
  }
  const days = storedDateDays(stored);
  if (unit === 'epoch') return (BigInt(days) * 86400n).toString();
  if (unit === 'julian') return String(days + UNIX_EPOCH_JDATE);
  const tm = breakDown(BigInt(days) * USECS_PER_DAY);
  return String(calendarField(unit, tm));
}

/** Largest date whose timestamp exists (294276-12-31): date2timestamp raises 22008 past it. */
const MAX_TIMESTAMP_DAYS = daysFromCivil(294277, 1, 1);

/** date_part(text, date): Postgres's SQL function, date_part(text, $2::timestamp). */
export function datePartOfDate(unit: string, stored: string): number | null {
  if (stored === 'infinity' || stored === '-infinity') {
    return timestampPart(unit, stored, false, 0, false) as number | null;
  }
  const days = storedDateDays(stored);
  if (days >= MAX_TIMESTAMP_DAYS) throw new NotLocal('date out of range for timestamp');
  const tm = breakDown(BigInt(days) * USECS_PER_DAY);
  const y = tm.year > 0 ? tm.year : 1 - tm.year;
  const ts = `${String(y).padStart(4, '0')}-${String(tm.mon).padStart(2, '0')}-${String(tm.mday).padStart(2, '0')} 00:00:00${tm.year > 0 ? '' : ' BC'}`;
  return timestampPart(unit, ts, false, 0, false) as number | null;
}

/** date_part(text, time) (time_part_common, float8), `usec` microseconds since midnight. */
export function timePartFloat(unit: string, usec: bigint): number {
  const secs = Number(usec / 1_000_000n);
  const sec = secs % 60;
  const fsec = Number(usec % 1_000_000n);
  switch (unit) {
    case 'microseconds':
      return sec * 1000000 + fsec;
    case 'milliseconds':
      return sec * 1000.0 + fsec / 1000.0;
    case 'second':
      return sec + fsec / 1000000.0;
    case 'minute':
      return Math.floor(secs / 60) % 60;
    case 'hour':
      return Math.floor(secs / 3600);
    case 'epoch':
      return Number(usec) / 1000000.0;
  }
  return notSupported(unit, 'time without time zone');
}

/** date_part(text, interval) (interval_part_common, float8) of a finite interval. */
export function intervalPartFloat(
  unit: string,
  iv: { months: number; days: number; usec: bigint },
  integerField: () => string | null,
): number | null {
  const inMinute = iv.usec % 60_000_000n;
  const sec = Number(inMinute / 1_000_000n);
  const fsec = Number(inMinute % 1_000_000n);
  switch (unit) {
    case 'milliseconds':
      return sec * 1000.0 + fsec / 1000.0;
    case 'second':
      return sec + fsec / 1000000.0;
    case 'epoch': {
      let r = Number(iv.usec) / 1000000.0;
      r += 365.25 * 86400 * Math.trunc(iv.months / 12);
      r += 30 * 86400 * (iv.months % 12);
      r += 86400 * iv.days;
      return r;
    }
  }
  const v = integerField();
  return v === null ? null : Number(v);
}

/** The SQLite function's dispatch (DtFn.datePart): `type` is the value's type name. */
export function datePart(
  type: string,
  unit: string,
  stored: string,
  numeric: boolean,
  offset: number,
): string | number | null {
  switch (type) {
    case 'timestamp':
    case 'timestamptz':
      return timestampPart(unit, stored, type === 'timestamptz', offset, numeric);
    case 'date':
      return numeric ? extractDateField(unit, stored) : datePartOfDate(unit, stored);
    case 'time':
      return numeric ? extractTime(unit, stored) : timePartFloat(unit, timeUsec(stored));
    case 'interval': {
      if (numeric) return extractInterval(unit, stored);
      const iv = parseStoredInterval(stored);
      if (typeof iv === 'string') throw new NotLocal('date_part() of an infinite interval');
      return intervalPartFloat(unit, iv, () => extractInterval(unit, stored));
    }
  }
  throw new NotLocal(`date_part() of ${type}`);
}
