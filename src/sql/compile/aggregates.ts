/** Aggregates: count/sum/avg/min/max, bool_and/bool_or/every, bit_and/bit_or/bit_xor with FILTER and DISTINCT (count only), and the ordered aggregates string_agg/array_agg. */
import type { FuncCall, Node, SortBy } from 'libpg-query';
import { NotLocal } from '../../errors.js';
import { SqlFn } from '../functions.js';
import { NumFn } from '../numeric-functions.js';
import { nodeKind } from '../parse.js';
import { isIntType, Oid, TYPES } from '../pgtypes.js';
import { cmpClassOfExpr, comparable, sortClass } from './comparable.js';
import type { StatementCompiler } from './compiler.js';
import { unsupported } from './support.js';
import type { Expr, ExprCtx } from './types.js';
import { aggExpr, colName, constExpr, derived, hasLocalVars } from './values.js';

export function aggregate(this: StatementCompiler, name: string, f: FuncCall, c: ExprCtx): Expr {
  if (c.clause === 'where' || c.clause === 'on' || c.clause === 'group' || c.clause === 'limit') {
    throw new NotLocal(`aggregate functions are not allowed in ${c.clause.toUpperCase()}`);
  }
  if (c.inAgg) throw new NotLocal('aggregate function calls cannot be nested');
  const inner: ExprCtx = { ...c, inAgg: true };
  // FILTER (WHERE p): every supported aggregate ignores NULL inputs, so
  // agg(x) FILTER (WHERE p) is agg(CASE WHEN p THEN x END).
  const filter = f.agg_filter ? this.predicate(f.agg_filter, inner) : undefined;
  if (filter?.agg) throw new NotLocal('aggregate functions are not allowed in FILTER');
  const filtered = (a: Expr): Expr =>
    filter
      ? {
          ...derived(`(CASE WHEN ${filter.sql} THEN ${a.sql} END)`, a.type, a.typmod, [filter, a]),
          coll: a.coll,
        }
      : a;
  if (f.agg_order && f.agg_order.length > 0) this.ignoredAggOrder(f, inner);
  if (f.agg_star) {
    if (name !== 'count' || (f.args?.length ?? 0) > 0) throw unsupported(`${name}(*)`);
    return aggExpr(filter ? `count(${filtered(constExpr('1', Oid.int4)).sql})` : 'count(*)', Oid.int8);
  }
  const args = (f.args ?? []).map((a) => this.expr(a, inner));
  if (args.length !== 1) throw unsupported(`function call ${name}()`);
  let a = args[0] as Expr;
  if (a.unknown) {
    if (a.unknown.kind === 'param') throw unsupported(`${name}() of a parameter`);
    a = this.resolveUnknown(a, Oid.text);
  }
  a = filtered(a);
  if (a.agg) throw new NotLocal('aggregate function calls cannot be nested');
  // An aggregate of outer-level columns only belongs to that outer query.
  if (!a.constant && !hasLocalVars(a)) throw unsupported('aggregate of an outer query column');
  const money = this.moneyAggregate(name, a);
  if (money) {
    if (f.agg_distinct) throw unsupported(`${name}(DISTINCT)`);
    return money;
  }
  if (f.agg_distinct) {
    if (name !== 'count') throw unsupported(`${name}(DISTINCT)`);
    // Distinct under Postgres's equality: the comparable key (numeric 1.5 = 1.50, float -0 = 0).
    return aggExpr(`count(DISTINCT ${this.groupForm(a, 'count(DISTINCT)').sql})`, Oid.int8);
  }
  switch (name) {
    case 'count':
      return aggExpr(`count(${a.sql})`, Oid.int8);
    case 'bool_and':
    case 'every':
    case 'bool_or':
      // Stored 0/1: the least (bool_and) or greatest (bool_or) non-NULL input, NULL over none.
      if (a.type !== Oid.bool) throw new NotLocal(`${name}() of ${a.typeName}`);
      return aggExpr(`${name === 'bool_or' ? 'max' : 'min'}(${a.sql})`, Oid.bool);
    case 'bit_and':
    case 'bit_or':
    case 'bit_xor': {
      // Integers keep their type; bit strings must share one length (an error otherwise: forwarded).
      if (!isIntType(a.type) && a.type !== Oid.bit && a.type !== Oid.varbit)
        throw new NotLocal(`${name}() of ${a.typeName}`);
      const op = name === 'bit_and' ? '&' : name === 'bit_or' ? '|' : '#';
      // Postgres has bit_and(bit) only: a varbit argument is read as bit, and so is the result.
      return aggExpr(`${NumFn.bitAgg}('${op}', ${a.sql})`, isIntType(a.type) ? a.type : Oid.bit);
    }
    case 'avg':
      // int8_avg: the int8 sum divided by the count as numeric.
      if (a.type === Oid.int2 || a.type === Oid.int4) {
        return aggExpr(`${SqlFn.intAvg}(sum(${a.sql}), count(${a.sql}))`, Oid.numeric);
      }
      if (a.type === Oid.numeric) return aggExpr(`${SqlFn.numericAvg}(${a.sql})`, Oid.numeric);
      // numeric_poly_avg: the exact int8 sum divided by the count.
      if (a.type === Oid.int8) return aggExpr(`${SqlFn.numericAvg}(CAST(${a.sql} AS TEXT))`, Oid.numeric);
      throw new NotLocal(`avg() of ${a.typeName}`);
    case 'sum':
      if (a.type === Oid.int2 || a.type === Oid.int4) return aggExpr(`sum(${a.sql})`, Oid.int8);
      // int8 sums accumulate exactly as numeric (no overflow).
      if (a.type === Oid.int8) return aggExpr(`${SqlFn.numericSum}(CAST(${a.sql} AS TEXT))`, Oid.numeric);
      if (a.type === Oid.numeric) return aggExpr(`${SqlFn.numericSum}(${a.sql})`, Oid.numeric);
      throw new NotLocal(`sum() of ${a.typeName}`);
    default: {
      // min / max
      if (isIntType(a.type)) return aggExpr(`${name}(${a.sql})`, a.type);
      if (a.type === Oid.text || a.type === Oid.varchar) {
        this.requireCollation(a.coll, false, colName(a));
        const e = aggExpr(`${name}(${a.sql})`, Oid.text);
        e.coll = a.coll;
        return e;
      }
      // time_out text is fixed width: its order is the times'.
      if (a.type === Oid.time) return aggExpr(`${name}(${a.sql})`, Oid.time);
      if (a.type === Oid.date || a.type === Oid.timestamp) {
        // By the key (BC and 5-digit years order differently from their text), returning the value.
        const cls = a.type === Oid.date ? 'date' : 'ts';
        return aggExpr(
          `${SqlFn.extreme}(${name === 'min' ? -1 : 1}, ${comparable(a, cls)}, ${a.sql})`,
          a.type,
        );
      }
      if (a.type === Oid.bpchar) {
        // Compared without trailing blanks; equal keys with different padding are ambiguous.
        this.requireCollation(a.coll, false, colName(a));
        const e = aggExpr(
          `${SqlFn.extreme}(${name === 'min' ? -1 : 1}, ${comparable(a, 'bpchar')}, ${a.sql})`,
          a.type,
        );
        e.coll = a.coll;
        return e;
      }
      const cls = cmpClassOfExpr(a);
      if (cls === 'numeric') {
        // The key is computed inside the aggregate: one call per row, not two.
        return aggExpr(`${SqlFn.extremeNumeric}(${name === 'min' ? -1 : 1}, ${a.sql})`, a.type);
      }
      if (cls === 'tstz' || cls === 'interval' || cls === 'float8' || cls === 'float4') {
        const dir = name === 'min' ? -1 : 1;
        return aggExpr(`${SqlFn.extreme}(${dir}, ${comparable(a, cls)}, ${a.sql})`, a.type);
      }
      if (cls === 'enum') {
        // enum_smaller / enum_larger: by sort order; equal positions are the same label.
        const dir = name === 'min' ? -1 : 1;
        return {
          ...aggExpr(`${SqlFn.extreme}(${dir}, ${comparable(a, cls)}, ${a.sql})`, a.type),
          typlen: a.typlen,
          typeName: a.typeName,
          enumLabels: a.enumLabels as readonly string[],
        };
      }
      throw new NotLocal(`${name}() of ${a.typeName}`);
    }
  }
}

/** One key of an aggregate's ORDER BY, compiled: USING operators and untyped constants forward. */
function aggOrderKey(this: StatementCompiler, item: Node, inner: ExprCtx): { sb: SortBy; e: Expr } {
  const [kind] = nodeKind(item);
  if (kind !== 'SortBy') throw unsupported(kind);
  const sb = (item as { SortBy: SortBy }).SortBy;
  if (sb.sortby_dir === 'SORTBY_USING' || (sb.useOp && sb.useOp.length > 0))
    throw unsupported('ORDER BY USING');
  const e = this.expr(sb.node as Node, inner);
  if (e.unknown) throw new NotLocal('aggregate ORDER BY a constant of unknown type');
  return { sb, e };
}

/**
 * `count/sum/avg/min/max(x ORDER BY k)`: these aggregates' results do not
 * depend on their input order for the types compiled here (integer and
 * numeric sums are exact), so the ORDER BY only has to be valid: keys of
 * sortable types that raise no error (Postgres sorts, so evaluates, every
 * key). With DISTINCT Postgres requires the keys among the arguments
 * (42P10): forwarded.
 */
export function ignoredAggOrder(this: StatementCompiler, f: FuncCall, inner: ExprCtx): void {
  if (f.agg_distinct) throw unsupported('DISTINCT aggregate with ORDER BY');
  for (const item of f.agg_order ?? []) {
    const { e } = aggOrderKey.call(this, item, inner);
    if (e.agg) throw new NotLocal('aggregate function calls cannot be nested');
    if (e.errorProne) throw new NotLocal('aggregate ORDER BY an expression that may raise an error');
    // A key of outer columns only could move the aggregate to the outer query (with a constant argument).
    if (!e.constant && !hasLocalVars(e)) throw unsupported('aggregate ORDER BY an outer query column');
    // Throws NotLocal for a type without a reproduced ordering (Postgres may reject it: 42883).
    sortClass(e, this.ctx);
  }
}

/**
 * string_agg(text, text ORDER BY ...) and array_agg(x ORDER BY ...): the
 * rows sorted by the ORDER BY keys (compared like ORDER BY); rows that tie
 * on every key but differ abort the run, since Postgres's order among them
 * is arbitrary. Without ORDER BY the input order is arbitrary: not local,
 * unless with DISTINCT, which sorts by the value (distinctCheck).
 */
export function orderedAggregate(this: StatementCompiler, name: string, f: FuncCall, c: ExprCtx): Expr {
  if (c.clause === 'where' || c.clause === 'on' || c.clause === 'group' || c.clause === 'limit') {
    throw new NotLocal(`aggregate functions are not allowed in ${c.clause.toUpperCase()}`);
  }
  if (c.inAgg) throw new NotLocal('aggregate function calls cannot be nested');
  if (f.agg_filter || f.agg_star || f.agg_within_group || f.func_variadic) {
    throw unsupported(`${name}() with FILTER or *`);
  }
  const distinct = f.agg_distinct === true;
  if (!distinct && (!f.agg_order || f.agg_order.length === 0))
    throw new NotLocal(`${name}() without ORDER BY (input order arbitrary)`);
  const inner: ExprCtx = { ...c, inAgg: true };
  const args = (f.args ?? []).map((a) => this.expr(a, inner));
  if (distinct) distinctCheck(name, f, args);
  const keys = (f.agg_order ?? []).map((item) => {
    const { sb, e } = aggOrderKey.call(this, item, inner);
    const cls = sortClass(e, this.ctx);
    const desc = sb.sortby_dir === 'SORTBY_DESC';
    const nullsFirst =
      sb.sortby_nulls === 'SORTBY_NULLS_FIRST'
        ? true
        : sb.sortby_nulls === 'SORTBY_NULLS_LAST'
          ? false
          : desc;
    return { e, sql: comparable(e, cls), spec: `${desc ? 'D' : 'A'}${nullsFirst ? 'F' : 'L'}` };
  });
  for (const a of [...args, ...keys.map((k) => k.e)]) {
    if (a.agg) throw new NotLocal('aggregate function calls cannot be nested');
  }
  if (args.length !== (name === 'string_agg' ? 2 : 1)) throw unsupported(`${name}() with these arguments`);
  const value = args[0] as Expr;
  if (distinct && keys.length === 0) {
    // DISTINCT alone: Postgres sorts the values (ascending, NULLs last) to drop the duplicates.
    const v = value.unknown ? this.resolveUnknown(value, Oid.text) : value;
    keys.push({ e: v, sql: comparable(v, sortClass(v, this.ctx)), spec: 'AL' });
  }
  // `U|`: equal values (under these types' equality, equal stored values) are kept once.
  const spec = `${distinct ? 'U|' : ''}${keys.map((k) => k.spec).join(',')}`;
  const keySql = keys.map((k) => k.sql).join(', ');
  if (name === 'string_agg') {
    const [v, d] = args.map((a) => (a.unknown ? this.resolveUnknown(a, Oid.text) : a)) as [Expr, Expr];
    for (const a of [v, d]) {
      if (a.type !== Oid.text && a.type !== Oid.varchar) throw new NotLocal(`string_agg() of ${a.typeName}`);
    }
    const e = aggExpr(`${SqlFn.orderedAgg}('string', '${spec}', ${v.sql}, ${d.sql}, ${keySql})`, Oid.text);
    e.coll = v.coll;
    return e;
  }
  let v = value;
  if (v.unknown) v = this.resolveUnknown(v, Oid.text);
  const elem = isIntType(v.type) ? 'int' : v.type === Oid.text || v.type === Oid.varchar ? 'text' : undefined;
  const arrayType = TYPES.get(v.type)?.array;
  if (elem === undefined || arrayType === undefined) throw new NotLocal(`array_agg() of ${v.typeName}`);
  return aggExpr(`${SqlFn.orderedAgg}('${elem}', '${spec}', ${v.sql}, NULL, ${keySql})`, arrayType);
}

/** A parse node without its `location` fields (Postgres compares the transformed expressions). */
function shape(n: unknown): string {
  return JSON.stringify(n, (k, v) => (k === 'location' ? undefined : v));
}

/**
 * DISTINCT in string_agg/array_agg: Postgres requires every ORDER BY key
 * among the arguments (42P10 otherwise); only keys that are the value
 * itself are local, and string_agg's delimiter must be a constant (the
 * duplicates compared are (value, delimiter) pairs, sorted by both).
 */
function distinctCheck(name: string, f: FuncCall, args: Expr[]): void {
  const valueNode = shape(f.args?.[0]);
  for (const item of f.agg_order ?? []) {
    const sb = (item as { SortBy?: SortBy }).SortBy;
    if (!sb || shape(sb.node) !== valueNode)
      throw new NotLocal(`${name}(DISTINCT) ordered by other than its value`);
  }
  if (name === 'string_agg' && !(args[1]?.constant ?? false))
    throw new NotLocal('string_agg(DISTINCT) with a non-constant delimiter');
}
