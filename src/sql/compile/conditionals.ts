/** Conditional expressions: NULLIF, GREATEST/LEAST, COALESCE and CASE. */
import type { CaseExpr, CoalesceExpr, MinMaxExpr, Node } from 'libpg-query';
import { NotLocal } from '../../errors.js';
import { SqlFn } from '../functions.js';
import { nodeKind } from '../parse.js';
import { Oid } from '../pgtypes.js';
import { selectCommonType } from './common-type.js';
import { comparable, mergeCollNames, operatorInputType, sortClass } from './comparable.js';
import type { StatementCompiler } from './compiler.js';
import { unsupported } from './support.js';
import type { Expr, ExprCtx } from './types.js';
import { derived } from './values.js';

export function nullif(this: StatementCompiler, left: Expr, right: Expr, c: ExprCtx): Expr {
  let l = left;
  let r = right;
  if (l.unknown && r.unknown) {
    l = this.resolveUnknown(l, Oid.text);
    r = this.resolveUnknown(r, Oid.text);
  } else if (l.unknown) l = this.resolveUnknown(l, operatorInputType(r.type));
  else if (r.unknown) r = this.resolveUnknown(r, operatorInputType(l.type));
  const cls = this.commonCmpClass(l, r, true);
  // The result has the operator's left input type.
  let result: Expr;
  if (cls === 'numeric') result = this.coerce(l, Oid.numeric);
  // float4 = float8/integer/numeric resolves to float48eq, whose left input is float4.
  else if (cls === 'float8' && l.type !== Oid.float4) result = this.coerce(l, Oid.float8);
  else if (l.type === Oid.varchar) result = this.coerce(l, Oid.text);
  else result = { ...l, origin: undefined };
  void c;
  // exprTypmod(NullIfExpr) is the typmod of its (coerced) first argument.
  const e = derived(
    `(CASE WHEN ${comparable(l, cls)} = ${comparable(r, cls)} THEN NULL ELSE ${result.sql} END)`,
    result.type,
    result.type === l.type ? l.typmod : -1,
    [l, r],
  );
  e.coll = result.coll;
  return e;
}

/**
 * GREATEST/LEAST: the common type's values compared like ORDER BY, NULLs
 * ignored; among equal values the first is kept (ExecEvalMinMax replaces
 * only on a strictly greater/lesser value).
 */
export function minMax(this: StatementCompiler, m: MinMaxExpr, c: ExprCtx): Expr {
  const least = m.op === 'IS_LEAST';
  const args = (m.args ?? []).map((a) => this.expr(a, c));
  if (args.length === 0) throw unsupported('GREATEST/LEAST');
  if (args.every((a) => a.unknown?.kind === 'param'))
    throw new NotLocal('could not determine data type of parameter');
  const type = selectCommonType(args, least ? 'LEAST' : 'GREATEST');
  const typed = args.map((a) => this.coerce(a, type));
  const coll = typed.reduce<string | undefined>(
    (acc, t, i) => (i === 0 ? t.coll : mergeCollNames(acc, t.coll)),
    undefined,
  );
  const probe = { ...(typed[0] as Expr), coll };
  const cls = sortClass(probe, this.ctx);
  if (cls === 'bpchar') throw new NotLocal(`${least ? 'LEAST' : 'GREATEST'} of bpchar`);
  const pairs = typed.map((t) => `${comparable({ ...t, coll }, cls)}, ${t.sql}`).join(', ');
  const typmod = typed.every((t) => t.typmod === typed[0]?.typmod) ? (typed[0]?.typmod ?? -1) : -1;
  const e = derived(`${SqlFn.minMax}(${least ? -1 : 1}, ${pairs})`, type, typmod, typed);
  e.coll = coll;
  return e;
}

export function coalesceExpr(this: StatementCompiler, ce: CoalesceExpr, c: ExprCtx): Expr {
  const args = (ce.args ?? []).map((a) => this.expr(a, c));
  if (args.length === 0) throw unsupported('COALESCE');
  if (args.some((a) => a.unknown?.kind === 'param') && args.every((a) => a.unknown)) {
    throw new NotLocal('could not determine data type of parameter');
  }
  const type = selectCommonType(args, 'COALESCE');
  const typed = args.map((a) => this.coerce(a, type));
  const typmod = typed.every((t) => t.typmod === typed[0]?.typmod) ? (typed[0]?.typmod ?? -1) : -1;
  const list = typed.map((t) => t.sql);
  if (list.length === 1) list.push('NULL');
  const e = derived(`coalesce(${list.join(', ')})`, type, typmod, typed);
  e.coll = typed.reduce<string | undefined>(
    (acc, t, i) => (i === 0 ? t.coll : mergeCollNames(acc, t.coll)),
    undefined,
  );
  return e;
}

export function caseExpr(this: StatementCompiler, ce: CaseExpr, c: ExprCtx): Expr {
  const arg = ce.arg ? this.expr(ce.arg, c) : undefined;
  const whens: Expr[] = [];
  const results: Expr[] = [];
  for (const w of ce.args ?? []) {
    const [kind, body] = nodeKind(w);
    if (kind !== 'CaseWhen') throw unsupported(kind);
    const cw = body as { expr?: Node; result?: Node };
    if (!cw.expr || !cw.result) throw unsupported('CASE');
    if (arg) whens.push(this.comparison('=', arg, this.expr(cw.expr, c), c.clause));
    else whens.push(this.predicate(cw.expr, c));
    results.push(this.expr(cw.result, c));
  }
  const def = ce.defresult ? this.expr(ce.defresult, c) : undefined;
  // The default result comes first in transformCaseExpr's common-type resolution.
  const all = def ? [def, ...results] : results;
  if (all.every((r) => r.unknown?.kind === 'param'))
    throw new NotLocal('could not determine data type of parameter');
  const type = selectCommonType(all, 'CASE');
  const typed = all.map((r) => this.coerce(r, type));
  // Without ELSE, the implicit ELSE NULL (typmod -1) takes part in the typmod too.
  const typmod = def && typed.every((t) => t.typmod === typed[0]?.typmod) ? (typed[0]?.typmod ?? -1) : -1;
  const tdef = def ? typed[0] : undefined;
  const tres = def ? typed.slice(1) : typed;
  let sql = 'CASE';
  for (const [i, w] of whens.entries()) sql += ` WHEN ${w.sql} THEN ${(tres[i] as Expr).sql}`;
  if (tdef) sql += ` ELSE ${tdef.sql}`;
  sql += ' END';
  const e = derived(`(${sql})`, type, typmod, [...whens, ...typed]);
  e.coll = typed.reduce<string | undefined>(
    (acc, t, i) => (i === 0 ? t.coll : mergeCollNames(acc, t.coll)),
    undefined,
  );
  return e;
}
