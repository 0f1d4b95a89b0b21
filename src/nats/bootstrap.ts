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
 * every one of them keeps working across the swap. A first bootstrap, before
 * anything opened the file, renames instead (`bootstrapBeforeOpen`): copying
 * every row and rebuilding every index of a 1M-row replica took seconds that
 * a rename does not.
 */
import { existsSync, rmSync } from 'node:fs';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import Database from 'better-sqlite3';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { ReplicaStore } from '../replica/store.js';
import { formatLsn } from '../replication/lsn.js';
import { ReplicationConnection } from '../replication/stream.js';
import type { FollowOptions } from './follower.js';
import {
  downloadSnapshot,
  fetchLatestSnapshot,
  type SnapshotExpect,
  type SnapshotInfo,
} from './snapshots.js';

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

/**
 * Whether the replica file at `path` holds no complete replica (missing, or a
 * snapshot never finished, or one a stream reset made unservable): only then
 * may a first bootstrap replace it. A file that is not a replica at all is
 * left to ReplicaStore.open to refuse. Opening it also rolls back a hot
 * journal; closing it folds its WAL in.
 */
function replaceable(path: string): boolean {
  if (!existsSync(path)) return true;
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { fileMustExist: true });
    const meta = db
      .prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_outpost_meta'`)
      .pluck()
      .get();
    if (meta === undefined) {
      // An empty file (made by a start that died before creating the meta table).
      return db.prepare('SELECT count(*) FROM sqlite_master').pluck().get() === 0;
    }
    const state = db.prepare(`SELECT value FROM _outpost_meta WHERE key = 'snapshot_state'`).pluck().get();
    return state !== 'complete';
  } catch {
    return false;
  } finally {
    db?.close();
  }
}

export interface BootstrapBeforeOpenOptions {
  replicaPath: string;
  upstreamUrl: string;
  follow: FollowOptions;
  /** `publication_owned` of the new replica: the edge follows its hub's own publication (no --publication). */
  publicationOwned: boolean;
  logger: Logger;
}

/**
 * An edge's first bootstrap, before anything opens the replica: when the file
 * holds no complete replica, the newest object-store snapshot of this upstream
 * (system identifier and database checked by IDENTIFY_SYSTEM) whose position
 * the stream still holds is renamed into place (`fetchLatestSnapshot`); the
 * engine then opens it and resumes from its stream position. Best effort:
 * null (the file untouched) when there is no such snapshot, or NATS or
 * upstream cannot be reached at once; the engine then bootstraps as before
 * (and reports those failures properly).
 */
export async function bootstrapBeforeOpen(o: BootstrapBeforeOpenOptions): Promise<SnapshotInfo | null> {
  if (!replaceable(o.replicaPath)) return null;
  const started = performance.now();
  let nc: NatsConnection | undefined;
  try {
    // Upstream's identity while NATS connects: a snapshot of another cluster or database is never installed.
    const ident = (async () => {
      const repl = await ReplicationConnection.connect(o.upstreamUrl, 'outpost-edge');
      try {
        return await repl.identifySystem();
      } finally {
        await repl.close().catch(() => {});
      }
    })();
    ident.catch(() => {});
    nc = await connect({
      servers: o.follow.servers,
      name: `outpost-edge ${o.follow.consumer} bootstrap`,
      // NATS not up yet: start at once (the engine waits for it and says so).
      timeout: 2_000,
    });
    const jsm = await jetstreamManager(nc);
    const { systemId, dbname } = await ident;
    const label = await fetchLatestSnapshot(
      nc,
      o.follow.stream,
      o.replicaPath,
      { systemId, database: dbname },
      {
        meta: { publication_owned: o.publicationOwned ? 'true' : 'false' },
        // Its next message must still be in the stream, or the engine would re-bootstrap at once.
        accept: async (l) => {
          const { state } = await jsm.streams.info(o.follow.stream);
          return l.seq + 1 >= state.first_seq;
        },
      },
    );
    if (label) {
      o.logger.info(
        {
          stream: o.follow.stream,
          seq: label.seq,
          appliedLsn: formatLsn(label.lsn),
          bytes: label.size,
          seconds: Math.round((performance.now() - started) / 100) / 10,
        },
        'follow: replica installed from the object-store snapshot (renamed into place)',
      );
    }
    return label;
  } catch (err) {
    o.logger.info(
      { err: errorMessage(err) },
      'follow: no object-store snapshot installed before start; the engine bootstraps the replica',
    );
    return null;
  } finally {
    await nc?.close().catch(() => {});
  }
}
