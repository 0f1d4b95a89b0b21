/**
 * What the replica knows about each replicated upstream table. Shared by the
 * applier (which writes rows), the router (which resolves names) and the
 * local executor (which renders RowDescription exactly as Postgres would).
 */
export interface ReplicaColumn {
  /** Column name as in Postgres (case preserved). The SQLite column is `sqliteColumnName()`. */
  name: string;
  /** pg_attribute.attnum, reported in RowDescription for direct column references. */
  attnum: number;
  /** pg_type OID of the column's type (for a domain: the domain's OID, as Postgres reports it). */
  typeOid: number;
  /** atttypmod, -1 when none. */
  typmod: number;
  /** pg_type.typlen (-1 varlena, -2 cstring), reported in RowDescription. */
  typlen: number;
  /** Type name, e.g. `int4`, `timestamptz`, for messages. */
  typeName: string;
  /** Position (1-based) of the column in the primary key (or the REPLICA IDENTITY USING INDEX index), or null. */
  keyPosition: number | null;
  /**
   * Part of the table's primary key (pg_index.indisprimary; not a replica
   * identity index): GROUP BY the whole key may select the table's other
   * columns (Postgres's functional dependency). Absent in catalogs written
   * before it was recorded: no dependency is assumed then.
   */
  primaryKey?: boolean;
  /**
   * Collation of a collatable column (pg_collation.collname of attcollation,
   * schema-qualified when not in pg_catalog:
   * `default` for the database default, `C`, `POSIX`, `en_US`, ...). Absent
   * means unknown: the router then never compares or sorts the column locally.
   */
  collation?: string;
  /**
   * For a column of an enum type (pg_type.typtype 'e'; not a domain over one,
   * not an array of one): its labels in enumsortorder order, i.e. the order
   * Postgres sorts and compares the values in. Absent for other types, and in
   * replicas written before it existed: the read path then never serves the
   * column.
   */
  enumLabels?: string[];
}

export interface ReplicaTable {
  /** pg_class OID upstream; reported in RowDescription. */
  oid: number;
  schema: string;
  name: string;
  /** Name of the SQLite table holding the rows: `sqliteTableName(oid)` (quote with `quoteIdent`). */
  sqliteName: string;
  /** Columns in attnum order (dropped columns omitted). */
  columns: ReplicaColumn[];
  /**
   * Upstream storage of the rows when they were copied (pg_class.relfilenode,
   * of every leaf partition for a partitioned table). DDL that rewrites a
   * table (ALTER COLUMN TYPE ... USING, a volatile DEFAULT) changes it, so a
   * difference means the replica's rows may be stale. Replication only.
   */
  storage?: string;
  /**
   * Why the read path must never use this table although it is replicated
   * (e.g. it has generated columns, which pgoutput does not send). The store
   * leaves such tables out of `findTable()` and `tables()`.
   */
  unservable?: string;
  /** pg_class.relkind: 'r' a table, 'p' a partitioned table (its copy holds every partition's rows), 'm' a materialized view. */
  relkind?: string;
  /**
   * OIDs of the tables inheriting directly from this one (pg_inherits, sorted;
   * empty for a partitioned table, whose partitions' rows are in its copy).
   * A plain reference to the table reads their rows too, which its copy does
   * not hold, so the read path serves it only when this is empty (or under
   * ONLY). Absent means unknown (a replica written before it was recorded):
   * never served then.
   */
  inheritors?: number[];
  /**
   * SQLite column names of upstream's plain btree indexes besides the key, built in
   * SQLite with the key index after a copy (read path speed only; not kept
   * in the replica's catalog, and never compared).
   */
  indexes?: string[][];
}

/** SQLite/Postgres identifier quoting: wrap in double quotes, double any inside. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Layout of the data tables (docs/architecture.md, "The replica file"). A
 * file of another layout is never read: it is copied again from upstream.
 * 2: tables `t<oid>`, columns `a<attnum>`; 1 (no `format` key): tables
 * `"schema.name"` with the upstream column names.
 */
export const REPLICA_FORMAT = 2;

/**
 * SQLite table of an upstream table. From the OID, never from the names:
 * Postgres names are case-sensitive and may hold dots and quotes, SQLite
 * matches names case-insensitively, so `"MixedCase"` and `mixedcase` (or
 * `"a.b".c` and `a."b.c"`) would share a table. OIDs are unique upstream.
 * (The compiler's generated names are `t<n>` aliases, which never name a
 * table, and `w<n>` for WITH queries, which do: never `t` + digits.)
 */
export function sqliteTableName(oid: number): string {
  return `t${oid}`;
}

/**
 * SQLite column of an upstream column: from attnum, unique in its table
 * (`"A"` and `a` are two columns upstream, one name to SQLite). Not `c<n>`,
 * the compiler's names of subquery outputs, so an unqualified output name
 * can never resolve to a table column.
 */
export function sqliteColumnName(c: { attnum: number }): string {
  return `a${c.attnum}`;
}
