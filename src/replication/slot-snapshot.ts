/**
 * The slot mode's snapshot phase: whether a complete replica can still
 * follow its slot (`replicaLost`), the initial snapshot of an empty replica
 * under a new slot, and the fresh snapshot swapped in whole for one that
 * lost its position (`replaceSnapshot`). Split from engine.ts by
 * responsibility; these run on the engine's state (the members it shares
 * with its parts, not part of EngineHandle).
 */
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { errorMessage, StartupError } from '../errors.js';
import { copyForResync } from '../replica/resync.js';
import { copySnapshot, type SnapshotProgress } from '../replica/snapshot.js';
import type { ReplicaStore } from '../replica/store.js';
import type { ReplicationEngine } from './engine.js';
import type { Preflight } from './engine-types.js';
import { formatLsn } from './lsn.js';
import type { ReplicationConnection } from './stream.js';
import { createSlot, oneLine, snapshotReadError } from './upstream-checks.js';

const SLOT_RELEASE_WAIT_MS = 5_000;
/** Page cache of the writer while copying a snapshot (negative: KiB). */
const SNAPSHOT_CACHE_KIB = -8192;

/**
 * Why a complete replica can no longer follow its upstream, if it cannot:
 * a different upstream cluster (system identifier changed: a restore, a
 * new server behind the same address), or a slot that is gone or was
 * invalidated (`wal_status = lost`, e.g. by max_slot_wal_keep_size) so
 * changes since the replica's position no longer exist upstream.
 */
export async function replicaLost(
  e: ReplicationEngine,
  client: pg.Client,
  store: ReplicaStore,
  storedSystem: string | undefined,
  ident: { systemId: string; timeline: number },
  slot: string,
): Promise<{ kind: string; reason: string; dropSlot: boolean } | undefined> {
  const storedTimeline = store.getMeta('timeline');
  if (storedSystem !== undefined && storedSystem !== ident.systemId) {
    return {
      kind: 'system_identifier',
      reason: `upstream system identifier changed from ${storedSystem} to ${ident.systemId} (timeline ${storedTimeline ?? '?'} → ${ident.timeline})`,
      dropSlot: false,
    };
  }
  const r = await client.query<{ wal_status: string | null; invalidated: boolean }>(
    `SELECT wal_status, ${e.version >= 170000 ? 'invalidation_reason IS NOT NULL' : 'false'} AS invalidated
       FROM pg_replication_slots WHERE slot_name = $1`,
    [slot],
  );
  const row = r.rows[0];
  if (!row) {
    return {
      kind: 'slot_missing',
      reason: `replication slot "${slot}" no longer exists upstream${storedTimeline !== undefined && Number(storedTimeline) !== ident.timeline ? ` (timeline changed from ${storedTimeline} to ${ident.timeline}: a failover?)` : ''}`,
      dropSlot: false,
    };
  }
  if (row.wal_status === 'lost' || row.invalidated) {
    return {
      kind: 'slot_invalidated',
      reason: `replication slot "${slot}" was invalidated upstream (wal_status ${row.wal_status ?? 'unknown'}): the WAL it needed was removed`,
      dropSlot: true,
    };
  }
  if (storedTimeline !== undefined && Number(storedTimeline) !== ident.timeline) {
    e.logger.info(
      { from: Number(storedTimeline), to: ident.timeline, slot },
      'replication: upstream timeline changed; the slot survived, resuming',
    );
  }
  return undefined;
}

/**
 * Right after a restart the walsender of the previous run may still hold
 * the slot for a moment; START_REPLICATION would fail with "active for PID".
 */
export async function waitForSlotRelease(client: pg.Client, slot: string): Promise<void> {
  const deadline = Date.now() + SLOT_RELEASE_WAIT_MS;
  for (;;) {
    const r = await client.query<{ pid: number | null }>(
      'SELECT active_pid AS pid FROM pg_replication_slots WHERE slot_name = $1',
      [slot],
    );
    if (r.rows[0]?.pid == null || Date.now() > deadline) return;
    await sleep(100);
  }
}

/**
 * A fresh snapshot for a replica that can no longer follow upstream (slot
 * lost, another cluster, a changed table filter): copied beside the old
 * tables, into staging tables of the same file, then swapped in together
 * with the new slot and position in one SQLite transaction. The file holds
 * the old replica or the new one, never a mix; the old data goes only once
 * the new copy is complete. The read path forwards everything meanwhile
 * (snapshot_state `replacing`). Interrupted (a crash, a stop), the next
 * start drops the new slot and the staging tables and takes a fresh
 * snapshot from scratch.
 */
export async function replaceSnapshot(
  e: ReplicationEngine,
  repl: ReplicationConnection,
  pre: Preflight,
  systemId: string,
  database: string,
): Promise<void> {
  const { store } = e;
  store.db.transaction(() => {
    store.setMeta('snapshot_state', 'replacing');
    // Recorded before it exists, so an interrupted replacement can drop it.
    store.setMeta('next_slot', e.slot);
  })();
  e.opts.onCatalogChange?.('reset');
  await e.matviews.beforeSnapshot(await e.lookupClient());
  const created = await createSlot(repl, e.slot, pre);
  e.logger.info(
    { slot: e.slot, publication: e.publication, consistentPoint: formatLsn(created.consistentPoint) },
    'replication: slot created, copying a fresh snapshot beside the old replica',
  );
  const old = store.allTables().map((t) => t.oid);
  const copyClient = await e.connectNormal();
  const started = performance.now();
  let copy: Awaited<ReturnType<typeof copyForResync>>;
  try {
    copy = await copyForResync({
      client: copyClient,
      store,
      publication: e.publication,
      snapshotName: created.snapshotName,
      // Every table is replaced (or dropped), whatever its shape.
      stale: old,
      logger: e.logger,
      isCancelled: () => e.stopping,
      matviews: e.matviewScope(),
    });
  } catch (err) {
    throw snapshotReadError(err);
  } finally {
    await copyClient.end().catch(() => {});
  }
  if (e.stopping) throw new Error('snapshot cancelled: stopping');
  store.db.transaction(() => {
    store.replaceTables(copy.targets, copy.fresh);
    recordOrigin(e, systemId, database);
    store.deleteMeta('resync_skip');
    store.setAppliedLsn(created.consistentPoint);
    store.setMeta('snapshot_state', 'complete');
    e.matviews.recordCopies(copy.fresh.map((f) => f.table.oid));
  })();
  e.skipBefore.clear();
  e.applier.forgetAll();
  e.opts.onCatalogChange?.('changed');
  e.snapshot = { tables: copy.fresh.length, tablesDone: copy.fresh.length, rows: copy.rows };
  e.snapshotApplied(
    created.consistentPoint,
    started,
    copy.rows,
    { tables: copy.fresh.length, dropped: copy.targets.size - copy.fresh.length },
    'replication: fresh snapshot swapped in',
  );
}

export async function initialSnapshot(
  e: ReplicationEngine,
  client: pg.Client,
  repl: ReplicationConnection,
  pre: Preflight,
  systemId: string,
  database: string,
  previousSlot: string | undefined,
): Promise<void> {
  const { store } = e;
  // A replica that lost its position is replaced whole, not cleared first.
  const replacing = store.snapshotComplete() && store.allTables().length > 0;
  // An interrupted snapshot (or replacement) holds WAL in its slot for nothing: drop it and start over.
  for (const slot of new Set([previousSlot, store.getMeta('next_slot')])) {
    if (!slot) continue;
    try {
      const r = await client.query(
        'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1',
        [slot],
      );
      if (r.rowCount) {
        e.logger.warn({ slot }, 'replication: dropped the slot of an interrupted snapshot');
      }
    } catch (err) {
      throw new StartupError(
        `cannot drop replication slot "${slot}" left by an interrupted snapshot: ${oneLine(errorMessage(err))}`,
      );
    }
  }
  e.publication = await e.ensurePublication(client, pre);
  e.slot = e.opts.slot ?? `outpost_${randomBytes(6).toString('hex')}`;
  e.state = 'snapshot';
  e.visibleIdle = 0n;
  e.snapshot = { tables: 0, tablesDone: 0, rows: 0 };
  if (replacing) {
    await replaceSnapshot(e, repl, pre, systemId, database);
    return;
  }
  // Incomplete first, so a read path that re-reads the file stops serving
  // before the tables go (and a crash in between cannot leave an empty
  // replica marked complete).
  store.setMeta('snapshot_state', 'copying');
  e.opts.onCatalogChange?.('reset');
  store.clearData();
  // Record the slot before creating it, so a crash in between still lets
  // the next start drop it.
  store.db.transaction(() => {
    recordOrigin(e, systemId, database);
    store.deleteMeta('applied_lsn');
  })();

  await e.matviews.beforeSnapshot(client);
  const created = await createSlot(repl, e.slot, pre);
  e.logger.info(
    { slot: e.slot, publication: e.publication, consistentPoint: formatLsn(created.consistentPoint) },
    'replication: slot created, copying snapshot',
  );

  // A separate connection for the copy: the lookup one stays free.
  const copyClient = await e.connectNormal();
  const started = performance.now();
  let progress: SnapshotProgress;
  // A bulk copy appends pages and builds indexes by sorting: a big page
  // cache buys nothing there, and the sorter takes as much again, so the
  // copy runs with a small one (the snapshot of any size stays well under
  // 200 MB) and applying gets the large one back afterwards.
  const applyCache = store.db.pragma('cache_size', { simple: true }) as number;
  store.db.pragma(`cache_size = ${SNAPSHOT_CACHE_KIB}`);
  try {
    progress = await copySnapshot({
      client: copyClient,
      store,
      publication: e.publication,
      snapshotName: created.snapshotName,
      logger: e.logger,
      // Stopping mid-copy: abandon it (redone from scratch on the next start).
      isCancelled: () => e.stopping,
      matviews: e.matviewScope(),
      onProgress: (p) => {
        e.snapshot = { ...p };
        e.metrics.snapshotRows.set(p.rows);
      },
    });
  } catch (err) {
    throw snapshotReadError(err);
  } finally {
    await copyClient.end().catch(() => {});
    store.db.pragma(`cache_size = ${applyCache}`);
  }
  store.db.transaction(() => {
    store.setMeta('snapshot_state', 'complete');
    store.setAppliedLsn(created.consistentPoint);
    e.matviews.recordCopies(store.allTables().map((t) => t.oid));
  })();
  e.snapshotApplied(
    created.consistentPoint,
    started,
    progress.rows,
    { tables: progress.tables },
    'replication: snapshot complete',
  );
}

/** Where the replica comes from, with its slot (in the caller's SQLite transaction). */
export function recordOrigin(e: ReplicationEngine, systemId: string, database: string): void {
  const { store } = e;
  store.setMeta('slot', e.slot);
  store.setMeta('publication', e.publication);
  // Outpost's own publication (not --publication): `outpost drop-slot` may drop it with the last slot.
  store.setMeta('publication_owned', e.opts.publication === undefined ? 'true' : 'false');
  store.setMeta('system_identifier', systemId);
  store.setMeta('database', database);
  store.setMeta('timeline', String(e.timeline));
  store.deleteMeta('next_slot');
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
