/**
 * GROUP BY with GROUPING SETS, ROLLUP and CUBE, and GROUPING(): Postgres's
 * expansion into a list of grouping sets (parse_agg.c's flatten and expand),
 * each compiled as one GROUP BY branch of a UNION ALL. In a branch the
 * grouping expressions missing from its set read as NULL outside aggregates
 * (the hook in expressions.ts `expr`), GROUPING() is the constant bit mask of
 * the missing arguments. Without ORDER BY Postgres's row order is
 * unspecified, so the branches' order is as good as any; with ORDER BY the
 * union is sorted on the branches' keys.
 */
import type { BoolExpr, Node, RowExpr, SelectStmt } from 'libpg-query';
import { NotLocal } from '../../errors.js';
import { nodeKind } from '../parse.js';
import { Oid } from '../pgtypes.js';
import { sortParts } from './comparable.js';
import type { StatementCompiler } from './compiler.js';
import { containsAggregate, unsupported } from './support.js';
import type { Expr, ExprCtx, Level, Out } from './types.js';
import { checkGrouped, constExpr, hasLocalVars, limitSql } from './values.js';

/** More sets than this are forwarded (Postgres allows 4096: each set here is one more scan). */
const MAX_SETS = 64;

type GroupingSetNode = { kind?: string; content?: Node[] };

/** An implicit row `(a, b)` in a grouping context is the list of its fields, flattened (flatten_grouping_sets). */
function rowFields(node: Node): Node[] | undefined {
  const [kind, body] = nodeKind(node);
  if (kind !== 'RowExpr') return undefined;
  const r = body as RowExpr;
  if (r.row_format !== 'COERCE_IMPLICIT_CAST') return undefined;
  return (r.args ?? []).flatMap((a) => rowFields(a) ?? [a]);
}

/** The fields of one ROLLUP/CUBE element or one plain grouping item. */
function simple(node: Node): Node[] {
  if ('GroupingSet' in node) throw unsupported('nested grouping set in ROLLUP/CUBE');
  return rowFields(node) ?? [node];
}

/** expand_groupingset_node: the grouping sets one item stands for, in Postgres's order. */
function expandItem(node: Node): Node[][] {
  if (!('GroupingSet' in node)) return [simple(node)];
  const gs = (node as { GroupingSet: GroupingSetNode }).GroupingSet;
  const content = gs.content ?? [];
  switch (gs.kind) {
    case 'GROUPING_SET_EMPTY':
      return [[]];
    case 'GROUPING_SET_SIMPLE':
      return [content.flatMap(simple)];
    case 'GROUPING_SET_ROLLUP': {
      const parts = content.map(simple);
      const out: Node[][] = [];
      for (let n = parts.length; n >= 0; n--) out.push(parts.slice(0, n).flat());
      return out;
    }
    case 'GROUPING_SET_CUBE': {
      const parts = content.map(simple);
      if (parts.length > 12) throw new NotLocal('CUBE of more than 12 elements');
      const out: Node[][] = [];
      for (let mask = 0; mask < 1 << parts.length; mask++) {
        out.push(parts.filter((_, i) => (mask & (1 << i)) !== 0).flat());
      }
      return out;
    }
    case 'GROUPING_SET_SETS':
      return content.flatMap((n) => expandItem(n));
    default:
      throw unsupported(`grouping set ${gs.kind}`);
  }
}

/**
 * The expanded grouping sets of a GROUP BY clause (the cartesian product of
 * its items' sets), or undefined for a plain GROUP BY.
 */
export function expandGroupingSets(items: Node[] | undefined): Node[][] | undefined {
  if (!items?.some((n) => 'GroupingSet' in n || rowFields(n) !== undefined)) return undefined;
  let result: Node[][] = [[]];
  for (const item of items) {
    const sets = expandItem(item);
    const next: Node[][] = [];
    for (const q of result) for (const p of sets) next.push([...q, ...p]);
    if (next.length > MAX_SETS) throw new NotLocal(`more than ${MAX_SETS} grouping sets`);
    result = next;
  }
  return result;
}

/**
 * A SELECT whose GROUP BY has grouping sets: `outs` are its outputs compiled
 * once without any set (their names and types), `sets` its expanded sets.
 */
export function groupingSetsSelect(
  this: StatementCompiler,
  s: SelectStmt,
  level: Level,
  outs: Out[],
  sets: Node[][],
  withSql: string,
): { outs: Out[]; build: (finals: Expr[]) => string } {
  if (s.distinctClause !== undefined && s.distinctClause.length > 0)
    throw unsupported('DISTINCT with GROUPING SETS');
  if (level.windows) throw unsupported('WINDOW with GROUPING SETS');
  const where = s.whereClause
    ? this.predicate(s.whereClause, { level, clause: 'where', inAgg: false })
    : undefined;
  if (where?.errorProne) throw new NotLocal('expression that may raise an error in WHERE with GROUPING SETS');
  // The grouping expressions, each once (by its SQL), and each set's.
  const keys = new Map<string, Expr>();
  const setKeys = sets.map((set) => {
    const mine: string[] = [];
    for (const n of set) {
      const e = this.groupKey(n, level, outs);
      if (e.constant || !hasLocalVars(e)) throw unsupported('GROUPING SETS on a constant or outer column');
      keys.set(e.sql, e);
      if (!mine.includes(e.sql)) mine.push(e.sql);
    }
    return mine;
  });
  // A grouping expression inside another would be nulled inside it first:
  // Postgres matches the larger one first. Forwarded.
  const all = [...keys.keys()];
  if (all.some((k) => all.some((other) => other !== k && other.includes(k)))) {
    throw unsupported('GROUPING SETS on expressions containing one another');
  }
  this.groupingSetsPlannerCheck(s, outs, all);
  const offset = s.limitOffset ? this.limitValue(s.limitOffset, 'OFFSET') : undefined;
  const limit = s.limitCount ? this.limitValue(s.limitCount, 'LIMIT') : undefined;
  const fromSql = level.items.map((i) => i.sql).join(', ');
  let dirs: string[] = [];
  const branches = setKeys.map((mine) => {
    const present = new Set(mine);
    level.groupingSet = { keys: new Set(all), present };
    try {
      const bOuts = this.targets(s.targetList ?? [], level).map((o) => ({
        name: o.name,
        expr: this.resolveToText(o.expr),
      }));
      for (const [i, o] of bOuts.entries()) {
        const first = (outs[i] as Out).expr;
        if (o.expr.type !== first.type || o.expr.typmod !== first.typmod)
          throw new NotLocal('grouping set output of another type');
      }
      const having = s.havingClause
        ? this.predicate(s.havingClause, { level, clause: 'having', inAgg: false })
        : undefined;
      if (having?.errorProne)
        throw new NotLocal('expression that may raise an error in HAVING with GROUPING SETS');
      const order = this.sortClause(s.sortClause ?? [], level, bOuts, false);
      // Postgres's check_ungrouped_columns (functional dependency is not
      // used: under grouping sets only columns common to every set count).
      for (const o of bOuts) checkGrouped(o.expr, present);
      if (having) checkGrouped(having, present);
      for (const k of order) checkGrouped(k.expr, present);
      const forms = mine.map((sql) => this.groupForm(keys.get(sql) as Expr, 'GROUP BY'));
      const havingSql = this.havingWithChecks(forms, having?.sql);
      const parts = order.map((k) => sortParts(k.expr, k, this.ctx));
      dirs = parts.map((p) => p.dir);
      const list = [
        ...bOuts.map((o, i) => `${o.expr.sql} AS c${i}`),
        ...parts.map((p, i) => `${p.key} AS o${i}`),
        // The empty set is one group even over no rows: an aggregate makes SQLite's query one.
        `${mine.length === 0 ? 'count(*)' : 'NULL'} AS z`,
      ];
      let sql = `SELECT ${list.join(', ')}`;
      if (fromSql) sql += ` FROM ${fromSql}`;
      if (where) sql += ` WHERE ${where.sql}`;
      if (forms.length > 0) sql += ` GROUP BY ${forms.map((f) => f.sql).join(', ')}`;
      if (havingSql !== undefined) sql += ` HAVING ${havingSql}`;
      if (bOuts.some((o) => o.expr.errorProne) && (limit !== undefined || offset !== undefined)) {
        throw new NotLocal('expression that may raise an error under LIMIT with GROUPING SETS');
      }
      return sql;
    } finally {
      level.groupingSet = { keys: new Set(all) };
    }
  });
  return {
    outs,
    build: (finals) => {
      finals.forEach((f, i) => {
        if (f.sql !== (outs[i] as Out).expr.sql) throw new NotLocal('grouping sets output coerced');
      });
      const a = this.alias();
      let sql = `${withSql}SELECT ${finals.map((_, i) => `${a}.c${i}`).join(', ')} FROM (${branches.join(' UNION ALL ')}) AS ${a}`;
      if (dirs.length > 0) sql += ` ORDER BY ${dirs.map((d, i) => `${a}.o${i} ${d}`).join(', ')}`;
      return sql + limitSql(limit, offset);
    },
  };
}

/**
 * Shapes where Postgres before 18 (no RTE_GROUP yet) plans grouping sets
 * with results that differ from the nulling semantics compiled here, or
 * where that is not excluded: forwarded.
 * - Grouping on columns of a subquery, VALUES or function in FROM: the
 *   pulled-up subquery's expressions are grouped and nulled as the
 *   underlying expressions (two outputs of one column are one key).
 * - One grouping expression output twice: each output is its own grouping
 *   column (by sortgroupref), nulled separately.
 * - HAVING conditions without aggregates: copied into WHERE as well.
 * - Equalities in WHERE (and, under ORDER BY, join conditions): equivalence
 *   classes make ORDER BY keys of nulled columns look redundant.
 */
export function groupingSetsPlannerCheck(
  this: StatementCompiler,
  s: SelectStmt,
  outs: Out[],
  keys: string[],
): void {
  for (const k of keys) {
    const refs = k.match(/\b\w+\.\w+\b/g) ?? [];
    if (refs.length === 0 || refs.some((r) => !/^t\d+\.a\d+$/.test(r))) {
      throw unsupported('GROUPING SETS on a column of a subquery or function in FROM');
    }
    if (outs.filter((o) => o.expr.sql === k).length > 1) {
      throw unsupported('GROUPING SETS on an expression output twice');
    }
  }
  if (s.havingClause) {
    const [kind, body] = nodeKind(s.havingClause);
    const conjuncts =
      kind === 'BoolExpr' && (body as BoolExpr).boolop === 'AND_EXPR'
        ? ((body as BoolExpr).args ?? [])
        : [s.havingClause];
    if (conjuncts.some((n) => !containsAggregate([n]))) {
      throw unsupported('HAVING condition without an aggregate with GROUPING SETS');
    }
  }
  const hasEquality = (n: unknown) => JSON.stringify(n ?? null).includes('{"String":{"sval":"="}}');
  if (hasEquality(s.whereClause) || ((s.sortClause?.length ?? 0) > 0 && hasEquality(s.fromClause))) {
    throw unsupported('GROUPING SETS with equality conditions');
  }
}

/**
 * In a grouping-set branch, a grouping expression missing from the set reads
 * as NULL outside aggregates (select list, HAVING, ORDER BY).
 */
export function groupingNull(this: StatementCompiler, e: Expr, c: ExprCtx): Expr {
  const gs = c.level.groupingSet;
  if (gs?.present === undefined || c.inAgg) return e;
  if (c.clause !== 'select' && c.clause !== 'having' && c.clause !== 'order') return e;
  if (!gs.keys.has(e.sql) || gs.present.has(e.sql)) return e;
  const { localColumn: _l, unknown: _u, literal: _x, ...rest } = e;
  return { ...rest, sql: 'NULL', kids: [], constant: false, errorProne: false, agg: false };
}

/** GROUPING(args): bit i (from the last argument) set when argument i is missing from the branch's set. */
export function groupingFunc(this: StatementCompiler, g: { args?: Node[] }, c: ExprCtx): Expr {
  const gs = c.level.groupingSet;
  if (!gs) throw unsupported('GROUPING without GROUPING SETS');
  if (c.inAgg) throw new NotLocal('aggregate function calls cannot contain grouping operations');
  if (c.clause !== 'select' && c.clause !== 'having' && c.clause !== 'order') {
    throw new NotLocal(`grouping operations are not allowed in ${c.clause.toUpperCase()}`);
  }
  // The arguments as written: inside GROUPING nothing is nulled.
  const args = (g.args ?? []).map((a) => this.expr(a, { ...c, inAgg: true }));
  if (args.length === 0 || args.length > 31) throw new NotLocal('GROUPING must have 1 to 31 arguments');
  let mask = 0;
  if (gs.present !== undefined) {
    for (const a of args) {
      if (!gs.keys.has(a.sql))
        throw new NotLocal(
          'arguments to GROUPING must be grouping expressions of the associated query level',
        );
      mask = mask * 2 + (gs.present.has(a.sql) ? 0 : 1);
    }
  }
  // Not a constant of the statement (it differs per set); counts as an aggregate for GROUP BY and WHERE.
  return { ...constExpr(String(mask), Oid.int4), constant: false, agg: true };
}
