/**
 * SQLite functions the compiled SQL calls (registered on the reader by the
 * router). Each one computes exactly what the Postgres operator or function
 * would, or throws `NotLocal` where Postgres would raise an error (or where
 * the replica cannot reproduce the value), aborting the local run so the
 * statement is forwarded.
 */

import type Database from 'better-sqlite3';
import { NotLocal } from '../errors.js';
import { registerArrayFunctions } from './array-functions.js';
import { formatArray, parseArray, quoteElement } from './array-text.js';
import { registerBitFunctions } from './bit-strings.js';
import { registerByteaFunctions } from './bytea.js';
import { ASCII_CASE_MAP, type CaseMap } from './case-map.js';
import { registerDatetimeFunctions } from './datetime-functions.js';
import { divisionByZero, intRangeError } from './exec-errors.js';
import { registerFloatFunctions } from './float-ops.js';
import { registerFormattingFunctions } from './formatting-functions.js';
import { registerJsonFunctions } from './json-functions.js';
import { registerLateralFunctions } from './lateral-functions.js';
import { registerMakeIntervalFunctions } from './make-interval.js';
import { registerMoneyFunctions } from './money.js';
import { registerNumericFunctions } from './numeric-functions.js';
import { registerNumericMath } from './numeric-math.js';
import {
  dateAddDays,
  dateDiff,
  inputValue,
  integerAverage,
  intRange,
  NumericAccumulator,
  nameInput,
  numericArith,
  numericKey,
  numericRound,
  timestamptzKey,
} from './pgtypes.js';
import { registerRecordFunctions } from './record.js';
import { registerSearchCycleFunctions } from './search-cycle-keys.js';
import { registerSrfFunctions } from './srf-functions.js';
import { registerStringFunctions } from './string-functions.js';
import { registerTextFunctions } from './text-functions.js';
import { registerBucketFunctions } from './width-bucket.js';
import { registerRangeKeyFunction } from './window-range.js';

export const SqlFn = {
  notLocal: 'outpost_not_local',
  numericKey: 'outpost_numkey',
  timestamptzKey: 'outpost_tskey',
  like: 'outpost_like',
  ilike: 'outpost_ilike',
  /** ILIKE under the default collation's learned case map (src/sql/case-map.ts). */
  ilikeMapped: 'outpost_ilike_mapped',
  /** lower()/upper() under the default collation's learned case map. */
  lowerMapped: 'outpost_lower_mapped',
  upperMapped: 'outpost_upper_mapped',
  intArith: 'outpost_int_arith',
  intNeg: 'outpost_int_neg',
  intIn: 'outpost_int_in',
  /**
   * `(type, text, server_version_num)`: a text value cast to bool, float4,
   * float8 or numeric by the type's input function (pgtypes.ts inputValue,
   * which words its errors as Postgres does); any input it does not read
   * exactly aborts the run (forwarded).
   */
  textIn: 'outpost_text_in',
  /** `(text)`: text_name, the text cut to a name's 63 bytes at a character boundary. */
  nameIn: 'outpost_name_in',
  /** `(text[] as stored)`: the array coerced to name[], each element through text_name. */
  nameArray: 'outpost_name_array',
  intNarrow: 'outpost_int_narrow',
  and: 'outpost_and',
  intAvg: 'outpost_int_avg',
  /** Aggregate `(direction, key, value)`: the value with the least (-1) or greatest (1) key. */
  extreme: 'outpost_extreme',
  /** Aggregate `(direction, numeric)`: `extreme` keyed by `numericKey` of the value itself. */
  extremeNumeric: 'outpost_extreme_numeric',
  numericSum: 'outpost_numeric_sum',
  numericAvg: 'outpost_numeric_avg',
  /** A stored float4 as the exact float4 value (a double), -0 as 0.0, NaN kept as the text 'NaN'. */
  float4Value: 'outpost_float4_value',
  numericArith: 'outpost_numeric_arith',
  numericRound: 'outpost_numeric_round',
  /** `(direction, key1, value1, key2, value2, ...)`: GREATEST (1) / LEAST (-1), the first of equal keys. */
  minMax: 'outpost_min_max',
  /** Aggregate `(kind, spec, value, delimiter, key...)`: string_agg/array_agg over rows sorted by the keys. */
  orderedAgg: 'outpost_ordered_agg',
  /** `(date, days)`: date + integer. */
  dateAdd: 'outpost_date_add',
  /** `(date, date)`: date - date in days. */
  dateDiff: 'outpost_date_diff',
  /** `(jsonb text, 's<key>' | 'i<index>', asText)`: jsonb -> / ->>. */
  jsonbGet: 'outpost_jsonb_get',
  /** Aggregate: 1 when every value of the group is identical (Postgres would output any of them), else aborts. */
  same: 'outpost_same',
  /** `(kind, dims, element...)`: ARRAY[...] as array_out prints it (kind: int, text, bool; dims: '2,3'). */
  arrayText: 'outpost_array_text',
  /** `()`: restarts the count of rows recursive WITH queries added (a precheck, run before each statement). */
  recursionReset: 'outpost_recursion_reset',
  /** `(budget)`: counts one row a recursive term adds; past the budget the run aborts (forwarded). */
  recursionRow: 'outpost_recursion_row',
  /** Aggregate: the only value of a scalar subquery's rows (NULL for none; more than one aborts). */
  single: 'outpost_single',
} as const;

interface Extreme {
  key: unknown;
  value: unknown;
  /** Several values share the extreme key but differ (1.5 / 1.50, -0 / 0). */
  ambiguous: boolean;
}

/** Order of comparable keys: numbers (SQLite REAL/INTEGER) before text, text bytewise (keys are ASCII). */
function compareKeys(a: unknown, b: unknown): number {
  return compareComparable(a, b);
}

/**
 * Order of comparable values (the `comparable()` forms of the compiler):
 * numbers before text, numbers by value, text by UTF-8 bytes (C collation).
 */
export function compareComparable(a: unknown, b: unknown): number {
  const an = typeof a !== 'string';
  const bn = typeof b !== 'string';
  if (an && !bn) return -1;
  if (!an && bn) return 1;
  if (an) {
    // bigint and number compare exactly with < and >.
    const x = a as number | bigint;
    const y = b as number | bigint;
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return compareUtf8(a as string, b as string);
}

/**
 * Order of two strings by their UTF-8 bytes without encoding them (min/max
 * and sorts call it per row: two Buffers per call cost more than the rest of
 * the step). Below U+D800 UTF-16 code units order like code points, and code
 * points like UTF-8 bytes; a first difference at or above it (surrogates,
 * U+E000-U+FFFF) is decided on the bytes.
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x < 0xd800 && y < 0xd800) return x < y ? -1 : 1;
    // From the code unit before (equal in both), so a pair differing in its low half stays whole.
    const from = Math.max(0, i - 1);
    return Buffer.compare(Buffer.from(a.slice(from), 'utf8'), Buffer.from(b.slice(from), 'utf8'));
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

interface OrderedRow {
  keys: unknown[];
  value: unknown;
  delim: unknown;
}

interface OrderedState {
  kind: string;
  spec: string[];
  rows: OrderedRow[];
  /** DISTINCT: equal rows (value and delimiter) kept once. */
  distinct: boolean;
}

/** array_out quoting of one text element. */
export function arrayElement(v: string): string {
  // array_isspace: exactly these six (not JS's Unicode \s).
  if (v === '' || /^null$/i.test(v) || /[{}",\\ \t\n\r\v\f]/.test(v))
    return `"${v.replace(/["\\]/g, (m) => `\\${m}`)}"`;
  return v;
}

/** array_out of the elements (row-major) of an array of dimensions `dims` ('2,3'). */
function arrayText(kind: string, dims: string, elems: unknown[]): string {
  const texts = elems.map((v) => {
    if (v === null) return 'NULL';
    if (kind === 'int') return String(v);
    if (kind === 'bool') return v === 1n || v === 1 ? 't' : 'f';
    if (typeof v !== 'string') throw new NotLocal('text element stored as non-text');
    return arrayElement(v);
  });
  const sizes = dims.split(',').map(Number);
  let pos = 0;
  const build = (d: number): string => {
    const n = sizes[d] as number;
    const parts: string[] = [];
    for (let i = 0; i < n; i++) parts.push(d + 1 < sizes.length ? build(d + 1) : (texts[pos++] as string));
    return `{${parts.join(',')}}`;
  };
  return build(0);
}

function finishOrdered(st: OrderedState): string | null {
  const cmp = (x: OrderedRow, y: OrderedRow): number => {
    for (const [i, spec] of st.spec.entries()) {
      const a = x.keys[i];
      const b = y.keys[i];
      if (a === null && b === null) continue;
      const nullsFirst = spec[1] === 'F';
      if (a === null) return nullsFirst ? -1 : 1;
      if (b === null) return nullsFirst ? 1 : -1;
      const c = compareComparable(a, b);
      if (c !== 0) return spec[0] === 'D' ? -c : c;
    }
    return 0;
  };
  const rows = st.kind === 'string' ? st.rows.filter((r) => r.value !== null) : st.rows;
  if (rows.length === 0) return null;
  const sorted = [...rows].sort(cmp);
  for (let i = 1; i < sorted.length; i++) {
    const p = sorted[i - 1] as OrderedRow;
    const q = sorted[i] as OrderedRow;
    if (cmp(p, q) === 0 && (p.value !== q.value || p.delim !== q.delim)) {
      throw new NotLocal('aggregate ORDER BY leaves rows in an arbitrary order');
    }
  }
  if (st.distinct) {
    // Sorted with the ties checked above: duplicates are neighbours.
    for (let i = sorted.length - 1; i > 0; i--) {
      const p = sorted[i - 1] as OrderedRow;
      const q = sorted[i] as OrderedRow;
      if (p.value === q.value && p.delim === q.delim) sorted.splice(i, 1);
    }
  }
  if (st.kind === 'string') {
    let out = '';
    for (const [i, r] of sorted.entries()) {
      if (i > 0 && r.delim !== null) out += String(r.delim);
      out += String(r.value);
    }
    return out;
  }
  const elems = sorted.map((r) => {
    if (r.value === null) return 'NULL';
    if (st.kind === 'int') return String(r.value);
    if (typeof r.value !== 'string') throw new NotLocal('text element stored as non-text');
    return arrayElement(r.value);
  });
  return `{${elems.join(',')}}`;
}

// ---- jsonb navigation ----------------------------------------------------

/** End index (exclusive) of the JSON value starting at `i` (no leading whitespace). */
function jsonValueEnd(t: string, i: number): number {
  const ch = t[i];
  if (ch === '"') {
    let j = i + 1;
    while (j < t.length && t[j] !== '"') j += t[j] === '\\' ? 2 : 1;
    return j + 1;
  }
  if (ch === '{' || ch === '[') {
    let depth = 0;
    let j = i;
    while (j < t.length) {
      const c = t[j];
      if (c === '"') {
        j = jsonValueEnd(t, j);
        continue;
      }
      if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') {
        depth--;
        if (depth === 0) return j + 1;
      }
      j++;
    }
    throw new NotLocal('malformed jsonb text');
  }
  let j = i;
  while (j < t.length && !',]} '.includes(t[j] as string)) j++;
  return j;
}

function skipSpaces(t: string, i: number): number {
  let j = i;
  while (t[j] === ' ') j++;
  return j;
}

/** The elements (raw texts) of a jsonb array or the [key, raw value] pairs of an object. */
export function jsonChildren(t: string): { array: string[] } | { object: [string, string][] } | undefined {
  const open = t[0];
  if (open !== '[' && open !== '{') return undefined;
  const items: string[] = [];
  const pairs: [string, string][] = [];
  let i = skipSpaces(t, 1);
  if (t[i] === ']' || t[i] === '}') return open === '[' ? { array: items } : { object: pairs };
  for (;;) {
    if (open === '{') {
      const kEnd = jsonValueEnd(t, i);
      const key = JSON.parse(t.slice(i, kEnd)) as string;
      i = skipSpaces(t, kEnd);
      if (t[i] !== ':') throw new NotLocal('malformed jsonb text');
      i = skipSpaces(t, i + 1);
      const vEnd = jsonValueEnd(t, i);
      pairs.push([key, t.slice(i, vEnd)]);
      i = skipSpaces(t, vEnd);
    } else {
      const vEnd = jsonValueEnd(t, i);
      items.push(t.slice(i, vEnd));
      i = skipSpaces(t, vEnd);
    }
    if (t[i] === ',') i = skipSpaces(t, i + 1);
    else break;
  }
  return open === '[' ? { array: items } : { object: pairs };
}

/** jsonb_object_field(_text) / jsonb_array_element(_text) on jsonb's output text. */
export function jsonbGet(stored: string, key: string, asText: boolean): string | null {
  // A scalar jsonb is stored as a one-element "raw scalar" array: index 0
  // (or -1) reaches it (checked against Postgres).
  const children = jsonChildren(stored) ?? { array: [stored] };
  let raw: string | undefined;
  if (key.startsWith('s')) {
    if (!('object' in children)) return null;
    const want = key.slice(1);
    raw = children.object.find(([k]) => k === want)?.[1];
  } else {
    if (!('array' in children)) return null;
    let n = Number(key.slice(1));
    if (n < 0) n += children.array.length;
    raw = n >= 0 ? children.array[n] : undefined;
  }
  if (raw === undefined) return null;
  if (!asText) return raw;
  if (raw === 'null') return null;
  if (raw.startsWith('"')) return JSON.parse(raw) as string;
  return raw;
}

type Int = bigint | null;

function checkRange(v: bigint, bits: number): bigint {
  const [lo, hi] = intRange(bits);
  if (v < lo || v > hi) throw intRangeError(bits);
  return v;
}

/** int2/int4/int8 +, -, *, /, % with Postgres's overflow and division-by-zero errors. */
export function intArith(op: string, a: Int, b: Int, bits: bigint | number): Int {
  if (a === null || b === null) return null;
  const n = Number(bits);
  switch (op) {
    case '+':
      return checkRange(a + b, n);
    case '-':
      return checkRange(a - b, n);
    case '*':
      return checkRange(a * b, n);
    case '/':
      if (b === 0n) throw divisionByZero();
      return checkRange(a / b, n);
    case '%':
      if (b === 0n) throw divisionByZero();
      return checkRange(a % b, n);
  }
  throw new NotLocal(`operator ${op}`);
}

// ---- LIKE ----------------------------------------------------------------

/** A LIKE pattern: code points to match literally, `_` (-1) or `%` (-2). */
type Pattern = number[];
const ANY1 = -1;
const ANYN = -2;
const patterns = new Map<string, Pattern>();

/** How ILIKE folds case: not at all (LIKE), ASCII only (C ctype), or by the learned case map. */
export type Fold = 'none' | 'ascii' | 'mapped';

/** The default collation's learned lower(), set by `registerSqlFunctions` (one upstream per process). */
let mappedLower: ((s: string) => string) | undefined;

function folded(s: string, fold: Fold): string {
  if (fold === 'none') return s;
  if (fold === 'ascii') return ASCII_CASE_MAP.lower(s);
  if (!mappedLower) throw new NotLocal('case map of the database not learned');
  return mappedLower(s);
}

/** Tokenise like MatchText would read it; a pattern ending in the escape character is not handled. */
function compilePattern(pattern: string, esc0: string, fold: Fold): Pattern {
  const key = `${fold}\u0000${esc0}\u0000${pattern}`;
  let p = patterns.get(key);
  if (p) return p;
  if ([...esc0].length > 1) throw new NotLocal('invalid LIKE escape string');
  // Postgres lowers the whole pattern, escape characters included, then matches (Generic_Text_IC_like).
  const chars = [...folded(pattern, fold)];
  const esc = folded(esc0, fold);
  p = [];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] as string;
    if (esc !== '' && c === esc) {
      const next = chars[++i];
      if (next === undefined) throw new NotLocal('LIKE pattern ends with the escape character');
      p.push(next.codePointAt(0) as number);
    } else if (c === '%') {
      p.push(ANYN);
    } else if (c === '_') {
      p.push(ANY1);
    } else {
      p.push(c.codePointAt(0) as number);
    }
  }
  if (patterns.size > 1000) patterns.clear();
  patterns.set(key, p);
  return p;
}

const TRUE = 1;
const FALSE = 0;
const ABORT = -1;

/** Postgres's MatchText (src/backend/utils/adt/like_match.c) over code points. */
function matchText(t: number[], ti0: number, p: Pattern, pi0: number): number {
  let ti = ti0;
  let pi = pi0;
  while (ti < t.length && pi < p.length) {
    const tok = p[pi] as number;
    if (tok === ANYN) {
      pi++;
      while (pi < p.length) {
        if (p[pi] === ANYN) pi++;
        else if (p[pi] === ANY1) {
          if (ti >= t.length) return ABORT;
          ti++;
          pi++;
        } else break;
      }
      if (pi >= p.length) return TRUE;
      const first = p[pi] as number;
      while (ti < t.length) {
        if (t[ti] === first) {
          const r = matchText(t, ti, p, pi);
          if (r !== FALSE) return r;
        }
        ti++;
      }
      return ABORT;
    }
    if (tok !== ANY1 && tok !== t[ti]) return FALSE;
    ti++;
    pi++;
  }
  if (ti < t.length) return FALSE;
  while (pi < p.length && p[pi] === ANYN) pi++;
  return pi >= p.length ? TRUE : ABORT;
}

function codePoints(s: string): number[] {
  const out: number[] = [];
  for (const c of s) out.push(c.codePointAt(0) as number);
  return out;
}

/** `text LIKE pattern ESCAPE escape` (fold 'none'), or ILIKE: LIKE over the lower() of both sides. */
export function like(text: unknown, pattern: unknown, esc: unknown, fold: Fold): bigint | null {
  if (text === null || pattern === null || esc === null) return null;
  if (typeof text !== 'string' || typeof pattern !== 'string' || typeof esc !== 'string') {
    throw new NotLocal('LIKE on non-text');
  }
  const p = compilePattern(pattern, esc, fold);
  return matchText(codePoints(folded(text, fold)), 0, p, 0) === TRUE ? 1n : 0n;
}

/**
 * Register every function on a (reader) connection. `caseMap`: the default
 * collation's lower()/upper() learned from upstream, when its ctype is not C
 * (the compiler only calls the mapped functions when the router has it).
 */
/** Rows added by recursive WITH queries since the running statement's prechecks. */
let recursionRows = 0;

export function registerSqlFunctions(db: Database.Database, caseMap?: CaseMap): void {
  registerJsonFunctions(db);
  registerDatetimeFunctions(db);
  registerRangeKeyFunction(db);
  registerFormattingFunctions(db);
  registerSrfFunctions(db);
  registerLateralFunctions(db);
  registerArrayFunctions(db);
  registerRecordFunctions(db);
  registerSearchCycleFunctions(db);
  registerStringFunctions(db);
  registerNumericFunctions(db);
  registerNumericMath(db);
  registerTextFunctions(db);
  registerFloatFunctions(db);
  registerBitFunctions(db);
  registerMoneyFunctions(db);
  registerBucketFunctions(db);
  registerMakeIntervalFunctions(db);
  registerByteaFunctions(db);
  const opts = { deterministic: true, safeIntegers: true } as const;
  if (caseMap) {
    mappedLower = caseMap.lower;
    patterns.clear();
  }
  const mapped = (s: unknown, how: 'lower' | 'upper'): string | null => {
    if (s === null) return null;
    if (typeof s !== 'string') throw new NotLocal(`${how}() of non-text`);
    if (!caseMap) throw new NotLocal('case map of the database not learned');
    return caseMap[how](s);
  };
  db.function(SqlFn.lowerMapped, opts, (s: unknown) => mapped(s, 'lower'));
  db.function(SqlFn.upperMapped, opts, (s: unknown) => mapped(s, 'upper'));
  db.function(SqlFn.ilikeMapped, opts, (t: unknown, p: unknown, e: unknown) => like(t, p, e, 'mapped'));
  db.function(SqlFn.notLocal, opts, (reason: unknown) => {
    throw new NotLocal(String(reason));
  });
  db.function(
    SqlFn.arrayText,
    { ...opts, varargs: true },
    (kind: unknown, dims: unknown, ...elems: unknown[]) => arrayText(String(kind), String(dims), elems),
  );
  // One count per process: a connection runs one statement at a time, and
  // every statement with a recursive WITH query restarts it in its prechecks.
  db.function(SqlFn.recursionReset, { deterministic: false }, () => {
    recursionRows = 0;
    return 1;
  });
  db.function(SqlFn.recursionRow, { deterministic: false, safeIntegers: true }, (budget: unknown) => {
    recursionRows++;
    if (recursionRows > Number(budget)) throw new NotLocal('recursive WITH query adds too many rows');
    return 1;
  });
  db.function(SqlFn.numericKey, opts, (v: unknown) => {
    if (v === null) return null;
    if (typeof v !== 'string' && typeof v !== 'bigint') throw new NotLocal('numeric stored as non-text');
    return numericKey(v);
  });
  db.function(SqlFn.timestamptzKey, opts, (v: unknown) => {
    if (v === null) return null;
    if (typeof v !== 'string') throw new NotLocal('timestamptz stored as non-text');
    return timestamptzKey(v);
  });
  db.function(SqlFn.like, opts, (t: unknown, p: unknown, e: unknown) => like(t, p, e, 'none'));
  db.function(SqlFn.ilike, opts, (t: unknown, p: unknown, e: unknown) => like(t, p, e, 'ascii'));
  db.function(SqlFn.intArith, opts, (op: unknown, a: unknown, b: unknown, bits: unknown) =>
    intArith(String(op), a as Int, b as Int, bits as bigint),
  );
  db.function(SqlFn.intNeg, opts, (a: unknown, bits: unknown) =>
    a === null ? null : checkRange(-(a as bigint), Number(bits)),
  );
  db.function(SqlFn.intNarrow, opts, (a: unknown, bits: unknown) =>
    a === null ? null : checkRange(a as bigint, Number(bits)),
  );
  db.function(SqlFn.nameIn, opts, (s: unknown) => {
    if (s === null) return null;
    if (typeof s !== 'string') throw new NotLocal('name of a non-text stored value');
    return nameInput(s);
  });
  db.function(SqlFn.nameArray, opts, (s: unknown) => {
    if (s === null) return null;
    if (typeof s !== 'string') throw new NotLocal('name[] of a non-text stored value');
    const v = parseArray(s, 'name[]');
    return formatArray({ ...v, items: v.items.map((i) => (i === null ? null : nameInput(i))) }, quoteElement);
  });
  db.function(SqlFn.intIn, opts, (s: unknown, bits: unknown) => {
    if (s === null) return null;
    if (typeof s !== 'string' || !/^[+-]?\d+$/.test(s))
      throw new NotLocal('invalid input syntax for integer');
    // int4in words its range error otherwise (value "..." is out of range for type integer).
    const v = BigInt(s);
    const [lo, hi] = intRange(Number(bits));
    if (v < lo || v > hi) throw new NotLocal('integer text out of range');
    return v;
  });
  db.function(SqlFn.textIn, opts, (type: unknown, s: unknown, ver: unknown) => {
    if (s === null) return null;
    if (typeof s !== 'string') throw new NotLocal('cast of a non-text stored value');
    const v = inputValue(Number(type), s, 'cast from text', Number(ver));
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'bigint')
      throw new NotLocal('cast from text: unexpected stored form');
    return v;
  });
  db.function(SqlFn.intAvg, opts, (sum: unknown, count: unknown) => {
    if (count === 0n || count === 0) return null;
    if (typeof sum !== 'bigint' || typeof count !== 'bigint') throw new NotLocal('avg: non-integer sum');
    return integerAverage(sum, count);
  });
  // min()/max() of types whose comparison key differs from the value. Postgres
  // keeps the later of equal values (numeric_smaller, float8smaller, ...), so
  // which one wins depends on the scan order: equal keys with different values
  // are not local.
  db.aggregate(SqlFn.extreme, {
    safeIntegers: true,
    deterministic: true,
    start: (): Extreme => ({ key: null, value: null, ambiguous: false }),
    step: ((st: Extreme, dir: unknown, key: unknown, value: unknown): Extreme => {
      if (key === null) return st;
      if (st.key === null) return { key, value, ambiguous: false };
      const c = compareKeys(key, st.key) * Number(dir);
      if (c > 0) return { key, value, ambiguous: false };
      if (c === 0 && value !== st.value) st.ambiguous = true;
      return st;
    }) as unknown as (total: Extreme, next: unknown) => Extreme,
    result: (st: Extreme) => {
      if (st.ambiguous) throw new NotLocal('min/max over equal values of different text');
      return st.value as string | number | bigint | null;
    },
  });
  db.aggregate(SqlFn.extremeNumeric, {
    safeIntegers: true,
    deterministic: true,
    start: (): Extreme => ({ key: null, value: null, ambiguous: false }),
    step: ((st: Extreme, dir: unknown, value: unknown): Extreme => {
      if (value === null) return st;
      if (typeof value !== 'string' && typeof value !== 'bigint') {
        throw new NotLocal('numeric stored as non-text');
      }
      const key = numericKey(value);
      if (st.key === null) return { key, value, ambiguous: false };
      const c = compareKeys(key, st.key) * Number(dir);
      if (c > 0) return { key, value, ambiguous: false };
      if (c === 0 && value !== st.value) st.ambiguous = true;
      return st;
    }) as unknown as (total: Extreme, next: unknown) => Extreme,
    result: (st: Extreme) => {
      if (st.ambiguous) throw new NotLocal('min/max over equal values of different text');
      return st.value as string | bigint | null;
    },
  });
  const numericAgg = (name: string, finish: (acc: NumericAccumulator) => string | null): void => {
    db.aggregate(name, {
      deterministic: true,
      start: () => new NumericAccumulator(),
      step: (acc: NumericAccumulator, v: unknown) => {
        if (v === null) return acc;
        if (typeof v !== 'string') throw new NotLocal('numeric stored as non-text');
        acc.add(v);
        return acc;
      },
      // Window frames that shrink (SQLite requires an inverse for any window use).
      inverse: (acc: NumericAccumulator, v: unknown) => {
        if (v === null) return acc;
        if (typeof v !== 'string') throw new NotLocal('numeric stored as non-text');
        acc.remove(v);
        return acc;
      },
      result: finish,
    });
  };
  numericAgg(SqlFn.numericSum, (acc) => acc.sum());
  numericAgg(SqlFn.numericAvg, (acc) => acc.avg());
  const numericText = (v: unknown): string => {
    if (typeof v === 'string') return v;
    if (typeof v === 'bigint') return v.toString();
    throw new NotLocal('numeric stored as non-text');
  };
  db.function(SqlFn.numericArith, opts, (op: unknown, a: unknown, b: unknown) =>
    a === null || b === null ? null : numericArith(String(op), numericText(a), numericText(b)),
  );
  db.function(SqlFn.numericRound, opts, (a: unknown, scale: unknown) =>
    a === null ? null : numericRound(numericText(a), Number(scale)),
  );
  const dateText = (v: unknown): string => {
    if (typeof v !== 'string') throw new NotLocal('date stored as non-text');
    return v;
  };
  db.function(SqlFn.dateAdd, opts, (d: unknown, n: unknown) =>
    d === null || n === null ? null : dateAddDays(dateText(d), n as bigint),
  );
  db.function(SqlFn.dateDiff, opts, (a: unknown, b: unknown) =>
    a === null || b === null ? null : dateDiff(dateText(a), dateText(b)),
  );
  db.function(SqlFn.jsonbGet, opts, (v: unknown, key: unknown, asText: unknown) => {
    if (v === null || key === null) return null;
    if (typeof v !== 'string') throw new NotLocal('jsonb stored as non-text');
    return jsonbGet(v, String(key), asText === 1n || asText === 1);
  });
  db.function(SqlFn.minMax, { ...opts, varargs: true }, (dir: unknown, ...pairs: unknown[]) => {
    let key: unknown = null;
    let value: unknown = null;
    for (let i = 0; i + 1 < pairs.length; i += 2) {
      const k = pairs[i];
      if (k === null || k === undefined) continue;
      if (key === null || compareComparable(k, key) * Number(dir) > 0) {
        key = k;
        value = pairs[i + 1];
      }
    }
    return value as string | number | bigint | null;
  });
  db.aggregate(SqlFn.orderedAgg, {
    safeIntegers: true,
    varargs: true,
    start: () => null,
    step: ((
      st: OrderedState | null,
      kind: unknown,
      spec: unknown,
      value: unknown,
      delim: unknown,
      ...keys: unknown[]
    ) => {
      const text = String(spec);
      const distinct = text.startsWith('U|');
      const state = st ?? {
        kind: String(kind),
        spec: (distinct ? text.slice(2) : text).split(','),
        rows: [],
        distinct,
      };
      state.rows.push({ keys, value, delim });
      return state;
    }) as unknown as (total: OrderedState | null, next: unknown) => OrderedState | null,
    result: (st: OrderedState | null) => (st ? finishOrdered(st) : null),
  });
  db.aggregate(SqlFn.same, {
    safeIntegers: true,
    start: (): { seen: boolean; v: unknown } => ({ seen: false, v: null }),
    step: ((st: { seen: boolean; v: unknown }, v: unknown) => {
      if (!st.seen) return { seen: true, v };
      if (v !== st.v) throw new NotLocal('equal values of different text in one group');
      return st;
    }) as unknown as (total: { seen: boolean; v: unknown }, next: unknown) => { seen: boolean; v: unknown },
    result: () => 1,
  });
  db.aggregate(SqlFn.single, {
    safeIntegers: true,
    start: (): { n: number; v: unknown } => ({ n: 0, v: null }),
    step: ((st: { n: number; v: unknown }, v: unknown) => {
      st.n++;
      // Postgres: "more than one row returned by a subquery used as an expression".
      if (st.n > 1) throw new NotLocal('more than one row returned by a subquery used as an expression');
      st.v = v;
      return st;
    }) as unknown as (total: { n: number; v: unknown }, next: unknown) => { n: number; v: unknown },
    result: (st: { n: number; v: unknown }) => st.v as string | number | bigint | null,
  });
  db.function(SqlFn.float4Value, opts, (v: unknown) => {
    if (v === null) return null;
    if (v === 'NaN') return 'NaN';
    if (v === '-0') return 0;
    if (typeof v === 'number') return Math.fround(v);
    if (typeof v === 'bigint') return Math.fround(Number(v));
    throw new NotLocal('float4 stored as text');
  });
  db.function(SqlFn.and, { ...opts, varargs: true }, (...args: unknown[]) => {
    let sawNull = false;
    for (const a of args) {
      if (a === null) sawNull = true;
      else if (a === 0n || a === 0) return 0n;
    }
    return sawNull ? null : 1n;
  });
}
