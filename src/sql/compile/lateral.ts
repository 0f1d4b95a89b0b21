/**
 * `LATERAL (subquery)` in FROM: the subquery sees the FROM items before it
 * (and, inside a join, the join's left side), and Postgres evaluates it once
 * per row of them. SQLite has no LATERAL; it does evaluate a correlated
 * scalar subquery per row, and joins a table-valued function laterally, so
 * the subquery's rows are packed per row by an aggregate and unpacked by a
 * table-valued function (lateral-functions.ts). That is LATERAL's meaning
 * itself, not a rewrite that holds for some shapes only: any subquery the
 * compiler serves as a correlated subquery is served here too, under the
 * same rules (expressions that may raise an error are not local in a
 * subquery, an aggregate of outer columns only belongs to the outer query).
 */
import type { RangeSubselect, SelectStmt } from 'libpg-query';
import { NotLocal } from '../../errors.js';
import { LATERAL_COLUMNS, LateralFn } from '../lateral-functions.js';
import { nodeKind } from '../parse.js';
import type { StatementCompiler } from './compiler.js';
import { checkIdent, unsupported } from './support.js';
import type { Expr, FromItem, Level } from './types.js';
import { columnOf } from './values.js';

export function lateralSubselect(this: StatementCompiler, r: RangeSubselect, level: Level): FromItem {
  const q = r.subquery;
  if (!q) throw unsupported('empty subquery');
  const [kind, body] = nodeKind(q);
  if (kind !== 'SelectStmt') throw unsupported(kind);
  // The items visible to the subquery: those before it, as an enclosing query level.
  const lateral: Level = {
    parent: level.parent,
    items: [...level.items],
    ctes: level.ctes,
    top: false,
    grouped: false,
    hasSublinks: false,
  };
  const sub = this.selectStmt(body as SelectStmt, lateral, level.ctes, false, false);
  if (sub.outs.length > LATERAL_COLUMNS)
    throw new NotLocal(`LATERAL subquery of more than ${LATERAL_COLUMNS} columns`);
  const finals = sub.outs.map((o) => o.expr);
  const colnames = (r.alias?.colnames ?? []).map((n) => ('String' in n ? (n.String.sval ?? '') : ''));
  if (colnames.length > sub.outs.length) throw new NotLocal('too many column aliases');
  this.prechecks.push(`${LateralFn.reset}()`);
  const a = this.alias();
  const s = this.alias();
  const packed = `(SELECT ${LateralFn.pack}(${finals.map((_, i) => `${s}.c${i}`).join(', ')}) FROM (${sub.build(finals)}) AS ${s})`;
  const columns = sub.outs.map((o, i) => ({
    name: checkIdent(colnames[i] ?? o.name),
    expr: columnOf(finals[i] as Expr, `${a}.c${i}`),
  }));
  const refname = r.alias ? checkIdent(r.alias.aliasname ?? '') : undefined;
  return {
    sql: `${LateralFn.rows}(${packed}) AS ${a}`,
    columns,
    rels: refname ? new Map([[refname, { columns, display: refname }]]) : new Map(),
    rowids: [],
    baseTables: 0,
    complex: true,
  };
}
