/**
 * SQLite functions the compiled SQL calls (registered on the reader by the
 * router). Each one computes exactly what the Postgres operator or function
 * would, or throws `NotLocal` where Postgres would raise an error (or where
 * the replica cannot reproduce the value), aborting the local run so the
 * statement is forwarded.
 */
import type Database from 'better-sqlite3';
import { NotLocal } from '../errors.js';
import { integerAverage, intRange, NumericAccumulator, numericKey, timestamptzKey } from './pgtypes.js';

export const SqlFn = {
  notLocal: 'outpost_not_local',
  numericKey: 'outpost_numkey',
  timestamptzKey: 'outpost_tskey',
  like: 'outpost_like',
  ilike: 'outpost_ilike',
  intArith: 'outpost_int_arith',
  intNeg: 'outpost_int_neg',
  intIn: 'outpost_int_in',
  intNarrow: 'outpost_int_narrow',
  and: 'outpost_and',
  intAvg: 'outpost_int_avg',
  /** Aggregate `(direction, key, value)`: the value with the least (-1) or greatest (1) key. */
  extreme: 'outpost_extreme',
  numericSum: 'outpost_numeric_sum',
  numericAvg: 'outpost_numeric_avg',
} as const;

interface Extreme {
  key: unknown;
  value: unknown;
  /** Several values share the extreme key but differ (1.5 / 1.50, -0 / 0). */
  ambiguous: boolean;
}

/** Order of comparable keys: numbers (SQLite REAL/INTEGER) before text, text bytewise (keys are ASCII). */
function compareKeys(a: unknown, b: unknown): number {
  const an = typeof a !== 'string';
  const bn = typeof b !== 'string';
  if (an && !bn) return -1;
  if (!an && bn) return 1;
  if (an) return Number(a) < Number(b) ? -1 : Number(a) > Number(b) ? 1 : 0;
  return (a as string) < (b as string) ? -1 : (a as string) > (b as string) ? 1 : 0;
}

type Int = bigint | null;

function checkRange(v: bigint, bits: number): bigint {
  const [lo, hi] = intRange(bits);
  if (v < lo || v > hi)
    throw new NotLocal(`${bits === 16 ? 'smallint' : bits === 64 ? 'bigint' : 'integer'} out of range`);
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
      if (b === 0n) throw new NotLocal('division by zero');
      return checkRange(a / b, n);
    case '%':
      if (b === 0n) throw new NotLocal('division by zero');
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

function asciiLower(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

/** Tokenise like MatchText would read it; a pattern ending in the escape character is not handled. */
function compilePattern(pattern: string, esc0: string, fold: boolean): Pattern {
  const key = `${fold ? 'i' : 'c'}${esc0}\u0000${pattern}`;
  let p = patterns.get(key);
  if (p) return p;
  if ([...esc0].length > 1) throw new NotLocal('invalid LIKE escape string');
  const chars = [...(fold ? asciiLower(pattern) : pattern)];
  const esc = fold ? asciiLower(esc0) : esc0;
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

/** `text LIKE pattern ESCAPE escape` (case-sensitive), or ILIKE under a C ctype (ASCII folding). */
export function like(text: unknown, pattern: unknown, esc: unknown, fold: boolean): bigint | null {
  if (text === null || pattern === null || esc === null) return null;
  if (typeof text !== 'string' || typeof pattern !== 'string' || typeof esc !== 'string') {
    throw new NotLocal('LIKE on non-text');
  }
  const p = compilePattern(pattern, esc, fold);
  return matchText(codePoints(fold ? asciiLower(text) : text), 0, p, 0) === TRUE ? 1n : 0n;
}

/** Register every function on a (reader) connection. */
export function registerSqlFunctions(db: Database.Database): void {
  const opts = { deterministic: true, safeIntegers: true } as const;
  db.function(SqlFn.notLocal, opts, (reason: unknown) => {
    throw new NotLocal(String(reason));
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
  db.function(SqlFn.like, opts, (t: unknown, p: unknown, e: unknown) => like(t, p, e, false));
  db.function(SqlFn.ilike, opts, (t: unknown, p: unknown, e: unknown) => like(t, p, e, true));
  db.function(SqlFn.intArith, opts, (op: unknown, a: unknown, b: unknown, bits: unknown) =>
    intArith(String(op), a as Int, b as Int, bits as bigint),
  );
  db.function(SqlFn.intNeg, opts, (a: unknown, bits: unknown) =>
    a === null ? null : checkRange(-(a as bigint), Number(bits)),
  );
  db.function(SqlFn.intNarrow, opts, (a: unknown, bits: unknown) =>
    a === null ? null : checkRange(a as bigint, Number(bits)),
  );
  db.function(SqlFn.intIn, opts, (s: unknown, bits: unknown) => {
    if (s === null) return null;
    if (typeof s !== 'string' || !/^[+-]?\d+$/.test(s))
      throw new NotLocal('invalid input syntax for integer');
    return checkRange(BigInt(s), Number(bits));
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
      result: finish,
    });
  };
  numericAgg(SqlFn.numericSum, (acc) => acc.sum());
  numericAgg(SqlFn.numericAvg, (acc) => acc.avg());
  db.function(SqlFn.and, { ...opts, varargs: true }, (...args: unknown[]) => {
    let sawNull = false;
    for (const a of args) {
      if (a === null) sawNull = true;
      else if (a === 0n || a === 0) return 0n;
    }
    return sawNull ? null : 1n;
  });
}
