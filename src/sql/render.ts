/**
 * Stored SQLite value → the exact text Postgres would send for it, under the
 * client session's settings. The storage format is described in
 * docs/architecture.md ("Storage of values"). Anything that cannot be
 * reproduced exactly throws `NotLocal`, and the statement goes upstream.
 */
import { NotLocal } from '../errors.js';

export type Renderer = (value: unknown) => string | null;

/** The subset of a column the renderer needs. */
export interface RenderColumn {
  typeOid: number;
  typeName: string;
  /**
   * The type is an enum (its OID is not fixed): the value is stored as its
   * label, which is the output whatever the session's settings.
   */
  isEnum?: boolean;
}

// Type OIDs (pg_type.oid, fixed for built-in types).
const BOOL = 16;
const BYTEA = 17;
const INT8 = 20;
const INT2 = 21;
const INT4 = 23;
const FLOAT4 = 700;
const FLOAT8 = 701;
const DATE = 1082;
const TIME = 1083;
const TIMESTAMP = 1114;
const TIMESTAMPTZ = 1184;
const INTERVAL = 1186;
const TIMETZ = 1266;

/**
 * Types whose output does not depend on any session setting (given UTF8 and
 * extra_float_digits > 0, which the router enforces): the stored text is the
 * output. Enums, domains, composites and other user types are not listed
 * (their OIDs are not fixed and their base type is unknown here), nor is
 * money (lc_monetary: rendererFor).
 */
const AS_STORED = new Set<number>([
  18, // "char"
  19, // name
  25, // text
  26, // oid
  114, // json
  142, // xml
  600, // point (float8 parts print shortest when extra_float_digits > 0)
  601, // lseg
  602, // path
  603, // box
  604, // polygon
  628, // line
  650, // cidr
  718, // circle
  774, // macaddr8
  829, // macaddr
  // record: only the compiler's ROW(...) values (src/sql/record.ts), already
  // printed by record_out from session-independent elements (no table column
  // can have this pseudo-type).
  2249,
  // record[]: only SEARCH/CYCLE's sequences and paths, printed by the
  // compiler from integer fields (src/sql/search-cycle-keys.ts).
  2287,
  869, // inet
  1042, // bpchar
  1043, // varchar
  1560, // bit
  1562, // varbit
  1700, // numeric
  2950, // uuid
  3220, // pg_lsn
  3614, // tsvector
  3615, // tsquery
  3802, // jsonb
  3904, // int4range
  3906, // numrange
  3926, // int8range
  // Arrays of the above and of the scalar types handled below whose text
  // form is setting-independent.
  1000, // bool[]
  1001, // bytea[] — no: depends on bytea_output, removed below
  1002, // char[]
  1003, // name[]
  1005, // int2[]
  1007, // int4[]
  1009, // text[]
  1014, // bpchar[]
  1015, // varchar[]
  1016, // int8[]
  1021, // float4[]
  1022, // float8[]
  1028, // oid[]
  1231, // numeric[]
  2951, // uuid[]
  199, // json[]
  3807, // jsonb[]
  1041, // inet[]
  651, // cidr[]
]);
AS_STORED.delete(1001);

/** Types whose output depends on DateStyle only (the router requires ISO). */
const DATESTYLE_ONLY = new Set<number>([
  DATE,
  TIME,
  TIMESTAMP,
  TIMETZ, // carries its own offset; TimeZone does not apply
  1182, // date[]
  1183, // time[]
  1115, // timestamp[]
  1270, // timetz[]
  3908, // tsrange
  3912, // daterange
]);

/** Types whose output depends on DateStyle and TimeZone. */
const TIMEZONE_DEPENDENT = new Set<number>([
  1185, // timestamptz[]
  3910, // tstzrange
]);

/**
 * TimeZone values under which Postgres prints every timestamptz with offset
 * `+00`, i.e. exactly the stored form. Compared case-insensitively (Postgres
 * looks zone names up case-insensitively).
 */
const UTC_ZONES = new Set(
  [
    'UTC',
    'Etc/UTC',
    'GMT',
    'Etc/GMT',
    'Etc/GMT0',
    'Etc/GMT+0',
    'Etc/GMT-0',
    'GMT0',
    'GMT+0',
    'GMT-0',
    'Greenwich',
    'Etc/Greenwich',
    'UCT',
    'Etc/UCT',
    'Universal',
    'Etc/Universal',
    'Zulu',
    'Etc/Zulu',
  ].map((z) => z.toLowerCase()),
);

/**
 * IANA zones for which conversion with Intl (Node's ICU tz data) was compared
 * against Postgres's own tz data (test/render-timestamptz.test.ts) over
 * 1970–2037, and whose rules have been stable in that range. Other zones are
 * forwarded: tz databases of different vintages disagree for zones whose
 * rules changed recently (America/Vancouver: permanent -07 from late 2026
 * in Postgres's tzdata, not in Node's ICU 2025c).
 */
export const VERIFIED_ZONES: readonly string[] = [
  'America/New_York',
  'America/Chicago',
  'America/Denver',
  'America/Los_Angeles',
  'America/Phoenix',
  'America/Toronto',
  'Europe/London',
  'Europe/Paris',
  'Europe/Berlin',
  'Europe/Madrid',
  'Europe/Rome',
  'Europe/Amsterdam',
  'Europe/Stockholm',
  'Europe/Zurich',
  'Asia/Tokyo',
  'Asia/Shanghai',
  'Asia/Hong_Kong',
  'Asia/Kolkata',
  'Australia/Sydney',
  'Australia/Melbourne',
  'Pacific/Auckland',
];
const VERIFIED_ZONE_SET = new Set(VERIFIED_ZONES);

/** Range of years in which non-UTC conversions were verified. */
const MIN_CONVERT_YEAR = 1970;
const MAX_CONVERT_YEAR = 2037;
/**
 * Future offsets are only as good as the newest rule change both tz
 * databases know about; keep conversions to at most a year ahead.
 */
const defaultMaxConvertYear = (): number => Math.min(MAX_CONVERT_YEAR, new Date().getUTCFullYear() + 1);

export function isUtcZone(zone: string): boolean {
  return UTC_ZONES.has(zone.toLowerCase()) || fixedOffsetSeconds(zone) === 0;
}

/**
 * The POSIX spec Postgres reports as TimeZone for a fixed offset
 * (`SET TIME ZONE INTERVAL '-05:00' HOUR TO MINUTE`, `SET TIME ZONE -5`, or
 * the spec itself): `<-05>+05`, `<+05:30>-05:30`, `<+00>-00`. The name in
 * angle brackets is the offset east of UTC, the number after it the POSIX
 * offset west of UTC. Only that exact pairing, which is what Postgres
 * reports, is accepted: it was compared with Postgres's output
 * (test/render-fixed-offset.test.ts); other POSIX specs (daylight-saving
 * rules, names that disagree with the offset) are forwarded. Returns the
 * offset in seconds east of UTC, or undefined for any other TimeZone value.
 */
export function fixedOffsetSeconds(zone: string): number | undefined {
  const m = /^<([+-])(\d{2})(?::(\d{2}))?>([+-])(\d{2})(?::(\d{2}))?$/.exec(zone);
  if (!m) return undefined;
  const [, nameSign, nameH, nameM, posixSign, posixH, posixM] = m;
  if (nameH !== posixH || nameM !== posixM) return undefined;
  const minutes = Number(nameH) * 60 + Number(nameM ?? '0');
  // Offsets beyond 15 hours were not compared with Postgres; zero is spelled <+00>-00.
  if (Number(nameM ?? '0') > 59 || minutes > 15 * 60) return undefined;
  if (minutes === 0) return nameSign === '+' && posixSign === '-' ? 0 : undefined;
  if (nameSign === posixSign) return undefined;
  return (nameSign === '+' ? 1 : -1) * minutes * 60;
}

/**
 * Check the session settings every local answer depends on, whatever the
 * types involved. Returns a reason to forward, or undefined.
 */
export function sessionSettingsProblem(params: Map<string, string>): string | undefined {
  const encoding = params.get('client_encoding');
  if (encoding !== undefined && encoding.toUpperCase() !== 'UTF8') return `client_encoding ${encoding}`;
  const edf = params.get('extra_float_digits');
  if (edf !== undefined && !(/^\s*\d+\s*$/.test(edf) && Number(edf) > 0)) return `extra_float_digits ${edf}`;
  const bytea = params.get('bytea_output');
  if (bytea !== undefined && bytea !== 'hex') return `bytea_output ${bytea}`;
  return undefined;
}

function requireIsoDateStyle(params: Map<string, string>): void {
  const dateStyle = params.get('DateStyle');
  if (dateStyle === undefined) throw new NotLocal('DateStyle unknown');
  if (!/^ISO\b/i.test(dateStyle.trim())) throw new NotLocal(`DateStyle ${dateStyle}`);
}

function timeZoneOf(params: Map<string, string>): string {
  const zone = params.get('TimeZone');
  if (zone === undefined) throw new NotLocal('TimeZone unknown');
  return zone;
}

/** Pick the renderer for a column under the session's settings, or throw NotLocal. */
export function rendererFor(column: RenderColumn, params: Map<string, string>): Renderer {
  const oid = column.typeOid;
  if (column.isEnum) return renderStored;
  switch (oid) {
    case INT2:
    case INT4:
    case INT8:
      return renderInteger;
    case BOOL:
      return renderBool;
    case FLOAT8:
      return renderFloat8;
    case FLOAT4:
      return renderFloat4;
    case BYTEA:
      return renderStored;
    case 790:
      // money: cash_out's text under the server's lc_monetary, which the
      // session keeps (a session that sets lc_monetary is forwarded).
      return renderStored;
    case INTERVAL:
    case 1187: {
      const style = params.get('IntervalStyle');
      if (style !== 'postgres') throw new NotLocal(`IntervalStyle ${style ?? 'unknown'}`);
      return renderStored;
    }
    case TIMESTAMPTZ: {
      requireIsoDateStyle(params);
      const zone = timeZoneOf(params);
      if (isUtcZone(zone)) return renderStored;
      const fixed = fixedOffsetSeconds(zone);
      if (fixed !== undefined) {
        return (value) => {
          if (value === null) return null;
          if (typeof value !== 'string') throw new NotLocal('timestamptz stored as non-text');
          return shiftTimestamptz(value, fixed);
        };
      }
      if (!VERIFIED_ZONE_SET.has(zone)) throw new NotLocal(`TimeZone ${zone} not verified`);
      return (value) => {
        if (value === null) return null;
        if (typeof value !== 'string') throw new NotLocal('timestamptz stored as non-text');
        return convertTimestamptz(value, zone);
      };
    }
  }
  if (AS_STORED.has(oid)) return renderStored;
  if (DATESTYLE_ONLY.has(oid)) {
    requireIsoDateStyle(params);
    return renderStored;
  }
  if (TIMEZONE_DEPENDENT.has(oid)) {
    requireIsoDateStyle(params);
    const zone = timeZoneOf(params);
    if (!isUtcZone(zone)) throw new NotLocal(`${column.typeName} under TimeZone ${zone}`);
    return renderStored;
  }
  throw new NotLocal(`type ${column.typeName} (${oid}) not rendered locally`);
}

function renderStored(value: unknown): string | null {
  if (value === null) return null;
  if (typeof value !== 'string') throw new NotLocal('text value stored as non-text');
  return value;
}

function renderInteger(value: unknown): string | null {
  if (value === null) return null;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  throw new NotLocal('integer value stored as non-integer');
}

function renderBool(value: unknown): string | null {
  if (value === null) return null;
  if (value === 1n || value === 1) return 't';
  if (value === 0n || value === 0) return 'f';
  throw new NotLocal('bool value stored as non-0/1');
}

function floatValue(value: unknown, type: string): number | string {
  // Storage contract: every float is a REAL except NaN and -0, stored as the
  // TEXT 'NaN' / '-0'; so a numeric zero read back is a true +0.
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') {
    const n = Number(value);
    if (BigInt(n) !== value) throw new NotLocal(`${type} stored as a large integer`);
    return n;
  }
  if (typeof value === 'string') {
    if (value === 'NaN' || value === '-0') return value;
    throw new NotLocal(`${type} stored as text ${JSON.stringify(value.slice(0, 20))}`);
  }
  throw new NotLocal(`${type} stored as ${typeof value}`);
}

function renderFloat8(value: unknown): string | null {
  if (value === null) return null;
  const v = floatValue(value, 'float8');
  return typeof v === 'string' ? v : formatFloat8(v);
}

function renderFloat4(value: unknown): string | null {
  if (value === null) return null;
  const v = floatValue(value, 'float4');
  if (typeof v === 'string') return v;
  // The replica stores float4 as the double nearest to Postgres's (shortest)
  // text, not as the float32 itself; rendering the float32 must give back
  // exactly that text, which the round trip below checks.
  const text = formatFloat4(Math.fround(v));
  if (Math.fround(v) !== v && Number(text) !== v) throw new NotLocal('float4 value does not round-trip');
  return text;
}

/**
 * Postgres's fixed/exponential layout of shortest round-trip digits
 * (src/common/d2s.c and f2s.c `to_chars`): fixed notation when the decimal
 * exponent is in [-4, maxFixedExp), else `d.ddde±XX` with at least two
 * exponent digits.
 */
function layout(negative: boolean, digits: string, exp10: number, maxFixedExp: number): string {
  const sign = negative ? '-' : '';
  if (exp10 < -4 || exp10 >= maxFixedExp) {
    const mantissa = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const e = Math.abs(exp10);
    return `${sign}${mantissa}e${exp10 < 0 ? '-' : '+'}${e < 10 ? `0${e}` : e}`;
  }
  if (exp10 < 0) return `${sign}0.${'0'.repeat(-exp10 - 1)}${digits}`;
  if (digits.length <= exp10 + 1) return `${sign}${digits}${'0'.repeat(exp10 + 1 - digits.length)}`;
  return `${sign}${digits.slice(0, exp10 + 1)}.${digits.slice(exp10 + 1)}`;
}

function special(n: number): string | undefined {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Number.POSITIVE_INFINITY) return 'Infinity';
  if (n === Number.NEGATIVE_INFINITY) return '-Infinity';
  if (n === 0) return Object.is(n, -0) ? '-0' : '0';
  return undefined;
}

/**
 * float8out with extra_float_digits > 0 (Ryu, src/common/d2s.c): the shortest
 * digits strictly inside the value's rounding interval, the closest to the
 * value among those. JS's Number→string computes the same except that it also
 * accepts a decimal lying exactly on the interval's boundary (e.g. `1e+23`
 * where Postgres prints `9.999999999999999e+22`). That can only happen when
 * the boundary has at most 17 significant digits, i.e. for |x| ≥ 2^37, so
 * those values take the exact path.
 */
export function formatFloat8(n: number): string {
  const s = special(n);
  if (s !== undefined) return s;
  const abs = Math.abs(n);
  const [mantissa = '', exponent = '0'] = abs.toExponential().split('e');
  const jsDigits = mantissa.replace('.', '');
  if (abs < 2 ** 37) return layout(n < 0, jsDigits, Number(exponent), 15);
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, abs);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const ieeeExp = (hi >>> 20) & 0x7ff;
  const ieeeMant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  const { digits, exp10 } = shortestExact(
    ieeeExp === 0 ? ieeeMant : ieeeMant | (1n << 52n),
    (ieeeExp === 0 ? 1 : ieeeExp) - 1075,
    ieeeMant === 0n && ieeeExp > 1,
    jsDigits.length,
    17,
  );
  return layout(n < 0, digits, exp10, 15);
}

/** float4out with extra_float_digits > 0 (Ryu, src/common/f2s.c), computed exactly. */
export function formatFloat4(n: number): string {
  const s = special(n);
  if (s !== undefined) return s;
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, Math.abs(n));
  const bits = view.getUint32(0);
  const ieeeExp = (bits >>> 23) & 0xff;
  const ieeeMant = bits & 0x7fffff;
  const { digits, exp10 } = shortestExact(
    BigInt(ieeeExp === 0 ? ieeeMant : ieeeMant | 0x800000),
    (ieeeExp === 0 ? 1 : ieeeExp) - 150,
    ieeeMant === 0 && ieeeExp > 1,
    1,
    9,
  );
  return layout(n < 0, digits, exp10, 6);
}

const pow10Cache: bigint[] = [];
function pow10(k: number): bigint {
  let p = pow10Cache[k];
  if (p === undefined) {
    p = 10n ** BigInt(k);
    pow10Cache[k] = p;
  }
  return p;
}

/**
 * The shortest decimal strictly inside the rounding interval of the binary
 * value mant·2^q (> 0), the closest to it among equally short ones (ties to
 * even), trying lengths from `minDigits` up. Exact rational arithmetic with
 * BigInt. `lowerGapIsHalf`: the value is a power of two above the smallest
 * normal, so the gap to its lower neighbour is half the upper one.
 */
function shortestExact(
  mant: bigint,
  q: number,
  lowerGapIsHalf: boolean,
  minDigits: number,
  maxDigits: number,
): { digits: string; exp10: number } {
  // Everything scaled by 4 so that the interval bounds are integers times 2^(q-2).
  const v4 = mant * 4n;
  const shift = q - 2;
  const scaled = (k: bigint): { num: bigint; den: bigint } =>
    shift >= 0 ? { num: k << BigInt(shift), den: 1n } : { num: k, den: 1n << BigInt(-shift) };
  const v = scaled(v4);
  const lo = scaled(v4 - (lowerGapIsHalf ? 1n : 2n));
  const hi = scaled(v4 + 2n);
  /** Sign of c·10^e − num/den. */
  const cmp = (c: bigint, e: number, r: { num: bigint; den: bigint }): number => {
    const left = e >= 0 ? c * pow10(e) * r.den : c * r.den;
    const right = e >= 0 ? r.num : r.num * pow10(-e);
    return left < right ? -1 : left > right ? 1 : 0;
  };
  // Exact decimal exponent of the value: 10^exp10 <= value < 10^(exp10+1).
  let exp10 = Math.floor(Math.log10(Number(mant)) + q * Math.LOG10E * Math.LN2);
  while (cmp(1n, exp10 + 1, v) <= 0) exp10++;
  while (cmp(1n, exp10, v) > 0) exp10--;
  for (let p = minDigits; p <= maxDigits; p++) {
    const e = exp10 - p + 1;
    // c0 = value / 10^e rounded to nearest; candidates around it.
    const num = e >= 0 ? v.num : v.num * pow10(-e);
    const den = e >= 0 ? v.den * pow10(e) : v.den;
    const c0 = (2n * num + den) / (2n * den);
    let best: bigint | undefined;
    let bestDist: bigint | undefined;
    for (const c of [c0 - 1n, c0, c0 + 1n]) {
      if (c <= 0n) continue;
      if (cmp(c, e, lo) <= 0 || cmp(c, e, hi) >= 0) continue;
      const diff = c * den - num;
      const dist = diff < 0n ? -diff : diff;
      if (bestDist === undefined || dist < bestDist || (dist === bestDist && c % 2n === 0n)) {
        best = c;
        bestDist = dist;
      }
    }
    if (best !== undefined) {
      const all = best.toString();
      const digits = all.replace(/0+$/, '');
      return { digits, exp10: e + all.length - 1 };
    }
  }
  throw new NotLocal('no shortest float representation found');
}

/** Cached Intl formatters per zone (constructing one is slow). */
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(zone, f);
  }
  return f;
}

/** UTC offset of `zone` at the instant `epochMs` (whole seconds), in seconds east of UTC. */
function zoneOffsetSeconds(zone: string, epochMs: number): number {
  const parts = formatterFor(zone).formatToParts(new Date(epochMs));
  const get = (type: string): number => Number(parts.find((p) => p.type === type)?.value);
  const local = Date.UTC(
    get('year'),
    get('month') - 1,
    get('day'),
    get('hour'),
    get('minute'),
    get('second'),
  );
  return Math.round((local - epochMs) / 1000);
}

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));

/** Postgres's offset suffix: `+HH`, `+HH:MM` or `+HH:MM:SS`. */
export function formatOffset(seconds: number): string {
  const sign = seconds < 0 ? '-' : '+';
  const abs = Math.abs(seconds);
  const h = Math.floor(abs / 3600);
  const m = Math.floor((abs % 3600) / 60);
  const s = abs % 60;
  let out = `${sign}${pad2(h)}`;
  if (m !== 0 || s !== 0) out += `:${pad2(m)}`;
  if (s !== 0) out += `:${pad2(s)}`;
  return out;
}

const STORED_TIMESTAMPTZ = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?\+00$/;

/** Stored UTC timestamptz text → its text under a (verified) IANA zone, DateStyle ISO. */
export function convertTimestamptz(stored: string, zone: string, maxYear = defaultMaxConvertYear()): string {
  if (stored === 'infinity' || stored === '-infinity') return stored;
  const m = STORED_TIMESTAMPTZ.exec(stored);
  if (!m) throw new NotLocal(`timestamptz ${stored} outside the verified range`);
  const year = Number(m[1]);
  if (year < MIN_CONVERT_YEAR || year > maxYear) {
    throw new NotLocal(`timestamptz year ${year} outside the verified range`);
  }
  const utcMs = Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  const offset = zoneOffsetSeconds(zone, utcMs);
  const local = new Date(utcMs + offset * 1000);
  const fraction = m[7] ?? '';
  return (
    `${local.getUTCFullYear()}-${pad2(local.getUTCMonth() + 1)}-${pad2(local.getUTCDate())} ` +
    `${pad2(local.getUTCHours())}:${pad2(local.getUTCMinutes())}:${pad2(local.getUTCSeconds())}${fraction}` +
    formatOffset(offset)
  );
}

/**
 * Stored UTC timestamptz text → its text at a fixed offset (seconds east of
 * UTC), DateStyle ISO. Results outside years 1–9999 AD (BC suffix, 5-digit
 * years) are not handled.
 */
export function shiftTimestamptz(stored: string, offset: number): string {
  if (stored === 'infinity' || stored === '-infinity') return stored;
  const m = STORED_TIMESTAMPTZ.exec(stored);
  if (!m) throw new NotLocal(`timestamptz ${stored} outside years 1-9999 AD`);
  const utc = new Date(0);
  utc.setUTCFullYear(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  utc.setUTCHours(Number(m[4]), Number(m[5]), Number(m[6]) + offset, 0);
  const year = utc.getUTCFullYear();
  if (year < 1 || year > 9999)
    throw new NotLocal(`timestamptz at offset ${formatOffset(offset)} outside years 1-9999 AD`);
  return (
    `${String(year).padStart(4, '0')}-${pad2(utc.getUTCMonth() + 1)}-${pad2(utc.getUTCDate())} ` +
    `${pad2(utc.getUTCHours())}:${pad2(utc.getUTCMinutes())}:${pad2(utc.getUTCSeconds())}${m[7] ?? ''}` +
    formatOffset(offset)
  );
}
