/** Constructors of compiled expressions and small SQL helpers shared by the construct families. */
import { NotLocal } from '../../errors.js';
import type { ReplicaColumn, ReplicaTable } from '../../replica/schema.js';
import { isIntType, Oid, TYPES } from '../pgtypes.js';
import { typeLen, typeName } from './support.js';
import type { Expr, RelColumn, UnknownSrc } from './types.js';

export function isTextType(t: number): boolean {
  return t === Oid.text || t === Oid.varchar || t === Oid.bpchar;
}

/** A bare table column's Postgres name, else `expression`. */
export function colName(e: Expr): string {
  return e.columnName !== undefined && /^\w+\.a\d+$/.test(e.sql) ? e.columnName : 'expression';
}

export function unknownExpr(sql: string, unknown: UnknownSrc): Expr {
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

export function constExpr(sql: string, type: number): Expr {
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
export function derived(sql: string, type: number, typmod: number, kids: Expr[]): Expr {
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

export function aggExpr(sql: string, type: number): Expr {
  return { ...derived(sql, type, -1, []), constant: false, agg: true };
}

export function retype(e: Expr, type: number): Expr {
  const { enumLabels: _, ...rest } = e;
  return { ...rest, type, typlen: typeLen(type), typeName: typeName(type), kids: [e], localColumn: false };
}

export function tableColumn(table: ReplicaTable, column: ReplicaColumn, sql: string): Expr {
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
export function columnOf(out: Expr, sql: string): Expr {
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
  if (out.pathKey !== undefined) e.pathKey = out.pathKey;
  return e;
}

/** A reference to a column of an enclosing query: constant for this level. */
export function outerRef(e: Expr): Expr {
  return { ...e, localColumn: false, constant: false, kids: [] };
}

export function hasLocalVars(e: Expr): boolean {
  return e.localColumn === true || e.kids.some(hasLocalVars);
}

/** Postgres's check_ungrouped_columns: every local column outside aggregates must be grouped. */
export function checkGrouped(e: Expr, keys: Set<string>): void {
  if (keys.has(e.sql)) return;
  if (e.localColumn)
    throw new NotLocal(`column ${colName(e)} must appear in GROUP BY or be used in an aggregate`);
  for (const k of e.kids) checkGrouped(k, keys);
}

export function limitSql(limit: string | undefined, offset: string | undefined): string {
  if (limit === undefined && offset === undefined) return '';
  // SQLite: a negative LIMIT means none; OFFSET needs a LIMIT clause.
  return ` LIMIT ${limit ?? '-1'}${offset !== undefined ? ` OFFSET ${offset}` : ''}`;
}

/** The text output of a value (its type's output function, or the cast to text). */
export function textForm(e: Expr): string {
  if (isIntType(e.type)) return `CAST(${e.sql} AS TEXT)`;
  if (
    e.type === Oid.text ||
    e.type === Oid.varchar ||
    e.type === Oid.numeric ||
    e.type === Oid.uuid ||
    e.type === Oid.json ||
    e.type === Oid.jsonb
  )
    return e.sql;
  if (e.type === Oid.bool) return `(CASE ${e.sql} WHEN 1 THEN 'true' WHEN 0 THEN 'false' END)`;
  throw new NotLocal(`text form of ${e.typeName}`);
}

/** The element of `list` named `name`, exactly once. */
export function uniqueColumn(list: RelColumn[], name: string, side: string): RelColumn {
  const m = list.filter((c) => c.name === name);
  if (m.length !== 1)
    throw new NotLocal(`USING column "${name}" ${m.length === 0 ? 'not found' : 'ambiguous'} on the ${side}`);
  return m[0] as RelColumn;
}
