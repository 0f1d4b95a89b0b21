/** Comparisons, IN, = ANY / ALL, LIKE and BETWEEN: operand types, comparison classes and collations. */
import type { A_Expr, FuncCall, Node } from 'libpg-query';
import { NotLocal } from '../../errors.js';
import { SqlFn } from '../functions.js';
import { nodeKind } from '../parse.js';
import { float8Input, Oid, TYPES } from '../pgtypes.js';
import { SrfFn } from '../srf-functions.js';
import { selectCommonType } from './common-type.js';
import {
  cmpClassOfExpr,
  comparable,
  isCCollation,
  operatorInputType,
  resolveCollation,
} from './comparable.js';
import type { StatementCompiler } from './compiler.js';
import { nameAsText } from './names.js';
import { isRowExpr } from './rows.js';
import { unnestKind } from './srfs.js';
import { DETERMINISTIC_COLLATIONS, funcName, operatorName, unsupported } from './support.js';
import type { Clause, CmpClass, Expr, ExprCtx } from './types.js';
import { colName, constExpr, derived, hasLocalVars, isTextType } from './values.js';

/**
 * A comparison (or IS [NOT] DISTINCT FROM, as `IS NOT`/`IS`) typed like
 * Postgres's operator resolution. Only combinations whose Postgres result
 * is certain are accepted.
 */
export function comparison(
  this: StatementCompiler,
  op: string,
  left: Expr,
  right: Expr,
  clause: Clause,
): Expr {
  if ((left.unknown?.kind === 'null' || right.unknown?.kind === 'null') && op !== 'IS' && op !== 'IS NOT') {
    // `= NULL` depends on transform_null_equals.
    throw unsupported('comparison with NULL');
  }
  const equality = op === '=' || op === '<>' || op === 'IS' || op === 'IS NOT';
  if (equality && [left, right].some((e) => !e.unknown && TYPES.get(e.type)?.elem !== undefined)) {
    return this.arrayEquality(op as '=' | '<>' | 'IS' | 'IS NOT', left, right);
  }
  const t = this.typedComparison(left, right, equality);
  void clause;
  return derived(`(${t.lsql} ${op} ${t.rsql})`, Oid.bool, -1, [t.l, t.r]);
}

/** Type both operands of a comparison and return their comparable SQLite forms. */
export function typedComparison(
  this: StatementCompiler,
  left: Expr,
  right: Expr,
  equality: boolean,
): { l: Expr; r: Expr; cls: CmpClass; lsql: string; rsql: string } {
  let l = left;
  let r = right;
  if (l.unknown && r.unknown) {
    l = this.resolveUnknown(l, Oid.text);
    r = this.resolveUnknown(r, Oid.text);
  } else if (l.unknown) l = this.resolveUnknown(l, operatorInputType(r.type));
  else if (r.unknown) r = this.resolveUnknown(r, operatorInputType(l.type));
  // float8 vs a numeric constant: the constant is cast to float8 (numeric_float8 reads its text).
  if ((l.type === Oid.float8 || l.type === Oid.float4) && r.literal !== undefined) r = this.float8Const(r);
  if ((r.type === Oid.float8 || r.type === Oid.float4) && l.literal !== undefined) l = this.float8Const(l);
  const cls = this.commonCmpClass(l, r, equality);
  if (cls === 'enum' && equality) {
    // Labels are unique within a type: equality is the stored text's (and can use an index).
    return { l, r, cls, lsql: l.sql, rsql: r.sql };
  }
  return { l, r, cls, lsql: comparable(l, cls), rsql: comparable(r, cls) };
}

export function float8Const(this: StatementCompiler, e: Expr): Expr {
  const value = float8Input(e.literal as string, 'float8 constant');
  return { ...constExpr(this.bindValue(value), Oid.float8), kids: [e] };
}

/** The comparison class of two typed operands, or NotLocal. */
export function commonCmpClass(this: StatementCompiler, l: Expr, r: Expr, equality: boolean): CmpClass {
  const lc = cmpClassOfExpr(l);
  const rc = cmpClassOfExpr(r);
  const mismatch = (): NotLocal => new NotLocal(`comparison of ${l.typeName} with ${r.typeName}`);
  if (lc === undefined || rc === undefined) {
    throw new NotLocal(`comparison on type ${lc === undefined ? l.typeName : r.typeName}`);
  }
  let cls: CmpClass;
  if (lc === 'enum' || rc === 'enum') {
    // Only enum = enum of the same type exists (no implicit cast to or from an enum).
    if (l.type !== r.type) throw mismatch();
    if (JSON.stringify(l.enumLabels) !== JSON.stringify(r.enumLabels)) {
      throw new NotLocal(`labels of enum ${l.typeName} differ between replicated tables`);
    }
    return 'enum';
  }
  if (lc === rc) cls = lc;
  else if ((lc === 'int' && rc === 'float8') || (lc === 'float8' && rc === 'int')) cls = 'float8';
  else if ((lc === 'int' && rc === 'numeric') || (lc === 'numeric' && rc === 'int')) cls = 'numeric';
  // float4 against int, float8 or a float8-converted numeric constant: the
  // operator is float48 (float8 is the preferred type), comparing the exact
  // float4 value widened to float8.
  else if (
    (lc === 'float4' && (rc === 'int' || rc === 'float8')) ||
    (rc === 'float4' && (lc === 'int' || lc === 'float8'))
  )
    cls = 'float8';
  else throw mismatch();
  if (cls === 'money') this.requireMoneyLocale();
  if (cls === 'text' || cls === 'bpchar') {
    if (cls === 'bpchar' && (l.type !== Oid.bpchar || r.type !== Oid.bpchar)) throw mismatch();
    const coll = resolveCollation(l, r);
    this.requireCollation(coll, equality, colName(l.localColumn || l.origin ? l : r));
  }
  return cls;
}

export function requireCollation(
  this: StatementCompiler,
  coll: string | undefined,
  equality: boolean,
  column: string,
): void {
  if (coll === undefined) throw new NotLocal(`collation of ${column} unknown`);
  if (equality && DETERMINISTIC_COLLATIONS.has(coll)) return;
  if (!isCCollation(coll, this.ctx)) throw new NotLocal(`non-C collation ${coll} on ${column}`);
}

/**
 * How lower()/upper()/ILIKE under collation `coll` fold case: ASCII letters
 * only (a C ctype), or by the default collation's case map learned from
 * upstream; any other ctype is forwarded.
 */
export function requireCType(
  this: StatementCompiler,
  coll: string | undefined,
  what: string,
): 'ascii' | 'mapped' {
  if (coll === 'C' || coll === 'POSIX') return 'ascii';
  const ascii = this.ctx.asciiCtypeCollations;
  if (coll !== undefined && ascii?.has(coll)) return 'ascii';
  if (coll === 'default' && !ascii && this.ctx.textCtypeIsC) return 'ascii';
  if (coll === 'default' && this.ctx.caseMapped) return 'mapped';
  throw new NotLocal(`${what} under collation ${coll ?? 'unknown'} (ctype not C)`);
}

export function inList(this: StatementCompiler, a: A_Expr, c: ExprCtx): Expr {
  const op = operatorName(a);
  if (op !== '=' && op !== '<>') throw unsupported(`IN with operator ${op ?? '?'}`);
  const [rkind, rbody] = nodeKind(a.rexpr as Node);
  if (rkind !== 'List') throw unsupported('IN');
  if (isRowExpr(a.lexpr)) {
    // transformAExprIn over rows: the row comparisons ORed (NOT IN: the <> ones ANDed).
    const parts = ((rbody as { items?: Node[] }).items ?? []).map((n) =>
      this.rowComparison(op, a.lexpr as Node, n, c),
    );
    return derived(`(${parts.map((p) => p.sql).join(op === '=' ? ' OR ' : ' AND ')})`, Oid.bool, -1, parts);
  }
  const l = this.expr(a.lexpr as Node, c);
  const items = ((rbody as { items?: Node[] }).items ?? []).map((n) => this.expr(n, c));
  const nonVars = items.filter((i) => !i.localColumn && !hasLocalVars(i));
  let lhs = l;
  let rs = items;
  if (nonVars.length > 1) {
    // transformAExprIn: a common type for the left side and the non-Var items.
    const common = selectCommonType([l, ...nonVars], 'IN');
    // The items are coerced to the common type; only name's coercion (text
    // cut to 63 bytes) changes a typed value, and the left side's operator
    // would then be resolved against name[]: not reproduced.
    if (common === Oid.name && [l, ...nonVars].some((e) => !e.unknown && e.type !== Oid.name))
      throw new NotLocal('IN list of name and other string types');
    lhs = l.unknown ? this.resolveUnknown(l, common) : l;
    rs = items.map((i) => (i.unknown && nonVars.includes(i) ? this.resolveUnknown(i, common) : i));
  }
  const typed = rs.map((r) => this.typedComparison(lhs, r, true));
  const kids = [lhs, ...typed.map((t) => t.r)];
  const lform = typed[0]?.lsql;
  let sql: string;
  if (lform !== undefined && typed.every((t) => t.lsql === lform)) {
    sql = `(${lform} ${op === '=' ? 'IN' : 'NOT IN'} (${typed.map((t) => t.rsql).join(', ')}))`;
  } else {
    sql = `(${op === '=' ? '' : 'NOT '}(${typed.map((t) => `(${t.lsql} = ${t.rsql})`).join(' OR ')}))`;
  }
  return derived(sql, Oid.bool, -1, kids);
}

/** `x = ANY(array)` and `x <> ALL(array)`: an array constructor, literal or parameter. */
export function anyAll(this: StatementCompiler, a: A_Expr, c: ExprCtx): Expr {
  const op = operatorName(a);
  const any = a.kind === 'AEXPR_OP_ANY';
  if (!((any && op === '=') || (!any && op === '<>'))) {
    throw unsupported(`${op ?? '?'} ${any ? 'ANY' : 'ALL'}`);
  }
  let l = this.expr(a.lexpr as Node, c);
  const rnode = a.rexpr as Node;
  const [rkind, rbody] = nodeKind(rnode);
  if (rkind === 'A_ArrayExpr') {
    const nodes = (rbody as { elements?: Node[] }).elements ?? [];
    if (nodes.length === 0) throw new NotLocal('cannot determine type of empty array');
    if (nodes.some((n) => nodeKind(n)[0] === 'A_ArrayExpr')) throw unsupported('multidimensional array');
    const elems = nodes.map((n) => this.expr(n, c));
    const elemType = selectCommonType(elems, 'ARRAY');
    const typedElems = elems.map((e) => this.coerce(e, elemType));
    if (l.unknown) l = this.resolveUnknown(l, elemType);
    const typed = typedElems.map((r) => this.typedComparison(l, r, true));
    const lform = typed[0]?.lsql as string;
    if (!typed.every((t) => t.lsql === lform)) throw unsupported('ANY over mixed types');
    const list = typed.map((t) => t.rsql).join(', ');
    return derived(`(${lform} ${any ? 'IN' : 'NOT IN'} (${list}))`, Oid.bool, -1, [l, ...typedElems]);
  }
  // Array constants and parameters are bound as JSON (for json_each), which
  // is not their stored form: they are allowed here only.
  let r: Expr;
  this.jsonArrays = true;
  try {
    r = this.expr(rnode, c);
    if (l.unknown && r.unknown) throw new NotLocal('could not determine the types of ANY operands');
    if (l.unknown) {
      // `'x' = ANY(tags)`: the literal takes the array's element type.
      const elem = TYPES.get(r.type)?.elem;
      if (elem === undefined || r.constant) throw unsupported('ANY with an untyped left operand');
      l = this.resolveUnknown(l, elem);
    }
    if (r.unknown) {
      const array = TYPES.get(operatorInputType(l.type))?.array;
      if (array === undefined) throw new NotLocal(`no array type for ${l.typeName}`);
      r = this.resolveUnknown(r, array);
    }
  } finally {
    this.jsonArrays = false;
  }
  if (!r.constant) return this.anyOverColumn(l, r, any);
  const elem = TYPES.get(r.type)?.elem;
  if (elem === undefined) throw new NotLocal(`${any ? 'ANY' : 'ALL'} over non-array ${r.typeName}`);
  const probe = derived('value', elem, -1, []);
  if (isTextType(elem)) probe.coll = 'default';
  const t = this.typedComparison(l, probe, true);
  const inner = `(${t.lsql} ${any ? 'IN' : 'NOT IN'} (SELECT ${t.rsql} FROM json_each(${r.sql})))`;
  return derived(`(CASE WHEN ${r.sql} IS NULL THEN NULL ELSE ${inner} END)`, Oid.bool, -1, [l, r]);
}

export function like(this: StatementCompiler, a: A_Expr, c: ExprCtx): Expr {
  const op = operatorName(a) ?? '';
  const ilike = a.kind === 'AEXPR_ILIKE';
  const negated = op.startsWith('!');
  let l = this.expr(a.lexpr as Node, c);
  let patternNode = a.rexpr as Node;
  let escapeArg: Expr | undefined;
  const [rkind, rbody] = nodeKind(patternNode);
  if (rkind === 'FuncCall' && funcName((rbody as FuncCall).funcname) === 'like_escape') {
    const args = (rbody as FuncCall).args ?? [];
    if (args.length !== 2) throw unsupported('ESCAPE');
    patternNode = args[0] as Node;
    escapeArg = this.expr(args[1] as Node, c);
  }
  let p = this.expr(patternNode, c);
  const bytea = this.byteaLikeExpr(l, p, escapeArg, negated, ilike, c);
  if (bytea) return bytea;
  if (l.unknown) l = this.resolveUnknown(l, Oid.text);
  if (p.unknown) p = this.resolveUnknown(p, Oid.text);
  // namelike / nameiclike (and a name pattern, through text): like text, under the name's collation C.
  l = nameAsText(l);
  p = nameAsText(p);
  // bpchar ~~ text matches the blank-padded value as stored (checked against Postgres).
  if (!isTextType(l.type)) throw new NotLocal(`LIKE on ${l.typeName}`);
  if (!isTextType(p.type) || p.type === Oid.bpchar) throw new NotLocal(`LIKE pattern of type ${p.typeName}`);
  let escSql = `'\\'`;
  if (escapeArg) {
    const esc = escapeArg.unknown ? this.resolveUnknown(escapeArg, Oid.text) : escapeArg;
    if (!isTextType(esc.type) || esc.type === Oid.bpchar) throw new NotLocal('ESCAPE of a non-text type');
    escSql = esc.sql;
  }
  const coll = resolveCollation(l, p);
  if (coll === undefined || !(DETERMINISTIC_COLLATIONS.has(coll) || isCCollation(coll, this.ctx))) {
    throw new NotLocal(`LIKE under collation ${coll ?? 'unknown'}`);
  }
  // ILIKE is LIKE over lower() of both sides (Generic_Text_IC_like in a UTF-8 database).
  const fn = !ilike
    ? SqlFn.like
    : this.requireCType(coll, 'ILIKE') === 'ascii'
      ? SqlFn.ilike
      : SqlFn.ilikeMapped;
  const e = derived(
    `${negated ? '(NOT ' : ''}${fn}(${l.sql}, ${p.sql}, ${escSql})${negated ? ')' : ''}`,
    Oid.bool,
    -1,
    [l, p],
  );
  // A pattern ending in the escape character is an error: forwarded (the function aborts).
  return e;
}

export function between(this: StatementCompiler, a: A_Expr, c: ExprCtx): Expr {
  const [rkind, rbody] = nodeKind(a.rexpr as Node);
  const bounds = rkind === 'List' ? ((rbody as { items?: Node[] }).items ?? []) : [];
  if (bounds.length !== 2) throw unsupported('BETWEEN');
  const x = a.lexpr as Node;
  const [lo, hi] = bounds as [Node, Node];
  const cmp = (op: string, l: Node, r: Node): Expr =>
    this.comparison(op, this.expr(l, c), this.expr(r, c), c.clause);
  const and = (p: Expr, q: Expr): Expr => derived(`(${p.sql} AND ${q.sql})`, Oid.bool, -1, [p, q]);
  const or = (p: Expr, q: Expr): Expr => derived(`(${p.sql} OR ${q.sql})`, Oid.bool, -1, [p, q]);
  // transformAExprBetween's expansions.
  switch (a.kind) {
    case 'AEXPR_BETWEEN':
      return and(cmp('>=', x, lo), cmp('<=', x, hi));
    case 'AEXPR_NOT_BETWEEN':
      return or(cmp('<', x, lo), cmp('>', x, hi));
    case 'AEXPR_BETWEEN_SYM':
      return or(and(cmp('>=', x, lo), cmp('<=', x, hi)), and(cmp('>=', x, hi), cmp('<=', x, lo)));
    default:
      return and(or(cmp('<', x, lo), cmp('>', x, hi)), or(cmp('<', x, hi), cmp('>', x, lo)));
  }
}

/**
 * `x = ANY(array)` / `x <> ALL(array)` over an array in its stored form (a
 * column, ARRAY[...] of columns): IN over its elements (srf-functions.ts
 * unnest), which has Postgres's NULL logic (NULL without a match when an
 * element or x is NULL; false for an empty array; <> ALL is its negation).
 */
export function anyOverColumn(this: StatementCompiler, l: Expr, r: Expr, any: boolean): Expr {
  const elem = TYPES.get(r.type)?.elem;
  const kind = elem === undefined ? undefined : unnestKind(elem);
  if (elem === undefined || kind === undefined)
    throw unsupported(`${any ? 'ANY' : 'ALL'} over ${r.typeName}`);
  const a = this.alias();
  const probe = derived(`${a}.v`, elem, -1, []);
  if (isTextType(elem)) probe.coll = r.coll ?? 'default';
  const t = this.typedComparison(l, probe, true);
  const inner = `(${t.lsql} ${any ? 'IN' : 'NOT IN'} (SELECT ${t.rsql} FROM ${SrfFn.unnest}('${kind}', ${r.sql}) AS ${a}))`;
  return derived(`(CASE WHEN ${r.sql} IS NULL THEN NULL ELSE ${inner} END)`, Oid.bool, -1, [l, r]);
}
