/**
 * Upstream tables the replica file cannot hold as SQLite tables. Such a table
 * is skipped like one without a replica identity: not copied, its stream
 * changes ignored, its queries forwarded (it is unknown to the read path),
 * logged once and listed by `outpost status`. Never a failed snapshot or a
 * stopped replica.
 */
import type { ReplicaTable } from './schema.js';

/** Why `table` cannot be a SQLite table, or undefined when it can. */
export function unrepresentable(table: ReplicaTable): string | undefined {
  // `CREATE TABLE t ()` is valid Postgres, and SQLite needs a column. So
  // does a table of generated columns only (pgoutput does not send them).
  // (Names never clash: SQLite names come from OIDs and attnums, schema.ts.)
  if (table.columns.length === 0) return 'it has no (replicated) columns, and a SQLite table needs one';
  return undefined;
}
