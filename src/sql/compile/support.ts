/** Constants and small AST helpers shared by every construct family (names, column names, node descriptions). */
import type {
  A_Expr,
  CaseExpr,
  CollateClause,
  ColumnRef,
  FuncCall,
  MinMaxExpr,
  Node,
  SelectStmt,
  SubLink,
  TypeCast,
} from 'libpg-query';
import { NotLocal } from '../../errors.js';
import { SqlFn } from '../functions.js';
import { nodeKind } from '../parse.js';
import { TYPES } from '../pgtypes.js';

/** Name of the SQLite function (registered by the router) that aborts a local run. */
export const NOT_LOCAL_FUNCTION = SqlFn.notLocal;

export const INT64_MIN = -(2n ** 63n);

export const INT64_MAX = 2n ** 63n - 1n;

export const INT32_MIN = -(2n ** 31n);

export const INT32_MAX = 2n ** 31n - 1n;

/** Postgres truncates longer identifiers (NAMEDATALEN − 1) with a NOTICE we would not send. */
export const MAX_IDENT_BYTES = 63;

/** Human names for node kinds we do not translate. */
export const NODE_NAMES: Record<string, string> = {
  RangeFunction: 'function in FROM',
  RangeTableFunc: 'XMLTABLE',
  RangeTableSample: 'TABLESAMPLE',
  JsonTable: 'JSON_TABLE',
  SubLink: 'subquery',
  A_Indirection: 'subscript or field selection',
  A_ArrayExpr: 'array constructor',
  RowExpr: 'row constructor',
  MinMaxExpr: 'GREATEST/LEAST',
  SQLValueFunction: 'SQL value function',
  GroupingFunc: 'GROUPING',
  XmlExpr: 'XML expression',
  A_Const: 'constant',
  GroupingSet: 'GROUPING SETS/ROLLUP/CUBE',
};

export const A_EXPR_NAMES: Record<string, string> = {
  AEXPR_OP_ANY: 'ANY',
  AEXPR_OP_ALL: 'ALL',
  AEXPR_NULLIF: 'NULLIF',
  AEXPR_IN: 'IN',
  AEXPR_LIKE: 'LIKE',
  AEXPR_ILIKE: 'ILIKE',
  AEXPR_SIMILAR: 'SIMILAR TO',
  AEXPR_BETWEEN: 'BETWEEN',
  AEXPR_NOT_BETWEEN: 'NOT BETWEEN',
  AEXPR_BETWEEN_SYM: 'BETWEEN SYMMETRIC',
  AEXPR_NOT_BETWEEN_SYM: 'NOT BETWEEN SYMMETRIC',
};

export const COMPARISON_OPS = new Set(['=', '<>', '<', '<=', '>', '>=']);

export const ARITH_OPS = new Set(['+', '-', '*', '/', '%']);

/** The json/jsonb operators (compile/json-ops.ts). */
export const JSON_OPS = new Set(['->', '->>', '#>', '#>>', '@>', '<@', '?', '?|', '?&']);
/** Those whose right operand is a text[] constant (bound as JSON). */
export const JSON_ARRAY_OPS = new Set(['#>', '#>>', '?|', '?&']);
export const AGGREGATES = new Set([
  'count',
  'sum',
  'min',
  'max',
  'avg',
  'bool_and',
  'bool_or',
  'every',
  'bit_and',
  'bit_or',
  'bit_xor',
]);

/** Aggregates whose result depends on the order of their input rows. */
export const ORDERED_AGGREGATES = new Set(['string_agg', 'array_agg']);

/** Collations known to be deterministic: equality is byte equality. */
export const DETERMINISTIC_COLLATIONS = new Set(['default', 'C', 'POSIX', 'ucs_basic']);

export function unsupported(what: string): NotLocal {
  return new NotLocal(`unsupported: ${what}`);
}

export function checkIdent(name: string): string {
  if (Buffer.byteLength(name, 'utf8') > MAX_IDENT_BYTES) {
    throw unsupported('identifier longer than 63 bytes');
  }
  return name;
}

export function funcName(names: Node[] | undefined): string {
  return (names ?? [])
    .map((n) => ('String' in n ? n.String.sval : '?'))
    .filter((s) => s !== 'pg_catalog')
    .join('.');
}

export function describeNode(kind: string, body: unknown): string {
  if (kind === 'FuncCall') return `function call ${funcName((body as FuncCall).funcname)}()`;
  if (kind === 'A_Expr') {
    const e = body as A_Expr;
    const named = A_EXPR_NAMES[e.kind ?? ''];
    if (named) return named;
    return `operator ${operatorName(e) ?? '?'}`;
  }
  return NODE_NAMES[kind] ?? kind;
}

export function operatorName(e: { name?: Node[] }): string | undefined {
  const names = e.name ?? [];
  if (names.length !== 1) return undefined;
  const only = names[0];
  return only && 'String' in only ? only.String.sval : undefined;
}

/** Parse an integer literal text within int64, else undefined. */
export function int64Text(text: string): bigint | undefined {
  if (!/^-?\d+$/.test(text)) return undefined;
  const v = BigInt(text);
  return v >= INT64_MIN && v <= INT64_MAX ? v : undefined;
}

export function typeName(oid: number): string {
  return TYPES.get(oid)?.name ?? String(oid);
}

export function typeLen(oid: number): number {
  return TYPES.get(oid)?.len ?? -1;
}

/**
 * Postgres's FigureColname: the output name of an unaliased select-list
 * item, with its strength (2: a real name, 1: a fallback such as a type
 * name or `case`, 0: none, giving `?column?`).
 */
export function figureColname(node: Node): [string, number] {
  const [kind, body] = nodeKind(node);
  switch (kind) {
    case 'ColumnRef': {
      const fields = (body as ColumnRef).fields ?? [];
      const last = fields[fields.length - 1];
      if (last && 'String' in last) return [last.String.sval ?? '', 2];
      return ['?column?', 0];
    }
    case 'FuncCall': {
      const names = (body as FuncCall).funcname ?? [];
      const last = names[names.length - 1];
      return [last && 'String' in last ? (last.String.sval ?? '') : '?column?', 2];
    }
    case 'A_Indirection': {
      // FigureColnameInternal: the last field name selected, else the argument's name.
      const ind = body as { arg?: Node; indirection?: Node[] };
      const list = ind.indirection ?? [];
      for (let i = list.length - 1; i >= 0; i--) {
        const item = list[i] as Node;
        if ('String' in item) return [item.String.sval ?? '', 2];
      }
      return ind.arg ? figureColname(ind.arg) : ['?column?', 0];
    }
    case 'A_Expr':
      if ((body as A_Expr).kind === 'AEXPR_NULLIF') return ['nullif', 2];
      return ['?column?', 0];
    case 'TypeCast': {
      const tc = body as TypeCast;
      const inner = tc.arg ? figureColname(tc.arg) : (['?column?', 0] as [string, number]);
      if (inner[1] > 1) return inner;
      const names = tc.typeName?.names ?? [];
      const last = names[names.length - 1];
      if (last && 'String' in last) return [last.String.sval ?? '', 1];
      return inner;
    }
    case 'CollateClause': {
      const arg = (body as CollateClause).arg;
      return arg ? figureColname(arg) : ['?column?', 0];
    }
    case 'CaseExpr': {
      const def = (body as CaseExpr).defresult;
      const inner = def ? figureColname(def) : (['?column?', 0] as [string, number]);
      return inner[1] <= 1 ? ['case', 1] : inner;
    }
    case 'CoalesceExpr':
      return ['coalesce', 2];
    case 'RowExpr':
      return ['row', 2];
    case 'GroupingFunc':
      return ['grouping', 2];
    case 'A_ArrayExpr':
      return ['array', 2];
    case 'MinMaxExpr':
      return [(body as MinMaxExpr).op === 'IS_LEAST' ? 'least' : 'greatest', 2];
    case 'SubLink': {
      const s = body as SubLink;
      if (s.subLinkType === 'EXISTS_SUBLINK') return ['exists', 2];
      if (s.subLinkType === 'EXPR_SUBLINK' || s.subLinkType === 'ARRAY_SUBLINK') {
        // The (already transformed) subquery's first target name.
        return [subqueryColname(s.subselect), 2];
      }
      return ['?column?', 0];
    }
    default:
      return ['?column?', 0];
  }
}

/** The output name of a subquery's first column, as its ResTarget's resname would be. */
export function subqueryColname(node: Node | undefined): string {
  if (!node) throw unsupported('subquery');
  const [kind, body] = nodeKind(node);
  if (kind !== 'SelectStmt') throw unsupported('subquery');
  const s = body as SelectStmt;
  if (s.op !== undefined && s.op !== 'SETOP_NONE') {
    return subqueryColname(s.larg ? ({ SelectStmt: s.larg } as Node) : undefined);
  }
  const first = s.targetList?.[0];
  if (!first || !('ResTarget' in first)) throw unsupported('subquery');
  const t = first.ResTarget;
  if (t.name !== undefined) return t.name;
  if (!t.val) throw unsupported('subquery');
  const [vkind, vbody] = nodeKind(t.val);
  if (vkind === 'ColumnRef' && ((vbody as ColumnRef).fields ?? []).some((f) => 'A_Star' in f)) {
    throw unsupported('scalar subquery with *');
  }
  return figureColname(t.val)[0];
}

/** Whether a tree contains an aggregate call of this query level (not looking into sub-selects). */
export function containsAggregate(tree: unknown): boolean {
  if (Array.isArray(tree)) return tree.some(containsAggregate);
  if (tree === null || typeof tree !== 'object') return false;
  for (const [key, value] of Object.entries(tree)) {
    if (key === 'SubLink' || key === 'SelectStmt' || key === 'RangeSubselect') continue;
    if (key === 'FuncCall') {
      const f = value as FuncCall;
      // A window call is not an aggregate, though its arguments may contain one.
      const fname = funcName(f.funcname);
      if ((AGGREGATES.has(fname) || ORDERED_AGGREGATES.has(fname)) && !f.over) return true;
    }
    if (containsAggregate(value)) return true;
  }
  return false;
}

/** Whether a tree contains a window function call (not looking into sub-selects). */
export function containsWindow(tree: unknown): boolean {
  if (Array.isArray(tree)) return tree.some(containsWindow);
  if (tree === null || typeof tree !== 'object') return false;
  for (const [key, value] of Object.entries(tree)) {
    if (key === 'SubLink' || key === 'SelectStmt' || key === 'RangeSubselect') continue;
    if (key === 'FuncCall' && (value as FuncCall).over) return true;
    if (containsWindow(value)) return true;
  }
  return false;
}
