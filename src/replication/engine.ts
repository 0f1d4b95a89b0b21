/**
 * The replication engine: upstream checks, publication and slot, initial
 * snapshot, then the pgoutput stream applied to the replica, acknowledging
 * only what SQLite has committed. Reconnects on its own once streaming; only
 * `start()` can fail (with a StartupError the CLI prints as one line).
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import pg from 'pg';
import { errorMessage, StartupError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import {
  type FollowedHeartbeat,
  type FollowedPart,
  type FollowedReset,
  NatsFollower,
  type RetentionLostError,
} from '../nats/follower.js';
import { type AppliedRelation, Applier } from '../replica/applier.js';
import { catalogDifferences, copyForResync } from '../replica/resync.js';
import type { ReplicaTable } from '../replica/schema.js';
import {
  copySnapshot,
  fetchCatalog,
  replicatedOids,
  type SnapshotProgress,
  stripUpstream,
} from '../replica/snapshot.js';
import type { ReplicaStore } from '../replica/store.js';
import {
  DDL_FUNCTION,
  DDL_MESSAGE_PREFIX,
  type DdlNotice,
  ddlTriggerActive,
  installDdlTrigger,
  parseDdlMessage,
} from './ddl.js';
import { describeFilter, publicationName, type TableFilter } from './filter.js';
import {
  checkFollowable,
  type FollowOptions,
  followSnapshot,
  objectSnapshot,
  storedSeq,
  waitForHub,
  waitForResetSnapshot,
  writeSeq,
} from './follow.js';
import { formatLsn, type Lsn, maxLsn, parseLsn } from './lsn.js';
import { type MatviewScope, MatviewWatcher, refreshedMatviews } from './matviews.js';
import { decodePgOutput, type RelationMessage } from './pgoutput.js';
import { PublicationKeeper } from './publication.js';
import {
  CONNECT_TIMEOUT_MS,
  detachXLog,
  type Keepalive,
  ReplicationConnection,
  SESSION_OPTIONS,
  type XLogData,
} from './stream.js';

export type EngineState = 'starting' | 'snapshot' | 'streaming' | 'reconnecting' | 'stopped' | 'error';

export interface EngineOptions {
  upstreamUrl: string;
  store: ReplicaStore;
  /** An existing publication to follow; default: `outpost`, created FOR ALL TABLES if missing. */
  publication?: string;
  /** `--tables` / `--schemas`: Outpost's own publication holds only these (see filter.ts). */
  filter?: TableFilter;
  /** Slot name; default `outpost_<12 hex>` on first start, then the one recorded in the replica. */
  slot?: string;
  logger: Logger;
  metrics: Metrics;
  /** Catalog comparison interval when no DDL event trigger is installed upstream; default 5 s. */
  catalogPollMs?: number;
  /** Without the event trigger: how often materialized views are checked for a refresh (matviews.ts); default 60 s. */
  matviewRefreshMs?: number;
  /**
   * Called (synchronously) when the read path's view of the catalog must
   * change: `stale` a table is hidden, before the transaction that skips its
   * changes commits; `reset` a fresh snapshot is about to clear the replica
   * (`snapshot_state` is already `copying` or `replacing`); `changed` tables were replaced.
   * A read path sharing `store` sees all this at once; one in another thread
   * (engine-thread.ts) must be told, and for `stale` and `reset` before the
   * engine goes on.
   */
  onCatalogChange?: (kind: 'stale' | 'reset' | 'changed') => void;
  /** Sees the raw stream and gates what is confirmed upstream (the NATS hub, src/nats/publisher.ts). */
  tap?: EngineTap;
  /**
   * Follow mode (an edge): the input is this JetStream change stream (the
   * hub's), not a slot; no slot, publication or DDL trigger is made upstream
   * (follow.ts).
   */
  follow?: FollowOptions;
}

/**
 * A second consumer of the pgoutput stream, run in step with the engine (the
 * NATS hub publishes every message it receives). The engine confirms an LSN
 * upstream only once the tap says it may, so a consumer that is behind (or
 * down) holds the slot back instead of losing changes, and streaming restarts
 * from what the tap has, not from what SQLite has.
 */
export interface EngineTap {
  /**
   * Streaming (re)starts: every message from here on follows `from`; whatever
   * the tap held of a transaction the old connection had not finished is void.
   */
  onStart(from: Lsn): void;
  /** Each XLogData's pgoutput bytes, in stream order, before the engine applies it. Copy to keep. */
  onMessage(data: Buffer): void;
  /** A keepalive reached the drain loop: everything the server sent before `walEnd` was passed on. */
  onIdle(walEnd: Lsn): void;
  /** The tap cannot take more now: the engine waits (and stops reading the socket once its queue is full). */
  ready(): Promise<void> | undefined;
  /** The highest position up to `lsn` the tap has made durable (0 for none yet: the slot's own). */
  confirmable(lsn: Lsn): Lsn;
  /**
   * The replica was (re)made from a snapshot at `lsn` (first start, or a lost slot):
   * changes before it will never be streamed.
   */
  onSnapshot?(lsn: Lsn): void;
}

/** What the rest of Outpost uses of a running engine, in this thread or in a worker (engine-thread.ts). */
export interface EngineHandle extends EventEmitter<EngineEvents> {
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): EngineStatus;
  /** What readers may rely on (`status().appliedLsn` without formatting it). */
  appliedLsn(): Lsn;
}

export interface EngineStatus {
  state: EngineState;
  slot: string;
  publication: string;
  /** `X/Y` */
  appliedLsn: string;
  upstreamLsn: string;
  lagBytes: number;
  lastError?: string;
  snapshot?: SnapshotProgress;
  /** How upstream schema changes are noticed (see ddl.ts). */
  ddlDetection: 'event-trigger' | 'polling' | 'unknown';
  /** Tables hidden from the read path until resynchronised after a schema change. */
  staleTables: number;
  /** Tables Outpost does not replicate (queries forwarded), and why: see publication.ts. */
  forwardedTables: Array<{ table: string; reason: string }>;
  /** Where changes come from: a slot of its own, or a hub's NATS stream (follow mode). */
  source: 'slot' | 'nats';
  nats?: FollowStatus;
}

/** Follow mode: the stream and the replica's place in it. */
export interface FollowStatus {
  stream: string;
  consumer: string;
  /** Last stream sequence the replica reflects (committed, or about to be with nothing left to apply). */
  seq: number;
  connected: boolean;
  /** Date.now() when the last stream message arrived (hub transactions or heartbeats). */
  heardAt: number;
  /** The hub's Date.now() when it published the last message applied. */
  hubTime: number;
  lastError?: string;
}

const STATUS_INTERVAL_MS = 10_000;
/** At most one idle-position write to SQLite per this interval. */
const IDLE_WRITE_INTERVAL_MS = 1_000;
const MAX_BACKOFF_MS = 30_000;
const STOP_WAIT_MS = 5_000;
const SLOT_NAME_RE = /^[a-z0-9_]{1,63}$/;
const POLL_CATALOG_MS = 5_000;
const POLL_MATVIEWS_MS = 60_000;
const SLOT_WAIT_WARN_MS = 10_000;
const SLOT_RELEASE_WAIT_MS = 5_000;
const ACK_INTERVAL_MS = 20;
/** Stop reading the replication socket beyond this many queued messages; resume below the low mark. */
/** Page cache of the writer while copying a snapshot (negative: KiB). */
const SNAPSHOT_CACHE_KIB = -8192;
/** Longest stretch of applying before the drain loop lets the event loop run (ms). */
const APPLY_SLICE_MS = 4;
const QUEUE_HIGH_WATER = 20_000;
const QUEUE_LOW_WATER = 2_000;
/** Upper bounds of one SQLite transaction holding several upstream transactions. */
const GROUP_MAX_TRANSACTIONS = 10_000;
const GROUP_MAX_MS = 200;

/** Work the drain loop does between stream messages: a catalog check, or a wake-up for a resync retry. */
type Control =
  | { kind: 'check' }
  | { kind: 'nudge' }
  | { kind: 'matviews' }
  | { kind: 'membership' }
  /** Follow mode: a hub heartbeat (everything up to `lsn` is published; nothing is left to apply). */
  | { kind: 'hb'; lsn: Lsn; seq: number; time: number }
  /** Follow mode: the hub's stream misses changes before `lsn` (wire-format.ts ResetHeader). */
  | { kind: 'reset'; lsn: Lsn; seq: number; snapshot: boolean };
/** Follow mode: a pgoutput message from the stream; the last one of a transaction's last part carries its sequence. */
type FollowedXLog = XLogData & { natsSeq?: number; natsTime?: number };
type QueueItem = { gen: number; msg: FollowedXLog | Keepalive | Control };

/** The latest Relation message of a table and what it resolved to for the catalog version. */
interface StreamRelation {
  msg: RelationMessage;
  identity: number[];
  version: number;
  applied: AppliedRelation | undefined;
}

/** FIFO without Array#shift's O(n) per item (the queue can hold many thousand messages). */
class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;
  get length(): number {
    return this.items.length - this.head;
  }
  push(v: T): void {
    this.items.push(v);
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const v = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 4096 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return v;
  }
  clear(): void {
    this.items = [];
    this.head = 0;
  }
}

interface Preflight {
  version: number;
  user: string;
  database: string;
  superuser: boolean;
}

/** `applied`: emitted after each SQLite commit that moved the replica's position. */
/** `applied`: the replica reflects upstream up to `lsn`; `ddl`: upstream ran DDL (event trigger message). */
export type EngineEvents = { applied: [lsn: bigint]; ddl: [tag: string] };

export class ReplicationEngine extends EventEmitter<EngineEvents> implements EngineHandle {
  private readonly store: ReplicaStore;
  private readonly logger: Logger;
  private readonly metrics: Metrics;
  private readonly applier: Applier;
  private state: EngineState = 'starting';
  private slot = '';
  private publication = '';
  /** Upstream timeline at the latest IDENTIFY_SYSTEM (stored with the snapshot; a change hints at a failover). */
  private timeline = 0;
  /** An idle position the replica already reflects, not yet written to SQLite (see `flushIdle`). */
  private visibleIdle = 0n;
  /** The upstream checks of the latest start (a fresh snapshot after a reconnect reuses them). */
  private pre: Preflight | undefined;
  private applied: Lsn = 0n;
  private upstreamLsn: Lsn = 0n;
  private lastError: string | undefined;
  private snapshot: SnapshotProgress | undefined;
  /** The publication's membership and the tables forwarded (publication.ts). */
  private keeper: PublicationKeeper | undefined;
  private lastMembershipCheckAt = 0;

  private repl: ReplicationConnection | undefined;
  private lookup: pg.Client | undefined;
  private readonly relations = new Map<number, StreamRelation>();
  private readonly queue = new Fifo<QueueItem>();
  private draining = false;
  private paused = false;
  private version = 0;
  private ddlMode: EngineStatus['ddlDetection'] = 'unknown';
  /** Final (commit record) LSN of the transaction being applied. */
  private txFinal: Lsn = 0n;
  /**
   * Table OID → consistent point of the snapshot it was last copied under:
   * its changes in transactions committed before that point are in the copy.
   */
  private readonly skipBefore = new Map<number, Lsn>();
  private checkQueued = false;
  private lastCheckAt = 0;
  private lastMatviewCheckAt = 0;
  private readonly matviews: MatviewWatcher;
  private nextReconcileAt = 0;
  private reconcileFailures = 0;
  private reconciling = false;
  private flushScheduled = false;
  /** Changes applied since the last flush, added to the metric then (a labelled inc per change costs). */
  private readonly changeCounts = { insert: 0, update: 0, delete: 0 };
  private readonly resyncConnections = new Set<ReplicationConnection | pg.Client>();
  /** Bumped when a connection is abandoned; queued work of older generations is dropped. */
  private gen = 0;
  private skipping = false;
  private pendingIdle: Lsn = 0n;
  private lastIdleWrite = 0;
  private lastStatusAt = 0;
  private ackScheduled = false;
  private tickTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private stopping = false;

  /** Follow mode: the stream reader, and the last sequence handled at a transaction boundary. */
  private follower: NatsFollower | undefined;
  private followSeq = 0;
  /** The hub's publish time of the message at `followSeq`. */
  private followTime = 0;
  /** `followSeq` as the latest SQLite commit stored it (acknowledged to NATS after that commit). */
  private followSeqWritten = 0;
  /** The stream no longer holds the replica's position: the next reconnect bootstraps afresh. */
  private rebootstrap = false;
  /** Follow mode: the reset message the next re-bootstrap must cover (its seq; whether the hub publishes a snapshot). */
  private resetWait: { seq: number; snapshot: boolean } | undefined;

  constructor(private readonly opts: EngineOptions) {
    super();
    this.store = opts.store;
    this.logger = opts.logger;
    this.metrics = opts.metrics;
    this.applier = new Applier(opts.store);
    this.matviews = new MatviewWatcher(opts.store, () => this.matviewScope());
    const follow = opts.follow;
    if (follow) {
      // The stream position goes into the same SQLite transaction as applied_lsn.
      this.applier.beforeCommit = () => {
        writeSeq(this.store, follow.stream, this.followSeq);
        this.followSeqWritten = this.followSeq;
      };
    }
  }

  private matviewScope(): MatviewScope {
    // An edge holds what its hub's own publication holds (every table, so every matview) unless --publication.
    const own = this.opts.follow ? this.opts.publication === undefined : this.keeper?.managed === true;
    return {
      publication: this.publication,
      filter: this.opts.filter,
      everything: own && this.opts.filter === undefined,
    };
  }

  appliedLsn(): Lsn {
    return maxLsn(this.applied, this.visibleIdle);
  }

  /** What may be confirmed upstream: committed in SQLite, and made durable by the tap if there is one. */
  confirmLsn(): Lsn {
    const tap = this.opts.tap;
    if (!tap) return this.applied;
    const ok = tap.confirmable(this.applied);
    return ok < this.applied ? ok : this.applied;
  }

  /** The tap's confirmable position moved: send a status update soon. */
  confirmChanged(): void {
    if (this.state === 'streaming') this.scheduleAck();
  }

  status(): EngineStatus {
    const s: EngineStatus = {
      state: this.state,
      slot: this.slot,
      publication: this.publication,
      appliedLsn: formatLsn(this.appliedLsn()),
      upstreamLsn: formatLsn(this.upstreamLsn),
      lagBytes: this.lagBytes(),
      ddlDetection: this.ddlMode,
      staleTables: this.store.staleOids().length,
      forwardedTables: (this.keeper?.forwarded() ?? []).map((f) => ({ table: f.table, reason: f.reason })),
      source: this.opts.follow ? 'nats' : 'slot',
    };
    if (this.opts.follow) s.nats = this.followStatus(this.opts.follow);
    if (this.lastError !== undefined) s.lastError = this.lastError;
    if (this.snapshot) s.snapshot = { ...this.snapshot };
    return s;
  }

  /**
   * Checks the upstream, makes publication, slot and snapshot if the replica
   * has none, and starts streaming. Resolves once streaming has begun.
   */
  async start(): Promise<void> {
    this.state = 'starting';
    try {
      await this.startInner();
    } catch (err) {
      this.state = 'error';
      this.lastError = errorMessage(err);
      await this.teardown();
      if (err instanceof StartupError) throw err;
      throw new StartupError(`replication failed to start: ${oneLine(errorMessage(err))}`);
    }
  }

  /** Finishes the transaction being applied (waits up to 5 s), acknowledges, closes. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const deadline = Date.now() + STOP_WAIT_MS;
    // A resync in progress is not waited for: it is redone after a restart.
    while (
      (this.applier.inTransaction || (this.draining && !this.reconciling)) &&
      this.repl &&
      !this.repl.isClosed &&
      Date.now() < deadline
    ) {
      await sleep(10);
    }
    this.gen++;
    this.queue.clear();
    // A transaction in progress goes, with the complete ones sharing its SQLite transaction (none acknowledged yet).
    if (this.applier.inTransaction) this.applier.rollback();
    else this.flushGroup();
    if (this.state === 'streaming') this.flushIdle(true);
    this.repl?.sendStatus(this.confirmLsn());
    await this.teardown();
    this.state = 'stopped';
  }

  // ---- startup ------------------------------------------------------------

  private async startInner(): Promise<void> {
    if (this.opts.follow) {
      await this.startFollowMode(this.opts.follow);
      return;
    }
    const { store } = this;
    const client = await this.connectNormal();
    this.lookup = client;
    const pre = await this.preflight(client);
    this.pre = pre;
    this.version = pre.version;
    // Before any slot exists, so every DDL after its consistent point is announced.
    await this.setupDdlDetection(client, pre);

    let repl: ReplicationConnection;
    try {
      repl = await ReplicationConnection.connect(this.opts.upstreamUrl);
    } catch (err) {
      throw this.connectError(err, 'replication');
    }
    this.repl = repl;
    const ident = await repl.identifySystem();
    this.timeline = ident.timeline;

    const storedSystem = store.getMeta('system_identifier');
    const storedDb = store.getMeta('database');
    if (storedDb !== undefined && storedDb !== ident.dbname) {
      // Most likely a wrong --upstream or --replica: never overwrite the file.
      throw new StartupError(
        `replica file ${store.path} was made from a different upstream database ("${storedDb}"); this upstream is database "${ident.dbname}": use a new replica file`,
      );
    }
    const storedSlot = store.getMeta('slot');
    const storedPub = store.getMeta('publication');
    if (this.opts.slot !== undefined && !SLOT_NAME_RE.test(this.opts.slot)) {
      throw new StartupError(
        `invalid slot name "${this.opts.slot}": use 1-63 lower case letters, digits and underscores`,
      );
    }

    let lost =
      store.snapshotComplete() && storedSlot && storedPub
        ? await this.replicaLost(client, store, storedSystem, ident, storedSlot)
        : undefined;
    const wantPub = publicationName(this.opts.filter);
    if (
      lost === undefined &&
      store.snapshotComplete() &&
      storedSlot &&
      storedPub &&
      this.opts.publication === undefined &&
      store.getMeta('publication_owned') !== 'false' &&
      storedPub !== wantPub
    ) {
      // --tables/--schemas changed: the slot cannot switch to a publication
      // created after its position (decoding older WAL would not find it).
      lost = {
        kind: 'filter_changed',
        reason: `the tables to replicate changed to ${describeFilter(this.opts.filter)} (publication "${storedPub}" → "${wantPub}")`,
        dropSlot: true,
      };
    }
    if (lost !== undefined) {
      // The replica can never catch up: take a fresh snapshot (the proxy
      // forwards every read until it completes; snapshot_state says so).
      this.logger.warn(
        { reason: lost.reason, slot: storedSlot },
        'replication: replica lost its upstream position; taking a fresh snapshot',
      );
      await this.initialSnapshot(
        client,
        repl,
        pre,
        ident.systemId,
        ident.dbname,
        lost.dropSlot ? storedSlot : undefined,
      );
    } else if (store.snapshotComplete() && storedSlot && storedPub) {
      if (this.opts.slot !== undefined && this.opts.slot !== storedSlot) {
        throw new StartupError(
          `replica file ${store.path} follows slot "${storedSlot}", not "${this.opts.slot}": drop --slot or use a new replica file`,
        );
      }
      if (this.opts.publication !== undefined && this.opts.publication !== storedPub) {
        throw new StartupError(
          `replica file ${store.path} follows publication "${storedPub}", not "${this.opts.publication}": drop --publication or use a new replica file`,
        );
      }
      this.slot = storedSlot;
      this.publication = storedPub;
      await this.preparePublication(
        client,
        pre,
        storedPub,
        this.opts.publication === undefined && store.getMeta('publication_owned') !== 'false',
      );
      const slotRow = await client.query<{ plugin: string | null; database: string | null }>(
        'SELECT plugin, database FROM pg_replication_slots WHERE slot_name = $1',
        [storedSlot],
      );
      if (slotRow.rows.length === 0) {
        throw new StartupError(
          `replication slot "${storedSlot}" recorded in ${store.path} no longer exists upstream, so changes since the replica's position are lost: delete the replica file to take a new snapshot`,
        );
      }
      this.applied = store.appliedLsn();
      if (store.getMeta('timeline') !== String(ident.timeline))
        store.setMeta('timeline', String(ident.timeline));
      await this.waitForSlotRelease(client, storedSlot);
      this.logger.info(
        { slot: storedSlot, publication: storedPub, appliedLsn: formatLsn(this.applied) },
        'replication: resuming',
      );
    } else {
      await this.initialSnapshot(client, repl, pre, ident.systemId, ident.dbname, storedSlot);
    }
    this.upstreamLsn = maxLsn(this.upstreamLsn, this.applied);
    await this.startStreaming(repl);
  }

  /**
   * Why a complete replica can no longer follow its upstream, if it cannot:
   * a different upstream cluster (system identifier changed: a restore, a
   * new server behind the same address), or a slot that is gone or was
   * invalidated (`wal_status = lost`, e.g. by max_slot_wal_keep_size) so
   * changes since the replica's position no longer exist upstream.
   */
  private async replicaLost(
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
      `SELECT wal_status, ${this.version >= 170000 ? 'invalidation_reason IS NOT NULL' : 'false'} AS invalidated
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
      this.logger.info(
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
  private async waitForSlotRelease(client: pg.Client, slot: string): Promise<void> {
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

  private async connectNormal(): Promise<pg.Client> {
    const c = new pg.Client({
      connectionString: this.opts.upstreamUrl,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      options: SESSION_OPTIONS,
      application_name: 'outpost',
      keepAlive: true,
    });
    // An idle lookup connection may drop; it is re-opened on next use.
    c.on('error', (err) =>
      this.logger.debug({ err: errorMessage(err) }, 'replication: lookup connection error'),
    );
    try {
      await c.connect();
    } catch (err) {
      c.end().catch(() => {});
      throw this.connectError(err, 'normal');
    }
    return c;
  }

  /** One clear line for why we could not connect. */
  private connectError(err: unknown, kind: 'normal' | 'replication'): StartupError {
    const e = err as { code?: string; message?: string };
    const where = describeUpstream(this.opts.upstreamUrl);
    const msg = oneLine(errorMessage(err));
    switch (e.code) {
      case 'ECONNREFUSED':
      case 'ENOTFOUND':
      case 'EHOSTUNREACH':
      case 'ENETUNREACH':
      case 'ETIMEDOUT':
      case 'EAI_AGAIN':
        return new StartupError(`cannot reach upstream Postgres at ${where}: ${msg}`);
      case '28P01':
        return new StartupError(`authentication to upstream Postgres at ${where} failed: ${msg}`);
      case '28000':
        return new StartupError(
          kind === 'replication'
            ? `upstream Postgres at ${where} refused the replication connection: ${msg} (pg_hba.conf needs a "replication" entry for this user)`
            : `upstream Postgres at ${where} refused the connection: ${msg}`,
        );
      case '3D000':
        return new StartupError(`upstream database does not exist: ${msg}`);
      case '42501':
        return new StartupError(
          `upstream role lacks the REPLICATION attribute needed for logical replication: ${msg} (run ALTER ROLE <user> REPLICATION as a superuser)`,
        );
    }
    if (/timeout/i.test(msg)) {
      return new StartupError(
        `cannot reach upstream Postgres at ${where}: no connection within ${CONNECT_TIMEOUT_MS / 1000} s`,
      );
    }
    return new StartupError(`cannot connect to upstream Postgres at ${where}: ${msg}`);
  }

  private async preflight(client: pg.Client): Promise<Preflight> {
    const r = await client.query<{
      version: string;
      wal_level: string;
      usr: string;
      db: string;
      rolsuper: boolean;
      rolreplication: boolean;
    }>(
      `SELECT current_setting('server_version_num') AS version, current_setting('wal_level') AS wal_level,
              current_user AS usr, current_database() AS db, r.rolsuper, r.rolreplication
         FROM pg_roles r WHERE r.rolname = current_user`,
    );
    const row = r.rows[0];
    if (!row) throw new StartupError('cannot read the upstream role (pg_roles has no row for current_user)');
    if (row.wal_level !== 'logical') {
      throw new StartupError(
        `wal_level is '${row.wal_level}' on the upstream; logical replication needs wal_level=logical: run ALTER SYSTEM SET wal_level = logical; then restart Postgres`,
      );
    }
    if (!row.rolsuper && !row.rolreplication) {
      throw new StartupError(
        `upstream role "${row.usr}" lacks the REPLICATION attribute needed to create and use a replication slot: run ALTER ROLE ${pg.escapeIdentifier(row.usr)} REPLICATION; as a superuser`,
      );
    }
    return { version: Number(row.version), user: row.usr, database: row.db, superuser: row.rolsuper };
  }

  /**
   * The publication must publish every change of every row and column, or
   * the replica would silently differ from upstream.
   */
  private async checkPublication(client: pg.Client, pre: Preflight, name: string): Promise<boolean> {
    const p = await client.query<{ ins: boolean; upd: boolean; del: boolean; trunc: boolean }>(
      'SELECT pubinsert AS ins, pubupdate AS upd, pubdelete AS del, pubtruncate AS trunc FROM pg_publication WHERE pubname = $1',
      [name],
    );
    const row = p.rows[0];
    if (!row) return false;
    if (!row.ins || !row.upd || !row.del || !row.trunc) {
      throw new StartupError(
        `publication "${name}" does not publish every operation; Outpost needs insert, update, delete and truncate: ALTER PUBLICATION ${pg.escapeIdentifier(name)} SET (publish = 'insert, update, delete, truncate')`,
      );
    }
    if (pre.version >= 150000) {
      const f = await client.query<{ rel: string; filtered: boolean }>(
        `SELECT pr.prrelid::regclass::text AS rel, pr.prqual IS NOT NULL AS filtered
           FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid
          WHERE p.pubname = $1 AND (pr.prqual IS NOT NULL OR pr.prattrs IS NOT NULL) LIMIT 1`,
        [name],
      );
      const bad = f.rows[0];
      if (bad) {
        throw new StartupError(
          `publication "${name}" has a ${bad.filtered ? 'row filter' : 'column list'} on ${bad.rel}; Outpost replicates whole tables: remove it or use another publication`,
        );
      }
    }
    return true;
  }

  private async ensurePublication(client: pg.Client, pre: Preflight): Promise<string> {
    if (this.opts.publication !== undefined) {
      const name = this.opts.publication;
      if (!(await this.checkPublication(client, pre, name))) {
        throw new StartupError(
          `publication "${name}" does not exist in upstream database "${pre.database}": create it (CREATE PUBLICATION ${pg.escapeIdentifier(name)} FOR TABLE …, listing tables with a primary key or replica identity) or omit --publication`,
        );
      }
      await this.preparePublication(client, pre, name, false);
      return name;
    }
    const name = publicationName(this.opts.filter);
    await this.preparePublication(client, pre, name, true);
    return name;
  }

  /**
   * Outpost's own publication is created (or migrated) and its membership
   * synchronised (publication.ts); any publication is then checked.
   */
  private async preparePublication(
    client: pg.Client,
    pre: Preflight,
    name: string,
    own: boolean,
  ): Promise<void> {
    this.keeper = new PublicationKeeper(name, { own, filter: this.opts.filter }, this.logger);
    await this.keeper.prepare(client, pre.version, pre.user);
    if (!(await this.checkPublication(client, pre, name))) {
      throw new StartupError(`publication "${name}" does not exist in upstream database "${pre.database}"`);
    }
  }

  /** CREATE_REPLICATION_SLOT for `this.slot`, failures explained in one line. */
  private async createSlot(
    repl: ReplicationConnection,
    pre: Preflight,
  ): Promise<{ consistentPoint: Lsn; snapshotName: string }> {
    try {
      return await repl.createSlot(this.slot, pre.version);
    } catch (err) {
      const e = err as { code?: string };
      const msg = oneLine(errorMessage(err));
      if (e.code === '42710') {
        throw new StartupError(
          `replication slot "${this.slot}" already exists upstream (another replica?): drop it with SELECT pg_drop_replication_slot('${this.slot}') or pass another --slot`,
        );
      }
      if (e.code === '42501') {
        throw new StartupError(
          `cannot create replication slot: ${msg} (the role needs the REPLICATION attribute: ALTER ROLE ${pg.escapeIdentifier(pre.user)} REPLICATION)`,
        );
      }
      if (e.code === '53400') {
        throw new StartupError(
          `cannot create replication slot: ${msg} (raise max_replication_slots upstream or drop unused slots)`,
        );
      }
      throw err;
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
  private async replaceSnapshot(
    repl: ReplicationConnection,
    pre: Preflight,
    systemId: string,
    database: string,
  ): Promise<void> {
    const { store } = this;
    store.db.transaction(() => {
      store.setMeta('snapshot_state', 'replacing');
      // Recorded before it exists, so an interrupted replacement can drop it.
      store.setMeta('next_slot', this.slot);
    })();
    this.opts.onCatalogChange?.('reset');
    await this.matviews.beforeSnapshot(await this.lookupClient());
    const created = await this.createSlot(repl, pre);
    this.logger.info(
      { slot: this.slot, publication: this.publication, consistentPoint: formatLsn(created.consistentPoint) },
      'replication: slot created, copying a fresh snapshot beside the old replica',
    );
    const old = store.allTables().map((t) => t.oid);
    const copyClient = await this.connectNormal();
    const started = performance.now();
    let copy: Awaited<ReturnType<typeof copyForResync>>;
    try {
      copy = await copyForResync({
        client: copyClient,
        store,
        publication: this.publication,
        snapshotName: created.snapshotName,
        // Every table is replaced (or dropped), whatever its shape.
        stale: old,
        logger: this.logger,
        isCancelled: () => this.stopping,
        matviews: this.matviewScope(),
      });
    } catch (err) {
      throw snapshotReadError(err);
    } finally {
      await copyClient.end().catch(() => {});
    }
    if (this.stopping) throw new Error('snapshot cancelled: stopping');
    store.db.transaction(() => {
      store.replaceTables(copy.targets, copy.fresh);
      this.recordOrigin(systemId, database);
      store.deleteMeta('resync_skip');
      store.setAppliedLsn(created.consistentPoint);
      store.setMeta('snapshot_state', 'complete');
      this.matviews.recordCopies(copy.fresh.map((f) => f.table.oid));
    })();
    this.skipBefore.clear();
    this.applier.forgetAll();
    this.opts.onCatalogChange?.('changed');
    this.snapshot = { tables: copy.fresh.length, tablesDone: copy.fresh.length, rows: copy.rows };
    this.snapshotApplied(
      created.consistentPoint,
      started,
      copy.rows,
      { tables: copy.fresh.length, dropped: copy.targets.size - copy.fresh.length },
      'replication: fresh snapshot swapped in',
    );
  }

  private async initialSnapshot(
    client: pg.Client,
    repl: ReplicationConnection,
    pre: Preflight,
    systemId: string,
    database: string,
    previousSlot: string | undefined,
  ): Promise<void> {
    const { store } = this;
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
          this.logger.warn({ slot }, 'replication: dropped the slot of an interrupted snapshot');
        }
      } catch (err) {
        throw new StartupError(
          `cannot drop replication slot "${slot}" left by an interrupted snapshot: ${oneLine(errorMessage(err))}`,
        );
      }
    }
    this.publication = await this.ensurePublication(client, pre);
    this.slot = this.opts.slot ?? `outpost_${randomBytes(6).toString('hex')}`;
    this.state = 'snapshot';
    this.visibleIdle = 0n;
    this.snapshot = { tables: 0, tablesDone: 0, rows: 0 };
    if (replacing) {
      await this.replaceSnapshot(repl, pre, systemId, database);
      return;
    }
    // Incomplete first, so a read path that re-reads the file stops serving
    // before the tables go (and a crash in between cannot leave an empty
    // replica marked complete).
    store.setMeta('snapshot_state', 'copying');
    this.opts.onCatalogChange?.('reset');
    store.clearData();
    // Record the slot before creating it, so a crash in between still lets
    // the next start drop it.
    store.db.transaction(() => {
      this.recordOrigin(systemId, database);
      store.deleteMeta('applied_lsn');
    })();

    await this.matviews.beforeSnapshot(client);
    const created = await this.createSlot(repl, pre);
    this.logger.info(
      { slot: this.slot, publication: this.publication, consistentPoint: formatLsn(created.consistentPoint) },
      'replication: slot created, copying snapshot',
    );

    // A separate connection for the copy: the lookup one stays free.
    const copyClient = await this.connectNormal();
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
        publication: this.publication,
        snapshotName: created.snapshotName,
        logger: this.logger,
        // Stopping mid-copy: abandon it (redone from scratch on the next start).
        isCancelled: () => this.stopping,
        matviews: this.matviewScope(),
        onProgress: (p) => {
          this.snapshot = { ...p };
          this.metrics.snapshotRows.set(p.rows);
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
      this.matviews.recordCopies(store.allTables().map((t) => t.oid));
    })();
    this.snapshotApplied(
      created.consistentPoint,
      started,
      progress.rows,
      { tables: progress.tables },
      'replication: snapshot complete',
    );
  }

  /** Where the replica comes from, with its slot (in the caller's SQLite transaction). */
  private recordOrigin(systemId: string, database: string): void {
    const { store } = this;
    store.setMeta('slot', this.slot);
    store.setMeta('publication', this.publication);
    // Outpost's own publication (not --publication): `outpost drop-slot` may drop it with the last slot.
    store.setMeta('publication_owned', this.opts.publication === undefined ? 'true' : 'false');
    store.setMeta('system_identifier', systemId);
    store.setMeta('database', database);
    store.setMeta('timeline', String(this.timeline));
    store.deleteMeta('next_slot');
  }

  /** A snapshot committed at `lsn`: the replica's position, logged and announced. */
  private snapshotApplied(
    lsn: Lsn,
    started: number,
    rows: number,
    fields: Record<string, number>,
    msg: string,
  ): void {
    this.applied = lsn;
    this.metrics.appliedLsn.set(Number(lsn));
    this.opts.tap?.onSnapshot?.(lsn);
    const secs = (performance.now() - started) / 1000;
    this.logger.info(
      {
        ...fields,
        rows,
        seconds: Math.round(secs * 10) / 10,
        rowsPerSecond: Math.round(rows / Math.max(secs, 1e-3)),
        appliedLsn: formatLsn(lsn),
      },
      msg,
    );
    this.emit('applied', lsn);
  }

  // ---- follow mode (an edge: the hub's NATS stream is the input) -----------

  /**
   * Checks the replica and upstream (nothing is created there), bootstraps
   * an empty replica, and starts following the stream from the replica's
   * stored position.
   */
  private async startFollowMode(follow: FollowOptions): Promise<void> {
    const { store } = this;
    checkFollowable(store, follow);
    const client = await this.connectNormal();
    this.lookup = client;
    const pre = await this.preflight(client);
    this.pre = pre;
    this.version = pre.version;
    await this.setupDdlDetection(client, pre);
    this.publication =
      store.getMeta('publication') ?? this.opts.publication ?? publicationName(this.opts.filter);
    this.follower = await NatsFollower.connect(follow, this.logger, {
      isCancelled: () => this.stopping,
      waiting: (why) => {
        this.lastError = `waiting: ${why}`;
      },
    });
    this.lastError = undefined;
    if (this.stopping) throw new Error('stopping');
    await this.followBootstrapIfNeeded(false);
    this.startFollowing(follow);
  }

  /**
   * An empty replica (or one of another upstream cluster, or one whose
   * position left the stream's retention: `force`) gets its contents from a
   * snapshot, with the stream position matching it (follow.ts).
   */
  private async followBootstrapIfNeeded(force: boolean): Promise<void> {
    const { store } = this;
    const follow = this.opts.follow;
    const follower = this.follower;
    const pre = this.pre;
    if (!follow || !follower || !pre) throw new Error('follow mode is not set up');
    let repl: ReplicationConnection;
    try {
      repl = await ReplicationConnection.connect(this.opts.upstreamUrl, 'outpost-edge');
    } catch (err) {
      throw this.connectError(err, 'replication');
    }
    this.resyncConnections.add(repl);
    try {
      const ident = await repl.identifySystem();
      this.timeline = ident.timeline;
      const storedDb = store.getMeta('database');
      if (storedDb !== undefined && storedDb !== ident.dbname) {
        throw new StartupError(
          `replica file ${store.path} was made from a different upstream database ("${storedDb}"); this upstream is database "${ident.dbname}": use a new replica file`,
        );
      }
      const storedSystem = store.getMeta('system_identifier');
      const otherCluster = storedSystem !== undefined && storedSystem !== ident.systemId;
      if (store.snapshotComplete() && !otherCluster && !force) {
        this.applied = store.appliedLsn();
        this.logger.info(
          { stream: follow.stream, seq: storedSeq(store), appliedLsn: formatLsn(this.applied) },
          'follow: resuming',
        );
        return;
      }
      if (otherCluster) {
        this.logger.warn(
          { from: storedSystem, to: ident.systemId },
          'follow: upstream system identifier changed; taking a fresh snapshot',
        );
      }
      this.state = 'snapshot';
      this.visibleIdle = 0n;
      let said = '';
      await waitForHub({
        follower,
        publicationExists: async () =>
          this.checkPublication(await this.lookupClient(), pre, this.publication),
        isCancelled: () => this.stopping,
        waiting: (why) => {
          this.lastError = `waiting: ${why}`;
          if (why !== said) this.logger.warn({ stream: follow.stream }, `follow: waiting: ${why}`);
          said = why;
        },
      });
      this.lastError = undefined;
      const reset = this.resetWait;
      if (reset?.snapshot) {
        await waitForResetSnapshot({
          follower,
          stream: follow.stream,
          seq: reset.seq,
          isCancelled: () => this.stopping,
          waiting: (why) => {
            this.lastError = `waiting: ${why}`;
          },
        });
        this.lastError = undefined;
      }
      this.snapshot = { tables: 0, tablesDone: 0, rows: 0 };
      const fetchStarted = performance.now();
      const fromObject = await objectSnapshot({
        ...(reset ? { minSeq: reset.seq } : {}),
        store,
        follower,
        stream: follow.stream,
        systemId: ident.systemId,
        database: ident.dbname,
        publicationOwned: this.opts.publication === undefined,
        logger: this.logger,
        onCatalogChange: (kind) => this.opts.onCatalogChange?.(kind),
      });
      if (fromObject) {
        this.skipBefore.clear();
        this.applier.forgetAll();
        this.followSeq = fromObject.seq;
        this.followSeqWritten = fromObject.seq;
        const { tables, rows } = fromObject;
        this.snapshot = { tables, tablesDone: tables, rows };
        this.snapshotApplied(
          fromObject.lsn,
          fetchStarted,
          rows,
          { tables, seq: fromObject.seq },
          'follow: replica installed from the object-store snapshot',
        );
        return;
      }
      const copyClient = await this.connectNormal();
      this.resyncConnections.add(copyClient);
      const started = performance.now();
      let r: Awaited<ReturnType<typeof followSnapshot>>;
      try {
        r = await followSnapshot({
          store,
          repl,
          copyClient,
          version: pre.version,
          publication: this.publication,
          publicationOwned: this.opts.publication === undefined,
          follower,
          stream: follow.stream,
          systemId: ident.systemId,
          database: ident.dbname,
          timeline: ident.timeline,
          logger: this.logger,
          matviews: this.matviews,
          matviewScope: this.matviewScope(),
          isCancelled: () => this.stopping,
          onProgress: (p) => {
            this.snapshot = { ...p };
            this.metrics.snapshotRows.set(p.rows);
          },
          onCatalogChange: (kind) => this.opts.onCatalogChange?.(kind),
        });
      } catch (err) {
        throw snapshotReadError(err);
      } finally {
        this.resyncConnections.delete(copyClient);
        await copyClient.end().catch(() => {});
      }
      this.skipBefore.clear();
      this.applier.forgetAll();
      this.followSeq = r.seq;
      this.followSeqWritten = r.seq;
      this.snapshot = { tables: r.tables, tablesDone: r.tables, rows: r.rows };
      this.snapshotApplied(
        r.lsn,
        started,
        r.rows,
        { tables: r.tables, seq: r.seq },
        'follow: snapshot complete',
      );
    } finally {
      this.resyncConnections.delete(repl);
      // Drops the temporary slot.
      await repl.close().catch(() => {});
    }
  }

  /** A new generation reading the stream from the replica's stored position. */
  private startFollowing(follow: FollowOptions): void {
    const follower = this.follower;
    if (!follower) throw new Error('follow mode is not set up');
    const gen = ++this.gen;
    this.queue.clear();
    this.relations.clear();
    this.skipping = false;
    this.checkQueued = false;
    this.paused = false;
    this.loadSkipRules();
    this.followSeq = storedSeq(this.store);
    this.followSeqWritten = this.followSeq;
    this.upstreamLsn = maxLsn(this.upstreamLsn, this.applied);
    follower.start(this.followSeq + 1, {
      part: (p) => this.enqueuePart(gen, p),
      heartbeat: (h) => this.enqueueHeartbeat(gen, h),
      reset: (r) => this.enqueueReset(gen, r),
      appliedLsn: () => this.appliedLsn(),
      lost: (err) => this.retentionLost(gen, err),
    });
    this.state = 'streaming';
    this.attempt = 0;
    this.lastIdleWrite = Date.now();
    this.startTicking();
    // Schema changes the stream may not show (a table added to the publication meanwhile).
    this.enqueueCheck();
    this.logger.info(
      { stream: follow.stream, fromSeq: this.followSeq + 1, appliedLsn: formatLsn(this.applied) },
      'follow: following the stream',
    );
  }

  private enqueuePart(gen: number, p: FollowedPart): void {
    if (gen !== this.gen) return;
    const lsn = p.header.finalLsn;
    this.upstreamLsn = maxLsn(this.upstreamLsn, lsn);
    const n = p.records.length;
    for (let i = 0; i < n; i++) {
      const m: FollowedXLog = {
        kind: 'xlog',
        dataStart: lsn,
        walEnd: lsn,
        sendTime: 0n,
        data: p.records[i]!,
      };
      // The Commit ends the last part: only there is the replica at a boundary of the stream.
      if (i === n - 1 && p.header.last) {
        m.natsSeq = p.seq;
        m.natsTime = p.header.time;
      }
      // NATS hands each message its own buffer: no copy needed.
      this.push({ gen, msg: m });
    }
  }

  private enqueueHeartbeat(gen: number, h: FollowedHeartbeat): void {
    if (gen !== this.gen) return;
    this.upstreamLsn = maxLsn(this.upstreamLsn, h.header.lsn);
    this.push({ gen, msg: { kind: 'hb', lsn: h.header.lsn, seq: h.seq, time: h.header.time } });
  }

  private enqueueReset(gen: number, r: FollowedReset): void {
    if (gen !== this.gen) return;
    const { lsn, snapshot } = r.header;
    this.push({ gen, msg: { kind: 'reset', lsn, seq: r.seq, snapshot } });
  }

  /**
   * A reset in stream order: the hub's replica was remade at `lsn` and the
   * changes before it that the stream lacks are never coming. A replica at or
   * past `lsn` (a snapshot taken after the hub's) has them; any other must not
   * serve another read nor apply another change until it is re-bootstrapped
   * from a snapshot covering this message.
   */
  private onReset(m: { lsn: Lsn; seq: number; snapshot: boolean }): void {
    if (!this.applier.inTransaction && !this.skipping && m.lsn <= this.applied) {
      this.flushGroup();
      this.followSeq = m.seq;
      return;
    }
    const { store } = this;
    this.logger.warn(
      { seq: m.seq, lsn: formatLsn(m.lsn), appliedLsn: formatLsn(this.applied), hubSnapshot: m.snapshot },
      'follow: the hub reset the stream (its replica was remade past it); forwarding every read and bootstrapping afresh',
    );
    this.rebootstrap = true;
    this.resetWait = { seq: m.seq, snapshot: m.snapshot };
    this.abandon(new Error(`stream reset at seq ${m.seq}`));
    // Outside any transaction now (abandon rolled the open one back): durable, so a
    // restart meanwhile bootstraps too (its stored seq is before the reset anyway).
    if (store.snapshotComplete()) store.setMeta('snapshot_state', 'replacing');
    this.opts.onCatalogChange?.('reset');
    this.lastError = `waiting: the hub reset the stream at seq ${m.seq}: re-bootstrapping; reads are forwarded upstream meanwhile`;
  }

  /**
   * The hub has published everything up to `lsn` and nothing more: like a
   * keepalive, the replica may advance its position there (read-your-writes
   * and --max-lag rely on it when upstream writes touch no replicated table).
   */
  private onHeartbeat(m: { lsn: Lsn; seq: number; time: number }): void {
    if (this.applier.inTransaction || this.skipping) return;
    this.flushGroup();
    this.followSeq = m.seq;
    this.followTime = m.time;
    if (m.lsn > this.applied) {
      this.pendingIdle = maxLsn(this.pendingIdle, m.lsn);
      this.flushIdle(false);
    }
  }

  private retentionLost(gen: number, err: RetentionLostError): void {
    if (gen !== this.gen || this.stopping) return;
    this.logger.warn({ err: err.message }, 'follow: the replica left the stream; bootstrapping afresh');
    this.rebootstrap = true;
    this.abandon(err);
  }

  /** After a failure: bootstrap again if the stream lost the replica's position, then follow from it. */
  private async resumeFollowing(): Promise<void> {
    const follow = this.opts.follow;
    if (!follow || this.stopping) return;
    try {
      if (this.rebootstrap) {
        await this.followBootstrapIfNeeded(true);
        this.rebootstrap = false;
        this.resetWait = undefined;
      }
      this.startFollowing(follow);
    } catch (err) {
      this.lastError = oneLine(errorMessage(err));
      this.logger.warn({ err: this.lastError, attempt: this.attempt }, 'follow: restart failed');
      this.state = 'reconnecting';
      this.scheduleReconnect();
    }
  }

  private followStatus(follow: FollowOptions): FollowStatus {
    const f = this.follower?.status();
    const s: FollowStatus = {
      stream: follow.stream,
      consumer: follow.consumer,
      seq: this.followSeq,
      connected: f?.connected ?? false,
      heardAt: f?.heardAt ?? 0,
      hubTime: this.followTime,
    };
    if (f?.lastError !== undefined) s.lastError = f.lastError;
    return s;
  }

  // ---- streaming ----------------------------------------------------------

  private async startStreaming(repl: ReplicationConnection): Promise<void> {
    const gen = ++this.gen;
    this.queue.clear();
    this.relations.clear();
    this.skipping = false;
    this.checkQueued = false;
    // As stored: a rolled-back transaction may have pruned rules in memory.
    this.loadSkipRules();
    repl.on('xlog', (m: XLogData) => this.enqueue({ gen, msg: m }));
    repl.on('keepalive', (m: Keepalive) => {
      if (gen !== this.gen) return;
      this.upstreamLsn = maxLsn(this.upstreamLsn, m.walEnd);
      // Answer at once with what is committed (never more); the queued copy
      // of the keepalive may then advance the idle position.
      if (m.replyRequested) this.sendStatus();
      this.enqueue({ gen, msg: m });
    });
    repl.on('close', (err?: Error) =>
      this.connectionLost(gen, err ?? new Error('replication connection closed')),
    );
    // With a tap, from what it has: the slot (and upstream) may be ahead of it only up to what it confirmed.
    const from = this.confirmLsn();
    this.opts.tap?.onStart(from);
    await repl.start(this.slot, from, this.publication);
    this.state = 'streaming';
    this.attempt = 0;
    this.lastIdleWrite = Date.now();
    this.sendStatus();
    this.startTicking();
    // Schema changes made while Outpost was away (or before the trigger
    // existed): compare every table, storage identity included.
    this.enqueueCheck();
    this.logger.info(
      { slot: this.slot, publication: this.publication, from: formatLsn(this.applied) },
      'replication: streaming',
    );
  }

  private enqueue(item: QueueItem): void {
    if (item.gen !== this.gen) return;
    if (item.msg.kind === 'xlog') {
      this.upstreamLsn = maxLsn(this.upstreamLsn, item.msg.walEnd);
      // Not applied before the connection reads again (the drain loop is
      // awaiting): its bytes would be overwritten; keep a copy.
      if (this.draining) item = { gen: item.gen, msg: detachXLog(item.msg) };
    }
    this.push(item);
  }

  private push(item: QueueItem): void {
    this.queue.push(item);
    if (!this.paused && this.queue.length >= QUEUE_HIGH_WATER && (this.repl || this.follower)) {
      this.paused = true;
      this.repl?.pause();
      this.follower?.pause();
    }
    if (!this.draining) void this.drain();
  }

  private startTicking(): void {
    if (!this.tickTimer) {
      this.tickTimer = setInterval(() => this.tick(), IDLE_WRITE_INTERVAL_MS);
      this.tickTimer.unref();
    }
  }

  private enqueueCheck(): void {
    if (this.checkQueued) return;
    this.checkQueued = true;
    this.enqueue({ gen: this.gen, msg: { kind: 'check' } });
  }

  /**
   * Applies queued messages in order. Awaits only for upstream catalog
   * lookups (DDL messages, checks) and resynchronisations, which run between
   * transactions while the rest of the stream waits in the queue.
   */
  private async drain(): Promise<void> {
    this.draining = true;
    let gen = this.gen;
    let since = performance.now();
    try {
      const tap = this.opts.tap;
      for (;;) {
        const item = this.queue.shift();
        if (!item) break;
        gen = item.gen;
        if (item.gen !== this.gen) continue;
        if (tap) {
          if (item.msg.kind === 'xlog') tap.onMessage(item.msg.data);
          else if (item.msg.kind === 'keepalive') tap.onIdle(item.msg.walEnd);
        }
        const pending = this.handle(item.msg);
        if (pending) await pending;
        // The proxy shares this event loop: a long run of changes (a large
        // transaction, a backlog) yields every few milliseconds so local
        // reads and client I/O never wait long behind it. (The reader sees
        // the last committed state meanwhile; WAL mode keeps them apart.)
        if (performance.now() - since > APPLY_SLICE_MS) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          since = performance.now();
        }
        // After the message, not before: the first one of a drain may be a view of the socket's buffer.
        if (tap) {
          const full = tap.ready();
          if (full) await full;
        }
        if (this.reconcileDue()) await this.reconcile(item.gen);
        if (this.paused && this.queue.length <= QUEUE_LOW_WATER) {
          this.paused = false;
          this.repl?.resume();
          this.follower?.resume();
        }
      }
    } catch (err) {
      this.applyFailed(gen, err);
    } finally {
      this.draining = false;
    }
    this.updateLagMetric();
  }

  private handle(m: FollowedXLog | Keepalive | Control): Promise<void> | undefined {
    if (m.kind === 'keepalive') {
      if (!this.applier.inTransaction && !this.skipping) {
        // The server has nothing more for now: commit what is applied.
        this.flushGroup();
        // Everything received is applied: the slot may move to the server's WAL end.
        if (m.walEnd > this.applied) {
          this.pendingIdle = maxLsn(this.pendingIdle, m.walEnd);
          this.flushIdle(false);
        }
      }
      return undefined;
    }
    if (m.kind === 'check') {
      this.checkQueued = false;
      return this.runCheck('all', new Set());
    }
    if (m.kind === 'nudge') return undefined;
    if (m.kind === 'matviews') return this.checkMatviews();
    if (m.kind === 'membership') return this.checkMembership();
    if (m.kind === 'reset') {
      this.onReset(m);
      return undefined;
    }
    if (m.kind === 'hb') {
      this.onHeartbeat(m);
      return undefined;
    }
    // A transaction's end in the stream: stored with whatever commit comes next.
    if (m.natsSeq !== undefined) {
      this.followSeq = m.natsSeq;
      this.followTime = m.natsTime ?? 0;
    }
    const msg = decodePgOutput(m.data);
    switch (msg.tag) {
      // https://www.postgresql.org/docs/current/protocol-logicalrep-message-formats.html (Begin)
      case 'begin':
        if (this.applier.inTransaction) throw new Error('pgoutput: Begin inside a transaction');
        // Already applied (can only happen if upstream resends from an older point).
        this.skipping = msg.finalLsn < this.applied;
        this.txFinal = msg.finalLsn;
        if (!this.skipping) this.applier.begin();
        return undefined;
      // (Commit) the end LSN is where the next transaction starts: store and ack it.
      case 'commit': {
        if (this.skipping) {
          this.skipping = false;
          return undefined;
        }
        if (this.skipBefore.size > 0) this.pruneSkipRules(msg.endLsn);
        this.applier.commit(msg.endLsn);
        this.metrics.transactionsApplied.inc();
        // Catching up on many small transactions, one SQLite commit each would
        // dominate: they share one until the queue runs dry (next turn of the
        // event loop) or the group is big or old enough.
        if (this.applier.groupSize >= GROUP_MAX_TRANSACTIONS || this.applier.groupAge >= GROUP_MAX_MS) {
          this.flushGroup();
        } else this.scheduleFlush();
        return undefined;
      }
      // (Relation) sent before the first change of a table in each session and
      // after its schema changes; checked against the catalog at the next change.
      case 'relation':
        this.relations.set(msg.oid, {
          msg,
          identity: msg.columns.flatMap((c, i) => (c.isKey ? [i] : [])),
          version: -1,
          applied: undefined,
        });
        return undefined;
      case 'insert': {
        if (this.skipping) return undefined;
        const rel = this.target(msg.relationOid);
        if (!rel) return undefined;
        this.applier.insert(rel, msg.newTuple);
        this.changeCounts.insert++;
        return undefined;
      }
      case 'update': {
        if (this.skipping) return undefined;
        const rel = this.target(msg.relationOid);
        if (!rel) return undefined;
        this.applier.update(rel, msg.oldKind, msg.oldTuple, msg.newTuple);
        this.changeCounts.update++;
        return undefined;
      }
      case 'delete': {
        if (this.skipping) return undefined;
        const rel = this.target(msg.relationOid);
        if (!rel) return undefined;
        this.applier.delete(rel, msg.oldKind, msg.oldTuple);
        this.changeCounts.delete++;
        return undefined;
      }
      case 'truncate':
        if (this.skipping) return undefined;
        for (const oid of msg.relationOids) {
          const rel = this.target(oid);
          if (rel) this.applier.truncate(rel.table);
        }
        this.metrics.changesApplied.inc({ kind: 'truncate' });
        return undefined;
      // Written by the event trigger (ddl.ts) inside the DDL's transaction.
      case 'message':
        if (this.skipping || msg.prefix !== DDL_MESSAGE_PREFIX || !this.applier.inTransaction) {
          return undefined;
        }
        return this.onDdlMessage(parseDdlMessage(msg.content));
      // Type and Origin carry nothing the replica stores.
      default:
        return undefined;
    }
  }

  /**
   * Where a change to table `oid` goes, or undefined to skip it: the table
   * was resynchronised from a snapshot that already holds this transaction
   * (commit before the snapshot's consistent point), or is stale, or the
   * stream describes it differently from the catalog (a schema change:
   * the table becomes stale and is resynchronised after this transaction).
   */
  private target(oid: number): AppliedRelation | undefined {
    if (this.skipBefore.size > 0) {
      const before = this.skipBefore.get(oid);
      if (before !== undefined && this.txFinal < before) return undefined;
    }
    if (this.store.isStale(oid)) return undefined;
    const rel = this.relations.get(oid);
    if (!rel) throw new Error(`pgoutput: change for relation ${oid} before its Relation message`);
    if (rel.version === this.store.catalogVersion && rel.applied) return rel.applied;
    const table = this.store.tableByOid(oid);
    const reason = table ? relationMismatch(rel.msg, table) : 'new table';
    if (!table || reason) {
      this.markStale(oid, reason ?? 'changed', rel.msg);
      return undefined;
    }
    rel.applied = { table, identity: rel.identity, full: rel.msg.replicaIdentity === 'f' };
    rel.version = this.store.catalogVersion;
    return rel.applied;
  }

  private markStale(oid: number, reason: string, rel?: RelationMessage): void {
    if (this.store.isStale(oid)) return;
    this.store.markStale(oid);
    // Hidden from the read path before the transaction that skips its changes commits.
    this.opts.onCatalogChange?.('stale');
    const t = this.store.tableByOid(oid);
    const name = t ? `${t.schema}.${t.name}` : rel ? `${rel.schema}.${rel.name}` : String(oid);
    this.logger.info(
      { table: name, oid, reason },
      'replication: table changed upstream; hidden from the read path until resynchronised',
    );
  }

  /** A DDL transaction: find the tables it made differ from the replica. */
  private async onDdlMessage(n: DdlNotice): Promise<void> {
    // Privileges, policies and ownership may have changed (AccessControl);
    // not by a REFRESH, which apps may run every few seconds, nor by a
    // publication change (Outpost's own membership updates are DDL too).
    if (refreshedMatviews(n.tag, n.tables).length === 0 && !/ PUBLICATION$/.test(n.tag)) {
      this.emit('ddl', n.tag);
    }
    // A rewrite shows only as a new storage identity, and only the tables the
    // DDL named are checked for it (TRUNCATE changes it too, harmlessly).
    await this.runCheck(n.unknown ? 'all' : n.tables, n.tag === 'ALTER TYPE' ? n.types : new Set());
    // REFRESH ... CONCURRENTLY keeps the relfilenode: only the tag says the rows changed.
    for (const oid of refreshedMatviews(n.tag, n.tables)) {
      // A copy taken after this transaction committed already has the refresh.
      if ((this.skipBefore.get(oid) ?? 0n) > this.txFinal) continue;
      if (this.store.tableByOid(oid)) this.markStale(oid, 'materialized view refreshed');
    }
  }

  /**
   * With the event trigger, the publication's membership is also checked
   * every few seconds: the lookup after a DDL message can run before that
   * transaction is visible to other sessions (its commit record is decoded
   * before the backend has finished committing), and would then miss a key
   * added or dropped by it until the next DDL. The catalogs are compared
   * only when the membership changed.
   */
  private async checkMembership(): Promise<void> {
    const gen = this.gen;
    const changed = await this.keeper?.refresh(await this.lookupClient());
    if (changed && gen === this.gen) await this.runCheck('all', new Set());
  }

  /** Without the event trigger: matviews whose tuple counters moved since their copy (matviews.ts). */
  private async checkMatviews(): Promise<void> {
    const gen = this.gen;
    const changed = await this.matviews.changed(await this.lookupClient());
    if (gen !== this.gen) return;
    for (const oid of changed) this.markStale(oid, 'materialized view refreshed (tuple counters changed)');
  }

  /**
   * Compares the upstream catalog (now) with the replica's and marks every
   * differing table stale. Tables using a type in `types` are marked too
   * (ALTER TYPE ... RENAME VALUE changes stored text and nothing else).
   */
  private async runCheck(storageOf: 'all' | ReadonlySet<number>, types: ReadonlySet<number>): Promise<void> {
    const gen = this.gen;
    const client = await this.lookupClient();
    // Tables that gained or lost a replica identity join or leave Outpost's publication first.
    await this.keeper?.refresh(client);
    const upstream = await fetchCatalog(
      client,
      await replicatedOids(client, this.publication, this.matviewScope()),
    );
    const typeOids = new Set<number>();
    if (types.size > 0) {
      const r = await client.query<{ oid: string }>(
        'SELECT oid::int8::text AS oid FROM pg_type WHERE oid = ANY($1::oid[]) OR typelem = ANY($1::oid[])',
        [[...types]],
      );
      for (const row of r.rows) typeOids.add(Number(row.oid));
    }
    if (gen !== this.gen) return;
    const forwarded = this.keeper?.forwardedJson();
    // For `outpost status` (in the current SQLite transaction, if any: a rollback rewrites it at the next check).
    if (forwarded !== undefined && this.store.getMeta('forwarded_tables') !== forwarded) {
      this.store.setMeta('forwarded_tables', forwarded);
    }
    const diff = catalogDifferences(this.store.allTables(), upstream.map(stripUpstream), storageOf);
    for (const t of this.store.allTables()) {
      if (t.columns.some((c) => typeOids.has(c.typeOid))) diff.add(t.oid);
    }
    for (const oid of diff) this.markStale(oid, 'catalog differs from upstream');
  }

  /**
   * Commits the complete upstream transactions applied so far (one SQLite
   * transaction), then reports and acknowledges the new position.
   */
  private flushGroup(): void {
    const lsn = this.applier.flush();
    if (lsn === undefined) return;
    this.follower?.committed(this.followSeqWritten);
    this.applied = lsn;
    this.metrics.appliedLsn.set(Number(lsn));
    for (const kind of ['insert', 'update', 'delete'] as const) {
      if (this.changeCounts[kind] > 0) {
        this.metrics.changesApplied.inc({ kind }, this.changeCounts[kind]);
        this.changeCounts[kind] = 0;
      }
    }
    if (this.applier.missedRows > 0) {
      this.logger.warn(
        { rows: this.applier.missedRows, lsn: formatLsn(lsn) },
        'replication: update/delete found no row in the replica (replica diverged from upstream)',
      );
      this.applier.missedRows = 0;
    }
    this.emit('applied', lsn);
    this.scheduleAck();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    const gen = this.gen;
    setImmediate(() => {
      this.flushScheduled = false;
      if (gen !== this.gen) return;
      try {
        this.flushGroup();
      } catch (err) {
        this.applyFailed(gen, err);
      }
    });
  }

  private reconcileDue(): boolean {
    return (
      this.store.hasStale() &&
      this.state === 'streaming' &&
      !this.stopping &&
      !this.applier.inTransaction &&
      !this.skipping &&
      Date.now() >= this.nextReconcileAt
    );
  }

  /**
   * Brings every stale table (and any other table that differs) in line with
   * upstream: a temporary slot exports a snapshot whose consistent point S
   * follows everything the stream has delivered; the tables are copied under
   * it and swapped in, and from then on the stream skips their changes in
   * transactions that committed before S (the copy holds them). The stream
   * is not applied meanwhile, so no transaction after S can reach a table
   * before its copy. On failure the tables stay hidden and this is retried.
   */
  private async reconcile(gen: number): Promise<void> {
    const stale = this.store.staleOids();
    const started = performance.now();
    let repl: ReplicationConnection | undefined;
    let client: pg.Client | undefined;
    // CREATE_REPLICATION_SLOT waits for transactions that hold an xid upstream.
    const waiting = setTimeout(
      () =>
        this.logger.warn(
          { tables: stale.length },
          'resync: waiting for open upstream write transactions to end before taking a snapshot',
        ),
      SLOT_WAIT_WARN_MS,
    );
    waiting.unref();
    this.reconciling = true;
    // Its copy and swap are SQLite transactions of their own.
    this.flushGroup();
    try {
      await this.matviews.beforeSnapshot(await this.lookupClient());
      repl = await ReplicationConnection.connect(this.opts.upstreamUrl, 'outpost-resync');
      this.resyncConnections.add(repl);
      const created = await repl.createSlot(
        `outpost_resync_${randomBytes(6).toString('hex')}`,
        this.version,
        {
          temporary: true,
        },
      );
      clearTimeout(waiting);
      if (gen !== this.gen) return;
      client = await this.connectNormal();
      this.resyncConnections.add(client);
      const copy = await copyForResync({
        client,
        store: this.store,
        publication: this.publication,
        snapshotName: created.snapshotName,
        stale,
        logger: this.logger,
        isCancelled: () => gen !== this.gen || this.stopping,
        matviews: this.matviewScope(),
      });
      if (gen !== this.gen || this.stopping) throw new Error('resync cancelled');
      const point = created.consistentPoint;
      const names = [...copy.targets].map((oid) => {
        const t = copy.fresh.find((f) => f.table.oid === oid)?.table ?? this.store.tableByOid(oid);
        return t ? `${t.schema}.${t.name}` : String(oid);
      });
      this.store.db.transaction(() => {
        this.store.replaceTables(copy.targets, copy.fresh);
        for (const oid of copy.targets)
          this.skipBefore.set(oid, maxLsn(this.skipBefore.get(oid) ?? 0n, point));
        this.writeSkipRules();
        this.matviews.recordCopies(copy.fresh.map((f) => f.table.oid));
      })();
      this.applier.forgetAll();
      this.opts.onCatalogChange?.('changed');
      this.reconcileFailures = 0;
      this.metrics.tablesResynced.inc(undefined, copy.targets.size);
      this.logger.info(
        {
          tables: names,
          copied: copy.fresh.length,
          rows: copy.rows,
          seconds: Math.round((performance.now() - started) / 100) / 10,
          consistentPoint: formatLsn(point),
        },
        'resync: tables replaced from a fresh snapshot',
      );
    } catch (err) {
      if (gen !== this.gen || this.stopping) return;
      this.reconcileFailures++;
      const delay = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(this.reconcileFailures, 5));
      this.nextReconcileAt = Date.now() + delay;
      this.logger.warn(
        { err: oneLine(errorMessage(err)), retryInMs: delay, tables: stale.length },
        'resync: failed; the tables stay hidden from the read path until a retry succeeds',
      );
    } finally {
      this.reconciling = false;
      clearTimeout(waiting);
      for (const c of [repl, client]) {
        if (!c) continue;
        this.resyncConnections.delete(c);
        if (c instanceof ReplicationConnection) await c.close().catch(() => {});
        else await Promise.race([c.end().catch(() => {}), sleep(2000)]);
      }
    }
  }

  /** Rules whose point the replica has passed can no longer match a transaction. */
  private pruneSkipRules(upTo: Lsn): void {
    let changed = false;
    for (const [oid, before] of this.skipBefore) {
      if (before <= upTo) {
        this.skipBefore.delete(oid);
        changed = true;
      }
    }
    if (changed) this.writeSkipRules();
  }

  private writeSkipRules(): void {
    if (this.skipBefore.size === 0) this.store.deleteMeta('resync_skip');
    else {
      this.store.setMeta(
        'resync_skip',
        JSON.stringify(Object.fromEntries([...this.skipBefore].map(([oid, lsn]) => [oid, formatLsn(lsn)]))),
      );
    }
  }

  private loadSkipRules(): void {
    this.skipBefore.clear();
    const raw = this.store.getMeta('resync_skip');
    if (!raw) return;
    for (const [oid, lsn] of Object.entries(JSON.parse(raw) as Record<string, string>)) {
      this.skipBefore.set(Number(oid), parseLsn(lsn));
    }
  }

  /**
   * Event trigger when the role may create it (superuser) or one is already
   * there; else periodic catalog comparison.
   */
  private async setupDdlDetection(client: pg.Client, pre: Preflight): Promise<void> {
    // An edge only looks: the hub installs the hook, whose messages reach edges through the stream.
    if (pre.superuser && !this.opts.follow) {
      try {
        const r = await installDdlTrigger(client);
        if (r.created.length > 0)
          this.logger.info({ created: r.created }, 'replication: installed the DDL hook');
        for (const w of r.warnings) this.logger.warn(`replication: ${w}`);
      } catch (err) {
        // Someone else's object where Outpost's belongs: refuse (see ddl.ts).
        if (err instanceof StartupError) throw err;
        this.logger.warn(
          { err: oneLine(errorMessage(err)) },
          'replication: cannot install the DDL event trigger',
        );
      }
    }
    let active = false;
    try {
      active = await ddlTriggerActive(client);
    } catch {
      active = false;
    }
    this.ddlMode = active ? 'event-trigger' : 'polling';
    if (active) {
      this.logger.info({ function: DDL_FUNCTION }, 'replication: schema changes detected by event trigger');
    } else {
      this.logger.warn(
        { role: pre.user, everySeconds: (this.opts.catalogPollMs ?? POLL_CATALOG_MS) / 1000 },
        'replication: no DDL event trigger upstream (installing one needs a superuser); schema changes are detected by comparing catalogs periodically, so with a delay',
      );
    }
  }

  private async lookupClient(): Promise<pg.Client> {
    if (this.lookup) {
      try {
        await this.lookup.query('SELECT 1');
        return this.lookup;
      } catch {
        this.lookup.end().catch(() => {});
        this.lookup = undefined;
      }
    }
    this.lookup = await this.connectNormal();
    return this.lookup;
  }

  /**
   * Writes the idle position (keepalive WAL end) to SQLite, at most once a
   * second unless forced. Readers may rely on it at once (nothing is left to
   * apply up to it: WAL that decodes to nothing, such as a ROLLBACK or
   * another database's writes), so it is visible immediately; the SQLite
   * write, and the acknowledgement that must follow it, are throttled.
   */
  private flushIdle(force: boolean): void {
    if (this.pendingIdle <= this.applied) return;
    if (this.applier.inTransaction || this.applier.pending || this.skipping) return;
    if (this.pendingIdle > this.visibleIdle) {
      this.visibleIdle = this.pendingIdle;
      this.emit('applied', this.visibleIdle);
    }
    if (!force && Date.now() - this.lastIdleWrite < IDLE_WRITE_INTERVAL_MS) return;
    const follow = this.opts.follow;
    if (follow) {
      const seq = this.followSeq;
      this.store.db.transaction(() => {
        this.store.setAppliedLsn(this.pendingIdle);
        writeSeq(this.store, follow.stream, seq);
      })();
      this.followSeqWritten = seq;
      this.follower?.committed(seq);
    } else this.store.setAppliedLsn(this.pendingIdle);
    this.applied = this.pendingIdle;
    this.lastIdleWrite = Date.now();
    this.metrics.appliedLsn.set(Number(this.applied));
    this.emit('applied', this.applied);
    this.sendStatus();
  }

  /**
   * One status update per turn of the event loop, and at most one per
   * ACK_INTERVAL_MS while catching up (each is a socket write).
   */
  private scheduleAck(): void {
    if (this.ackScheduled) return;
    this.ackScheduled = true;
    const wait = this.lastStatusAt + ACK_INTERVAL_MS - Date.now();
    const send = () => {
      this.ackScheduled = false;
      this.sendStatus();
    };
    if (wait > 0) setTimeout(send, wait).unref();
    else setImmediate(send);
  }

  private sendStatus(): void {
    if (this.state !== 'streaming' || !this.repl) return;
    this.repl.sendStatus(this.confirmLsn());
    this.lastStatusAt = Date.now();
  }

  private tick(): void {
    if (this.state !== 'streaming') return;
    try {
      if (!this.draining && this.queue.length === 0) {
        this.flushGroup();
        this.flushIdle(false);
      }
    } catch (err) {
      this.applyFailed(this.gen, err);
      return;
    }
    if (
      this.ddlMode !== 'event-trigger' &&
      Date.now() - this.lastCheckAt >= (this.opts.catalogPollMs ?? POLL_CATALOG_MS)
    ) {
      this.lastCheckAt = Date.now();
      this.enqueueCheck();
    }
    if (
      this.ddlMode === 'event-trigger' &&
      this.keeper?.managed === true &&
      Date.now() - this.lastMembershipCheckAt >= (this.opts.catalogPollMs ?? POLL_CATALOG_MS)
    ) {
      this.lastMembershipCheckAt = Date.now();
      this.enqueue({ gen: this.gen, msg: { kind: 'membership' } });
    }
    if (
      this.ddlMode !== 'event-trigger' &&
      Date.now() - this.lastMatviewCheckAt >= (this.opts.matviewRefreshMs ?? POLL_MATVIEWS_MS)
    ) {
      this.lastMatviewCheckAt = Date.now();
      this.enqueue({ gen: this.gen, msg: { kind: 'matviews' } });
    }
    // A failed resync is retried even when the stream is quiet.
    if (this.store.hasStale() && !this.draining && Date.now() >= this.nextReconcileAt) {
      this.enqueue({ gen: this.gen, msg: { kind: 'nudge' } });
    }
    if (Date.now() - this.lastStatusAt >= STATUS_INTERVAL_MS) this.sendStatus();
    this.updateLagMetric();
  }

  private lagBytes(): number {
    const lag = this.upstreamLsn - maxLsn(this.applied, this.visibleIdle);
    return lag > 0n ? Number(lag) : 0;
  }

  private updateLagMetric(): void {
    this.metrics.lagBytes.set(this.lagBytes());
  }

  // ---- failures and reconnection -----------------------------------------

  private applyFailed(gen: number, err: unknown): void {
    if (gen !== this.gen) return;
    this.logger.error({ err: errorMessage(err) }, 'replication: applying a change failed; reconnecting');
    this.abandon(err);
  }

  private connectionLost(gen: number, err: Error): void {
    if (gen !== this.gen || this.stopping) return;
    this.logger.warn({ err: errorMessage(err) }, 'replication: connection lost; reconnecting');
    this.abandon(err);
  }

  /** Drops the current connection and any half-applied transaction, then reconnects with backoff. */
  private abandon(err: unknown): void {
    this.gen++;
    this.queue.clear();
    this.paused = false;
    this.skipping = false;
    this.pendingIdle = 0n;
    this.applier.rollback();
    for (const kind of ['insert', 'update', 'delete'] as const) this.changeCounts[kind] = 0;
    this.relations.clear();
    this.lastError = oneLine(errorMessage(err));
    this.state = 'reconnecting';
    const old = this.repl;
    this.repl = undefined;
    old?.close().catch(() => {});
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopping) return;
    const delay = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** this.attempt);
    this.attempt++;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.reconnect();
    }, delay);
  }

  private async reconnect(): Promise<void> {
    if (this.stopping) return;
    if (this.opts.follow) {
      await this.resumeFollowing();
      return;
    }
    let repl: ReplicationConnection | undefined;
    try {
      repl = await ReplicationConnection.connect(this.opts.upstreamUrl);
      if (this.stopping) {
        await repl.close();
        return;
      }
      this.repl = repl;
      // The slot may have been invalidated (or the upstream replaced) while
      // we were away: then only a fresh snapshot can follow it again.
      const client = await this.lookupClient();
      const ident = await repl.identifySystem();
      this.timeline = ident.timeline;
      const lost = await this.replicaLost(
        client,
        this.store,
        this.store.getMeta('system_identifier'),
        ident,
        this.slot,
      );
      if (lost !== undefined && this.pre) {
        this.logger.warn(
          { reason: lost.reason, slot: this.slot },
          'replication: replica lost its upstream position; taking a fresh snapshot',
        );
        await this.initialSnapshot(
          client,
          repl,
          this.pre,
          ident.systemId,
          ident.dbname,
          lost.dropSlot ? this.slot : undefined,
        );
        this.upstreamLsn = maxLsn(this.upstreamLsn, this.applied);
      }
      await this.startStreaming(repl);
      this.logger.info({ from: formatLsn(this.applied) }, 'replication: reconnected');
    } catch (err) {
      this.lastError = oneLine(errorMessage(err));
      this.logger.warn({ err: this.lastError, attempt: this.attempt }, 'replication: reconnect failed');
      if (repl) {
        if (this.repl === repl) this.repl = undefined;
        this.gen++;
        await repl.close().catch(() => {});
      }
      this.state = 'reconnecting';
      this.scheduleReconnect();
    }
  }

  private async teardown(): Promise<void> {
    if (this.tickTimer) clearInterval(this.tickTimer);
    this.tickTimer = undefined;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const repl = this.repl;
    this.repl = undefined;
    const lookup = this.lookup;
    this.lookup = undefined;
    // A resync in progress: its copy fails on the closed connection and notices the new generation.
    const resync = [...this.resyncConnections];
    this.resyncConnections.clear();
    const follower = this.follower;
    this.follower = undefined;
    await Promise.all([
      follower?.stop().catch(() => {}),
      repl?.close().catch(() => {}),
      lookup ? Promise.race([lookup.end().catch(() => {}), sleep(2000)]) : undefined,
      ...resync.map((c) =>
        c instanceof ReplicationConnection
          ? c.close().catch(() => {})
          : Promise.race([c.end().catch(() => {}), sleep(2000)]),
      ),
    ]);
  }
}

/**
 * Why a Relation message does not describe the catalog's table (undefined
 * when it does): columns in order with the same name, type and typmod.
 */
function relationMismatch(m: RelationMessage, t: ReplicaTable): string | undefined {
  const schema = m.schema === '' ? 'pg_catalog' : m.schema;
  if (schema !== t.schema || m.name !== t.name) return `renamed to ${schema}.${m.name}`;
  if (m.columns.length !== t.columns.length) return 'columns added or dropped';
  for (let i = 0; i < m.columns.length; i++) {
    const a = m.columns[i]!;
    const b = t.columns[i]!;
    if (a.name !== b.name || a.typeOid !== b.typeOid || a.typmod !== b.typmod) {
      return `column ${b.name} changed`;
    }
  }
  return undefined;
}

/** A copy that could not read a published table, said in one line; anything else as is. */
function snapshotReadError(err: unknown): unknown {
  if ((err as { code?: string }).code !== '42501') return err;
  return new StartupError(`cannot read a published table for the snapshot: ${oneLine(errorMessage(err))}`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

/** host:port/db of a connection string, never its password. */
function describeUpstream(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '5432'}${u.pathname && u.pathname !== '/' ? u.pathname : ''}`;
  } catch {
    return 'the configured address';
  }
}
