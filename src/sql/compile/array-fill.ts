/**
 * array_fill(value, dims [, lower bounds]): an array of `value` in every
 * place, of the element types whose arrays print the same under every
 * setting. The value must be typed (an untyped one is an error upstream);
 * the bounds must be int4[] (an untyped '{}' reads as one). NULL or
 * multidimensional bound arrays, NULL bounds, negative, huge or overflowing
 * sizes are errors Postgres words itself: they abort the run (forwarded).
 */
import { NotLocal } from '../../errors.js';
import { ArrFn } from '../array-functions.js';
import { Oid, TYPES } from '../pgtypes.js';
import { settingFreeArray, textEqualKind } from './arrays.js';
import type { StatementCompiler } from './compiler.js';
import { unsupported } from './support.js';
import type { Expr } from './types.js';
import { derived } from './values.js';

export function arrayFill(this: StatementCompiler, args: Expr[]): Expr {
  const [value, dims, lbs] = args;
  if (!value || !dims || args.length > 3) throw unsupported('array_fill() with these arguments');
  if (value.unknown)
    throw new NotLocal('could not determine polymorphic type because input has type unknown');
  const arrayType = TYPES.get(value.type)?.array;
  if (arrayType === undefined || !settingFreeArray(arrayType))
    throw new NotLocal(`array_fill() of ${value.typeName}`);
  // Values whose SQLite form is array_out's element text (numeric forwards).
  const kind = textEqualKind(arrayType);
  if (kind === undefined) throw new NotLocal(`array_fill() of ${value.typeName}`);
  const bounds = (e: Expr | undefined): Expr | undefined => {
    if (!e) return undefined;
    const b = e.unknown ? this.resolveUnknown(e, Oid.int4Array) : e;
    if (b.type !== Oid.int4Array) throw new NotLocal(`array_fill() with bounds of ${b.typeName}`);
    return b;
  };
  const d = bounds(dims) as Expr;
  const l = bounds(lbs);
  const e = derived(
    `${ArrFn.fill}('${kind}', ${value.sql}, ${d.sql}, ${l ? l.sql : "'unset'"})`,
    arrayType,
    -1,
    l ? [value, d, l] : [value, d],
  );
  if (value.type === Oid.text || value.type === Oid.varchar || value.type === Oid.bpchar) e.coll = 'default';
  return e;
}
