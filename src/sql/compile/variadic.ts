/**
 * VARIADIC calls of the "any" variadic text functions: concat(VARIADIC arr),
 * concat_ws(sep, VARIADIC arr) and format(fmt, VARIADIC arr). Postgres
 * passes the array's elements as the variadic arguments (concat_internal and
 * text_format deconstruct it), each printed by the element type's output
 * function, which is what the stored array_out text holds for the element
 * types whose output needs no session setting (src/sql/record.ts). A NULL
 * array makes concat/concat_ws NULL and gives format() no arguments. An
 * argument that is not an array (42804), an untyped one, or an element type
 * with session-dependent output is forwarded; multidimensional arrays or
 * explicit bounds forward when met (the SQLite function throws NotLocal).
 */
import type { FuncCall } from 'libpg-query';
import { NotLocal } from '../../errors.js';
import { Oid, TYPES } from '../pgtypes.js';
import { SESSION_INDEPENDENT_TYPES } from '../record.js';
import { StrFn } from '../string-functions.js';
import type { StatementCompiler } from './compiler.js';
import type { Expr, ExprCtx } from './types.js';
import { derived } from './values.js';

/** The functions whose VARIADIC form is served here. */
export const VARIADIC_CALLS: ReadonlySet<string> = new Set(['concat', 'concat_ws', 'format']);

export function variadicCall(this: StatementCompiler, name: string, f: FuncCall, c: ExprCtx): Expr {
  if (f.agg_order || f.agg_filter || f.agg_star || f.agg_distinct || f.agg_within_group)
    throw new NotLocal(`${name}() with VARIADIC and aggregate decoration`);
  const args = (f.args ?? []).map((a) => this.expr(a, c));
  const fixed = name === 'concat' ? 0 : 1;
  if (args.length !== fixed + 1) throw new NotLocal(`${name}(VARIADIC) with these arguments`);
  const arr = args[fixed] as Expr;
  if (arr.unknown) throw new NotLocal(`${name}(VARIADIC) of an untyped argument`);
  const elem = TYPES.get(arr.type)?.elem;
  if (elem === undefined) throw new NotLocal(`${name}(VARIADIC) of ${arr.typeName}`);
  if (!SESSION_INDEPENDENT_TYPES.has(elem)) throw new NotLocal(`${name}(VARIADIC) of ${arr.typeName}`);
  const first = fixed === 1 ? this.textOperand(args[0] as Expr, `${name}()`) : undefined;
  const e = derived(
    `${StrFn.variadic}('${name}', ${elem}, ${first ? first.sql : 'NULL'}, ${arr.sql})`,
    Oid.text,
    -1,
    first ? [first, arr] : [arr],
  );
  // concat's result collation follows its collatable arguments: only the default one is followed here.
  const colls = [first?.coll, arr.coll].filter((x) => x !== undefined);
  e.coll = name === 'format' || colls.every((x) => x === 'default') ? 'default' : undefined;
  return name === 'format' ? this.errorCapable(e, c) : e;
}
