/**
 * Follow mode (an edge, `--nats`): the replication engine's input is the
 * hub's JetStream change stream instead of a slot of its own. What differs
 * from the slot mode lives here: the replica's stream position (`nats_seq`,
 * stored with `applied_lsn`), the checks at start, and the bootstrap of an
 * empty replica by a logical snapshot of its own, whose TEMPORARY slot lives
 * only while it copies. The engine applies the stream's pgoutput messages
 * with the same code as a slot's (engine.ts).
 */
import { rmSync } from 'node:fs';
import type pg from 'pg';
import { errorMessage, StartupError } from '../errors.js';
import type { Logger } from '../log.js';
import { installSnapshot } from '../nats/bootstrap.js';
import type { FollowOptions, NatsFollower } from '../nats/follower.js';
import { downloadSnapshot, latestSnapshotInfo, SnapshotError } from '../nats/snapshots.js';
import { copyForResync } from '../replica/resync.js';
import { copySnapshot, type SnapshotProgress } from '../replica/snapshot.js';
import type { ReplicaStore } from '../replica/store.js';
import { formatLsn, type Lsn } from './lsn.js';
import type { MatviewScope, MatviewWatcher } from './matviews.js';
import type { ReplicationConnection } from './stream.js';

export type { FollowOptions };

/** `_outpost_meta.source` of a replica that follows a stream. */
export const SOURCE_NATS = 'nats';

/** The replica's stream position: the last message whose effect (or nothing) is committed. */
export function storedSeq(store: ReplicaStore): number {
  const v = store.getMeta('nats_seq');
  const n = v === undefined ? 0 : Number(v);
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
}

/**
 * Stores whose `nats_stream` is known to be the stream named (every writer of
 * that key writes the edge's one stream): a read of it at each commit was 3%
 * of an edge's replication thread at 500 tps.
 */
const streamWritten = new WeakMap<ReplicaStore, string>();

/** Records the stream position (inside the caller's SQLite transaction, beside `applied_lsn`). */
export function writeSeq(store: ReplicaStore, stream: string, seq: number): void {
  store.setMeta('nats_seq', String(seq));
  if (streamWritten.get(store) === stream) return;
  if (store.getMeta('nats_stream') !== stream) store.setMeta('nats_stream', stream);
  streamWritten.set(store, stream);
}

/** A new generation: what was written in a transaction since rolled back (abandon) is not known to be there. */
export function forgetWrittenStream(store: ReplicaStore): void {
  streamWritten.delete(store);
}

/**
 * Why a replica file cannot be followed from this stream (a StartupError),
 * or undefined. A file made by a slot-holding Outpost keeps its slot's
 * position, which means nothing in the stream: it needs a new file.
 */
export function checkFollowable(store: ReplicaStore, opts: FollowOptions): void {
  if (!store.snapshotComplete()) return;
  const source = store.getMeta('source');
  const slot = store.getMeta('slot');
  if (source !== SOURCE_NATS && slot !== undefined) {
    throw new StartupError(
      `replica file ${store.path} follows replication slot "${slot}", not a NATS stream: an edge (--nats) needs its own replica file`,
    );
  }
  const stream = store.getMeta('nats_stream');
  if (stream !== undefined && stream !== opts.stream) {
    throw new StartupError(
      `replica file ${store.path} follows stream "${stream}", not "${opts.stream}": pass --stream ${stream} or use a new replica file`,
    );
  }
}

export interface FollowSnapshotOptions {
  store: ReplicaStore;
  repl: ReplicationConnection;
  /** A fresh connection for the copy (closed by the caller's `release`). */
  copyClient: pg.Client;
  version: number;
  publication: string;
  /** Outpost's own publication (the hub's default), not `--publication`. */
  publicationOwned: boolean;
  follower: NatsFollower;
  stream: string;
  systemId: string;
  database: string;
  timeline: number;
  logger: Logger;
  matviews: MatviewWatcher;
  matviewScope: MatviewScope;
  isCancelled: () => boolean;
  onProgress: (p: SnapshotProgress) => void;
  /** The read path must stop serving / re-read the catalog (engine's onCatalogChange). */
  onCatalogChange: (kind: 'reset' | 'changed') => void;
  /** After a stream reset: only a snapshot labelled at or past this seq covers it. */
  minSeq?: number;
}

export interface FollowSnapshot {
  lsn: Lsn;
  seq: number;
  rows: number;
  tables: number;
}

/**
 * The replica's contents from a logical snapshot of upstream at consistent
 * point S (a TEMPORARY slot, dropped when `repl` closes), and the stream
 * position to follow from: every message at or before it holds only
 * transactions that committed before S (they are in the copy); later ones
 * that did too are skipped by LSN as they come. A complete replica (one that
 * lost its place in the stream) is replaced whole in one SQLite transaction,
 * as a lost slot is in the slot mode.
 */
export async function followSnapshot(o: FollowSnapshotOptions): Promise<FollowSnapshot> {
  const { store } = o;
  // `replacing` already: a replica that a stream reset made unservable (engine.ts onReset) is still whole.
  const replacing =
    (store.snapshotComplete() || store.getMeta('snapshot_state') === 'replacing') &&
    store.allTables().length > 0;
  if (replacing) {
    store.setMeta('snapshot_state', 'replacing');
  } else {
    store.setMeta('snapshot_state', 'copying');
  }
  o.onCatalogChange('reset');
  if (!replacing) {
    store.clearData();
    store.db.transaction(() => {
      store.deleteMeta('applied_lsn');
      store.deleteMeta('nats_seq');
      store.deleteMeta('resync_skip');
    })();
  }
  await o.matviews.beforeSnapshot(o.copyClient);
  const slotName = `outpost_edge_${Math.random().toString(16).slice(2, 14).padEnd(12, '0')}`;
  const created = await o.repl.createSlot(slotName, o.version, { temporary: true });
  o.logger.info(
    { consistentPoint: formatLsn(created.consistentPoint), publication: o.publication, replacing },
    'follow: temporary slot created, copying a snapshot of upstream',
  );
  const finish = (seq: number) => {
    store.setMeta('source', SOURCE_NATS);
    store.setMeta('publication', o.publication);
    store.setMeta('publication_owned', o.publicationOwned ? 'true' : 'false');
    store.setMeta('system_identifier', o.systemId);
    store.setMeta('database', o.database);
    store.setMeta('timeline', String(o.timeline));
    store.deleteMeta('slot');
    store.deleteMeta('next_slot');
    writeSeq(store, o.stream, seq);
    store.setAppliedLsn(created.consistentPoint);
    store.setMeta('snapshot_state', 'complete');
  };
  if (replacing) {
    const copy = await copyForResync({
      client: o.copyClient,
      store,
      publication: o.publication,
      snapshotName: created.snapshotName,
      stale: store.allTables().map((t) => t.oid),
      logger: o.logger,
      isCancelled: o.isCancelled,
      matviews: o.matviewScope,
    });
    if (o.isCancelled()) throw new Error('snapshot cancelled: stopping');
    const seq = await startSeq(o.follower, created.consistentPoint);
    store.db.transaction(() => {
      store.replaceTables(copy.targets, copy.fresh);
      store.deleteMeta('resync_skip');
      o.matviews.recordCopies(copy.fresh.map((f) => f.table.oid));
      finish(seq);
    })();
    o.onCatalogChange('changed');
    return { lsn: created.consistentPoint, seq, rows: copy.rows, tables: copy.fresh.length };
  }
  const progress = await copySnapshot({
    client: o.copyClient,
    store,
    publication: o.publication,
    snapshotName: created.snapshotName,
    logger: o.logger,
    isCancelled: o.isCancelled,
    matviews: o.matviewScope,
    onProgress: o.onProgress,
  });
  const seq = await startSeq(o.follower, created.consistentPoint);
  store.db.transaction(() => {
    o.matviews.recordCopies(store.allTables().map((t) => t.oid));
    finish(seq);
  })();
  return { lsn: created.consistentPoint, seq, rows: progress.rows, tables: progress.tables };
}

export interface ObjectSnapshotOptions {
  store: ReplicaStore;
  follower: NatsFollower;
  stream: string;
  systemId: string;
  database: string;
  publicationOwned: boolean;
  logger: Logger;
  /** The read path must stop serving / re-read the catalog (engine's onCatalogChange). */
  onCatalogChange: (kind: 'reset' | 'changed') => void;
  /** After a stream reset: only a snapshot labelled at or past this seq covers it. */
  minSeq?: number;
}

/**
 * The replica's contents from the hub's newest object-store snapshot
 * (src/nats/snapshots.ts), installed in place in one SQLite transaction
 * (src/nats/bootstrap.ts), the stream position being the snapshot's label.
 * Undefined when there is none, or none usable here (another upstream or
 * layout, a label already out of the stream's retention, NATS failing): the
 * caller then takes a logical snapshot of its own.
 */
export async function objectSnapshot(o: ObjectSnapshotOptions): Promise<FollowSnapshot | undefined> {
  const tmp = `${o.store.path}.download`;
  try {
    const label = await downloadSnapshot(o.follower.connection, o.stream, tmp, {
      systemId: o.systemId,
      database: o.database,
    });
    if (!label) return undefined;
    if (o.minSeq !== undefined && label.seq < o.minSeq) {
      o.logger.warn(
        { seq: label.seq, resetSeq: o.minSeq },
        'follow: the object-store snapshot is older than the stream reset; taking a snapshot of upstream',
      );
      return undefined;
    }
    const pos = await o.follower.position();
    if (!pos) return undefined;
    if (label.seq + 1 < pos.firstSeq) {
      o.logger.warn(
        { seq: label.seq, firstSeq: pos.firstSeq },
        'follow: the object-store snapshot is older than the stream retains; taking a snapshot of upstream',
      );
      return undefined;
    }
    const r = installSnapshot(o.store, tmp, {
      onReset: () => o.onCatalogChange('reset'),
      onChanged: () => o.onCatalogChange('changed'),
      meta: { publication_owned: o.publicationOwned ? 'true' : 'false', nats_stream: o.stream },
    });
    return { lsn: label.lsn, seq: label.seq, rows: r.rows, tables: r.tables };
  } catch (err) {
    // Unusable (SnapshotError) or unreachable: the replica is untouched (a failed swap rolls back).
    o.logger.warn(
      { err: errorMessage(err), kind: err instanceof SnapshotError ? 'unusable' : 'failed' },
      'follow: no object-store snapshot installed; taking a snapshot of upstream',
    );
    return undefined;
  } finally {
    rmSync(tmp, { force: true });
    rmSync(`${tmp}-journal`, { force: true });
  }
}

/**
 * The last stream sequence whose messages all hold transactions committed
 * before `point`: the hub publishes in commit order, so when the stream's
 * last message is before `point`, all of it is; otherwise the whole stream
 * is read (from its first message) and what the copy holds is skipped by LSN.
 */
async function startSeq(follower: NatsFollower, point: Lsn): Promise<number> {
  const pos = await follower.position();
  if (pos === undefined) throw new Error(`stream ${follower.stream} does not exist`);
  const last = await follower.lastMessage();
  if (last) {
    const before = last.header.kind === 'tx' ? last.header.finalLsn < point : last.header.lsn <= point;
    if (before) return last.seq;
  }
  return Math.max(0, pos.firstSeq - 1);
}

/**
 * Waits until the hub has created the stream and the publication exists
 * upstream (an edge may start first). Reports what it waits for.
 */
export async function waitForHub(o: {
  follower: NatsFollower;
  publicationExists: () => Promise<boolean>;
  isCancelled: () => boolean;
  waiting: (why: string) => void;
}): Promise<void> {
  let delay = 250;
  for (;;) {
    if (o.isCancelled()) throw new Error('stopping');
    const pos = await o.follower.position();
    if (pos === undefined) o.waiting(`stream ${o.follower.stream} does not exist yet (is the hub running?)`);
    else if (!(await o.publicationExists()))
      o.waiting('the publication does not exist upstream yet (is the hub running?)');
    else return;
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(5_000, delay * 2);
  }
}

/** How long an edge waits for the hub's snapshot after a reset before it takes one of its own. */
const RESET_SNAPSHOT_WAIT_MS = 120_000;

/**
 * After a reset message at `seq` whose hub promised an object-store snapshot:
 * polls (with backoff) until the object store holds one labelled at or past
 * `seq`. False when none came in time (the hub died, NATS failed): the caller
 * then takes a logical snapshot of its own, which covers the reset as well.
 */
export async function waitForResetSnapshot(o: {
  follower: NatsFollower;
  stream: string;
  seq: number;
  isCancelled: () => boolean;
  waiting: (why: string) => void;
  timeoutMs?: number;
}): Promise<boolean> {
  const deadline = Date.now() + (o.timeoutMs ?? RESET_SNAPSHOT_WAIT_MS);
  let delay = 100;
  for (;;) {
    if (o.isCancelled()) throw new Error('stopping');
    let have: string;
    try {
      const info = await latestSnapshotInfo(o.follower.connection, o.stream);
      if (info && info.seq >= o.seq) return true;
      have = info ? `the newest covers seq ${info.seq}` : 'there is none yet';
    } catch (err) {
      have = `reading it failed: ${errorMessage(err)}`;
    }
    o.waiting(
      `the hub reset the stream at seq ${o.seq} (its replica was remade): waiting for its object-store snapshot covering it (${have}); reads are forwarded upstream meanwhile`,
    );
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(2_000, delay * 2);
  }
}
