/** FROM items: replicated tables, subqueries, functions in FROM, joins, and the column references they make visible. */
import type {
  A_Expr,
  BoolExpr,
  ColumnRef,
  FuncCall,
  JoinExpr,
  Node,
  RangeSubselect,
  RangeVar,
  SelectStmt,
} from 'libpg-query';
import { NotLocal } from '../../errors.js';
import { quoteIdent, type ReplicaTable, sqliteColumnName } from '../../replica/schema.js';
import { SqlFn } from '../functions.js';
import { nodeKind } from '../parse.js';
import { INT_BITS, isIntType, Oid } from '../pgtypes.js';
import type { StatementCompiler } from './compiler.js';
import { checkIdent, describeNode, unsupported } from './support.js';
import type { Expr, FromItem, Level, RangeFunctionNode, RelColumn } from './types.js';
import { columnOf, derived, outerRef, tableColumn, uniqueColumn } from './values.js';

export function fromItem(this: StatementCompiler, node: Node, level: Level): FromItem {
  const [kind, body] = nodeKind(node);
  switch (kind) {
    case 'RangeVar':
      return this.rangeVar(body as RangeVar, level);
    case 'JoinExpr':
      return this.joinExpr(body as JoinExpr, level);
    case 'RangeSubselect':
      return this.rangeSubselect(body as RangeSubselect, level);
    case 'RangeFunction':
      return this.rangeFunction(body as RangeFunctionNode, level);
    default:
      throw unsupported(describeNode(kind, body));
  }
}

export function rangeVar(this: StatementCompiler, r: RangeVar, level: Level): FromItem {
  if (r.catalogname !== undefined) throw unsupported('database-qualified name');
  for (const key of Object.keys(r)) {
    if (!['relname', 'schemaname', 'inh', 'relpersistence', 'alias', 'location'].includes(key)) {
      throw unsupported(`FROM ${key}`);
    }
  }
  // `ONLY t` reads t's own rows; `t` and `t*` also its inheritance children's.
  const only = r.inh !== true;
  const relname = checkIdent(r.relname ?? '');
  const aliasName = r.alias ? checkIdent(r.alias.aliasname ?? '') : undefined;
  const colnames = (r.alias?.colnames ?? []).map((n) => ('String' in n ? (n.String.sval ?? '') : ''));
  const a = this.alias();
  if (r.schemaname === undefined) {
    const cte = this.findCte(level.ctes, relname);
    if (cte && only) throw unsupported('ONLY on a WITH query');
    if (cte) {
      if (colnames.length > cte.outs.length) throw new NotLocal('too many column aliases');
      const columns = cte.outs.map((o, i) => ({
        name: checkIdent(colnames[i] ?? o.name),
        expr: columnOf(o.expr, `${a}.c${i}`),
      }));
      const refname = aliasName ?? relname;
      if (cte.mayRaise) this.raisingRefs++;
      cte.onRef?.(a);
      return {
        sql: `${cte.sqlName} AS ${a}`,
        columns,
        rels: new Map([[refname, { columns, display: refname }]]),
        rowids: [],
        baseTables: 0,
        complex: true,
        ...(cte.mayRaise ? { raisingCte: true } : {}),
      };
    }
  }
  let table: ReplicaTable | undefined;
  if (r.schemaname !== undefined) {
    const schema = checkIdent(r.schemaname);
    table = this.ctx.findTable(schema, relname);
    if (!table) throw new NotLocal(`table ${schema}.${relname} not in replica`);
  } else {
    table = this.ctx.resolveUnqualified(relname);
    this.unqualified = true;
  }
  if (only) {
    // A partitioned table's copy holds its partitions' rows; ONLY reads none.
    if (table.relkind !== 'r') throw unsupported(`ONLY ${table.schema}.${table.name} (not a plain table)`);
  } else if (table.inheritors === undefined || table.inheritors.length > 0) {
    // Its copy holds only its own rows (COPY and pgoutput see each table
    // alone), not the children's that Postgres adds.
    throw new NotLocal(
      `table ${table.schema}.${table.name} ${table.inheritors === undefined ? 'may have' : 'has'} inheritance children`,
    );
  }
  this.tables.set(table.oid, table);
  const t = table;
  // `FROM t AS x(a, b)` renames the first columns (their origin stays the table's).
  if (colnames.length > t.columns.length)
    throw new NotLocal(`table "${aliasName}" has too few columns for its aliases`);
  const columns = t.columns.map((column, i) => ({
    name: checkIdent(colnames[i] ?? column.name),
    // Resolved by exact (case-sensitive) name above; SQLite sees only a<attnum>.
    expr: tableColumn(t, column, `${a}.${sqliteColumnName(column)}`),
  }));
  for (const { expr } of columns) if (expr.enumLabels !== undefined) this.registerEnum(expr);
  const refname = aliasName ?? relname;
  return {
    sql: `${quoteIdent(t.sqliteName)} AS ${a}`,
    columns,
    // Without an alias the entry also answers to `schema.table.column`.
    rels: new Map([
      [refname, { columns, display: `${t.schema}.${t.name}`, ...(aliasName ? {} : { schema: t.schema }) }],
    ]),
    // No data column is named rowid (they are a<attnum>).
    rowids: [`${a}.rowid`],
    baseTables: 1,
    complex: false,
  };
}

export function rangeSubselect(this: StatementCompiler, r: RangeSubselect, level: Level): FromItem {
  if (r.lateral) return this.lateralSubselect(r, level);
  const q = r.subquery;
  if (!q) throw unsupported('empty subquery');
  const [kind, body] = nodeKind(q);
  if (kind !== 'SelectStmt') throw unsupported(kind);
  const sub = this.selectStmt(body as SelectStmt, level.parent, level.ctes, false, false);
  const finals = sub.outs.map((o) => o.expr);
  const a = this.alias();
  const colnames = (r.alias?.colnames ?? []).map((n) => ('String' in n ? (n.String.sval ?? '') : ''));
  if (colnames.length > sub.outs.length) throw new NotLocal('too many column aliases');
  const columns = sub.outs.map((o, i) => ({
    name: checkIdent(colnames[i] ?? o.name),
    expr: columnOf(finals[i] as Expr, `${a}.c${i}`),
  }));
  const refname = r.alias ? checkIdent(r.alias.aliasname ?? '') : undefined;
  return {
    sql: `(${sub.build(finals)}) AS ${a}`,
    columns,
    rels: refname ? new Map([[refname, { columns, display: refname }]]) : new Map(),
    rowids: [],
    baseTables: 0,
    complex: true,
  };
}

/**
 * `generate_series(int4, int4 [, int4])` in FROM, as a recursive CTE counting like generate_series_step_int4:
 * no rows when an argument is NULL, a zero step is Postgres's error (the run
 * aborts and upstream raises it). Arguments are constants: a function in
 * FROM may refer to earlier FROM items (implicit LATERAL), which forwards.
 */
export function rangeFunction(this: StatementCompiler, r: RangeFunctionNode, level: Level): FromItem {
  for (const key of Object.keys(r)) {
    if (!['functions', 'alias', 'lateral', 'ordinality', 'coldeflist'].includes(key)) {
      throw unsupported(`function in FROM with ${key}`);
    }
  }
  const fns = r.functions ?? [];
  const items = fns.length === 1 && fns[0] && 'List' in fns[0] ? (fns[0].List.items ?? []) : [];
  const call = items[0];
  const coldefs = items[1];
  if (
    items.length !== 2 ||
    !call ||
    !('FuncCall' in call) ||
    (coldefs !== undefined && Object.keys(coldefs).length > 0)
  ) {
    throw unsupported('function in FROM');
  }
  const f = call.FuncCall as FuncCall;
  const names = (f.funcname ?? []).map((n) => ('String' in n ? (n.String.sval ?? '') : ''));
  const name = names[names.length - 1] ?? '';
  if (
    (names.length === 2 && names[0] !== 'pg_catalog') ||
    names.length > 2 ||
    f.agg_order ||
    f.agg_filter ||
    f.over ||
    f.agg_star ||
    f.agg_distinct ||
    f.func_variadic
  ) {
    throw unsupported('function in FROM');
  }
  // A function in FROM sees the FROM items before it (implicit LATERAL).
  const argLevel: Level = {
    parent: level.parent,
    items: [...level.items],
    ctes: level.ctes,
    top: false,
    grouped: false,
    hasSublinks: false,
  };
  const args = (f.args ?? []).map((a) => this.expr(a, { level: argLevel, clause: 'select', inAgg: false }));
  const aliasName = r.alias ? checkIdent(r.alias.aliasname ?? '') : undefined;
  const colnames = (r.alias?.colnames ?? []).map((n) => ('String' in n ? (n.String.sval ?? '') : ''));
  if (r.coldeflist !== undefined) {
    if (r.ordinality) throw unsupported('function in FROM with coldeflist and ORDINALITY');
    return this.jsonbToRecord(name, args, aliasName, colnames, r.coldeflist);
  }
  if (
    name === 'generate_series' &&
    !r.ordinality &&
    args.every((a) => !a.unknown && a.constant && a.type === Oid.int4 && !a.errorProne)
  ) {
    return this.constantSeries(args, aliasName, colnames);
  }
  return this.setReturningCall(name, args, aliasName, colnames, r.ordinality === true);
}

/**
 * `generate_series(int4, int4 [, int4])` of constants, as a recursive CTE counting like generate_series_step_int4:
 * no rows when an argument is NULL, a zero step is Postgres's error (the run
 * aborts and upstream raises it).
 */
export function constantSeries(
  this: StatementCompiler,
  args: Expr[],
  aliasName: string | undefined,
  colnames: string[],
): FromItem {
  if (args.length < 2 || args.length > 3) throw unsupported('generate_series() with these arguments');
  const [startArg, stopArg, stepArg] = args as [Expr, Expr, Expr | undefined];
  const start = startArg.sql;
  const stop = stopArg.sql;
  const step = stepArg ? stepArg.sql : '1';
  if (colnames.length > 1) throw new NotLocal('too many column aliases');
  const a = this.alias();
  const v = `${a}_v`;
  const more = (x: string) =>
    `((${step}) > 0 AND ${x} <= (${stop})) OR ((${step}) < 0 AND ${x} >= (${stop}))`;
  // Checked before the run (Postgres raises a zero step; very long series are not worth it).
  this.prechecks.push(
    `(CASE WHEN (${step}) = 0 THEN ${SqlFn.notLocal}('generate_series step size zero')` +
      ` WHEN abs(((${stop}) - (${start})) / (${step})) > 1000000 THEN ${SqlFn.notLocal}('generate_series longer than 1000000 rows') ELSE 1 END)`,
  );
  const sql =
    `(WITH RECURSIVE ${a}_s(${v}) AS (` +
    `SELECT ${start} WHERE ${more(start)}` +
    ` UNION ALL SELECT ${v} + (${step}) FROM ${a}_s WHERE ${more(`${v} + (${step})`)}` +
    `) SELECT ${v} AS c0 FROM ${a}_s) AS ${a}`;
  const colName = checkIdent(colnames[0] ?? aliasName ?? 'generate_series');
  const out: Expr = { ...derived(`${a}.c0`, Oid.int4, -1, []), constant: false };
  const columns = [{ name: colName, expr: columnOf(out, `${a}.c0`) }];
  const refname = aliasName ?? 'generate_series';
  return {
    sql,
    columns,
    rels: new Map([[refname, { columns, display: refname }]]),
    rowids: [],
    baseTables: 0,
    complex: true,
  };
}

export function joinExpr(this: StatementCompiler, j: JoinExpr, level: Level): FromItem {
  if (j.alias) throw unsupported('alias on a join');
  if (j.join_using_alias) throw unsupported('USING ... AS');
  const type =
    j.jointype === 'JOIN_INNER'
      ? 'JOIN'
      : j.jointype === 'JOIN_LEFT'
        ? 'LEFT JOIN'
        : j.jointype === 'JOIN_RIGHT'
          ? 'RIGHT JOIN'
          : j.jointype === 'JOIN_FULL'
            ? 'FULL JOIN'
            : undefined;
  if (!type) throw unsupported(`${(j.jointype ?? '').replace('JOIN_', '')} JOIN`);
  const left = this.fromItem(j.larg as Node, level);
  // A function on the right may refer to the left side (implicit LATERAL),
  // not under RIGHT or FULL JOIN (Postgres's error).
  const outer = level.items;
  if (type === 'JOIN' || type === 'LEFT JOIN') level.items = [...outer, left];
  let right: FromItem;
  try {
    right = this.fromItem(j.rarg as Node, level);
  } finally {
    level.items = outer;
  }
  this.checkDistinctRefnames([left, right]);
  const rels = new Map([...left.rels, ...right.rels]);
  const joined = { left, right };
  let cond: string;
  let columns: RelColumn[];
  // NATURAL: USING the column names both sides have, in the left side's order (none: a cross join).
  const usingNames = j.isNatural
    ? [...new Set(left.columns.map((c) => c.name))].filter((n) => right.columns.some((c) => c.name === n))
    : (j.usingClause ?? []).map((n) => ('String' in n ? (n.String.sval ?? '') : ''));
  if (j.isNatural && usingNames.length === 0) {
    columns = [...left.columns, ...right.columns];
    cond = '1';
  } else if (usingNames.length > 0) {
    const names = usingNames;
    const conds: string[] = [];
    const merged: RelColumn[] = [];
    const lUsed = new Set<RelColumn>();
    const rUsed = new Set<RelColumn>();
    for (const name of names) {
      const lc = uniqueColumn(left.columns, name, 'left');
      const rc = uniqueColumn(right.columns, name, 'right');
      lUsed.add(lc);
      rUsed.add(rc);
      let keepExpr: Expr;
      const wide = (): number =>
        (INT_BITS[lc.expr.type] as number) >= (INT_BITS[rc.expr.type] as number)
          ? lc.expr.type
          : rc.expr.type;
      if (lc.expr.type !== rc.expr.type && !(isIntType(lc.expr.type) && isIntType(rc.expr.type))) {
        throw new NotLocal(`JOIN USING columns of different types (${name})`);
      }
      if (type === 'FULL JOIN') {
        // COALESCE(left, right) in the common type: no longer a plain column (no table OID).
        keepExpr = { ...this.fullJoinMerged(lc.expr, rc.expr, wide()), localColumn: true };
      } else if (lc.expr.type === rc.expr.type) keepExpr = (type === 'RIGHT JOIN' ? rc : lc).expr;
      else {
        // The merged column is the kept side coerced to the wider type (no longer a plain column).
        keepExpr = { ...this.coerce((type === 'RIGHT JOIN' ? rc : lc).expr, wide()), localColumn: true };
      }
      const c = this.comparison('=', lc.expr, rc.expr, 'using');
      conds.push(c.sql);
      merged.push({ name, expr: keepExpr });
    }
    cond = conds.join(' AND ');
    columns = [
      ...merged,
      ...left.columns.filter((c) => !lUsed.has(c)),
      ...right.columns.filter((c) => !rUsed.has(c)),
    ];
  } else {
    columns = [...joined.left.columns, ...joined.right.columns];
    if (j.quals) {
      const saved = level.items;
      level.items = [left, right];
      try {
        const q = this.predicate(j.quals, { level, clause: 'on', inAgg: false });
        if (q.errorProne) throw new NotLocal('expression that may raise an error in JOIN ON');
        if (type === 'FULL JOIN') this.fullJoinCondition(j.quals, left, right, level);
        cond = q.sql;
      } finally {
        level.items = saved;
      }
    } else {
      cond = '1';
    }
  }
  return {
    sql: `(${left.sql} ${type} ${right.sql} ON ${cond})`,
    columns,
    rels,
    rowids: [...left.rowids, ...right.rowids],
    baseTables: left.baseTables + right.baseTables,
    complex: true,
  };
}

/** Resolve a ColumnRef to a column expression, or the columns of `*` / `t.*`. */
export function columnRef(this: StatementCompiler, ref: ColumnRef, level: Level): Expr | RelColumn[] {
  const parts = (ref.fields ?? []).map((f) => {
    if ('String' in f) return checkIdent(f.String.sval ?? '');
    if ('A_Star' in f) return '*';
    throw unsupported('column reference');
  });
  if (parts.length === 1) {
    const name = parts[0] as string;
    if (name === '*') {
      if (level.items.length === 0) throw new NotLocal('SELECT * with no tables');
      return level.items.flatMap((i) => i.columns);
    }
    for (let l: Level | undefined = level; l; l = l.parent) {
      const matches = l.items.flatMap((i) => i.columns.filter((c) => c.name === name));
      if (matches.length > 1) throw new NotLocal(`column reference "${name}" is ambiguous`);
      const only = matches[0];
      if (only) return l === level ? { ...only.expr, localColumn: true } : outerRef(only.expr);
    }
    const where = level.items.flatMap((i) => [...i.rels.values()].map((r) => r.display)).join(', ');
    throw new NotLocal(`column ${name} not in ${where || 'FROM'}`);
  }
  if (parts.length === 2) {
    const [qual, name] = parts as [string, string];
    if (qual === '*') throw unsupported('column reference');
    for (let l: Level | undefined = level; l; l = l.parent) {
      const rel = l.items.map((i) => i.rels.get(qual)).find((r) => r !== undefined);
      if (!rel) continue;
      if (name === '*') {
        if (l !== level) throw unsupported('outer t.*');
        return rel.columns;
      }
      const matches = rel.columns.filter((c) => c.name === name);
      if (matches.length > 1) throw new NotLocal(`column reference "${qual}.${name}" is ambiguous`);
      const only = matches[0];
      if (!only) throw new NotLocal(`column ${name} not in ${rel.display}`);
      return l === level ? { ...only.expr, localColumn: true } : outerRef(only.expr);
    }
    throw new NotLocal(`unknown qualifier ${qual}`);
  }
  if (parts.length === 3) {
    // schema.table.column: only an unaliased table of that schema matches.
    const [schema, qual, name] = parts as [string, string, string];
    if (name === '*' || qual === '*' || schema === '*') throw unsupported('schema.table.*');
    for (let l: Level | undefined = level; l; l = l.parent) {
      const rel = l.items.map((i) => i.rels.get(qual)).find((r) => r !== undefined);
      if (!rel) continue;
      if (rel.schema !== schema) throw new NotLocal(`invalid reference to ${schema}.${qual}`);
      const matches = rel.columns.filter((c) => c.name === name);
      if (matches.length !== 1) throw new NotLocal(`column ${name} not unique in ${rel.display}`);
      const only = matches[0] as RelColumn;
      return l === level ? { ...only.expr, localColumn: true } : outerRef(only.expr);
    }
    throw new NotLocal(`unknown qualifier ${schema}.${qual}`);
  }
  throw unsupported('column reference with more than three parts');
}

/** A FULL JOIN USING column: COALESCE of both sides in their common type (typmod kept when both have it). */
export function fullJoinMerged(this: StatementCompiler, l: Expr, r: Expr, type: number): Expr {
  const a = this.coerce(l, type);
  const b = this.coerce(r, type);
  const e = derived(`coalesce(${a.sql}, ${b.sql})`, type, a.typmod === b.typmod ? a.typmod : -1, [a, b]);
  const { origin: _o, columnName: _c, ...rest } = a;
  return { ...rest, ...e, coll: a.coll };
}

/**
 * Postgres plans a FULL JOIN only as a merge or hash join: its ON
 * conditions must be equalities between a column of each side (or constant
 * true/false); anything else is its error 0A000 ("FULL JOIN is only
 * supported with merge-joinable or hash-joinable join conditions").
 * Checked on the parse tree, conservatively: other shapes forward.
 */
export function fullJoinCondition(
  this: StatementCompiler,
  quals: Node,
  left: FromItem,
  right: FromItem,
  level: Level,
): void {
  const [kind, body] = nodeKind(quals);
  const conjuncts =
    kind === 'BoolExpr' && (body as BoolExpr).boolop === 'AND_EXPR'
      ? ((body as BoolExpr).args ?? [])
      : [quals];
  const sideOf = (n: Node | undefined): 'l' | 'r' | undefined => {
    if (!n || !('ColumnRef' in n)) return undefined;
    const found = (item: FromItem): boolean => {
      const saved = level.items;
      level.items = [item];
      try {
        const e = this.columnRef(n.ColumnRef as ColumnRef, level);
        return !Array.isArray(e) && e.localColumn === true;
      } catch (err) {
        if (err instanceof NotLocal) return false;
        throw err;
      } finally {
        level.items = saved;
      }
    };
    const inLeft = found(left);
    const inRight = found(right);
    return inLeft && !inRight ? 'l' : inRight && !inLeft ? 'r' : undefined;
  };
  for (const c of conjuncts) {
    if ('A_Const' in c && (c.A_Const as { boolval?: unknown }).boolval !== undefined) continue;
    if ('A_Expr' in c) {
      const a = c.A_Expr as A_Expr;
      const op =
        a.name?.length === 1 && a.name[0] && 'String' in a.name[0] ? a.name[0].String.sval : undefined;
      if (a.kind === 'AEXPR_OP' && op === '=') {
        const sides = [sideOf(a.lexpr), sideOf(a.rexpr)].sort().join('');
        if (sides === 'lr') continue;
      }
    }
    throw unsupported('FULL JOIN condition other than equalities of both sides');
  }
}
