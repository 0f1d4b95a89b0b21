/**
 * Operations on stored intervals (interval_out text, IntervalStyle postgres:
 * docs/architecture.md "Storage of values"): the comparison key, unary minus,
 * + and -, justify_hours/days/interval and extract(field FROM interval).
 *
 * Each follows timestamp.c. A result that Postgres would reject (overflow:
 * 22008 "interval out of range") throws NotLocal, so upstream raises its own
 * error; so does a finite result with every field at its limit (Postgres 17
 * reads those bit patterns as ±infinity) and any result beyond what both
 * supported majors compute alike. Infinite intervals exist from Postgres 17
 * on (stored as `infinity` / `-infinity`); they follow 17's rules, and a
 * Postgres 15 replica never holds one.
 */
import { NotLocal } from '../errors.js';
import { adjustForTypmod, formatInterval, type IntervalValue, rint } from './interval.js';

const USECS_PER_SEC = 1_000_000n;
const USECS_PER_MINUTE = 60n * USECS_PER_SEC;
const USECS_PER_HOUR = 60n * USECS_PER_MINUTE;
const USECS_PER_DAY = 24n * USECS_PER_HOUR;
const INT32_MAX = 2 ** 31 - 1;
const INT32_MIN = -(2 ** 31);
const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

export type StoredInterval = IntervalValue | 'infinity' | '-infinity';

const PART = /^([+-]?\d+) (year|years|mon|mons|day|days)$/;
const TIME = /^([+-]?)(\d+):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/;

const parsed = new Map<string, StoredInterval>();
const PARSE_CACHE = 20_000;

/** The stored text back to its fields (the inverse of formatInterval). */
export function parseStoredInterval(text: string): StoredInterval {
  const hit = parsed.get(text);
  if (hit !== undefined) return hit;
  const v = parseUncached(text);
  if (parsed.size >= PARSE_CACHE) parsed.clear();
  parsed.set(text, v);
  return v;
}

function parseUncached(text: string): StoredInterval {
  if (text === 'infinity' || text === '-infinity') return text;
  const bad = (): never => {
    throw new NotLocal(`interval ${JSON.stringify(text.slice(0, 40))} not in interval_out form`);
  };
  let months = 0;
  let days = 0;
  let usec = 0n;
  const words = text.split(' ');
  let i = 0;
  while (i + 1 < words.length) {
    const m = PART.exec(`${words[i]} ${words[i + 1]}`);
    if (!m) break;
    const n = Number(m[1]);
    const unit = m[2] as string;
    if (unit.startsWith('year')) months += n * 12;
    else if (unit.startsWith('mon')) months += n;
    else days += n;
    i += 2;
  }
  if (i < words.length) {
    if (i !== words.length - 1) bad();
    const t = TIME.exec(words[i] as string);
    if (!t) bad();
    const [, sign, h, mi, s, frac = ''] = t as RegExpExecArray;
    usec =
      BigInt(h as string) * USECS_PER_HOUR +
      BigInt(mi as string) * USECS_PER_MINUTE +
      BigInt(s as string) * USECS_PER_SEC +
      BigInt(frac.padEnd(6, '0') || '0');
    if (sign === '-') usec = -usec;
  } else if (i === 0) bad();
  return { months, days, usec };
}

/** A finite result as stored, or NotLocal where Postgres errors or the versions part. */
export function storeInterval(v: IntervalValue): string {
  if (v.months > INT32_MAX || v.months < INT32_MIN || v.days > INT32_MAX || v.days < INT32_MIN)
    throw new NotLocal('interval out of range');
  if (v.usec > INT64_MAX || v.usec < INT64_MIN) throw new NotLocal('interval out of range');
  const allMax = v.months === INT32_MAX && v.days === INT32_MAX && v.usec === INT64_MAX;
  const allMin = v.months === INT32_MIN && v.days === INT32_MIN && v.usec === INT64_MIN;
  // 17 reads these as ±infinity (and errors producing one); 15 keeps them finite.
  if (allMax || allMin) throw new NotLocal('interval at the infinity bit patterns');
  return formatInterval(v);
}

const KEY_BIAS = 10n ** 24n;

/**
 * A string whose bytewise order is interval_cmp's: months count as 30 days,
 * days as 24 hours (interval_cmp_value); infinities beyond every finite value.
 */
export function intervalKey(stored: string): string {
  const v = parseStoredInterval(stored);
  if (v === 'infinity') return '~';
  if (v === '-infinity') return '!';
  const span = (BigInt(v.months) * 30n + BigInt(v.days)) * USECS_PER_DAY + v.usec;
  return (span + KEY_BIAS).toString().padStart(25, '0');
}

/** interval_um. */
export function intervalNegate(stored: string): string {
  const v = parseStoredInterval(stored);
  if (v === 'infinity') return '-infinity';
  if (v === '-infinity') return 'infinity';
  return storeInterval({ months: -v.months, days: -v.days, usec: -v.usec });
}

/** interval_pl / interval_mi. */
export function intervalAddSub(op: string, a: string, b: string): string {
  const x = parseStoredInterval(a);
  let y = parseStoredInterval(b);
  if (op === '-') {
    if (y === 'infinity') y = '-infinity';
    else if (y === '-infinity') y = 'infinity';
    else y = { months: -y.months, days: -y.days, usec: -y.usec };
  } else if (op !== '+') throw new NotLocal(`interval operator ${op}`);
  if (typeof x === 'string' || typeof y === 'string') {
    if (typeof x === 'string' && typeof y === 'string' && x !== y)
      throw new NotLocal('interval out of range');
    return typeof x === 'string' ? x : (y as string);
  }
  return storeInterval({ months: x.months + y.months, days: x.days + y.days, usec: x.usec + y.usec });
}

/** interval_scale: a stored interval under a typmod (infinite ones unchanged). */
export function intervalScale(stored: string, typmod: number): string {
  const v = parseStoredInterval(stored);
  if (typeof v === 'string') return v;
  return storeInterval(adjustForTypmod(v, typmod, 'interval_scale'));
}

/** TSROUND: to the nearest microsecond's worth of the unit (TS_PREC_INV). */
const tsround = (x: number): number => rint(x * 1_000_000) / 1_000_000;

/**
 * interval_mul / interval_div by a float8 factor: the months and days
 * products truncated, their fractions cascaded down through 30-day months
 * and 86400-second days, the time rint()ed. Results near the field limits
 * (where 15 and 17 check overflow differently), infinite intervals and a
 * zero divisor (22012) are not local.
 */
export function intervalMulDiv(op: string, stored: string, factor: number): string {
  const v = parseStoredInterval(stored);
  if (typeof v === 'string') throw new NotLocal('infinite interval times a number');
  if (!Number.isFinite(factor)) throw new NotLocal('interval times a non-finite number');
  if (op === '/' && factor === 0) throw new NotLocal('division by zero');
  if (op !== '*' && op !== '/') throw new NotLocal(`interval operator ${op}`);
  const apply = (x: number): number => (op === '*' ? x * factor : x / factor);
  const near = 2 ** 31 - 2 ** 24;
  const m = apply(v.months);
  const d = apply(v.days);
  if (!(Math.abs(m) < near) || !(Math.abs(d) < near)) throw new NotLocal('interval product near the limits');
  const months = Math.trunc(m);
  let days = Math.trunc(d);
  const monthRemainderDays = tsround((apply(v.months) - months) * 30);
  let secRemainder = tsround(
    (apply(v.days) - days + monthRemainderDays - Math.trunc(monthRemainderDays)) * 86400,
  );
  if (Math.abs(secRemainder) >= 86400) {
    const extra = Math.trunc(secRemainder / 86400);
    days += extra;
    secRemainder -= extra * 86400;
  }
  days += Math.trunc(monthRemainderDays);
  const time = rint(apply(Number(v.usec)) + secRemainder * 1_000_000);
  if (!(Math.abs(time) < 2 ** 62) || !(Math.abs(days) < near))
    throw new NotLocal('interval product near the limits');
  return storeInterval({ months, days, usec: BigInt(time) });
}

/** C's truncating division and remainder on integers held exactly in doubles. */
const tdiv = (a: number, b: number): number => Math.trunc(a / b);

function justifyHoursOf(v: IntervalValue): IntervalValue {
  const wholeday = v.usec / USECS_PER_DAY;
  let time = v.usec - wholeday * USECS_PER_DAY;
  let days = v.days + Number(wholeday);
  if (days > 0 && time < 0n) {
    time += USECS_PER_DAY;
    days--;
  } else if (days < 0 && time > 0n) {
    time -= USECS_PER_DAY;
    days++;
  }
  return { months: v.months, days, usec: time };
}

/** justify_hours, justify_days, justify_interval. */
export function justify(kind: string, stored: string): string {
  const v = parseStoredInterval(stored);
  if (typeof v === 'string') return v;
  // Intermediate sums stay within a few units of the inputs: keep the inputs
  // well inside the int32 range, so no step can overflow where the result does not.
  const limit = INT32_MAX - 100;
  if (Math.abs(v.months) > limit || Math.abs(v.days) > limit) throw new NotLocal(`${kind} near the limits`);
  if (kind === 'justify_hours') return storeInterval(justifyHoursOf(v));
  if (kind === 'justify_days') {
    const wholemonth = tdiv(v.days, 30);
    let days = v.days - wholemonth * 30;
    let months = v.months + wholemonth;
    if (months > 0 && days < 0) {
      days += 30;
      months--;
    } else if (months < 0 && days > 0) {
      days -= 30;
      months++;
    }
    return storeInterval({ months, days, usec: v.usec });
  }
  if (kind !== 'justify_interval') throw new NotLocal(kind);
  const wholeday = v.usec / USECS_PER_DAY;
  let time = v.usec - wholeday * USECS_PER_DAY;
  let days = v.days + Number(wholeday);
  const wholemonth = tdiv(days, 30);
  days -= wholemonth * 30;
  let months = v.months + wholemonth;
  if (months > 0 && (days < 0 || (days === 0 && time < 0n))) {
    days += 30;
    months--;
  } else if (months < 0 && (days > 0 || (days === 0 && time > 0n))) {
    days -= 30;
    months++;
  }
  if (days > 0 && time < 0n) {
    time += USECS_PER_DAY;
    days--;
  } else if (days < 0 && time > 0n) {
    time -= USECS_PER_DAY;
    days++;
  }
  return storeInterval({ months, days, usec: time });
}

/** Fields of extract(field FROM interval) that are local, and whether an infinite interval gives ±Infinity (else NULL). */
export const INTERVAL_FIELDS: ReadonlyMap<string, boolean> = new Map([
  ['microseconds', false],
  ['milliseconds', false],
  ['second', false],
  ['minute', false],
  ['hour', true],
  ['day', true],
  ['month', false],
  ['quarter', false],
  ['year', true],
  ['decade', true],
  ['century', true],
  ['millennium', true],
  ['epoch', true],
]);

/** int64_div_fast_to_numeric(v, scale): v / 10^scale as numeric with exactly `scale` decimals. */
function scaled(v: bigint, scale: number): string {
  const neg = v < 0n;
  const digits = (neg ? -v : v).toString().padStart(scale + 1, '0');
  return `${neg ? '-' : ''}${digits.slice(0, digits.length - scale)}.${digits.slice(digits.length - scale)}`;
}

/** extract(field FROM interval) (interval_part_common, numeric result), as numeric text. */
export function extractInterval(field: string, stored: string): string | null {
  const v = parseStoredInterval(stored);
  if (typeof v === 'string') {
    if (INTERVAL_FIELDS.get(field) !== true) return null;
    return v === 'infinity' ? 'Infinity' : '-Infinity';
  }
  // interval2itm: every field truncated toward zero, keeping the sign.
  const year = tdiv(v.months, 12);
  const mon = v.months - year * 12;
  const hour = v.usec / USECS_PER_HOUR;
  let rest = v.usec - hour * USECS_PER_HOUR;
  const min = rest / USECS_PER_MINUTE;
  rest -= min * USECS_PER_MINUTE;
  switch (field) {
    case 'microseconds':
      return String(rest);
    case 'milliseconds':
      return scaled(rest, 3);
    case 'second':
      return scaled(rest, 6);
    case 'minute':
      return String(min);
    case 'hour':
      return String(hour);
    case 'day':
      return String(v.days);
    case 'month':
      return String(mon);
    case 'quarter':
      return String(tdiv(mon, 3) + 1);
    case 'year':
      return String(year);
    case 'decade':
      return String(tdiv(year, 10));
    case 'century':
      return String(tdiv(year, 100));
    case 'millennium':
      return String(tdiv(year, 1000));
    case 'epoch': {
      // DAYS_PER_YEAR 365.25 and DAYS_PER_MONTH 30, exactly as the integer formula does.
      const secs =
        (BigInt(1461 * year) + BigInt(120 * mon) + 4n * BigInt(v.days)) * (86400n / 4n) * USECS_PER_SEC;
      return scaled(secs + v.usec, 6);
    }
  }
  throw new NotLocal(`extract(${field} FROM interval)`);
}

const STORED_DATETIME = /^(\d{4,})-(\d{2})-(\d{2})((?: \d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)?)( BC)?$/;

/**
 * A string ordering stored dates or timestamps (DateStyle ISO output) like
 * Postgres: the plain form (4-digit AD year) is its own key, so that keys
 * and plain values compare alike; BC values sort between '-infinity' and
 * year 1 ('.' + the year counted backwards), years past 9999 between 9999
 * and 'infinity' (':' + the padded year). `withTime`: a timestamp, whose
 * time of day is padded to microseconds so that fractions order too.
 */
export function datetimeKey(stored: string, withTime: boolean): string {
  if (stored === 'infinity' || stored === '-infinity') return stored;
  const m = STORED_DATETIME.exec(stored);
  if (!m || (withTime ? m[4] === '' : m[4] !== '')) {
    throw new NotLocal(`${withTime ? 'timestamp' : 'date'} ${stored.slice(0, 40)} not comparable`);
  }
  const [, y, mo, d, t = '', bc] = m;
  let rest = `-${mo}-${d}`;
  if (withTime) {
    const [hms, frac = ''] = t.trim().split('.');
    rest += ` ${hms}.${frac.padEnd(6, '0')}`;
  }
  const year = Number(y);
  if (bc) return `.${String(10_000_000 - year).padStart(8, '0')}${rest}`;
  if ((y as string).length > 4) return `:${String(year).padStart(8, '0')}${rest}`;
  return `${y}${rest}`;
}
