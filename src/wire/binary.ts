/**
 * Binary format of the types Outpost answers locally, both ways:
 * - `encodeBinary`: a value as Postgres text (what the local path renders)
 *   to the bytes Postgres's `*send` function would produce, for a Bind that
 *   asks for binary results;
 * - `decodeBinary`: a binary parameter to Postgres text (its canonical output
 *   form, which is also valid input), like the type's `*recv` function.
 * https://www.postgresql.org/docs/current/protocol-overview.html#PROTOCOL-FORMAT-CODES
 *
 * Pure functions. Anything that cannot be converted exactly throws
 * `BinaryUnsupported`: the statement then goes upstream, which answers itself.
 */
import { isUtf8 } from 'node:buffer';

export class BinaryUnsupported extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BinaryUnsupported';
  }
}

import { TypeOid } from '../type-oids.js';

export { TypeOid };

/** Array type OID → element type OID, for the element types above. */
const ARRAY_ELEMENT = new Map<number, number>([
  [1000, TypeOid.bool],
  [1001, TypeOid.bytea],
  [1003, TypeOid.name],
  [1016, TypeOid.int8],
  [1005, TypeOid.int2],
  [1007, TypeOid.int4],
  [1009, TypeOid.text],
  [1028, TypeOid.oid],
  [199, TypeOid.json],
  [1021, TypeOid.float4],
  [1022, TypeOid.float8],
  [1014, TypeOid.bpchar],
  [1015, TypeOid.varchar],
  [1182, TypeOid.date],
  [1183, TypeOid.time],
  [1115, TypeOid.timestamp],
  [1185, TypeOid.timestamptz],
  [1187, TypeOid.interval],
  [1231, TypeOid.numeric],
  [2951, TypeOid.uuid],
  [3807, TypeOid.jsonb],
]);

const SCALARS = new Set<number>(Object.values(TypeOid));

/** The session settings text output depends on, as reported in ParameterStatus. */
export interface BinarySettings {
  /** DateStyle starts with ISO: dates and timestamps print as YYYY-MM-DD. */
  isoDates: boolean;
  /** IntervalStyle is `postgres`. */
  postgresIntervals: boolean;
  /** extra_float_digits > 0: floats print in shortest exact form. */
  exactFloats: boolean;
  /** bytea_output is hex. */
  hexBytea: boolean;
}

export function binarySettings(params: ReadonlyMap<string, string>): BinarySettings {
  const edf = params.get('extra_float_digits');
  return {
    isoDates: /^\s*ISO\b/i.test(params.get('DateStyle') ?? ''),
    postgresIntervals: (params.get('IntervalStyle') ?? '') === 'postgres',
    // Unreported (servers before 16 do not report it) means the default, 1.
    exactFloats: edf === undefined || (/^\s*\d+\s*$/.test(edf) && Number(edf) > 0),
    hexBytea: (params.get('bytea_output') ?? 'hex') === 'hex',
  };
}

function elementOf(typeOid: number): number | undefined {
  return ARRAY_ELEMENT.get(typeOid);
}

/** Whether text of this type, rendered under `settings`, converts exactly to binary. */
export function canEncodeBinary(typeOid: number, settings: BinarySettings): boolean {
  const oid = elementOf(typeOid) ?? typeOid;
  if (!SCALARS.has(oid)) return false;
  switch (oid) {
    case TypeOid.float4:
    case TypeOid.float8:
      return settings.exactFloats;
    case TypeOid.date:
    case TypeOid.timestamp:
    case TypeOid.timestamptz:
      return settings.isoDates;
    case TypeOid.interval:
      return settings.postgresIntervals;
    case TypeOid.bytea:
      return settings.hexBytea;
    default:
      return true;
  }
}

/** Whether a binary parameter of this type can be turned into text here. */
export function canDecodeBinary(typeOid: number): boolean {
  return SCALARS.has(elementOf(typeOid) ?? typeOid);
}

// ---- helpers ------------------------------------------------------------------

function fail(what: string): never {
  throw new BinaryUnsupported(what);
}

function int16(v: number): Buffer {
  const b = Buffer.allocUnsafe(2);
  b.writeInt16BE(v);
  return b;
}

function int32(v: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeInt32BE(v);
  return b;
}

function int64(v: bigint): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeBigInt64BE(v);
  return b;
}

const INT_RE = /^\s*[+-]?\d+\s*$/;

function parseInteger(text: string, bits: 16 | 32 | 64): bigint {
  if (!INT_RE.test(text)) fail(`not an integer: ${bits}`);
  const v = BigInt(text.trim());
  const limit = 1n << BigInt(bits - 1);
  if (v < -limit || v >= limit) fail('integer out of range');
  return v;
}

// Dates: Julian day numbers exactly as Postgres computes them (datetime.c).
const POSTGRES_EPOCH_JDATE = 2451545; // date2j(2000, 1, 1)
const USECS_PER_DAY = 86_400_000_000n;
const INT32_MAX = 0x7fff_ffff;
const INT32_MIN = -0x8000_0000;
const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);
/** Postgres's timestamp range: [4714-11-24 00:00 BC, 294277-01-01 00:00). */
const MIN_TIMESTAMP = -211_813_488_000_000_000n;
const END_TIMESTAMP = 9_223_371_331_200_000_000n;
/** Postgres's date range in days from 2000-01-01: [4714-11-24 BC, 5874898-01-01). */
const MIN_DATE = -POSTGRES_EPOCH_JDATE;
const END_DATE = 2_147_483_494 - POSTGRES_EPOCH_JDATE;

function date2j(year: number, month: number, day: number): number {
  let y = year;
  let m = month;
  if (m > 2) {
    m += 1;
    y += 4800;
  } else {
    m += 13;
    y += 4799;
  }
  const century = Math.trunc(y / 100);
  let julian = y * 365 - 32167;
  julian += Math.trunc(y / 4) - century + Math.trunc(century / 4);
  julian += Math.trunc((7834 * m) / 256) + day;
  return julian;
}

function j2date(jd: number): [number, number, number] {
  let julian = jd + 32044;
  let quad = Math.floor(julian / 146097);
  const extra = (julian - quad * 146097) * 4 + 3;
  julian += 60 + quad * 3 + Math.floor(extra / 146097);
  quad = Math.floor(julian / 1461);
  julian -= quad * 1461;
  let y = Math.floor((julian * 4) / 1461);
  julian = (y !== 0 ? (julian + 305) % 365 : (julian + 306) % 366) + 123;
  y += quad * 4;
  const year = y - 4800;
  const q = Math.floor((julian * 2141) / 65536);
  const day = julian - Math.floor((7834 * q) / 256);
  const month = ((q + 10) % 12) + 1;
  return [year, month, day];
}

/** Days from 2000-01-01 of an ISO date (`YYYY-MM-DD`, optional ` BC` handled by the caller). */
function daysOf(year: number, month: number, day: number, bc: boolean): number {
  if (month < 1 || month > 12 || day < 1 || day > 31) fail('bad date');
  // BC years count back from 1 BC = astronomical year 0.
  const y = bc ? 1 - year : year;
  const jd = date2j(y, month, day);
  const [yy, mm, dd] = j2date(jd);
  if (yy !== y || mm !== month || dd !== day) fail('bad date');
  return jd - POSTGRES_EPOCH_JDATE;
}

const pad2 = (n: number) => (n < 10 ? `0${n}` : String(n));
const pad4 = (n: number) => String(n).padStart(4, '0');

function formatDate(days: number): string {
  const [y, m, d] = j2date(days + POSTGRES_EPOCH_JDATE);
  return y > 0 ? `${pad4(y)}-${pad2(m)}-${pad2(d)}` : `${pad4(1 - y)}-${pad2(m)}-${pad2(d)} BC`;
}

const TIME_RE = /^(\d{2,}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/;

/** `HH:MM:SS[.ffffff]` → microseconds. */
function parseTimeOfDay(text: string, allowOver24: boolean): bigint {
  const m = TIME_RE.exec(text);
  if (!m) fail('bad time');
  const h = Number(m[1]);
  const min = Number(m[2]);
  const s = Number(m[3]);
  if (min > 59 || s > 59 || (!allowOver24 && h > 24)) fail('bad time');
  const frac = BigInt((m[4] ?? '').padEnd(6, '0'));
  const us = BigInt(h) * 3_600_000_000n + BigInt(min) * 60_000_000n + BigInt(s) * 1_000_000n + frac;
  if (!allowOver24 && us > USECS_PER_DAY) fail('bad time');
  return us;
}

/** Microseconds → `HH:MM:SS[.ffffff]` without trailing fractional zeros, as Postgres prints. */
function formatTimeOfDay(us: bigint): string {
  const h = us / 3_600_000_000n;
  let rest = us % 3_600_000_000n;
  const m = rest / 60_000_000n;
  rest %= 60_000_000n;
  const s = rest / 1_000_000n;
  const frac = rest % 1_000_000n;
  let out = `${pad2(Number(h))}:${pad2(Number(m))}:${pad2(Number(s))}`;
  if (frac !== 0n) out += `.${frac.toString().padStart(6, '0').replace(/0+$/, '')}`;
  return out;
}

const DATE_RE = /^(\d{4,})-(\d{2})-(\d{2})$/;
const TIMESTAMP_RE =
  /^(\d{4,})-(\d{2})-(\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)([+-]\d{2}(?::\d{2}){0,2})?( BC)?$/;

/** ISO timestamp text → microseconds since 2000-01-01 (UTC when `withZone`). */
function parseTimestamp(text: string, withZone: boolean): bigint {
  if (text === 'infinity') return INT64_MAX;
  if (text === '-infinity') return INT64_MIN;
  const m = TIMESTAMP_RE.exec(text);
  if (!m || (m[5] !== undefined) !== withZone) fail('bad timestamp');
  const days = daysOf(Number(m[1]), Number(m[2]), Number(m[3]), m[6] !== undefined);
  let us = BigInt(days) * USECS_PER_DAY + parseTimeOfDay(m[4] ?? '', false);
  if (m[5]) {
    const sign = m[5][0] === '-' ? -1n : 1n;
    const [hh = '0', mm = '0', ss = '0'] = m[5].slice(1).split(':');
    const offset = (BigInt(hh) * 3600n + BigInt(mm) * 60n + BigInt(ss)) * 1_000_000n;
    us -= sign * offset;
  }
  if (us < MIN_TIMESTAMP || us >= END_TIMESTAMP) fail('timestamp out of range');
  return us;
}

function formatTimestamp(us: bigint, withZone: boolean): string {
  if (us === INT64_MAX) return 'infinity';
  if (us === INT64_MIN) return '-infinity';
  if (us < MIN_TIMESTAMP || us >= END_TIMESTAMP) fail('timestamp out of range');
  let days = us / USECS_PER_DAY;
  let time = us % USECS_PER_DAY;
  if (time < 0n) {
    time += USECS_PER_DAY;
    days -= 1n;
  }
  const date = formatDate(Number(days));
  const bc = date.endsWith(' BC');
  const d = bc ? date.slice(0, -3) : date;
  return `${d} ${formatTimeOfDay(time)}${withZone ? '+00' : ''}${bc ? ' BC' : ''}`;
}

const INTERVAL_PART_RE = /^([+-]?\d+) (years?|mons?|days?)$/;
const INTERVAL_TIME_RE = /^([+-]?)(\d+:\d{2}:\d{2}(?:\.\d{1,6})?)$/;

/** IntervalStyle=postgres text → [microseconds, days, months]. */
function parseInterval(text: string): [bigint, number, number] {
  if (text === 'infinity') return [INT64_MAX, INT32_MAX, INT32_MAX];
  if (text === '-infinity') return [INT64_MIN, INT32_MIN, INT32_MIN];
  const tokens = text.split(' ');
  let months = 0;
  let days = 0;
  let time = 0n;
  let i = 0;
  while (i < tokens.length) {
    const t = tokens[i] ?? '';
    const timeMatch = INTERVAL_TIME_RE.exec(t);
    if (timeMatch && i === tokens.length - 1) {
      const us = parseTimeOfDay(timeMatch[2] ?? '', true);
      time = timeMatch[1] === '-' ? -us : us;
      i++;
      continue;
    }
    const part = INTERVAL_PART_RE.exec(`${t} ${tokens[i + 1] ?? ''}`);
    if (!part) fail('bad interval');
    const n = Number(part[1]);
    const unit = part[2] ?? '';
    if (unit.startsWith('year')) months += n * 12;
    else if (unit.startsWith('mon')) months += n;
    else days += n;
    i += 2;
  }
  if (!Number.isSafeInteger(months) || months > INT32_MAX || months < INT32_MIN) fail('interval range');
  if (days > INT32_MAX || days < INT32_MIN) fail('interval range');
  return [time, days, months];
}

function formatInterval(time: bigint, days: number, months: number): string {
  if (time === INT64_MAX && days === INT32_MAX && months === INT32_MAX) return 'infinity';
  if (time === INT64_MIN && days === INT32_MIN && months === INT32_MIN) return '-infinity';
  // EncodeInterval, INTSTYLE_POSTGRES (src/backend/utils/adt/datetime.c).
  const year = Math.trunc(months / 12);
  const mon = months % 12;
  const parts: string[] = [];
  let isBefore = false;
  let isZero = true;
  const add = (value: number, unit: string) => {
    if (value === 0) return;
    parts.push(`${isBefore && value > 0 ? '+' : ''}${value} ${unit}${value === 1 ? '' : 's'}`);
    isBefore = value < 0;
    isZero = false;
  };
  add(year, 'year');
  add(mon, 'mon');
  add(days, 'day');
  if (isZero || time !== 0n) {
    const minus = time < 0n;
    const abs = minus ? -time : time;
    parts.push(`${minus ? '-' : isBefore ? '+' : ''}${formatTimeOfDay(abs)}`);
  }
  return parts.join(' ');
}

// numeric: base-10000 digits (src/backend/utils/adt/numeric.c).
const NUMERIC_POS = 0x0000;
const NUMERIC_NEG = 0x4000;
const NUMERIC_NAN = 0xc000;
const NUMERIC_PINF = 0xd000;
const NUMERIC_NINF = 0xf000;
const NUMERIC_RE = /^\s*([+-])?(\d*)(?:\.(\d*))?\s*$/;

function encodeNumeric(text: string): Buffer {
  // numeric_send reads the special values' dscale out of their short header:
  // the header bits happen to give 32 for ±Infinity and 0 for NaN.
  const special = (sign: number) =>
    Buffer.from([0, 0, 0, 0, sign >> 8, sign & 0xff, 0, (sign & 0x1f80) >> 7]);
  const t = text.trim();
  if (/^nan$/i.test(t)) return special(NUMERIC_NAN);
  if (/^\+?(infinity|inf)$/i.test(t)) return special(NUMERIC_PINF);
  if (/^-(infinity|inf)$/i.test(t)) return special(NUMERIC_NINF);
  const m = NUMERIC_RE.exec(t);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) fail('bad numeric');
  const intPart = (m[2] ?? '').replace(/^0+/, '');
  const fracPart = m[3] ?? '';
  const dscale = fracPart.length;
  if (dscale > 0x3fff) fail('numeric scale');
  // Align on the decimal point in groups of four digits.
  const intPadded = intPart.padStart(Math.ceil(intPart.length / 4) * 4, '0');
  const fracPadded = fracPart.padEnd(Math.ceil(fracPart.length / 4) * 4, '0');
  const digits: number[] = [];
  for (let i = 0; i < intPadded.length; i += 4) digits.push(Number(intPadded.slice(i, i + 4)));
  let weight = digits.length - 1;
  for (let i = 0; i < fracPadded.length; i += 4) digits.push(Number(fracPadded.slice(i, i + 4)));
  // Stored form strips leading and trailing zero groups; zero has weight 0 and is positive.
  let start = 0;
  while (start < digits.length && digits[start] === 0) {
    start++;
    weight--;
  }
  let end = digits.length;
  while (end > start && digits[end - 1] === 0) end--;
  const kept = digits.slice(start, end);
  let sign = m[1] === '-' ? NUMERIC_NEG : NUMERIC_POS;
  if (kept.length === 0) {
    weight = 0;
    sign = NUMERIC_POS;
  }
  if (weight > 0x7fff || weight < -0x8000) fail('numeric weight');
  const buf = Buffer.allocUnsafe(8 + 2 * kept.length);
  buf.writeInt16BE(kept.length, 0);
  buf.writeInt16BE(weight, 2);
  buf.writeUInt16BE(sign, 4);
  buf.writeInt16BE(dscale, 6);
  for (let i = 0; i < kept.length; i++) buf.writeInt16BE(kept[i] ?? 0, 8 + 2 * i);
  return buf;
}

function decodeNumeric(b: Buffer): string {
  if (b.length < 8) fail('numeric length');
  const ndigits = b.readInt16BE(0);
  const weight = b.readInt16BE(2);
  const sign = b.readUInt16BE(4);
  const dscale = b.readInt16BE(6);
  if (ndigits < 0 || b.length !== 8 + 2 * ndigits) fail('numeric length');
  if (sign === NUMERIC_NAN) return 'NaN';
  if (sign === NUMERIC_PINF) return 'Infinity';
  if (sign === NUMERIC_NINF) return '-Infinity';
  if ((sign !== NUMERIC_POS && sign !== NUMERIC_NEG) || dscale < 0 || dscale > 0x3fff) fail('numeric sign');
  const digits: number[] = [];
  for (let i = 0; i < ndigits; i++) {
    const d = b.readInt16BE(8 + 2 * i);
    if (d < 0 || d >= 10000) fail('numeric digit');
    digits.push(d);
  }
  const group = (i: number) => (i >= 0 && i < digits.length ? (digits[i] ?? 0) : 0);
  // Integer part: groups of weight `weight` down to 0, i.e. indices 0..weight.
  let int = '';
  for (let w = weight, i = 0; w >= 0; w--, i++) {
    const d = group(i);
    int += int === '' ? (d === 0 ? '' : String(d)) : String(d).padStart(4, '0');
  }
  if (int === '') int = '0';
  let frac = '';
  for (let w = -1; frac.length < dscale; w--) frac += String(group(weight - w)).padStart(4, '0');
  frac = frac.slice(0, dscale);
  const isZero = digits.every((d) => d === 0);
  const neg = sign === NUMERIC_NEG && !isZero;
  return `${neg ? '-' : ''}${int}${dscale > 0 ? `.${frac}` : ''}`;
}

// Floats printed like Postgres's shortest-exact output (float8out / float4out
// with extra_float_digits > 0): %g-style, exponent when < -4 or >= 15 (6 for float4).
function formatFloat(v: number, digitsThreshold: number, shortest: string): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return 'Infinity';
  if (v === Number.NEGATIVE_INFINITY) return '-Infinity';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const [mant = '', expText = '0'] = shortest.split('e');
  const exp = Number(expText);
  const neg = mant.startsWith('-');
  const digits = mant.replace('-', '').replace('.', '');
  let out: string;
  if (exp < -4 || exp >= digitsThreshold) {
    const e = Math.abs(exp);
    out = `${digits[0]}${digits.length > 1 ? `.${digits.slice(1)}` : ''}e${exp < 0 ? '-' : '+'}${e < 10 ? `0${e}` : e}`;
  } else if (exp < 0) {
    out = `0.${'0'.repeat(-exp - 1)}${digits}`;
  } else if (digits.length <= exp + 1) {
    out = digits + '0'.repeat(exp + 1 - digits.length);
  } else {
    out = `${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
  }
  return neg ? `-${out}` : out;
}

function shortestFloat4(v: number): string {
  for (let p = 1; p <= 9; p++) {
    const s = v.toExponential(p - 1);
    if (Math.fround(Number(s)) === v) return s;
  }
  return v.toExponential(8);
}

function parseFloatText(text: string): number {
  const t = text.trim();
  if (/^nan$/i.test(t)) return Number.NaN;
  if (/^\+?(infinity|inf)$/i.test(t)) return Number.POSITIVE_INFINITY;
  if (/^-(infinity|inf)$/i.test(t)) return Number.NEGATIVE_INFINITY;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) fail('bad float');
  return Number(t);
}

const UUID_RE = /^\{?([0-9a-f]{8})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{12})\}?$/i;

function parseBytea(text: string): Buffer {
  if (!text.startsWith('\\x')) fail('bytea not in hex format');
  const hex = text.slice(2);
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) fail('bad bytea');
  return Buffer.from(hex, 'hex');
}

// ---- arrays ----------------------------------------------------------------------

/** Elements of a one-dimensional array literal as Postgres prints it; null is NULL. */
function parseArrayText(text: string): { lower: number; items: (string | null)[] } {
  let body = text;
  let lower = 1;
  const dims = /^\[(-?\d+):(-?\d+)\]=/.exec(text);
  if (dims) {
    lower = Number(dims[1]);
    body = text.slice(dims[0].length);
  }
  if (!body.startsWith('{') || !body.endsWith('}')) fail('bad array');
  const inner = body.slice(1, -1);
  const items: (string | null)[] = [];
  if (inner === '') {
    if (dims) fail('bad array');
    return { lower, items };
  }
  let i = 0;
  for (;;) {
    if (inner[i] === '{') fail('multi-dimensional array');
    if (inner[i] === '"') {
      let v = '';
      i++;
      while (i < inner.length && inner[i] !== '"') {
        if (inner[i] === '\\') i++;
        v += inner[i] ?? '';
        i++;
      }
      if (inner[i] !== '"') fail('bad array');
      i++;
      items.push(v);
    } else {
      let j = i;
      while (j < inner.length && inner[j] !== ',') j++;
      const raw = inner.slice(i, j);
      if (raw.includes('"') || raw.includes('\\') || raw.includes('{') || raw.includes('}'))
        fail('bad array');
      items.push(raw === 'NULL' ? null : raw);
      i = j;
    }
    if (i === inner.length) break;
    if (inner[i] !== ',') fail('bad array');
    i++;
  }
  if (dims && Number(dims[2]) - lower + 1 !== items.length) fail('bad array bounds');
  return { lower, items };
}

function quoteArrayElement(v: string): string {
  // array_out: quote empty strings, NULL look-alikes, and anything with
  // delimiters, quotes, backslashes, braces or whitespace.
  if (v === '' || /^null$/i.test(v) || /[{},"\\\s]/.test(v)) {
    return `"${v.replace(/(["\\])/g, '\\$1')}"`;
  }
  return v;
}

function encodeArray(elementOid: number, text: string, settings: BinarySettings): Buffer {
  const { lower, items } = parseArrayText(text);
  const encoded = items.map((v) => (v === null ? null : encodeBinary(elementOid, v, settings)));
  const hasNull = encoded.some((e) => e === null);
  const parts: Buffer[] = [];
  if (items.length === 0) {
    parts.push(int32(0), int32(0), int32(elementOid));
  } else {
    parts.push(int32(1), int32(hasNull ? 1 : 0), int32(elementOid), int32(items.length), int32(lower));
  }
  for (const e of encoded) {
    if (e === null) parts.push(int32(-1));
    else parts.push(int32(e.length), e);
  }
  return Buffer.concat(parts);
}

function decodeArray(elementOid: number, b: Buffer): string {
  if (b.length < 12) fail('array length');
  const ndim = b.readInt32BE(0);
  const flags = b.readInt32BE(4);
  const elem = b.readUInt32BE(8);
  if (elem !== elementOid || (flags !== 0 && flags !== 1)) fail('array element type');
  if (ndim === 0) {
    if (b.length !== 12) fail('array length');
    return '{}';
  }
  if (ndim !== 1 || b.length < 20) fail('multi-dimensional array');
  const n = b.readInt32BE(12);
  const lower = b.readInt32BE(16);
  if (n < 0) fail('array length');
  let off = 20;
  const items: string[] = [];
  for (let i = 0; i < n; i++) {
    if (off + 4 > b.length) fail('array length');
    const len = b.readInt32BE(off);
    off += 4;
    if (len === -1) {
      items.push('NULL');
      continue;
    }
    if (len < 0 || off + len > b.length) fail('array length');
    items.push(quoteArrayElement(decodeBinary(elementOid, b.subarray(off, off + len))));
    off += len;
  }
  if (off !== b.length) fail('array length');
  const body = `{${items.join(',')}}`;
  return lower === 1 || n === 0 ? body : `[${lower}:${lower + n - 1}]=${body}`;
}

// ---- the two entry points -----------------------------------------------------

/**
 * The binary representation Postgres sends for a value of `typeOid` whose text
 * output (under `settings`) is `text`. Throws `BinaryUnsupported`.
 */
export function encodeBinary(typeOid: number, text: string, settings: BinarySettings): Buffer {
  const element = elementOf(typeOid);
  if (element !== undefined) {
    if (!canEncodeBinary(element, settings)) fail(`binary ${typeOid} under these settings`);
    return encodeArray(element, text, settings);
  }
  if (!canEncodeBinary(typeOid, settings)) fail(`binary ${typeOid} under these settings`);
  switch (typeOid) {
    case TypeOid.int2:
      return int16(Number(parseInteger(text, 16)));
    case TypeOid.int4:
      return int32(Number(parseInteger(text, 32)));
    case TypeOid.int8:
      return int64(parseInteger(text, 64));
    case TypeOid.oid: {
      if (!/^\d+$/.test(text) || Number(text) > 0xffff_ffff) fail('bad oid');
      const b = Buffer.allocUnsafe(4);
      b.writeUInt32BE(Number(text));
      return b;
    }
    case TypeOid.float4: {
      const b = Buffer.allocUnsafe(4);
      b.writeFloatBE(Math.fround(parseFloatText(text)));
      return b;
    }
    case TypeOid.float8: {
      const b = Buffer.allocUnsafe(8);
      b.writeDoubleBE(parseFloatText(text));
      return b;
    }
    case TypeOid.bool:
      if (text === 't') return Buffer.from([1]);
      if (text === 'f') return Buffer.from([0]);
      return fail('bad bool');
    case TypeOid.bytea:
      return parseBytea(text);
    case TypeOid.text:
    case TypeOid.varchar:
    case TypeOid.bpchar:
    case TypeOid.name:
    case TypeOid.json:
      return Buffer.from(text, 'utf8');
    case TypeOid.jsonb: {
      // jsonb_send: a version byte (1), then the text form.
      const body = Buffer.from(text, 'utf8');
      const b = Buffer.allocUnsafe(1 + body.length);
      b[0] = 1;
      body.copy(b, 1);
      return b;
    }
    case TypeOid.uuid: {
      const m = UUID_RE.exec(text);
      if (!m) fail('bad uuid');
      return Buffer.from(m.slice(1).join(''), 'hex');
    }
    case TypeOid.date: {
      if (text === 'infinity') return int32(INT32_MAX);
      if (text === '-infinity') return int32(INT32_MIN);
      const bc = text.endsWith(' BC');
      const m = DATE_RE.exec(bc ? text.slice(0, -3) : text);
      if (!m) fail('bad date');
      return int32(daysOf(Number(m[1]), Number(m[2]), Number(m[3]), bc));
    }
    case TypeOid.time:
      return int64(parseTimeOfDay(text, false));
    case TypeOid.timestamp:
      return int64(parseTimestamp(text, false));
    case TypeOid.timestamptz:
      return int64(parseTimestamp(text, true));
    case TypeOid.interval: {
      const [time, days, months] = parseInterval(text);
      const b = Buffer.allocUnsafe(16);
      b.writeBigInt64BE(time, 0);
      b.writeInt32BE(days, 8);
      b.writeInt32BE(months, 12);
      return b;
    }
    case TypeOid.numeric:
      return encodeNumeric(text);
  }
  return fail(`no binary encoder for type ${typeOid}`);
}

function exactLength(b: Buffer, n: number): void {
  if (b.length !== n) fail('incorrect binary data format');
}

function utf8Text(b: Buffer): string {
  // textrecv verifies the encoding; NUL is never valid in text.
  if (!isUtf8(b) || b.includes(0)) fail('invalid byte sequence for encoding "UTF8"');
  return b.toString('utf8');
}

/**
 * The text of a binary parameter of `typeOid`, as Postgres's output function
 * would print the value under DateStyle=ISO and IntervalStyle=postgres. Throws
 * `BinaryUnsupported` for anything Postgres's receive function would reject
 * or that has no decoder here.
 */
export function decodeBinary(typeOid: number, b: Buffer): string {
  const element = elementOf(typeOid);
  if (element !== undefined) return decodeArray(element, b);
  switch (typeOid) {
    case TypeOid.int2:
      exactLength(b, 2);
      return String(b.readInt16BE(0));
    case TypeOid.int4:
      exactLength(b, 4);
      return String(b.readInt32BE(0));
    case TypeOid.int8:
      exactLength(b, 8);
      return b.readBigInt64BE(0).toString();
    case TypeOid.oid:
      exactLength(b, 4);
      return String(b.readUInt32BE(0));
    case TypeOid.float4: {
      exactLength(b, 4);
      const v = b.readFloatBE(0);
      return formatFloat(v, 6, Number.isFinite(v) && v !== 0 ? shortestFloat4(v) : '');
    }
    case TypeOid.float8: {
      exactLength(b, 8);
      const v = b.readDoubleBE(0);
      return formatFloat(v, 15, Number.isFinite(v) && v !== 0 ? v.toExponential() : '');
    }
    case TypeOid.bool:
      exactLength(b, 1);
      return b[0] !== 0 ? 't' : 'f';
    case TypeOid.bytea:
      return `\\x${b.toString('hex')}`;
    case TypeOid.text:
    case TypeOid.varchar:
    case TypeOid.bpchar:
    case TypeOid.json:
      return utf8Text(b);
    case TypeOid.name:
      if (b.length >= 64) fail('name too long');
      return utf8Text(b);
    case TypeOid.jsonb:
      if (b.length < 1 || b[0] !== 1) fail('unsupported jsonb version number');
      return utf8Text(b.subarray(1));
    case TypeOid.uuid: {
      exactLength(b, 16);
      const h = b.toString('hex');
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
    }
    case TypeOid.date: {
      exactLength(b, 4);
      const days = b.readInt32BE(0);
      if (days === INT32_MAX) return 'infinity';
      if (days === INT32_MIN) return '-infinity';
      if (days < MIN_DATE || days >= END_DATE) fail('date out of range');
      return formatDate(days);
    }
    case TypeOid.time: {
      exactLength(b, 8);
      const us = b.readBigInt64BE(0);
      if (us < 0n || us > USECS_PER_DAY) fail('time out of range');
      return formatTimeOfDay(us);
    }
    case TypeOid.timestamp:
      exactLength(b, 8);
      return formatTimestamp(b.readBigInt64BE(0), false);
    case TypeOid.timestamptz:
      exactLength(b, 8);
      return formatTimestamp(b.readBigInt64BE(0), true);
    case TypeOid.interval:
      exactLength(b, 16);
      return formatInterval(b.readBigInt64BE(0), b.readInt32BE(8), b.readInt32BE(12));
    case TypeOid.numeric:
      return decodeNumeric(b);
  }
  return fail(`no binary decoder for type ${typeOid}`);
}
