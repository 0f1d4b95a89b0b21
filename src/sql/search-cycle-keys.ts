/**
 * The columns WITH RECURSIVE's SEARCH and CYCLE clauses add (Postgres 14+,
 * rewriteSearchAndCycle.c): `ROW(cols)` records of integer columns, kept in
 * SQLite as a key text that sorts and compares like the Postgres value and
 * is printed only on output.
 *
 * One record is its fields in order, each 17 characters: `0` and the value
 * plus 2^63 in 16 hex digits, or `1` and 16 zeros for NULL, so keys compare
 * (SQLite BINARY) as record_cmp compares records (field by field, NULL after
 * every value) and equal keys are equal records (record_eq takes two NULLs
 * as equal). An array of records (`record[]`: a DEPTH FIRST sequence, a
 * CYCLE path) is the concatenation of its elements' keys: with every element
 * of one width, that compares as array_cmp does (element by element, a
 * prefix first). A BREADTH FIRST sequence is one record whose first field is
 * the depth (int8).
 */
import type Database from 'better-sqlite3';
import { NotLocal } from '../errors.js';

export const SearchCycleFn = {
  /** `(v...)`: the key of ROW(v...) (also a one-element array of it). */
  row: 'outpost_sc_row',
  /** `(seq, v...)`: BREADTH FIRST's next sequence ROW(depth + 1, v...). */
  next: 'outpost_sc_next',
  /** `(path, v...)`: whether ROW(v...) = ANY(path). */
  has: 'outpost_sc_has',
  /** `(key, fields, array)`: record_out (array 0) or array_out of records (array 1) of a key. */
  out: 'outpost_sc_out',
} as const;

const FIELD = 17;
const BIAS = 1n << 63n;
const MAX = (1n << 63n) - 1n;

function field(v: unknown): string {
  if (v === null) return `1${'0'.repeat(16)}`;
  let n: bigint;
  if (typeof v === 'bigint') n = v;
  else if (typeof v === 'number' && Number.isSafeInteger(v)) n = BigInt(v);
  // Only integer columns are keyed; anything else is not what the compiler checked.
  else throw new NotLocal('SEARCH/CYCLE column value is not an integer');
  if (n > MAX || n < -BIAS) throw new NotLocal('SEARCH/CYCLE column value out of int8 range');
  return `0${(n + BIAS).toString(16).padStart(16, '0')}`;
}

export function rowKey(values: readonly unknown[]): string {
  return values.map(field).join('');
}

function fieldText(key: string, at: number): string | null {
  if (key[at] === '1') return null;
  return (BigInt(`0x${key.slice(at + 1, at + FIELD)}`) - BIAS).toString();
}

/** record_out of a record of integers: `(1,2)`, a NULL field empty. */
function recordText(key: string, at: number, fields: number): string {
  const parts: string[] = [];
  for (let i = 0; i < fields; i++) parts.push(fieldText(key, at + i * FIELD) ?? '');
  return `(${parts.join(',')})`;
}

/**
 * array_out of records of integers: an element is double-quoted when it
 * holds the delimiter (a record of two or more fields); integers and
 * parentheses need no escaping inside the quotes.
 */
export function searchCycleText(key: string, fields: number, array: boolean): string {
  const width = fields * FIELD;
  if (width === 0 || key.length % width !== 0) throw new NotLocal('SEARCH/CYCLE key of another width');
  if (!array) return recordText(key, 0, fields);
  const elems: string[] = [];
  for (let at = 0; at < key.length; at += width) {
    const t = recordText(key, at, fields);
    elems.push(t.includes(',') ? `"${t}"` : t);
  }
  return `{${elems.join(',')}}`;
}

export function registerSearchCycleFunctions(db: Database.Database): void {
  const opts = { deterministic: true, varargs: true } as const;
  db.function(SearchCycleFn.row, opts, (...values: unknown[]) => rowKey(values));
  db.function(SearchCycleFn.next, opts, (seq: unknown, ...values: unknown[]) => {
    const depth = BigInt(fieldText(String(seq), 0) ?? '0');
    return rowKey([depth + 1n, ...values]);
  });
  db.function(SearchCycleFn.has, opts, (path: unknown, ...values: unknown[]) => {
    const p = String(path);
    const k = rowKey(values);
    for (let at = 0; at < p.length; at += k.length) if (p.startsWith(k, at)) return 1;
    return 0;
  });
  db.function(SearchCycleFn.out, { deterministic: true }, (key: unknown, fields: unknown, array: unknown) =>
    key === null ? null : searchCycleText(String(key), Number(fields), Number(array) === 1),
  );
}
