/**
 * An edge's re-bootstrap while it runs (issue 18): its stream position left the
 * stream's retention, so it can never catch up by consuming; the newest
 * object-store snapshot replaces its replica, atomically, the way a replica
 * whose slot was lost is replaced (engine.ts `replaceSnapshot`): the read path
 * forwards while `snapshot_state` is `replacing`, and one SQLite transaction
 * swaps every table, the catalog and the meta (position included) at once, so
 * the file holds the old replica or the new one, never a mix.
 *
 * In place rather than renaming a file over the replica: the replica is open
 * (the read path's connections, the engine's, possibly in another thread) and
 * every one of them keeps working across the swap. (A first bootstrap, before
 * anything opened the file, renames: `fetchLatestSnapshot`.)
 */
import { rmSync } from 'node:fs';
import type { NatsConnection } from '@nats-io/transport-node';
import type { ReplicaStore } from '../replica/store.js';
import { downloadSnapshot, type SnapshotExpect, type SnapshotInfo } from './snapshots.js';

const CATALOG_COLUMNS = 'oid, schema, name, sqlite_name, columns, storage, unservable, relkind, inheritors';

export interface InstallHooks {
  /** `snapshot_state` is now `replacing`: the read path must stop serving (onCatalogChange('reset')). */
  onReset?: () => void;
  /** The new replica is committed (onCatalogChange('changed')); the engine forgets its relations and statements. */
  onChanged?: () => void;
  /** Meta of this replica written in the swap's transaction (e.g. `publication_owned`). */
  meta?: Record<string, string>;
}

export interface Installed {
  tables: number;
  rows: number;
}

function q(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Replaces the content of `store` with the snapshot file at `file` (made by
 * `downloadSnapshot`, so already marked with the stream position) in one SQLite
 * transaction. The caller's engine must not be applying meanwhile.
 */
export function installSnapshot(store: ReplicaStore, file: string, hooks: InstallHooks = {}): Installed {
  const { db } = store;
  const before = store.getMeta('snapshot_state');
  store.setMeta('snapshot_state', 'replacing');
  hooks.onReset?.();
  db.prepare('ATTACH DATABASE ? AS snap').run(file);
  let rows = 0;
  let count = 0;
  try {
    db.transaction(() => {
      for (const t of store.allTables()) db.exec(`DROP TABLE IF EXISTS main.${q(t.sqliteName)}`);
      db.exec('DELETE FROM main._outpost_tables');
      store.dropStaging();
      const tables = db.prepare('SELECT sqlite_name FROM snap._outpost_tables').pluck().all() as string[];
      const ddl = db.prepare(
        `SELECT type, name, sql FROM snap.sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL`,
      );
      for (const name of tables) {
        const objects = ddl.all(name) as Array<{ type: string; name: string; sql: string }>;
        const table = objects.find((o) => o.type === 'table');
        if (!table) throw new Error(`snapshot catalog names ${name}, which the snapshot file does not hold`);
        // Unqualified CREATE statements create in main: the exact shape (affinities) of the hub's table.
        db.exec(table.sql);
        rows += db.prepare(`INSERT INTO main.${q(name)} SELECT * FROM snap.${q(name)}`).run().changes;
        count++;
        // Indexes after the rows: building one by sorting beats maintaining it per row.
        for (const o of objects) if (o.type === 'index') db.exec(o.sql);
      }
      db.exec(
        `INSERT INTO main._outpost_tables (${CATALOG_COLUMNS}) SELECT ${CATALOG_COLUMNS} FROM snap._outpost_tables`,
      );
      db.exec('DELETE FROM main._outpost_meta');
      db.exec('INSERT INTO main._outpost_meta (key, value) SELECT key, value FROM snap._outpost_meta');
      for (const [k, v] of Object.entries(hooks.meta ?? {})) store.setMeta(k, v);
    })();
  } catch (err) {
    // Rolled back: the old replica is whole again, and serves again.
    if (before === undefined) store.deleteMeta('snapshot_state');
    else store.setMeta('snapshot_state', before);
    store.reloadStale();
    store.invalidate();
    hooks.onChanged?.();
    throw err;
  } finally {
    db.exec('DETACH DATABASE snap');
  }
  store.reloadStale();
  store.invalidate();
  hooks.onChanged?.();
  return { tables: count, rows };
}

/**
 * Downloads the newest snapshot beside the replica and installs it in place.
 * Null (replica untouched) when the object store holds none; the caller then
 * falls back to a logical snapshot of its own.
 */
export async function rebootstrapFromSnapshot(
  nc: NatsConnection,
  stream: string,
  store: ReplicaStore,
  opts: InstallHooks & { expect?: SnapshotExpect } = {},
): Promise<(SnapshotInfo & Installed) | null> {
  const tmp = `${store.path}.download`;
  try {
    const label = await downloadSnapshot(nc, stream, tmp, opts.expect ?? {});
    if (!label) return null;
    return { ...label, ...installSnapshot(store, tmp, opts) };
  } finally {
    rmSync(tmp, { force: true });
    rmSync(`${tmp}-journal`, { force: true });
  }
}
