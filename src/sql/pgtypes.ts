/**
 * The Postgres types the compiler reasons about: OIDs, RowDescription sizes,
 * the input functions (text → the stored form of docs/architecture.md
 * "Storage of values") for constants and parameters, and the sortable keys
 * that make SQLite compare numeric and timestamptz values like Postgres.
 *
 * Input functions accept only the plain spellings whose Postgres result is
 * certain; anything else (whitespace, exotic syntax, values Postgres would
 * reject) throws `NotLocal`, so Postgres parses it (or raises its error).
 */
import { InputError, NotLocal } from '../errors.js';
import { TypeOid } from '../type-oids.js';
import { parseArray } from './array-text.js';
import { bitInput } from './bit-strings.js';
import { byteaInput } from './bytea.js';
import {
  type DateOrder,
  type DateTimeFields,
  isoDate,
  isoTime,
  parseDateTime,
  timeInput,
} from './datetime-input.js';
import { float4Input } from './float-ops.js';
import { intervalInput } from './interval.js';
import { jsonbInput, jsonInput } from './json.js';
import { cashIn, cashOut } from './money.js';

/** Built-in type OIDs (shared table). */
export const Oid = TypeOid;

export interface TypeInfo {
  /** pg_type.typname. */
  name: string;
  /** pg_type.typlen. */
  len: number;
  /** Element type of an array type. */
  elem?: number;
  /** Array type of a scalar type. */
  array?: number;
  /** pg_type.typcategory and typispreferred (for select_common_type). */
  category: string;
  preferred?: boolean;
}

export const TYPES: ReadonlyMap<number, TypeInfo> = new Map<number, TypeInfo>([
  [Oid.bool, { name: 'bool', len: 1, array: Oid.boolArray, category: 'B', preferred: true }],
  [Oid.int2, { name: 'int2', len: 2, array: Oid.int2Array, category: 'N' }],
  [Oid.int4, { name: 'int4', len: 4, array: Oid.int4Array, category: 'N' }],
  [Oid.int8, { name: 'int8', len: 8, array: Oid.int8Array, category: 'N' }],
  [Oid.numeric, { name: 'numeric', len: -1, array: Oid.numericArray, category: 'N' }],
  [Oid.float4, { name: 'float4', len: 4, category: 'N' }],
  [Oid.float8, { name: 'float8', len: 8, category: 'N', preferred: true }],
  [Oid.text, { name: 'text', len: -1, array: Oid.textArray, category: 'S', preferred: true }],
  [Oid.varchar, { name: 'varchar', len: -1, array: Oid.varcharArray, category: 'S' }],
  [Oid.bpchar, { name: 'bpchar', len: -1, array: Oid.bpcharArray, category: 'S' }],
  // Stored as is (namein's text, at most NAMEDATALEN-1 = 63 bytes); its collation is C.
  [Oid.name, { name: 'name', len: 64, array: Oid.nameArray, category: 'S' }],
  [Oid.date, { name: 'date', len: 4, array: Oid.dateArray, category: 'D' }],
  [Oid.timestamptz, { name: 'timestamptz', len: 8, category: 'D', preferred: true }],
  // Stored as timestamp_out's text (DateStyle ISO), ' BC' and 5-digit years included.
  [Oid.timestamp, { name: 'timestamp', len: 8, category: 'D' }],
  // Stored as time_out's text: fixed width, so the text orders like the times.
  [Oid.time, { name: 'time', len: 8, category: 'D' }],
  [Oid.uuid, { name: 'uuid', len: 16, array: Oid.uuidArray, category: 'U' }],
  // Stored as byteaout's hex text (src/sql/bytea.ts); the session must use bytea_output = hex.
  [Oid.bytea, { name: 'bytea', len: -1, category: 'U' }],
  [Oid.unknown, { name: 'unknown', len: -2, category: 'X' }],
  // Stored as jsonb_out's text (json: the input text); no comparison.
  [Oid.jsonb, { name: 'jsonb', len: -1, category: 'U' }],
  [Oid.json, { name: 'json', len: -1, category: 'U' }],
  // Stored as interval_out's text (IntervalStyle postgres); no comparison yet.
  [Oid.interval, { name: 'interval', len: 16, category: 'T', preferred: true }],
  // Stored as bit_out's text ('0101'), which orders like bit_cmp under BINARY (src/sql/bit-strings.ts).
  [Oid.bit, { name: 'bit', len: -1, category: 'V' }],
  [Oid.varbit, { name: 'varbit', len: -1, category: 'V', preferred: true }],
  // Stored as cash_out's text under lc_monetary C ('-$1,234.50'; src/sql/money.ts).
  [Oid.money, { name: 'money', len: 8, category: 'N' }],
  [Oid.boolArray, { name: '_bool', len: -1, elem: Oid.bool, category: 'A' }],
  [Oid.int2Array, { name: '_int2', len: -1, elem: Oid.int2, category: 'A' }],
  [Oid.int4Array, { name: '_int4', len: -1, elem: Oid.int4, category: 'A' }],
  [Oid.int8Array, { name: '_int8', len: -1, elem: Oid.int8, category: 'A' }],
  [Oid.textArray, { name: '_text', len: -1, elem: Oid.text, category: 'A' }],
  [Oid.varcharArray, { name: '_varchar', len: -1, elem: Oid.varchar, category: 'A' }],
  [Oid.bpcharArray, { name: '_bpchar', len: -1, elem: Oid.bpchar, category: 'A' }],
  [Oid.nameArray, { name: '_name', len: -1, elem: Oid.name, category: 'A' }],
  [Oid.dateArray, { name: '_date', len: -1, elem: Oid.date, category: 'A' }],
  [Oid.numericArray, { name: '_numeric', len: -1, elem: Oid.numeric, category: 'A' }],
  [Oid.uuidArray, { name: '_uuid', len: -1, elem: Oid.uuid, category: 'A' }],
]);

/**
 * Type names as the grammar produces them (`int` → `int4`, `integer` →
 * `int4`, `varchar`, ...) after `pg_catalog.` is dropped.
 */
export const TYPE_BY_NAME: ReadonlyMap<string, number> = new Map([
  ['bool', Oid.bool],
  ['int2', Oid.int2],
  ['int4', Oid.int4],
  ['int8', Oid.int8],
  ['numeric', Oid.numeric],
  ['float4', Oid.float4],
  ['float8', Oid.float8],
  ['text', Oid.text],
  ['varchar', Oid.varchar],
  // char(n) / character(n): the parser's pg_catalog.bpchar (a plain `char` is char(1)).
  ['bpchar', Oid.bpchar],
  ['name', Oid.name],
  ['date', Oid.date],
  ['timestamptz', Oid.timestamptz],
  ['timestamp', Oid.timestamp],
  ['time', Oid.time],
  ['uuid', Oid.uuid],
  ['bytea', Oid.bytea],
  ['json', Oid.json],
  ['jsonb', Oid.jsonb],
  ['interval', Oid.interval],
  ['bit', Oid.bit],
  ['money', Oid.money],
  ['varbit', Oid.varbit],
]);

export function isIntType(oid: number): boolean {
  return oid === Oid.int2 || oid === Oid.int4 || oid === Oid.int8;
}

export const INT_BITS: Record<number, number> = { [Oid.int2]: 16, [Oid.int4]: 32, [Oid.int8]: 64 };

export function intRange(bits: number): [bigint, bigint] {
  const max = (1n << BigInt(bits - 1)) - 1n;
  return [-max - 1n, max];
}

/** A value in its stored form (docs/architecture.md), ready to bind into SQLite. */
export type Stored = bigint | number | string | null;

const INT_TEXT = /^[+-]?\d+$/;
const INT_NAMES: Record<number, string> = { 16: 'smallint', 32: 'integer', 64: 'bigint' };
/** C isspace() in the C locale: the only blanks int2in/int4in/int8in skip. */
const isSpace = (ch: string | undefined): boolean =>
  ch === ' ' || ch === '\t' || ch === '\n' || ch === '\v' || ch === '\f' || ch === '\r';

/**
 * int2in/int4in/int8in (pg_strtoint16/32/64). The plain decimal spelling is
 * read for any upstream; the other forms, and the errors, follow the
 * upstream's major (`versionNum`, 0 when unknown: not local): 15 skips
 * blanks around an optionally signed decimal, accumulating negatively so an
 * overflow fails at once; 16 adds 0x/0o/0b and underscores between digits,
 * accumulating unsigned with a per-digit guard (so `2147483649x` is a syntax
 * error there, out of range on 15). Errors are 22P02/22003 as Postgres words
 * them, quoting the input; non-ASCII text is not local (isspace() on bytes
 * follows the server's ctype).
 */
export function intInput(text: string, bits: number, what: string, versionNum = 0): bigint {
  const plain = INT_TEXT.test(text);
  if (plain && text.length < 30) {
    const v = BigInt(text);
    const [lo, hi] = intRange(bits);
    if (v >= lo && v <= hi) return v;
  }
  if (versionNum < 150000 && plain) throw new NotLocal(`${what}: out of range`);
  if (versionNum < 150000 || !/^[\x00-\x7f]*$/.test(text)) throw new NotLocal(`${what}: not a plain integer`);
  const name = INT_NAMES[bits] as string;
  const syntax = (): never => {
    throw new InputError(`${what}: not a plain integer`, {
      code: '22P02',
      message: `invalid input syntax for type ${name}: "${text}"`,
    });
  };
  const range = (): never => {
    throw new InputError(`${what}: out of range`, {
      code: '22003',
      message: `value "${text}" is out of range for type ${name}`,
    });
  };
  const limit = 1n << BigInt(bits - 1);
  let i = 0;
  while (isSpace(text[i])) i++;
  let neg = false;
  if (text[i] === '-') {
    neg = true;
    i++;
  } else if (text[i] === '+') i++;
  let tmp = 0n;
  if (versionNum < 160000) {
    if (!/[0-9]/.test(text[i] ?? '')) syntax();
    while (/[0-9]/.test(text[i] ?? '')) {
      tmp = tmp * 10n + BigInt(Number(text[i]));
      if (tmp > limit) range();
      i++;
    }
    while (isSpace(text[i])) i++;
    if (i < text.length) syntax();
    if (!neg && tmp === limit) range();
    return neg ? -tmp : tmp;
  }
  let base = 10n;
  const prefix = text.slice(i, i + 2).toLowerCase();
  if (prefix === '0x') base = 16n;
  else if (prefix === '0o') base = 8n;
  else if (prefix === '0b') base = 2n;
  if (base !== 10n) i += 2;
  const digit = (ch: string | undefined): bigint | undefined => {
    if (ch === undefined) return undefined;
    const d = Number.parseInt(ch, 16);
    return Number.isNaN(d) || BigInt(d) >= base ? undefined : BigInt(d);
  };
  const first = i;
  const guard = limit / base;
  for (;;) {
    const d = digit(text[i]);
    if (d !== undefined) {
      if (tmp > guard) range();
      tmp = tmp * base + d;
      i++;
    } else if (text[i] === '_') {
      if (base === 10n && i === first) syntax();
      i++;
      if (digit(text[i]) === undefined) syntax();
    } else break;
  }
  if (i === first) syntax();
  while (isSpace(text[i])) i++;
  if (i < text.length) syntax();
  if (neg ? tmp > limit : tmp >= limit) range();
  return neg ? -tmp : tmp;
}

const BOOL_WORDS = new Map([
  ['t', 1n],
  ['true', 1n],
  ['y', 1n],
  ['yes', 1n],
  ['on', 1n],
  ['1', 1n],
  ['f', 0n],
  ['false', 0n],
  ['n', 0n],
  ['no', 0n],
  ['off', 0n],
  ['0', 0n],
]);

/**
 * boolin (parse_bool_with_len): blanks around a non-empty prefix of true,
 * false, yes or no, `on`, a prefix of `off` of two letters or more, 1 or 0,
 * any case; else 22P02 quoting the input (errors from the upstream's major
 * known, `versionNum`; non-ASCII text is not local).
 */
export function boolInput(text: string, what: string, versionNum = 0): bigint {
  const exact = BOOL_WORDS.get(text.toLowerCase());
  if (exact !== undefined) return exact;
  if (versionNum < 150000 || !/^[\x00-\x7f]*$/.test(text)) throw new NotLocal(`${what}: not a plain boolean`);
  let from = 0;
  let to = text.length;
  while (isSpace(text[from])) from++;
  while (to > from && isSpace(text[to - 1])) to--;
  const w = text.slice(from, to).toLowerCase();
  const prefixOf = (word: string, min = 1): boolean => w.length >= min && word.startsWith(w);
  if (prefixOf('true') || prefixOf('yes') || w === 'on' || w === '1') return 1n;
  if (prefixOf('false') || prefixOf('no') || prefixOf('off', 2) || w === '0') return 0n;
  throw new InputError(`${what}: not a plain boolean`, {
    code: '22P02',
    message: `invalid input syntax for type boolean: "${text}"`,
  });
}

const FLOAT_TEXT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const FLOAT_PREFIX = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/;

/**
 * float8in (float8in_internal) for decimal text: blanks around it; an
 * overflow, or an underflow to zero, is 22003 quoting the number strtod
 * read (checked before trailing text), anything else 22P02 quoting the
 * input. Hexadecimal, `nan(…)` and spelled infinities with blanks, which
 * strtod also reads, are not local; so are the errors when the upstream's
 * major is unknown.
 */
function float8Unusual(text: string, what: string, versionNum: number): number | string {
  if (versionNum < 150000 || !/^[\x00-\x7f]*$/.test(text)) {
    throw new NotLocal(`${what}: ${FLOAT_TEXT.test(text) ? 'out of range' : 'not a plain float'}`);
  }
  const syntax = (): never => {
    throw new InputError(`${what}: not a plain float`, {
      code: '22P02',
      message: `invalid input syntax for type double precision: "${text}"`,
    });
  };
  let i = 0;
  while (isSpace(text[i])) i++;
  const rest = text.slice(i);
  if (rest === '') syntax();
  const m = FLOAT_PREFIX.exec(rest);
  if (!m) {
    if (/^[+-]?(?:i|n)/i.test(rest)) throw new NotLocal(`${what}: not a plain float`);
    syntax();
  }
  const num = (m as RegExpExecArray)[0];
  if (/^[+-]?0[xX]/.test(rest)) throw new NotLocal(`${what}: hexadecimal float`);
  const n = Number(num);
  if (!Number.isFinite(n) || (n === 0 && /[1-9]/.test(num.replace(/[eE].*$/, '')))) {
    throw new InputError(`${what}: out of range`, {
      code: '22003',
      message: `"${num}" is out of range for type double precision`,
    });
  }
  let j = num.length;
  while (isSpace(rest[j])) j++;
  if (j < rest.length) syntax();
  return n === 0 && Object.is(n, -0) ? '-0' : n;
}

/** float8in: REAL, or TEXT 'NaN' / '-0' (the storage contract). */
export function float8Input(input: string, what: string, versionNum = 0): number | string {
  // float8in skips the spaces C's isspace() knows before and after the number.
  const text = input.replace(/^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g, '');
  const lower = text.toLowerCase();
  if (lower === 'nan') return 'NaN';
  if (lower === 'infinity' || lower === '+infinity' || lower === 'inf' || lower === '+inf')
    return Number.POSITIVE_INFINITY;
  if (lower === '-infinity' || lower === '-inf') return Number.NEGATIVE_INFINITY;
  if (!FLOAT_TEXT.test(text)) return float8Unusual(input, what, versionNum);
  const n = Number(text);
  // Overflow and underflow to zero are errors in float8in.
  if (!Number.isFinite(n)) return float8Unusual(input, what, versionNum);
  if (n === 0) {
    if (/[1-9]/.test(text.replace(/[eE].*$/, ''))) return float8Unusual(input, what, versionNum);
    return Object.is(n, -0) ? '-0' : 0;
  }
  return n;
}

const NUMERIC_TEXT = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/** numeric_in, as numeric_out would print the result (no typmod). */
export function numericInput(text: string, what: string): string {
  const lower = text.toLowerCase();
  if (lower === 'nan') return 'NaN';
  if (lower === 'infinity' || lower === '+infinity' || lower === 'inf' || lower === '+inf') return 'Infinity';
  if (lower === '-infinity' || lower === '-inf') return '-Infinity';
  const m = NUMERIC_TEXT.exec(text);
  if (!m) throw new NotLocal(`${what}: not a plain numeric`);
  const [, sign, intPart = '', fracPart = '', expText] = m;
  if (intPart === '' && fracPart === '') throw new NotLocal(`${what}: not a plain numeric`);
  const exp = expText === undefined ? 0 : Number(expText);
  if (Math.abs(exp) > 1000 || intPart.length + fracPart.length > 1000) {
    throw new NotLocal(`${what}: numeric too large to check`);
  }
  // value = digits × 10^-(scale), scale = fraction digits − exponent (≥ 0)
  let digits = intPart + fracPart;
  let scale = fracPart.length - exp;
  if (scale < 0) {
    digits += '0'.repeat(-scale);
    scale = 0;
  }
  digits = digits.replace(/^0+/, '');
  const padded = digits.padStart(scale + 1, '0');
  const whole = padded.slice(0, padded.length - scale);
  const frac = padded.slice(padded.length - scale);
  const isZero = !/[1-9]/.test(padded);
  return `${sign === '-' && !isZero ? '-' : ''}${whole}${scale > 0 ? `.${frac}` : ''}`;
}

/** A valid ISO date `YYYY-MM-DD` (AD, 4-digit year) as date_in would accept it. */
export function isPlainDate(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return false;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  if (y < 1 || mo < 1 || mo > 12 || d < 1) return false;
  return d <= daysInMonth(y, mo);
}

function daysInMonth(y: number, mo: number): number {
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo - 1] ?? 0;
}

export function dateInput(text: string, what: string, order?: DateOrder): string {
  // '+infinity' is accepted from Postgres 16 only: forwarded (upstream decides).
  const v = parseDateTime(text, what, order);
  if (v === 'infinity' || v === '-infinity') return v;
  if (v === 'epoch') return '1970-01-01';
  // The last date is 5874897-12-31 (22008 after it, forwarded).
  if (!v.bc && v.year > MAX_DATE_YEAR) throw new NotLocal(`${what}: date out of range`);
  // date_in ignores the time and zone fields.
  return `${isoDate(v)}${v.bc ? ' BC' : ''}`;
}

/** timestamp_in (no typmod) as timestamp_out prints it under DateStyle ISO; a zone in the input is ignored. */
export function timestampInput(text: string, what: string, order?: DateOrder): string {
  const v = parseDateTime(text, what, order);
  if (v === 'infinity' || v === '-infinity') return v;
  if (v === 'epoch') return '1970-01-01 00:00:00';
  if (!v.bc && v.year > MAX_TIMESTAMP_YEAR) throw new NotLocal(`${what}: timestamp out of range`);
  return `${isoDate(v)} ${isoTime(v)}${v.bc ? ' BC' : ''}`;
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** Last years of date and timestamp (END_DATE, END_TIMESTAMP: 5874897-12-31, 294276-12-31 23:59:59.999999). */
const MAX_DATE_YEAR = 5874897;
const MAX_TIMESTAMP_YEAR = 294276;

/** A finite timestamptz input read at `offsetMinutes` east of UTC, as stored (UTC, ISO). */
function storedAt(v: DateTimeFields, offsetMinutes: number, what: string): string {
  if (v.bc) throw new NotLocal(`${what}: BC timestamp`);
  if (v.year > MAX_TIMESTAMP_YEAR) throw new NotLocal(`${what}: timestamp out of range`);
  const t = v.time ?? { hour: 0, minute: 0, second: 0, fraction: '' };
  // Whole seconds since 1970-01-01 UTC (exact in a double far beyond these years).
  let secs =
    daysFromCivil(v.year, v.month, v.day) * 86400 +
    t.hour * 3600 +
    (t.minute - offsetMinutes) * 60 +
    t.second;
  const days = Math.floor(secs / 86400);
  secs -= days * 86400;
  const [uy, um, ud] = civilFromDays(days);
  if (uy < 1 || uy > MAX_TIMESTAMP_YEAR) throw new NotLocal(`${what}: timestamp out of the plain range`);
  const fraction = t.fraction.replace(/0+$/, '');
  return (
    `${pad(uy, 4)}-${pad(um)}-${pad(ud)} ` +
    `${pad(Math.floor(secs / 3600))}:${pad(Math.floor(secs / 60) % 60)}:${pad(secs % 60)}` +
    `${fraction ? `.${fraction}` : ''}+00`
  );
}

/**
 * timestamptz_in for inputs with an explicit offset (without one the
 * session's TimeZone applies, so those are not accepted here), as stored:
 * the output at TimeZone=UTC, DateStyle=ISO.
 */
export function timestamptzInput(text: string, what: string): string {
  const v = parseDateTime(text, what);
  if (v === 'infinity' || v === '-infinity') return v;
  if (v === 'epoch') return '1970-01-01 00:00:00+00';
  if (v.offsetMinutes === undefined) throw new NotLocal(`${what}: not an ISO timestamp with offset`);
  return storedAt(v, v.offsetMinutes, what);
}

/** Whether a timestamptz literal has no offset, so its value depends on the session's TimeZone. */
export function timestamptzNeedsZone(text: string): boolean {
  try {
    const v = parseDateTime(text, 'timestamptz constant');
    return typeof v !== 'string' && v.offsetMinutes === undefined;
  } catch {
    return false;
  }
}

/**
 * timestamptz_in for an input without an offset, read in a zone
 * `offsetMinutes` east of UTC (a fixed offset: UTC or a POSIX spec like
 * `<+05:30>-05:30`, where no daylight rule applies), as stored.
 */
export function timestamptzInputAt(text: string, offsetMinutes: number, what: string): string {
  const v = parseDateTime(text, what);
  if (typeof v === 'string' || v.offsetMinutes !== undefined)
    throw new NotLocal(`${what}: not a zoneless timestamp`);
  return storedAt(v, offsetMinutes, what);
}

const UUID_TEXT = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

export function uuidInput(text: string, what: string): string {
  if (!UUID_TEXT.test(text)) throw new NotLocal(`${what}: not a plain uuid`);
  const hex = text.replace(/-/g, '').toLowerCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** NAMEDATALEN - 1: the bytes a name holds. */
const NAME_MAX_BYTES = 63;

/**
 * namein, text_name, varchar_name: the text cut to at most 63 bytes, at a
 * character boundary (pg_mbcliplen in UTF-8). Every character a JS string
 * holds here is whole (a lone surrogate cannot come from valid UTF-8).
 */
export function nameInput(text: string): string {
  // Fast path: 63 UTF-16 units are at most 63 characters, but may be more bytes.
  if (text.length <= NAME_MAX_BYTES / 3) return text;
  let bytes = 0;
  let end = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0) as number;
    const n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (bytes + n > NAME_MAX_BYTES) break;
    bytes += n;
    end += ch.length;
  }
  return text.slice(0, end);
}

/** The input function of `type` (no typmod): Postgres text → stored form, or NotLocal. */
export function inputValue(type: number, text: string, what: string, versionNum = 0): Stored {
  switch (type) {
    case Oid.int2:
    case Oid.int4:
    case Oid.int8:
      return intInput(text, INT_BITS[type] as number, what, versionNum);
    case Oid.bool:
      return boolInput(text, what, versionNum);
    case Oid.text:
    case Oid.varchar:
    case Oid.bpchar:
      return text;
    case Oid.name:
      return nameInput(text);
    case Oid.float8:
      return float8Input(text, what, versionNum);
    case Oid.float4:
      return float4Input(text, what);
    case Oid.numeric:
      return numericInput(text, what);
    case Oid.date:
      return dateInput(text, what);
    case Oid.timestamptz:
      return timestamptzInput(text, what);
    case Oid.timestamp:
      return timestampInput(text, what);
    case Oid.time:
      return timeInput(text, what);
    case Oid.uuid:
      return uuidInput(text, what);
    case Oid.bytea:
      return byteaInput(text);
    case Oid.jsonb:
      return jsonbInput(text, what);
    case Oid.json:
      return jsonInput(text, what);
    case Oid.interval:
      return intervalInput(text, what);
    case Oid.bit:
    case Oid.varbit:
      return bitInput(text, what);
    case Oid.money:
      // cash_in and cash_out under lc_monetary C (the compiler checks upstream's).
      return cashOut(cashIn(text, what));
  }
  const info = TYPES.get(type);
  if (info?.elem !== undefined) return JSON.stringify(arrayInput(text, info.elem, what));
  throw new NotLocal(`${what}: input of type ${info?.name ?? type} not supported`);
}

/**
 * array_in for one-dimensional arrays without dimension decoration, as a
 * list of stored element values (JSON-safe: int8 as a decimal string is not
 * needed, SQLite's JSON reads integers exactly).
 */
export function arrayInput(text: string, elem: number, what: string): (string | number | null)[] {
  const items = parseArrayText(text, what);
  return items.map((item) => {
    if (item === null) return null;
    const v = inputValue(elem, item, what);
    if (typeof v === 'bigint') {
      if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
        throw new NotLocal(`${what}: array element beyond 2^53`);
      }
      return Number(v);
    }
    if (typeof v === 'number' && !Number.isFinite(v)) throw new NotLocal(`${what}: infinite array element`);
    return v;
  });
}

/** Elements of a one-dimensional array with the default lower bound (`{a,"b c",NULL}`); any other shape is not accepted. */
export function parseArrayText(text: string, what: string): (string | null)[] {
  const v = parseArray(text, what);
  if (v.dims.length > 1 || v.lbs.some((lb) => lb !== 1))
    throw new NotLocal(`${what}: array literal not plain`);
  return v.items;
}

// ---- numeric division ------------------------------------------------------

/** Weight and first digit of |n| > 0 in numeric's base-10000 representation. */
function base10000(n: bigint): [number, number] {
  let weight = 0;
  let x = n;
  while (x >= 10000n) {
    x /= 10000n;
    weight++;
  }
  return [weight, Number(x)];
}

/** Weight and first base-10000 digit of unscaled·10^-scale (> 0), digits aligned on the decimal point. */
function decimalWeight(unscaled: bigint, scale: number): [number, number] {
  const p = 10n ** BigInt(scale);
  const whole = unscaled / p;
  if (whole > 0n) return base10000(whole);
  let frac = (unscaled % p).toString().padStart(scale, '0');
  frac = frac.padEnd(Math.ceil(frac.length / 4) * 4, '0');
  for (let g = 0; g * 4 < frac.length; g++) {
    const digit = Number(frac.slice(g * 4, g * 4 + 4));
    if (digit !== 0) return [-(g + 1), digit];
  }
  return [0, 0];
}

/** A finite numeric as unscaled integer and scale (numeric_out text). */
export function parseNumeric(text: string): { unscaled: bigint; scale: number } | undefined {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
  if (!m) return undefined;
  const frac = m[3] ?? '';
  const u = BigInt((m[2] ?? '') + frac);
  return { unscaled: m[1] === '-' ? -u : u, scale: frac.length };
}

/** numeric_out of unscaled·10^-scale. */
export function formatNumeric(unscaled: bigint, scale: number): string {
  const neg = unscaled < 0n;
  const digits = (neg ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
  const whole = digits.slice(0, digits.length - scale);
  const frac = digits.slice(digits.length - scale);
  return `${neg ? '-' : ''}${whole}${scale > 0 ? `.${frac}` : ''}`;
}

/**
 * numeric_div(sum, count) as avg() computes it (int8_avg and numeric_avg):
 * the scale from select_div_scale, the quotient rounded half away from zero.
 * `sum` = unscaled·10^-scale.
 */
export function numericAverage(unscaled: bigint, scale: number, count: bigint): string {
  if (count <= 0n) throw new NotLocal('avg of no rows');
  const a = unscaled < 0n ? -unscaled : unscaled;
  const [w1, f1] = a === 0n ? [0, 0] : decimalWeight(a, scale);
  const [w2, f2] = base10000(count);
  let qweight = w1 - w2;
  if (f1 <= f2) qweight--;
  // NUMERIC_MIN_SIG_DIGITS 16, DEC_DIGITS 4, at least the dividend's scale.
  const rscale = Math.min(Math.max(16 - qweight * 4, scale, 0), 1000);
  const num = a * 10n ** BigInt(rscale);
  const den = count * 10n ** BigInt(scale);
  let q = num / den;
  if (2n * (num % den) >= den) q++;
  return formatNumeric(unscaled < 0n ? -q : q, rscale);
}

/** avg() of integers (int8_avg): the int8 sum divided by the count. */
export function integerAverage(sum: bigint, count: bigint): string {
  return numericAverage(sum, 0, count);
}

/** sum()/avg() accumulation of numeric values (do_numeric_accum), exact; `remove` undoes `add` (window frames). */
export class NumericAccumulator {
  private unscaled = 0n;
  private scale = 0;
  /** How many accumulated finite values have each scale: the sum's scale is the largest present. */
  private scales = new Map<number, number>();
  private nan = 0;
  private pinf = 0;
  private ninf = 0;
  count = 0n;

  add(text: string): void {
    this.count++;
    if (text === 'NaN') this.nan++;
    else if (text === 'Infinity') this.pinf++;
    else if (text === '-Infinity') this.ninf++;
    else {
      const v = parseNumeric(text);
      if (!v) throw new NotLocal(`numeric value ${JSON.stringify(text.slice(0, 20))} not summable`);
      this.scales.set(v.scale, (this.scales.get(v.scale) ?? 0) + 1);
      if (v.scale > this.scale) {
        this.unscaled *= 10n ** BigInt(v.scale - this.scale);
        this.scale = v.scale;
      }
      this.unscaled += v.unscaled * 10n ** BigInt(this.scale - v.scale);
    }
  }

  remove(text: string): void {
    this.count--;
    if (text === 'NaN') this.nan--;
    else if (text === 'Infinity') this.pinf--;
    else if (text === '-Infinity') this.ninf--;
    else {
      const v = parseNumeric(text);
      if (!v) throw new NotLocal(`numeric value ${JSON.stringify(text.slice(0, 20))} not summable`);
      this.unscaled -= v.unscaled * 10n ** BigInt(this.scale - v.scale);
      const n = (this.scales.get(v.scale) ?? 0) - 1;
      if (n > 0) this.scales.set(v.scale, n);
      else this.scales.delete(v.scale);
      const top = Math.max(0, ...this.scales.keys());
      if (top < this.scale) {
        // Every remaining value has at most `top` decimals: the division is exact.
        this.unscaled /= 10n ** BigInt(this.scale - top);
        this.scale = top;
      }
    }
  }

  /** The special result (NaN, ±Infinity), if any. */
  private special(): string | undefined {
    if (this.nan > 0 || (this.pinf > 0 && this.ninf > 0)) return 'NaN';
    if (this.pinf > 0) return 'Infinity';
    if (this.ninf > 0) return '-Infinity';
    return undefined;
  }

  sum(): string | null {
    if (this.count === 0n) return null;
    return this.special() ?? formatNumeric(this.unscaled, this.scale);
  }

  avg(): string | null {
    if (this.count === 0n) return null;
    return this.special() ?? numericAverage(this.unscaled, this.scale, this.count);
  }
}

// ---- sortable keys ---------------------------------------------------------

const EXP_BIAS = 500_000;

/**
 * A string whose bytewise order (and equality) is numeric's order: -Infinity
 * < negatives < 0 < positives < Infinity < NaN. Takes numeric_out text (or
 * an integer).
 */
export function numericKey(value: string | bigint | number): string {
  const text = typeof value === 'string' ? value : String(value);
  // Called per row by sorts, comparisons and min/max; tables repeat values.
  const cached = numericKeys.get(text);
  if (cached !== undefined) return cached;
  const key = computeNumericKey(text);
  if (numericKeys.size >= NUMERIC_KEY_CACHE) numericKeys.clear();
  numericKeys.set(text, key);
  return key;
}

const NUMERIC_KEY_CACHE = 50_000;
const numericKeys = new Map<string, string>();

function computeNumericKey(text: string): string {
  if (text === 'NaN') return 'z';
  if (text === 'Infinity') return 'y';
  if (text === '-Infinity') return 'a';
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
  if (!m) throw new NotLocal(`numeric value ${JSON.stringify(text.slice(0, 20))} not comparable`);
  const negative = m[1] === '-';
  const intPart = (m[2] ?? '').replace(/^0+/, '');
  const fracPart = m[3] ?? '';
  let digits = intPart + fracPart;
  // value = 0.d1d2… × 10^exp
  let exp = intPart.length;
  if (intPart === '') {
    const lead = /^0*/.exec(fracPart)?.[0].length ?? 0;
    digits = fracPart.slice(lead);
    exp = -lead;
  }
  digits = digits.replace(/0+$/, '');
  if (digits === '') return 'm';
  if (!negative) return `n${String(exp + EXP_BIAS).padStart(7, '0')}${digits}`;
  const complement = [...digits].map((d) => String(9 - Number(d))).join('');
  return `b${String(2 * EXP_BIAS - (exp + EXP_BIAS)).padStart(7, '0')}${complement}~`;
}

const STORED_TSTZ = /^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?\+00$/;
const STORED_TSTZ_OTHER = /^(\d{4,})(-\d{2}-\d{2} \d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?\+00( BC)?$/;

/**
 * A string whose bytewise order is timestamptz's order, from the stored form
 * (UTC, ISO, trailing fraction zeros dropped): the fraction padded to six
 * digits; BC years and years past 9999 as below.
 */
export function timestamptzKey(stored: string): string {
  if (stored === 'infinity') return '~';
  if (stored === '-infinity') return '!';
  const m = STORED_TSTZ.exec(stored);
  if (m) return `${m[1]}.${(m[2] ?? '').padEnd(6, '0')}`;
  // BC and years past 9999, keyed as timestamp's datetimeKey keys them: before
  // the plain years ('.', later BC years first) or after them (':', five or
  // more digits), all between '!' and '~'.
  const other = STORED_TSTZ_OTHER.exec(stored);
  if (!other) throw new NotLocal(`timestamptz ${stored.slice(0, 40)} not comparable`);
  const [, y, rest, frac = '', bc] = other;
  const year = Number(y);
  const tail = `${rest}.${frac.padEnd(6, '0')}`;
  if (bc) return `.${String(10_000_000 - year).padStart(8, '0')}${tail}`;
  return `:${String(year).padStart(8, '0')}${tail}`;
}

/** Digits before the decimal point Postgres accepts (NUMERIC_WEIGHT_MAX): beyond, "value overflows numeric format". */
const NUMERIC_MAX_INT_DIGITS = 131072;

export function checkNumericSize(unscaled: bigint, scale: number): string {
  const digits = (unscaled < 0n ? -unscaled : unscaled).toString().length - scale;
  if (digits > NUMERIC_MAX_INT_DIGITS || scale > 16383) throw new NotLocal('value overflows numeric format');
  return formatNumeric(unscaled, scale);
}

/**
 * numeric + - * numeric (numeric_add, numeric_sub, numeric_mul) on numeric_out
 * texts: exact; scale max(s1, s2) for + and -, s1 + s2 for *; NaN and the
 * infinities as in Postgres 14+.
 */
export function numericArith(op: string, a: string, b: string): string {
  const special = (t: string): number | undefined =>
    t === 'NaN' ? Number.NaN : t === 'Infinity' ? Infinity : t === '-Infinity' ? -Infinity : undefined;
  const sa = special(a);
  const sb = special(b);
  if (sa !== undefined || sb !== undefined) {
    const x = sa ?? numericSign(a);
    const y = sb ?? numericSign(b);
    // Finite operands only matter through their sign (and zero); JS float
    // arithmetic on ±Infinity, ±1, 0 gives Postgres's special results.
    const r = op === '+' ? x + y : op === '-' ? x - y : x * y;
    if (Number.isNaN(r)) return 'NaN';
    return r > 0 ? 'Infinity' : '-Infinity';
  }
  const x = parseNumeric(a);
  const y = parseNumeric(b);
  if (!x || !y) throw new NotLocal('numeric operand not in numeric_out form');
  if (op === '*') return checkNumericSize(x.unscaled * y.unscaled, x.scale + y.scale);
  const scale = Math.max(x.scale, y.scale);
  const xu = x.unscaled * 10n ** BigInt(scale - x.scale);
  const yu = y.unscaled * 10n ** BigInt(scale - y.scale);
  return checkNumericSize(op === '+' ? xu + yu : xu - yu, scale);
}

function numericSign(t: string): number {
  const v = parseNumeric(t);
  if (!v) throw new NotLocal('numeric operand not in numeric_out form');
  return v.unscaled > 0n ? 1 : v.unscaled < 0n ? -1 : 0;
}

/** numeric_round: half away from zero at `scale` digits (negative: left of the point); result scale max(scale, 0). */
export function numericRound(text: string, scale: number): string {
  if (text === 'NaN' || text === 'Infinity' || text === '-Infinity') return text;
  const v = parseNumeric(text);
  if (!v) throw new NotLocal('numeric operand not in numeric_out form');
  const neg = v.unscaled < 0n;
  let a = neg ? -v.unscaled : v.unscaled;
  if (scale < v.scale) {
    const p = 10n ** BigInt(v.scale - scale);
    const q = a / p;
    a = 2n * (a % p) >= p ? q + 1n : q;
    // a now has scale `scale` (negative: units of 10^-scale)
    if (scale < 0) a *= 10n ** BigInt(-scale);
  } else {
    a *= 10n ** BigInt(scale - v.scale);
  }
  return checkNumericSize(neg ? -a : a, Math.max(scale, 0));
}

// ---- date arithmetic -------------------------------------------------------

/** Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's days_from_civil). */
export function daysFromCivil(y0: number, m: number, d: number): number {
  const y = m <= 2 ? y0 - 1 : y0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

export function civilFromDays(z0: number): [number, number, number] {
  const z = z0 + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp + (mp < 10 ? 3 : -9);
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d];
}

const STORED_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A stored finite date (years 1-9999 AD) as days since 1970-01-01; anything else is not handled. */
export function dateDays(stored: string): number {
  const m = STORED_DATE.exec(stored);
  if (!m) throw new NotLocal(`date ${stored.slice(0, 20)} outside years 1-9999 AD`);
  return daysFromCivil(Number(m[1]), Number(m[2]), Number(m[3]));
}

/** date_pli / date_mii: infinities stay; results outside years 1-9999 AD are not handled. */
export function dateAddDays(stored: string, days: bigint): string {
  if (stored === 'infinity' || stored === '-infinity') return stored;
  const n = dateDays(stored) + Number(days);
  const [y, mo, d] = civilFromDays(n);
  if (y < 1 || y > 9999) throw new NotLocal('date result outside years 1-9999 AD');
  return `${String(y).padStart(4, '0')}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

/** date_mi: days between two dates (infinite dates are an error in Postgres). */
export function dateDiff(a: string, b: string): bigint {
  if (a.endsWith('infinity') || b.endsWith('infinity')) throw new NotLocal('cannot subtract infinite dates');
  return BigInt(dateDays(a) - dateDays(b));
}
