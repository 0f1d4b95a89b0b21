/**
 * SQLite functions over arrays in their stored form (array_out's text,
 * docs/architecture.md "Storage of values"): subscripts and the dimension
 * functions of one-dimensional arrays with the default lower bound 1. A
 * multidimensional array or one with explicit bounds (`[0:1]={…}`) aborts the
 * run (forwarded).
 */
import type Database from 'better-sqlite3';
import { NotLocal } from '../errors.js';
import { parseArrayText } from './pgtypes.js';

export const ArrFn = {
  /** `(kind, array, index)`: array[index] (1-based; NULL outside the array). */
  element: 'outpost_array_element',
  /** `(what, array, dim)`: array_length/array_upper/array_lower of dimension `dim`, or cardinality (dim NULL). */
  dims: 'outpost_array_dims',
} as const;

function elements(arr: unknown, what: string): (string | null)[] {
  if (typeof arr !== 'string') throw new NotLocal(`${what} of an array stored as non-text`);
  return parseArrayText(arr, what);
}

export function registerArrayFunctions(db: Database.Database): void {
  const opts = { deterministic: true, safeIntegers: true } as const;
  db.function(ArrFn.element, opts, (kind: unknown, arr: unknown, index: unknown) => {
    if (arr === null || index === null) return null;
    const items = elements(arr, 'array subscript');
    const i = Number(index);
    const item = i >= 1 && i <= items.length ? items[i - 1] : undefined;
    if (item === undefined || item === null) return null;
    if (kind === 'int') return BigInt(item);
    if (kind === 'bool') return item === 't' ? 1n : 0n;
    return item;
  });
  db.function(ArrFn.dims, opts, (what: unknown, arr: unknown, dim: unknown) => {
    if (arr === null) return null;
    const n = BigInt(elements(arr, String(what)).length);
    if (what === 'cardinality') return n;
    if (dim === null) return null;
    // An empty array has no dimensions; a one-dimensional one only the first.
    if (n === 0n || BigInt(dim as bigint) !== 1n) return null;
    return what === 'array_lower' ? 1n : n;
  });
}
