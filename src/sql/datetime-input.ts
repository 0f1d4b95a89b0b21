/**
 * The common input forms of date_in, timestamp_in and timestamptz_in
 * (ParseDateTime + DecodeDateTime in datetime.c), reduced to the canonical
 * ISO spelling the stored forms use. Only forms whose meaning does not
 * depend on session settings other than TimeZone are accepted: DateStyle's
 * field order (MDY/DMY/YMD) decides `1/8/1999` and two-digit years, so a
 * date must be ISO (`1999-01-08`, 4-digit year), `19990108`, or carry a
 * month name with a 4-digit year and a 1-2 digit day (`Jan 8 1999`,
 * `08-Jan-1999`, `1999-Jan-08`), which DecodeDate reads alike under every
 * DateStyle. Everything else (volatile words like `today`, Julian days,
 * AM/PM, zone names and abbreviations other than UTC/GMT/Z, 24:00, leap
 * seconds, more than six fraction digits) throws NotLocal, so upstream
 * parses it or raises its own error.
 */
import { NotLocal } from '../errors.js';

export interface DateTimeFields {
  year: number;
  month: number;
  day: number;
  bc: boolean;
  /** hh:mm:ss; absent for a date alone (midnight). */
  time?: { hour: number; minute: number; second: number; fraction: string };
  /** Offset east of UTC in minutes, when the input gives one. */
  offsetMinutes?: number;
}

export type DateTimeInput = DateTimeFields | 'infinity' | '-infinity' | 'epoch';

const MONTHS = new Map<string, number>([
  ['jan', 1],
  ['january', 1],
  ['feb', 2],
  ['february', 2],
  ['mar', 3],
  ['march', 3],
  ['apr', 4],
  ['april', 4],
  ['may', 5],
  ['jun', 6],
  ['june', 6],
  ['jul', 7],
  ['july', 7],
  ['aug', 8],
  ['august', 8],
  ['sep', 9],
  ['sept', 9],
  ['september', 9],
  ['oct', 10],
  ['october', 10],
  ['nov', 11],
  ['november', 11],
  ['dec', 12],
  ['december', 12],
]);

/** Day names (datetktbl DOW entries): accepted and ignored, as DecodeDateTime does. */
const DAYS = new Set([
  'sun',
  'sunday',
  'mon',
  'monday',
  'tue',
  'tues',
  'tuesday',
  'wed',
  'wednes',
  'wednesday',
  'thu',
  'thur',
  'thurs',
  'thursday',
  'fri',
  'friday',
  'sat',
  'saturday',
]);

/** The reason given when an input reads differently under DateStyle's field orders. */
export const DATESTYLE_DEPENDENT = 'date fields read by DateStyle';

/** Zone words whose offset is zero under every setting and major. */
const ZERO_ZONES = new Set(['utc', 'gmt', 'z']);

export function daysInMonth(y: number, mo: number): number {
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo - 1] ?? 0;
}

/** YYYY-MM-DD; DecodeNumber reads a first field of three or more digits as the year (dates reach year 5874897). */
const ISO_DATE = /^(\d{4,7})-(\d{1,2})-(\d{1,2})$/;
const COMPACT_DATE = /^(\d{4})(\d{2})(\d{2})$/;
const TIME = /^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?(?:([+-])(\d{2})(?::?(\d{2}))?|(z))?$/;
const OFFSET = /^([+-])(\d{2})(?::?(\d{2}))?$/;

/** Parse `text` as date_in/timestamp_in/timestamptz_in would, for the forms described above. */
export type DateOrder = 'MDY' | 'DMY' | 'YMD';

/** DateStyle's field order ("ISO, MDY" → MDY; Postgres's default is MDY). */
export function dateOrderOf(dateStyle: string): DateOrder | undefined {
  // The server reports it canonically: "ISO, MDY", "ISO, DMY", "ISO, YMD".
  const m = /^\s*ISO\s*,\s*(MDY|DMY|YMD)\s*$/i.exec(dateStyle);
  return m ? ((m[1] as string).toUpperCase() as DateOrder) : undefined;
}

/** A date part in the order DecodeDateTime meets it: a number (its digits) or a month name. */
type DatePart = { num: string } | { month: number } | { delimited: true };

/**
 * DecodeNumber and the MONTH case of DecodeDateTime over the date parts, for
 * one DateStyle field order: [year, month, day, year given in 1-2 digits].
 */
function decodeDateParts(parts: DatePart[], order: DateOrder): [number, number, number, boolean] | undefined {
  let y: number | undefined;
  let m: number | undefined;
  let d: number | undefined;
  let textMonth = false;
  let is2digits = false;
  for (const p of parts) {
    if ('delimited' in p) continue;
    if ('month' in p) {
      // Already a numeric month (and no day)? It was the day.
      if (m !== undefined && !textMonth && d === undefined && m >= 1 && m <= 31) d = m;
      else if (m !== undefined) return undefined;
      textMonth = true;
      m = p.month;
      continue;
    }
    const flen = p.num.length;
    const val = Number(p.num);
    if (flen === 3 && y !== undefined && m === undefined && d === undefined) return undefined; // day of year
    const key = `${y !== undefined ? 'Y' : ''}${m !== undefined ? 'M' : ''}${d !== undefined ? 'D' : ''}`;
    let set: 'Y' | 'M' | 'D';
    switch (key) {
      case '':
        set = flen >= 3 || order === 'YMD' ? 'Y' : order === 'DMY' ? 'D' : 'M';
        break;
      case 'Y':
        set = 'M';
        break;
      case 'M':
        set = textMonth && (flen >= 3 || order === 'YMD') ? 'Y' : 'D';
        break;
      case 'YM':
        if (textMonth && flen >= 3 && is2digits) {
          // DD-MON-YYYY in YMD order: the first number was the day.
          d = y;
          y = val;
          is2digits = false;
          continue;
        }
        set = 'D';
        break;
      case 'D':
        set = 'M';
        break;
      case 'MD':
        set = 'Y';
        break;
      default:
        return undefined;
    }
    if (set === 'Y') {
      y = val;
      is2digits = flen <= 2;
    } else if (set === 'M') m = val;
    else d = val;
  }
  if (y === undefined || m === undefined || d === undefined) return undefined;
  return [y, m, d, is2digits];
}

export function parseDateTime(text: string, what: string, dateOrder?: DateOrder): DateTimeInput {
  const fail = (why = 'not a plain date/time'): never => {
    throw new NotLocal(`${what}: ${why}`);
  };
  // Non-ASCII never spells a date here (and toLowerCase would fold some of it into ASCII).
  if (!/^[\x20-\x7e\t\n\r\f\v]*$/.test(text)) fail();
  const lower = text.replace(/^[ \t\n\r\f\v]+|[ \t\n\r\f\v]+$/g, '').toLowerCase();
  if (lower === 'infinity') return 'infinity';
  if (lower === '-infinity') return '-infinity';
  if (lower === 'epoch') return 'epoch';
  // `T` between an ISO date and a time.
  const tokens = lower
    .replace(/^(\d{4,7}-\d{1,2}-\d{1,2})t(?=\d)/, '$1 ')
    .split(/[ \t\n\r,]+/)
    .filter((t) => t !== '');
  if (tokens.length === 0 || tokens.length > 6) fail();
  let date: [number, number, number] | undefined;
  const parts: DatePart[] = [];
  let time: DateTimeFields['time'];
  let offsetMinutes: number | undefined;
  let era: 'ad' | 'bc' | undefined;
  let dow = false;
  const setOffset = (sign: string, h: string, m: string | undefined): void => {
    if (offsetMinutes !== undefined) fail('two time zones');
    const hh = Number(h);
    const mm = Number(m ?? '0');
    if (hh > 15 || mm > 59) fail('offset out of range');
    offsetMinutes = (sign === '-' ? -1 : 1) * (hh * 60 + mm);
  };
  for (const tok of tokens) {
    const isoDate = ISO_DATE.exec(tok) ?? COMPACT_DATE.exec(tok);
    const timeField = isoDate ? null : TIME.exec(tok);
    const offset = isoDate || timeField ? null : OFFSET.exec(tok);
    if (isoDate) {
      if (date || parts.length > 0) fail('two dates');
      date = [Number(isoDate[1]), Number(isoDate[2]), Number(isoDate[3])];
    } else if (timeField) {
      if (time) fail('two times');
      const [, h, mi, s = '0', frac = '', sign, oh, om, zulu] = timeField;
      time = { hour: Number(h), minute: Number(mi), second: Number(s), fraction: frac };
      if (sign !== undefined) setOffset(sign, oh as string, om);
      else if (zulu !== undefined) setOffset('+', '00', '00');
    } else if (offset) {
      // A signed number right after a time is its zone (ParseDateTime); elsewhere it may be a date part.
      if (!time) fail('offset without a time');
      setOffset(offset[1] as string, offset[2] as string, offset[3]);
    } else if (ZERO_ZONES.has(tok)) {
      if (offsetMinutes !== undefined) fail('two time zones');
      offsetMinutes = 0;
    } else if (tok === 'ad' || tok === 'bc') {
      if (era) fail('two eras');
      era = tok;
    } else if (DAYS.has(tok)) {
      if (dow) fail('two day names');
      dow = true;
    } else if (/^\d{1,4}$/.test(tok)) {
      if (parts.some((p) => 'delimited' in p)) fail('date parts around a delimited date');
      parts.push({ num: tok });
    } else {
      // A delimited date (DecodeDate): 1/8/1999, 01-08-99, and with a month
      // name 1999-Jan-08, Jan-08-1999, 08-Jan-1999 (the name first: DecodeDate
      // reads it before the numbers). ParseDateTime splits a number-first
      // token before a name in third place (1999-08-Jan), which fails upstream.
      const delim = /^[a-z0-9]+([-/])/.exec(tok)?.[1];
      const fields = delim === undefined ? [tok] : tok.split(delim);
      if (delim === undefined ? !MONTHS.has(tok) : fields.length !== 3) fail();
      // DecodeDate's own month flag does not mix with fields around it: keep a delimited date alone.
      if (delim !== undefined && parts.length > 0) fail('date parts around a delimited date');
      if (parts.some((p) => 'delimited' in p)) fail('date parts around a delimited date');
      if (/^\d/.test(tok) && fields.length === 3 && !/^\d{1,4}$/.test(fields[2] as string)) fail();
      const names = fields.filter((f) => MONTHS.has(f));
      const nums = fields.filter((f) => !MONTHS.has(f));
      if (nums.some((f) => !/^\d{1,4}$/.test(f))) fail();
      for (const f of names) parts.push({ month: MONTHS.get(f) as number });
      for (const f of nums) parts.push({ num: f });
      if (delim !== undefined) parts.push({ delimited: true });
    }
  }
  if (parts.length > 0) {
    if (date) fail('two dates');
    const read = (o: DateOrder): string => {
      const r = decodeDateParts(parts, o);
      if (!r) return 'error';
      let [y, m, d] = r;
      // ValidateDate: a 1-2 digit year is 1970-2069 (not with BC).
      if (r[3] && era !== 'bc') y = y < 70 ? y + 2000 : y < 100 ? y + 1900 : y;
      return `${y}-${m}-${d}`;
    };
    let reading: string;
    if (dateOrder !== undefined) reading = read(dateOrder);
    else {
      const readings = new Set((['MDY', 'DMY', 'YMD'] as const).map(read));
      if (readings.size !== 1) throw new NotLocal(`${what}: ${DATESTYLE_DEPENDENT}`);
      reading = [...readings][0] as string;
    }
    if (reading === 'error') fail('date fields not decodable');
    date = reading.split('-').map(Number) as [number, number, number];
  }
  if (!date) fail('no date');
  const [year, month, day] = date as [number, number, number];
  // The earliest date is 4714-11-24 BC (Julian day 0): keep clear of that edge.
  if (era === 'bc' && year > 4713) fail('date before 4713 BC');
  if (
    year < 1 ||
    month < 1 ||
    month > 12 ||
    day < 1 ||
    day > daysInMonth(era === 'bc' ? 1 - year : year, month)
  )
    fail('date field out of range');
  if (time && (time.hour > 23 || time.minute > 59 || time.second > 59)) fail('time field out of range');
  return {
    year,
    month,
    day,
    bc: era === 'bc',
    ...(time ? { time } : {}),
    ...(offsetMinutes !== undefined ? { offsetMinutes } : {}),
  };
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** date_out / timestamp_out (DateStyle ISO) of the date part. */
export function isoDate(f: DateTimeFields): string {
  return `${pad(f.year, 4)}-${pad(f.month)}-${pad(f.day)}`;
}

/** hh:mm:ss[.fraction without trailing zeros] (midnight for a date alone). */
export function isoTime(f: DateTimeFields): string {
  const t = f.time ?? { hour: 0, minute: 0, second: 0, fraction: '' };
  const frac = t.fraction.replace(/0+$/, '');
  return `${pad(t.hour)}:${pad(t.minute)}:${pad(t.second)}${frac ? `.${frac}` : ''}`;
}

const TIME_ONLY = /^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?(?:[+-]\d{2}(?::?\d{2})?|z)?$/;

/**
 * time_in (no typmod) for `hh:mm[:ss[.ffffff]]`, optionally after an ISO
 * date and with a numeric offset or UTC/GMT/Z (both ignored, as
 * DecodeTimeOnly's result for time is), as time_out prints it. 24:00:00 is
 * the largest time; leap seconds, AM/PM and zone names are forwarded.
 */
export function timeInput(text: string, what: string): string {
  const fail = (why = 'not a plain time'): never => {
    throw new NotLocal(`${what}: ${why}`);
  };
  if (!/^[\x20-\x7e\t\n\r\f\v]*$/.test(text)) fail();
  const tokens = text
    .toLowerCase()
    .split(/[ \t\n\r\f\v]+/)
    .filter((t) => t !== '');
  let i = 0;
  if (tokens.length > 1 && ISO_DATE.test(tokens[0] as string)) i++;
  const m = TIME_ONLY.exec(tokens[i] ?? '');
  if (!m) fail();
  const rest = tokens.slice(i + 1);
  if (rest.length > 1 || (rest.length === 1 && !ZERO_ZONES.has(rest[0] as string))) fail();
  const [, h, mi, s = '00', frac = ''] = m as RegExpExecArray;
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  const fraction = frac.replace(/0+$/, '');
  if (minute > 59 || second > 59) fail('time field out of range');
  if (hour > 24 || (hour === 24 && (minute > 0 || second > 0 || fraction !== ''))) fail('time out of range');
  return `${pad(hour)}:${pad(minute)}:${pad(second)}${fraction ? `.${fraction}` : ''}`;
}
