/** ORDER BY and window functions (OVER, frames, named windows). */
import type { FuncCall, Node, SortBy } from 'libpg-query';
import { NotLocal } from '../../errors.js';
import { SqlFn } from '../functions.js';
import { resolveOver, type WindowSpec } from '../named-windows.js';
import { nodeKind } from '../parse.js';
import { isIntType, Oid } from '../pgtypes.js';
import { sortWithoutUsing } from '../sort-using.js';
import { integerRangeOffset, windowFrame } from '../window-frames.js';
import { datetimeRangeOffsets } from '../window-range.js';
import { cmpClassOfExpr, comparable, sortClass, sortKey } from './comparable.js';
import type { StatementCompiler } from './compiler.js';
import { containsWindow, DETERMINISTIC_COLLATIONS, describeNode, unsupported } from './support.js';
import type { Expr, ExprCtx, Level, Out } from './types.js';
import { derived } from './values.js';

export function sortClause(
  this: StatementCompiler,
  items: Node[],
  level: Level,
  outs: Out[],
  distinct: boolean,
): { expr: Expr; sb: SortBy }[] {
  return items.map((item) => {
    const [kind, body] = nodeKind(item);
    if (kind !== 'SortBy') throw unsupported(kind);
    const sb = sortWithoutUsing(body as SortBy);
    if (!sb.node) throw unsupported('empty ORDER BY item');
    const idx = this.outputIndex(sb.node, outs);
    let expr: Expr;
    if (idx !== undefined) expr = (outs[idx] as Out).expr;
    else {
      const [nkind, nbody] = nodeKind(sb.node);
      if (
        nkind !== 'ColumnRef' &&
        nkind !== 'A_Expr' &&
        nkind !== 'FuncCall' &&
        nkind !== 'TypeCast' &&
        nkind !== 'CoalesceExpr' &&
        nkind !== 'CaseExpr' &&
        nkind !== 'CollateClause' &&
        nkind !== 'GroupingFunc'
      ) {
        throw unsupported(`${describeNode(nkind, nbody)} in ORDER BY`);
      }
      try {
        expr = this.expr(sb.node, { level, clause: 'order', inAgg: false });
      } catch (err) {
        if (
          err instanceof NotLocal &&
          err.reason.startsWith('unsupported: ') &&
          !err.reason.endsWith(' in ORDER BY')
        )
          throw new NotLocal(`${err.reason} in ORDER BY`);
        throw err;
      }
      if (distinct && !outs.some((o) => o.expr.sql === expr.sql)) {
        throw new NotLocal('for SELECT DISTINCT, ORDER BY expressions must appear in select list');
      }
    }
    if (expr.unknown) throw new NotLocal('ORDER BY a constant of unknown type');
    sortClass(expr, this.ctx);
    return { expr, sb };
  });
}

/**
 * A window function call in the select list (of a grouped query too). SQLite
 * evaluates windows like Postgres (after WHERE, before DISTINCT/ORDER
 * BY/LIMIT, default frame RANGE UNBOUNDED PRECEDING to CURRENT ROW with
 * peers). Functions whose value depends on the order among peers
 * (row_number, ntile, lag, lead) abort the run when a row has a peer:
 * Postgres's answer would depend on its sort's tie order.
 */
export function windowCall(this: StatementCompiler, name: string, f: FuncCall, c: ExprCtx): Expr {
  if (c.clause !== 'select')
    throw new NotLocal(`window functions are not allowed in ${c.clause.toUpperCase()}`);
  if (c.inAgg) throw new NotLocal('aggregate function calls cannot contain window function calls');
  // Over a grouped query the window reads the groups (after HAVING), in
  // SQLite as in Postgres; GROUPING SETS compile each set apart (forwarded).
  if (c.level.groupingSet) throw unsupported('window function in a query with GROUPING SETS');
  const w = resolveOver(f.over as WindowSpec, c.level.windows);
  if (f.agg_filter || f.agg_distinct || (f.agg_order && f.agg_order.length > 0) || f.agg_within_group) {
    throw unsupported(`${name}() OVER with FILTER, DISTINCT or ORDER BY`);
  }
  const ctx: ExprCtx = { ...c, clause: 'select' };
  const parts = (w.partitionClause ?? []).map((n) => {
    const e = this.expr(n, ctx);
    if (e.unknown) throw new NotLocal('PARTITION BY a constant of unknown type');
    if (containsWindow(n)) throw new NotLocal('window function calls cannot be nested');
    const cls = cmpClassOfExpr(e);
    if (cls === undefined) throw new NotLocal(`PARTITION BY on type ${e.typeName}`);
    if (
      (cls === 'text' || cls === 'bpchar') &&
      !(e.coll !== undefined && DETERMINISTIC_COLLATIONS.has(e.coll))
    ) {
      throw new NotLocal(`PARTITION BY on text with collation ${e.coll ?? 'unknown'}`);
    }
    return { e, key: comparable(e, cls) };
  });
  const orders = (w.orderClause ?? []).map((item) => {
    const [kind] = nodeKind(item);
    if (kind !== 'SortBy') throw unsupported(kind);
    const sb = (item as { SortBy: SortBy }).SortBy;
    if (sb.sortby_dir === 'SORTBY_USING' || (sb.useOp && sb.useOp.length > 0))
      throw unsupported('ORDER BY USING');
    if (containsWindow(sb.node)) throw new NotLocal('window function calls cannot be nested');
    const e = this.expr(sb.node as Node, ctx);
    if (e.unknown) throw new NotLocal('window ORDER BY a constant of unknown type');
    return { e, key: sortKey(e, { sb }, this.ctx) };
  });
  // RANGE offsets: one ORDER BY key (else Postgres's 42P20), of an integer type compared as
  // stored, or a date/time type through an integer key (src/sql/window-range.ts).
  const only = orders.length === 1 ? orders[0] : undefined;
  const integerKey = only !== undefined && isIntType(only.e.type) && only.key.startsWith(`${only.e.sql} `);
  const datetime = only !== undefined && !integerKey ? datetimeRangeOffsets(only.e.type) : undefined;
  let rangeKeyed = false;
  const rangeOffset = integerKey
    ? integerRangeOffset
    : datetime
      ? (node: Node | undefined, what: string): string => {
          rangeKeyed = true;
          return datetime.offset(node, what);
        }
      : undefined;
  const frame = windowFrame(w, orders.length > 0, rangeOffset);
  if (rangeKeyed && only && datetime) {
    const dir = / (ASC|DESC) NULLS (FIRST|LAST)$/.exec(only.key)?.[0] ?? '';
    only.key = `${datetime.key(only.e.sql)}${dir}`;
  }
  let spec = '';
  if (parts.length > 0) spec += `PARTITION BY ${parts.map((p) => p.key).join(', ')}`;
  if (orders.length > 0) spec += `${spec ? ' ' : ''}ORDER BY ${orders.map((o) => o.key).join(', ')}`;
  const kids = [...parts.map((p) => p.e), ...orders.map((o) => o.e)];
  // The frame matters to aggregates only (ranking functions and lag/lead ignore it).
  const over = `OVER (${spec}${frame.sql ? `${spec ? ' ' : ''}${frame.sql}` : ''})`;
  const peers = `count(*) OVER (${spec}${orders.length > 0 ? '' : ' ORDER BY 1'} RANGE BETWEEN CURRENT ROW AND CURRENT ROW)`;
  const abort = `${SqlFn.notLocal}('${name}() over rows Postgres orders arbitrarily')`;
  /**
   * For values that depend on the current row's own position only
   * (row_number, ntile, a count of ROWS, a key at an offset): the run
   * aborts when the current row has a peer.
   */
  const tieFree = (sql: string): string => `(CASE WHEN ${peers} > 1 THEN ${abort} ELSE ${sql} END)`;
  /**
   * For values read from another row (lag/lead, first/last/nth_value, a
   * ROWS frame's edges): that row's place among its own peers is arbitrary
   * in Postgres, and the row at that place may not be one this run
   * evaluates (LIMIT, a filter above), so checking the current row is not
   * enough. The whole partition must be free of ties: its number of peer
   * groups (dense_rank counted from both ends) equals its number of rows.
   * Every row of the partition computes the same answer.
   */
  const partitionTieFree = (sql: string): string => {
    if (orders.length === 0) return tieFree(sql);
    const reversed = orders.map((o) => reverseSortKey(o.key)).join(', ');
    const partSpec = parts.length > 0 ? `PARTITION BY ${parts.map((p) => p.key).join(', ')}` : '';
    const groups = `dense_rank() OVER (${spec}) + dense_rank() OVER (${partSpec}${partSpec ? ' ' : ''}ORDER BY ${reversed}) - 1`;
    return `(CASE WHEN ${groups} < count(*) OVER (${partSpec}) THEN ${abort} ELSE ${sql} END)`;
  };
  /**
   * An aggregate over a ROWS frame short of the partition: with one end
   * unbounded and the other the current row, its rows are whole peer
   * groups once the current row has none; a bound at an offset reaches a
   * row whose place among its peers is arbitrary. count(*) counts positions.
   */
  const framed = (sql: string, countsRows = false): string =>
    frame.orderSensitive === false
      ? sql
      : frame.orderSensitive === 'current' || countsRows
        ? tieFree(sql)
        : partitionTieFree(sql);
  const args = (f.args ?? []).map((a) => this.expr(a, ctx));
  if ((f.args ?? []).some(containsWindow)) throw new NotLocal('window function calls cannot be nested');
  const win = (sql: string, type: number, typmod = -1, argKids: Expr[] = []): Expr => ({
    ...derived(sql, type, typmod, [...kids, ...argKids]),
    constant: false,
    window: true,
  });
  const noArgs = (): void => {
    if (args.length > 0 || f.agg_star) throw unsupported(`${name}() with arguments`);
  };
  switch (name) {
    case 'row_number':
      noArgs();
      return win(tieFree(`row_number() ${over}`), Oid.int8);
    case 'rank':
    case 'dense_rank':
      noArgs();
      return win(`${name}() ${over}`, Oid.int8);
    case 'percent_rank':
    case 'cume_dist':
      // Both are one float8 division of row counts, in Postgres and SQLite.
      noArgs();
      return win(`${name}() ${over}`, Oid.float8);
    case 'ntile': {
      const n = args[0];
      if (args.length !== 1 || !n || n.unknown || n.type !== Oid.int4 || n.sql.startsWith('@u')) {
        throw unsupported('ntile() with a non-constant argument');
      }
      const value = this.binds[n.sql.slice(1)];
      if (value?.kind !== 'value' || typeof value.value !== 'bigint' || value.value <= 0n) {
        throw new NotLocal('argument of ntile must be greater than zero');
      }
      return win(tieFree(`ntile(${n.sql}) ${over}`), Oid.int4, -1, [n]);
    }
    case 'lag':
    case 'lead': {
      if (args.length < 1 || args.length > 2) throw unsupported(`${name}() with a default`);
      let x = args[0] as Expr;
      if (x.unknown) x = this.resolveUnknown(x, Oid.text);
      let offset = '';
      let k = 1n;
      if (args.length === 2) {
        const o = args[1] as Expr;
        const v = o.unknown || o.type !== Oid.int4 ? undefined : this.binds[o.sql.slice(1)];
        if (v?.kind !== 'value' || typeof v.value !== 'bigint' || v.value < 0n) {
          throw unsupported(`${name}() with a non-constant or negative offset`);
        }
        offset = `, ${o.sql}`;
        k = v.value;
      }
      // The value at k rows away: of an integer ORDER BY key it is the same
      // whichever peer is there, so only the current row's place matters;
      // any other value is that row's, whose place among its peers is
      // arbitrary. An offset of 0 reads the current row.
      const call = `${name}(${x.sql}${offset}) ${over}`;
      const keyed = isIntType(x.type) && orders.some((o) => o.e.sql === x.sql);
      // exprTypmod of a WindowFunc is -1 whatever its argument's.
      const e = win(k === 0n ? call : keyed ? tieFree(call) : partitionTieFree(call), x.type, -1, [x]);
      e.typlen = x.typlen;
      e.typeName = x.typeName;
      e.coll = x.coll;
      return e;
    }
    case 'first_value':
    case 'last_value':
    case 'nth_value': {
      if (args.length !== (name === 'nth_value' ? 2 : 1) || f.agg_star)
        throw unsupported(`${name}() with other arguments`);
      const x = args[0] as Expr;
      // first_value(anyelement): an untyped literal is Postgres's 42804.
      if (x.unknown)
        throw new NotLocal('could not determine polymorphic type because input has type unknown');
      let nth = '';
      if (name === 'nth_value') {
        const o = args[1] as Expr;
        const v = o.unknown || o.type !== Oid.int4 ? undefined : this.binds[o.sql.slice(1)];
        // 0 or less is Postgres's 22016, a NULL n its NULL result: forwarded.
        if (v?.kind !== 'value' || typeof v.value !== 'bigint' || v.value <= 0n) {
          throw unsupported('nth_value() with a non-constant or non-positive n');
        }
        nth = `, ${o.sql}`;
      }
      // Outside ROWS a frame holds whole peer groups (less the exclusions),
      // so the k-th row's value of an integer ORDER BY key is the same in
      // every order among peers; any other value depends on that order.
      const keyed =
        !frame.sql.startsWith('ROWS') && isIntType(x.type) && orders.some((o) => o.e.sql === x.sql);
      const call = `${name}(${x.sql}${nth}) ${over}`;
      // Any other value is the value of a row picked by position.
      const e = win(keyed ? call : partitionTieFree(call), x.type, -1, [x]);
      e.typlen = x.typlen;
      e.typeName = x.typeName;
      e.coll = x.coll;
      return e;
    }
    case 'count':
      if (f.agg_star) return win(framed(`count(*) ${over}`, true), Oid.int8);
      if (args.length !== 1) throw unsupported('count() with several arguments');
      return win(framed(`count(${(args[0] as Expr).sql}) ${over}`), Oid.int8, -1, args);
    case 'sum':
    case 'avg':
    case 'min':
    case 'max': {
      if (args.length !== 1) throw unsupported(`${name}() with several arguments`);
      const x = args[0] as Expr;
      if (x.type === Oid.int2 || x.type === Oid.int4) {
        if (name === 'sum') return win(framed(`sum(${x.sql}) ${over}`), Oid.int8, -1, [x]);
        if (name === 'avg') {
          return win(
            framed(`${SqlFn.intAvg}(sum(${x.sql}) ${over}, count(${x.sql}) ${over})`),
            Oid.numeric,
            -1,
            [x],
          );
        }
        return win(framed(`${name}(${x.sql}) ${over}`), x.type, -1, [x]);
      }
      if (x.type === Oid.int8 && (name === 'min' || name === 'max')) {
        return win(framed(`${name}(${x.sql}) ${over}`), x.type, -1, [x]);
      }
      // Exact numeric accumulation; int8 sums and averages are numeric too.
      if ((x.type === Oid.numeric || x.type === Oid.int8) && (name === 'sum' || name === 'avg')) {
        const arg = x.type === Oid.int8 ? `CAST(${x.sql} AS TEXT)` : x.sql;
        const fn = name === 'sum' ? SqlFn.numericSum : SqlFn.numericAvg;
        return win(framed(`${fn}(${arg}) ${over}`), Oid.numeric, -1, [x]);
      }
      throw new NotLocal(`${name}() OVER of ${x.typeName}`);
    }
    default:
      throw unsupported(`window function ${name}()`);
  }
}

/** The same ORDER BY item sorted the other way (sortKey's `ASC|DESC NULLS FIRST|LAST` suffix flipped). */
function reverseSortKey(key: string): string {
  const m = /^(.*) (ASC|DESC) NULLS (FIRST|LAST)$/s.exec(key);
  if (!m) throw new NotLocal('unsupported: window ORDER BY item');
  return `${m[1]} ${m[2] === 'ASC' ? 'DESC' : 'ASC'} NULLS ${m[3] === 'FIRST' ? 'LAST' : 'FIRST'}`;
}
