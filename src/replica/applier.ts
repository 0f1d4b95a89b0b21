/**
 * Applies decoded pgoutput changes to the SQLite replica. Synchronous (SQLite
 * through better-sqlite3); the engine resolves relations (which may need an
 * upstream catalog lookup) before handing changes here.
 *
 * One upstream transaction = one SQLite transaction, which also stores
 * `applied_lsn` (the commit's end LSN), so the replica never holds half a
 * transaction and its position always matches its contents.
 */
import type Database from 'better-sqlite3';
import type { Lsn } from '../replication/lsn.js';
import { type ColumnValue, UNCHANGED_TOAST } from '../replication/pgoutput.js';
import { quoteIdent, type ReplicaTable } from './schema.js';
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
}

interface TableStatements {
  insert: Database.Statement;
  update: Map<string, Database.Statement>;
  delete: Map<string, Database.Statement>;
  truncate: Database.Statement;
}

export class Applier {
  private readonly stmts = new Map<number, TableStatements>();
  private inTx = false;
  /** Rows an update/delete did not find (the replica diverged); reported by the engine. */
  missedRows = 0;

  constructor(private readonly store: ReplicaStore) {}

  get inTransaction(): boolean {
    return this.inTx;
  }

  begin(): void {
    if (this.inTx) throw new Error('applier: BEGIN inside a transaction');
    this.store.db.exec('BEGIN');
    this.inTx = true;
  }

  /** Stores the commit's end LSN and commits, in the same SQLite transaction. */
  commit(endLsn: Lsn): void {
    if (!this.inTx) throw new Error('applier: COMMIT outside a transaction');
    this.store.setAppliedLsn(endLsn);
    this.store.db.exec('COMMIT');
    this.inTx = false;
  }

  /** Drops a half-applied transaction (connection lost, error). */
  rollback(): void {
    if (this.inTx && this.store.db.inTransaction) this.store.db.exec('ROLLBACK');
    this.inTx = false;
    // DDL (new or rebuilt tables) may have been rolled back with it.
    this.stmts.clear();
    this.store.invalidate();
  }

  /** Forget cached statements for a table whose shape changed. */
  forget(oid: number): void {
    this.stmts.delete(oid);
  }

  insert(rel: AppliedRelation, tuple: ColumnValue[]): void {
    const s = this.statements(rel.table);
    s.insert.run(storedRow(rel.table, tuple));
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
    const where = locator(rel, oldKind, oldTuple ?? newTuple);
    const set: number[] = [];
    for (let i = 0; i < rel.table.columns.length; i++) {
      if (newTuple[i] !== UNCHANGED_TOAST) set.push(i);
    }
    if (set.length === 0) return;
    const key = `${set.join(',')}|${where.join(',')}`;
    const s = this.statements(rel.table);
    let stmt = s.update.get(key);
    const q = quoteIdent(rel.table.sqliteName);
    if (!stmt) {
      const cols = rel.table.columns;
      stmt = this.store.db.prepare(
        `UPDATE ${q} SET ${set.map((i) => `${quoteIdent(cols[i]!.name)} = ?`).join(', ')} ` +
          `WHERE rowid = (SELECT rowid FROM ${q} WHERE ${whereSql(rel.table, where)} LIMIT 1)`,
      );
      s.update.set(key, stmt);
    }
    const params: StoredValue[] = [];
    for (const i of set) params.push(stored(rel.table, i, newTuple[i]));
    const keySrc = oldTuple ?? newTuple;
    for (const i of where) params.push(stored(rel.table, i, keySrc[i]));
    if (stmt.run(params).changes === 0) this.missedRows++;
  }

  delete(rel: AppliedRelation, oldKind: 'K' | 'O', oldTuple: ColumnValue[]): void {
    const where = locator(rel, oldKind, oldTuple);
    const key = where.join(',');
    const s = this.statements(rel.table);
    let stmt = s.delete.get(key);
    if (!stmt) {
      const q = quoteIdent(rel.table.sqliteName);
      stmt = this.store.db.prepare(
        `DELETE FROM ${q} WHERE rowid = (SELECT rowid FROM ${q} WHERE ${whereSql(rel.table, where)} LIMIT 1)`,
      );
      s.delete.set(key, stmt);
    }
    const params = where.map((i) => stored(rel.table, i, oldTuple[i]));
    if (stmt.run(params).changes === 0) this.missedRows++;
  }

  truncate(table: ReplicaTable): void {
    this.statements(table).truncate.run();
  }

  private statements(table: ReplicaTable): TableStatements {
    let s = this.stmts.get(table.oid);
    if (!s) {
      const q = quoteIdent(table.sqliteName);
      const cols = table.columns.map((c) => quoteIdent(c.name));
      s = {
        insert: this.store.db.prepare(
          `INSERT INTO ${q} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`,
        ),
        update: new Map(),
        delete: new Map(),
        truncate: this.store.db.prepare(`DELETE FROM ${q}`),
      };
      this.stmts.set(table.oid, s);
    }
    return s;
  }
}

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

/** `IS` rather than `=`: REPLICA IDENTITY FULL rows may hold NULLs, which must match. */
function whereSql(table: ReplicaTable, where: number[]): string {
  return where.map((i) => `${quoteIdent(table.columns[i]!.name)} IS ?`).join(' AND ');
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
