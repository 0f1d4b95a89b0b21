/**
 * WITH RECURSIVE ... SEARCH { DEPTH | BREADTH } FIRST BY cols SET seq and
 * CYCLE cols SET mark [TO v DEFAULT d] USING path (Postgres 14+), as
 * rewriteSearchAndCycle.c rewrites them: the non-recursive term adds
 * `seq` = ARRAY[ROW(cols)] (depth) or ROW(0::int8, cols) (breadth), `mark` =
 * d and `path` = ARRAY[ROW(cols)]; the recursive term adds seq || ROW(cols)
 * or ROW(depth + 1, cols), CASE WHEN ROW(cols) = ANY(path) THEN v ELSE d
 * END and path || ROW(cols), over its own output columns, and reads only
 * rows of the previous step whose mark is not v. The added columns come
 * after the query's own, seq first.
 *
 * The records hold integer columns only and live in SQLite as keys
 * (src/sql/search-cycle-keys.ts) that sort and compare as the Postgres
 * values do; they are printed only as outputs. So that no other operation
 * meets them, the statement must be `SELECT <columns or *> FROM <the WITH
 * query> [ORDER BY <columns>] [LIMIT n]`, no other WITH query may read it,
 * and its own terms may not name seq or path. The mark is a boolean or a
 * string (text) constant. Everything else (Postgres's 42701/42703/42804/
 * 42883 errors among it) is forwarded.
 */
import type { A_Const, ColumnRef, CommonTableExpr, JoinExpr, Node, RangeVar, SelectStmt } from 'libpg-query';
import { NotLocal } from '../../errors.js';
import { nodeKind } from '../parse.js';
import { isIntType, Oid } from '../pgtypes.js';
import { RECORD_OID } from '../record.js';
import { SearchCycleFn } from '../search-cycle-keys.js';
import { relationRefs } from './ctes.js';
import { checkIdent, unsupported } from './support.js';
import type { Expr, Out } from './types.js';
import { derived } from './values.js';

/** pg_type.oid of `record[]` (_record). */
export const RECORD_ARRAY_OID = 2287;
/** Postgres 14: SEARCH and CYCLE clauses. */
export const SEARCH_CYCLE_VERSION = 140000;

export function hasSearchCycle(cte: CommonTableExpr): boolean {
  return cte.search_clause !== undefined || cte.cycle_clause !== undefined;
}

function names(list: Node[] | undefined): string[] {
  return (list ?? []).map((n) => ('String' in n ? (n.String.sval ?? '') : ''));
}

function plainColumnRef(node: Node | undefined, star: boolean): boolean {
  if (!node || !('ColumnRef' in node)) return false;
  const fields = (node.ColumnRef as ColumnRef).fields ?? [];
  if (fields.length < 1 || fields.length > 2) return false;
  return fields.every((f, i) => 'String' in f || (star && i === fields.length - 1 && 'A_Star' in f));
}

/** Any ColumnRef in `tree` whose last field is one of `cols`. */
function mentions(tree: unknown, cols: ReadonlySet<string>): boolean {
  if (Array.isArray(tree)) return tree.some((t) => mentions(t, cols));
  if (tree === null || typeof tree !== 'object') return false;
  for (const [key, value] of Object.entries(tree)) {
    if (key === 'ColumnRef') {
      const last = ((value as ColumnRef).fields ?? []).at(-1);
      if (last && 'String' in last && cols.has(last.String.sval ?? '')) return true;
    }
    if (mentions(value, cols)) return true;
  }
  return false;
}

/** The columns a SEARCH/CYCLE clause adds whose values are keys (seq, path). */
function keyColumns(cte: CommonTableExpr): Set<string> {
  const out = new Set<string>();
  if (cte.search_clause?.search_seq_column) out.add(cte.search_clause.search_seq_column);
  if (cte.cycle_clause?.cycle_path_column) out.add(cte.cycle_clause.cycle_path_column);
  return out;
}

/**
 * The statement reading WITH queries with SEARCH/CYCLE (`main`, whose WITH
 * clause `ctes` is): see the module comment for the one shape served.
 */
export function checkSearchCycleStatement(
  main: SelectStmt | undefined,
  top: boolean,
  ctes: CommonTableExpr[],
  version: number,
): void {
  if (version < SEARCH_CYCLE_VERSION) throw new NotLocal('SEARCH/CYCLE before Postgres 14');
  const sc = ctes.filter(hasSearchCycle);
  if (!main || !top) throw unsupported('SEARCH/CYCLE below the outermost query');
  for (const key of Object.keys(main)) {
    if (
      !['withClause', 'targetList', 'fromClause', 'sortClause', 'limitCount', 'limitOption', 'op'].includes(
        key,
      )
    )
      throw unsupported(`SEARCH/CYCLE read with ${key}`);
  }
  if (main.op !== undefined && main.op !== 'SETOP_NONE')
    throw unsupported('SEARCH/CYCLE read by a set operation');
  const from = main.fromClause ?? [];
  const only = from.length === 1 ? from[0] : undefined;
  const rv = only && 'RangeVar' in only ? (only.RangeVar as RangeVar) : undefined;
  if (
    !rv ||
    rv.schemaname !== undefined ||
    (rv.alias?.colnames?.length ?? 0) > 0 ||
    sc.length !== 1 ||
    rv.relname !== sc[0]?.ctename
  ) {
    throw unsupported('SEARCH/CYCLE WITH query read other than alone in FROM');
  }
  for (const t of main.targetList ?? []) {
    const r = 'ResTarget' in t ? t.ResTarget : undefined;
    if (!r || (r.indirection?.length ?? 0) > 0 || !plainColumnRef(r.val, true))
      throw unsupported('SEARCH/CYCLE read with expressions');
  }
  for (const o of main.sortClause ?? []) {
    const sb = 'SortBy' in o ? o.SortBy : undefined;
    if (!sb || sb.sortby_dir === 'SORTBY_USING' || !plainColumnRef(sb.node, false))
      throw unsupported('SEARCH/CYCLE read ordered by expressions');
  }
  if (main.limitCount !== undefined) {
    const c = 'A_Const' in main.limitCount ? (main.limitCount.A_Const as A_Const) : undefined;
    if (c?.ival === undefined) throw unsupported('SEARCH/CYCLE read with a LIMIT expression');
  }
  const target = sc[0] as CommonTableExpr;
  for (const c of ctes) {
    if (c !== target && relationRefs(c.ctequery, target.ctename ?? '') > 0)
      throw unsupported('SEARCH/CYCLE WITH query read by another WITH query');
  }
  if (mentions(target.ctequery, keyColumns(target)))
    throw unsupported('SEARCH/CYCLE sequence or path column named in its query');
}

/** A condition that cannot raise an error: comparisons of column references and integer or boolean constants. */
function harmless(node: Node): boolean {
  const [kind, body] = nodeKind(node);
  switch (kind) {
    case 'ColumnRef':
      return plainColumnRef(node, false);
    case 'A_Const': {
      const c = body as A_Const;
      return c.ival !== undefined || c.boolval !== undefined || c.isnull === true;
    }
    case 'BoolExpr':
      return ((body as { args?: Node[] }).args ?? []).every(harmless);
    case 'NullTest':
    case 'BooleanTest': {
      const arg = (body as { arg?: Node }).arg;
      return arg !== undefined && harmless(arg);
    }
    case 'A_Expr': {
      const a = body as { kind?: string; name?: Node[]; lexpr?: Node; rexpr?: Node };
      const op = names(a.name);
      return (
        a.kind === 'AEXPR_OP' &&
        op.length === 1 &&
        ['=', '<>', '<', '>', '<=', '>='].includes(op[0] as string) &&
        a.lexpr !== undefined &&
        a.rexpr !== undefined &&
        harmless(a.lexpr) &&
        harmless(a.rexpr)
      );
    }
    default:
      return false;
  }
}

/** The recursive term's reference to the WITH query (the one plain FROM item checkRecursiveTerm found). */
function recursiveRef(rarg: SelectStmt, name: string): RangeVar {
  const find = (n: Node): RangeVar | undefined => {
    const [kind, body] = nodeKind(n);
    if (kind === 'RangeVar') {
      const r = body as RangeVar;
      return r.schemaname === undefined && r.relname === name ? r : undefined;
    }
    if (kind === 'JoinExpr') {
      const j = body as JoinExpr;
      return (j.larg && find(j.larg)) || (j.rarg && find(j.rarg)) || undefined;
    }
    return undefined;
  };
  for (const item of rarg.fromClause ?? []) {
    const r = find(item);
    if (r) return r;
  }
  throw unsupported('SEARCH/CYCLE recursive reference');
}

export interface SearchCycleColumns {
  /** The added columns, after the query's own. */
  added: Out[];
  /** Their SQL in the non-recursive term, over its output columns `c0`, `c1`, ... */
  initial(): string[];
  /** The recursive term to compile: its WHERE also skips rows of the previous step marked as cycles. */
  recursiveTerm: SelectStmt;
  /** Their values in the recursive term: `prev` reads the previous row's columns, `outs` its new ones. */
  next(prev: (column: number) => string, outs: Expr[]): Expr[];
}

function keyExpr(sql: string, fields: number, array: boolean): Expr {
  return {
    ...derived(sql, array ? RECORD_ARRAY_OID : RECORD_OID, -1, []),
    typlen: -1,
    typeName: array ? '_record' : 'record',
    constant: false,
    pathKey: { fields, array },
  };
}

function literalMark(node: Node | undefined): { sql: string; type: number } | undefined {
  const c = node && 'A_Const' in node ? (node.A_Const as A_Const) : undefined;
  if (!c || c.isnull) return undefined;
  if (c.boolval !== undefined) return { sql: c.boolval.boolval === true ? '1' : '0', type: Oid.bool };
  if (c.sval !== undefined) return { sql: `'${(c.sval.sval ?? '').replace(/'/g, "''")}'`, type: Oid.text };
  return undefined;
}

/** Validate a SEARCH/CYCLE clause against the WITH query's columns and describe the columns it adds. */
export function searchCycleColumns(cte: CommonTableExpr, rarg: SelectStmt, outs: Out[]): SearchCycleColumns {
  const name = cte.ctename ?? '';
  const taken = new Set(outs.map((o) => o.name));
  const claim = (col: string | undefined): string => {
    const c = checkIdent(col ?? '');
    if (taken.has(c)) throw new NotLocal(`SEARCH/CYCLE column name "${c}" already used`);
    taken.add(c);
    return c;
  };
  const positions = (list: Node[] | undefined, what: string): number[] => {
    const cols = names(list);
    if (new Set(cols).size !== cols.length) throw new NotLocal(`${what} column specified more than once`);
    return cols.map((c) => {
      const i = outs.findIndex((o) => o.name === c);
      const e = outs[i]?.expr;
      if (!e) throw new NotLocal(`${what} column "${c}" not in WITH query column list`);
      if (!isIntType(e.type)) throw new NotLocal(`${what} column of type ${e.typeName}`);
      return i;
    });
  };
  const search = cte.search_clause;
  const cycle = cte.cycle_clause;
  const added: Out[] = [];
  const n = outs.length;
  const col = (i: number) => `c${i}`;
  const initial: string[] = [];
  type Step = (prev: (column: number) => string, vals: Expr[]) => Expr;
  const steps: Step[] = [];
  if (search) {
    const by = positions(search.search_col_list, 'search');
    const seq = claim(search.search_seq_column);
    const breadth = search.search_breadth_first === true;
    const fields = by.length + (breadth ? 1 : 0);
    const at = n + added.length;
    added.push({ name: seq, expr: keyExpr(col(at), fields, !breadth) });
    const args = (vals: string[]) => by.map((i) => vals[i] as string).join(', ');
    initial.push(`${SearchCycleFn.row}(${breadth ? '0, ' : ''}${args(outs.map((_, i) => col(i)))})`);
    steps.push((prev, vals) => {
      const now = args(vals.map((v) => v.sql));
      const sql = breadth
        ? `${SearchCycleFn.next}(${prev(at)}, ${now})`
        : `(${prev(at)} || ${SearchCycleFn.row}(${now}))`;
      return keyExpr(sql, fields, !breadth);
    });
  }
  let recursiveTerm = rarg;
  if (cycle) {
    const by = positions(cycle.cycle_col_list, 'cycle');
    const markName = claim(cycle.cycle_mark_column);
    const pathName = claim(cycle.cycle_path_column);
    const mark = literalMark(cycle.cycle_mark_value);
    const dflt = literalMark(cycle.cycle_mark_default);
    if (!mark || !dflt || mark.type !== dflt.type)
      throw unsupported('CYCLE mark values other than two boolean or two string constants');
    const markAt = n + added.length;
    const pathAt = markAt + 1;
    const markExpr = (sql: string): Expr => ({
      ...derived(sql, mark.type, -1, []),
      constant: false,
      ...(mark.type === Oid.text ? { coll: 'default' } : {}),
    });
    added.push({ name: markName, expr: markExpr(col(markAt)) });
    added.push({ name: pathName, expr: keyExpr(col(pathAt), by.length, true) });
    const args = (vals: string[]) => by.map((i) => vals[i] as string).join(', ');
    initial.push(dflt.sql, `${SearchCycleFn.row}(${args(outs.map((_, i) => col(i)))})`);
    steps.push((prev, vals) => {
      const now = args(vals.map((v) => v.sql));
      return markExpr(
        `(CASE WHEN ${SearchCycleFn.has}(${prev(pathAt)}, ${now}) THEN ${mark.sql} ELSE ${dflt.sql} END)`,
      );
    });
    steps.push((prev, vals) =>
      keyExpr(`(${prev(pathAt)} || ${SearchCycleFn.row}(${args(vals.map((v) => v.sql))}))`, by.length, true),
    );
    // Postgres: WHERE <previous row's mark> <> v, with the term's own
    // conditions in an order of the planner's: those must not raise errors.
    if (rarg.whereClause && !harmless(rarg.whereClause))
      throw unsupported('CYCLE over a recursive term whose WHERE may raise an error');
    const ref = recursiveRef(rarg, name);
    if ((ref.alias?.colnames?.length ?? 0) > 0)
      throw unsupported('SEARCH/CYCLE reference with column aliases');
    const refName = ref.alias?.aliasname ?? name;
    const skip: Node = {
      A_Expr: {
        kind: 'AEXPR_OP',
        name: [{ String: { sval: '<>' } }],
        lexpr: { ColumnRef: { fields: [{ String: { sval: refName } }, { String: { sval: markName } }] } },
        rexpr: cycle.cycle_mark_value as Node,
      },
    };
    recursiveTerm = {
      ...rarg,
      whereClause: rarg.whereClause
        ? { BoolExpr: { boolop: 'AND_EXPR', args: [rarg.whereClause, skip] } }
        : skip,
    };
  }
  return {
    added,
    initial: () => initial,
    recursiveTerm,
    next: (prev, vals) => steps.map((s) => s(prev, vals)),
  };
}
