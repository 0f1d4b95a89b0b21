/** UNION / INTERSECT / EXCEPT nested like the parse tree, and VALUES lists; output types follow select_common_type. */
import type { Node, SelectStmt, SortBy } from 'libpg-query';
import { NotLocal } from '../../errors.js';
import { nodeKind } from '../parse.js';
import { Oid, TYPES } from '../pgtypes.js';
import { sortWithoutUsing } from '../sort-using.js';
import { selectCommonType } from './common-type.js';
import { mergeColl, sortKey } from './comparable.js';
import type { StatementCompiler } from './compiler.js';
import { containsAggregate, containsWindow, unsupported } from './support.js';
import type { CteScope, Expr, Level, Out } from './types.js';
import { derived, limitSql } from './values.js';

export function setOperation(
  this: StatementCompiler,
  s: SelectStmt,
  parent: Level | undefined,
  ctes: CteScope,
): { outs: Out[]; build: (finals: Expr[]) => string } {
  for (const key of Object.keys(s)) {
    if (
      ![
        'op',
        'all',
        'larg',
        'rarg',
        'sortClause',
        'limitCount',
        'limitOffset',
        'limitOption',
        'withClause',
      ].includes(key)
    ) {
      throw unsupported(key === 'lockingClause' ? 'locking clause' : `set operation clause ${key}`);
    }
  }
  if (s.limitOption === 'LIMIT_OPTION_WITH_TIES') throw unsupported('FETCH ... WITH TIES');
  const op = s.op === 'SETOP_UNION' ? 'UNION' : s.op === 'SETOP_INTERSECT' ? 'INTERSECT' : 'EXCEPT';
  if (s.all && op !== 'UNION') throw unsupported(`${op} ALL`);
  const tree = this.setTree(
    { ...s, sortClause: undefined, limitCount: undefined, limitOffset: undefined, withClause: undefined },
    parent,
    ctes,
  );
  const outs = tree.outs;
  const order = (s.sortClause ?? []).map((item) => {
    const [kind, body] = nodeKind(item);
    if (kind !== 'SortBy') throw unsupported(kind);
    const sb = sortWithoutUsing(body as SortBy);
    const idx = this.outputIndex(sb.node as Node, outs);
    if (idx === undefined) throw new NotLocal('ORDER BY on a set operation result must name a result column');
    return { idx, sb };
  });
  const offset = s.limitOffset ? this.limitValue(s.limitOffset, 'OFFSET') : undefined;
  const limit = s.limitCount ? this.limitValue(s.limitCount, 'LIMIT') : undefined;
  return {
    outs,
    build: (finals) => {
      const a = this.alias();
      let sql = `SELECT * FROM (${tree.build(finals)}) AS ${a}`;
      if (order.length > 0) {
        sql += ` ORDER BY ${order
          .map(({ idx, sb }) => sortKey({ ...(finals[idx] as Expr), sql: `${a}.c${idx}` }, { sb }, this.ctx))
          .join(', ')}`;
      }
      return sql + limitSql(limit, offset);
    },
  };
}

/**
 * VALUES lists (top level, in FROM, or as a set-operation arm), typed like
 * transformValuesClause: each column's common type over all rows (all
 * unknown: text), typmod kept only when every row has the same; columns
 * named column1, column2, ... Rows come out in list order in both systems.
 */
export function valuesClause(
  this: StatementCompiler,
  s: SelectStmt,
  parent: Level | undefined,
  ctes: CteScope,
  withSql: string,
): { outs: Out[]; build: (finals: Expr[]) => string } {
  for (const key of Object.keys(s)) {
    if (!['valuesLists', 'op', 'limitOption', 'withClause'].includes(key)) {
      throw unsupported(`VALUES with ${key}`);
    }
  }
  const lists = s.valuesLists ?? [];
  if (containsAggregate(lists) || containsWindow(lists)) throw unsupported('aggregate or window in VALUES');
  const level: Level = { parent, items: [], ctes, top: false, grouped: false, hasSublinks: false };
  const rows = lists.map((row) => {
    const [kind, body] = nodeKind(row);
    if (kind !== 'List') throw unsupported(`VALUES row ${kind}`);
    return ((body as { items?: Node[] }).items ?? []).map((n) =>
      this.expr(n, { level, clause: 'select', inAgg: false }),
    );
  });
  const width = rows[0]?.length ?? 0;
  if (width === 0 || rows.some((r) => r.length !== width)) {
    throw new NotLocal('VALUES lists must all be the same length');
  }
  const columns = Array.from({ length: width }, (_, i) => rows.map((r) => r[i] as Expr));
  if (columns.some((col) => col.some((e) => e.errorProne))) {
    // Postgres evaluates a Values Scan's rows as they are pulled: which rows
    // raise depends on the plan above it.
    throw new NotLocal('expression that may raise an error in VALUES');
  }
  const typed = columns.map((col) => {
    const type = col.every((e) => e.unknown) ? Oid.text : selectCommonType(col, 'VALUES');
    return col.map((e) => this.coerce(e, type));
  });
  const outs: Out[] = typed.map((col, i) => {
    const first = col[0] as Expr;
    const typmod = col.every((e) => e.typmod === first.typmod) ? first.typmod : -1;
    const expr: Expr = { ...derived(`column${i + 1}`, first.type, typmod, []), constant: false };
    if (!TYPES.has(first.type)) {
      expr.typlen = first.typlen;
      expr.typeName = first.typeName;
      if (first.enumLabels !== undefined) expr.enumLabels = first.enumLabels;
    }
    let merged: Expr = first;
    for (const e of col.slice(1)) merged = { ...merged, coll: mergeColl(merged, e) };
    expr.coll = merged.coll;
    return { name: `column${i + 1}`, expr };
  });
  // SQLite cannot prepare a VALUES list that refers to an enclosing query
  // ("no such column: column1"): such a list (LATERAL, a correlated
  // subquery) is the same rows as a UNION ALL of one-row SELECTs.
  const correlated = typed.some((col) => col.some((e) => !e.constant));
  const valuesSql = correlated
    ? rows
        .map(
          (_, r) => `SELECT ${typed.map((col, i) => `${(col[r] as Expr).sql} AS column${i + 1}`).join(', ')}`,
        )
        .join(' UNION ALL ')
    : `VALUES ${rows.map((_, r) => `(${typed.map((col) => (col[r] as Expr).sql).join(', ')})`).join(', ')}`;
  return {
    outs,
    build: (finals) =>
      `${withSql}SELECT ${finals.map((e, i) => `${e.sql} AS c${i}`).join(', ')} FROM (${valuesSql})`,
  };
}

/** A set-operation tree: columns typed pairwise like transformSetOperationTree. */
export function setTree(
  this: StatementCompiler,
  s: SelectStmt,
  parent: Level | undefined,
  ctes: CteScope,
): { outs: Out[]; build: (finals: Expr[]) => string } {
  if (s.op === undefined || s.op === 'SETOP_NONE') {
    const r = this.selectStmt(s, parent, ctes, false, true);
    return {
      outs: r.outs,
      build: (finals) => `SELECT * FROM (${r.build(finals)})`,
    };
  }
  if (s.sortClause || s.limitCount || s.limitOffset || s.withClause) {
    // A parenthesised set operation with its own ORDER BY/LIMIT/WITH.
    const r = this.selectStmt(s, parent, ctes, false, true);
    return { outs: r.outs, build: (finals) => `SELECT * FROM (${r.build(finals)})` };
  }
  const op = s.op === 'SETOP_UNION' ? 'UNION' : s.op === 'SETOP_INTERSECT' ? 'INTERSECT' : 'EXCEPT';
  if (s.all && op !== 'UNION') throw unsupported(`${op} ALL`);
  const l = this.setTree(s.larg as SelectStmt, parent, ctes);
  const r = this.setTree(s.rarg as SelectStmt, parent, ctes);
  const rarg = s.rarg as SelectStmt;
  const rightCompound = rarg.op !== undefined && rarg.op !== 'SETOP_NONE';
  if (l.outs.length !== r.outs.length)
    throw new NotLocal('each set operation query must have the same number of columns');
  const outs: Out[] = l.outs.map((lo, i) => {
    const ro = r.outs[i] as Out;
    const type = selectCommonType([lo.expr, ro.expr], 'set operation');
    const lt = this.coerce(lo.expr, type);
    const rt = this.coerce(ro.expr, type);
    const typmod = lt.typmod === rt.typmod ? lt.typmod : -1;
    const expr = derived(`c${i}`, type, typmod, []);
    if (!TYPES.has(type)) {
      // A type the compiler has no facts about (an enum, timestamp, ...): the branches'.
      expr.typlen = lt.typlen;
      expr.typeName = lt.typeName;
      if (lt.enumLabels !== undefined) expr.enumLabels = lt.enumLabels;
    }
    expr.coll = mergeColl(lt, rt);
    if (!(s.all && op === 'UNION')) this.requireGroupable(expr, op);
    return { name: lo.name, expr };
  });
  return {
    outs,
    build: (finals) => {
      const lf = l.outs.map((o, i) => this.coerce(o.expr, (finals[i] as Expr).type));
      const rf = r.outs.map((o, i) => this.coerce(o.expr, (finals[i] as Expr).type));
      // SQLite evaluates a compound select left to right with equal
      // precedence; Postgres's tree may nest on the right (parentheses, or
      // INTERSECT binding tighter than UNION/EXCEPT): that arm becomes a
      // subquery. A left-nested arm is already what left-to-right means.
      const right = rightCompound ? `SELECT * FROM (${r.build(rf)})` : r.build(rf);
      return `${l.build(lf)} ${op}${s.all ? ' ALL' : ''} ${right}`;
    },
  };
}
