/** One SELECT at the top level: its clauses in Postgres's order of analysis (FROM, WHERE, GROUP BY, HAVING, select list, DISTINCT, ORDER BY, LIMIT) and the checks that keep grouping exact. */
import type {
  A_Const,
  BoolExpr,
  ColumnRef,
  Node,
  ParamRef,
  ResTarget,
  RowExpr,
  SelectStmt,
  SortBy,
  TypeCast,
} from 'libpg-query';
import { NotLocal } from '../../errors.js';
import { SqlFn } from '../functions.js';
import { checkAllWindowsUsed, namedWindows } from '../named-windows.js';
import { nodeKind } from '../parse.js';
import { isIntType, Oid } from '../pgtypes.js';
import { resolveTypeName } from './common-type.js';
import { cmpClassOfExpr, comparable, sortKey, sortParts } from './comparable.js';
import type { StatementCompiler } from './compiler.js';
import { expandGroupingSets } from './grouping-sets.js';
import {
  checkIdent,
  containsAggregate,
  DETERMINISTIC_COLLATIONS,
  describeNode,
  figureColname,
  typeName,
  unsupported,
} from './support.js';
import type { CteScope, Expr, FromItem, Level, Out } from './types.js';
import { checkGrouped, limitSql } from './values.js';

/**
 * Compile one SELECT (or set operation). `leaf`: a set-operation branch,
 * whose unknown-typed outputs stay unresolved for the set operation to type.
 * Returns the outputs and a builder that produces the SQL once the final
 * (coerced) output expressions are known.
 */
export function selectStmt(
  this: StatementCompiler,
  s: SelectStmt,
  parent: Level | undefined,
  cteParent: CteScope,
  top: boolean,
  leaf: boolean,
  recursionGuard?: string,
): { outs: Out[]; build: (finals: Expr[]) => string } {
  const ctes: CteScope = { defs: new Map(), parent: cteParent };
  const withSql = s.withClause ? this.withClause(s.withClause, parent, ctes, top, s) : '';
  if (s.op !== undefined && s.op !== 'SETOP_NONE') {
    const r = this.setOperation(s, parent, ctes);
    return { outs: r.outs, build: (finals) => withSql + r.build(finals) };
  }
  if (s.valuesLists !== undefined) return this.valuesClause(s, parent, ctes, withSql);
  for (const key of Object.keys(s)) {
    if (
      ![
        'targetList',
        'fromClause',
        'whereClause',
        'sortClause',
        'limitCount',
        'limitOffset',
        'limitOption',
        'op',
        'all',
        'distinctClause',
        'groupClause',
        'havingClause',
        'withClause',
        'windowClause',
      ].includes(key)
    ) {
      throw unsupported(
        {
          intoClause: 'SELECT INTO',
          groupDistinct: 'GROUP BY DISTINCT',
          valuesLists: 'VALUES',
          lockingClause: 'locking clause',
        }[key] ?? `SELECT clause ${key}`,
      );
    }
  }
  if (s.limitOption === 'LIMIT_OPTION_WITH_TIES') throw unsupported('FETCH ... WITH TIES');
  const anyDistinct = s.distinctClause !== undefined && s.distinctClause.length > 0;
  const plainDistinct =
    anyDistinct && s.distinctClause?.length === 1 && Object.keys(s.distinctClause[0] ?? {}).length === 0;
  const distinctOnNodes = anyDistinct && !plainDistinct ? (s.distinctClause as Node[]) : undefined;
  const distinct = plainDistinct;

  const level: Level = {
    parent,
    items: [],
    ctes,
    top,
    outermost: top && parent === undefined && cteParent.parent === undefined,
    grouped:
      (s.groupClause?.length ?? 0) > 0 ||
      s.havingClause !== undefined ||
      containsAggregate(s.targetList) ||
      containsAggregate(s.sortClause),
    hasSublinks: false,
  };
  // Postgres's transformSelectStmt order (it decides parameter types).
  const windows = namedWindows(s.windowClause);
  if (windows) level.windows = windows;
  const raisingBefore = this.raisingRefs;
  // One by one: a function in FROM sees the items before it (implicit LATERAL).
  level.items = [];
  for (const item of s.fromClause ?? []) level.items.push(this.fromItem(item, level));
  this.checkDistinctRefnames(level.items);
  if (this.raisingRefs > raisingBefore) {
    // A recursive WITH query whose terms may raise an error: Postgres reads
    // all of its rows (so raises what SQLite would) only as the outermost
    // query's only FROM item, without LIMIT/OFFSET.
    const only = level.items.length === 1 ? level.items[0] : undefined;
    if (!top || parent !== undefined || !only?.raisingCte || s.limitCount || s.limitOffset) {
      throw new NotLocal('expression that may raise an error in a recursive WITH query read partially');
    }
  }
  const gsets = expandGroupingSets(s.groupClause);
  // Compiled once without any set for the outputs' names and types (GROUPING() a placeholder).
  if (gsets) level.groupingSet = { keys: new Set() };
  let outs = this.targets(s.targetList ?? [], level);
  checkAllWindowsUsed(windows);
  if (gsets) {
    if (leaf || recursionGuard !== undefined) throw unsupported('GROUPING SETS in a set operation');
    outs = outs.map((o) => ({ name: o.name, expr: this.resolveToText(o.expr) }));
    return this.groupingSetsSelect(s, level, outs, gsets, withSql);
  }
  if (!leaf) outs = outs.map((o) => ({ name: o.name, expr: this.resolveToText(o.expr) }));
  const where = s.whereClause
    ? this.predicate(s.whereClause, { level, clause: 'where', inAgg: false })
    : undefined;
  const having = s.havingClause
    ? this.predicate(s.havingClause, { level, clause: 'having', inAgg: false })
    : undefined;
  const order = this.sortClause(s.sortClause ?? [], level, outs, distinct);
  const groupKeys = this.groupClause(s.groupClause ?? [], level, outs);
  const distinctOn = distinctOnNodes ? this.distinctOnClause(distinctOnNodes, level, outs, order) : undefined;
  const offset = s.limitOffset ? this.limitValue(s.limitOffset, 'OFFSET') : undefined;
  const limit = s.limitCount ? this.limitValue(s.limitCount, 'LIMIT') : undefined;

  if (level.grouped) {
    const keys = new Set(groupKeys.map((k) => k.sql));
    for (const sql of this.functionallyDependent(level, keys)) keys.add(sql);
    for (const o of outs) checkGrouped(o.expr, keys);
    if (having) checkGrouped(having, keys);
    for (const k of order) checkGrouped(k.expr, keys);
  }
  // DISTINCT over a type whose equal values can differ in text: grouped on keys instead.
  const distinctForms = distinct ? outs.map((o) => this.groupForm(o.expr, 'DISTINCT')) : [];
  const distinctByKeys = distinctForms.some((f) => f.same !== undefined);
  const groupForms = groupKeys.map((k) => this.groupForm(k, 'GROUP BY'));

  // Postgres evaluates WHERE (and HAVING conditions it moves into WHERE)
  // conjuncts in an order of its choosing, pushed down into joins: one that
  // may raise an error is local only over one table, with every conjunct
  // evaluated on every row.
  const single = level.items.length === 1 && level.items[0]?.baseTables === 1 && !level.items[0]?.complex;
  const conditionSql = (node: Node | undefined, e: Expr | undefined, what: string): string | undefined => {
    if (!node || !e) return undefined;
    if (!e.errorProne) return e.sql;
    if (!single || level.hasSublinks) {
      throw new NotLocal(`expression that may raise an error in ${what} of a join or with subqueries`);
    }
    return this.forcedConjuncts(node, e);
  };
  const conditionWhere = conditionSql(s.whereClause, where, 'WHERE');
  // A recursive term's row budget (ctes.ts), after its own conditions.
  const whereSql =
    recursionGuard === undefined
      ? conditionWhere
      : conditionWhere === undefined
        ? recursionGuard
        : `(${conditionWhere}) AND ${recursionGuard}`;
  const havingSql = this.havingWithChecks(groupForms, conditionSql(s.havingClause, having, 'HAVING'));
  const groupSql = groupForms.map((f) => f.sql).join(', ');

  const fromSql = level.items.map((i) => i.sql).join(', ');
  // No tie-break keys in a recursive term: an ORDER BY there orders SQLite's queue.
  const rowids =
    level.grouped || distinct || distinctOn || recursionGuard !== undefined
      ? []
      : level.items.flatMap((i) => i.rowids);
  return {
    outs,
    build: (finals) => {
      const list = finals.map((e, i) => `${e.sql} AS c${i}`).join(', ');
      let core = `SELECT ${distinct && !distinctByKeys ? 'DISTINCT ' : ''}${list}`;
      if (fromSql) core += ` FROM ${fromSql}`;
      if (whereSql !== undefined) core += ` WHERE ${whereSql}`;
      if (groupKeys.length > 0) core += ` GROUP BY ${groupSql}`;
      if (havingSql !== undefined) core += ` HAVING ${havingSql}`;
      let sql: string;
      let keys: string[];
      if (distinctOn) {
        // The first row of each DISTINCT ON group in ORDER BY order. When
        // that row ties with another row of its group on every ORDER BY key,
        // Postgres's choice is arbitrary: the run aborts.
        const a = this.alias();
        const parts = order.map((k) => sortParts(k.expr, k, this.ctx));
        const spec = `PARTITION BY ${distinctOn.join(', ')}${parts.length > 0 ? ` ORDER BY ${parts.map((p) => `${p.key} ${p.dir}`).join(', ')}` : ''}`;
        const innerList = [
          list,
          ...parts.map((p, i) => `${p.key} AS o${i}`),
          `row_number() OVER (${spec}) AS rn`,
          `count(*) OVER (${spec} RANGE BETWEEN CURRENT ROW AND CURRENT ROW) AS peers`,
        ].join(', ');
        const innerSql = `SELECT ${innerList}${core.slice(`SELECT ${list}`.length)}`;
        sql =
          `${withSql}SELECT ${finals.map((_, i) => `${a}.c${i}`).join(', ')} FROM (${innerSql}) AS ${a}` +
          ` WHERE ${a}.rn = 1 AND (CASE WHEN ${a}.peers > 1 THEN ${SqlFn.notLocal}('DISTINCT ON keeps an arbitrary row among ties') ELSE 1 END)`;
        keys = parts.map((p, i) => `${a}.o${i} ${p.dir}`);
      } else if (distinct) {
        const a = this.alias();
        if (distinctByKeys) {
          const forms = finals.map((e, i) => this.groupForm({ ...e, sql: `${a}.c${i}` }, 'DISTINCT'));
          sql =
            `${withSql}SELECT ${finals.map((_, i) => `${a}.c${i}`).join(', ')} FROM (${core}) AS ${a}` +
            ` GROUP BY ${forms.map((f) => f.sql).join(', ')} HAVING ${this.havingWithChecks(forms, undefined)}`;
        } else sql = `${withSql}SELECT * FROM (${core}) AS ${a}`;
        keys = order.map((k) => {
          const i = outs.findIndex((o) => o.expr.sql === k.expr.sql);
          const out = finals[i] as Expr;
          return sortKey({ ...out, sql: `${a}.c${i}` }, k, this.ctx);
        });
      } else {
        sql = withSql + core;
        keys = [...order.map((k) => sortKey(k.expr, k, this.ctx)), ...rowids];
      }
      if (keys.length > 0) sql += ` ORDER BY ${keys.join(', ')}`;
      if ((limit !== undefined || offset !== undefined) && finals.some((e) => e.errorProne)) {
        // Under LIMIT, SQLite computes the select list of the returned rows
        // only, while Postgres, depending on its plan, computes it for every
        // row (below a Sort) or only for the returned ones: evaluate the
        // expressions that may raise an error on every qualifying row first.
        const probes = finals
          .map((e, i) => [e, i] as const)
          .filter(([e]) => e.errorProne)
          .map(([e, i]) => `${e.sql} AS x${i}`);
        const tests = finals
          .map((e, i) => [e, i] as const)
          .filter(([e]) => e.errorProne)
          .map(([, i]) => `(x${i} IS NULL)`);
        let probe = `SELECT ${probes.join(', ')}`;
        if (fromSql) probe += ` FROM ${fromSql}`;
        if (whereSql !== undefined) probe += ` WHERE ${whereSql}`;
        if (groupKeys.length > 0) probe += ` GROUP BY ${groupSql}`;
        if (havingSql !== undefined) probe += ` HAVING ${havingSql}`;
        this.prechecks.push(`(${withSql}SELECT count(*) FROM (${probe}) WHERE ${tests.join(' + ')} >= 0)`);
      }
      sql += limitSql(limit, offset);
      return sql;
    },
  };
}

/**
 * DISTINCT ON (exprs): their equality keys (PARTITION BY forms). Postgres
 * requires them to be the leading ORDER BY expressions, and without ORDER
 * BY the row kept per group is arbitrary: both are forwarded.
 */
export function distinctOnClause(
  this: StatementCompiler,
  nodes: Node[],
  level: Level,
  outs: Out[],
  order: { expr: Expr; sb: SortBy }[],
): string[] {
  const exprs = nodes.map((n) => {
    const idx = this.outputIndex(n, outs);
    const e =
      idx !== undefined ? (outs[idx] as Out).expr : this.expr(n, { level, clause: 'order', inAgg: false });
    if (e.unknown) throw new NotLocal('DISTINCT ON a constant of unknown type');
    return e;
  });
  if (order.length === 0) throw new NotLocal('DISTINCT ON without ORDER BY keeps an arbitrary row');
  const lead = new Set(order.slice(0, exprs.length).map((k) => k.expr.sql));
  if (order.length < exprs.length || !exprs.every((e) => lead.has(e.sql))) {
    throw new NotLocal('SELECT DISTINCT ON expressions must match initial ORDER BY expressions');
  }
  return exprs.map((e) => {
    const cls = cmpClassOfExpr(e);
    if (cls === undefined) throw new NotLocal(`DISTINCT ON type ${e.typeName}`);
    if (
      (cls === 'text' || cls === 'bpchar') &&
      !(e.coll !== undefined && DETERMINISTIC_COLLATIONS.has(e.coll))
    ) {
      throw new NotLocal(`DISTINCT ON text with collation ${e.coll ?? 'unknown'}`);
    }
    return comparable(e, cls);
  });
}

/** `WHERE a AND b AND c` with every conjunct evaluated on every row (no short-circuit). */
export function forcedConjuncts(this: StatementCompiler, node: Node, whole: Expr): string {
  const [kind, body] = nodeKind(node);
  if (kind === 'BoolExpr' && (body as BoolExpr).boolop === 'AND_EXPR') {
    const parts = whole.kids.map((k) => k.sql);
    return `${SqlFn.and}(${parts.join(', ')})`;
  }
  return whole.sql;
}

export function checkDistinctRefnames(this: StatementCompiler, items: FromItem[]): void {
  const seen = new Set<string>();
  for (const item of items) {
    for (const name of item.rels.keys()) {
      if (seen.has(name)) throw new NotLocal(`table name "${name}" specified more than once`);
      seen.add(name);
    }
  }
}

/**
 * How rows are grouped on `e` (GROUP BY, DISTINCT): by its SQLite value, or,
 * for types whose equal values can differ in text (numeric 1.5/1.50, float
 * -0/0, bpchar without a length), by the comparable key, with `same`: the
 * expression whose values must be identical within each group (Postgres
 * outputs the text of an arbitrary row of the group; the run aborts when
 * that choice matters).
 */
export function groupForm(this: StatementCompiler, e: Expr, what: string): { sql: string; same?: string } {
  const cls = cmpClassOfExpr(e);
  if (cls === undefined) throw new NotLocal(`${what} on type ${e.typeName}`);
  if (cls === 'money') this.requireMoneyLocale();
  if (
    (cls === 'text' || cls === 'bpchar') &&
    !(e.coll !== undefined && DETERMINISTIC_COLLATIONS.has(e.coll))
  ) {
    throw new NotLocal(`${what} on text with collation ${e.coll ?? 'unknown'}`);
  }
  if (
    cls === 'numeric' ||
    cls === 'float8' ||
    cls === 'float4' ||
    cls === 'interval' ||
    (cls === 'bpchar' && e.typmod === -1)
  ) {
    return { sql: comparable(e, cls), same: e.sql };
  }
  return { sql: e.sql };
}

/** HAVING with the per-group identity checks of `groupForm` (evaluated for every group). */
export function havingWithChecks(
  this: StatementCompiler,
  forms: { same?: string }[],
  having: string | undefined,
): string | undefined {
  const checks = forms.filter((f) => f.same !== undefined).map((f) => `${SqlFn.same}(${f.same})`);
  if (checks.length === 0) return having;
  return `${SqlFn.and}(${[...checks, having ?? '1'].join(', ')})`;
}

export function requireGroupable(this: StatementCompiler, e: Expr, what: string): void {
  const cls = cmpClassOfExpr(e);
  if (cls === 'money') this.requireMoneyLocale();
  // char(n) values are stored padded to n characters, so values equal under
  // bpchar's blank-insensitive equality are identical; without a length
  // ('a' and 'a  ') the group's representative would be arbitrary.
  const fixedBpchar = cls === 'bpchar' && e.typmod !== -1;
  if (
    cls === undefined ||
    cls === 'float4' ||
    cls === 'float8' ||
    cls === 'numeric' ||
    cls === 'interval' ||
    (cls === 'bpchar' && !fixedBpchar)
  ) {
    throw new NotLocal(`${what} on type ${e.typeName}`);
  }
  if (
    (cls === 'text' || cls === 'bpchar') &&
    !(e.coll !== undefined && DETERMINISTIC_COLLATIONS.has(e.coll))
  ) {
    throw new NotLocal(`${what} on text with collation ${e.coll ?? 'unknown'}`);
  }
}

export function targets(this: StatementCompiler, list: Node[], level: Level): Out[] {
  if (list.length === 0) throw unsupported('empty select list');
  const outs: Out[] = [];
  for (const item of list) {
    const [kind, body] = nodeKind(item);
    if (kind !== 'ResTarget') throw unsupported(kind);
    const target = body as ResTarget;
    if (target.indirection && target.indirection.length > 0)
      throw unsupported('subscript or field selection');
    const val = target.val;
    if (!val) throw unsupported('empty target');
    const [vkind, vbody] = nodeKind(val);
    if (vkind === 'RowExpr' && level.outermost) {
      const expr = this.rowValue(vbody as RowExpr, { level, clause: 'select', inAgg: false });
      outs.push({ name: target.name !== undefined ? checkIdent(target.name) : 'row', expr });
      continue;
    }
    if (vkind === 'ColumnRef') {
      const resolved = this.columnRef(vbody as ColumnRef, level);
      if (Array.isArray(resolved)) {
        if (target.name !== undefined) throw unsupported('alias on *');
        for (const c of resolved) {
          const expr = { ...c.expr, localColumn: true };
          outs.push({
            name: c.name,
            expr: this.groupingNull(expr, { level, clause: 'select', inAgg: false }),
          });
        }
        continue;
      }
    }
    const expr = this.expr(val, { level, clause: 'select', inAgg: false });
    const name = target.name !== undefined ? checkIdent(target.name) : figureColname(val)[0];
    outs.push({ name, expr });
  }
  if (outs.length === 0) throw unsupported('no output columns');
  return outs;
}

/** Index of the output an ORDER BY/GROUP BY item names (bare name or position), if any. */
export function outputIndex(
  this: StatementCompiler,
  node: Node,
  outs: Out[],
  preferInput?: Level,
): number | undefined {
  const [kind, body] = nodeKind(node);
  if (kind === 'A_Const') {
    const c = body as A_Const;
    if (c.ival === undefined) throw new NotLocal('non-integer constant in ORDER BY/GROUP BY');
    const v = c.ival.ival ?? 0;
    if (v < 1 || v > outs.length) throw new NotLocal(`ORDER BY position ${v} is not in select list`);
    return v - 1;
  }
  if (kind === 'ColumnRef') {
    const fields = (body as ColumnRef).fields ?? [];
    const only = fields.length === 1 ? fields[0] : undefined;
    if (only && 'String' in only) {
      const name = only.String.sval ?? '';
      if (preferInput?.items.some((i) => i.columns.some((c) => c.name === name))) return undefined;
      const matches = outs.map((o, i) => [o, i] as const).filter(([o]) => o.name === name);
      const first = matches[0];
      if (first) {
        if (matches.some(([o]) => o.expr.sql !== first[0].expr.sql))
          throw new NotLocal(`ORDER BY "${name}" is ambiguous`);
        return first[1];
      }
    }
  }
  return undefined;
}

export function groupClause(this: StatementCompiler, items: Node[], level: Level, outs: Out[]): Expr[] {
  return items.map((item) => {
    const [kind] = nodeKind(item);
    if (kind === 'GroupingSet') throw unsupported('GROUPING SETS/ROLLUP/CUBE');
    return this.groupKey(item, level, outs);
  });
}

/** One GROUP BY expression: an output (by name or position) or an expression over the FROM items. */
export function groupKey(this: StatementCompiler, item: Node, level: Level, outs: Out[]): Expr {
  const [kind, body] = nodeKind(item);
  const idx = this.outputIndex(item, outs, level);
  const e =
    idx !== undefined ? (outs[idx] as Out).expr : this.expr(item, { level, clause: 'group', inAgg: false });
  if (kind === 'A_Const' && idx === undefined) throw unsupported(describeNode(kind, body));
  if (hasWindow(e)) throw new NotLocal('window functions are not allowed in GROUP BY');
  if (e.agg) throw new NotLocal('aggregate functions are not allowed in GROUP BY');
  if (e.unknown) throw new NotLocal('GROUP BY a constant of unknown type');
  this.groupForm(e, 'GROUP BY');
  return e;
}

/** Integer constant ≥ 0, a parameter, or undefined for ALL / NULL. */
export function limitValue(
  this: StatementCompiler,
  node: Node,
  clause: 'LIMIT' | 'OFFSET',
): string | undefined {
  let [kind, body] = nodeKind(node);
  // `LIMIT $2::integer` (SQLAlchemy over psycopg 3): the cast types the parameter, as Postgres infers it.
  let castTo: number | undefined;
  if (kind === 'TypeCast') {
    const tc = body as TypeCast;
    const [argKind, argBody] = tc.arg ? nodeKind(tc.arg) : ['', undefined];
    const target = tc.typeName ? resolveTypeName(tc.typeName) : undefined;
    if (argKind !== 'ParamRef' || !target || !isIntType(target.oid) || target.typmod !== -1) {
      throw unsupported(`${describeNode(kind, body)} in ${clause}`);
    }
    [kind, body, castTo] = [argKind, argBody as ParamRef, target.oid];
  }
  if (kind === 'ParamRef') {
    const e = this.paramRef(body as ParamRef);
    const t = e.unknown ? this.setParamType(e, castTo ?? Oid.int8) : e.type;
    if (!isIntType(t)) throw new NotLocal(`${clause} parameter of type ${typeName(t)}`);
    // A typed parameter cast to a narrower integer could fail the cast; not worth the case.
    if (castTo !== undefined && castTo !== t) throw unsupported(`${clause} parameter cast to another type`);
    const index = ((body as ParamRef).number ?? 0) - 1;
    const name = `${clause === 'LIMIT' ? 'l' : 'o'}${index + 1}`;
    this.binds[name] = { kind: clause === 'LIMIT' ? 'limit' : 'offset', index };
    return `@${name}`;
  }
  if (kind !== 'A_Const') throw unsupported(`${describeNode(kind, body)} in ${clause}`);
  const c = this.constant(body as A_Const);
  if (c.unknown?.kind === 'null') return undefined;
  if (c.unknown || !isIntType(c.type)) throw unsupported(`non-integer ${clause}`);
  const v = (this.binds[c.sql.slice(1)] as { value: bigint }).value;
  if (v < 0n) throw new NotLocal(`negative ${clause}`);
  return c.sql;
}

/**
 * Postgres's check_functional_grouping: when GROUP BY holds every primary
 * key column of a table in FROM (that reference of it, as plain columns),
 * its other columns may be selected ungrouped. The replica's catalog says
 * which columns form the primary key (not a unique or replica identity
 * index); without that record nothing depends.
 */
export function functionallyDependent(this: StatementCompiler, level: Level, keys: Set<string>): string[] {
  const out: string[] = [];
  for (const item of level.items) {
    for (const rel of item.rels.values()) {
      const first = rel.columns[0]?.expr;
      const tableOid = first?.origin?.tableOid;
      const alias = first ? /^(t\d+)\.a\d+$/.exec(first.sql)?.[1] : undefined;
      const table = tableOid === undefined ? undefined : this.tables.get(tableOid);
      if (!table || alias === undefined) continue;
      // Only a table's own reference: every column `alias.a<attnum>` of that table.
      const own = rel.columns.every(
        (c) => c.expr.origin?.tableOid === tableOid && c.expr.sql.startsWith(`${alias}.a`),
      );
      const pk = table.columns.filter((c) => c.primaryKey === true);
      if (!own || pk.length === 0 || table.columns.some((c) => c.primaryKey === undefined)) continue;
      if (pk.every((c) => keys.has(`${alias}.a${c.attnum}`))) out.push(...rel.columns.map((c) => c.expr.sql));
    }
  }
  return out;
}

/** Whether a window function call is part of `e` (outside aggregates). */
function hasWindow(e: Expr): boolean {
  return e.window === true || e.kids.some(hasWindow);
}
