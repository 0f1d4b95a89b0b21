/**
 * Tests read the replica file by upstream names: temporary views
 * `"schema.name"` with the upstream column names over the data tables
 * (`t<oid>`, columns `a<attnum>`; docs/architecture.md, "The replica file"),
 * made from the catalog on the given connection, afresh at every call so
 * they follow resynchronised tables. Two upstream names equal but for case
 * would share a view: only the first gets one (such tests read the data
 * tables by OID).
 */
import type Database from 'better-sqlite3';
import { quoteIdent, sqliteColumnName } from '../../src/replica/schema.js';

export function byPgNames(db: Database.Database): Database.Database {
  const views = db
    .prepare(`SELECT name FROM temp.sqlite_master WHERE type = 'view'`)
    .pluck()
    .all() as string[];
  for (const v of views) db.exec(`DROP VIEW temp.${quoteIdent(v)}`);
  const tables = db
    .prepare('SELECT schema, name, sqlite_name, columns FROM main._outpost_tables ORDER BY oid')
    .all() as { schema: string; name: string; sqlite_name: string; columns: string }[];
  for (const t of tables) {
    const cols = JSON.parse(t.columns) as { name: string; attnum: number }[];
    const list = cols.map((c) => `${sqliteColumnName(c)} AS ${quoteIdent(c.name)}`).join(', ') || 'NULL';
    db.exec(
      `CREATE TEMP VIEW IF NOT EXISTS ${quoteIdent(`${t.schema}.${t.name}`)} AS SELECT ${list} FROM main.${quoteIdent(t.sqlite_name)}`,
    );
  }
  return db;
}
