/**
 * The replica file: meta, catalog and one data table per upstream table (layout
 * in docs/architecture.md, "The replica file"). Owns the two SQLite
 * connections: `db` (read-write, used only by the snapshot and the applier) and
 * `reader` (read-only, for the local read path).
 */
import { closeSync, openSync } from 'node:fs';
import Database from 'better-sqlite3';
import { StartupError } from '../errors.js';
import type { Logger } from '../log.js';
import { formatLsn, type Lsn, parseLsn, ZERO_LSN } from '../replication/lsn.js';
import { Checkpointer } from './checkpointer.js';
import {
  quoteIdent,
  REPLICA_FORMAT,
  type ReplicaColumn,
  type ReplicaTable,
  sqliteColumnName,
} from './schema.js';
import { affinityFor } from './type-storage.js';

export type MetaKey =
  | 'slot'
  | 'publication'
  | 'applied_lsn'
  | 'snapshot_state'
  | 'system_identifier'
  | 'database'
  /** JSON array of table OIDs whose rows may be stale until resynchronised. */
  | 'stale_tables'
  /** JSON object: table OID → LSN; the stream skips that table's changes in transactions committed before it. */
  | 'resync_skip'
  /** Layout of the data tables (`REPLICA_FORMAT`); absent in files of layout 1. */
  | 'format'
  // Anything else a later feature needs; keep names snake_case.
  | (string & {});

interface CatalogRow {
  oid: number;
  schema: string;
  name: string;
  sqlite_name: string;
  columns: string;
  storage: string | null;
  unservable: string | null;
  relkind: string | null;
  inheritors: string | null;
}

/** Prefix of the tables a resynchronisation copies into before swapping them in. */
export const STAGING_PREFIX = '_outpost_resync_';

export class ReplicaStore {
  /** Read-write connection; only the snapshot copy and the applier write. */
  readonly db: Database.Database;
  /** Read-only connection to the same file, for the read path. */
  readonly reader: Database.Database;
  /** Bumps on every catalog change (table created, replaced, dropped, hidden, shown). */
  catalogVersion = 0;

  private cache: Map<string, ReplicaTable> | undefined;
  private byOid: Map<number, ReplicaTable> | undefined;
  /**
   * Tables whose rows may not match upstream (a schema change not yet
   * resynchronised), hidden from the read path. Mirrors the `stale_tables`
   * meta key; `reloadStale()` after a rollback.
   */
  private readonly stale = new Set<number>();
  /**
   * The layout this file had when opened, when it was an older one whose
   * data tables are never read (the engine takes a fresh snapshot).
   */
  readonly formatReplaced: number | undefined;
  private checkpointer: Checkpointer | undefined;
  private readonly getMetaStmt: Database.Statement<[string], { value: string }>;
  private readonly addChangesStmt: Database.Statement<[string, number]>;
  private readonly setMetaStmt: Database.Statement<[string, string]>;

  private constructor(readonly path: string) {
    this.db = new Database(path);
    // WAL: the reader sees the last committed transaction while the applier
    // writes. synchronous=FULL by default: a commit is on disk (the WAL
    // fsynced) before it returns. The connection applying the stream relaxes
    // this (`relaxSync`): an Outpost with a slot then confirms upstream only
    // what a WalSync has fsynced since (upstream discards WAL it confirmed),
    // a NATS edge confirms nothing upstream at all.
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    // Applying changes touches pages all over a large table: a bigger page
    // cache (up to 64 MiB, allocated as pages are used; default 2 MiB)
    // saves re-reading them, and fewer, larger checkpoints (every 20000
    // pages = 80 MiB of WAL, default 1000) write a page changed by several
    // transactions once. Measured on single-row updates of random rows of a
    // 1M-row table: about 15% less CPU than 32 MiB and 10000 pages; 128 MiB
    // was no better than 64. (A longer WAL makes every page lookup of the
    // readers probe more WAL-index segments. mmap_size: no measurable gain,
    // since the changed pages are read from the WAL, which is never mapped.)
    this.db.pragma('cache_size = -65536');
    // The connection applying the stream checkpoints in another thread instead
    // (checkpointInBackground); this is for the file's other writers.
    this.db.pragma('wal_autocheckpoint = 20000');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS _outpost_meta (key TEXT PRIMARY KEY, value TEXT);
      CREATE TABLE IF NOT EXISTS _outpost_changes (name TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS _outpost_tables (
        oid INTEGER PRIMARY KEY, schema TEXT NOT NULL, name TEXT NOT NULL,
        sqlite_name TEXT NOT NULL, columns TEXT NOT NULL, storage TEXT, unservable TEXT,
        relkind TEXT, inheritors TEXT
      );
    `);
    // Files made before these columns existed.
    const have = new Set(
      this.db.prepare(`SELECT name FROM pragma_table_info('_outpost_tables')`).pluck().all() as string[],
    );
    for (const col of ['storage', 'unservable', 'relkind', 'inheritors']) {
      if (!have.has(col)) this.db.exec(`ALTER TABLE _outpost_tables ADD COLUMN ${col} TEXT`);
    }
    this.reader = new Database(path, { readonly: true, fileMustExist: true });
    this.getMetaStmt = this.db.prepare('SELECT value FROM _outpost_meta WHERE key = ?');
    this.addChangesStmt = this.db.prepare(
      'INSERT INTO _outpost_changes (name, n) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET n = n + excluded.n',
    );
    this.setMetaStmt = this.db.prepare(
      'INSERT INTO _outpost_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    );
    try {
      this.formatReplaced = this.db.transaction(() => this.checkFormat()).immediate();
    } catch (err) {
      this.reader.close();
      this.db.close();
      throw err;
    }
    this.reloadStale();
    this.dropStaging();
  }

  /**
   * A file of an older layout (names from the upstream names, which could
   * collide) is never read: marked incomplete, so the read path forwards
   * and the engine takes a fresh snapshot, which drops the old tables by
   * their catalog names. A newer layout is refused, never overwritten.
   */
  private checkFormat(): number | undefined {
    const stored = this.getMeta('format');
    if (stored === String(REPLICA_FORMAT)) return undefined;
    const old = stored === undefined ? 1 : Number(stored);
    if (!(old < REPLICA_FORMAT)) {
      throw new StartupError(
        `replica file ${this.path} has layout ${stored}, newer than this Outpost reads (${REPLICA_FORMAT}): use a newer Outpost or a new replica file`,
      );
    }
    const used =
      this.getMeta('snapshot_state') !== undefined ||
      this.db.prepare('SELECT count(*) FROM _outpost_tables').pluck().get() !== 0;
    if (used) this.setMeta('snapshot_state', 'copying');
    this.setMeta('format', String(REPLICA_FORMAT));
    return used ? old : undefined;
  }

  /** Opens (creating with mode 0600 if missing) the replica file at `path`. */
  private snapshotDone: true | undefined;

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
    if (key === 'snapshot_state') this.snapshotDone = undefined;
    this.setMetaStmt.run(key, value);
  }

  deleteMeta(key: MetaKey): void {
    if (key === 'snapshot_state') this.snapshotDone = undefined;
    this.db.prepare('DELETE FROM _outpost_meta WHERE key = ?').run(key);
  }

  /**
   * synchronous=NORMAL on this connection: a commit returns without an fsync
   * (it survives a crash of the process, not of the machine; the file stays
   * consistent either way). For writers that do not acknowledge a position
   * upstream on the strength of the commit alone: a NATS edge (its consumer
   * restarts from the stored sequence, so a commit lost to a power cut is
   * just read again), and an Outpost holding a slot, the hub included, which
   * confirms upstream only what a WalSync fsync has covered (wal-sync.ts).
   * The fsync then happens off the event loop instead of inside every
   * COMMIT: measured on a loaded 2-core machine, COMMIT with FULL took 30-60%
   * of the hub's wall time (up to 140 ms each), delaying every publish behind it.
   */
  relaxSync(): void {
    this.db.pragma('synchronous = NORMAL');
  }

  appliedLsn(): Lsn {
    const v = this.getMeta('applied_lsn');
    return v === undefined ? ZERO_LSN : parseLsn(v);
  }

  /**
   * Adds to the count of rows changed in each data table (by SQLite name),
   * in the caller's transaction. Kept for the inline bounds
   * (src/router/inline-bounds.ts): a table's size and its largest group
   * grow by at most one per row inserted or updated, so figures computed at
   * one count stay an upper bound at a later one. Every writer of rows that
   * is not a schema change (which the bounds see by itself) counts here.
   */
  addChanges(changes: ReadonlyMap<string, number>): void {
    for (const [name, n] of changes) this.addChangesStmt.run(name, n);
  }

  setAppliedLsn(lsn: Lsn): void {
    this.setMeta('applied_lsn', formatLsn(lsn));
  }

  /** Asked for every statement by the router: remembered once true, until snapshot_state is written again. */
  snapshotComplete(): boolean {
    if (this.snapshotDone) return true;
    const done = this.getMeta('snapshot_state') === 'complete';
    if (done) this.snapshotDone = true;
    return done;
  }

  /** Tables the read path may use: replicated, consistent with upstream, servable. */
  tables(): ReplicaTable[] {
    return [...this.load().values()].filter((t) => this.servable(t));
  }

  /** What the read path may use; undefined for a stale or unservable table (forwarded as not in replica). */
  findTable(schema: string, name: string): ReplicaTable | undefined {
    const t = this.load().get(catalogKey(schema, name));
    return t && this.servable(t) ? t : undefined;
  }

  /** Every table in the catalog, stale and unservable ones included (replication only). */
  allTables(): ReplicaTable[] {
    return [...this.load().values()];
  }

  /** Catalog entry by upstream OID, whether servable or not (replication only). */
  tableByOid(oid: number): ReplicaTable | undefined {
    this.load();
    return this.byOid?.get(oid);
  }

  isStale(oid: number): boolean {
    return this.stale.has(oid);
  }

  /**
   * Re-reads the stale set from the file: after a rolled-back transaction
   * the tables it marked are back to their state before it (and the replayed
   * transaction marks them again).
   */
  reloadStale(): void {
    this.stale.clear();
    for (const oid of JSON.parse(this.getMeta('stale_tables') ?? '[]') as number[]) this.stale.add(oid);
    this.catalogVersion++;
  }

  /**
   * For a read path whose writer (the replication engine) runs in another
   * thread with its own connection (engine-thread.ts): adopt the writer's
   * set of hidden tables, which may include marks not committed yet, and
   * re-read the catalog and the snapshot state from the file.
   */
  syncFromWriter(stale: readonly number[]): void {
    this.stale.clear();
    for (const oid of stale) this.stale.add(oid);
    this.snapshotDone = undefined;
    this.invalidate();
  }

  hasStale(): boolean {
    return this.stale.size > 0;
  }

  staleOids(): number[] {
    return [...this.stale];
  }

  /**
   * Hides a table from the read path until `replaceTables` brings it back in
   * line with upstream. Recorded in the current SQLite transaction if there
   * is one, so it is durable exactly when the changes it skips are.
   */
  markStale(oid: number): void {
    if (this.stale.has(oid)) return;
    this.stale.add(oid);
    this.writeStale();
    this.catalogVersion++;
  }

  /**
   * Swaps resynchronised tables in, in the caller's SQLite transaction: drops
   * the data tables and catalog entries of `oids` (dropping first frees the
   * name of an OID reused upstream), renames each staging table to its data table name, indexes
   * it and records its catalog entry; `oids` stop being stale.
   */
  replaceTables(oids: Iterable<number>, fresh: Array<{ table: ReplicaTable; staging: string }>): void {
    if (!this.db.inTransaction) throw new Error('replaceTables needs a transaction');
    const drop = this.db.prepare('DELETE FROM _outpost_tables WHERE oid = ?');
    const targets = [...oids];
    const others = this.allTables().filter((t) => !targets.includes(t.oid));
    for (const oid of targets) {
      const old = this.tableByOid(oid);
      if (old) this.db.exec(`DROP TABLE IF EXISTS ${quoteIdent(old.sqliteName)}`);
      drop.run(oid);
    }
    for (const { table, staging } of fresh) {
      // Names come from OIDs, unique upstream at the snapshot, so only a bug
      // could make a table that is not replaced hold this name: refuse, never drop it.
      if (others.some((t) => t.sqliteName === table.sqliteName)) {
        throw new Error(`resync: ${table.sqliteName} is still the name of another replicated table`);
      }
      this.db.exec(`DROP TABLE IF EXISTS ${quoteIdent(table.sqliteName)}`);
      this.db.exec(`ALTER TABLE ${quoteIdent(staging)} RENAME TO ${quoteIdent(table.sqliteName)}`);
      this.createKeyIndex(table);
      this.putCatalog(table);
    }
    for (const oid of targets) this.stale.delete(oid);
    this.writeStale();
    this.invalidate();
  }

  /**
   * Creates (dropping any previous one) the data table for `table` and records
   * it in the catalog. Columns get the affinity of the storage table; the key
   * columns get a plain (non-unique) index so updates and deletes find their
   * row quickly. Not UNIQUE: a DEFERRABLE upstream key may be violated
   * mid-transaction (`UPDATE t SET id = id + 1`) and upstream already
   * guarantees uniqueness at commit.
   */
  createDataTable(table: ReplicaTable, opts: { index?: boolean } = {}): void {
    this.createShape(table.sqliteName, table);
    if (opts.index !== false) this.createKeyIndex(table);
    this.putCatalog(table);
  }

  /**
   * Creates (dropping any previous one) an empty table named `sqliteName`
   * with the columns of `table`, nothing else: no index, no catalog entry.
   */
  createShape(sqliteName: string, table: ReplicaTable): void {
    const q = quoteIdent(sqliteName);
    this.db.exec(`DROP TABLE IF EXISTS ${q}`);
    // SQLite has no table without columns (Postgres does: CREATE TABLE t ()):
    // such a table gets one that is never read, its rows inserted with DEFAULT VALUES.
    const defs = table.columns.length > 0 ? table.columns.map(columnDef).join(', ') : '_none';
    this.db.exec(`CREATE TABLE ${q} (${defs})`);
  }

  /**
   * The key index of a data table, and upstream's other plain indexes
   * (built after a bulk copy, which is faster than maintaining them).
   */
  createKeyIndex(table: ReplicaTable): void {
    for (const [i, cols] of (table.indexes ?? []).entries()) {
      const name = quoteIdent(`${table.sqliteName}__outpost_i${i}`);
      this.db.exec(`DROP INDEX IF EXISTS ${name}`);
      this.db.exec(
        `CREATE INDEX ${name} ON ${quoteIdent(table.sqliteName)} (${cols.map(quoteIdent).join(', ')})`,
      );
    }
    const keyCols = keyColumns(table);
    if (keyCols.length === 0) return;
    const name = quoteIdent(`${table.sqliteName}__outpost_key`);
    this.db.exec(`DROP INDEX IF EXISTS ${name}`);
    this.db.exec(
      `CREATE INDEX ${name} ON ${quoteIdent(table.sqliteName)} (${keyCols
        .map((c) => quoteIdent(sqliteColumnName(c)))
        .join(', ')})`,
    );
  }

  /** Updates the catalog entry only (the data table's shape is unchanged). */
  putCatalog(table: ReplicaTable): void {
    this.db
      .prepare(
        `INSERT INTO _outpost_tables (oid, schema, name, sqlite_name, columns, storage, unservable, relkind, inheritors)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (oid) DO UPDATE SET schema = excluded.schema, name = excluded.name,
           sqlite_name = excluded.sqlite_name, columns = excluded.columns,
           storage = excluded.storage, unservable = excluded.unservable,
           relkind = excluded.relkind, inheritors = excluded.inheritors`,
      )
      .run(
        table.oid,
        table.schema,
        table.name,
        table.sqliteName,
        JSON.stringify(table.columns),
        table.storage ?? null,
        table.unservable ?? null,
        table.relkind ?? null,
        table.inheritors !== undefined ? JSON.stringify(table.inheritors) : null,
      );
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
      for (const t of this.allTables()) this.db.exec(`DROP TABLE IF EXISTS ${quoteIdent(t.sqliteName)}`);
      this.db.exec('DELETE FROM _outpost_tables');
      this.deleteMeta('stale_tables');
      this.deleteMeta('resync_skip');
      this.stale.clear();
      this.invalidate();
    });
    tx();
    this.dropStaging();
  }

  /** Leftovers of a resynchronisation interrupted before its swap. */
  dropStaging(): void {
    const names = this.db
      .prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND substr(name, 1, ?) = ?`)
      .pluck()
      .all(STAGING_PREFIX.length, STAGING_PREFIX) as string[];
    for (const n of names) this.db.exec(`DROP TABLE IF EXISTS ${quoteIdent(n)}`);
  }

  close(): void {
    // Its connection first: the writer's close is then the last and folds the WAL in.
    this.checkpointer?.close();
    this.checkpointer = undefined;
    this.reader.close();
    this.db.close();
  }

  /**
   * Checkpoints in a thread of their own instead of inside the COMMIT that
   * crosses the threshold (checkpointer.ts says why). For the connection
   * that applies the stream; the file's other writers (snapshot tools) keep
   * SQLite's automatic checkpoints.
   */
  checkpointInBackground(logger: Logger): Checkpointer {
    if (this.checkpointer) return this.checkpointer;
    this.db.pragma('wal_autocheckpoint = 0');
    this.checkpointer = new Checkpointer(this.path, { logger });
    this.checkpointer.start();
    return this.checkpointer;
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

  private servable(t: ReplicaTable): boolean {
    return t.unservable === undefined && !this.stale.has(t.oid);
  }

  private writeStale(): void {
    if (this.stale.size === 0) this.deleteMeta('stale_tables');
    else this.setMeta('stale_tables', JSON.stringify([...this.stale]));
  }

  private load(): Map<string, ReplicaTable> {
    if (this.cache) return this.cache;
    const rows = this.db
      .prepare(
        `SELECT oid, schema, name, sqlite_name, columns, storage, unservable, relkind, inheritors
           FROM _outpost_tables ORDER BY schema, name`,
      )
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
        ...(r.storage !== null ? { storage: r.storage } : {}),
        ...(r.unservable !== null ? { unservable: r.unservable } : {}),
        ...(r.relkind !== null ? { relkind: r.relkind } : {}),
        ...(r.inheritors !== null ? { inheritors: JSON.parse(r.inheritors) as number[] } : {}),
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
  return `${sqliteColumnName(c)} ${affinityFor(c.typeOid)}`;
}

/** Key columns (replica identity / primary key) in key order. */
export function keyColumns(table: ReplicaTable): ReplicaColumn[] {
  return table.columns
    .filter((c) => c.keyPosition !== null)
    .sort((a, b) => (a.keyPosition ?? 0) - (b.keyPosition ?? 0));
}
