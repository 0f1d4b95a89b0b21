/** WITH: common table expressions (WITH RECURSIVE's self-referencing UNION form included) and their name scopes. */
import type { CommonTableExpr, JoinExpr, Node, RangeVar, SelectStmt, WithClause } from 'libpg-query';
import { NotLocal } from '../../errors.js';
import { SqlFn } from '../functions.js';
import { nodeKind } from '../parse.js';
import { Oid } from '../pgtypes.js';
import type { StatementCompiler } from './compiler.js';
import { checkSearchCycleStatement, hasSearchCycle, searchCycleColumns } from './search-cycle.js';
import { checkIdent, containsAggregate, containsWindow, unsupported } from './support.js';
import type { CteDef, CteScope, Expr, Level, Out } from './types.js';

/** Types without a hash operator class (bit, varbit, money). */
const NOT_HASHABLE = new Set<number>([Oid.bit, Oid.varbit, Oid.money]);

/** Rows a recursive WITH query may add (all its recursive terms together) before the run is forwarded. */
export const RECURSION_ROW_BUDGET = 1_000_000;

export function withClause(
  this: StatementCompiler,
  w: WithClause,
  parent: Level | undefined,
  scope: CteScope,
  top = false,
  main?: SelectStmt,
): string {
  const nodes = w.ctes ?? [];
  const names = nodes.map((node) => {
    const [kind, body] = nodeKind(node);
    if (kind !== 'CommonTableExpr') throw unsupported(kind);
    return (body as CommonTableExpr).ctename ?? '';
  });
  const parts: string[] = [];
  let recursive = false;
  for (const [i, node] of nodes.entries()) {
    const cte = nodeKind(node)[1] as CommonTableExpr;
    if (hasSearchCycle(cte)) {
      checkSearchCycleStatement(
        main,
        top,
        nodes.map((n) => nodeKind(n)[1] as CommonTableExpr),
        this.ctx.serverVersionNum ?? 0,
      );
      if (!w.recursive || relationRefs(cte.ctequery, cte.ctename ?? '') === 0)
        throw unsupported('SEARCH/CYCLE on a WITH query that is not recursive');
    }
    const name = checkIdent(cte.ctename ?? '');
    if (scope.defs.has(name)) throw new NotLocal(`WITH query name "${name}" specified more than once`);
    const q = cte.ctequery;
    if (!q) throw unsupported('empty CTE');
    const [qkind, qbody] = nodeKind(q);
    if (qkind !== 'SelectStmt') throw unsupported('data-modifying statement in WITH');
    const colnames = (cte.aliascolnames ?? []).map((n) => ('String' in n ? (n.String.sval ?? '') : ''));
    if (w.recursive) {
      // Under RECURSIVE every WITH query sees every other, later ones too:
      // a later name here would otherwise resolve to a table of that name.
      if (names.slice(i + 1).some((n) => relationRefs(q, n) > 0)) {
        throw unsupported('WITH RECURSIVE query referring to a later one');
      }
      if (relationRefs(q, name) > 0) {
        recursive = true;
        parts.push(this.recursiveCte(name, qbody as SelectStmt, colnames, parent, scope, top, cte));
        continue;
      }
    }
    const r = this.selectStmt(qbody as SelectStmt, parent, scope, false, false);
    const finals = r.outs.map((o) => o.expr);
    if (colnames.length > r.outs.length) throw new NotLocal(`WITH query "${name}" has too many column names`);
    const sqlName = this.alias('w');
    parts.push(`${sqlName} AS (${r.build(finals)})`);
    scope.defs.set(name, {
      name,
      sqlName,
      outs: r.outs.map((o, i) => ({ name: checkIdent(colnames[i] ?? o.name), expr: finals[i] as Expr })),
    });
  }
  return parts.length > 0 ? `WITH ${recursive ? 'RECURSIVE ' : ''}${parts.join(', ')} ` : '';
}

/**
 * `name AS (non-recursive term UNION [ALL] recursive term)`, evaluated the
 * way Postgres's RecursiveUnion does: the non-recursive term's rows, then the
 * recursive term over the rows the previous step added until a step adds
 * none (UNION: rows equal to one already produced are discarded). SQLite's
 * recursive CTE feeds the recursive term one queued row at a time; for a
 * recursive term whose only reference to `name` is one plain FROM item
 * (inner joins, or the preserved side of a LEFT JOIN) and that has no
 * aggregate, window, DISTINCT, ORDER BY or LIMIT, the union of its results
 * over single rows is its result over the whole step, so both produce the
 * same rows. The column types are the non-recursive term's; a recursive term
 * of other types is an error upstream (forwarded). Every other shape
 * (references in subqueries, outer joins on the wrong side, mutual
 * recursion, SEARCH/CYCLE) is forwarded, Postgres's 42P19 errors with them.
 */
export function recursiveCte(
  this: StatementCompiler,
  name: string,
  s: SelectStmt,
  colnames: string[],
  parent: Level | undefined,
  scope: CteScope,
  top: boolean,
  cte?: CommonTableExpr,
): string {
  for (const key of Object.keys(s)) {
    if (!['op', 'all', 'larg', 'rarg', 'limitOption'].includes(key)) {
      throw unsupported(`recursive WITH query with ${key}`);
    }
  }
  if (s.op !== 'SETOP_UNION' || !s.larg || !s.rarg) throw unsupported('recursive WITH query not a UNION');
  const larg = s.larg;
  const rarg = s.rarg;
  if (relationRefs({ SelectStmt: larg }, name) > 0) {
    throw unsupported('recursive reference in the non-recursive term');
  }
  checkRecursiveTerm(rarg, name);
  // Postgres folds an expression that may raise an error into the run
  // wherever it evaluates it; the terms are evaluated row by row only when
  // the statement's outermost query reads the WITH query (checked at the
  // references: `mayRaise`).
  const raisingBefore = this.raisingRefs;
  const l = this.selectStmt(larg, parent, scope, top, false);
  if (colnames.length > l.outs.length) throw new NotLocal(`WITH query "${name}" has too many column names`);
  const lfinals = l.outs.map((o) => o.expr);
  const sqlName = this.alias('w');
  // Columns of a set operation: no table column origin in RowDescription.
  const outs: Out[] = l.outs.map((o, i) => {
    const { origin: _, ...expr } = lfinals[i] as Expr;
    return { name: checkIdent(colnames[i] ?? o.name), expr };
  });
  const sc = cte && hasSearchCycle(cte) ? searchCycleColumns(cte, rarg, outs) : undefined;
  const refs: string[] = [];
  const def: CteDef = {
    name,
    sqlName,
    outs: [...outs, ...(sc?.added ?? [])],
    ...(sc ? { onRef: (alias: string) => refs.push(alias) } : {}),
  };
  scope.defs.set(name, def);
  const budget = `${SqlFn.recursionRow}(${RECURSION_ROW_BUDGET})`;
  const r = this.selectStmt(sc?.recursiveTerm ?? rarg, parent, scope, top, true, budget);
  if (r.outs.length !== outs.length) {
    throw new NotLocal(
      sc
        ? 'SEARCH/CYCLE recursive term with another number of columns'
        : 'each UNION query must have the same number of columns',
    );
  }
  const rfinals = r.outs.map((o, i) => {
    const want = outs[i] as Out;
    let e = o.expr;
    if (e.unknown) e = this.coerce(e, want.expr.type);
    if (e.type !== want.expr.type || e.typmod !== want.expr.typmod || e.typeName !== want.expr.typeName) {
      throw new NotLocal(`recursive query "${name}" column ${i + 1} has another type in the recursive term`);
    }
    // Postgres 42P21: the recursive term's collation must be the non-recursive term's.
    if (e.coll !== want.expr.coll) {
      throw new NotLocal(
        `recursive query "${name}" column ${i + 1} has another collation in the recursive term`,
      );
    }
    return e;
  });
  if (!s.all) for (const o of outs) this.requireGroupable(o.expr, 'UNION');
  // A recursive UNION hashes its rows: types without a hash opclass are 0A000 upstream.
  if (!s.all && outs.some((o) => NOT_HASHABLE.has(o.expr.type))) {
    throw new NotLocal('could not implement recursive UNION: a column type is not hashable');
  }
  let lsql = l.build(lfinals);
  if (sc) {
    // Equal keys are equal records: UNION's duplicates are Postgres's.
    const ref = refs[0];
    if (refs.length !== 1 || ref === undefined) throw unsupported('SEARCH/CYCLE recursive reference');
    const extra = sc.next((i) => `${ref}.c${i}`, rfinals);
    if (!s.all) for (const e of extra) if (!e.pathKey) this.requireGroupable(e, 'UNION');
    rfinals.push(...extra);
    const n = outs.length;
    lsql = `SELECT *, ${sc
      .initial()
      .map((x, i) => `${x} AS c${n + i}`)
      .join(', ')} FROM (${lsql})`;
  }
  // Reading a WITH query that may raise makes this one such a query too.
  def.mayRaise =
    this.raisingRefs > raisingBefore ||
    lfinals.some((e) => e.errorProne) ||
    rfinals.some((e) => e.errorProne);
  this.prechecks.push(`${SqlFn.recursionReset}()`);
  return `${sqlName} AS (SELECT * FROM (${lsql}) UNION${s.all ? ' ALL' : ''} ${r.build(rfinals)})`;
}

/** The recursive term's shape (see recursiveCte); anything else is forwarded. */
function checkRecursiveTerm(rarg: SelectStmt, name: string): void {
  for (const key of Object.keys(rarg)) {
    if (!['targetList', 'fromClause', 'whereClause', 'op', 'limitOption'].includes(key)) {
      throw unsupported(`recursive term with ${key}`);
    }
  }
  if (rarg.op !== undefined && rarg.op !== 'SETOP_NONE')
    throw unsupported('recursive term is a set operation');
  if (containsAggregate(rarg.targetList) || containsWindow(rarg.targetList)) {
    throw unsupported('aggregate or window function in a recursive term');
  }
  const direct = (rarg.fromClause ?? []).reduce((n, item) => n + directRefs(item, name), 0);
  if (direct !== 1 || relationRefs({ SelectStmt: rarg }, name) !== 1) {
    throw unsupported('recursive reference other than one FROM item of the recursive term');
  }
}

/** References to `name` as a FROM item reachable through inner joins and the left side of LEFT JOINs. */
function directRefs(node: Node, name: string): number {
  const [kind, body] = nodeKind(node);
  if (kind === 'RangeVar') {
    const r = body as RangeVar;
    return r.schemaname === undefined && r.relname === name ? 1 : 0;
  }
  if (kind === 'JoinExpr') {
    const j = body as JoinExpr;
    const l = j.larg ? directRefs(j.larg, name) : 0;
    const r = j.rarg ? directRefs(j.rarg, name) : 0;
    if (j.jointype === 'JOIN_INNER') return l + r;
    if (j.jointype === 'JOIN_LEFT') return l;
    return 0;
  }
  return 0;
}

/** How many unqualified relation references to `name` a tree holds (anywhere, subqueries included). */
export function relationRefs(tree: unknown, name: string): number {
  if (Array.isArray(tree)) return tree.reduce((n: number, t) => n + relationRefs(t, name), 0);
  if (tree === null || typeof tree !== 'object') return 0;
  let n = 0;
  for (const [key, value] of Object.entries(tree)) {
    if (key === 'RangeVar') {
      const r = value as RangeVar;
      if (r.schemaname === undefined && r.relname === name) n++;
    }
    n += relationRefs(value, name);
  }
  return n;
}

export function findCte(
  this: StatementCompiler,
  scope: CteScope | undefined,
  name: string,
): CteDef | undefined {
  for (let s = scope; s; s = s.parent) {
    const d = s.defs.get(name);
    if (d) return d;
  }
  return undefined;
}
