/** Shared shapes of the compiler: the public compile API and the intermediate expression and FROM-item records. */
import type { Node } from 'libpg-query';
import type { InputError } from '../../errors.js';
import type { ReplicaTable } from '../../replica/schema.js';
import type { NamedWindows } from '../named-windows.js';
import type { Stored } from '../pgtypes.js';

/** A function in FROM (libpg-query's RangeFunction). */
export interface RangeFunctionNode {
  functions?: Node[];
  alias?: { aliasname?: string; colnames?: Node[] };
  lateral?: boolean;
  ordinality?: boolean;
  is_rowsfrom?: boolean;
  coldeflist?: Node[];
}

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
  /**
   * Collations (pg_catalog names, or `default`) upstream was seen to order by
   * code point, like SQLite's BINARY (src/upstream-locale.ts). When given it
   * replaces `textCollationIsC`.
   */
  codePointCollations?: ReadonlySet<string>;
  /** Collations whose lower()/upper()/ILIKE fold ASCII letters only; replaces `textCtypeIsC` when given. */
  asciiCtypeCollations?: ReadonlySet<string>;
  /**
   * The default collation's lower()/upper() were learned from upstream (its
   * ctype is not C): they compile to the mapped SQL functions.
   */
  caseMapped?: boolean;
  /**
   * The upstream's server_version_num (0: unknown): input forms whose
   * meaning differs between majors (infinite intervals from 17, '+infinity'
   * dates from 16) are local only on the versions that accept them.
   */
  serverVersionNum?: number;
  /**
   * Upstream's server default lc_numeric and lc_monetary are both C/POSIX
   * (src/upstream-locale.ts): the locale patterns of to_number and money's
   * input and output (src/sql/money.ts) read the C locale's symbols; otherwise
   * neither is computed locally. A session that sets either is forwarded anyway,
   * and the state check then requires C of sessions whose user code changed one.
   */
  numericLocaleC?: boolean;
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
  | { kind: 'zoned'; text: string }
  /** The session TimeZone's offset in seconds east of UTC (a fixed-offset zone; others forward), per run. */
  | { kind: 'tzoffset' }
  /** A date or timestamp constant whose reading depends on DateStyle's field order (`1/8/1999`). */
  | { kind: 'datestyled'; type: number; text: string }
  /**
   * An interval constant with a sign (`'-1 2:00'`): IntervalStyle
   * sql_standard applies a leading sign to every field (DecodeInterval), so
   * `value` (read as under postgres) holds only while the session's
   * IntervalStyle is postgres; checked per run, other styles forward.
   */
  | { kind: 'intervalstyled'; value: Stored };

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
   * Labels of the parameters typed as an enum (undefined for the others):
   * a bound value must be one of them, else Postgres raises 22P02.
   */
  paramEnumLabels?: (readonly string[] | undefined)[];
  /**
   * SQLite expressions (same parameters) over constants and parameters only
   * that may raise an error: Postgres folds them while planning, so it raises
   * the error even where the row-by-row evaluation would not reach them. Run
   * before the statement; they throw NotLocal instead.
   */
  prechecks: string[];
  /** A relation name was resolved through search_path. */
  unqualified: boolean;
  /**
   * The error-capable constant expressions, which Postgres may fold while
   * planning, in the order compiled, inner before outer. `exact`: literals
   * and immutable operations only, computed exactly so (Expr.foldable), so
   * Postgres folds it (eval_const_expressions) and an ExecError is its
   * error; `certain`: and surely folds it (the outermost query, not under
   * CASE, COALESCE, AND/OR, IN, BETWEEN or a subquery, which may prune it).
   * See src/router/plan-errors.ts.
   */
  planChecks?: { sql: string; exact: boolean; certain: boolean }[];
  /**
   * The statement fails while Postgres analyses it: a constant's input
   * function raises this error at the literal (byte offset `location`). The
   * rest of the statement compiled, the constant as NULL, so no other error
   * of the analysis comes first. `sql` is then not to be run.
   */
  inputError?: { error: InputError; location: number };
}

export interface Origin {
  tableOid: number;
  attnum: number;
}

export type UnknownSrc =
  /** `location`: the literal's byte offset in the query string (an input error's position). */
  { kind: 'literal'; text: string; location?: number } | { kind: 'null' } | { kind: 'param'; index: number };

export interface Expr {
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
  /**
   * Literals and, over them, only immutable operations this compiler
   * reproduces exactly (set by the literal cases and by `errorCapable`'s
   * `fold`): Postgres computes it while planning, errors included.
   */
  foldable?: boolean;
  /** Evaluating it (per row) may raise an error in Postgres. */
  errorProne: boolean;
  /** Contains an aggregate of the current query level. */
  agg: boolean;
  /** A window function call of the current query level (not allowed in GROUP BY). */
  window?: boolean;
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
  /**
   * A record or record[] a SEARCH/CYCLE clause added, stored as its key
   * (src/sql/search-cycle-keys.ts): `fields` per record. Only ever an
   * output (printed by the compiler) or an ORDER BY key.
   */
  pathKey?: { fields: number; array: boolean };
}

export interface Out {
  name: string;
  expr: Expr;
}

/** A column visible in a FROM item. */
export interface RelColumn {
  name: string;
  expr: Expr;
}

export interface FromItem {
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
  /** A bare reference to a recursive WITH query whose terms may raise an error. */
  raisingCte?: boolean;
}

export interface CteDef {
  name: string;
  sqlName: string;
  outs: Out[];
  /** A recursive WITH query whose terms may raise an error (see ctes.ts). */
  mayRaise?: boolean;
  /** Told the SQL alias of each reference to the WITH query (SEARCH/CYCLE's recursive term). */
  onRef?: (alias: string) => void;
}

export interface CteScope {
  defs: Map<string, CteDef>;
  parent: CteScope | undefined;
}

export interface Level {
  parent: Level | undefined;
  items: FromItem[];
  ctes: CteScope;
  /** The statement's outermost query: error-raising expressions are allowed here only. */
  top: boolean;
  grouped: boolean;
  hasSublinks: boolean;
  /** The query's WINDOW clause. */
  windows?: NamedWindows;
  /** The statement's own query (not a WITH query's term, not a branch of a set operation). */
  outermost?: boolean;
  /**
   * GROUP BY with grouping sets (grouping-sets.ts): the grouping
   * expressions' SQL and, while one set's branch compiles, that set's.
   */
  groupingSet?: { keys: Set<string>; present?: Set<string> };
}

export type Clause = 'select' | 'where' | 'on' | 'group' | 'having' | 'order' | 'limit' | 'using';

export interface ExprCtx {
  level: Level;
  clause: Clause;
  inAgg: boolean;
}

/** How values of a type compare; undefined when SQLite cannot compare them exactly. */
export type CmpClass =
  | 'int'
  | 'bool'
  | 'float8'
  | 'float4'
  | 'numeric'
  | 'text'
  | 'bpchar'
  | 'date'
  | 'tstz'
  | 'ts'
  | 'time'
  | 'interval'
  | 'uuid'
  | 'bytea'
  | 'bits'
  | 'money'
  | 'enum'
  /** SEARCH/CYCLE keys (Expr.pathKey): compared as stored. */
  | 'pathkey';
