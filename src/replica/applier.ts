/**
 * Applies decoded pgoutput changes to the SQLite replica. Synchronous (SQLite
 * through better-sqlite3); the engine resolves relations (which may need an
 * upstream catalog lookup) before handing changes here.
 *
 * Whole upstream transactions only: a SQLite transaction holds one or more
 * complete upstream transactions and stores `applied_lsn` (the end LSN of the
 * last), so the replica never holds half a transaction and its position
 * always matches its contents.
 */
import type Database from 'better-sqlite3';
import type { Lsn } from '../replication/lsn.js';
import { type ColumnValue, UNCHANGED_TOAST } from '../replication/pgoutput.js';
import { quoteIdent, type ReplicaTable, sqliteColumnName } from './schema.js';
import type { ReplicaStore } from './store.js';
import { type StoredValue, toStored } from './type-storage.js';

/** A table as the stream currently describes it. */
export interface AppliedRelation {
  table: ReplicaTable;
  /**
   * Column indexes flagged as replica identity in the Relation message
   * (every column for REPLICA IDENTITY FULL).
   */
  identity: number[];
  /** REPLICA IDENTITY FULL: rows are located by every column, NULLs included. */
  full?: boolean;
}

interface TableStatements {
  insert: Database.Statement;
  update: Map<string, Database.Statement>;
  delete: Map<string, Database.Statement>;
  truncate: Database.Statement;
  /** The usual update (key unchanged, every value sent), per identity (the array of a Relation message). */
  plainUpdate: WeakMap<number[], PlainUpdate>;
}

interface PlainUpdate {
  stmt: Database.Statement | undefined;
  /** Columns set (every non-key column), then key columns in the WHERE. */
  set: number[];
  where: number[];
}

export class Applier {
  private readonly stmts = new Map<number, TableStatements>();
  /** Inside an upstream transaction (between Begin and Commit). */
  private inTx = false;
  /** A SQLite transaction is open: complete upstream transactions waiting for `flush`, maybe one in progress. */
  private open = false;
  /** End LSN of the last complete upstream transaction in the open SQLite transaction. */
  private groupEnd: Lsn | undefined;
  private groupStarted = 0;
  /** Upstream transactions complete in the open SQLite transaction. */
  groupSize = 0;
  /** Rows an update/delete did not find (the replica diverged); reported by the engine. */
  missedRows = 0;
  /** Rows inserted, updated or deleted per table (SQLite name) in the open SQLite transaction: `ReplicaStore.addChanges`. */
  private readonly changes = new Map<string, number>();
  /** Runs inside the SQLite transaction just before its commit (follow mode stores its stream position). */
  beforeCommit: (() => void) | undefined;
  private readonly beginStmt: Database.Statement;
  private readonly commitStmt: Database.Statement;

  constructor(private readonly store: ReplicaStore) {
    this.beginStmt = store.db.prepare('BEGIN');
    this.commitStmt = store.db.prepare('COMMIT');
  }

  /** Inside an upstream transaction. */
  get inTransaction(): boolean {
    return this.inTx;
  }

  /** Complete upstream transactions are applied but not yet committed to SQLite. */
  get pending(): boolean {
    return this.open && !this.inTx && this.groupEnd !== undefined;
  }

  /** Milliseconds since the open SQLite transaction began. */
  get groupAge(): number {
    return this.open ? performance.now() - this.groupStarted : 0;
  }

  begin(): void {
    if (this.inTx) throw new Error('applier: BEGIN inside a transaction');
    if (!this.open) {
      this.beginStmt.run();
      this.open = true;
      this.groupStarted = performance.now();
    }
    this.inTx = true;
  }

  /**
   * Ends an upstream transaction. It stays in the open SQLite transaction
   * (several upstream transactions may share one, which is much faster than
   * a SQLite commit each) until `flush`.
   */
  commit(endLsn: Lsn): void {
    if (!this.inTx) throw new Error('applier: COMMIT outside a transaction');
    this.inTx = false;
    this.groupEnd = endLsn;
    this.groupSize++;
  }

  /**
   * Commits the SQLite transaction with `applied_lsn` = the end LSN of its
   * last upstream transaction, and returns that LSN; undefined when there is
   * nothing complete to commit (or an upstream transaction is in progress).
   */
  flush(): Lsn | undefined {
    if (!this.pending) return undefined;
    const lsn = this.groupEnd as Lsn;
    this.store.setAppliedLsn(lsn);
    if (this.changes.size > 0) {
      this.store.addChanges(this.changes);
      this.changes.clear();
    }
    this.beforeCommit?.();
    this.commitStmt.run();
    this.open = false;
    this.groupEnd = undefined;
    this.groupSize = 0;
    return lsn;
  }

  /** Drops everything not yet flushed (connection lost, error); upstream sends it again. */
  rollback(): void {
    if (this.open && this.store.db.inTransaction) this.store.db.exec('ROLLBACK');
    this.inTx = false;
    this.open = false;
    this.groupEnd = undefined;
    this.groupSize = 0;
    this.changes.clear();
    // Catalog changes and stale marks may have been rolled back with it.
    this.stmts.clear();
    this.store.invalidate();
    this.store.reloadStale();
  }

  /** Forget cached statements for a table whose shape changed. */
  forget(oid: number): void {
    this.stmts.delete(oid);
  }

  /** Forget every cached statement (tables were replaced). */
  forgetAll(): void {
    this.stmts.clear();
  }

  insert(rel: AppliedRelation, tuple: ColumnValue[]): void {
    const s = this.statements(rel.table);
    s.insert.run(storedRow(rel.table, tuple));
    this.count(rel.table, 1);
  }

  /** A deleted row counts too: the bounds then see that a table shrank, to judge its plans again. */
  private count(table: ReplicaTable, n: number): void {
    const name = table.sqliteName;
    this.changes.set(name, (this.changes.get(name) ?? 0) + n);
  }

  /**
   * Update: the row is found by the old key ('K', when the key changed), the
   * whole old row ('O', REPLICA IDENTITY FULL) or else the key columns of the
   * new row. Unchanged TOAST values ('u') are left as stored.
   */
  update(
    rel: AppliedRelation,
    oldKind: 'K' | 'O' | null,
    oldTuple: ColumnValue[] | null,
    newTuple: ColumnValue[],
  ): void {
    const table = rel.table;
    const s = this.statements(table);
    this.count(table, 1);
    if (oldKind === null && !rel.full && !newTuple.includes(UNCHANGED_TOAST)) {
      this.plainUpdate(s, rel, newTuple);
      return;
    }
    const where = locator(rel, oldKind, oldTuple ?? newTuple);
    // Without an old tuple the key did not change: setting key columns to
    // the same values would only make SQLite rewrite their index entries.
    const keep = oldKind === null ? where : NO_COLUMNS;
    const set: number[] = [];
    for (let i = 0; i < table.columns.length; i++) {
      if (newTuple[i] !== UNCHANGED_TOAST && !keep.includes(i)) set.push(i);
    }
    if (set.length === 0) return;
    const byAll = oldKind === 'O' || rel.full === true;
    const key = `${set.join(',')}|${where.join(',')}|${byAll}`;
    let stmt = s.update.get(key);
    if (!stmt) {
      stmt = this.store.db.prepare(updateSql(table, set, where, byAll));
      s.update.set(key, stmt);
    }
    const params: StoredValue[] = [];
    for (const i of set) params.push(stored(rel.table, i, newTuple[i]));
    const keySrc = oldTuple ?? newTuple;
    for (const i of where) params.push(stored(rel.table, i, keySrc[i]));
    if (stmt.run(params).changes === 0) this.missedRows++;
  }

  /** Key unchanged and every value sent: one cached statement per table and identity. */
  private plainUpdate(s: TableStatements, rel: AppliedRelation, newTuple: ColumnValue[]): void {
    const table = rel.table;
    let plan = s.plainUpdate.get(rel.identity);
    if (!plan) {
      const where = locator(rel, null, newTuple);
      const set = table.columns.map((_, i) => i).filter((i) => !where.includes(i));
      plan = {
        stmt: set.length > 0 ? this.store.db.prepare(updateSql(table, set, where, false)) : undefined,
        set,
        where,
      };
      s.plainUpdate.set(rel.identity, plan);
    }
    // Only key columns, none changed: nothing to do.
    if (!plan.stmt) return;
    const params: StoredValue[] = new Array(plan.set.length + plan.where.length);
    let k = 0;
    for (const i of plan.set) params[k++] = stored(table, i, newTuple[i]);
    for (const i of plan.where) params[k++] = stored(table, i, newTuple[i]);
    if (plan.stmt.run(params).changes === 0) this.missedRows++;
  }

  delete(rel: AppliedRelation, oldKind: 'K' | 'O', oldTuple: ColumnValue[]): void {
    const where = locator(rel, oldKind, oldTuple);
    const byAll = oldKind === 'O' || rel.full === true;
    const key = `${where.join(',')}|${byAll}`;
    const s = this.statements(rel.table);
    let stmt = s.delete.get(key);
    if (!stmt) {
      const q = quoteIdent(rel.table.sqliteName);
      stmt = this.store.db.prepare(
        `DELETE FROM ${q} WHERE rowid = (SELECT rowid FROM ${q} WHERE ${whereSql(rel.table, where, byAll)} LIMIT 1)`,
      );
      s.delete.set(key, stmt);
    }
    const params = where.map((i) => stored(rel.table, i, oldTuple[i]));
    if (stmt.run(params).changes === 0) this.missedRows++;
    this.count(rel.table, 1);
  }

  truncate(table: ReplicaTable): void {
    const { changes } = this.statements(table).truncate.run();
    this.count(table, Math.max(1, changes));
  }

  private statements(table: ReplicaTable): TableStatements {
    let s = this.stmts.get(table.oid);
    if (!s) {
      const q = quoteIdent(table.sqliteName);
      const cols = table.columns.map(sqliteColumnName);
      s = {
        insert: this.store.db.prepare(
          cols.length > 0
            ? `INSERT INTO ${q} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`
            : `INSERT INTO ${q} DEFAULT VALUES`,
        ),
        update: new Map(),
        delete: new Map(),
        plainUpdate: new WeakMap(),
        truncate: this.store.db.prepare(`DELETE FROM ${q}`),
      };
      this.stmts.set(table.oid, s);
    }
    return s;
  }
}

const NO_COLUMNS: number[] = [];

/** Column indexes that locate the row (values taken from `tuple`). */
function locator(rel: AppliedRelation, oldKind: 'K' | 'O' | null, tuple: ColumnValue[]): number[] {
  // 'O' carries every column; skip any not sent so we never compare against a placeholder.
  const cols = oldKind === 'O' ? rel.table.columns.map((_, i) => i) : rel.identity;
  const where = cols.filter((i) => tuple[i] !== UNCHANGED_TOAST);
  if (where.length === 0) {
    throw new Error(
      `table ${rel.table.schema}.${rel.table.name} has no replica identity to locate rows for update/delete`,
    );
  }
  return where;
}

/**
 * Key columns (never NULL) compare with `=`, which SQLite resolves through
 * the key index faster than `IS`; a whole-row locator (REPLICA IDENTITY
 * FULL) needs `IS` because such rows may hold NULLs, which must match.
 */
function whereSql(table: ReplicaTable, where: number[], byAll: boolean): string {
  const op = byAll ? 'IS' : '=';
  return where.map((i) => `${sqliteColumnName(table.columns[i]!)} ${op} ?`).join(' AND ');
}

/** `LIMIT 1`: only one of several identical rows (possible with REPLICA IDENTITY FULL) changes. */
function updateSql(table: ReplicaTable, set: number[], where: number[], byAll: boolean): string {
  const q = quoteIdent(table.sqliteName);
  const cols = table.columns;
  return (
    `UPDATE ${q} SET ${set.map((i) => `${sqliteColumnName(cols[i]!)} = ?`).join(', ')} ` +
    `WHERE rowid = (SELECT rowid FROM ${q} WHERE ${whereSql(table, where, byAll)} LIMIT 1)`
  );
}

function stored(table: ReplicaTable, i: number, v: ColumnValue | undefined): StoredValue {
  if (v === undefined || v === UNCHANGED_TOAST) return null;
  const col = table.columns[i];
  if (!col) throw new Error(`tuple has more columns than ${table.schema}.${table.name}`);
  return toStored(v, col.typeOid);
}

function storedRow(table: ReplicaTable, tuple: ColumnValue[]): StoredValue[] {
  const out: StoredValue[] = new Array(table.columns.length);
  for (let i = 0; i < table.columns.length; i++) out[i] = stored(table, i, tuple[i]);
  return out;
}
