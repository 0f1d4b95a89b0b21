/**
 * interval_in for the common input forms, and interval_out under
 * IntervalStyle=postgres (the stored form, docs/architecture.md).
 *
 * The parse follows Postgres's DecodeInterval (datetime.c, 15 and later):
 * fields are read right to left, a number takes the unit to its right (or,
 * rightmost and bare, seconds; left of a time field or an hour count, days),
 * fractions spill into the smaller fields with the same double arithmetic
 * and rint(). Only forms whose meaning is the same on every supported major
 * are accepted: `ago`, `infinity` (17+), ISO 8601 (`P1Y`) and SQL-standard
 * sign propagation throw `NotLocal`, as does any input Postgres rejects
 * (each step's overflow is checked against the C field's exact limits, as
 * DecodeInterval does) and the all-fields-at-a-limit values 17 reads as
 * infinities. The typmod forms (`interval '1' day`) read under the range.
 */
import { InputError, NotLocal } from '../errors.js';
import { iso8601Interval } from './interval-iso.js';

export interface IntervalValue {
  months: number;
  days: number;
  usec: bigint;
}

const USECS_PER_SEC = 1_000_000n;
const USECS_PER_MINUTE = 60n * USECS_PER_SEC;
const USECS_PER_HOUR = 60n * USECS_PER_MINUTE;
const USECS_PER_DAY = 24n * USECS_PER_HOUR;
/** The C field types' limits: DecodeInterval fails (22008) at the first step leaving them. */
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const int32 = (x: number): boolean => x >= INT32_MIN && x <= INT32_MAX;

export type Unit =
  | 'microsecond'
  | 'millisecond'
  | 'second'
  | 'minute'
  | 'hour'
  | 'day'
  | 'week'
  | 'month'
  | 'year'
  | 'decade'
  | 'century'
  | 'millennium';

/** deltatktbl's spellings (the exact words; Postgres also matches longer words on their first 10 letters). */
const UNITS = new Map<string, Unit>([
  ['us', 'microsecond'],
  ['usec', 'microsecond'],
  ['usecs', 'microsecond'],
  ['useconds', 'microsecond'],
  ['microsecond', 'microsecond'],
  ['microseconds', 'microsecond'],
  ['ms', 'millisecond'],
  ['msec', 'millisecond'],
  ['msecs', 'millisecond'],
  ['mseconds', 'millisecond'],
  ['millisecond', 'millisecond'],
  ['milliseconds', 'millisecond'],
  ['s', 'second'],
  ['sec', 'second'],
  ['secs', 'second'],
  ['second', 'second'],
  ['seconds', 'second'],
  ['m', 'minute'],
  ['min', 'minute'],
  ['mins', 'minute'],
  ['minute', 'minute'],
  ['minutes', 'minute'],
  ['h', 'hour'],
  ['hr', 'hour'],
  ['hrs', 'hour'],
  ['hour', 'hour'],
  ['hours', 'hour'],
  ['d', 'day'],
  ['day', 'day'],
  ['days', 'day'],
  ['w', 'week'],
  ['week', 'week'],
  ['weeks', 'week'],
  ['mon', 'month'],
  ['mons', 'month'],
  ['month', 'month'],
  ['months', 'month'],
  ['y', 'year'],
  ['yr', 'year'],
  ['yrs', 'year'],
  ['year', 'year'],
  ['years', 'year'],
  ['dec', 'decade'],
  ['decs', 'decade'],
  ['decade', 'decade'],
  ['decades', 'decade'],
  ['c', 'century'],
  ['cent', 'century'],
  ['century', 'century'],
  ['centuries', 'century'],
  ['mil', 'millennium'],
  ['mils', 'millennium'],
  ['millennium', 'millennium'],
  ['millennia', 'millennium'],
]);

/** Unit words (deltatktbl) → the field name extract() and date_part() use for intervals. */
export const INTERVAL_UNITS: ReadonlyMap<string, string> = new Map<string, string>([
  ...[...UNITS].map(([word, unit]): [string, string] => [
    word,
    unit === 'microsecond' || unit === 'millisecond' ? `${unit}s` : unit,
  ]),
  ['epoch', 'epoch'],
  ['quarter', 'quarter'],
]);

/** Field masks (DTK_M): a field given twice is an error. */
const MASK: Record<Unit, number> = {
  microsecond: 1,
  millisecond: 2,
  second: 4,
  minute: 8,
  hour: 16,
  day: 32,
  week: 64,
  month: 128,
  year: 256,
  decade: 512,
  century: 1024,
  millennium: 2048,
};
const ALL_SECS = MASK.second | MASK.millisecond | MASK.microsecond;
const TIME_MASK = MASK.hour | MASK.minute | ALL_SECS;

/** C's rint() under the default rounding mode: half to even. */
export function rint(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/** DecodeInterval's pg_itm_in: the fields as accumulated, each step checked for overflow. */
export class Acc {
  years = 0;
  months = 0;
  days = 0;
  usec = 0n;

  /**
   * The input text when Postgres's error for it is certain to be the first
   * one this parse meets (see `exactErrors`): then failures Postgres also
   * reports are InputErrors worded like interval_in's.
   */
  exactText: string | undefined;

  constructor(readonly what: string) {}

  /** itmin2interval: years and months folded into int32 months. */
  result(): IntervalValue {
    return accResult(this);
  }

  fail(why = 'not a plain interval'): never {
    throw new NotLocal(`${this.what}: ${why}`);
  }

  /** DTERR_FIELD_OVERFLOW, which interval_in reports as DTERR_INTERVAL_OVERFLOW (22015). */
  overflow(): never {
    this.raise(
      'interval field out of range',
      '22015',
      `interval field value out of range: "${this.exactText}"`,
    );
  }

  /** DTERR_BAD_FORMAT where interval_in's ISO 8601 retry cannot succeed (22007). */
  badFormat(why: string): never {
    this.raise(why, '22007', `invalid input syntax for type interval: "${this.exactText}"`);
  }

  raise(why: string, code: string, message: string): never {
    if (this.exactText === undefined) this.fail(why);
    throw new InputError(`${this.what}: ${why}`, { code, message });
  }

  check(): void {
    if (!int32(this.years) || !int32(this.months) || !int32(this.days)) this.overflow();
    if (this.usec > INT64_MAX || this.usec < INT64_MIN) this.overflow();
  }

  /** AdjustFractMicroseconds. */
  fractUsec(frac: number, scale: bigint): void {
    if (frac === 0) return;
    const f = frac * Number(scale);
    const whole = Math.trunc(f);
    this.usec += BigInt(whole) + BigInt(rint(f - whole));
    this.check();
  }

  /** AdjustFractDays. */
  fractDays(frac: number, scale: number): void {
    if (frac === 0) return;
    const f = frac * scale;
    const extra = Math.trunc(f);
    this.days += extra;
    this.check();
    this.fractUsec(f - extra, USECS_PER_DAY);
  }

  /** A unit's integer and fractional parts (DecodeInterval's and DecodeISO8601Interval's Adjust* calls). */
  add(unit: Unit, val: bigint, fval: number): void {
    const small = (v: bigint): number => {
      if (v > BigInt(INT32_MAX) || v < BigInt(INT32_MIN)) this.overflow();
      return Number(v);
    };
    /** pg_mul_s32_overflow. */
    const times = (v: number, scale: number): number => {
      const p = v * scale;
      if (!int32(p)) this.overflow();
      return p;
    };
    const years = (scale: number): void => {
      this.years += times(small(val), scale);
      this.check();
      // AdjustFractYears: (int) rint(frac * scale * MONTHS_PER_YEAR)
      this.months += rint(fval * scale * 12);
    };
    switch (unit) {
      case 'microsecond':
      case 'millisecond':
      case 'second':
      case 'minute':
      case 'hour': {
        const scale =
          unit === 'microsecond'
            ? 1n
            : unit === 'millisecond'
              ? 1000n
              : unit === 'second'
                ? USECS_PER_SEC
                : unit === 'minute'
                  ? USECS_PER_MINUTE
                  : USECS_PER_HOUR;
        this.usec += val * scale;
        this.check();
        this.fractUsec(fval, scale);
        break;
      }
      case 'day':
        this.days += small(val);
        this.check();
        this.fractUsec(fval, USECS_PER_DAY);
        break;
      case 'week':
        this.days += times(small(val), 7);
        this.check();
        this.fractDays(fval, 7);
        break;
      case 'month':
        this.months += small(val);
        this.check();
        this.fractDays(fval, 30);
        break;
      case 'year':
        years(1);
        break;
      case 'decade':
        years(10);
        break;
      case 'century':
        years(100);
        break;
      case 'millennium':
        years(1000);
        break;
    }
    this.check();
  }
}

const NUMBER = /^([+-]?)(\d+)(?:\.(\d+))?$/;
const YEAR_MONTH = /^([+-]?)(\d+)-(\d+)$/;
const TIME = /^([+-]?)(\d+):(\d+)(?::(\d+)(?:\.(\d+))?)?$/;
/** `mm:ss.fff`: DecodeTimeCommon always reads two fields with a fraction as minutes and seconds. */
const MIN_SEC_FRACTION = /^([+-]?)(\d+):(\d+)\.(\d+)$/;

/** INTERVAL_MASK bits of an interval typmod's range (datetime.h). */
export const RANGE = {
  month: 1 << 1,
  year: 1 << 2,
  day: 1 << 3,
  hour: 1 << 10,
  minute: 1 << 11,
  second: 1 << 12,
} as const;
export const FULL_RANGE = 0x7fff;
export const FULL_PRECISION = 0xffff;
const R = RANGE;

/**
 * The ranges the grammar produces (intervaltypmodin accepts no other), and
 * the unit DecodeInterval gives a rightmost number without one under each.
 */
export const RANGE_UNITS: ReadonlyMap<number, Unit> = new Map<number, Unit>([
  [FULL_RANGE, 'second'],
  [R.year, 'year'],
  [R.month, 'month'],
  [R.year | R.month, 'month'],
  [R.day, 'day'],
  [R.hour, 'hour'],
  [R.day | R.hour, 'hour'],
  [R.minute, 'minute'],
  [R.hour | R.minute, 'minute'],
  [R.day | R.hour | R.minute, 'minute'],
  [R.second, 'second'],
  [R.minute | R.second, 'second'],
  [R.hour | R.minute | R.second, 'second'],
  [R.day | R.hour | R.minute | R.second, 'second'],
]);

/** interval_in (IntervalStyle postgres) for the forms described above; `range` is the typmod's. */
export function parseInterval(text: string, what: string, range: number = FULL_RANGE): IntervalValue {
  const rightmost = RANGE_UNITS.get(range);
  if (rightmost === undefined) throw new NotLocal(`${what}: interval range ${range}`);
  const acc = new Acc(what);
  if (exactErrors(text)) acc.exactText = text;
  // DecodeInterval rejects these as a bad format; interval_in then tries ISO 8601.
  if (text.startsWith('P')) return iso8601Interval(text, acc);
  const tokens: string[] = [];
  for (const t of text.split(/[ \t\n\r\f\v]+/)) {
    if (t === '') continue;
    // ParseDateTime ends a number field at a letter: '10mon', '-10.5s'.
    const run = /^([+-]?\d+(?:\.\d+)?)([a-zA-Z]+)$/.exec(t);
    if (run) tokens.push(run[1] as string, run[2] as string);
    else tokens.push(t);
  }
  if (tokens[0] === '@') tokens.shift();
  // 'ago' (allowed last only) negates everything.
  const ago = tokens.length > 1 && tokens[tokens.length - 1]?.toLowerCase() === 'ago';
  if (ago) {
    tokens.pop();
    // A unit word or a time field (which reads no unit) before it; a bare number would take ago's token value as its unit.
    const last = (tokens[tokens.length - 1] as string).toLowerCase();
    if (unitOf(last) === undefined && !last.includes(':')) acc.fail('ago after a number');
  }
  if (tokens.length === 0) acc.fail();
  let fmask = 0;
  /** The unit of the number to the left (type in DecodeInterval); undefined: none yet. */
  let type: Unit | undefined;
  let pendingUnit = false;
  let sawFraction = false;
  let sawTime = false;
  for (let i = tokens.length - 1; i >= 0; i--) {
    const tok = (tokens[i] as string).toLowerCase();
    let tmask = 0;
    const unit = unitOf(tok);
    if (unit !== undefined) {
      if (pendingUnit) acc.fail('unit without a number');
      type = unit;
      pendingUnit = true;
      continue;
    }
    const minSec = MIN_SEC_FRACTION.exec(tok);
    const twoFields = minSec === null && /^[+-]?\d+:\d+$/.test(tok);
    const time = minSec
      ? ([tok, minSec[1], '0', minSec[2], minSec[3], minSec[4]] as unknown as RegExpExecArray)
      : twoFields && range === (R.minute | R.second)
        ? // Two fields under MINUTE TO SECOND are mm:ss.
          (() => {
            const [, sg, a, b] = /^([+-]?)(\d+):(\d+)$/.exec(tok) as RegExpExecArray;
            return [tok, sg, '0', a, b, undefined] as unknown as RegExpExecArray;
          })()
        : TIME.exec(tok);
    if (time) {
      // DecodeTimeForInterval assigns the microseconds: a fraction spilled
      // into them from the right would be lost; not reproduced.
      if (pendingUnit || sawFraction || sawTime) acc.fail('time field in this position');
      const [, sign, hs, ms, ss = '0', frac] = time;
      const min = Number(ms);
      const sec = Number(ss);
      if (min > 59 || sec > 60 || (ms as string).length > 9 || ss.length > 9)
        acc.fail('time field out of range');
      let fsec = 0n;
      if (frac !== undefined) fsec = BigInt(rint(Number(`0.${frac}`) * 1_000_000));
      let usec =
        BigInt(hs as string) * USECS_PER_HOUR + BigInt(min) * USECS_PER_MINUTE + BigInt(sec) * USECS_PER_SEC;
      usec += fsec;
      if (sign === '-') usec = -usec;
      acc.usec = usec;
      acc.check();
      tmask = TIME_MASK;
      type = 'day';
      sawTime = true;
    } else {
      const ym = YEAR_MONTH.exec(tok);
      const num = ym ? undefined : NUMBER.exec(tok);
      if (!ym && !num) acc.fail();
      if (ym) {
        // SQL "years-months": the unit is months whatever follows.
        if (pendingUnit) acc.fail('year-month with a unit');
        const [, sign, ys, mos] = ym;
        const mo = Number(mos);
        if (mo >= 12) acc.overflow();
        let v = BigInt(ys as string) * 12n + BigInt(mo);
        if (sign === '-') v = -v;
        acc.add('month', v, 0);
        tmask = MASK.month;
        type = 'month';
      } else {
        const [, sign, ints, frac] = num as RegExpExecArray;
        const u: Unit = type ?? rightmost;
        type = u;
        let val = BigInt(ints as string);
        let fval = frac === undefined ? 0 : Number(`0.${frac}`);
        if (sign === '-') {
          val = -val;
          fval = -fval;
        }
        if (fval !== 0) sawFraction = true;
        acc.add(u, val, fval);
        tmask = u === 'second' ? (fval === 0 ? MASK.second : ALL_SECS) : MASK[u];
        if (u === 'hour') type = 'day';
      }
      pendingUnit = false;
    }
    if (tmask & fmask) {
      if (text.startsWith('P')) acc.fail('a field given twice');
      acc.badFormat('a field given twice');
    }
    fmask |= tmask;
  }
  if (pendingUnit || fmask === 0) acc.fail();
  if (ago) {
    if (
      acc.usec === INT64_MIN ||
      acc.days === INT32_MIN ||
      acc.months === INT32_MIN ||
      acc.years === INT32_MIN
    )
      acc.overflow();
    acc.usec = -acc.usec;
    acc.days = -acc.days;
    acc.months = -acc.months;
    acc.years = -acc.years;
  }
  return acc.result();
}

/** A field this parse reads as ParseDateTime splits it (ParseDateTime fails on none of them). */
const PLAIN_FIELD =
  /^(?:@|[a-zA-Z]+|[+-]?\d+(?:\.\d+)?[a-zA-Z]*|[+-]?\d+-\d+|[+-]?\d+:\d+(?::\d+)?(?:\.\d+)?)$/;

/**
 * Whether an error this parse meets is the one interval_in raises: the
 * text tokenizes without error in ParseDateTime (plain fields only, well
 * within its field count and work buffer), so DecodeInterval runs and, going
 * right to left like this parse, fails at the same field; an ISO 8601 text is
 * one field that DecodeInterval rejects as a bad format, so the ISO parse
 * runs.
 */
function exactErrors(text: string): boolean {
  if (text.length > 200) return false;
  if (text.startsWith('P')) return /^P[0-9A-Za-z.:+-]*$/.test(text);
  const fields = text.split(/[ \t\n\r\f\v]+/).filter((t) => t !== '');
  return fields.length <= 12 && fields.every((t) => PLAIN_FIELD.test(t));
}

/** The unit a word names: datebsearch compares the first TOKMAXLEN (10) characters. */
function unitOf(word: string): Unit | undefined {
  return UNITS_10.get(word.slice(0, 10));
}

/** deltatktbl as Postgres stores it: every spelling cut to 10 characters. */
const UNITS_10 = new Map<string, Unit>([...UNITS].map(([w, u]): [string, Unit] => [w.slice(0, 10), u]));

export function accResult(acc: Acc): IntervalValue {
  const months = acc.years * 12 + acc.months;
  if (!int32(months)) acc.raise('interval out of range', '22008', 'interval out of range');
  return { months, days: acc.days, usec: acc.usec };
}

/** EncodeInterval, IntervalStyle postgres. */
export function formatInterval(v: IntervalValue): string {
  const year = Math.trunc(v.months / 12);
  const mon = v.months % 12;
  let out = '';
  let isZero = true;
  let isBefore = false;
  const part = (value: number | bigint, unit: string): void => {
    if (value === 0 || value === 0n) return;
    const neg = value < 0;
    out += `${isZero ? '' : ' '}${isBefore && !neg ? '+' : ''}${value} ${unit}${value === 1 || value === 1n ? '' : 's'}`;
    isBefore = neg;
    isZero = false;
  };
  part(year, 'year');
  part(mon === 0 ? 0 : mon, 'mon');
  part(v.days, 'day');
  const t = v.usec;
  const hour = t / USECS_PER_HOUR;
  const rest = t % USECS_PER_HOUR;
  const min = rest / USECS_PER_MINUTE;
  const rest2 = rest % USECS_PER_MINUTE;
  const sec = rest2 / USECS_PER_SEC;
  const fsec = rest2 % USECS_PER_SEC;
  if (isZero || t !== 0n) {
    const minus = hour < 0n || min < 0n || sec < 0n || fsec < 0n;
    const abs = (x: bigint): bigint => (x < 0n ? -x : x);
    const two = (x: bigint): string => String(abs(x)).padStart(2, '0');
    let secs = two(sec);
    if (fsec !== 0n) secs += `.${String(abs(fsec)).padStart(6, '0').replace(/0+$/, '')}`;
    out += `${isZero ? '' : ' '}${minus ? '-' : isBefore ? '+' : ''}${two(hour)}:${two(min)}:${secs}`;
  }
  return out;
}

/**
 * interval_in → the stored (output) text. All three fields at their limits
 * are 17's infinities (which 17 then prints as such, 15 as numbers): not local.
 */
export function intervalInput(text: string, what: string): string {
  const v = parseInterval(text, what);
  if (
    (v.months === INT32_MAX && v.days === INT32_MAX && v.usec === INT64_MAX) ||
    (v.months === INT32_MIN && v.days === INT32_MIN && v.usec === INT64_MIN)
  )
    throw new NotLocal(`${what}: interval at the infinity bit patterns`);
  return formatInterval(v);
}

/** INTERVAL_TYPMOD: the range in the high 16 bits, the precision (0xFFFF: none) in the low. */
export function intervalTypmod(range: number, precision: number): number {
  return ((range & 0x7fff) << 16) | (precision & 0xffff);
}

/**
 * AdjustIntervalForTypmod (finite values): the fields below the range are
 * truncated toward zero, then the microseconds rounded half away from zero
 * to the precision. NotLocal for a typmod the grammar cannot produce.
 */
export function adjustForTypmod(v: IntervalValue, typmod: number, what: string): IntervalValue {
  if (typmod < 0) return v;
  const range = (typmod >> 16) & 0x7fff;
  const precision = typmod & 0xffff;
  if (!RANGE_UNITS.has(range)) throw new NotLocal(`${what}: interval range ${range}`);
  let { months, days, usec } = v;
  const trunc = (unit: bigint): bigint => (usec / unit) * unit;
  if (range === R.year) {
    months = Math.trunc(months / 12) * 12;
    days = 0;
    usec = 0n;
  } else if (range === R.month || range === (R.year | R.month)) {
    days = 0;
    usec = 0n;
  } else if (range === R.day) usec = 0n;
  else if (range === R.hour || range === (R.day | R.hour)) usec = trunc(USECS_PER_HOUR);
  else if (range === R.minute || range === (R.hour | R.minute) || range === (R.day | R.hour | R.minute))
    usec = trunc(USECS_PER_MINUTE);
  if (precision !== FULL_PRECISION) {
    if (precision > 6) throw new NotLocal(`${what}: interval precision ${precision}`);
    const scale = 10n ** BigInt(6 - precision);
    const offset = scale / 2n;
    usec = usec >= 0n ? ((usec + offset) / scale) * scale : -(((-usec + offset) / scale) * scale);
  }
  return { months, days, usec };
}
