/**
 * SQLite functions for the date/time and interval operators and functions
 * served locally (the work is done in src/sql/interval-ops.ts on stored
 * forms). Like the other SQL functions, a value Postgres would reject throws
 * NotLocal, which aborts the local run so that upstream answers.
 */
import type Database from 'better-sqlite3';
import { NotLocal } from '../errors.js';
import { datePart } from './date-part.js';
import { intervalInput } from './interval.js';
import {
  datetimeKey,
  extractInterval,
  intervalAddSub,
  intervalKey,
  intervalMulDiv,
  intervalNegate,
  intervalScale,
  justify,
} from './interval-ops.js';
import {
  dateAddTime,
  dateBin,
  extractTime,
  timeAddInterval,
  timeDiff,
  timestampAddInterval,
  timestampDiff,
  timestampTrunc,
  timestamptzDiff,
} from './timestamp-ops.js';

export const DtFn = {
  /** `(interval)`: a key whose bytewise order is interval_cmp's. */
  intervalKey: 'outpost_interval_key',
  /** `(date)`: a key ordering dates, BC and 5-digit years included. */
  dateKey: 'outpost_date_key',
  /** `(timestamp)`: a key ordering timestamps. */
  timestampKey: 'outpost_timestamp_key',
  /** `(timestamp or date, interval, sign)`: timestamp ± interval. */
  timestampInterval: 'outpost_timestamp_interval',
  /**
   * `(text)`: text → interval at run time (interval_in). Text with a sign
   * is not local: IntervalStyle sql_standard reads `-1 2:00` as all
   * negative, and the session's style is not known here.
   */
  intervalIn: 'outpost_interval_in',
  /** `(stride, source, origin, tz, floorBefore)`: date_bin() of timestamps (tz 0) or timestamptz values (tz 1). */
  dateBin: 'outpost_date_bin',
  /** `(field, timestamp)`: date_trunc(field, timestamp). */
  timestampTrunc: 'outpost_timestamp_trunc',
  /** `(timestamptz, timestamptz)`: timestamptz - timestamptz. */
  timestamptzDiff: 'outpost_timestamptz_diff',
  /** `(timestamp, timestamp)`: timestamp - timestamp. */
  timestampDiff: 'outpost_timestamp_diff',
  /** `(time, interval, sign)`: time ± interval. */
  timeInterval: 'outpost_time_interval',
  /** `(time, time)`: time - time. */
  timeDiff: 'outpost_time_diff',
  /** `(date, time)`: date + time. */
  dateTime: 'outpost_date_time',
  /** `(field, time)`: extract(field FROM time), numeric. */
  extractTime: 'outpost_extract_time',
  /** `(interval)`: - interval. */
  intervalNeg: 'outpost_interval_neg',
  /** `(op, interval, interval)`: interval + / - interval. */
  intervalArith: 'outpost_interval_arith',
  /** `(kind, interval)`: justify_hours / justify_days / justify_interval. */
  justify: 'outpost_interval_justify',
  /** `(year, month, day)`: make_date(), stored as date_in would store it. */
  makeDate: 'outpost_make_date',
  /** `(interval, typmod)`: interval_scale, the cast to `interval day to second(2)` and the like. */
  intervalScale: 'outpost_interval_scale',
  /** `(op, interval, factor, kind)`: interval * or / a number (interval_mul, interval_div). */
  intervalScaleBy: 'outpost_interval_scale_by',
  /** `(field, interval)`: extract(field FROM interval), numeric. */
  extractInterval: 'outpost_extract_interval',
  /**
   * `(type, unit, value, numeric, zone offset)`: extract (numeric 1) and
   * date_part (numeric 0, float8) of a date, time, timestamp, timestamptz
   * or interval (src/sql/date-part.ts); the offset is the session zone's
   * seconds east of UTC (timestamptz only).
   */
  datePart: 'outpost_date_part',
} as const;

/** The factor as the float8 Postgres multiplies by: integers and numeric text converted as int8/numeric to float8 do. */
function factorOf(f: unknown, kind: string): number {
  if (typeof f === 'bigint') return Number(f);
  if (typeof f === 'number' && kind === 'float8') return f;
  if (f === '-0') return -0;
  if (typeof f === 'string' && kind === 'exact' && /^-?\d+(\.\d+)?$/.test(f)) return Number(f);
  throw new NotLocal('interval factor not finite');
}

function text(v: unknown, what: string): string {
  if (typeof v !== 'string') throw new NotLocal(`${what} of a non-text stored value`);
  return v;
}

export function registerDatetimeFunctions(db: Database.Database): void {
  const opts = { deterministic: true, safeIntegers: true };
  db.function(DtFn.intervalKey, opts, (v: unknown) => (v === null ? null : intervalKey(text(v, 'interval'))));
  db.function(DtFn.dateKey, opts, (v: unknown) => (v === null ? null : datetimeKey(text(v, 'date'), false)));
  db.function(DtFn.timestampKey, opts, (v: unknown) =>
    v === null ? null : datetimeKey(text(v, 'timestamp'), true),
  );
  db.function(DtFn.timestampInterval, opts, (t: unknown, iv: unknown, sign: unknown) =>
    t === null || iv === null
      ? null
      : timestampAddInterval(text(t, 'timestamp'), text(iv, 'interval'), Number(sign)),
  );
  db.function(DtFn.intervalIn, opts, (v: unknown) => {
    if (v === null) return null;
    const s = text(v, 'interval text');
    if (/[-+]/.test(s) || /infinity/i.test(s)) throw new NotLocal('interval text with a sign or an infinity');
    return intervalInput(s, 'interval text');
  });
  db.function(DtFn.dateBin, opts, (st: unknown, s: unknown, o: unknown, tz: unknown, fb: unknown) =>
    st === null || s === null || o === null
      ? null
      : dateBin(
          text(st, 'interval'),
          text(s, 'timestamp'),
          text(o, 'timestamp'),
          Number(tz) === 1,
          Number(fb) === 1,
        ),
  );
  db.function(DtFn.timestampTrunc, opts, (f: unknown, t: unknown) =>
    t === null ? null : timestampTrunc(String(f), text(t, 'timestamp')),
  );
  db.function(DtFn.timestamptzDiff, opts, (a: unknown, b: unknown) =>
    a === null || b === null ? null : timestamptzDiff(text(a, 'timestamptz'), text(b, 'timestamptz')),
  );
  db.function(DtFn.timestampDiff, opts, (a: unknown, b: unknown) =>
    a === null || b === null ? null : timestampDiff(text(a, 'timestamp'), text(b, 'timestamp')),
  );
  db.function(DtFn.timeInterval, opts, (t: unknown, iv: unknown, sign: unknown) =>
    t === null || iv === null ? null : timeAddInterval(text(t, 'time'), text(iv, 'interval'), Number(sign)),
  );
  db.function(DtFn.timeDiff, opts, (a: unknown, b: unknown) =>
    a === null || b === null ? null : timeDiff(text(a, 'time'), text(b, 'time')),
  );
  db.function(DtFn.dateTime, opts, (d: unknown, t: unknown) =>
    d === null || t === null ? null : dateAddTime(text(d, 'date'), text(t, 'time')),
  );
  db.function(DtFn.extractTime, opts, (f: unknown, t: unknown) =>
    t === null ? null : extractTime(String(f), text(t, 'time')),
  );
  db.function(DtFn.intervalNeg, opts, (v: unknown) =>
    v === null ? null : intervalNegate(text(v, 'interval')),
  );
  db.function(DtFn.intervalArith, opts, (op: unknown, a: unknown, b: unknown) =>
    a === null || b === null ? null : intervalAddSub(String(op), text(a, 'interval'), text(b, 'interval')),
  );
  db.function(DtFn.makeDate, opts, (y: unknown, m: unknown, d: unknown) =>
    y === null || m === null || d === null ? null : makeDate(Number(y), Number(m), Number(d)),
  );
  db.function(DtFn.justify, opts, (kind: unknown, v: unknown) =>
    v === null ? null : justify(String(kind), text(v, 'interval')),
  );
  db.function(DtFn.intervalScale, opts, (v: unknown, typmod: unknown) =>
    v === null ? null : intervalScale(text(v, 'interval'), Number(typmod)),
  );
  db.function(DtFn.intervalScaleBy, opts, (op: unknown, v: unknown, f: unknown, kind: unknown) =>
    v === null || f === null
      ? null
      : intervalMulDiv(String(op), text(v, 'interval'), factorOf(f, String(kind))),
  );
  db.function(
    DtFn.datePart,
    opts,
    (type: unknown, unit: unknown, v: unknown, numeric: unknown, off: unknown) =>
      v === null
        ? null
        : datePart(String(type), String(unit), text(v, String(type)), numeric === 1n, Number(off)),
  );
  db.function(DtFn.extractInterval, opts, (field: unknown, v: unknown) =>
    v === null ? null : extractInterval(String(field), text(v, 'interval')),
  );
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * make_date (date.c): a negative year is BC (internally 1 - |year|, whose
 * leap rule decides February). Years past 9999 AD or 4712 BC, year 0 and any
 * field ValidateDate rejects forward, so Postgres raises its own error.
 */
export function makeDate(year: number, month: number, day: number): string {
  const bc = year < 0;
  const y = Math.abs(year);
  // Before 4713 BC dates leave the Julian day range ("date out of range").
  if (y < 1 || y > (bc ? 4712 : 9999)) throw new NotLocal('make_date() year outside the plain range');
  const iy = bc ? 1 - y : y;
  const leap = iy % 4 === 0 && (iy % 100 !== 0 || iy % 400 === 0);
  const max = month === 2 && leap ? 29 : MONTH_DAYS[month - 1];
  if (max === undefined || day < 1 || day > max) throw new NotLocal('make_date() field out of range');
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return `${String(y).padStart(4, '0')}-${p2(month)}-${p2(day)}${bc ? ' BC' : ''}`;
}
