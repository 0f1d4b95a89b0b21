/** make_interval(years, months, weeks, days, hours, mins, secs): integer fields, secs float8 (src/sql/make-interval.ts). */
import { NotLocal } from '../../errors.js';
import { MakeIntervalFn } from '../make-interval.js';
import { Oid } from '../pgtypes.js';
import type { StatementCompiler } from './compiler.js';
import type { Expr, ExprCtx } from './types.js';
import { derived } from './values.js';

export function makeIntervalCall(this: StatementCompiler, args: Expr[], c: ExprCtx): Expr {
  if (args.length > 7) throw new NotLocal('make_interval() with more than 7 arguments');
  const fields: Expr[] = [];
  for (let i = 0; i < 6; i++) {
    const a = args[i];
    if (a === undefined) {
      fields.push(this.intConst(0n));
      continue;
    }
    const e = this.coerce(a, Oid.int4);
    if (e.type !== Oid.int4) throw new NotLocal(`make_interval() of ${e.typeName}`);
    fields.push(e);
  }
  const s = args[6];
  let secs: Expr;
  if (s === undefined) secs = this.float8Const({ ...this.intConst(0n), literal: '0' });
  else if (s.type === Oid.numeric && s.literal !== undefined) secs = this.float8Const(s);
  else secs = this.coerce(s, Oid.float8);
  if (secs.type !== Oid.float8) throw new NotLocal(`make_interval() secs of ${secs.typeName}`);
  const e = derived(
    `${MakeIntervalFn.make}(${[...fields, secs].map((x) => x.sql).join(', ')})`,
    Oid.interval,
    -1,
    [...fields, secs],
  );
  return this.errorCapable(e, c);
}
