/**
 * Postgres AST (libpg-query) → SQLite SQL for the statements Outpost can
 * answer locally. A visitor with one case per node kind: every construct is
 * either translated with semantics identical to Postgres's, or rejected with
 * `NotLocal('<why>')` so the statement is forwarded. Postgres errors are never
 * imitated: anything Postgres would reject (unknown column, type mismatch,
 * negative LIMIT, ...) is forwarded so upstream produces the exact error.
 *
 * Supported (first slice):
 *   SELECT <*, t.*, [t.]col [AS alias]> FROM <one replicated table> [alias]
 *   [WHERE AND/OR/NOT of comparisons column-vs-constant or column-vs-column,
 *          IS [NOT] NULL, IS [NOT] TRUE/FALSE/UNKNOWN, IS [NOT] DISTINCT FROM,
 *          bare boolean columns]
 *   [ORDER BY column | output name | position [ASC|DESC] [NULLS FIRST|LAST]]
 *   [LIMIT n|ALL] [OFFSET n]
 */
import type {
  A_Const,
  A_Expr,
  BoolExpr,
  BooleanTest,
  ColumnRef,
  Node,
  NullTest,
  RangeVar,
  ResTarget,
  SelectStmt,
  SortBy,
} from 'libpg-query';
import { NotLocal } from '../errors.js';
import { quoteIdent, type ReplicaColumn, type ReplicaTable } from '../replica/schema.js';
import { nodeKind } from './parse.js';

/** Name of the SQLite function (registered by the router) that aborts a local run. */
export const NOT_LOCAL_FUNCTION = 'outpost_not_local';

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
}

export interface OutputColumn {
  /** Name in RowDescription (alias, else column name). */
  name: string;
  column: ReplicaColumn;
}

export interface CompiledSelect {
  /** SQLite SQL with named parameters `@p1`, `@p2`, ... */
  sql: string;
  /** Values of the named parameters, keyed without the `@`. */
  params: Record<string, bigint | number | string>;
  table: ReplicaTable;
  outputs: OutputColumn[];
}

/** A constant as Postgres's grammar typed it (before coercion to the other operand's type). */
type Const =
  | { t: 'int'; v: bigint } // integer literal: int4, or int8 when it does not fit
  | { t: 'numeric'; text: string } // other numeric literal (numeric, or too big for int8)
  | { t: 'string'; v: string } // 'literal' (type unknown until coerced)
  | { t: 'bool'; v: boolean }
  | { t: 'null' };

type Expr =
  | { k: 'column'; column: ReplicaColumn }
  | { k: 'const'; c: Const }
  /** A boolean-valued SQLite expression (predicate). */
  | { k: 'predicate'; sql: string };

/** How a column's type compares; only types whose SQLite storage orders exactly as in Postgres. */
type CompareClass = 'int' | 'bool' | 'text' | 'date' | 'float8';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const INT_RANGES: Record<number, [bigint, bigint]> = {
  21: [-32768n, 32767n],
  23: [-2147483648n, 2147483647n],
  20: [INT64_MIN, INT64_MAX],
};
/** Integers that float8 represents exactly: int → float8 conversion then compares identically. */
const FLOAT_EXACT_INT = 2n ** 53n;

/** Postgres truncates longer identifiers (NAMEDATALEN − 1) with a NOTICE we would not send. */
const MAX_IDENT_BYTES = 63;

/** Human names for SelectStmt clauses we do not translate. */
const CLAUSE_NAMES: Record<string, string> = {
  distinctClause: 'DISTINCT',
  intoClause: 'SELECT INTO',
  groupClause: 'GROUP BY',
  groupDistinct: 'GROUP BY DISTINCT',
  havingClause: 'HAVING',
  windowClause: 'WINDOW',
  valuesLists: 'VALUES',
  lockingClause: 'locking clause',
  withClause: 'WITH (CTE)',
  larg: 'set operation',
  rarg: 'set operation',
};

/** Human names for node kinds we do not translate. */
const NODE_NAMES: Record<string, string> = {
  JoinExpr: 'join',
  RangeSubselect: 'subquery in FROM',
  RangeFunction: 'function in FROM',
  RangeTableFunc: 'XMLTABLE',
  RangeTableSample: 'TABLESAMPLE',
  JsonTable: 'JSON_TABLE',
  SubLink: 'subquery',
  TypeCast: 'cast',
  ParamRef: 'parameter',
  A_Indirection: 'subscript or field selection',
  A_ArrayExpr: 'array constructor',
  RowExpr: 'row constructor',
  CaseExpr: 'CASE',
  CoalesceExpr: 'COALESCE',
  MinMaxExpr: 'GREATEST/LEAST',
  SQLValueFunction: 'SQL value function',
  CollateClause: 'COLLATE',
  GroupingFunc: 'GROUPING',
  XmlExpr: 'XML expression',
  A_Const: 'constant',
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

function unsupported(what: string): NotLocal {
  return new NotLocal(`unsupported: ${what}`);
}

function checkIdent(name: string): string {
  if (Buffer.byteLength(name, 'utf8') > MAX_IDENT_BYTES) {
    throw unsupported('identifier longer than 63 bytes');
  }
  return name;
}

function describeNode(kind: string, body: unknown): string {
  if (kind === 'FuncCall') {
    const names = (body as { funcname?: Node[] }).funcname ?? [];
    const name = names
      .map((n) => ('String' in n ? n.String.sval : '?'))
      .filter((s) => s !== 'pg_catalog')
      .join('.');
    return `function call ${name}()`;
  }
  if (kind === 'A_Expr') {
    const e = body as A_Expr;
    const named = A_EXPR_NAMES[e.kind ?? ''];
    if (named) return named;
    return `operator ${operatorName(e) ?? '?'}`;
  }
  return NODE_NAMES[kind] ?? kind;
}

function operatorName(e: A_Expr): string | undefined {
  const names = e.name ?? [];
  if (names.length !== 1) return undefined;
  const only = names[0];
  return only && 'String' in only ? only.String.sval : undefined;
}

/** Parse an integer literal text (`-12`, as the grammar produces it) within int64, else undefined. */
function int64Text(text: string): bigint | undefined {
  if (!/^-?\d+$/.test(text)) return undefined;
  const v = BigInt(text);
  return v >= INT64_MIN && v <= INT64_MAX ? v : undefined;
}

/** The comparison class of a column, or a reason why it has none. */
function compareClass(column: ReplicaColumn, ctx: CompileContext): CompareClass {
  switch (column.typeOid) {
    case 20:
    case 21:
    case 23:
      return 'int';
    case 16:
      return 'bool';
    case 701:
      return 'float8';
    case 1082:
      return 'date';
    case 25:
    case 1043: {
      const coll = column.collation;
      if (coll === undefined) throw new NotLocal(`collation of column ${column.name} unknown`);
      const isC = coll === 'default' ? ctx.textCollationIsC : coll === 'C' || coll === 'POSIX';
      if (!isC) throw new NotLocal(`non-C collation ${coll} on column ${column.name}`);
      return 'text';
    }
    default:
      throw new NotLocal(`comparison on type ${column.typeName}`);
  }
}

/** A valid ISO date `YYYY-MM-DD` (AD, 4-digit year) as date_in would accept it. */
function isPlainDate(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return false;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  if (y < 1 || mo < 1 || mo > 12 || d < 1) return false;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo - 1] ?? 0;
  return d <= days;
}

/** Compile one parsed statement (a `SelectStmt` node) or throw NotLocal. */
export function compileSelect(stmt: Node, ctx: CompileContext): CompiledSelect {
  return new SelectCompiler(ctx).compile(stmt);
}

class SelectCompiler {
  private readonly params: Record<string, bigint | number | string> = {};
  private paramCount = 0;
  private table!: ReplicaTable;
  /** Name by which columns may be qualified (alias, else relation name). */
  private refname = '';
  private outputs: OutputColumn[] = [];

  constructor(private readonly ctx: CompileContext) {}

  private param(v: bigint | number | string): string {
    this.paramCount++;
    this.params[`p${this.paramCount}`] = v;
    return `@p${this.paramCount}`;
  }

  compile(stmt: Node): CompiledSelect {
    const [kind, body] = nodeKind(stmt);
    if (kind !== 'SelectStmt') throw unsupported(`statement ${kind}`);
    const s = body as SelectStmt;
    for (const key of Object.keys(s)) {
      const clause = CLAUSE_NAMES[key];
      if (clause) throw unsupported(clause);
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
        ].includes(key)
      ) {
        throw unsupported(`SELECT clause ${key}`);
      }
    }
    if (s.op !== undefined && s.op !== 'SETOP_NONE') throw unsupported('set operation');
    if (s.limitOption === 'LIMIT_OPTION_WITH_TIES') throw unsupported('FETCH ... WITH TIES');

    this.from(s.fromClause ?? []);
    this.targets(s.targetList ?? []);
    const where = s.whereClause ? this.where(s.whereClause) : undefined;
    const orderBy = this.orderBy(s.sortClause ?? []);
    const limit = s.limitCount ? this.limitValue(s.limitCount, 'LIMIT') : undefined;
    const offset = s.limitOffset ? this.limitValue(s.limitOffset, 'OFFSET') : undefined;

    let sql = `SELECT ${this.outputs.map((o) => quoteIdent(o.column.name)).join(', ')} FROM ${quoteIdent(this.table.sqliteName)}`;
    if (where !== undefined) sql += ` WHERE ${where}`;
    // Heap order of an append-only table is insertion order: the rowid. It
    // also breaks ties of an explicit ORDER BY (Postgres leaves those
    // unspecified, so any order is correct; this one is the likeliest).
    const rowid = this.rowidName();
    const keys = rowid ? [...orderBy, rowid] : orderBy;
    if (keys.length > 0) sql += ` ORDER BY ${keys.join(', ')}`;
    if (limit !== undefined || offset !== undefined) {
      // SQLite: a negative LIMIT means none; OFFSET needs a LIMIT clause.
      sql += ` LIMIT ${limit === undefined ? '-1' : this.param(limit)}`;
      if (offset !== undefined) sql += ` OFFSET ${this.param(offset)}`;
    }
    return { sql, params: this.params, table: this.table, outputs: this.outputs };
  }

  /** SQLite's implicit rowid under a name no user column shadows. */
  private rowidName(): string | undefined {
    const taken = new Set(this.table.columns.map((c) => c.name.toLowerCase()));
    return ['_rowid_', 'rowid', 'oid'].find((n) => !taken.has(n));
  }

  // ---- FROM ---------------------------------------------------------------

  private from(items: Node[]): void {
    if (items.length === 0) throw unsupported('SELECT without FROM');
    if (items.length > 1) throw unsupported('join (several FROM items)');
    const [kind, body] = nodeKind(items[0] as Node);
    if (kind !== 'RangeVar') throw unsupported(describeNode(kind, body));
    this.rangeVar(body as RangeVar);
  }

  private rangeVar(r: RangeVar): void {
    for (const key of Object.keys(r)) {
      if (!['schemaname', 'relname', 'inh', 'relpersistence', 'alias', 'location'].includes(key)) {
        throw unsupported(key === 'catalogname' ? 'database-qualified name' : `FROM ${key}`);
      }
    }
    if (r.inh !== true) throw unsupported('ONLY');
    const relname = checkIdent(r.relname ?? '');
    let table: ReplicaTable | undefined;
    if (r.schemaname !== undefined) {
      const schema = checkIdent(r.schemaname);
      table = this.ctx.findTable(schema, relname);
      if (!table) throw new NotLocal(`table ${schema}.${relname} not in replica`);
    } else {
      table = this.ctx.resolveUnqualified(relname);
    }
    if (r.alias) {
      if (r.alias.colnames && r.alias.colnames.length > 0) throw unsupported('column aliases in FROM');
      this.refname = checkIdent(r.alias.aliasname ?? '');
    } else {
      this.refname = relname;
    }
    this.table = table;
  }

  // ---- column references --------------------------------------------------

  /** Resolve a ColumnRef to a column, or 'star' for `*` / `t.*`. */
  private columnRef(ref: ColumnRef): ReplicaColumn | 'star' {
    const fields = ref.fields ?? [];
    const parts = fields.map((f) => {
      if ('String' in f) return checkIdent(f.String.sval ?? '');
      if ('A_Star' in f) return '*';
      throw unsupported('column reference');
    });
    let name: string | undefined;
    if (parts.length === 1) name = parts[0];
    else if (parts.length === 2) {
      if (parts[0] === '*') throw unsupported('column reference');
      if (parts[0] !== this.refname) throw new NotLocal(`unknown qualifier ${parts[0]}`);
      name = parts[1];
    } else {
      throw unsupported('column reference with more than two parts');
    }
    if (name === '*') return 'star';
    const column = this.table.columns.find((c) => c.name === name);
    // Postgres would error (or read a system column / whole-row reference).
    if (!column) throw new NotLocal(`column ${name} not in ${this.table.schema}.${this.table.name}`);
    return column;
  }

  // ---- target list --------------------------------------------------------

  private targets(list: Node[]): void {
    if (list.length === 0) throw unsupported('empty select list');
    for (const item of list) {
      const [kind, body] = nodeKind(item);
      if (kind !== 'ResTarget') throw unsupported(kind);
      const target = body as ResTarget;
      if (target.indirection && target.indirection.length > 0)
        throw unsupported('subscript or field selection');
      const val = target.val;
      if (!val) throw unsupported('empty target');
      const [vkind, vbody] = nodeKind(val);
      if (vkind !== 'ColumnRef') throw unsupported(`${describeNode(vkind, vbody)} in select list`);
      const resolved = this.columnRef(vbody as ColumnRef);
      if (resolved === 'star') {
        if (target.name !== undefined) throw unsupported('alias on *');
        for (const column of this.table.columns) this.outputs.push({ name: column.name, column });
      } else {
        const name = target.name !== undefined ? checkIdent(target.name) : resolved.name;
        this.outputs.push({ name, column: resolved });
      }
    }
    if (this.outputs.length === 0) throw unsupported('no output columns');
  }

  // ---- expressions (visitor) ----------------------------------------------

  private expr(node: Node): Expr {
    const [kind, body] = nodeKind(node);
    switch (kind) {
      case 'ColumnRef': {
        const column = this.columnRef(body as ColumnRef);
        if (column === 'star') throw unsupported('* in expression');
        return { k: 'column', column };
      }
      case 'A_Const':
        return { k: 'const', c: this.constant(body as A_Const) };
      case 'A_Expr':
        return { k: 'predicate', sql: this.aExpr(body as A_Expr) };
      case 'BoolExpr':
        return { k: 'predicate', sql: this.boolExpr(body as BoolExpr) };
      case 'NullTest':
        return { k: 'predicate', sql: this.nullTest(body as NullTest) };
      case 'BooleanTest':
        return { k: 'predicate', sql: this.booleanTest(body as BooleanTest) };
      default:
        throw unsupported(describeNode(kind, body));
    }
  }

  private constant(c: A_Const): Const {
    if (c.isnull) return { t: 'null' };
    if (c.ival !== undefined) return { t: 'int', v: BigInt(c.ival.ival ?? 0) };
    if (c.fval !== undefined) {
      const text = c.fval.fval ?? '';
      // The grammar makes an integer literal too big for int4 an int8 when it fits.
      const asInt = int64Text(text);
      return asInt !== undefined ? { t: 'int', v: asInt } : { t: 'numeric', text };
    }
    if (c.boolval !== undefined) return { t: 'bool', v: c.boolval.boolval === true };
    if (c.sval !== undefined) return { t: 'string', v: c.sval.sval ?? '' };
    throw unsupported('bit string constant');
  }

  /** A boolean-valued expression as SQLite SQL. */
  private predicate(node: Node): string {
    const e = this.expr(node);
    if (e.k === 'predicate') return e.sql;
    if (e.k === 'column') {
      if (e.column.typeOid !== 16)
        throw new NotLocal(`non-boolean column ${e.column.name} used as condition`);
      return quoteIdent(e.column.name);
    }
    if (e.c.t === 'bool') return e.c.v ? '1' : '0';
    throw unsupported('constant condition');
  }

  private where(node: Node): string {
    return this.predicate(node);
  }

  private boolExpr(b: BoolExpr): string {
    const args = (b.args ?? []).map((a) => this.predicate(a));
    switch (b.boolop) {
      case 'AND_EXPR':
        return `(${args.join(' AND ')})`;
      case 'OR_EXPR':
        return `(${args.join(' OR ')})`;
      case 'NOT_EXPR':
        return `(NOT ${args[0] ?? ''})`;
      default:
        throw unsupported(`boolean operator ${b.boolop}`);
    }
  }

  private nullTest(n: NullTest): string {
    if (n.argisrow) throw unsupported('row IS NULL');
    if (!n.arg) throw unsupported('IS NULL without argument');
    const e = this.expr(n.arg);
    if (e.k !== 'column') throw unsupported('IS NULL on an expression');
    return `(${quoteIdent(e.column.name)} IS ${n.nulltesttype === 'IS_NOT_NULL' ? 'NOT ' : ''}NULL)`;
  }

  private booleanTest(b: BooleanTest): string {
    if (!b.arg) throw unsupported('boolean test without argument');
    const e = this.expr(b.arg);
    if (e.k !== 'column' || e.column.typeOid !== 16)
      throw unsupported('IS TRUE/FALSE on a non-boolean column');
    const c = quoteIdent(e.column.name);
    switch (b.booltesttype) {
      case 'IS_TRUE':
        return `(${c} IS 1)`;
      case 'IS_NOT_TRUE':
        return `(${c} IS NOT 1)`;
      case 'IS_FALSE':
        return `(${c} IS 0)`;
      case 'IS_NOT_FALSE':
        return `(${c} IS NOT 0)`;
      case 'IS_UNKNOWN':
        return `(${c} IS NULL)`;
      case 'IS_NOT_UNKNOWN':
        return `(${c} IS NOT NULL)`;
      default:
        throw unsupported(`boolean test ${b.booltesttype}`);
    }
  }

  private aExpr(e: A_Expr): string {
    const kind = e.kind ?? 'AEXPR_OP';
    let sqlOp: string;
    let allowNull = false;
    if (kind === 'AEXPR_OP') {
      const op = operatorName(e);
      if (op === undefined || !COMPARISON_OPS.has(op)) throw unsupported(describeNode('A_Expr', e));
      sqlOp = op;
    } else if (kind === 'AEXPR_DISTINCT' || kind === 'AEXPR_NOT_DISTINCT') {
      if (operatorName(e) !== '=') throw unsupported('IS DISTINCT FROM with a non-= operator');
      sqlOp = kind === 'AEXPR_DISTINCT' ? 'IS NOT' : 'IS';
      allowNull = true;
    } else {
      throw unsupported(describeNode('A_Expr', e));
    }
    if (!e.lexpr || !e.rexpr) throw unsupported(`prefix operator ${operatorName(e) ?? ''}`);
    const left = this.expr(e.lexpr);
    const right = this.expr(e.rexpr);
    const [l, r] = this.comparisonOperands(left, right, allowNull);
    return `(${l} ${sqlOp} ${r})`;
  }

  /**
   * Type-check a comparison like Postgres's operator resolution would, and
   * return both operands as SQLite SQL. Only the combinations whose Postgres
   * result is certain (no error, no implicit cast that SQLite would do
   * differently) are accepted.
   */
  private comparisonOperands(left: Expr, right: Expr, allowNull: boolean): [string, string] {
    if (left.k === 'column' && right.k === 'column') {
      const lc = compareClass(left.column, this.ctx);
      const rc = compareClass(right.column, this.ctx);
      if (lc !== rc)
        throw new NotLocal(`comparison of ${left.column.typeName} with ${right.column.typeName}`);
      // Two collatable columns with different implicit collations make Postgres error out.
      if (lc === 'text' && left.column.collation !== right.column.collation) {
        throw new NotLocal('comparison of columns with different collations');
      }
      return [this.comparable(left.column, lc), this.comparable(right.column, rc)];
    }
    if (left.k === 'column' && right.k === 'const') {
      const cls = compareClass(left.column, this.ctx);
      return [this.comparable(left.column, cls), this.coerceConst(right.c, left.column, cls, allowNull)];
    }
    if (left.k === 'const' && right.k === 'column') {
      const cls = compareClass(right.column, this.ctx);
      return [this.coerceConst(left.c, right.column, cls, allowNull), this.comparable(right.column, cls)];
    }
    throw unsupported('comparison other than column with column or constant');
  }

  /** The SQLite expression that compares like the Postgres column. */
  private comparable(column: ReplicaColumn, cls: CompareClass): string {
    const c = quoteIdent(column.name);
    if (cls !== 'date') return c;
    // ISO text orders like dates only for 4-digit AD years (and ±infinity);
    // any other stored date makes the whole local run fall back upstream.
    return `(CASE WHEN ${c} IS NULL OR length(${c}) = 10 OR ${c} IN ('infinity', '-infinity') THEN ${c} ELSE ${NOT_LOCAL_FUNCTION}('date outside years 1-9999 AD') END)`;
  }

  /** Bind a constant compared with a column of class `cls`, as Postgres would coerce it. */
  private coerceConst(c: Const, column: ReplicaColumn, cls: CompareClass, allowNull: boolean): string {
    const mismatch = (): NotLocal =>
      new NotLocal(`comparison of ${column.typeName} with ${constDescription(c)}`);
    if (c.t === 'null') {
      // `= NULL` depends on transform_null_equals; IS DISTINCT FROM NULL does not.
      if (!allowNull) throw unsupported('comparison with NULL');
      return 'NULL';
    }
    switch (cls) {
      case 'int': {
        if (c.t === 'int') return this.param(c.v);
        if (c.t === 'string') {
          // An unknown literal is read by the column type's input function.
          const v = int64Text(c.v);
          const range = INT_RANGES[column.typeOid];
          if (v === undefined || !range || v < range[0] || v > range[1]) throw mismatch();
          return this.param(v);
        }
        throw mismatch();
      }
      case 'bool':
        if (c.t === 'bool') return c.v ? '1' : '0';
        throw mismatch();
      case 'text':
        if (c.t === 'string') return this.param(c.v);
        throw mismatch();
      case 'date':
        if (c.t === 'string' && isPlainDate(c.v)) return this.param(c.v);
        throw mismatch();
      case 'float8': {
        if (c.t === 'int') {
          if (c.v > FLOAT_EXACT_INT || c.v < -FLOAT_EXACT_INT) throw mismatch();
          return this.param(Number(c.v));
        }
        if (c.t === 'numeric') {
          const n = Number(c.text);
          // Overflow and underflow are errors in Postgres's float8in.
          if (!Number.isFinite(n) || n === 0 || Math.abs(n) < 2.2250738585072014e-308) throw mismatch();
          return this.param(n);
        }
        throw mismatch();
      }
    }
  }

  // ---- ORDER BY -------------------------------------------------------------

  private orderBy(items: Node[]): string[] {
    return items.map((item) => {
      const [kind, body] = nodeKind(item);
      if (kind !== 'SortBy') throw unsupported(kind);
      const s = body as SortBy;
      if (s.sortby_dir === 'SORTBY_USING' || (s.useOp && s.useOp.length > 0))
        throw unsupported('ORDER BY USING');
      if (!s.node) throw unsupported('empty ORDER BY item');
      const column = this.sortColumn(s.node);
      const cls = this.sortClass(column);
      const desc = s.sortby_dir === 'SORTBY_DESC';
      const nullsFirst =
        s.sortby_nulls === 'SORTBY_NULLS_FIRST'
          ? true
          : s.sortby_nulls === 'SORTBY_NULLS_LAST'
            ? false
            : desc;
      return `${this.comparable(column, cls)} ${desc ? 'DESC' : 'ASC'} NULLS ${nullsFirst ? 'FIRST' : 'LAST'}`;
    });
  }

  private sortClass(column: ReplicaColumn): CompareClass {
    // Sorting uses the same type rules as comparing.
    return compareClass(column, this.ctx);
  }

  /**
   * Postgres resolves an ORDER BY item that is a bare name against the output
   * column names first (SQL-92 rule), then against input columns; an integer
   * constant is an output position.
   */
  private sortColumn(node: Node): ReplicaColumn {
    const [kind, body] = nodeKind(node);
    if (kind === 'A_Const') {
      const c = this.constant(body as A_Const);
      if (c.t !== 'int') throw unsupported('non-integer constant in ORDER BY');
      const output =
        c.v >= 1n && c.v <= BigInt(this.outputs.length) ? this.outputs[Number(c.v) - 1] : undefined;
      if (!output) throw new NotLocal(`ORDER BY position ${c.v} is not in select list`);
      return output.column;
    }
    if (kind === 'ColumnRef') {
      const fields = (body as ColumnRef).fields ?? [];
      const only = fields.length === 1 ? fields[0] : undefined;
      if (only && 'String' in only) {
        const name = only.String.sval ?? '';
        const matches = this.outputs.filter((o) => o.name === name);
        const first = matches[0];
        if (first) {
          if (matches.some((m) => m.column !== first.column))
            throw new NotLocal(`ORDER BY "${name}" is ambiguous`);
          return first.column;
        }
      }
      const column = this.columnRef(body as ColumnRef);
      if (column === 'star') throw unsupported('ORDER BY *');
      return column;
    }
    throw unsupported(`${describeNode(kind, body)} in ORDER BY`);
  }

  // ---- LIMIT / OFFSET -------------------------------------------------------

  /** Integer constant ≥ 0, or undefined for ALL / NULL (no limit, offset 0). */
  private limitValue(node: Node, clause: string): bigint | undefined {
    const [kind, body] = nodeKind(node);
    if (kind !== 'A_Const') throw unsupported(`${describeNode(kind, body)} in ${clause}`);
    const c = this.constant(body as A_Const);
    if (c.t === 'null') return undefined;
    if (c.t !== 'int') throw unsupported(`non-integer ${clause}`);
    if (c.v < 0n) throw new NotLocal(`negative ${clause}`);
    return c.v;
  }
}

function constDescription(c: Const): string {
  switch (c.t) {
    case 'int':
      return 'integer constant';
    case 'numeric':
      return 'numeric constant';
    case 'string':
      return 'string constant';
    case 'bool':
      return 'boolean constant';
    case 'null':
      return 'NULL';
  }
}
