/** The expression visitor: one case per node kind; each either compiles with Postgres's exact semantics or throws NotLocal with the reason. */
import type {
  A_Const,
  A_Expr,
  BoolExpr,
  BooleanTest,
  CaseExpr,
  CoalesceExpr,
  CollateClause,
  ColumnRef,
  FuncCall,
  MinMaxExpr,
  Node,
  NullTest,
  ParamRef,
  SelectStmt,
  SubLink,
  TypeCast,
} from 'libpg-query';
import { InputError, NotLocal } from '../../errors.js';
import { DATESTYLE_DEPENDENT } from '../datetime-input.js';
import { FloatFn, float4Input } from '../float-ops.js';
import { SqlFn } from '../functions.js';
import { nodeKind } from '../parse.js';
import {
  INT_BITS,
  inputValue,
  isIntType,
  numericInput,
  Oid,
  type Stored,
  TYPES,
  timestamptzInputAt,
  timestamptzNeedsZone,
} from '../pgtypes.js';
import { isCCollation } from './comparable.js';
import type { StatementCompiler } from './compiler.js';
import { isRowExpr } from './rows.js';
import {
  ARITH_OPS,
  COMPARISON_OPS,
  describeNode,
  INT32_MAX,
  INT32_MIN,
  int64Text,
  JSON_OPS,
  operatorName,
  typeName,
  unsupported,
} from './support.js';
import type { Expr, ExprCtx, Out, UnknownSrc } from './types.js';
import { colName, constExpr, derived, isTextType, retype, unknownExpr } from './values.js';

/** The operators bit strings have besides comparisons and || (src/sql/compile/bit-strings.ts). */
const BIT_OPS = new Set(['&', '|', '#', '<<', '>>']);

export function expr(this: StatementCompiler, node: Node, c: ExprCtx): Expr {
  const [kind, body] = nodeKind(node);
  this.exprPath.push(kind === 'A_Expr' ? `A_Expr:${(body as A_Expr).kind}` : kind);
  try {
    const e = this.exprNode(node, c);
    return c.level.groupingSet ? this.groupingNull(e, c) : e;
  } finally {
    this.exprPath.pop();
  }
}

export function exprNode(this: StatementCompiler, node: Node, c: ExprCtx): Expr {
  const [kind, body] = nodeKind(node);
  switch (kind) {
    case 'ColumnRef': {
      const r = this.columnRef(body as ColumnRef, c.level);
      if (Array.isArray(r)) throw unsupported('* in expression');
      return r;
    }
    case 'A_Const':
      return this.constant(body as A_Const);
    case 'ParamRef':
      return this.paramRef(body as ParamRef);
    case 'A_Expr':
      return this.aExpr(body as A_Expr, c);
    case 'BoolExpr':
      return this.boolExpr(body as BoolExpr, c);
    case 'NullTest':
      return this.nullTest(body as NullTest, c);
    case 'BooleanTest':
      return this.booleanTest(body as BooleanTest, c);
    case 'TypeCast':
      return this.typeCast(body as TypeCast, c);
    case 'FuncCall':
      return this.funcCall(body as FuncCall, c);
    case 'CoalesceExpr':
      return this.coalesceExpr(body as CoalesceExpr, c);
    case 'CaseExpr':
      return this.caseExpr(body as CaseExpr, c);
    case 'CollateClause':
      return this.collateClause(body as CollateClause, c);
    case 'SubLink':
      return this.subLink(body as SubLink, c);
    case 'MinMaxExpr':
      return this.minMax(body as MinMaxExpr, c);
    case 'GroupingFunc':
      return this.groupingFunc(body as { args?: Node[] }, c);
    case 'A_Indirection': {
      const ind = body as { arg?: Node; indirection?: Node[] };
      if (isRowExpr(ind.arg)) return this.rowField(ind.arg as Node, ind.indirection ?? [], c);
      const arg = ind.arg ? this.expr(ind.arg, c) : undefined;
      if (arg?.type === Oid.jsonb && !arg.unknown) return this.jsonbSubscript(arg, ind.indirection ?? [], c);
      if (arg && !arg.unknown && TYPES.get(arg.type)?.elem !== undefined) {
        return this.arraySubscript(arg, ind.indirection ?? [], c);
      }
      throw unsupported(`${describeNode(kind, body)}${c.clause === 'select' ? ' in select list' : ''}`);
    }
    case 'A_ArrayExpr':
      // Only as a constant key list of the json operators (bound as JSON).
      if (this.jsonArrays) return this.textArrayConstant((body as { elements?: Node[] }).elements ?? []);
      return this.arrayConstructor((body as { elements?: Node[] }).elements ?? [], c);
    default:
      throw unsupported(`${describeNode(kind, body)}${c.clause === 'select' ? ' in select list' : ''}`);
  }
}

export function constant(this: StatementCompiler, c: A_Const): Expr {
  if (c.isnull) return unknownExpr('NULL', { kind: 'null' });
  if (c.ival !== undefined) return { ...this.intConst(BigInt(c.ival.ival ?? 0)), foldable: true };
  if (c.fval !== undefined) {
    const text = c.fval.fval ?? '';
    // The grammar makes an integer literal too big for int4 an int8 when it fits.
    const asInt = int64Text(text);
    if (asInt !== undefined) return { ...this.intConst(asInt), foldable: true };
    const e = constExpr(this.bindValue(numericInput(text, 'numeric constant')), Oid.numeric);
    e.literal = text;
    e.foldable = true;
    return e;
  }
  if (c.boolval !== undefined) return constExpr(c.boolval.boolval === true ? '1' : '0', Oid.bool);
  if (c.sval !== undefined) {
    const text = c.sval.sval ?? '';
    return unknownExpr(`'${text.replace(/'/g, "''")}'`, {
      kind: 'literal',
      text,
      ...(c.location !== undefined ? { location: c.location } : {}),
    });
  }
  if (c.bsval !== undefined) return this.bitConstant(c);
  throw unsupported('constant');
}

export function intConst(this: StatementCompiler, v: bigint): Expr {
  return constExpr(this.bindValue(v), v >= INT32_MIN && v <= INT32_MAX ? Oid.int4 : Oid.int8);
}

export function paramRef(this: StatementCompiler, p: ParamRef): Expr {
  if (!this.paramTypes) throw unsupported('parameter');
  const n = p.number ?? 0;
  if (n < 1 || n > 65535) throw new NotLocal(`parameter $${n}`);
  while (this.paramTypes.length < n) this.paramTypes.push(0);
  const index = n - 1;
  const name = `u${n}`;
  this.binds[name] = { kind: 'param', index };
  const t = this.paramTypes[index] ?? 0;
  if (t === 0) return unknownExpr(`@${name}`, { kind: 'param', index });
  const enumType = this.paramEnums.get(index);
  if (enumType !== undefined) {
    return {
      ...constExpr(`@${name}`, enumType.type),
      typlen: enumType.typlen,
      typeName: enumType.typeName,
      enumLabels: enumType.enumLabels as readonly string[],
    };
  }
  this.paramInputCheck(t, index);
  if (TYPES.get(t)?.elem !== undefined && !this.jsonArrays) {
    throw unsupported(`array parameter $${n} outside = ANY`);
  }
  const e = constExpr(`@${name}`, t);
  if (isTextType(t)) e.coll = 'default';
  return e;
}

/** Give an untyped parameter its type (Postgres's variable parameter hook). */
export function setParamType(this: StatementCompiler, e: Expr, type: number): number {
  if (e.unknown?.kind !== 'param' || !this.paramTypes) throw new NotLocal('internal: not a parameter');
  const i = e.unknown.index;
  const current = this.paramTypes[i] ?? 0;
  if (current !== 0 && current !== type)
    throw new NotLocal(`inconsistent types deduced for parameter $${i + 1}`);
  this.paramInputCheck(type, i);
  this.paramTypes[i] = type;
  return type;
}

/** Coerce an unknown-typed expression to `type` (literal input, NULL, parameter typing). */
export function resolveUnknown(this: StatementCompiler, e: Expr, type: number): Expr {
  const u = e.unknown;
  if (!u) return e;
  if (type === Oid.money) this.requireMoneyLocale();
  if (u.kind === 'param' && (type === Oid.money || type === Oid.bit || type === Oid.varbit)) {
    // As paramInputCheck: money follows lc_monetary, bit's binary form is not decoded.
    throw new NotLocal(`parameter of type ${typeName(type)}`);
  }
  if (TYPES.get(type)?.elem !== undefined && !this.jsonArrays) {
    if (u.kind === 'literal') return this.arrayLiteral(u.text, type, u.location);
    if (u.kind === 'null') return constExpr('NULL', type);
    throw unsupported(`${typeName(type)} value outside = ANY`);
  }
  const enumType = this.enums.get(type);
  if (enumType !== undefined) return this.enumConstant(e, enumType);
  let out: Expr;
  if (u.kind === 'null') out = constExpr('NULL', type);
  else if (u.kind === 'param') {
    this.setParamType(e, type);
    out = constExpr(e.sql, type);
  } else if (type === Oid.timestamptz && timestamptzNeedsZone(u.text)) {
    // Validated now (as if at UTC); the session's zone applies at run time.
    timestamptzInputAt(u.text, 0, 'timestamptz constant');
    this.bindCount++;
    const name = `z${this.bindCount}`;
    this.binds[name] = { kind: 'zoned', text: u.text };
    out = constExpr(`@${name}`, type);
  } else if (type === Oid.interval && /^-?infinity$/i.test(u.text)) {
    // interval_in accepts the infinities from Postgres 17 on; before, its
    // 22007 at the literal (DecodeInterval finds no unit), worded so.
    if ((this.ctx.serverVersionNum ?? 0) < 170000) {
      const err = new InputError('infinite interval before Postgres 17', {
        code: '22007',
        message: `invalid input syntax for type interval: "${u.text}"`,
      });
      out = constExpr(this.bindValue(this.inputFailed(err, u.location)), type);
    } else out = constExpr(this.bindValue(u.text.toLowerCase()), type);
  } else if (type === Oid.name) {
    // namein at run time: the bound value stays the literal's own text, so a
    // plan template learned from short constants cuts a long one too.
    out = constExpr(`${SqlFn.nameIn}(${this.bindValue(u.text)})`, type);
  } else if ((type === Oid.date || type === Oid.timestamp) && dependsOnDateStyle(type, u.text)) {
    // Read under the session's DateStyle at each run (router/plan.ts).
    this.bindCount++;
    const name = `d${this.bindCount}`;
    this.binds[name] = { kind: 'datestyled', type, text: u.text };
    out = constExpr(`@${name}`, type);
  } else {
    let value: Stored;
    try {
      value = inputValue(type, u.text, `${typeName(type)} constant`, this.ctx.serverVersionNum ?? 0);
    } catch (err) {
      // Postgres raises it at the literal while analysing: go on with NULL to
      // learn whether the rest of the statement is local (compiler.ts).
      value = this.inputFailed(err, u.location);
    }
    if (type === Oid.interval && /[+-]/.test(u.text)) {
      // Read as under IntervalStyle postgres; the router checks the style per run.
      this.bindCount++;
      const name = `v${this.bindCount}`;
      this.binds[name] = { kind: 'intervalstyled', value };
      out = constExpr(`@${name}`, type);
    } else {
      out = constExpr(
        type === Oid.bool ? (value === 1n ? '1' : value === 0n ? '0' : 'NULL') : this.bindValue(value),
        type,
      );
    }
    // A Const after parse analysis; numbers only (see Expr.foldable).
    if (value !== null && FOLDABLE_LITERAL_TYPES.has(type)) out.foldable = true;
  }
  if (isTextType(type)) out.coll = 'default';
  // A name constant has its type's collation, C (not the database's default).
  if (type === Oid.name) out.coll = 'C';
  return out;
}

/** Literal types whose Const may be folded over (src/router/plan-errors.ts). */
const FOLDABLE_LITERAL_TYPES: ReadonlySet<number> = new Set([
  Oid.int2,
  Oid.int4,
  Oid.int8,
  Oid.numeric,
  Oid.float4,
  Oid.float8,
]);

/** Whether a date/timestamp literal reads differently under DateStyle's field orders. */
function dependsOnDateStyle(type: number, text: string): boolean {
  try {
    inputValue(type, text, 'constant');
    return false;
  } catch (err) {
    return err instanceof NotLocal && err.message.endsWith(DATESTYLE_DEPENDENT);
  }
}

/**
 * An unknown-typed literal or NULL coerced to an enum type: enum_in accepts
 * exactly the labels (case and blanks included); anything else raises
 * 22P02 invalid input value for enum, which Postgres reports.
 */
export function enumConstant(this: StatementCompiler, e: Expr, enumType: Expr): Expr {
  const u = e.unknown as UnknownSrc;
  const labels = enumType.enumLabels as readonly string[];
  let sql: string;
  if (u.kind === 'null') sql = 'NULL';
  else if (u.kind === 'param') {
    // Typed by its context, as Postgres infers `status = $1`; the router checks the label at Bind.
    if (!this.paramTypes) throw new NotLocal('internal: not a parameter');
    const current = this.paramTypes[u.index] ?? 0;
    if (current !== 0 && current !== enumType.type) {
      throw new NotLocal(`inconsistent types deduced for parameter $${u.index + 1}`);
    }
    this.paramTypes[u.index] = enumType.type;
    this.paramEnums.set(u.index, enumType);
    sql = e.sql;
  } else if (!labels.includes(u.text)) {
    throw new NotLocal(
      `invalid input value for enum ${enumType.typeName}: ${JSON.stringify(u.text.slice(0, 40))}`,
    );
  } else sql = this.bindValue(u.text);
  return {
    ...constExpr(sql, enumType.type),
    typlen: enumType.typlen,
    typeName: enumType.typeName,
    enumLabels: labels,
  };
}

/** Unknown outputs of a select list become text (Postgres 10+). */
export function resolveToText(this: StatementCompiler, e: Expr): Expr {
  return e.unknown ? this.resolveUnknown(e, Oid.text) : e;
}

/** Implicit coercion of a typed (or unknown) expression to `type`, as in a common-type context. */
export function coerce(this: StatementCompiler, e: Expr, type: number): Expr {
  if (e.unknown) return this.resolveUnknown(e, type);
  if (e.type === type) return e;
  if (isIntType(e.type) && isIntType(type) && (INT_BITS[e.type] as number) <= (INT_BITS[type] as number)) {
    return { ...retype(e, type), origin: undefined };
  }
  // int4_numeric, i4tod: immutable and error-free, so they keep a constant foldable.
  const fold = e.foldable === true ? { foldable: true } : {};
  if (isIntType(e.type) && type === Oid.numeric)
    return { ...derived(`CAST(${e.sql} AS TEXT)`, type, -1, [e]), ...fold };
  if (isIntType(e.type) && type === Oid.float8)
    return { ...derived(`CAST(${e.sql} AS REAL)`, type, -1, [e]), ...fold };
  if (e.type === Oid.float4 && type === Oid.float8) {
    return derived(`${FloatFn.float4To8}(${e.sql})`, type, -1, [e]);
  }
  // A numeric literal: numeric_float8 reads the same text (an overflow forwards now).
  if (e.type === Oid.numeric && type === Oid.float8 && e.literal !== undefined) return this.float8Const(e);
  if (isIntType(e.type) && type === Oid.float4)
    return derived(`${FloatFn.intToFloat4}(${e.sql})`, type, -1, [e]);
  if (e.type === Oid.numeric && type === Oid.float4 && e.literal !== undefined) {
    return { ...constExpr(this.bindValue(float4Input(e.literal, 'float4 constant')), type), kids: [e] };
  }
  if ((e.type === Oid.varchar && type === Oid.text) || (e.type === Oid.text && type === Oid.varchar)) {
    return { ...retype(e, type), origin: undefined, typmod: -1 };
  }
  const name = this.nameCoercion(e, type);
  if (name) return name;
  throw new NotLocal(`coercion of ${e.typeName} to ${typeName(type)}`);
}

/** A boolean condition. */
export function predicate(this: StatementCompiler, node: Node, c: ExprCtx): Expr {
  const e = this.expr(node, c);
  if (e.unknown) {
    if (e.unknown.kind === 'null') throw unsupported('constant condition');
    return this.resolveUnknown(e, Oid.bool);
  }
  if (e.type !== Oid.bool) {
    if (e.localColumn || e.origin) throw new NotLocal(`non-boolean column ${colName(e)} used as condition`);
    throw new NotLocal(`argument of ${c.clause.toUpperCase()} must be type boolean, not ${e.typeName}`);
  }
  return e;
}

export function boolExpr(this: StatementCompiler, b: BoolExpr, c: ExprCtx): Expr {
  const args = (b.args ?? []).map((a) => this.predicate(a, c));
  switch (b.boolop) {
    case 'AND_EXPR':
      return derived(`(${args.map((a) => a.sql).join(' AND ')})`, Oid.bool, -1, args);
    case 'OR_EXPR':
      return derived(`(${args.map((a) => a.sql).join(' OR ')})`, Oid.bool, -1, args);
    case 'NOT_EXPR':
      return derived(`(NOT ${args[0]?.sql ?? ''})`, Oid.bool, -1, args);
    default:
      throw unsupported(`boolean operator ${b.boolop}`);
  }
}

export function nullTest(this: StatementCompiler, n: NullTest, c: ExprCtx): Expr {
  if (!n.arg) throw unsupported('IS NULL without argument');
  if (isRowExpr(n.arg)) return this.rowNullTest(n.arg, n.nulltesttype === 'IS_NOT_NULL', c);
  if (n.argisrow) throw unsupported('row IS NULL');
  let e = this.expr(n.arg, c);
  if (e.unknown?.kind === 'param') throw new NotLocal('could not determine data type of parameter');
  if (e.unknown) e = this.resolveUnknown(e, Oid.text);
  return derived(`(${e.sql} IS ${n.nulltesttype === 'IS_NOT_NULL' ? 'NOT ' : ''}NULL)`, Oid.bool, -1, [e]);
}

export function booleanTest(this: StatementCompiler, b: BooleanTest, c: ExprCtx): Expr {
  if (!b.arg) throw unsupported('boolean test without argument');
  let e = this.expr(b.arg, c);
  if (e.unknown) e = this.resolveUnknown(e, Oid.bool);
  if (e.type !== Oid.bool) throw unsupported('IS TRUE/FALSE on a non-boolean column');
  const test: Record<string, string> = {
    IS_TRUE: 'IS 1',
    IS_NOT_TRUE: 'IS NOT 1',
    IS_FALSE: 'IS 0',
    IS_NOT_FALSE: 'IS NOT 0',
    IS_UNKNOWN: 'IS NULL',
    IS_NOT_UNKNOWN: 'IS NOT NULL',
  };
  const t = test[b.booltesttype ?? ''];
  if (!t) throw unsupported(`boolean test ${b.booltesttype}`);
  return derived(`(${e.sql} ${t})`, Oid.bool, -1, [e]);
}

export function aExpr(this: StatementCompiler, e: A_Expr, c: ExprCtx): Expr {
  const kind = e.kind ?? 'AEXPR_OP';
  const op = operatorName(e);
  switch (kind) {
    case 'AEXPR_OP': {
      if (op === undefined) throw unsupported(describeNode('A_Expr', e));
      if (!e.lexpr) {
        if (op === '-' && e.rexpr) return this.negate(this.expr(e.rexpr, c), c);
        if (op === '~' && e.rexpr) {
          const bits = this.bitNot(this.expr(e.rexpr, c));
          if (bits) return bits;
          throw unsupported('prefix operator ~');
        }
        const prefixed =
          e.rexpr && (op === '@' || op === '|/' || op === '||/') ? this.expr(e.rexpr, c) : undefined;
        const float =
          prefixed && this.floatFunction(op === '@' ? 'abs' : op === '|/' ? 'sqrt' : 'cbrt', [prefixed], c);
        if (float) return float;
        throw unsupported(`prefix operator ${op}`);
      }
      if (!e.rexpr) throw unsupported(`postfix operator ${op}`);
      if (COMPARISON_OPS.has(op)) {
        if (isRowExpr(e.lexpr) || isRowExpr(e.rexpr)) return this.rowComparison(op, e.lexpr, e.rexpr, c);
        return this.comparison(op, this.expr(e.lexpr, c), this.expr(e.rexpr, c), c.clause);
      }
      if (ARITH_OPS.has(op)) return this.arith(op, this.expr(e.lexpr, c), this.expr(e.rexpr, c), c);
      if (op === '^') {
        const [l, r] = [this.expr(e.lexpr, c), this.expr(e.rexpr, c)];
        return this.numericMathCall('power', [l, r], c) ?? this.floatPower(l, r, c);
      }
      if (op === '||') return this.concat(this.expr(e.lexpr, c), this.expr(e.rexpr, c));
      if (JSON_OPS.has(op)) return this.jsonOperator(op, e.lexpr, e.rexpr, c);
      if (op === '&&') return this.arrayContainment('&&', this.expr(e.lexpr, c), this.expr(e.rexpr, c));
      if (BIT_OPS.has(op)) {
        const bits = this.bitOperator(op, this.expr(e.lexpr, c), this.expr(e.rexpr, c), c);
        if (bits) return bits;
      }
      throw unsupported(describeNode('A_Expr', e));
    }
    case 'AEXPR_DISTINCT':
    case 'AEXPR_NOT_DISTINCT': {
      if (op !== '=') throw unsupported('IS DISTINCT FROM with a non-= operator');
      if (isRowExpr(e.lexpr) || isRowExpr(e.rexpr)) {
        return this.rowComparison(
          kind === 'AEXPR_DISTINCT' ? 'IS NOT' : 'IS',
          e.lexpr as Node,
          e.rexpr as Node,
          c,
        );
      }
      const l = this.expr(e.lexpr as Node, c);
      const r = this.expr(e.rexpr as Node, c);
      return this.comparison(kind === 'AEXPR_DISTINCT' ? 'IS NOT' : 'IS', l, r, c.clause);
    }
    case 'AEXPR_NULLIF':
      return this.nullif(this.expr(e.lexpr as Node, c), this.expr(e.rexpr as Node, c), c);
    case 'AEXPR_IN':
      return this.inList(e, c);
    case 'AEXPR_OP_ANY':
    case 'AEXPR_OP_ALL':
      return this.anyAll(e, c);
    case 'AEXPR_LIKE':
    case 'AEXPR_ILIKE':
      return this.like(e, c);
    case 'AEXPR_BETWEEN':
    case 'AEXPR_NOT_BETWEEN':
    case 'AEXPR_BETWEEN_SYM':
    case 'AEXPR_NOT_BETWEEN_SYM':
      return this.between(e, c);
    default:
      throw unsupported(describeNode('A_Expr', e));
  }
}

export function collateClause(this: StatementCompiler, cc: CollateClause, c: ExprCtx): Expr {
  const names = (cc.collname ?? []).map((n) => ('String' in n ? (n.String.sval ?? '') : ''));
  const coll =
    names.length === 2 && names[0] === 'pg_catalog' ? names[1] : names.length === 1 ? names[0] : undefined;
  // C, POSIX and the collations upstream orders by code point (ucs_basic, pg_c_utf8, C.utf8, ...).
  if (coll === undefined || !(coll === 'default' || isCCollation(coll, this.ctx)))
    throw unsupported('COLLATE');
  let e = this.expr(cc.arg as Node, c);
  if (e.unknown) e = this.resolveUnknown(e, Oid.text);
  if (!isTextType(e.type)) throw new NotLocal(`collations are not supported by type ${e.typeName}`);
  return { ...e, coll, explicitColl: true, origin: undefined, kids: [e] };
}

export function subLink(this: StatementCompiler, s: SubLink, c: ExprCtx): Expr {
  // In a grouped query, outer references from the select list or HAVING
  // must be grouped, which the subquery's SQL hides from checkGrouped; in
  // WHERE/ON it runs before grouping, as in an ungrouped query.
  if (c.level.grouped && c.clause !== 'where' && c.clause !== 'on') {
    throw unsupported('subquery in a grouped query');
  }
  const q = s.subselect;
  if (!q) throw unsupported('subquery');
  const [kind, body] = nodeKind(q);
  if (kind !== 'SelectStmt') throw unsupported('subquery');
  c.level.hasSublinks = true;
  switch (s.subLinkType) {
    case 'EXISTS_SUBLINK': {
      const sub = this.selectStmt(body as SelectStmt, c.level, c.level.ctes, false, false);
      const e = derived(`EXISTS (${sub.build(sub.outs.map((o) => o.expr))})`, Oid.bool, -1, []);
      return { ...e, constant: false };
    }
    case 'ANY_SUBLINK':
    case 'ALL_SUBLINK': {
      const op = operatorName({ name: s.operName }) ?? '=';
      const any = s.subLinkType === 'ANY_SUBLINK';
      if (!((any && op === '=') || (!any && op === '<>')))
        throw unsupported(`${op} ${any ? 'ANY' : 'ALL'} (subquery)`);
      if (!s.testexpr) throw unsupported('subquery');
      if (isRowExpr(s.testexpr))
        return this.rowSubLink(any ? 'any' : 'all', op, s.testexpr, body as SelectStmt, c);
      const l = this.expr(s.testexpr, c);
      const sub = this.selectStmt(body as SelectStmt, c.level, c.level.ctes, false, false);
      if (sub.outs.length !== 1) throw new NotLocal('subquery has too many columns');
      const out = (sub.outs[0] as Out).expr;
      const a = this.alias();
      const probe: Expr = { ...out, sql: `${a}.c0`, origin: undefined, kids: [] };
      const t = this.typedComparison(l, probe, true);
      const sql = `(${t.lsql} ${any ? 'IN' : 'NOT IN'} (SELECT ${t.rsql} FROM (${sub.build([out])}) AS ${a}))`;
      return { ...derived(sql, Oid.bool, -1, [l]), constant: false };
    }
    case 'EXPR_SUBLINK': {
      // A scalar subquery: its only row's value, NULL without rows; more
      // than one row is an error in Postgres (the aggregate aborts the run).
      const sub = this.selectStmt(body as SelectStmt, c.level, c.level.ctes, false, false);
      if (sub.outs.length !== 1) throw new NotLocal('subquery must return only one column');
      const out = (sub.outs[0] as Out).expr;
      const sql = `(SELECT ${SqlFn.single}(c0) FROM (${sub.build([out])}))`;
      const e = { ...derived(sql, out.type, out.typmod, []), constant: false };
      e.typlen = out.typlen;
      e.typeName = out.typeName;
      if (out.coll !== undefined) e.coll = out.coll;
      if (out.enumLabels !== undefined) e.enumLabels = out.enumLabels;
      return this.errorCapable(e, c);
    }
    default:
      throw unsupported(s.subLinkType === 'ARRAY_SUBLINK' ? 'ARRAY(subquery)' : 'subquery');
  }
}
