/**
 * The replication engine: upstream checks, publication and slot, initial
 * snapshot, then the pgoutput stream applied to the replica, acknowledging
 * only what SQLite has committed. Reconnects on its own once streaming; only
 * `start()` can fail (with a StartupError the CLI prints as one line).
 *
 * Split by responsibility: upstream-checks.ts (connections, role and
 * publication checks, slot creation), slot-snapshot.ts (initial and
 * replacement snapshots of the slot mode), follow-mode.ts (an edge's NATS
 * stream as input), engine-types.ts (options, status, queue items). Members
 * without `private` are the state those parts share with this class; the
 * rest of Outpost uses EngineHandle only.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import pg from 'pg';
import { errorMessage, StartupError } from '../errors.js';
import { nowMs, trace, tracing } from '../latency-trace.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { type AppliedRelation, Applier } from '../replica/applier.js';
import { catalogDifferences, copyForResync } from '../replica/resync.js';
import type { ReplicaTable } from '../replica/schema.js';
import { fetchCatalog, replicatedOids, type SnapshotProgress, stripUpstream } from '../replica/snapshot.js';
import type { ReplicaStore } from '../replica/store.js';
import {
  DDL_FUNCTION,
  DDL_MESSAGE_PREFIX,
  type DdlNotice,
  ddlTriggerActive,
  installDdlTrigger,
  parseDdlMessage,
} from './ddl.js';
import type {
  Control,
  EngineEvents,
  EngineHandle,
  EngineOptions,
  EngineState,
  EngineStatus,
  EngineTap,
  FollowedXLog,
  Preflight,
  QueueItem,
  StreamRelation,
} from './engine-types.js';
import { Fifo } from './fifo.js';
import { describeFilter, publicationName } from './filter.js';
import { FollowMode } from './follow-mode.js';
import { formatLsn, type Lsn, maxLsn, minLsn, parseLsn } from './lsn.js';
import { type MatviewScope, MatviewWatcher, refreshedMatviews } from './matviews.js';
import { decodePgOutput, type RelationMessage } from './pgoutput.js';
import { PublicationKeeper } from './publication.js';
import { initialSnapshot, replicaLost, waitForSlotRelease } from './slot-snapshot.js';
import { detachXLog, type Keepalive, ReplicationConnection, type XLogData } from './stream.js';
import { checkPublication, connectError, connectUpstream, oneLine, preflight } from './upstream-checks.js';

export type {
  EngineEvents,
  EngineHandle,
  EngineOptions,
  EngineState,
  EngineStatus,
  EngineTap,
  FollowStatus,
} from './engine-types.js';

/** Microseconds from the Unix epoch to Postgres's (2000-01-01): pgoutput and XLogData times count from it. */
const PG_EPOCH_US_T = 946_684_800_000_000n;
const STATUS_INTERVAL_MS = 10_000;
/** At most one idle-position write to SQLite per this interval. */
const IDLE_WRITE_INTERVAL_MS = 1_000;
const MAX_BACKOFF_MS = 30_000;
const STOP_WAIT_MS = 5_000;
const SLOT_NAME_RE = /^[a-z0-9_]{1,63}$/;
const POLL_CATALOG_MS = 5_000;
const POLL_MATVIEWS_MS = 60_000;
const SLOT_WAIT_WARN_MS = 10_000;
const _SLOT_RELEASE_WAIT_MS = 5_000;
const ACK_INTERVAL_MS = 20;
/**
 * The NATS hub's (an engine with a tap) status updates while streaming: each
 * one asks for an fsync of its replica first (what is confirmed must be on
 * disk), so at 20 ms the hub ran ~50 fsyncs and status writes a second at 500
 * tps, ~20% of its main thread in bench fanout's profile. Nothing waits on
 * the hub's confirmation but the slot's WAL retention (edges read the stream);
 * a walsender's request for a reply is still answered at once.
 */
const HUB_ACK_INTERVAL_MS = 100;
/** Stop reading the replication socket beyond this many queued messages; resume below the low mark. */
/** Page cache of the writer while copying a snapshot (negative: KiB). */
const _SNAPSHOT_CACHE_KIB = -8192;
/** Longest stretch of applying before the drain loop lets the event loop run (ms). */
const APPLY_SLICE_MS = 4;
/** Stop reading the replication socket beyond this many queued messages; resume below the low mark. */
const QUEUE_HIGH_WATER = 20_000;
const QUEUE_LOW_WATER = 2_000;
/** Upper bounds of one SQLite transaction holding several upstream transactions. */
const GROUP_MAX_TRANSACTIONS = 10_000;
const GROUP_MAX_MS = 200;
/** NATS' default max_payload; a hub change past it (with its part's framing) cannot be published. */
const NATS_DEFAULT_MAX_PAYLOAD = 1024 * 1024;
const PART_OVERHEAD_BYTES = 1024;
/** Checked only above this (a cheap length test on every message). */
const BIG_MESSAGE_BYTES = 512 * 1024;
const BIG_MESSAGE_LOG_MS = 10 * 60_000;

export class ReplicationEngine extends EventEmitter<EngineEvents> implements EngineHandle {
  readonly store: ReplicaStore;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly applier: Applier;
  state: EngineState = 'starting';
  slot = '';
  publication = '';
  /** Upstream timeline at the latest IDENTIFY_SYSTEM (stored with the snapshot; a change hints at a failover). */
  timeline = 0;
  /** An idle position the replica already reflects, not yet written to SQLite (see `flushIdle`). */
  visibleIdle = 0n;
  /** The upstream checks of the latest start (a fresh snapshot after a reconnect reuses them). */
  pre: Preflight | undefined;
  applied: Lsn = 0n;
  upstreamLsn: Lsn = 0n;
  lastError: string | undefined;
  snapshot: SnapshotProgress | undefined;
  /** The publication's membership and the tables forwarded (publication.ts). */
  private keeper: PublicationKeeper | undefined;
  private lastMembershipCheckAt = 0;

  private repl: ReplicationConnection | undefined;
  lookup: pg.Client | undefined;
  readonly relations = new Map<number, StreamRelation>();
  readonly queue = new Fifo<QueueItem>();
  private draining = false;
  private traceGroup: Lsn[] = [];
  paused = false;
  version = 0;
  private ddlMode: EngineStatus['ddlDetection'] = 'unknown';
  /** Final (commit record) LSN of the transaction being applied. */
  private txFinal: Lsn = 0n;
  /**
   * Table OID → consistent point of the snapshot it was last copied under:
   * its changes in transactions committed before that point are in the copy.
   */
  readonly skipBefore = new Map<number, Lsn>();
  checkQueued = false;
  private lastCheckAt = 0;
  private lastMatviewCheckAt = 0;
  readonly matviews: MatviewWatcher;
  private nextReconcileAt = 0;
  private reconcileFailures = 0;
  private reconciling = false;
  private flushScheduled = false;
  /**
   * The tap has no room: the replication socket of this generation is paused
   * until it has (tapReceived). Per generation: a new connection is not paused
   * by a wait begun on the old one, and asks the tap again.
   */
  private tapWait: { gen: number } | undefined;
  /** Changes applied since the last flush, added to the metric then (a labelled inc per change costs). */
  private readonly changeCounts = { insert: 0, update: 0, delete: 0 };
  readonly resyncConnections = new Set<ReplicationConnection | pg.Client>();
  /** Bumped when a connection is abandoned; queued work of older generations is dropped. */
  gen = 0;
  skipping = false;
  pendingIdle: Lsn = 0n;
  lastIdleWrite = 0;
  private lastStatusAt = 0;
  private ackScheduled = false;
  private tickTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  attempt = 0;
  stopping = false;

  /** Tables whose too-big change was last logged (`bigMessage`), and when. */
  /**
   * Messages longer than this are checked against the tap's max_payload: the
   * smaller of BIG_MESSAGE_BYTES and what the server takes (read each tick, so
   * a server with a small max_payload is checked below 512 KiB too).
   */
  private bigGate = BIG_MESSAGE_BYTES;
  private readonly bigLogged = new Map<number, number>();
  /** Follow mode: the stream as input (follow-mode.ts). */
  private readonly feed: FollowMode | undefined;

  constructor(readonly opts: EngineOptions) {
    super();
    this.store = opts.store;
    this.logger = opts.logger;
    this.metrics = opts.metrics;
    this.applier = new Applier(opts.store);
    this.matviews = new MatviewWatcher(opts.store, () => this.matviewScope());
    this.feed = opts.follow ? new FollowMode(this, opts.follow) : undefined;
  }

  matviewScope(): MatviewScope {
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

  /**
   * What may be confirmed upstream: committed in SQLite, on disk if commits
   * are not fsynced each (durability), and made durable by the tap if there is one.
   */
  confirmLsn(): Lsn {
    let ok = this.applied;
    const { tap, durability } = this.opts;
    if (durability) ok = minLsn(ok, durability.confirmable(this.applied));
    if (tap) ok = minLsn(ok, tap.confirmable(this.applied));
    return ok;
  }

  private syncForStop(): void {
    try {
      this.opts.durability?.syncNow?.(this.applied);
    } catch (err) {
      // Then only what was synced before is confirmed; the rest is streamed again after a restart.
      this.logger.warn({ err: errorMessage(err) }, 'replica: fsync at stop failed');
    }
  }

  /** The tap's or the durability's confirmable position moved: send a status update soon. */
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
    if (this.feed) s.nats = this.feed.status();
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
    // The last status update confirms all that is applied: sync what the off-loop fsync has not covered yet.
    if (this.repl && !this.repl.isClosed) this.syncForStop();
    this.repl?.sendStatus(this.confirmLsn());
    await this.teardown();
    this.state = 'stopped';
  }

  // ---- startup ------------------------------------------------------------

  private async startInner(): Promise<void> {
    if (this.feed) {
      await this.feed.start();
      return;
    }
    const { store } = this;
    const client = await this.connectNormal();
    this.lookup = client;
    const pre = await preflight(client);
    this.pre = pre;
    this.version = pre.version;
    // Before any slot exists, so every DDL after its consistent point is announced.
    await this.setupDdlDetection(client, pre);

    let repl: ReplicationConnection;
    try {
      repl = await ReplicationConnection.connect(this.opts.upstreamUrl);
    } catch (err) {
      throw connectError(this.opts.upstreamUrl, err, 'replication');
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
        ? await replicaLost(this, client, store, storedSystem, ident, storedSlot)
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
      await initialSnapshot(
        this,
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
      await waitForSlotRelease(client, storedSlot);
      this.logger.info(
        { slot: storedSlot, publication: storedPub, appliedLsn: formatLsn(this.applied) },
        'replication: resuming',
      );
    } else {
      await initialSnapshot(this, client, repl, pre, ident.systemId, ident.dbname, storedSlot);
    }
    this.upstreamLsn = maxLsn(this.upstreamLsn, this.applied);
    await this.startStreaming(repl);
  }

  async ensurePublication(client: pg.Client, pre: Preflight): Promise<string> {
    if (this.opts.publication !== undefined) {
      const name = this.opts.publication;
      if (!(await checkPublication(client, pre, name))) {
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
    if (!(await checkPublication(client, pre, name))) {
      throw new StartupError(`publication "${name}" does not exist in upstream database "${pre.database}"`);
    }
  }

  /** A snapshot committed at `lsn`: the replica's position, logged and announced. */
  snapshotApplied(
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
    this.updateBigGate();
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
    if (tracing && item.msg.kind === 'xlog' && item.msg.data[0] === 0x43) {
      const d = item.msg.data;
      const lsn = d.readBigUInt64BE(2);
      trace('pg.commit', lsn, Number(d.readBigInt64BE(18) + PG_EPOCH_US_T) / 1000);
      trace('ws.send', lsn, Number(item.msg.sendTime + PG_EPOCH_US_T) / 1000);
      trace('hub.recv', lsn);
    }
    const tap = this.opts.tap;
    if (tap) this.tapReceived(tap, item);
    if (item.msg.kind === 'xlog') {
      this.upstreamLsn = maxLsn(this.upstreamLsn, item.msg.walEnd);
      // Not applied before the connection reads again (the drain loop is
      // awaiting): its bytes would be overwritten; keep a copy.
      if (this.draining) item = { gen: item.gen, msg: detachXLog(item.msg) };
    }
    this.push(item);
  }

  /**
   * The tap sees each message as it arrives, not when it is applied: the NATS
   * hub publishes for every edge, and a backlog of its own SQLite apply (a
   * long COMMIT, the machine busy) must not hold that up (measured at 500 tps
   * on a loaded machine: p90 of ~130 ms between receiving a commit and
   * applying it on the hub, all of it added to every edge). It copies what it
   * keeps (the data may be a view of the socket's buffer). What is confirmed
   * upstream still waits for the SQLite commit as well (confirmLsn). A tap
   * that is full pauses the socket until it has room.
   */
  private tapReceived(tap: EngineTap, item: QueueItem): void {
    const m = item.msg;
    if (m.kind === 'xlog') tap.onMessage(m.data);
    else if (m.kind === 'keepalive') tap.onIdle(m.walEnd);
    else return;
    if (this.tapWait?.gen === item.gen) return;
    const full = tap.ready();
    if (!full) return;
    const wait = { gen: item.gen };
    this.tapWait = wait;
    this.repl?.pause();
    void full.then(() => {
      // A newer connection (or a newer wait) owns the socket now.
      if (this.tapWait !== wait) return;
      this.tapWait = undefined;
      if (!this.paused && wait.gen === this.gen) this.repl?.resume();
    });
  }

  /** The replication socket is held for the tap (not only for the queue). */
  private tapHolds(): boolean {
    return this.tapWait !== undefined && this.tapWait.gen === this.gen;
  }

  push(item: QueueItem): void {
    this.queue.push(item);
    if (!this.paused && this.queue.length >= QUEUE_HIGH_WATER && (this.repl || this.feed?.follower)) {
      this.paused = true;
      this.repl?.pause();
      this.feed?.follower?.pause();
    }
    if (!this.draining) void this.drain();
  }

  startTicking(): void {
    if (!this.tickTimer) {
      this.tickTimer = setInterval(() => this.tick(), IDLE_WRITE_INTERVAL_MS);
      this.tickTimer.unref();
    }
  }

  enqueueCheck(): void {
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
      for (;;) {
        const item = this.queue.shift();
        if (!item) break;
        gen = item.gen;
        if (item.gen !== this.gen) continue;
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
        if (this.reconcileDue()) await this.reconcile(item.gen);
        if (this.paused && this.queue.length <= QUEUE_LOW_WATER) {
          this.paused = false;
          if (!this.tapHolds()) this.repl?.resume();
          this.feed?.follower?.resume();
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
      this.feed?.onReset(m);
      return undefined;
    }
    if (m.kind === 'hb') {
      this.feed?.onHeartbeat(m);
      return undefined;
    }
    // A transaction's end in the stream: stored with whatever commit comes next.
    if (m.natsSeq !== undefined && this.feed) {
      this.feed.seq = m.natsSeq;
      this.feed.time = m.natsTime ?? 0;
    }
    const msg = decodePgOutput(m.data);
    if (this.opts.tap && m.data.length > this.bigGate) this.bigMessage(msg, m.data.length);
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
        if (tracing) {
          trace('eng.commit', msg.commitLsn);
          this.traceGroup.push(msg.commitLsn);
        }
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
      case 'relation': {
        // An edge's stream repeats a table's Relation in every transaction (they are
        // self-contained): the same description keeps its entry, and with it the
        // catalog check and the prepared statements cached per entry (a new one
        // cost a prepare per UPDATE per transaction: the edge's largest CPU item).
        const known = this.relations.get(msg.oid);
        if (known && sameRelation(known.msg, msg)) return undefined;
        this.relations.set(msg.oid, {
          msg,
          identity: msg.columns.flatMap((c, i) => (c.isKey ? [i] : [])),
          version: -1,
          applied: undefined,
        });
        return undefined;
      }
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

  private updateBigGate(): void {
    const known = this.opts.tap?.maxMessageBytes?.();
    this.bigGate =
      known === undefined ? BIG_MESSAGE_BYTES : Math.min(BIG_MESSAGE_BYTES, known - PART_OVERHEAD_BYTES);
  }

  /**
   * A hub's change too big for one NATS message: pgoutput sends a row as one
   * message and the stream's parts cannot split a message, so past the server's
   * max_payload the hub cannot publish it, and stops confirming upstream until
   * the server takes it. Said with the table and the fix (once per table per
   * 10 minutes); the publisher retries meanwhile.
   */
  private bigMessage(msg: ReturnType<typeof decodePgOutput>, bytes: number): void {
    if (msg.tag !== 'insert' && msg.tag !== 'update' && msg.tag !== 'delete') return;
    const oid = msg.relationOid;
    const known = this.opts.tap?.maxMessageBytes?.();
    const limit = known ?? NATS_DEFAULT_MAX_PAYLOAD;
    // The part around it: its length prefix, and headers that count against max_payload too.
    if (bytes + PART_OVERHEAD_BYTES <= limit) return;
    const now = Date.now();
    if (now - (this.bigLogged.get(oid) ?? -Infinity) < BIG_MESSAGE_LOG_MS) return;
    this.bigLogged.set(oid, now);
    const rel = this.relations.get(oid)?.msg;
    const table = rel ? `${rel.schema}.${rel.name}` : String(oid);
    const fields = { table, bytes, maxPayload: limit, lsn: formatLsn(this.txFinal) };
    const fix = `raise max_payload in nats-server's configuration above ${bytes + PART_OVERHEAD_BYTES} bytes (up to 64 MB) and restart it`;
    if (known !== undefined) {
      this.logger.error(
        fields,
        `nats: a ${msg.tag} on ${table} is one pgoutput message of ${bytes} bytes, larger than the NATS server's max_payload (${limit}): the hub cannot publish it and stops confirming upstream until then: ${fix}`,
      );
    } else {
      this.logger.error(
        fields,
        `nats: a ${msg.tag} on ${table} is one pgoutput message of ${bytes} bytes, larger than NATS' default max_payload (1 MiB): unless the server's is raised, the hub cannot publish it and stops confirming upstream: ${fix}`,
      );
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
  flushGroup(): void {
    const lsn = this.applier.flush();
    if (lsn === undefined) return;
    if (tracing) {
      const at = nowMs();
      for (const l of this.traceGroup) trace('eng.flush', l, at);
      this.traceGroup = [];
    }
    this.feed?.committed();
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

  loadSkipRules(): void {
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
  async setupDdlDetection(client: pg.Client, pre: Preflight): Promise<void> {
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

  connectNormal(): Promise<pg.Client> {
    return connectUpstream(this.opts.upstreamUrl, this.logger);
  }

  async lookupClient(): Promise<pg.Client> {
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
  flushIdle(force: boolean): void {
    if (this.pendingIdle <= this.applied) return;
    if (this.applier.inTransaction || this.applier.pending || this.skipping) return;
    if (this.pendingIdle > this.visibleIdle) {
      this.visibleIdle = this.pendingIdle;
      this.emit('applied', this.visibleIdle);
    }
    if (!force && Date.now() - this.lastIdleWrite < IDLE_WRITE_INTERVAL_MS) return;
    if (this.feed) this.feed.storeIdle(this.pendingIdle);
    else this.store.setAppliedLsn(this.pendingIdle);
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
    const interval = this.opts.tap ? HUB_ACK_INTERVAL_MS : ACK_INTERVAL_MS;
    const wait = this.lastStatusAt + interval - Date.now();
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
        this.feed?.storePosition(false);
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
    this.updateBigGate();
    this.feed?.pollStreamEnd();
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
  abandon(err: unknown): void {
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

  scheduleReconnect(): void {
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
    if (this.feed) {
      await this.feed.resume();
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
      const lost = await replicaLost(
        this,
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
        await initialSnapshot(
          this,
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
    await Promise.all([
      this.feed?.stopFollower(),
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

/** Two Relation messages describe a table alike (name, replica identity, columns, key flags). */
function sameRelation(a: RelationMessage, b: RelationMessage): boolean {
  if (a.schema !== b.schema || a.name !== b.name || a.replicaIdentity !== b.replicaIdentity) return false;
  if (a.columns.length !== b.columns.length) return false;
  for (let i = 0; i < a.columns.length; i++) {
    const x = a.columns[i]!;
    const y = b.columns[i]!;
    if (x.name !== y.name || x.typeOid !== y.typeOid || x.typmod !== y.typmod || x.isKey !== y.isKey) {
      return false;
    }
  }
  return true;
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

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
