/**
 * SQLite functions over arrays in their stored form (array_out's text,
 * docs/architecture.md "Storage of values"): subscripts and the dimension
 * functions of arrays of any dimensions and bounds (array-text.ts); the
 * others read one-dimensional arrays with the default lower bound 1, and a
 * multidimensional array or one with explicit bounds (`[0:1]={…}`) aborts
 * their run (forwarded).
 */
import type Database from 'better-sqlite3';
import { NotLocal } from '../errors.js';
import { type ArrayValue, formatArray, parseArray } from './array-text.js';
import { arrayElement } from './functions.js';
import { parseArrayText } from './pgtypes.js';

export const ArrFn = {
  /** `(kind, array, index, ...)`: array[i][j]... (NULL outside the array or for another number of subscripts). */
  element: 'outpost_array_element',
  /** `(mask, array, bound, ...)`: array[l:u][l:u]...; `mask` says per bound whether it was written (compile/arrays.ts). */
  slice: 'outpost_array_slice',
  /** `(what, array, dim)`: array_length/array_upper/array_lower of dimension `dim`; cardinality, array_ndims, array_dims (dim NULL). */
  dims: 'outpost_array_dims',
  /** `(text, delimiter, null string)`: string_to_array (text[] as array_out prints it). */
  stringToArray: 'outpost_string_to_array',
  /** `(first, second, matchall)`: array_contain_compare on element texts (compile/arrays.ts `arrayContainment`). */
  contains: 'outpost_array_contains',
  /** `(what, kind, array, value, replacement)`: array_position, array_positions, array_remove, array_replace (compile/array-search.ts). */
  search: 'outpost_array_search',
  /** `(kind, value, dims, lower bounds)`: array_fill. */
  fill: 'outpost_array_fill',
  /** `(array, delimiter, null string)`: array_to_string. */
  toString: 'outpost_array_to_string',
  /** `(kind, mode, left, right)`: array || array (mode 'cat'), array || element ('append'), element || array ('prepend'). */
  concat: 'outpost_array_concat',
} as const;

/** array_out of one-dimensional elements (texts as parsed, NULL as NULL). */
function arrayOut(kind: string, items: (string | null)[]): string {
  return `{${items.map((e) => (e === null ? 'NULL' : kind === 'text' ? arrayElement(e) : e)).join(',')}}`;
}

/** An element's stored value as the text array_out prints (before quoting). */
function elementText(kind: string, v: unknown): string | null {
  if (v === null) return null;
  if (kind === 'int') return String(v);
  if (kind === 'bool') return v === 1n || v === 1 ? 't' : 'f';
  if (typeof v !== 'string') throw new NotLocal('text element stored as non-text');
  return v;
}

/**
 * text_to_array's split (Postgres 14+): no elements for '', each character
 * for a NULL delimiter, the whole text for an empty one, else the pieces
 * between delimiter occurrences; a piece equal to `nullStr` becomes NULL.
 */
export function splitText(text: string, delim: string | null, nullStr: string | null): (string | null)[] {
  if (text === '') return [];
  let parts: string[];
  if (delim === null) parts = [...text];
  else if (delim === '') parts = [text];
  else parts = text.split(delim);
  return parts.map((p) => (nullStr !== null && p === nullStr ? null : p));
}

function textOrNull(v: unknown, what: string): string | null {
  if (v === null) return null;
  if (typeof v !== 'string') throw new NotLocal(`${what} of a non-text value`);
  return v;
}

function elements(arr: unknown, what: string): (string | null)[] {
  if (typeof arr !== 'string') throw new NotLocal(`${what} of an array stored as non-text`);
  return parseArrayText(arr, what);
}

export function registerArrayFunctions(db: Database.Database): void {
  const opts = { deterministic: true, safeIntegers: true } as const;
  db.function(
    ArrFn.element,
    { ...opts, varargs: true },
    (kind: unknown, arr: unknown, ...index: unknown[]) => {
      if (arr === null || index.some((i) => i === null)) return null;
      const a = fullArray(arr, 'array subscript');
      // array_get_element: NULL unless one subscript per dimension, each within its bounds.
      if (index.length !== a.dims.length) return null;
      let offset = 0;
      for (const [d, i] of index.entries()) {
        const k = Number(i) - (a.lbs[d] as number);
        const n = a.dims[d] as number;
        if (k < 0 || k >= n) return null;
        offset = offset * n + k;
      }
      const item = a.items[offset];
      if (item === undefined || item === null) return null;
      if (kind === 'int') return BigInt(item);
      if (kind === 'bool') return item === 't' ? 1n : 0n;
      return item;
    },
  );
  db.function(ArrFn.slice, { ...opts, varargs: true }, (mask: unknown, arr: unknown, ...bound: unknown[]) => {
    if (arr === null || bound.some((b) => b === null)) return null;
    return arraySlice(fullArray(arr, 'array slice'), String(mask), bound.map(Number));
  });
  db.function(
    ArrFn.search,
    opts,
    (what: unknown, kind: unknown, arr: unknown, value: unknown, replacement: unknown) => {
      if (arr === null) return null;
      const k = String(kind);
      const items = elements(arr, `${String(what)}()`);
      const v = elementText(k, value);
      // Element equality is equality of the stored texts for these types (NULL matches NULL: IS NOT DISTINCT FROM).
      const hits = items.flatMap((e, i) => (e === v ? [i + 1] : []));
      if (what === 'array_position') return hits.length === 0 ? null : BigInt(hits[0] as number);
      if (what === 'array_positions') return `{${hits.join(',')}}`;
      if (what === 'array_remove')
        return arrayOut(
          k,
          items.filter((e) => e !== v),
        );
      const r = elementText(k, replacement);
      return arrayOut(
        k,
        items.map((e) => (e === v ? r : e)),
      );
    },
  );
  db.function(ArrFn.fill, opts, (kind: unknown, value: unknown, dims: unknown, lbs: unknown) => {
    // NULL or multidimensional bound arrays, NULL bounds, sizes or bounds past int4: errors upstream words.
    if (dims === null || lbs === null) throw new NotLocal('array_fill() with NULL dimensions');
    const d = fullArray(dims, 'array_fill()');
    // 'unset': no lower bounds argument (compile/array-fill.ts).
    const l = lbs === 'unset' ? undefined : fullArray(lbs, 'array_fill()');
    if (d.dims.length > 1 || (l && (l.dims.length > 1 || l.items.length !== d.items.length)))
      throw new NotLocal('array_fill() with these dimensions');
    if (d.items.some((x) => x === null) || l?.items.some((x) => x === null))
      throw new NotLocal('array_fill() with NULL dimensions');
    const lens = d.items.map(Number);
    const lows = l ? l.items.map(Number) : lens.map(() => 1);
    if (lens.some((n) => n < 0) || lens.reduce((a, b) => a * b, 1) > 100000)
      throw new NotLocal('array_fill() of this size');
    if (lows.some((lb, k) => lb + (lens[k] as number) - 1 > 2147483647))
      throw new NotLocal('array_fill() bounds');
    if (lens.length === 0 || lens.includes(0)) return '{}';
    const n = lens.reduce((a, b) => a * b, 1);
    const k = String(kind);
    const v = elementText(k, value);
    const text = v === null ? null : k === 'text' ? arrayElement(v) : v;
    return formatArray({ dims: lens, lbs: lows, items: Array(n).fill(text) }, (t) => t);
  });
  db.function(ArrFn.toString, opts, (arr: unknown, delim: unknown, nullStr: unknown) => {
    if (arr === null || delim === null) return null;
    const items = elements(arr, 'array_to_string()');
    const d = textOrNull(delim, 'array_to_string()') as string;
    const n = textOrNull(nullStr, 'array_to_string()');
    // NULL elements are left out unless a null string is given.
    const parts = items.flatMap((e) => (e === null ? (n === null ? [] : [n]) : [e]));
    return parts.join(d);
  });
  db.function(ArrFn.stringToArray, opts, (text: unknown, delim: unknown, nullStr: unknown) => {
    const t = textOrNull(text, 'string_to_array()');
    if (t === null) return null;
    const parts = splitText(
      t,
      textOrNull(delim, 'string_to_array()'),
      textOrNull(nullStr, 'string_to_array()'),
    );
    return `{${parts.map((p) => (p === null ? 'NULL' : arrayElement(p))).join(',')}}`;
  });
  db.function(ArrFn.contains, opts, (first: unknown, second: unknown, matchall: unknown) => {
    if (first === null || second === null) return null;
    const all = matchall === 1n || matchall === 1;
    const pool = new Set(elements(second, 'array containment').filter((e) => e !== null));
    for (const e of elements(first, 'array containment')) {
      // A NULL element is never found: fatal when all must be, skipped otherwise.
      const found = e !== null && pool.has(e);
      if (found && !all) return 1n;
      if (!found && all) return 0n;
    }
    return all ? 1n : 0n;
  });
  // array_cat, array_append, array_prepend of one-dimensional arrays with
  // the default lower bound (others abort: parseArrayText forwards them).
  db.function(ArrFn.concat, opts, (kind: unknown, mode: unknown, left: unknown, right: unknown) => {
    const k = String(kind);
    if (mode === 'cat') {
      // array_cat: a NULL operand yields the other one unchanged.
      if (left === null) return right as string | null;
      if (right === null) return left as string;
      return arrayOut(k, [...elements(left, 'array_cat()'), ...elements(right, 'array_cat()')]);
    }
    // array_append/array_prepend are not strict: a NULL array is an empty one.
    if (mode === 'append') {
      const items = left === null ? [] : elements(left, 'array_append()');
      return arrayOut(k, [...items, elementText(k, right)]);
    }
    const items = right === null ? [] : elements(right, 'array_prepend()');
    return arrayOut(k, [elementText(k, left), ...items]);
  });
  db.function(ArrFn.dims, opts, (what: unknown, arr: unknown, dim: unknown) => {
    if (arr === null) return null;
    const a = fullArray(arr, String(what));
    const n = a.dims.length;
    if (what === 'cardinality') return BigInt(a.items.length);
    // An empty array has no dimensions.
    if (what === 'array_ndims') return n === 0 ? null : BigInt(n);
    if (what === 'array_dims') {
      if (n === 0) return null;
      return a.dims.map((len, d) => `[${a.lbs[d]}:${(a.lbs[d] as number) + len - 1}]`).join('');
    }
    if (dim === null) return null;
    const d = Number(dim);
    if (d < 1 || d > n) return null;
    const lb = a.lbs[d - 1] as number;
    const len = a.dims[d - 1] as number;
    if (what === 'array_lower') return BigInt(lb);
    if (what === 'array_upper') return BigInt(lb + len - 1);
    return BigInt(len);
  });
}

/** The stored text of an array of any shape. */
function fullArray(arr: unknown, what: string): ArrayValue {
  if (typeof arr !== 'string') throw new NotLocal(`${what} of an array stored as non-text`);
  return parseArray(arr, what);
}

/**
 * array_get_slice: bounds past the array's are cut to them, an omitted one is
 * the array's own, dimensions without a subscript are taken whole; more
 * subscripts than dimensions, or an empty range, give the empty array. The
 * result's lower bounds are all 1.
 */
export function arraySlice(a: ArrayValue, mask: string, bound: number[]): string {
  const n = a.dims.length;
  const subscripts = mask.length / 2;
  if (n === 0 || n < subscripts) return '{}';
  const lo: number[] = [];
  const hi: number[] = [];
  let k = 0;
  for (let d = 0; d < n; d++) {
    const lb = a.lbs[d] as number;
    const ub = lb + (a.dims[d] as number) - 1;
    let l = lb;
    let u = ub;
    if (d < subscripts) {
      if (mask[2 * d] === '1') l = Math.max(lb, bound[k++] as number);
      if (mask[2 * d + 1] === '1') u = Math.min(ub, bound[k++] as number);
    }
    if (l > u) return '{}';
    lo.push(l - lb);
    hi.push(u - lb);
  }
  const items: (string | null)[] = [];
  const walk = (d: number, offset: number): void => {
    for (let i = lo[d] as number; i <= (hi[d] as number); i++) {
      const o = offset * (a.dims[d] as number) + i;
      if (d + 1 === n) items.push(a.items[o] as string | null);
      else walk(d + 1, o);
    }
  };
  walk(0, 0);
  return formatArray(
    { dims: lo.map((l, d) => (hi[d] as number) - l + 1), lbs: lo.map(() => 1), items },
    arrayElement,
  );
}
