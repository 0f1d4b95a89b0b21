/**
 * array_position, array_positions, array_remove, array_replace and
 * array_to_string over one-dimensional arrays with the default lower bound
 * (others abort the run and forward: the multidimensional forms are errors
 * Postgres words itself). Searching compares elements with the element
 * type's equality, which for TEXT_EQUAL_ELEMENTS under a deterministic
 * collation is equality of the stored texts; NULL finds NULL. The searched
 * value must have exactly the element type (anycompatible promotions
 * forward); array_position's start argument forwards.
 */
import { NotLocal } from '../../errors.js';
import { ArrFn } from '../array-functions.js';
import { Oid, TYPES } from '../pgtypes.js';
import { textEqualKind } from './arrays.js';
import { mergeColl } from './comparable.js';
import type { StatementCompiler } from './compiler.js';
import { DETERMINISTIC_COLLATIONS, unsupported } from './support.js';
import type { Expr } from './types.js';
import { derived } from './values.js';

export const ARRAY_SEARCH_CALLS = new Set([
  'array_position',
  'array_positions',
  'array_remove',
  'array_replace',
  'array_to_string',
]);

export function arraySearchCall(this: StatementCompiler, name: string, args: Expr[]): Expr {
  const [arr, a1, a2] = args;
  if (!arr || arr.unknown || TYPES.get(arr.type)?.elem === undefined)
    throw new NotLocal(`${name}() of ${arr?.typeName ?? 'nothing'}`);
  const elem = TYPES.get(arr.type)?.elem as number;
  if (name === 'array_to_string') {
    if (!a1 || args.length > 3) throw unsupported(`${name}() with these arguments`);
    // Elements printed as stored: integers, bool, text and uuid (not date: DateStyle).
    const kind = textEqualKind(arr.type);
    if (kind === undefined) throw new NotLocal(`${name}() of ${arr.typeName}`);
    const text = (e: Expr | undefined): Expr | undefined => {
      if (!e) return undefined;
      const t = e.unknown ? this.resolveUnknown(e, Oid.text) : e;
      if (t.type !== Oid.text) throw new NotLocal(`${name}() with a ${t.typeName} argument`);
      return t;
    };
    const d = text(a1) as Expr;
    const n = text(a2);
    const e = derived(
      `${ArrFn.toString}(${arr.sql}, ${d.sql}, ${n ? n.sql : 'NULL'})`,
      Oid.text,
      -1,
      n ? [arr, d, n] : [arr, d],
    );
    e.coll = 'default';
    return e;
  }
  const arity = name === 'array_replace' ? 3 : 2;
  if (args.length !== arity || !a1) throw unsupported(`${name}() with these arguments`);
  const kind = textEqualKind(arr.type);
  if (kind === undefined) throw new NotLocal(`${name}() of ${arr.typeName}`);
  const value = (e: Expr): Expr => {
    const v = e.unknown ? this.resolveUnknown(e, elem) : e;
    if (v.type !== elem) throw new NotLocal(`${name}() of ${arr.typeName} and ${v.typeName}`);
    return v;
  };
  const v = value(a1);
  const r = a2 ? value(a2) : undefined;
  if (elem === Oid.text || elem === Oid.varchar) {
    const coll = mergeColl(arr, v);
    if (coll === undefined || !DETERMINISTIC_COLLATIONS.has(coll))
      throw new NotLocal(`${name}() on text with collation ${coll ?? 'unknown'}`);
  }
  const type = name === 'array_position' ? Oid.int4 : name === 'array_positions' ? Oid.int4Array : arr.type;
  const e = derived(
    `${ArrFn.search}('${name}', '${kind}', ${arr.sql}, ${v.sql}, ${r ? r.sql : 'NULL'})`,
    type,
    -1,
    r ? [arr, v, r] : [arr, v],
  );
  if ((name === 'array_remove' || name === 'array_replace') && arr.coll !== undefined) e.coll = arr.coll;
  return e;
}
