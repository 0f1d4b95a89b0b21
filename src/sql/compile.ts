/**
 * Postgres AST (libpg-query) → SQLite SQL for the statements Outpost can
 * answer locally. A visitor with one case per node kind: every construct is
 * either translated with semantics identical to Postgres's, or rejected with
 * `NotLocal('<why>')` so the statement is forwarded. Postgres errors are never
 * imitated: anything Postgres would reject (unknown column, type mismatch,
 * negative LIMIT, division by zero, ...) is forwarded so upstream produces
 * the exact error.
 *
 * Every SQLite expression yields its value in the stored form of its Postgres
 * type (docs/architecture.md, "Storage of values"); comparisons and sorts go
 * through `comparable()`, which maps a stored value to one SQLite orders and
 * equates exactly like Postgres (float `'-0'` → 0.0, numeric and
 * timestamptz → sortable keys, ...).
 *
 * Supported:
 *   SELECT [DISTINCT | DISTINCT ON (...)] <*, t.*, expressions [AS alias]>
 *   [FROM replicated tables, CTEs and subqueries, [INNER|LEFT|RIGHT|CROSS] JOIN ON/USING]
 *   [WHERE] [GROUP BY] [HAVING] [ORDER BY] [LIMIT/OFFSET constants or $n]
 *   UNION [ALL] / INTERSECT / EXCEPT, non-recursive WITH.
 * Expressions: columns (also schema.table.column), constants, $n parameters,
 *   comparisons, AND/OR/NOT, IS [NOT] NULL/TRUE/FALSE/UNKNOWN/DISTINCT FROM,
 *   [NOT] IN (list|subquery), = ANY/<> ALL (array), [NOT] BETWEEN [SYMMETRIC],
 *   [NOT] [I]LIKE [ESCAPE] (also on char(n)), EXISTS, scalar subqueries,
 *   integer + - * / %, numeric + - * and round(numeric[, n]), date ± integer,
 *   date - date, extract(field FROM date), ||, lower, upper, length,
 *   GREATEST/LEAST, COALESCE, NULLIF, CASE, COLLATE "C", jsonb -> / ->> with a
 *   constant key, casts between supported types; count, sum, avg of integers
 *   and numeric, min/max, [FILTER (WHERE ...)], string_agg/array_agg with
 *   ORDER BY; window functions (row_number, rank, dense_rank, percent_rank,
 *   cume_dist, ntile, lag, lead, count/sum/avg/min/max) with the default
 *   frame. GROUP BY/DISTINCT over numeric and float group by value, and abort
 *   when a group's values differ in text (Postgres would output any of them);
 *   constructs whose result depends on Postgres's order among ties
 *   (row_number, lag/lead, DISTINCT ON, string_agg/array_agg ORDER BY) abort
 *   the run when a tie occurs. Exact numeric division and sums; a tie
 *   between different texts of equal values in min/max is not local.
 */
import type {
  A_Const,
  A_Expr,
  BoolExpr,
  BooleanTest,
  CaseExpr,
  CoalesceExpr,
  CollateClause,
  ColumnRef,
  CommonTableExpr,
  FuncCall,
  JoinExpr,
  MinMaxExpr,
  Node,
  NullTest,
  ParamRef,
  RangeSubselect,
  RangeVar,
  ResTarget,
  SelectStmt,
  SortBy,
  SubLink,
  TypeCast,
  TypeName,
  WithClause,
} from 'libpg-query';
import { NotLocal } from '../errors.js';
import { quoteIdent, type ReplicaColumn, type ReplicaTable, sqliteColumnName } from '../replica/schema.js';
import { SqlFn } from './functions.js';
import {
  checkAllWindowsUsed,
  type NamedWindows,
  namedWindows,
  resolveOver,
  type WindowSpec,
} from './named-windows.js';
import { nodeKind } from './parse.js';
import {
  DATE_FIELDS,
  float8Input,
  INT_BITS,
  inputValue,
  isIntType,
  numericInput,
  Oid,
  type Stored,
  TYPE_BY_NAME,
  TYPES,
  timestamptzInputAt,
  timestamptzNeedsZone,
} from './pgtypes.js';
import { sortWithoutUsing } from './sort-using.js';
import { windowFrame } from './window-frames.js';

/** A function in FROM (libpg-query's RangeFunction). */
interface RangeFunctionNode {
  functions?: Node[];
  alias?: { aliasname?: string; colnames?: Node[] };
  lateral?: boolean;
  ordinality?: boolean;
  is_rowsfrom?: boolean;
  coldeflist?: Node[];
}

/** Name of the SQLite function (registered by the router) that aborts a local run. */
export const NOT_LOCAL_FUNCTION = SqlFn.notLocal;

export interface CompileContext {
  /** Resolve `schema.name` exactly (schema-qualified reference). */
  findTable(schema: string, name: string): ReplicaTable | undefined;
  /**
   * Resolve an unqualified relation name the way the session's search_path
   * would, or throw NotLocal when that cannot be decided from the replica.
   */
  resolveUnqualified(name: string): ReplicaTable;
  /** The database's default collation (datcollate) is C/POSIX. */
  textCollationIsC: boolean;
  /**
   * The database's default character classification (datctype) is C/POSIX,
   * so lower(), upper() and ILIKE fold ASCII letters only (as SQLite's do).
   */
  textCtypeIsC?: boolean;
}

export interface CompileOptions {
  /**
   * Extended protocol: the parameter types Parse declared (0 = infer, like
   * Postgres). Without it (simple protocol) a `$n` is an error upstream.
   */
  declaredParamTypes?: readonly number[];
}

/** One RowDescription column. */
export interface OutputColumn {
  name: string;
  typeOid: number;
  typmod: number;
  typlen: number;
  typeName: string;
  /** pg_class OID and attnum when the column is a direct reference to a table column, else 0. */
  tableOid: number;
  attnum: number;
  /** An enum type: the value is its label (the renderer prints it as stored). */
  isEnum?: boolean;
}

/** Where a named SQLite parameter gets its value. */
export type BindSource =
  | { kind: 'value'; value: Stored }
  /** The converted value of parameter `$index+1`. */
  | { kind: 'param'; index: number }
  /** A parameter used as LIMIT (NULL: no limit) or OFFSET (NULL: 0); negative is an error. */
  | { kind: 'limit' | 'offset'; index: number }
  /**
   * A timestamptz constant without an offset (`'2024-03-01'`): its value
   * depends on the session's TimeZone, so the router converts it per run
   * (fixed-offset zones only; any other zone forwards).
   */
  | { kind: 'zoned'; text: string };

export interface CompiledSelect {
  /** SQLite SQL with named parameters `@name`. */
  sql: string;
  binds: Record<string, BindSource>;
  outputs: OutputColumn[];
  /** Every replicated table the statement reads (for access checks). */
  tables: ReplicaTable[];
  /** Parameter types as Postgres reports them in ParameterDescription (extended protocol). */
  paramTypes: number[];
  /**
   * SQLite expressions (same parameters) over constants and parameters only
   * that may raise an error: Postgres folds them while planning, so it raises
   * the error even where the row-by-row evaluation would not reach them. Run
   * before the statement; they throw NotLocal instead.
   */
  prechecks: string[];
  /** A relation name was resolved through search_path. */
  unqualified: boolean;
}

// ---- typed expressions --------------------------------------------------------

interface Origin {
  tableOid: number;
  attnum: number;
}

type UnknownSrc = { kind: 'literal'; text: string } | { kind: 'null' } | { kind: 'param'; index: number };

interface Expr {
  /** SQLite expression yielding the stored form of the value. */
  sql: string;
  type: number;
  typmod: number;
  typlen: number;
  typeName: string;
  /** Direct reference to a table column (RowDescription tableOid/attnum). */
  origin?: Origin;
  /** The Postgres name of the table column `sql` reads (SQLite sees `a<attnum>`), for messages. */
  columnName?: string;
  /** Collation (collname) of a collatable value; undefined when unknown or conflicting. */
  coll?: string;
  explicitColl?: boolean;
  /** Set while the type is still `unknown` (literal, NULL or untyped parameter). */
  unknown?: UnknownSrc;
  /** No column reference and no aggregate: Postgres folds it while planning. */
  constant: boolean;
  /** Evaluating it (per row) may raise an error in Postgres. */
  errorProne: boolean;
  /** Contains an aggregate of the current query level. */
  agg: boolean;
  /** A column of the current query level. */
  localColumn?: boolean;
  /** Sub-expressions outside aggregates (for the GROUP BY check). */
  kids: Expr[];
  /** The literal text of a numeric constant. */
  literal?: string;
  /**
   * A value of an enum type: its labels in sort order (ReplicaColumn.enumLabels).
   * Stored as the label; compared and sorted by position in this list.
   */
  enumLabels?: readonly string[];
}

interface Out {
  name: string;
  expr: Expr;
}

/** A column visible in a FROM item. */
interface RelColumn {
  name: string;
  expr: Expr;
}

interface FromItem {
  sql: string;
  /** Columns visible unqualified and expanded by `*`. */
  columns: RelColumn[];
  /** Relation names visible as qualifiers. */
  rels: Map<string, { columns: RelColumn[]; display: string; schema?: string }>;
  /** Tie-break keys (insertion order of base tables). */
  rowids: string[];
  /** Base tables (replicated tables) in the item. */
  baseTables: number;
  /** Subqueries, CTE references and joins in the item. */
  complex: boolean;
}

interface CteDef {
  name: string;
  sqlName: string;
  outs: Out[];
}

interface CteScope {
  defs: Map<string, CteDef>;
  parent: CteScope | undefined;
}

interface Level {
  parent: Level | undefined;
  items: FromItem[];
  ctes: CteScope;
  /** The statement's outermost query: error-raising expressions are allowed here only. */
  top: boolean;
  grouped: boolean;
  hasSublinks: boolean;
  /** The query's WINDOW clause. */
  windows?: NamedWindows;
}

type Clause = 'select' | 'where' | 'on' | 'group' | 'having' | 'order' | 'limit' | 'using';

interface ExprCtx {
  level: Level;
  clause: Clause;
  inAgg: boolean;
}

/** How values of a type compare; undefined when SQLite cannot compare them exactly. */
type CmpClass =
  | 'int'
  | 'bool'
  | 'float8'
  | 'float4'
  | 'numeric'
  | 'text'
  | 'bpchar'
  | 'date'
  | 'tstz'
  | 'uuid'
  | 'enum';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const INT32_MIN = -(2n ** 31n);
const INT32_MAX = 2n ** 31n - 1n;

/** Postgres truncates longer identifiers (NAMEDATALEN − 1) with a NOTICE we would not send. */
const MAX_IDENT_BYTES = 63;

/** Human names for node kinds we do not translate. */
const NODE_NAMES: Record<string, string> = {
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

const A_EXPR_NAMES: Record<string, string> = {
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

const COMPARISON_OPS = new Set(['=', '<>', '<', '<=', '>', '>=']);
const ARITH_OPS = new Set(['+', '-', '*', '/', '%']);
const AGGREGATES = new Set(['count', 'sum', 'min', 'max', 'avg']);
/** Aggregates whose result depends on the order of their input rows. */
const ORDERED_AGGREGATES = new Set(['string_agg', 'array_agg']);
/** Collations known to be deterministic: equality is byte equality. */
const DETERMINISTIC_COLLATIONS = new Set(['default', 'C', 'POSIX', 'ucs_basic']);

function unsupported(what: string): NotLocal {
  return new NotLocal(`unsupported: ${what}`);
}

function checkIdent(name: string): string {
  if (Buffer.byteLength(name, 'utf8') > MAX_IDENT_BYTES) {
    throw unsupported('identifier longer than 63 bytes');
  }
  return name;
}

function funcName(names: Node[] | undefined): string {
  return (names ?? [])
    .map((n) => ('String' in n ? n.String.sval : '?'))
    .filter((s) => s !== 'pg_catalog')
    .join('.');
}

function describeNode(kind: string, body: unknown): string {
  if (kind === 'FuncCall') return `function call ${funcName((body as FuncCall).funcname)}()`;
  if (kind === 'A_Expr') {
    const e = body as A_Expr;
    const named = A_EXPR_NAMES[e.kind ?? ''];
    if (named) return named;
    return `operator ${operatorName(e) ?? '?'}`;
  }
  return NODE_NAMES[kind] ?? kind;
}

function operatorName(e: { name?: Node[] }): string | undefined {
  const names = e.name ?? [];
  if (names.length !== 1) return undefined;
  const only = names[0];
  return only && 'String' in only ? only.String.sval : undefined;
}

/** Parse an integer literal text within int64, else undefined. */
function int64Text(text: string): bigint | undefined {
  if (!/^-?\d+$/.test(text)) return undefined;
  const v = BigInt(text);
  return v >= INT64_MIN && v <= INT64_MAX ? v : undefined;
}

function typeName(oid: number): string {
  return TYPES.get(oid)?.name ?? String(oid);
}

function typeLen(oid: number): number {
  return TYPES.get(oid)?.len ?? -1;
}

/**
 * Postgres's FigureColname: the output name of an unaliased select-list
 * item, with its strength (2: a real name, 1: a fallback such as a type
 * name or `case`, 0: none, giving `?column?`).
 */
function figureColname(node: Node): [string, number] {
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
function subqueryColname(node: Node | undefined): string {
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
function containsAggregate(tree: unknown): boolean {
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
function containsWindow(tree: unknown): boolean {
  if (Array.isArray(tree)) return tree.some(containsWindow);
  if (tree === null || typeof tree !== 'object') return false;
  for (const [key, value] of Object.entries(tree)) {
    if (key === 'SubLink' || key === 'SelectStmt' || key === 'RangeSubselect') continue;
    if (key === 'FuncCall' && (value as FuncCall).over) return true;
    if (containsWindow(value)) return true;
  }
  return false;
}

/** Compile one parsed statement (a `SelectStmt` node) or throw NotLocal. */
export function compileSelect(stmt: Node, ctx: CompileContext, opts: CompileOptions = {}): CompiledSelect {
  return new StatementCompiler(ctx, opts).compile(stmt);
}

class StatementCompiler {
  private readonly binds: Record<string, BindSource> = {};
  private bindCount = 0;
  private readonly constBinds = new Map<string, string>();
  private aliasCount = 0;
  private readonly paramTypes: number[] | undefined;
  private readonly tables = new Map<number, ReplicaTable>();
  private unqualified = false;
  private readonly prechecks: string[] = [];
  /** Compiling the array operand of `= ANY`: array values (bound as JSON) are allowed. */
  private jsonArrays = false;
  /** Enum types of the columns read so far (type OID → an Expr of it: labels, name, size). */
  private readonly enums = new Map<number, Expr>();

  constructor(
    private readonly ctx: CompileContext,
    opts: CompileOptions,
  ) {
    this.paramTypes = opts.declaredParamTypes ? [...opts.declaredParamTypes] : undefined;
  }

  compile(stmt: Node): CompiledSelect {
    const [kind, body] = nodeKind(stmt);
    if (kind !== 'SelectStmt') throw unsupported(`statement ${kind}`);
    const root: CteScope = { defs: new Map(), parent: undefined };
    const result = this.selectStmt(body as SelectStmt, undefined, root, true, false);
    const finals = result.outs.map((o) => this.resolveToText(o.expr));
    const sql = result.build(finals);
    const paramTypes = this.paramTypes ?? [];
    for (const [i, t] of paramTypes.entries()) {
      if (t === 0) throw new NotLocal(`could not determine data type of parameter $${i + 1}`);
      this.paramInputCheck(t, i);
    }
    return {
      sql,
      binds: this.binds,
      outputs: result.outs.map((o, i) => {
        const e = finals[i] as Expr;
        return {
          name: o.name,
          typeOid: e.type,
          typmod: e.typmod,
          typlen: e.typlen,
          typeName: e.typeName,
          tableOid: e.origin?.tableOid ?? 0,
          attnum: e.origin?.attnum ?? 0,
          ...(e.enumLabels !== undefined ? { isEnum: true } : {}),
        };
      }),
      tables: [...this.tables.values()],
      paramTypes,
      prechecks: this.prechecks,
      unqualified: this.unqualified,
    };
  }

  /**
   * Remember an enum type for constants and NULLs coerced to it. Two tables
   * copied at different times could hold different label lists for one type
   * (a resync in progress): such a statement is not local.
   */
  private registerEnum(e: Expr): void {
    const known = this.enums.get(e.type);
    if (known === undefined) this.enums.set(e.type, e);
    else if (JSON.stringify(known.enumLabels) !== JSON.stringify(e.enumLabels)) {
      throw new NotLocal(`labels of enum ${e.typeName} differ between replicated tables`);
    }
  }

  /** Parameters of a type whose input function we do not reproduce are not local. */
  private paramInputCheck(type: number, index: number): void {
    const info = TYPES.get(type);
    if (!info || type === Oid.unknown || type === Oid.float4 || type === Oid.jsonb) {
      throw new NotLocal(`parameter $${index + 1} of type ${info?.name ?? type}`);
    }
  }

  /** Bind a constant; equal constants share one name, so equal expressions compile to equal SQL. */
  private bindValue(value: Stored): string {
    if (value === null) return 'NULL';
    const key = `${typeof value}:${String(value)}`;
    let name = this.constBinds.get(key);
    if (name === undefined) {
      this.bindCount++;
      name = `p${this.bindCount}`;
      this.binds[name] = { kind: 'value', value };
      this.constBinds.set(key, name);
    }
    return `@${name}`;
  }

  /** Never `a<n>` (data columns) or, for a WITH query, `t<n>` (data tables): see replica/schema.ts. */
  private alias(prefix = 't'): string {
    return `${prefix}${this.aliasCount++}`;
  }

  // ---- SELECT -----------------------------------------------------------------

  /**
   * Compile one SELECT (or set operation). `leaf`: a set-operation branch,
   * whose unknown-typed outputs stay unresolved for the set operation to type.
   * Returns the outputs and a builder that produces the SQL once the final
   * (coerced) output expressions are known.
   */
  private selectStmt(
    s: SelectStmt,
    parent: Level | undefined,
    cteParent: CteScope,
    top: boolean,
    leaf: boolean,
  ): { outs: Out[]; build: (finals: Expr[]) => string } {
    const ctes: CteScope = { defs: new Map(), parent: cteParent };
    const withSql = s.withClause ? this.withClause(s.withClause, parent, ctes) : '';
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
    level.items = (s.fromClause ?? []).map((item) => this.fromItem(item, level));
    this.checkDistinctRefnames(level.items);
    let outs = this.targets(s.targetList ?? [], level);
    checkAllWindowsUsed(windows);
    if (!leaf) outs = outs.map((o) => ({ name: o.name, expr: this.resolveToText(o.expr) }));
    const where = s.whereClause
      ? this.predicate(s.whereClause, { level, clause: 'where', inAgg: false })
      : undefined;
    const having = s.havingClause
      ? this.predicate(s.havingClause, { level, clause: 'having', inAgg: false })
      : undefined;
    const order = this.sortClause(s.sortClause ?? [], level, outs, distinct);
    const groupKeys = this.groupClause(s.groupClause ?? [], level, outs);
    const distinctOn = distinctOnNodes
      ? this.distinctOnClause(distinctOnNodes, level, outs, order)
      : undefined;
    const offset = s.limitOffset ? this.limitValue(s.limitOffset, 'OFFSET') : undefined;
    const limit = s.limitCount ? this.limitValue(s.limitCount, 'LIMIT') : undefined;

    if (level.grouped) {
      const keys = new Set(groupKeys.map((k) => k.sql));
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
    const whereSql = conditionSql(s.whereClause, where, 'WHERE');
    const havingSql = this.havingWithChecks(groupForms, conditionSql(s.havingClause, having, 'HAVING'));
    const groupSql = groupForms.map((f) => f.sql).join(', ');

    const fromSql = level.items.map((i) => i.sql).join(', ');
    const rowids = level.grouped || distinct || distinctOn ? [] : level.items.flatMap((i) => i.rowids);
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
  private distinctOnClause(
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
  private forcedConjuncts(node: Node, whole: Expr): string {
    const [kind, body] = nodeKind(node);
    if (kind === 'BoolExpr' && (body as BoolExpr).boolop === 'AND_EXPR') {
      const parts = whole.kids.map((k) => k.sql);
      return `${SqlFn.and}(${parts.join(', ')})`;
    }
    return whole.sql;
  }

  private checkDistinctRefnames(items: FromItem[]): void {
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
  private groupForm(e: Expr, what: string): { sql: string; same?: string } {
    const cls = cmpClassOfExpr(e);
    if (cls === undefined) throw new NotLocal(`${what} on type ${e.typeName}`);
    if (
      (cls === 'text' || cls === 'bpchar') &&
      !(e.coll !== undefined && DETERMINISTIC_COLLATIONS.has(e.coll))
    ) {
      throw new NotLocal(`${what} on text with collation ${e.coll ?? 'unknown'}`);
    }
    if (cls === 'numeric' || cls === 'float8' || cls === 'float4' || (cls === 'bpchar' && e.typmod === -1)) {
      return { sql: comparable(e, cls), same: e.sql };
    }
    return { sql: e.sql };
  }

  /** HAVING with the per-group identity checks of `groupForm` (evaluated for every group). */
  private havingWithChecks(forms: { same?: string }[], having: string | undefined): string | undefined {
    const checks = forms.filter((f) => f.same !== undefined).map((f) => `${SqlFn.same}(${f.same})`);
    if (checks.length === 0) return having;
    return `${SqlFn.and}(${[...checks, having ?? '1'].join(', ')})`;
  }

  private requireGroupable(e: Expr, what: string): void {
    const cls = cmpClassOfExpr(e);
    // char(n) values are stored padded to n characters, so values equal under
    // bpchar's blank-insensitive equality are identical; without a length
    // ('a' and 'a  ') the group's representative would be arbitrary.
    const fixedBpchar = cls === 'bpchar' && e.typmod !== -1;
    if (
      cls === undefined ||
      cls === 'float4' ||
      cls === 'float8' ||
      cls === 'numeric' ||
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

  // ---- WITH -------------------------------------------------------------------

  private withClause(w: WithClause, parent: Level | undefined, scope: CteScope): string {
    if (w.recursive) throw unsupported('WITH RECURSIVE');
    const parts: string[] = [];
    for (const node of w.ctes ?? []) {
      const [kind, body] = nodeKind(node);
      if (kind !== 'CommonTableExpr') throw unsupported(kind);
      const cte = body as CommonTableExpr;
      if (cte.search_clause || cte.cycle_clause) throw unsupported('CTE SEARCH/CYCLE');
      const name = checkIdent(cte.ctename ?? '');
      if (scope.defs.has(name)) throw new NotLocal(`WITH query name "${name}" specified more than once`);
      const q = cte.ctequery;
      if (!q) throw unsupported('empty CTE');
      const [qkind, qbody] = nodeKind(q);
      if (qkind !== 'SelectStmt') throw unsupported('data-modifying statement in WITH');
      const r = this.selectStmt(qbody as SelectStmt, parent, scope, false, false);
      const finals = r.outs.map((o) => o.expr);
      const colnames = (cte.aliascolnames ?? []).map((n) => ('String' in n ? (n.String.sval ?? '') : ''));
      if (colnames.length > r.outs.length)
        throw new NotLocal(`WITH query "${name}" has too many column names`);
      const sqlName = this.alias('w');
      parts.push(`${sqlName} AS (${r.build(finals)})`);
      scope.defs.set(name, {
        name,
        sqlName,
        outs: r.outs.map((o, i) => ({ name: checkIdent(colnames[i] ?? o.name), expr: finals[i] as Expr })),
      });
    }
    return parts.length > 0 ? `WITH ${parts.join(', ')} ` : '';
  }

  private findCte(scope: CteScope | undefined, name: string): CteDef | undefined {
    for (let s = scope; s; s = s.parent) {
      const d = s.defs.get(name);
      if (d) return d;
    }
    return undefined;
  }

  // ---- set operations -----------------------------------------------------------

  private setOperation(
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
      if (idx === undefined)
        throw new NotLocal('ORDER BY on a set operation result must name a result column');
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
            .map(({ idx, sb }) =>
              sortKey({ ...(finals[idx] as Expr), sql: `${a}.c${idx}` }, { sb }, this.ctx),
            )
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
  private valuesClause(
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
    const valuesSql = `VALUES ${rows.map((_, r) => `(${typed.map((col) => (col[r] as Expr).sql).join(', ')})`).join(', ')}`;
    return {
      outs,
      build: (finals) =>
        `${withSql}SELECT ${finals.map((e, i) => `${e.sql} AS c${i}`).join(', ')} FROM (${valuesSql})`,
    };
  }

  /** A set-operation tree: columns typed pairwise like transformSetOperationTree. */
  private setTree(
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

  // ---- FROM -------------------------------------------------------------------

  private fromItem(node: Node, level: Level): FromItem {
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

  private rangeVar(r: RangeVar, level: Level): FromItem {
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
        return {
          sql: `${cte.sqlName} AS ${a}`,
          columns,
          rels: new Map([[refname, { columns, display: refname }]]),
          rowids: [],
          baseTables: 0,
          complex: true,
        };
      }
    }
    if (colnames.length > 0) throw unsupported('column aliases in FROM');
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
    const columns = t.columns.map((column) => ({
      name: column.name,
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

  private rangeSubselect(r: RangeSubselect, level: Level): FromItem {
    if (r.lateral) throw unsupported('LATERAL');
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
  private rangeFunction(r: RangeFunctionNode, level: Level): FromItem {
    for (const key of Object.keys(r)) {
      if (!['functions', 'alias'].includes(key)) throw unsupported(`function in FROM with ${key}`);
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
    const name = names[names.length - 1];
    if (
      name !== 'generate_series' ||
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
    const argLevel: Level = {
      parent: undefined,
      items: [],
      ctes: level.ctes,
      top: false,
      grouped: false,
      hasSublinks: false,
    };
    const args = (f.args ?? []).map((a) => this.expr(a, { level: argLevel, clause: 'select', inAgg: false }));
    if (args.length < 2 || args.length > 3) throw unsupported('generate_series() with these arguments');
    for (const a of args) {
      // int4 only: generate_series(int2, int2) is ambiguous upstream (42725).
      if (a.unknown || !a.constant || a.type !== Oid.int4 || a.errorProne) {
        throw unsupported('generate_series() of these arguments');
      }
    }
    const [startArg, stopArg, stepArg] = args as [Expr, Expr, Expr | undefined];
    const start = startArg.sql;
    const stop = stopArg.sql;
    const step = stepArg ? stepArg.sql : '1';
    const aliasName = r.alias ? checkIdent(r.alias.aliasname ?? '') : undefined;
    const colnames = (r.alias?.colnames ?? []).map((n) => ('String' in n ? (n.String.sval ?? '') : ''));
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

  private joinExpr(j: JoinExpr, level: Level): FromItem {
    if (j.isNatural) throw unsupported('NATURAL JOIN');
    if (j.alias) throw unsupported('alias on a join');
    if (j.join_using_alias) throw unsupported('USING ... AS');
    const type =
      j.jointype === 'JOIN_INNER'
        ? 'JOIN'
        : j.jointype === 'JOIN_LEFT'
          ? 'LEFT JOIN'
          : j.jointype === 'JOIN_RIGHT'
            ? 'RIGHT JOIN'
            : undefined;
    if (!type) throw unsupported(`${(j.jointype ?? '').replace('JOIN_', '')} JOIN`);
    const left = this.fromItem(j.larg as Node, level);
    const right = this.fromItem(j.rarg as Node, level);
    this.checkDistinctRefnames([left, right]);
    const rels = new Map([...left.rels, ...right.rels]);
    const joined = { left, right };
    let cond: string;
    let columns: RelColumn[];
    if (j.usingClause && j.usingClause.length > 0) {
      const names = j.usingClause.map((n) => ('String' in n ? (n.String.sval ?? '') : ''));
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
        if (lc.expr.type === rc.expr.type) keepExpr = (type === 'RIGHT JOIN' ? rc : lc).expr;
        else if (isIntType(lc.expr.type) && isIntType(rc.expr.type)) {
          // The merged column is the kept side coerced to the wider type (no longer a plain column).
          const wide =
            (INT_BITS[lc.expr.type] as number) >= (INT_BITS[rc.expr.type] as number)
              ? lc.expr.type
              : rc.expr.type;
          keepExpr = { ...this.coerce((type === 'RIGHT JOIN' ? rc : lc).expr, wide), localColumn: true };
        } else throw new NotLocal(`JOIN USING columns of different types (${name})`);
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

  // ---- column references --------------------------------------------------------

  /** Resolve a ColumnRef to a column expression, or the columns of `*` / `t.*`. */
  private columnRef(ref: ColumnRef, level: Level): Expr | RelColumn[] {
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

  // ---- target list --------------------------------------------------------------

  private targets(list: Node[], level: Level): Out[] {
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
      if (vkind === 'ColumnRef') {
        const resolved = this.columnRef(vbody as ColumnRef, level);
        if (Array.isArray(resolved)) {
          if (target.name !== undefined) throw unsupported('alias on *');
          for (const c of resolved) outs.push({ name: c.name, expr: { ...c.expr, localColumn: true } });
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

  // ---- GROUP BY / ORDER BY / LIMIT --------------------------------------------

  /** Index of the output an ORDER BY/GROUP BY item names (bare name or position), if any. */
  private outputIndex(node: Node, outs: Out[], preferInput?: Level): number | undefined {
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

  private sortClause(
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
          nkind !== 'CollateClause'
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

  private groupClause(items: Node[], level: Level, outs: Out[]): Expr[] {
    return items.map((item) => {
      const [kind, body] = nodeKind(item);
      if (kind === 'GroupingSet') throw unsupported('GROUPING SETS/ROLLUP/CUBE');
      const idx = this.outputIndex(item, outs, level);
      const e =
        idx !== undefined
          ? (outs[idx] as Out).expr
          : this.expr(item, { level, clause: 'group', inAgg: false });
      if (kind === 'A_Const' && idx === undefined) throw unsupported(describeNode(kind, body));
      if (e.agg) throw new NotLocal('aggregate functions are not allowed in GROUP BY');
      if (e.unknown) throw new NotLocal('GROUP BY a constant of unknown type');
      this.groupForm(e, 'GROUP BY');
      return e;
    });
  }

  /** Integer constant ≥ 0, a parameter, or undefined for ALL / NULL. */
  private limitValue(node: Node, clause: 'LIMIT' | 'OFFSET'): string | undefined {
    const [kind, body] = nodeKind(node);
    if (kind === 'ParamRef') {
      const e = this.paramRef(body as ParamRef);
      const t = e.unknown ? this.setParamType(e, Oid.int8) : e.type;
      if (!isIntType(t)) throw new NotLocal(`${clause} parameter of type ${typeName(t)}`);
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

  // ---- expressions (visitor) ----------------------------------------------------

  private expr(node: Node, c: ExprCtx): Expr {
    const [kind, body] = nodeKind(node);
    switch (kind) {
      case 'ColumnRef': {
        const r = this.columnRef(body as ColumnRef, c.level);
        if (Array.isArray(r)) throw unsupported('* in expression');
        return r;
      }
      case 'A_Const':
        return this.constant(body as A_Const);
      case 'ParamRef':
        return this.paramRef(body as ParamRef);
      case 'A_Expr':
        return this.aExpr(body as A_Expr, c);
      case 'BoolExpr':
        return this.boolExpr(body as BoolExpr, c);
      case 'NullTest':
        return this.nullTest(body as NullTest, c);
      case 'BooleanTest':
        return this.booleanTest(body as BooleanTest, c);
      case 'TypeCast':
        return this.typeCast(body as TypeCast, c);
      case 'FuncCall':
        return this.funcCall(body as FuncCall, c);
      case 'CoalesceExpr':
        return this.coalesceExpr(body as CoalesceExpr, c);
      case 'CaseExpr':
        return this.caseExpr(body as CaseExpr, c);
      case 'CollateClause':
        return this.collateClause(body as CollateClause, c);
      case 'SubLink':
        return this.subLink(body as SubLink, c);
      case 'MinMaxExpr':
        return this.minMax(body as MinMaxExpr, c);
      default:
        throw unsupported(`${describeNode(kind, body)}${c.clause === 'select' ? ' in select list' : ''}`);
    }
  }

  private constant(c: A_Const): Expr {
    if (c.isnull) return unknownExpr('NULL', { kind: 'null' });
    if (c.ival !== undefined) return this.intConst(BigInt(c.ival.ival ?? 0));
    if (c.fval !== undefined) {
      const text = c.fval.fval ?? '';
      // The grammar makes an integer literal too big for int4 an int8 when it fits.
      const asInt = int64Text(text);
      if (asInt !== undefined) return this.intConst(asInt);
      const e = constExpr(this.bindValue(numericInput(text, 'numeric constant')), Oid.numeric);
      e.literal = text;
      return e;
    }
    if (c.boolval !== undefined) return constExpr(c.boolval.boolval === true ? '1' : '0', Oid.bool);
    if (c.sval !== undefined) {
      const text = c.sval.sval ?? '';
      return unknownExpr(`'${text.replace(/'/g, "''")}'`, { kind: 'literal', text });
    }
    throw unsupported('bit string constant');
  }

  private intConst(v: bigint): Expr {
    return constExpr(this.bindValue(v), v >= INT32_MIN && v <= INT32_MAX ? Oid.int4 : Oid.int8);
  }

  private paramRef(p: ParamRef): Expr {
    if (!this.paramTypes) throw unsupported('parameter');
    const n = p.number ?? 0;
    if (n < 1 || n > 65535) throw new NotLocal(`parameter $${n}`);
    while (this.paramTypes.length < n) this.paramTypes.push(0);
    const index = n - 1;
    const name = `u${n}`;
    this.binds[name] = { kind: 'param', index };
    const t = this.paramTypes[index] ?? 0;
    if (t === 0) return unknownExpr(`@${name}`, { kind: 'param', index });
    this.paramInputCheck(t, index);
    if (TYPES.get(t)?.elem !== undefined && !this.jsonArrays) {
      throw unsupported(`array parameter $${n} outside = ANY`);
    }
    const e = constExpr(`@${name}`, t);
    if (isTextType(t)) e.coll = 'default';
    return e;
  }

  /** Give an untyped parameter its type (Postgres's variable parameter hook). */
  private setParamType(e: Expr, type: number): number {
    if (e.unknown?.kind !== 'param' || !this.paramTypes) throw new NotLocal('internal: not a parameter');
    const i = e.unknown.index;
    const current = this.paramTypes[i] ?? 0;
    if (current !== 0 && current !== type)
      throw new NotLocal(`inconsistent types deduced for parameter $${i + 1}`);
    this.paramInputCheck(type, i);
    this.paramTypes[i] = type;
    return type;
  }

  /** Coerce an unknown-typed expression to `type` (literal input, NULL, parameter typing). */
  private resolveUnknown(e: Expr, type: number): Expr {
    const u = e.unknown;
    if (!u) return e;
    if (TYPES.get(type)?.elem !== undefined && !this.jsonArrays) {
      throw unsupported(`${typeName(type)} value outside = ANY`);
    }
    const enumType = this.enums.get(type);
    if (enumType !== undefined) return this.enumConstant(e, enumType);
    let out: Expr;
    if (u.kind === 'null') out = constExpr('NULL', type);
    else if (u.kind === 'param') {
      this.setParamType(e, type);
      out = constExpr(e.sql, type);
    } else if (type === Oid.timestamptz && timestamptzNeedsZone(u.text)) {
      // Validated now (as if at UTC); the session's zone applies at run time.
      timestamptzInputAt(u.text, 0, 'timestamptz constant');
      this.bindCount++;
      const name = `z${this.bindCount}`;
      this.binds[name] = { kind: 'zoned', text: u.text };
      out = constExpr(`@${name}`, type);
    } else {
      const value = inputValue(type, u.text, `${typeName(type)} constant`);
      out = constExpr(type === Oid.bool ? (value === 1n ? '1' : '0') : this.bindValue(value), type);
    }
    if (isTextType(type)) out.coll = 'default';
    return out;
  }

  /**
   * An unknown-typed literal or NULL coerced to an enum type: enum_in accepts
   * exactly the labels (case and blanks included); anything else raises
   * 22P02 invalid input value for enum, which Postgres reports.
   */
  private enumConstant(e: Expr, enumType: Expr): Expr {
    const u = e.unknown as UnknownSrc;
    const labels = enumType.enumLabels as readonly string[];
    let sql: string;
    if (u.kind === 'null') sql = 'NULL';
    else if (u.kind === 'param') throw new NotLocal(`parameter of enum type ${enumType.typeName}`);
    else if (!labels.includes(u.text)) {
      throw new NotLocal(
        `invalid input value for enum ${enumType.typeName}: ${JSON.stringify(u.text.slice(0, 40))}`,
      );
    } else sql = this.bindValue(u.text);
    return {
      ...constExpr(sql, enumType.type),
      typlen: enumType.typlen,
      typeName: enumType.typeName,
      enumLabels: labels,
    };
  }

  /** Unknown outputs of a select list become text (Postgres 10+). */
  private resolveToText(e: Expr): Expr {
    return e.unknown ? this.resolveUnknown(e, Oid.text) : e;
  }

  /** Implicit coercion of a typed (or unknown) expression to `type`, as in a common-type context. */
  private coerce(e: Expr, type: number): Expr {
    if (e.unknown) return this.resolveUnknown(e, type);
    if (e.type === type) return e;
    if (isIntType(e.type) && isIntType(type) && (INT_BITS[e.type] as number) <= (INT_BITS[type] as number)) {
      return { ...retype(e, type), origin: undefined };
    }
    if (isIntType(e.type) && type === Oid.numeric) return derived(`CAST(${e.sql} AS TEXT)`, type, -1, [e]);
    if (isIntType(e.type) && type === Oid.float8) return derived(`CAST(${e.sql} AS REAL)`, type, -1, [e]);
    if ((e.type === Oid.varchar && type === Oid.text) || (e.type === Oid.text && type === Oid.varchar)) {
      return { ...retype(e, type), origin: undefined, typmod: -1 };
    }
    throw new NotLocal(`coercion of ${e.typeName} to ${typeName(type)}`);
  }

  /** A boolean condition. */
  private predicate(node: Node, c: ExprCtx): Expr {
    const e = this.expr(node, c);
    if (e.unknown) {
      if (e.unknown.kind === 'null') throw unsupported('constant condition');
      return this.resolveUnknown(e, Oid.bool);
    }
    if (e.type !== Oid.bool) {
      if (e.localColumn || e.origin) throw new NotLocal(`non-boolean column ${colName(e)} used as condition`);
      throw new NotLocal(`argument of ${c.clause.toUpperCase()} must be type boolean, not ${e.typeName}`);
    }
    return e;
  }

  private boolExpr(b: BoolExpr, c: ExprCtx): Expr {
    const args = (b.args ?? []).map((a) => this.predicate(a, c));
    switch (b.boolop) {
      case 'AND_EXPR':
        return derived(`(${args.map((a) => a.sql).join(' AND ')})`, Oid.bool, -1, args);
      case 'OR_EXPR':
        return derived(`(${args.map((a) => a.sql).join(' OR ')})`, Oid.bool, -1, args);
      case 'NOT_EXPR':
        return derived(`(NOT ${args[0]?.sql ?? ''})`, Oid.bool, -1, args);
      default:
        throw unsupported(`boolean operator ${b.boolop}`);
    }
  }

  private nullTest(n: NullTest, c: ExprCtx): Expr {
    if (n.argisrow) throw unsupported('row IS NULL');
    if (!n.arg) throw unsupported('IS NULL without argument');
    let e = this.expr(n.arg, c);
    if (e.unknown?.kind === 'param') throw new NotLocal('could not determine data type of parameter');
    if (e.unknown) e = this.resolveUnknown(e, Oid.text);
    return derived(`(${e.sql} IS ${n.nulltesttype === 'IS_NOT_NULL' ? 'NOT ' : ''}NULL)`, Oid.bool, -1, [e]);
  }

  private booleanTest(b: BooleanTest, c: ExprCtx): Expr {
    if (!b.arg) throw unsupported('boolean test without argument');
    let e = this.expr(b.arg, c);
    if (e.unknown) e = this.resolveUnknown(e, Oid.bool);
    if (e.type !== Oid.bool) throw unsupported('IS TRUE/FALSE on a non-boolean column');
    const test: Record<string, string> = {
      IS_TRUE: 'IS 1',
      IS_NOT_TRUE: 'IS NOT 1',
      IS_FALSE: 'IS 0',
      IS_NOT_FALSE: 'IS NOT 0',
      IS_UNKNOWN: 'IS NULL',
      IS_NOT_UNKNOWN: 'IS NOT NULL',
    };
    const t = test[b.booltesttype ?? ''];
    if (!t) throw unsupported(`boolean test ${b.booltesttype}`);
    return derived(`(${e.sql} ${t})`, Oid.bool, -1, [e]);
  }

  private aExpr(e: A_Expr, c: ExprCtx): Expr {
    const kind = e.kind ?? 'AEXPR_OP';
    const op = operatorName(e);
    switch (kind) {
      case 'AEXPR_OP': {
        if (op === undefined) throw unsupported(describeNode('A_Expr', e));
        if (!e.lexpr) {
          if (op === '-' && e.rexpr) return this.negate(this.expr(e.rexpr, c), c);
          throw unsupported(`prefix operator ${op}`);
        }
        if (!e.rexpr) throw unsupported(`postfix operator ${op}`);
        if (COMPARISON_OPS.has(op)) {
          return this.comparison(op, this.expr(e.lexpr, c), this.expr(e.rexpr, c), c.clause);
        }
        if (ARITH_OPS.has(op)) return this.arith(op, this.expr(e.lexpr, c), this.expr(e.rexpr, c), c);
        if (op === '||') return this.concat(this.expr(e.lexpr, c), this.expr(e.rexpr, c));
        if (op === '->' || op === '->>')
          return this.jsonField(op, this.expr(e.lexpr, c), this.expr(e.rexpr, c));
        throw unsupported(describeNode('A_Expr', e));
      }
      case 'AEXPR_DISTINCT':
      case 'AEXPR_NOT_DISTINCT': {
        if (op !== '=') throw unsupported('IS DISTINCT FROM with a non-= operator');
        const l = this.expr(e.lexpr as Node, c);
        const r = this.expr(e.rexpr as Node, c);
        return this.comparison(kind === 'AEXPR_DISTINCT' ? 'IS NOT' : 'IS', l, r, c.clause);
      }
      case 'AEXPR_NULLIF':
        return this.nullif(this.expr(e.lexpr as Node, c), this.expr(e.rexpr as Node, c), c);
      case 'AEXPR_IN':
        return this.inList(e, c);
      case 'AEXPR_OP_ANY':
      case 'AEXPR_OP_ALL':
        return this.anyAll(e, c);
      case 'AEXPR_LIKE':
      case 'AEXPR_ILIKE':
        return this.like(e, c);
      case 'AEXPR_BETWEEN':
      case 'AEXPR_NOT_BETWEEN':
      case 'AEXPR_BETWEEN_SYM':
      case 'AEXPR_NOT_BETWEEN_SYM':
        return this.between(e, c);
      default:
        throw unsupported(describeNode('A_Expr', e));
    }
  }

  /**
   * A comparison (or IS [NOT] DISTINCT FROM, as `IS NOT`/`IS`) typed like
   * Postgres's operator resolution. Only combinations whose Postgres result
   * is certain are accepted.
   */
  private comparison(op: string, left: Expr, right: Expr, clause: Clause): Expr {
    if ((left.unknown?.kind === 'null' || right.unknown?.kind === 'null') && op !== 'IS' && op !== 'IS NOT') {
      // `= NULL` depends on transform_null_equals.
      throw unsupported('comparison with NULL');
    }
    const equality = op === '=' || op === '<>' || op === 'IS' || op === 'IS NOT';
    const t = this.typedComparison(left, right, equality);
    void clause;
    return derived(`(${t.lsql} ${op} ${t.rsql})`, Oid.bool, -1, [t.l, t.r]);
  }

  /** Type both operands of a comparison and return their comparable SQLite forms. */
  private typedComparison(
    left: Expr,
    right: Expr,
    equality: boolean,
  ): { l: Expr; r: Expr; cls: CmpClass; lsql: string; rsql: string } {
    let l = left;
    let r = right;
    if (l.unknown && r.unknown) {
      l = this.resolveUnknown(l, Oid.text);
      r = this.resolveUnknown(r, Oid.text);
    } else if (l.unknown) l = this.resolveUnknown(l, operatorInputType(r.type));
    else if (r.unknown) r = this.resolveUnknown(r, operatorInputType(l.type));
    // float8 vs a numeric constant: the constant is cast to float8 (numeric_float8 reads its text).
    if ((l.type === Oid.float8 || l.type === Oid.float4) && r.literal !== undefined) r = this.float8Const(r);
    if ((r.type === Oid.float8 || r.type === Oid.float4) && l.literal !== undefined) l = this.float8Const(l);
    const cls = this.commonCmpClass(l, r, equality);
    if (cls === 'enum' && equality) {
      // Labels are unique within a type: equality is the stored text's (and can use an index).
      return { l, r, cls, lsql: l.sql, rsql: r.sql };
    }
    return { l, r, cls, lsql: comparable(l, cls), rsql: comparable(r, cls) };
  }

  private float8Const(e: Expr): Expr {
    const value = float8Input(e.literal as string, 'float8 constant');
    return { ...constExpr(this.bindValue(value), Oid.float8), kids: [e] };
  }

  /** The comparison class of two typed operands, or NotLocal. */
  private commonCmpClass(l: Expr, r: Expr, equality: boolean): CmpClass {
    const lc = cmpClassOfExpr(l);
    const rc = cmpClassOfExpr(r);
    const mismatch = (): NotLocal => new NotLocal(`comparison of ${l.typeName} with ${r.typeName}`);
    if (lc === undefined || rc === undefined) {
      throw new NotLocal(`comparison on type ${lc === undefined ? l.typeName : r.typeName}`);
    }
    let cls: CmpClass;
    if (lc === 'enum' || rc === 'enum') {
      // Only enum = enum of the same type exists (no implicit cast to or from an enum).
      if (l.type !== r.type) throw mismatch();
      if (JSON.stringify(l.enumLabels) !== JSON.stringify(r.enumLabels)) {
        throw new NotLocal(`labels of enum ${l.typeName} differ between replicated tables`);
      }
      return 'enum';
    }
    if (lc === rc) cls = lc;
    else if ((lc === 'int' && rc === 'float8') || (lc === 'float8' && rc === 'int')) cls = 'float8';
    else if ((lc === 'int' && rc === 'numeric') || (lc === 'numeric' && rc === 'int')) cls = 'numeric';
    // float4 against int, float8 or a float8-converted numeric constant: the
    // operator is float48 (float8 is the preferred type), comparing the exact
    // float4 value widened to float8.
    else if (
      (lc === 'float4' && (rc === 'int' || rc === 'float8')) ||
      (rc === 'float4' && (lc === 'int' || lc === 'float8'))
    )
      cls = 'float8';
    else throw mismatch();
    if (cls === 'text' || cls === 'bpchar') {
      if (cls === 'bpchar' && (l.type !== Oid.bpchar || r.type !== Oid.bpchar)) throw mismatch();
      const coll = resolveCollation(l, r);
      this.requireCollation(coll, equality, colName(l.localColumn || l.origin ? l : r));
    }
    return cls;
  }

  private requireCollation(coll: string | undefined, equality: boolean, column: string): void {
    if (coll === undefined) throw new NotLocal(`collation of ${column} unknown`);
    if (equality && DETERMINISTIC_COLLATIONS.has(coll)) return;
    if (!isCCollation(coll, this.ctx)) throw new NotLocal(`non-C collation ${coll} on ${column}`);
  }

  /** Whether lower()/upper()/ILIKE under collation `coll` fold ASCII letters only. */
  private requireCType(coll: string | undefined, what: string): void {
    if (coll === 'C' || coll === 'POSIX') return;
    if (coll === 'default' && this.ctx.textCtypeIsC) return;
    throw new NotLocal(`${what} under collation ${coll ?? 'unknown'} (ctype not C)`);
  }

  /** An operation that raises an error in Postgres for some inputs. */
  private errorCapable(e: Expr, c: ExprCtx): Expr {
    if (e.constant) {
      this.prechecks.push(e.sql);
      return e;
    }
    if (!c.level.top) throw new NotLocal('expression that may raise an error in a subquery');
    return { ...e, errorProne: true };
  }

  private arith(op: string, left: Expr, right: Expr, c: ExprCtx): Expr {
    let l = left;
    let r = right;
    if (l.unknown && r.unknown) throw new NotLocal(`operator is not unique: unknown ${op} unknown`);
    if (l.unknown) l = this.resolveUnknown(l, r.type);
    if (r.unknown) r = this.resolveUnknown(r, l.type);
    if (l.type === Oid.date || r.type === Oid.date) return this.dateArith(op, left, right, c);
    const numericSide = (e: Expr): boolean => isIntType(e.type) || e.type === Oid.numeric;
    if (
      (l.type === Oid.numeric || r.type === Oid.numeric) &&
      numericSide(l) &&
      numericSide(r) &&
      (op === '+' || op === '-' || op === '*')
    ) {
      // numeric_add/sub/mul: exact, result scale max(s1, s2) or s1 + s2 (an
      // integer operand is cast to numeric with scale 0).
      const ln = this.coerce(l, Oid.numeric);
      const rn = this.coerce(r, Oid.numeric);
      const e = derived(`${SqlFn.numericArith}('${op}', ${ln.sql}, ${rn.sql})`, Oid.numeric, -1, [ln, rn]);
      return this.errorCapable(e, c);
    }
    if (!isIntType(l.type) || !isIntType(r.type))
      throw new NotLocal(`operator ${op} on ${l.typeName} and ${r.typeName}`);
    const type = (INT_BITS[l.type] as number) >= (INT_BITS[r.type] as number) ? l.type : r.type;
    const e = derived(`${SqlFn.intArith}('${op}', ${l.sql}, ${r.sql}, ${INT_BITS[type]})`, type, -1, [l, r]);
    return this.errorCapable(e, c);
  }

  /** date + int4, int4 + date, date - int4 (date_pli, date_mii), date - date (date_mi, int4). */
  private dateArith(op: string, left: Expr, right: Expr, c: ExprCtx): Expr {
    const l = left;
    let r = right;
    // `date - 'literal'`: the unknown side takes the known side's type (date - date).
    if (op === '-' && l.type === Oid.date && r.unknown) r = this.resolveUnknown(r, Oid.date);
    if (l.unknown || r.unknown) throw new NotLocal(`operator ${op} on date and unknown`);
    const int4ish = (e: Expr): boolean => e.type === Oid.int4 || e.type === Oid.int2;
    let e: Expr;
    if (op === '+' && l.type === Oid.date && int4ish(r)) {
      e = derived(`${SqlFn.dateAdd}(${l.sql}, ${r.sql})`, Oid.date, -1, [l, r]);
    } else if (op === '+' && int4ish(l) && r.type === Oid.date) {
      e = derived(`${SqlFn.dateAdd}(${r.sql}, ${l.sql})`, Oid.date, -1, [l, r]);
    } else if (op === '-' && l.type === Oid.date && int4ish(r)) {
      e = derived(`${SqlFn.dateAdd}(${l.sql}, -(${r.sql}))`, Oid.date, -1, [l, r]);
    } else if (op === '-' && l.type === Oid.date && r.type === Oid.date) {
      e = derived(`${SqlFn.dateDiff}(${l.sql}, ${r.sql})`, Oid.int4, -1, [l, r]);
    } else throw new NotLocal(`operator ${op} on ${l.typeName} and ${r.typeName}`);
    return this.errorCapable(e, c);
  }

  private negate(arg: Expr, c: ExprCtx): Expr {
    // `- 'x'`: the operator is not unique (numeric and interval candidates).
    if (arg.unknown) throw new NotLocal('operator is not unique: - unknown');
    const a = arg;
    if (a.type === Oid.numeric) {
      return derived(`${SqlFn.numericArith}('-', '0', ${a.sql})`, Oid.numeric, -1, [a]);
    }
    if (!isIntType(a.type)) throw new NotLocal(`operator - on ${a.typeName}`);
    return this.errorCapable(derived(`${SqlFn.intNeg}(${a.sql}, ${INT_BITS[a.type]})`, a.type, -1, [a]), c);
  }

  /**
   * jsonb -> / ->> with a constant key (text literal: object field; integer:
   * array element, negative from the end). The stored jsonb text is jsonb's
   * normalised output, so a nested value's output is its substring.
   */
  private jsonField(op: string, left: Expr, right: Expr): Expr {
    if (left.type !== Oid.jsonb) throw new NotLocal(`operator ${op} on ${left.typeName}`);
    let key: string;
    if (right.unknown?.kind === 'literal') {
      // jsonb -> unknown resolves to the text variant.
      key = `'s${right.unknown.text.replace(/'/g, "''")}'`;
    } else if (right.type === Oid.int4 && right.constant && /^@p\d+$/.test(right.sql)) {
      key = `'i' || ${right.sql}`;
    } else throw new NotLocal(`${op} with a non-constant key`);
    const text = op === '->>';
    const e = derived(
      `${SqlFn.jsonbGet}(${left.sql}, ${key}, ${text ? 1 : 0})`,
      text ? Oid.text : Oid.jsonb,
      -1,
      [left],
    );
    if (text) e.coll = 'default';
    return e;
  }

  /** `||`: text concatenation, or anynonarray || text via the type's text form. */
  private concat(left: Expr, right: Expr): Expr {
    let l = left;
    let r = right;
    if (l.unknown && r.unknown) {
      l = this.resolveUnknown(l, Oid.text);
      r = this.resolveUnknown(r, Oid.text);
    }
    const textLike = (e: Expr): boolean => e.type === Oid.text || e.type === Oid.varchar;
    if (l.unknown) l = this.resolveUnknown(l, Oid.text);
    if (r.unknown) r = this.resolveUnknown(r, Oid.text);
    if (!textLike(l) && !textLike(r)) throw new NotLocal(`operator || on ${l.typeName} and ${r.typeName}`);
    const e = derived(`(${textForm(l)} || ${textForm(r)})`, Oid.text, -1, [l, r]);
    e.coll = mergeColl(l, r);
    return e;
  }

  private nullif(left: Expr, right: Expr, c: ExprCtx): Expr {
    let l = left;
    let r = right;
    if (l.unknown && r.unknown) {
      l = this.resolveUnknown(l, Oid.text);
      r = this.resolveUnknown(r, Oid.text);
    } else if (l.unknown) l = this.resolveUnknown(l, operatorInputType(r.type));
    else if (r.unknown) r = this.resolveUnknown(r, operatorInputType(l.type));
    const cls = this.commonCmpClass(l, r, true);
    // The result has the operator's left input type.
    let result: Expr;
    if (cls === 'numeric') result = this.coerce(l, Oid.numeric);
    else if (cls === 'float8') result = this.coerce(l, Oid.float8);
    else if (l.type === Oid.varchar) result = this.coerce(l, Oid.text);
    else result = { ...l, origin: undefined };
    void c;
    // exprTypmod(NullIfExpr) is the typmod of its (coerced) first argument.
    const e = derived(
      `(CASE WHEN ${comparable(l, cls)} = ${comparable(r, cls)} THEN NULL ELSE ${result.sql} END)`,
      result.type,
      result.type === l.type ? l.typmod : -1,
      [l, r],
    );
    e.coll = result.coll;
    return e;
  }

  private inList(a: A_Expr, c: ExprCtx): Expr {
    const op = operatorName(a);
    if (op !== '=' && op !== '<>') throw unsupported(`IN with operator ${op ?? '?'}`);
    const l = this.expr(a.lexpr as Node, c);
    const [rkind, rbody] = nodeKind(a.rexpr as Node);
    if (rkind !== 'List') throw unsupported('IN');
    const items = ((rbody as { items?: Node[] }).items ?? []).map((n) => this.expr(n, c));
    const nonVars = items.filter((i) => !i.localColumn && !hasLocalVars(i));
    let lhs = l;
    let rs = items;
    if (nonVars.length > 1) {
      // transformAExprIn: a common type for the left side and the non-Var items.
      const common = selectCommonType([l, ...nonVars], 'IN');
      lhs = l.unknown ? this.resolveUnknown(l, common) : l;
      rs = items.map((i) => (i.unknown && nonVars.includes(i) ? this.resolveUnknown(i, common) : i));
    }
    const typed = rs.map((r) => this.typedComparison(lhs, r, true));
    const kids = [lhs, ...typed.map((t) => t.r)];
    const lform = typed[0]?.lsql;
    let sql: string;
    if (lform !== undefined && typed.every((t) => t.lsql === lform)) {
      sql = `(${lform} ${op === '=' ? 'IN' : 'NOT IN'} (${typed.map((t) => t.rsql).join(', ')}))`;
    } else {
      sql = `(${op === '=' ? '' : 'NOT '}(${typed.map((t) => `(${t.lsql} = ${t.rsql})`).join(' OR ')}))`;
    }
    return derived(sql, Oid.bool, -1, kids);
  }

  /** `x = ANY(array)` and `x <> ALL(array)`: an array constructor, literal or parameter. */
  private anyAll(a: A_Expr, c: ExprCtx): Expr {
    const op = operatorName(a);
    const any = a.kind === 'AEXPR_OP_ANY';
    if (!((any && op === '=') || (!any && op === '<>'))) {
      throw unsupported(`${op ?? '?'} ${any ? 'ANY' : 'ALL'}`);
    }
    let l = this.expr(a.lexpr as Node, c);
    const rnode = a.rexpr as Node;
    const [rkind, rbody] = nodeKind(rnode);
    if (rkind === 'A_ArrayExpr') {
      const nodes = (rbody as { elements?: Node[] }).elements ?? [];
      if (nodes.length === 0) throw new NotLocal('cannot determine type of empty array');
      if (nodes.some((n) => nodeKind(n)[0] === 'A_ArrayExpr')) throw unsupported('multidimensional array');
      const elems = nodes.map((n) => this.expr(n, c));
      const elemType = selectCommonType(elems, 'ARRAY');
      const typedElems = elems.map((e) => this.coerce(e, elemType));
      if (l.unknown) l = this.resolveUnknown(l, elemType);
      const typed = typedElems.map((r) => this.typedComparison(l, r, true));
      const lform = typed[0]?.lsql as string;
      if (!typed.every((t) => t.lsql === lform)) throw unsupported('ANY over mixed types');
      const list = typed.map((t) => t.rsql).join(', ');
      return derived(`(${lform} ${any ? 'IN' : 'NOT IN'} (${list}))`, Oid.bool, -1, [l, ...typedElems]);
    }
    // Array constants and parameters are bound as JSON (for json_each), which
    // is not their stored form: they are allowed here only.
    let r: Expr;
    this.jsonArrays = true;
    try {
      r = this.expr(rnode, c);
      if (l.unknown && r.unknown) throw new NotLocal('could not determine the types of ANY operands');
      if (l.unknown) throw unsupported('ANY with an untyped left operand');
      if (r.unknown) {
        const array = TYPES.get(operatorInputType(l.type))?.array;
        if (array === undefined) throw new NotLocal(`no array type for ${l.typeName}`);
        r = this.resolveUnknown(r, array);
      }
    } finally {
      this.jsonArrays = false;
    }
    if (!r.constant) throw unsupported(`${any ? 'ANY' : 'ALL'} over a non-constant array`);
    const elem = TYPES.get(r.type)?.elem;
    if (elem === undefined) throw new NotLocal(`${any ? 'ANY' : 'ALL'} over non-array ${r.typeName}`);
    const probe = derived('value', elem, -1, []);
    if (isTextType(elem)) probe.coll = 'default';
    const t = this.typedComparison(l, probe, true);
    const inner = `(${t.lsql} ${any ? 'IN' : 'NOT IN'} (SELECT ${t.rsql} FROM json_each(${r.sql})))`;
    return derived(`(CASE WHEN ${r.sql} IS NULL THEN NULL ELSE ${inner} END)`, Oid.bool, -1, [l, r]);
  }

  private like(a: A_Expr, c: ExprCtx): Expr {
    const op = operatorName(a) ?? '';
    const ilike = a.kind === 'AEXPR_ILIKE';
    const negated = op.startsWith('!');
    let l = this.expr(a.lexpr as Node, c);
    let patternNode = a.rexpr as Node;
    let escapeArg: Expr | undefined;
    const [rkind, rbody] = nodeKind(patternNode);
    if (rkind === 'FuncCall' && funcName((rbody as FuncCall).funcname) === 'like_escape') {
      const args = (rbody as FuncCall).args ?? [];
      if (args.length !== 2) throw unsupported('ESCAPE');
      patternNode = args[0] as Node;
      escapeArg = this.expr(args[1] as Node, c);
    }
    let p = this.expr(patternNode, c);
    if (l.unknown) l = this.resolveUnknown(l, Oid.text);
    if (p.unknown) p = this.resolveUnknown(p, Oid.text);
    // bpchar ~~ text matches the blank-padded value as stored (checked against Postgres).
    if (!isTextType(l.type)) throw new NotLocal(`LIKE on ${l.typeName}`);
    if (!isTextType(p.type) || p.type === Oid.bpchar)
      throw new NotLocal(`LIKE pattern of type ${p.typeName}`);
    let escSql = `'\\'`;
    if (escapeArg) {
      const esc = escapeArg.unknown ? this.resolveUnknown(escapeArg, Oid.text) : escapeArg;
      if (!isTextType(esc.type) || esc.type === Oid.bpchar) throw new NotLocal('ESCAPE of a non-text type');
      escSql = esc.sql;
    }
    const coll = resolveCollation(l, p);
    if (coll === undefined || !DETERMINISTIC_COLLATIONS.has(coll)) {
      throw new NotLocal(`LIKE under collation ${coll ?? 'unknown'}`);
    }
    if (ilike) this.requireCType(coll, 'ILIKE');
    const fn = ilike ? SqlFn.ilike : SqlFn.like;
    const e = derived(
      `${negated ? '(NOT ' : ''}${fn}(${l.sql}, ${p.sql}, ${escSql})${negated ? ')' : ''}`,
      Oid.bool,
      -1,
      [l, p],
    );
    // A pattern ending in the escape character is an error: forwarded (the function aborts).
    return e;
  }

  private between(a: A_Expr, c: ExprCtx): Expr {
    const [rkind, rbody] = nodeKind(a.rexpr as Node);
    const bounds = rkind === 'List' ? ((rbody as { items?: Node[] }).items ?? []) : [];
    if (bounds.length !== 2) throw unsupported('BETWEEN');
    const x = a.lexpr as Node;
    const [lo, hi] = bounds as [Node, Node];
    const cmp = (op: string, l: Node, r: Node): Expr =>
      this.comparison(op, this.expr(l, c), this.expr(r, c), c.clause);
    const and = (p: Expr, q: Expr): Expr => derived(`(${p.sql} AND ${q.sql})`, Oid.bool, -1, [p, q]);
    const or = (p: Expr, q: Expr): Expr => derived(`(${p.sql} OR ${q.sql})`, Oid.bool, -1, [p, q]);
    // transformAExprBetween's expansions.
    switch (a.kind) {
      case 'AEXPR_BETWEEN':
        return and(cmp('>=', x, lo), cmp('<=', x, hi));
      case 'AEXPR_NOT_BETWEEN':
        return or(cmp('<', x, lo), cmp('>', x, hi));
      case 'AEXPR_BETWEEN_SYM':
        return or(and(cmp('>=', x, lo), cmp('<=', x, hi)), and(cmp('>=', x, hi), cmp('<=', x, lo)));
      default:
        return and(or(cmp('<', x, lo), cmp('>', x, hi)), or(cmp('<', x, hi), cmp('>', x, lo)));
    }
  }

  private typeCast(t: TypeCast, c: ExprCtx): Expr {
    if (!t.arg || !t.typeName) throw unsupported('cast');
    const target = resolveTypeName(t.typeName);
    const arg = this.expr(t.arg, c);
    const e = this.castTo(arg, target.oid, target.typmod, c);
    return e;
  }

  private castTo(arg: Expr, type: number, typmod: number, c: ExprCtx): Expr {
    const what = `cast from ${arg.typeName} to ${typeName(type)}`;
    if (arg.unknown) {
      if (typmod !== -1) throw unsupported(`${what} with a type modifier`);
      return this.resolveUnknown(arg, type);
    }
    if (arg.type === type) {
      if (typmod === arg.typmod) return arg;
      if (typmod === -1) return { ...arg, origin: undefined, typmod: -1 };
      throw unsupported(`${what} with a type modifier`);
    }
    if (typmod !== -1) throw unsupported(`${what} with a type modifier`);
    if (isIntType(arg.type) && isIntType(type)) {
      if ((INT_BITS[type] as number) >= (INT_BITS[arg.type] as number))
        return derived(arg.sql, type, -1, [arg]);
      return this.errorCapable(
        derived(`${SqlFn.intNarrow}(${arg.sql}, ${INT_BITS[type]})`, type, -1, [arg]),
        c,
      );
    }
    if (isTextType(type) && type !== Oid.bpchar) {
      let sql: string | undefined;
      if (
        isIntType(arg.type) ||
        arg.type === Oid.text ||
        arg.type === Oid.varchar ||
        arg.type === Oid.numeric ||
        arg.type === Oid.uuid
      ) {
        sql = textForm(arg);
      } else if (arg.type === Oid.bool) {
        sql = `(CASE ${arg.sql} WHEN 1 THEN 'true' WHEN 0 THEN 'false' END)`;
      } else if (arg.enumLabels !== undefined) {
        // enum_out: the label, as stored.
        sql = arg.sql;
      }
      if (sql !== undefined) {
        const e = derived(sql, type, -1, [arg]);
        e.coll = isTextType(arg.type) ? arg.coll : 'default';
        return e;
      }
    }
    if ((arg.type === Oid.text || arg.type === Oid.varchar) && isIntType(type)) {
      return this.errorCapable(derived(`${SqlFn.intIn}(${arg.sql}, ${INT_BITS[type]})`, type, -1, [arg]), c);
    }
    if (isIntType(arg.type) && (type === Oid.numeric || type === Oid.float8)) return this.coerce(arg, type);
    throw unsupported(what);
  }

  private funcCall(f: FuncCall, c: ExprCtx): Expr {
    const names = (f.funcname ?? []).map((n) => ('String' in n ? (n.String.sval ?? '') : ''));
    if (names.length > 2 || (names.length === 2 && names[0] !== 'pg_catalog')) {
      throw unsupported(describeNode('FuncCall', f));
    }
    const name = names[names.length - 1] as string;
    if (f.over) return this.windowCall(name, f, c);
    if (ORDERED_AGGREGATES.has(name)) return this.orderedAggregate(name, f, c);
    if (f.agg_filter && !AGGREGATES.has(name)) throw unsupported('FILTER');
    if (f.agg_order && f.agg_order.length > 0) throw unsupported('ORDER BY in aggregate');
    if (f.agg_within_group || f.func_variadic) throw unsupported(describeNode('FuncCall', f));
    if (AGGREGATES.has(name)) return this.aggregate(name, f, c);
    if (f.agg_star || f.agg_distinct) throw unsupported(describeNode('FuncCall', f));
    const args = (f.args ?? []).map((a) => this.expr(a, c));
    const textArg = (): Expr => {
      if (args.length !== 1) throw unsupported(describeNode('FuncCall', f));
      const a = args[0] as Expr;
      const t = a.unknown ? this.resolveUnknown(a, Oid.text) : a;
      if (t.type === Oid.bpchar) {
        // bpchar → text (rtrim1) drops trailing blanks; length(bpchar) ignores them too.
        const e = derived(`rtrim(${t.sql}, ' ')`, Oid.text, -1, [t]);
        e.coll = t.coll;
        return e;
      }
      if (t.type !== Oid.text && t.type !== Oid.varchar) throw new NotLocal(`${name}() of ${t.typeName}`);
      return t;
    };
    switch (name) {
      case 'lower':
      case 'upper': {
        const a = textArg();
        this.requireCType(a.coll, `${name}()`);
        const e = derived(`${name}(${a.sql})`, Oid.text, -1, [a]);
        e.coll = a.coll;
        return e;
      }
      case 'extract':
      case 'date_part': {
        // extract(field FROM date) → numeric; date_part(text, date) → float8 (not local).
        if (name === 'date_part') throw unsupported('function call date_part()');
        const [fieldNode] = f.args ?? [];
        const field =
          fieldNode && 'A_Const' in fieldNode ? fieldNode.A_Const.sval?.sval?.toLowerCase() : undefined;
        const x = args[1];
        if (field === undefined || !x || args.length !== 2) throw unsupported('extract()');
        if (x.type !== Oid.date) throw new NotLocal(`extract() from ${x.typeName}`);
        if (!DATE_FIELDS.has(field)) throw new NotLocal(`extract(${field} FROM date)`);
        return derived(`${SqlFn.extractDate}('${field}', ${x.sql})`, Oid.numeric, -1, [x]);
      }
      case 'round': {
        // numeric_round, the scale a constant. round(integer) resolves to
        // round(float8) (float8 is the preferred type): not local.
        if (args.length < 1 || args.length > 2) throw unsupported('round() with these arguments');
        const x = args[0] as Expr;
        if (x.unknown) throw new NotLocal('round() of an untyped value');
        if (x.type !== Oid.numeric) throw new NotLocal(`round() of ${x.typeName}`);
        let scale = 0n;
        let scaleExpr: Expr | undefined;
        if (args.length === 2) {
          scaleExpr = args[1] as Expr;
          const v =
            scaleExpr.unknown || !isIntType(scaleExpr.type) ? undefined : this.binds[scaleExpr.sql.slice(1)];
          if (v?.kind !== 'value' || typeof v.value !== 'bigint')
            throw unsupported('round() with a non-constant scale');
          scale = v.value;
          if (scale < -1000n || scale > 1000n) throw unsupported('round() to more than 1000 digits');
        }
        return derived(
          `${SqlFn.numericRound}(${x.sql}, ${scale})`,
          Oid.numeric,
          -1,
          scaleExpr ? [x, scaleExpr] : [x],
        );
      }
      case 'length':
      case 'char_length':
      case 'character_length': {
        const a = textArg();
        return derived(`length(${a.sql})`, Oid.int4, -1, [a]);
      }
      default:
        throw unsupported(describeNode('FuncCall', f));
    }
  }

  private aggregate(name: string, f: FuncCall, c: ExprCtx): Expr {
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
    if (f.agg_distinct) {
      if (name !== 'count') throw unsupported(`${name}(DISTINCT)`);
      // Distinct under Postgres's equality: the comparable key (numeric 1.5 = 1.50, float -0 = 0).
      return aggExpr(`count(DISTINCT ${this.groupForm(a, 'count(DISTINCT)').sql})`, Oid.int8);
    }
    switch (name) {
      case 'count':
        return aggExpr(`count(${a.sql})`, Oid.int8);
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
        if (a.type === Oid.date) return aggExpr(`${name}(${comparable(a, 'date')})`, Oid.date);
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
        if (cls === 'tstz' || cls === 'float8' || cls === 'float4') {
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

  /**
   * A window function call in the select list of an ungrouped query. SQLite
   * evaluates windows like Postgres (after WHERE, before DISTINCT/ORDER
   * BY/LIMIT, default frame RANGE UNBOUNDED PRECEDING to CURRENT ROW with
   * peers). Functions whose value depends on the order among peers
   * (row_number, ntile, lag, lead) abort the run when a row has a peer:
   * Postgres's answer would depend on its sort's tie order.
   */
  private windowCall(name: string, f: FuncCall, c: ExprCtx): Expr {
    if (c.clause !== 'select')
      throw new NotLocal(`window functions are not allowed in ${c.clause.toUpperCase()}`);
    if (c.inAgg) throw new NotLocal('aggregate function calls cannot contain window function calls');
    if (c.level.grouped) throw unsupported('window function in a grouped query');
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
    let spec = '';
    if (parts.length > 0) spec += `PARTITION BY ${parts.map((p) => p.key).join(', ')}`;
    if (orders.length > 0) spec += `${spec ? ' ' : ''}ORDER BY ${orders.map((o) => o.key).join(', ')}`;
    const kids = [...parts.map((p) => p.e), ...orders.map((o) => o.e)];
    const frame = windowFrame(w, orders.length > 0);
    // The frame matters to aggregates only (ranking functions and lag/lead ignore it).
    const over = `OVER (${spec}${frame.sql ? `${spec ? ' ' : ''}${frame.sql}` : ''})`;
    const peers = `count(*) OVER (${spec}${orders.length > 0 ? '' : ' ORDER BY 1'} RANGE BETWEEN CURRENT ROW AND CURRENT ROW)`;
    const tieFree = (sql: string): string =>
      `(CASE WHEN ${peers} > 1 THEN ${SqlFn.notLocal}('${name}() over rows Postgres orders arbitrarily') ELSE ${sql} END)`;
    /** An aggregate over a frame whose rows depend on the order among peers: ties abort. */
    const framed = (sql: string): string => (frame.orderSensitive ? tieFree(sql) : sql);
    const args = (f.args ?? []).map((a) => this.expr(a, ctx));
    if ((f.args ?? []).some(containsWindow)) throw new NotLocal('window function calls cannot be nested');
    const win = (sql: string, type: number, typmod = -1, argKids: Expr[] = []): Expr => ({
      ...derived(sql, type, typmod, [...kids, ...argKids]),
      constant: false,
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
        if (args.length === 2) {
          const o = args[1] as Expr;
          const v = o.unknown || o.type !== Oid.int4 ? undefined : this.binds[o.sql.slice(1)];
          if (v?.kind !== 'value' || typeof v.value !== 'bigint' || v.value < 0n) {
            throw unsupported(`${name}() with a non-constant or negative offset`);
          }
          offset = `, ${o.sql}`;
        }
        // exprTypmod of a WindowFunc is -1 whatever its argument's.
        const e = win(tieFree(`${name}(${x.sql}${offset}) ${over}`), x.type, -1, [x]);
        e.typlen = x.typlen;
        e.typeName = x.typeName;
        e.coll = x.coll;
        return e;
      }
      case 'count':
        if (f.agg_star) return win(framed(`count(*) ${over}`), Oid.int8);
        if (args.length !== 1) throw unsupported('count() with several arguments');
        return win(framed(`count(${(args[0] as Expr).sql}) ${over}`), Oid.int8, -1, args);
      case 'sum':
      case 'avg':
      case 'min':
      case 'max': {
        if (args.length !== 1) throw unsupported(`${name}() with several arguments`);
        const x = args[0] as Expr;
        if (x.agg) throw unsupported('window function over an aggregate');
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

  /**
   * GREATEST/LEAST: the common type's values compared like ORDER BY, NULLs
   * ignored; among equal values the first is kept (ExecEvalMinMax replaces
   * only on a strictly greater/lesser value).
   */
  private minMax(m: MinMaxExpr, c: ExprCtx): Expr {
    const least = m.op === 'IS_LEAST';
    const args = (m.args ?? []).map((a) => this.expr(a, c));
    if (args.length === 0) throw unsupported('GREATEST/LEAST');
    if (args.every((a) => a.unknown?.kind === 'param'))
      throw new NotLocal('could not determine data type of parameter');
    const type = selectCommonType(args, least ? 'LEAST' : 'GREATEST');
    const typed = args.map((a) => this.coerce(a, type));
    const coll = typed.reduce<string | undefined>(
      (acc, t, i) => (i === 0 ? t.coll : mergeCollNames(acc, t.coll)),
      undefined,
    );
    const probe = { ...(typed[0] as Expr), coll };
    const cls = sortClass(probe, this.ctx);
    if (cls === 'bpchar') throw new NotLocal(`${least ? 'LEAST' : 'GREATEST'} of bpchar`);
    const pairs = typed.map((t) => `${comparable({ ...t, coll }, cls)}, ${t.sql}`).join(', ');
    const typmod = typed.every((t) => t.typmod === typed[0]?.typmod) ? (typed[0]?.typmod ?? -1) : -1;
    const e = derived(`${SqlFn.minMax}(${least ? -1 : 1}, ${pairs})`, type, typmod, typed);
    e.coll = coll;
    return e;
  }

  /**
   * string_agg(text, text ORDER BY ...) and array_agg(x ORDER BY ...): the
   * rows sorted by the ORDER BY keys (compared like ORDER BY); rows that tie
   * on every key but differ abort the run, since Postgres's order among them
   * is arbitrary. Without ORDER BY the input order is arbitrary: not local.
   */
  private orderedAggregate(name: string, f: FuncCall, c: ExprCtx): Expr {
    if (c.clause === 'where' || c.clause === 'on' || c.clause === 'group' || c.clause === 'limit') {
      throw new NotLocal(`aggregate functions are not allowed in ${c.clause.toUpperCase()}`);
    }
    if (c.inAgg) throw new NotLocal('aggregate function calls cannot be nested');
    if (f.agg_filter || f.agg_distinct || f.agg_star || f.agg_within_group || f.func_variadic) {
      throw unsupported(`${name}() with FILTER, DISTINCT or *`);
    }
    if (!f.agg_order || f.agg_order.length === 0)
      throw new NotLocal(`${name}() without ORDER BY (input order arbitrary)`);
    const inner: ExprCtx = { ...c, inAgg: true };
    const args = (f.args ?? []).map((a) => this.expr(a, inner));
    const keys = f.agg_order.map((item) => {
      const [kind] = nodeKind(item);
      if (kind !== 'SortBy') throw unsupported(kind);
      const sb = (item as { SortBy: SortBy }).SortBy;
      if (sb.sortby_dir === 'SORTBY_USING' || (sb.useOp && sb.useOp.length > 0))
        throw unsupported('ORDER BY USING');
      const e = this.expr(sb.node as Node, inner);
      if (e.unknown) throw new NotLocal('aggregate ORDER BY a constant of unknown type');
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
    const spec = keys.map((k) => k.spec).join(',');
    const keySql = keys.map((k) => k.sql).join(', ');
    if (name === 'string_agg') {
      if (args.length !== 2) throw unsupported('string_agg() with these arguments');
      const [v, d] = args.map((a) => (a.unknown ? this.resolveUnknown(a, Oid.text) : a)) as [Expr, Expr];
      for (const a of [v, d]) {
        if (a.type !== Oid.text && a.type !== Oid.varchar)
          throw new NotLocal(`string_agg() of ${a.typeName}`);
      }
      const e = aggExpr(`${SqlFn.orderedAgg}('string', '${spec}', ${v.sql}, ${d.sql}, ${keySql})`, Oid.text);
      e.coll = v.coll;
      return e;
    }
    if (args.length !== 1) throw unsupported('array_agg() with these arguments');
    let v = args[0] as Expr;
    if (v.unknown) v = this.resolveUnknown(v, Oid.text);
    const elem = isIntType(v.type)
      ? 'int'
      : v.type === Oid.text || v.type === Oid.varchar
        ? 'text'
        : undefined;
    const arrayType = TYPES.get(v.type)?.array;
    if (elem === undefined || arrayType === undefined) throw new NotLocal(`array_agg() of ${v.typeName}`);
    return aggExpr(`${SqlFn.orderedAgg}('${elem}', '${spec}', ${v.sql}, NULL, ${keySql})`, arrayType);
  }

  private coalesceExpr(ce: CoalesceExpr, c: ExprCtx): Expr {
    const args = (ce.args ?? []).map((a) => this.expr(a, c));
    if (args.length === 0) throw unsupported('COALESCE');
    if (args.some((a) => a.unknown?.kind === 'param') && args.every((a) => a.unknown)) {
      throw new NotLocal('could not determine data type of parameter');
    }
    const type = selectCommonType(args, 'COALESCE');
    const typed = args.map((a) => this.coerce(a, type));
    const typmod = typed.every((t) => t.typmod === typed[0]?.typmod) ? (typed[0]?.typmod ?? -1) : -1;
    const list = typed.map((t) => t.sql);
    if (list.length === 1) list.push('NULL');
    const e = derived(`coalesce(${list.join(', ')})`, type, typmod, typed);
    e.coll = typed.reduce<string | undefined>(
      (acc, t, i) => (i === 0 ? t.coll : mergeCollNames(acc, t.coll)),
      undefined,
    );
    return e;
  }

  private caseExpr(ce: CaseExpr, c: ExprCtx): Expr {
    const arg = ce.arg ? this.expr(ce.arg, c) : undefined;
    const whens: Expr[] = [];
    const results: Expr[] = [];
    for (const w of ce.args ?? []) {
      const [kind, body] = nodeKind(w);
      if (kind !== 'CaseWhen') throw unsupported(kind);
      const cw = body as { expr?: Node; result?: Node };
      if (!cw.expr || !cw.result) throw unsupported('CASE');
      if (arg) whens.push(this.comparison('=', arg, this.expr(cw.expr, c), c.clause));
      else whens.push(this.predicate(cw.expr, c));
      results.push(this.expr(cw.result, c));
    }
    const def = ce.defresult ? this.expr(ce.defresult, c) : undefined;
    // The default result comes first in transformCaseExpr's common-type resolution.
    const all = def ? [def, ...results] : results;
    if (all.every((r) => r.unknown?.kind === 'param'))
      throw new NotLocal('could not determine data type of parameter');
    const type = selectCommonType(all, 'CASE');
    const typed = all.map((r) => this.coerce(r, type));
    // Without ELSE, the implicit ELSE NULL (typmod -1) takes part in the typmod too.
    const typmod = def && typed.every((t) => t.typmod === typed[0]?.typmod) ? (typed[0]?.typmod ?? -1) : -1;
    const tdef = def ? typed[0] : undefined;
    const tres = def ? typed.slice(1) : typed;
    let sql = 'CASE';
    for (const [i, w] of whens.entries()) sql += ` WHEN ${w.sql} THEN ${(tres[i] as Expr).sql}`;
    if (tdef) sql += ` ELSE ${tdef.sql}`;
    sql += ' END';
    const e = derived(`(${sql})`, type, typmod, [...whens, ...typed]);
    e.coll = typed.reduce<string | undefined>(
      (acc, t, i) => (i === 0 ? t.coll : mergeCollNames(acc, t.coll)),
      undefined,
    );
    return e;
  }

  private collateClause(cc: CollateClause, c: ExprCtx): Expr {
    const names = (cc.collname ?? []).map((n) => ('String' in n ? (n.String.sval ?? '') : ''));
    const coll =
      names.length === 2 && names[0] === 'pg_catalog' ? names[1] : names.length === 1 ? names[0] : undefined;
    if (coll !== 'C' && coll !== 'POSIX' && coll !== 'default') throw unsupported('COLLATE');
    let e = this.expr(cc.arg as Node, c);
    if (e.unknown) e = this.resolveUnknown(e, Oid.text);
    if (!isTextType(e.type)) throw new NotLocal(`collations are not supported by type ${e.typeName}`);
    return { ...e, coll, explicitColl: true, origin: undefined, kids: [e] };
  }

  private subLink(s: SubLink, c: ExprCtx): Expr {
    // In a grouped query, outer references from the select list or HAVING
    // must be grouped, which the subquery's SQL hides from checkGrouped; in
    // WHERE/ON it runs before grouping, as in an ungrouped query.
    if (c.level.grouped && c.clause !== 'where' && c.clause !== 'on') {
      throw unsupported('subquery in a grouped query');
    }
    const q = s.subselect;
    if (!q) throw unsupported('subquery');
    const [kind, body] = nodeKind(q);
    if (kind !== 'SelectStmt') throw unsupported('subquery');
    c.level.hasSublinks = true;
    switch (s.subLinkType) {
      case 'EXISTS_SUBLINK': {
        const sub = this.selectStmt(body as SelectStmt, c.level, c.level.ctes, false, false);
        const e = derived(`EXISTS (${sub.build(sub.outs.map((o) => o.expr))})`, Oid.bool, -1, []);
        return { ...e, constant: false };
      }
      case 'ANY_SUBLINK':
      case 'ALL_SUBLINK': {
        const op = operatorName({ name: s.operName }) ?? '=';
        const any = s.subLinkType === 'ANY_SUBLINK';
        if (!((any && op === '=') || (!any && op === '<>')))
          throw unsupported(`${op} ${any ? 'ANY' : 'ALL'} (subquery)`);
        if (!s.testexpr) throw unsupported('subquery');
        if (nodeKind(s.testexpr)[0] === 'RowExpr') throw unsupported('row IN (subquery)');
        const l = this.expr(s.testexpr, c);
        const sub = this.selectStmt(body as SelectStmt, c.level, c.level.ctes, false, false);
        if (sub.outs.length !== 1) throw new NotLocal('subquery has too many columns');
        const out = (sub.outs[0] as Out).expr;
        const a = this.alias();
        const probe: Expr = { ...out, sql: `${a}.c0`, origin: undefined, kids: [] };
        const t = this.typedComparison(l, probe, true);
        const sql = `(${t.lsql} ${any ? 'IN' : 'NOT IN'} (SELECT ${t.rsql} FROM (${sub.build([out])}) AS ${a}))`;
        return { ...derived(sql, Oid.bool, -1, [l]), constant: false };
      }
      case 'EXPR_SUBLINK': {
        // A scalar subquery: its only row's value, NULL without rows; more
        // than one row is an error in Postgres (the aggregate aborts the run).
        const sub = this.selectStmt(body as SelectStmt, c.level, c.level.ctes, false, false);
        if (sub.outs.length !== 1) throw new NotLocal('subquery must return only one column');
        const out = (sub.outs[0] as Out).expr;
        const sql = `(SELECT ${SqlFn.single}(c0) FROM (${sub.build([out])}))`;
        const e = { ...derived(sql, out.type, out.typmod, []), constant: false };
        e.typlen = out.typlen;
        e.typeName = out.typeName;
        if (out.coll !== undefined) e.coll = out.coll;
        if (out.enumLabels !== undefined) e.enumLabels = out.enumLabels;
        return this.errorCapable(e, c);
      }
      default:
        throw unsupported(s.subLinkType === 'ARRAY_SUBLINK' ? 'ARRAY(subquery)' : 'subquery');
    }
  }
}

// ---- helpers -------------------------------------------------------------------------

function isTextType(t: number): boolean {
  return t === Oid.text || t === Oid.varchar || t === Oid.bpchar;
}

/** A bare table column's Postgres name, else `expression`. */
function colName(e: Expr): string {
  return e.columnName !== undefined && /^\w+\.a\d+$/.test(e.sql) ? e.columnName : 'expression';
}

function unknownExpr(sql: string, unknown: UnknownSrc): Expr {
  return {
    sql,
    type: Oid.unknown,
    typmod: -1,
    typlen: -2,
    typeName: 'unknown',
    unknown,
    constant: true,
    errorProne: false,
    agg: false,
    kids: [],
  };
}

function constExpr(sql: string, type: number): Expr {
  return {
    sql,
    type,
    typmod: -1,
    typlen: typeLen(type),
    typeName: typeName(type),
    constant: true,
    errorProne: false,
    agg: false,
    kids: [],
  };
}

/** An expression computed from `kids` (flags propagate). */
function derived(sql: string, type: number, typmod: number, kids: Expr[]): Expr {
  // A type the compiler has no facts about (timestamp, interval, ...) can only
  // come from a kid of that type (CASE, COALESCE): its size and name are the kid's.
  const same = TYPES.has(type) ? undefined : kids.find((k) => k.type === type);
  return {
    sql,
    type,
    typmod,
    typlen: same ? same.typlen : typeLen(type),
    typeName: same ? same.typeName : typeName(type),
    ...(same?.enumLabels !== undefined ? { enumLabels: same.enumLabels } : {}),
    constant: kids.every((k) => k.constant),
    errorProne: kids.some((k) => k.errorProne),
    agg: kids.some((k) => k.agg),
    kids,
  };
}

function aggExpr(sql: string, type: number): Expr {
  return { ...derived(sql, type, -1, []), constant: false, agg: true };
}

function retype(e: Expr, type: number): Expr {
  const { enumLabels: _, ...rest } = e;
  return { ...rest, type, typlen: typeLen(type), typeName: typeName(type), kids: [e], localColumn: false };
}

function tableColumn(table: ReplicaTable, column: ReplicaColumn, sql: string): Expr {
  return {
    sql,
    type: column.typeOid,
    typmod: column.typmod,
    typlen: column.typlen,
    typeName: column.typeName,
    origin: { tableOid: table.oid, attnum: column.attnum },
    columnName: column.name,
    ...(column.collation !== undefined ? { coll: column.collation } : {}),
    // Catalogs written before enum labels were recorded lack them: such a
    // column has no comparison class and no renderer, so it is forwarded.
    ...(column.enumLabels !== undefined ? { enumLabels: column.enumLabels } : {}),
    constant: false,
    errorProne: false,
    agg: false,
    kids: [],
  };
}

/** A column of a subquery or CTE, exposing its output expression's type and origin. */
function columnOf(out: Expr, sql: string): Expr {
  const e: Expr = {
    sql,
    type: out.type,
    typmod: out.typmod,
    typlen: out.typlen,
    typeName: out.typeName,
    constant: false,
    errorProne: false,
    agg: false,
    kids: [],
  };
  if (out.origin) e.origin = out.origin;
  if (out.coll !== undefined) e.coll = out.coll;
  if (out.enumLabels !== undefined) e.enumLabels = out.enumLabels;
  return e;
}

/** A reference to a column of an enclosing query: constant for this level. */
function outerRef(e: Expr): Expr {
  return { ...e, localColumn: false, constant: false, kids: [] };
}

function hasLocalVars(e: Expr): boolean {
  return e.localColumn === true || e.kids.some(hasLocalVars);
}

/** Postgres's check_ungrouped_columns: every local column outside aggregates must be grouped. */
function checkGrouped(e: Expr, keys: Set<string>): void {
  if (keys.has(e.sql)) return;
  if (e.localColumn)
    throw new NotLocal(`column ${colName(e)} must appear in GROUP BY or be used in an aggregate`);
  for (const k of e.kids) checkGrouped(k, keys);
}

/** The comparison class of a typed value: its type's, or 'enum' for a value of an enum type. */
function cmpClassOfExpr(e: Expr): CmpClass | undefined {
  return cmpClassOf(e.type) ?? (e.enumLabels !== undefined ? 'enum' : undefined);
}

function cmpClassOf(type: number): CmpClass | undefined {
  switch (type) {
    case Oid.int2:
    case Oid.int4:
    case Oid.int8:
      return 'int';
    case Oid.bool:
      return 'bool';
    case Oid.float8:
      return 'float8';
    case Oid.float4:
      return 'float4';
    case Oid.numeric:
      return 'numeric';
    case Oid.text:
    case Oid.varchar:
      return 'text';
    case Oid.bpchar:
      return 'bpchar';
    case Oid.date:
      return 'date';
    case Oid.timestamptz:
      return 'tstz';
    case Oid.uuid:
      return 'uuid';
    default:
      return undefined;
  }
}

/** The type an unknown operand takes opposite `type` in a comparison (ParameterDescription). */
function operatorInputType(type: number): number {
  return type === Oid.varchar ? Oid.text : type;
}

function isCCollation(coll: string, ctx: CompileContext): boolean {
  return coll === 'C' || coll === 'POSIX' || (coll === 'default' && ctx.textCollationIsC);
}

/** The collation Postgres would use for a comparison of two collatable operands, or undefined (unknown/conflict). */
function resolveCollation(l: Expr, r: Expr): string | undefined {
  if (l.explicitColl && r.explicitColl) return l.coll === r.coll ? l.coll : undefined;
  if (l.explicitColl) return l.coll;
  if (r.explicitColl) return r.coll;
  return mergeCollNames(l.coll, r.coll);
}

function mergeCollNames(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined || b === undefined) return undefined;
  if (a === b) return a;
  // A non-default implicit collation beats the default one; two different ones conflict.
  if (a === 'default') return b;
  if (b === 'default') return a;
  return undefined;
}

function mergeColl(l: Expr, r: Expr): string | undefined {
  const lc = isTextType(l.type) ? l.coll : 'default';
  const rc = isTextType(r.type) ? r.coll : 'default';
  return resolveCollation({ ...l, coll: lc }, { ...r, coll: rc });
}

/** The SQLite expression that compares and sorts like the Postgres value, in class `cls`. */
function comparable(e: Expr, cls: CmpClass): string {
  const x = e.sql;
  switch (cls) {
    case 'float8':
      if (isIntType(e.type)) return `CAST(${x} AS REAL)`;
      // The replica stores a float4 as the double nearest its shortest text,
      // not the float4 itself: round it back to float4 precision.
      if (e.type === Oid.float4) return `${SqlFn.float4Value}(${x})`;
      return `(CASE WHEN typeof(${x}) = 'text' AND ${x} = '-0' THEN 0.0 ELSE ${x} END)`;
    case 'float4':
      return `(CASE WHEN typeof(${x}) = 'text' AND ${x} = '-0' THEN 0.0 ELSE ${x} END)`;
    case 'numeric':
      return `${SqlFn.numericKey}(${x})`;
    case 'tstz':
      return `${SqlFn.timestamptzKey}(${x})`;
    case 'bpchar':
      return `rtrim(${x}, ' ')`;
    case 'enum':
      return enumPosition(e);
    case 'date':
      // ISO text orders like dates only for 4-digit AD years (and ±infinity);
      // any other stored date makes the whole local run fall back upstream.
      if (e.constant) return x;
      return `(CASE WHEN ${x} IS NULL OR length(${x}) = 10 OR ${x} IN ('infinity', '-infinity') THEN ${x} ELSE ${SqlFn.notLocal}('date outside years 1-9999 AD') END)`;
    default:
      return x;
  }
}

/**
 * An enum value's position in its type's sort order (enumsortorder), from the
 * stored label. A label the replica's catalog does not know (added upstream
 * since the catalog was read) aborts the run.
 */
function enumPosition(e: Expr): string {
  const x = e.sql;
  const labels = e.enumLabels ?? [];
  const whens = labels.map((l, i) => ` WHEN '${l.replace(/'/g, "''")}' THEN ${i}`).join('');
  return `(CASE ${x}${whens} ELSE (CASE WHEN ${x} IS NULL THEN NULL ELSE ${SqlFn.notLocal}('enum label unknown to the replica') END) END)`;
}

function sortClass(e: Expr, ctx: CompileContext): CmpClass {
  const cls = cmpClassOfExpr(e);
  if (cls === undefined) throw new NotLocal(`comparison on type ${e.typeName}`);
  if (cls === 'text' || cls === 'bpchar') {
    if (e.coll === undefined) throw new NotLocal(`collation of ${colName(e)} unknown`);
    if (!isCCollation(e.coll, ctx)) throw new NotLocal(`non-C collation ${e.coll} on ${colName(e)}`);
  }
  return cls;
}

/** A sort key split into its comparable expression and direction (`ASC NULLS LAST`, ...). */
function sortParts(e: Expr, k: { sb: SortBy }, ctx: CompileContext): { key: string; dir: string } {
  const full = sortKey(e, k, ctx);
  const m = / (ASC|DESC) NULLS (FIRST|LAST)$/.exec(full) as RegExpExecArray;
  return { key: full.slice(0, m.index), dir: m[0].trim() };
}

function sortKey(e: Expr, k: { sb: SortBy }, ctx: CompileContext): string {
  const cls = sortClass(e, ctx);
  const desc = k.sb.sortby_dir === 'SORTBY_DESC';
  const nullsFirst =
    k.sb.sortby_nulls === 'SORTBY_NULLS_FIRST'
      ? true
      : k.sb.sortby_nulls === 'SORTBY_NULLS_LAST'
        ? false
        : desc;
  return `${comparable(e, cls)} ${desc ? 'DESC' : 'ASC'} NULLS ${nullsFirst ? 'FIRST' : 'LAST'}`;
}

function limitSql(limit: string | undefined, offset: string | undefined): string {
  if (limit === undefined && offset === undefined) return '';
  // SQLite: a negative LIMIT means none; OFFSET needs a LIMIT clause.
  return ` LIMIT ${limit ?? '-1'}${offset !== undefined ? ` OFFSET ${offset}` : ''}`;
}

/** The text output of a value (its type's output function, or the cast to text). */
function textForm(e: Expr): string {
  if (isIntType(e.type)) return `CAST(${e.sql} AS TEXT)`;
  if (e.type === Oid.text || e.type === Oid.varchar || e.type === Oid.numeric || e.type === Oid.uuid)
    return e.sql;
  if (e.type === Oid.bool) return `(CASE ${e.sql} WHEN 1 THEN 'true' WHEN 0 THEN 'false' END)`;
  throw new NotLocal(`text form of ${e.typeName}`);
}

/** The element of `list` named `name`, exactly once. */
function uniqueColumn(list: RelColumn[], name: string, side: string): RelColumn {
  const m = list.filter((c) => c.name === name);
  if (m.length !== 1)
    throw new NotLocal(`USING column "${name}" ${m.length === 0 ? 'not found' : 'ambiguous'} on the ${side}`);
  return m[0] as RelColumn;
}

/**
 * Postgres's select_common_type for the supported types: the first known
 * type, replaced by a later one it converts to implicitly (and not back);
 * all unknown → text.
 */
function selectCommonType(exprs: Expr[], context: string): number {
  let p: number | undefined;
  for (const e of exprs) {
    if (e.unknown) continue;
    const t = e.type;
    if (p === undefined) {
      p = t;
      continue;
    }
    if (t === p) continue;
    const pi = TYPES.get(p);
    const ti = TYPES.get(t);
    if (!pi || !ti || pi.category !== ti.category) {
      throw new NotLocal(`${context} types ${typeName(p)} and ${typeName(t)} cannot be matched`);
    }
    if (!pi.preferred && implicitlyCoercible(p, t) && !implicitlyCoercible(t, p)) p = t;
    else if (!(implicitlyCoercible(t, p) || pi.preferred)) {
      throw new NotLocal(`${context} types ${typeName(p)} and ${typeName(t)} not supported together`);
    }
  }
  return p ?? Oid.text;
}

const NUMERIC_ORDER: number[] = [Oid.int2, Oid.int4, Oid.int8, Oid.numeric, Oid.float4, Oid.float8];

function implicitlyCoercible(from: number, to: number): boolean {
  const a = NUMERIC_ORDER.indexOf(from);
  const b = NUMERIC_ORDER.indexOf(to);
  if (a >= 0 && b >= 0) return a <= b;
  const strings = [Oid.text, Oid.varchar];
  if (strings.includes(from as 25) && strings.includes(to as 25)) return true;
  if (from === Oid.bpchar && strings.includes(to as 25)) return true;
  return from === to;
}

/** Resolve a cast's target type name (pg_catalog is searched first). */
function resolveTypeName(t: TypeName): { oid: number; typmod: number } {
  const names = (t.names ?? []).map((n) => ('String' in n ? (n.String.sval ?? '') : ''));
  const name =
    names.length === 2 && names[0] === 'pg_catalog' ? names[1] : names.length === 1 ? names[0] : undefined;
  if (name === undefined || t.setof || t.pct_type) throw unsupported('cast');
  let oid = TYPE_BY_NAME.get(name);
  if (oid === undefined) throw unsupported(`cast to ${name}`);
  if (t.arrayBounds && t.arrayBounds.length > 0) {
    if (t.arrayBounds.length > 1) throw unsupported(`cast to ${name}[][]`);
    const arr = TYPES.get(oid)?.array;
    if (arr === undefined) throw unsupported(`cast to ${name}[]`);
    oid = arr;
  }
  let typmod = -1;
  const mods = t.typmods ?? [];
  if (mods.length > 0) {
    if (oid !== Oid.varchar || mods.length !== 1) throw unsupported(`cast to ${name} with a type modifier`);
    const [k, b] = nodeKind(mods[0] as Node);
    const n = k === 'A_Const' ? (b as A_Const).ival?.ival : undefined;
    if (n === undefined || n < 1) throw unsupported(`cast to ${name} with a type modifier`);
    typmod = n + 4;
  }
  return { oid, typmod };
}
