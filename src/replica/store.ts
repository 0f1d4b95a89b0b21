/**
 * The replica file: meta, catalog and one data table per upstream table (layout
 * in docs/architecture.md, "The replica file"). Owns the two SQLite
 * connections: `db` (read-write, used only by the snapshot and the applier) and
 * `reader` (read-only, for the local read path).
 */
import { closeSync, openSync } from 'node:fs';
import Database from 'better-sqlite3';
import { formatLsn, type Lsn, parseLsn, ZERO_LSN } from '../replication/lsn.js';
import { quoteIdent, type ReplicaColumn, type ReplicaTable } from './schema.js';
import { affinityFor } from './type-storage.js';

export type MetaKey =
  | 'slot'
  | 'publication'
  | 'applied_lsn'
  | 'snapshot_state'
  | 'system_identifier'
  | 'database'
  // Anything else a later feature needs; keep names snake_case.
  | (string & {});

interface CatalogRow {
  oid: number;
  schema: string;
  name: string;
  sqlite_name: string;
  columns: string;
}

export class ReplicaStore {
  /** Read-write connection; only the snapshot copy and the applier write. */
  readonly db: Database.Database;
  /** Read-only connection to the same file, for the read path. */
  readonly reader: Database.Database;
  /** Bumps on every catalog change (table created, replaced, dropped). */
  catalogVersion = 0;

  private cache: Map<string, ReplicaTable> | undefined;
  private byOid: Map<number, ReplicaTable> | undefined;
  private readonly getMetaStmt: Database.Statement<[string], { value: string }>;
  private readonly setMetaStmt: Database.Statement<[string, string]>;

  private constructor(readonly path: string) {
    this.db = new Database(path);
    // WAL: the reader sees the last committed transaction while the applier
    // writes. synchronous=NORMAL may lose the last transactions on power loss,
    // which is fine: upstream resends everything after the confirmed LSN, and
    // we confirm only what is committed here.
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS _outpost_meta (key TEXT PRIMARY KEY, value TEXT);
      CREATE TABLE IF NOT EXISTS _outpost_tables (
        oid INTEGER PRIMARY KEY, schema TEXT NOT NULL, name TEXT NOT NULL,
        sqlite_name TEXT NOT NULL, columns TEXT NOT NULL
      );
    `);
    this.reader = new Database(path, { readonly: true, fileMustExist: true });
    this.getMetaStmt = this.db.prepare('SELECT value FROM _outpost_meta WHERE key = ?');
    this.setMetaStmt = this.db.prepare(
      'INSERT INTO _outpost_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    );
  }

  /** Opens (creating with mode 0600 if missing) the replica file at `path`. */
  static open(path: string): ReplicaStore {
    // Create the file ourselves so it never exists with a umask-wide mode: it
    // holds a copy of the upstream data.
    closeSync(openSync(path, 'a', 0o600));
    return new ReplicaStore(path);
  }

  getMeta(key: MetaKey): string | undefined {
    return this.getMetaStmt.get(key)?.value;
  }

  setMeta(key: MetaKey, value: string): void {
    this.setMetaStmt.run(key, value);
  }

  deleteMeta(key: MetaKey): void {
    this.db.prepare('DELETE FROM _outpost_meta WHERE key = ?').run(key);
  }

  appliedLsn(): Lsn {
    const v = this.getMeta('applied_lsn');
    return v === undefined ? ZERO_LSN : parseLsn(v);
  }

  setAppliedLsn(lsn: Lsn): void {
    this.setMeta('applied_lsn', formatLsn(lsn));
  }

  snapshotComplete(): boolean {
    return this.getMeta('snapshot_state') === 'complete';
  }

  tables(): ReplicaTable[] {
    return [...this.load().values()];
  }

  findTable(schema: string, name: string): ReplicaTable | undefined {
    return this.load().get(catalogKey(schema, name));
  }

  tableByOid(oid: number): ReplicaTable | undefined {
    this.load();
    return this.byOid?.get(oid);
  }

  /**
   * Creates (dropping any previous one) the data table for `table` and records
   * it in the catalog. Columns get the affinity of the storage table; the key
   * columns get a plain (non-unique) index so updates and deletes find their
   * row quickly. Not UNIQUE: a DEFERRABLE upstream key may be violated
   * mid-transaction (`UPDATE t SET id = id + 1`) and upstream already
   * guarantees uniqueness at commit.
   */
  createDataTable(table: ReplicaTable): void {
    const q = quoteIdent(table.sqliteName);
    this.db.exec(`DROP TABLE IF EXISTS ${q}`);
    this.db.exec(`CREATE TABLE ${q} (${table.columns.map(columnDef).join(', ')})`);
    const keyCols = keyColumns(table);
    if (keyCols.length > 0) {
      this.db.exec(
        `CREATE INDEX ${quoteIdent(`${table.sqliteName}__outpost_key`)} ON ${q} (${keyCols
          .map((c) => quoteIdent(c.name))
          .join(', ')})`,
      );
    }
    this.putCatalog(table);
  }

  /**
   * Replaces the data table of `oldTable` by one shaped like `newTable`,
   * keeping the values of the columns whose name and type did not change.
   * Returns the names of columns whose values could not be kept.
   */
  rebuildDataTable(oldTable: ReplicaTable, newTable: ReplicaTable): string[] {
    const tmp = `${newTable.sqliteName}__outpost_old`;
    this.db.exec(`DROP TABLE IF EXISTS ${quoteIdent(tmp)}`);
    this.db.exec(`ALTER TABLE ${quoteIdent(oldTable.sqliteName)} RENAME TO ${quoteIdent(tmp)}`);
    this.db.exec(`DROP INDEX IF EXISTS ${quoteIdent(`${oldTable.sqliteName}__outpost_key`)}`);
    if (oldTable.oid !== newTable.oid) this.dropCatalog(oldTable.oid);
    this.createDataTable(newTable);
    const kept = newTable.columns.filter((c) =>
      oldTable.columns.some((o) => o.name === c.name && o.typeOid === c.typeOid),
    );
    if (kept.length > 0) {
      const cols = kept.map((c) => quoteIdent(c.name)).join(', ');
      this.db.exec(
        `INSERT INTO ${quoteIdent(newTable.sqliteName)} (${cols}) SELECT ${cols} FROM ${quoteIdent(tmp)}`,
      );
    } else if (newTable.columns[0]) {
      // Keep the rows even when no column survives (every value unknown).
      this.db.exec(
        `INSERT INTO ${quoteIdent(newTable.sqliteName)} (${quoteIdent(newTable.columns[0].name)}) SELECT NULL FROM ${quoteIdent(tmp)}`,
      );
    }
    this.db.exec(`DROP TABLE ${quoteIdent(tmp)}`);
    return newTable.columns.filter((c) => !kept.includes(c)).map((c) => c.name);
  }

  /** Updates the catalog entry only (the data table's shape is unchanged). */
  putCatalog(table: ReplicaTable): void {
    this.db
      .prepare(
        `INSERT INTO _outpost_tables (oid, schema, name, sqlite_name, columns) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (oid) DO UPDATE SET schema = excluded.schema, name = excluded.name,
           sqlite_name = excluded.sqlite_name, columns = excluded.columns`,
      )
      .run(table.oid, table.schema, table.name, table.sqliteName, JSON.stringify(table.columns));
    this.invalidate();
  }

  dropTable(oid: number): void {
    const t = this.tableByOid(oid);
    if (t) this.db.exec(`DROP TABLE IF EXISTS ${quoteIdent(t.sqliteName)}`);
    this.dropCatalog(oid);
  }

  /** Drops every data table and catalog entry (before a new snapshot). */
  clearData(): void {
    const tx = this.db.transaction(() => {
      for (const t of this.tables()) this.db.exec(`DROP TABLE IF EXISTS ${quoteIdent(t.sqliteName)}`);
      this.db.exec('DELETE FROM _outpost_tables');
      this.invalidate();
    });
    tx();
  }

  close(): void {
    this.reader.close();
    this.db.close();
  }

  /** Call after a rolled-back transaction that touched the catalog. */
  invalidate(): void {
    this.cache = undefined;
    this.byOid = undefined;
    this.catalogVersion++;
  }

  private dropCatalog(oid: number): void {
    this.db.prepare('DELETE FROM _outpost_tables WHERE oid = ?').run(oid);
    this.invalidate();
  }

  private load(): Map<string, ReplicaTable> {
    if (this.cache) return this.cache;
    const rows = this.db
      .prepare('SELECT oid, schema, name, sqlite_name, columns FROM _outpost_tables ORDER BY schema, name')
      .all() as CatalogRow[];
    const cache = new Map<string, ReplicaTable>();
    const byOid = new Map<number, ReplicaTable>();
    for (const r of rows) {
      const t: ReplicaTable = {
        oid: Number(r.oid),
        schema: r.schema,
        name: r.name,
        sqliteName: r.sqlite_name,
        columns: JSON.parse(r.columns) as ReplicaColumn[],
      };
      cache.set(catalogKey(t.schema, t.name), t);
      byOid.set(t.oid, t);
    }
    this.cache = cache;
    this.byOid = byOid;
    return cache;
  }
}

function catalogKey(schema: string, name: string): string {
  return `${schema}\u0000${name}`;
}

function columnDef(c: ReplicaColumn): string {
  return `${quoteIdent(c.name)} ${affinityFor(c.typeOid)}`;
}

/** Key columns (replica identity / primary key) in key order. */
export function keyColumns(table: ReplicaTable): ReplicaColumn[] {
  return table.columns
    .filter((c) => c.keyPosition !== null)
    .sort((a, b) => (a.keyPosition ?? 0) - (b.keyPosition ?? 0));
}
