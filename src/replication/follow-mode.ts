/**
 * Follow mode's feed (an edge, `--nats`): the hub's JetStream change stream
 * as the engine's input instead of a slot. It owns the stream reader and the
 * replica's place in the stream (`nats_seq`, committed with `applied_lsn`),
 * bootstraps an empty replica (object-store snapshot, else a logical snapshot
 * of its own: follow.ts), turns stream messages into the engine's queue items,
 * and handles heartbeats, resets and a position lost from retention. The
 * engine (engine.ts) applies the queued pgoutput messages with the same code
 * as a slot's; this module reaches into its state through the members it
 * shares (not part of EngineHandle).
 */
import { errorMessage, StartupError } from '../errors.js';
import {
  type FollowedHeartbeat,
  type FollowedPart,
  type FollowedReset,
  type FollowOptions,
  NatsFollower,
  type RetentionLostError,
} from '../nats/follower.js';
import { headerLsn } from '../nats/wire-format.js';
import type { ReplicationEngine } from './engine.js';
import { EDGE_LAG_BASIS, type FollowedXLog, type FollowStatus } from './engine-types.js';
import { publicationName } from './filter.js';
import {
  checkFollowable,
  followSnapshot,
  forgetWrittenStream,
  objectSnapshot,
  storedSeq,
  waitForHub,
  waitForResetSnapshot,
  writeSeq,
} from './follow.js';
import { formatLsn, type Lsn, maxLsn } from './lsn.js';
import { ReplicationConnection } from './stream.js';
import { checkPublication, connectError, oneLine, preflight, snapshotReadError } from './upstream-checks.js';

/**
 * Shortest time between two writes of the stream position alone: below the
 * hub's repeated-heartbeat interval (1 s), so an idle edge stores and
 * acknowledges each repeat as it arrives.
 */
const SEQ_WRITE_INTERVAL_MS = 500;

export class FollowMode {
  /** The stream reader (set by `start`). */
  follower: NatsFollower | undefined;
  /** The last sequence handled at a transaction boundary. */
  seq = 0;
  /** The hub's publish time of the message at `seq`. */
  time = 0;
  /** `seq` as the latest SQLite commit stored it (acknowledged to NATS after that commit). */
  seqWritten = 0;
  /** Date.now() of the last write of `seqWritten` on its own or with an idle LSN (storePosition's throttle). */
  private seqWrittenAt = 0;
  /** LSN of the stream's last message, polled (`pollStreamEnd`): the newest upstream position the hub reported. */
  private streamEnd: Lsn = 0n;
  private pollingEnd = false;
  /** The stream no longer holds the replica's position: the next reconnect bootstraps afresh. */
  private rebootstrap = false;
  /** The reset message the next re-bootstrap must cover (its seq; whether the hub publishes a snapshot). */
  private resetWait: { seq: number; snapshot: boolean } | undefined;

  constructor(
    private readonly e: ReplicationEngine,
    private readonly follow: FollowOptions,
  ) {
    // The stream position goes into the same SQLite transaction as applied_lsn.
    e.applier.beforeCommit = () => {
      writeSeq(e.store, follow.stream, this.seq);
      this.seqWritten = this.seq;
    };
  }

  /** A commit stored `seqWritten`: NATS may forget what precedes it. */
  committed(): void {
    this.follower?.committed(this.seqWritten);
  }

  /** The idle position `lsn` and the stream position with it, in one SQLite transaction. */
  storeIdle(lsn: Lsn): void {
    const seq = this.seq;
    const { store } = this.e;
    store.db.transaction(() => {
      store.setAppliedLsn(lsn);
      writeSeq(store, this.follow.stream, seq);
    })();
    this.seqWritten = seq;
    this.seqWrittenAt = Date.now();
    this.follower?.committed(seq);
  }

  /**
   * A position message that moves nothing but the stream position (the hub's
   * heartbeat repeated at an unchanged LSN while upstream is idle, a reset the
   * replica already covers) is stored on its own once nothing else is left to
   * commit, then acknowledged: no later commit may come to cover it, and left
   * pending it would be redelivered at ack_wait (and an edge idle for hours
   * would fill max_ack_pending). At most one such write per
   * SEQ_WRITE_INTERVAL_MS (the hub repeats its heartbeat about once a second);
   * the engine's tick writes one held back.
   */
  storePosition(force: boolean): void {
    const seq = this.seq;
    if (seq <= this.seqWritten) return;
    const e = this.e;
    // Inside or after an uncommitted group, or skipping a transaction: its commit stores the seq.
    if (e.applier.inTransaction || e.applier.pending || e.skipping) return;
    // An idle LSN is waiting for its (throttled) write: that write stores the seq with it.
    if (e.pendingIdle > e.applied) return;
    const now = Date.now();
    if (!force && now - this.seqWrittenAt < SEQ_WRITE_INTERVAL_MS) return;
    const { store } = e;
    store.db.transaction(() => writeSeq(store, this.follow.stream, seq))();
    this.seqWritten = seq;
    this.seqWrittenAt = now;
    this.follower?.committed(seq);
  }

  /**
   * Reads the stream's last message (once a second, from the engine's tick):
   * an edge catching up on a backlog only knows the LSNs it has read, so its
   * lag in bytes would look small while it is far behind. The last message's
   * LSN is what the hub last knew of upstream (a heartbeat: upstream's WAL end).
   */
  pollStreamEnd(): void {
    const follower = this.follower;
    if (!follower || this.pollingEnd) return;
    this.pollingEnd = true;
    follower
      .lastMessage()
      .then(
        (m) => {
          if (!m || follower !== this.follower) return;
          const lsn = headerLsn(m.header);
          if (lsn > this.streamEnd) this.streamEnd = lsn;
          this.e.upstreamLsn = maxLsn(this.e.upstreamLsn, lsn);
        },
        () => {},
      )
      .finally(() => {
        this.pollingEnd = false;
      });
  }

  /** Stops reading the stream (engine teardown). */
  async stopFollower(): Promise<void> {
    const follower = this.follower;
    this.follower = undefined;
    await follower?.stop().catch(() => {});
  }

  /**
   * Checks the replica and upstream (nothing is created there), bootstraps
   * an empty replica, and starts following the stream from the replica's
   * stored position.
   */
  async start(): Promise<void> {
    const follow = this.follow;
    const { store } = this.e;
    checkFollowable(store, follow);
    const client = await this.e.connectNormal();
    this.e.lookup = client;
    const pre = await preflight(client);
    this.e.pre = pre;
    this.e.version = pre.version;
    await this.e.setupDdlDetection(client, pre);
    this.e.publication =
      store.getMeta('publication') ?? this.e.opts.publication ?? publicationName(this.e.opts.filter);
    this.follower = await NatsFollower.connect(follow, this.e.logger, {
      isCancelled: () => this.e.stopping,
      waiting: (why) => {
        this.e.lastError = `waiting: ${why}`;
      },
    });
    this.e.lastError = undefined;
    if (this.e.stopping) throw new Error('stopping');
    await this.bootstrapIfNeeded(false);
    this.startFollowing();
  }

  /**
   * An empty replica (or one of another upstream cluster, or one whose
   * position left the stream's retention: `force`) gets its contents from a
   * snapshot, with the stream position matching it (follow.ts).
   */
  async bootstrapIfNeeded(force: boolean): Promise<void> {
    const { store } = this.e;
    const follow = this.follow;
    const follower = this.follower;
    const pre = this.e.pre;
    if (!follower || !pre) throw new Error('follow mode is not set up');
    let repl: ReplicationConnection;
    try {
      repl = await ReplicationConnection.connect(this.e.opts.upstreamUrl, 'outpost-edge');
    } catch (err) {
      throw connectError(this.e.opts.upstreamUrl, err, 'replication');
    }
    this.e.resyncConnections.add(repl);
    try {
      const ident = await repl.identifySystem();
      this.e.timeline = ident.timeline;
      const storedDb = store.getMeta('database');
      if (storedDb !== undefined && storedDb !== ident.dbname) {
        throw new StartupError(
          `replica file ${store.path} was made from a different upstream database ("${storedDb}"); this upstream is database "${ident.dbname}": use a new replica file`,
        );
      }
      const storedSystem = store.getMeta('system_identifier');
      const otherCluster = storedSystem !== undefined && storedSystem !== ident.systemId;
      if (store.snapshotComplete() && !otherCluster && !force) {
        this.e.applied = store.appliedLsn();
        this.e.logger.info(
          { stream: follow.stream, seq: storedSeq(store), appliedLsn: formatLsn(this.e.applied) },
          'follow: resuming',
        );
        return;
      }
      if (otherCluster) {
        this.e.logger.warn(
          { from: storedSystem, to: ident.systemId },
          'follow: upstream system identifier changed; taking a fresh snapshot',
        );
      }
      this.e.state = 'snapshot';
      this.e.visibleIdle = 0n;
      let said = '';
      await waitForHub({
        follower,
        publicationExists: async () => checkPublication(await this.e.lookupClient(), pre, this.e.publication),
        isCancelled: () => this.e.stopping,
        waiting: (why) => {
          this.e.lastError = `waiting: ${why}`;
          if (why !== said) this.e.logger.warn({ stream: follow.stream }, `follow: waiting: ${why}`);
          said = why;
        },
      });
      this.e.lastError = undefined;
      const reset = this.resetWait;
      if (reset?.snapshot) {
        await waitForResetSnapshot({
          follower,
          stream: follow.stream,
          seq: reset.seq,
          isCancelled: () => this.e.stopping,
          waiting: (why) => {
            this.e.lastError = `waiting: ${why}`;
          },
        });
        this.e.lastError = undefined;
      }
      this.e.snapshot = { tables: 0, tablesDone: 0, rows: 0 };
      const fetchStarted = performance.now();
      const fromObject = await objectSnapshot({
        ...(reset ? { minSeq: reset.seq } : {}),
        store,
        follower,
        stream: follow.stream,
        systemId: ident.systemId,
        database: ident.dbname,
        publicationOwned: this.e.opts.publication === undefined,
        logger: this.e.logger,
        onCatalogChange: (kind) => this.e.opts.onCatalogChange?.(kind),
      });
      if (fromObject) {
        this.e.skipBefore.clear();
        this.e.applier.forgetAll();
        this.seq = fromObject.seq;
        this.seqWritten = fromObject.seq;
        const { tables, rows } = fromObject;
        this.e.snapshot = { tables, tablesDone: tables, rows };
        this.e.snapshotApplied(
          fromObject.lsn,
          fetchStarted,
          rows,
          { tables, seq: fromObject.seq },
          'follow: replica installed from the object-store snapshot',
        );
        return;
      }
      const copyClient = await this.e.connectNormal();
      this.e.resyncConnections.add(copyClient);
      const started = performance.now();
      let r: Awaited<ReturnType<typeof followSnapshot>>;
      try {
        r = await followSnapshot({
          store,
          repl,
          copyClient,
          version: pre.version,
          publication: this.e.publication,
          publicationOwned: this.e.opts.publication === undefined,
          follower,
          stream: follow.stream,
          systemId: ident.systemId,
          database: ident.dbname,
          timeline: ident.timeline,
          logger: this.e.logger,
          matviews: this.e.matviews,
          matviewScope: this.e.matviewScope(),
          isCancelled: () => this.e.stopping,
          onProgress: (p) => {
            this.e.snapshot = { ...p };
            this.e.metrics.snapshotRows.set(p.rows);
          },
          onCatalogChange: (kind) => this.e.opts.onCatalogChange?.(kind),
        });
      } catch (err) {
        throw snapshotReadError(err);
      } finally {
        this.e.resyncConnections.delete(copyClient);
        await copyClient.end().catch(() => {});
      }
      this.e.skipBefore.clear();
      this.e.applier.forgetAll();
      this.seq = r.seq;
      this.seqWritten = r.seq;
      this.e.snapshot = { tables: r.tables, tablesDone: r.tables, rows: r.rows };
      this.e.snapshotApplied(
        r.lsn,
        started,
        r.rows,
        { tables: r.tables, seq: r.seq },
        'follow: snapshot complete',
      );
    } finally {
      this.e.resyncConnections.delete(repl);
      // Drops the temporary slot.
      await repl.close().catch(() => {});
    }
  }

  /** A new generation reading the stream from the replica's stored position. */
  private startFollowing(): void {
    const follow = this.follow;
    const follower = this.follower;
    if (!follower) throw new Error('follow mode is not set up');
    const gen = ++this.e.gen;
    this.e.queue.clear();
    this.e.relations.clear();
    this.e.skipping = false;
    this.e.checkQueued = false;
    this.e.paused = false;
    this.e.loadSkipRules();
    forgetWrittenStream(this.e.store);
    this.seq = storedSeq(this.e.store);
    this.seqWritten = this.seq;
    this.e.upstreamLsn = maxLsn(this.e.upstreamLsn, this.e.applied);
    follower.start(this.seq + 1, {
      part: (p) => this.enqueuePart(gen, p),
      heartbeat: (h) => this.enqueueHeartbeat(gen, h),
      reset: (r) => this.enqueueReset(gen, r),
      appliedLsn: () => this.e.appliedLsn(),
      lost: (err) => this.retentionLost(gen, err),
    });
    this.e.state = 'streaming';
    this.e.attempt = 0;
    this.e.lastIdleWrite = Date.now();
    this.e.startTicking();
    // Schema changes the stream may not show (a table added to the publication meanwhile).
    this.e.enqueueCheck();
    this.e.logger.info(
      { stream: follow.stream, fromSeq: this.seq + 1, appliedLsn: formatLsn(this.e.applied) },
      'follow: following the stream',
    );
  }

  private enqueuePart(gen: number, p: FollowedPart): void {
    if (gen !== this.e.gen) return;
    const lsn = p.header.finalLsn;
    this.e.upstreamLsn = maxLsn(this.e.upstreamLsn, lsn);
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
      this.e.push({ gen, msg: m });
    }
  }

  private enqueueHeartbeat(gen: number, h: FollowedHeartbeat): void {
    if (gen !== this.e.gen) return;
    this.e.upstreamLsn = maxLsn(this.e.upstreamLsn, h.header.lsn);
    this.e.push({ gen, msg: { kind: 'hb', lsn: h.header.lsn, seq: h.seq, time: h.header.time } });
  }

  private enqueueReset(gen: number, r: FollowedReset): void {
    if (gen !== this.e.gen) return;
    const { lsn, snapshot } = r.header;
    this.e.push({ gen, msg: { kind: 'reset', lsn, seq: r.seq, snapshot } });
  }

  /**
   * A reset in stream order: the hub's replica was remade at `lsn` and the
   * changes before it that the stream lacks are never coming. A replica at or
   * past `lsn` (a snapshot taken after the hub's) has them; any other must not
   * serve another read nor apply another change until it is re-bootstrapped
   * from a snapshot covering this message.
   */
  onReset(m: { lsn: Lsn; seq: number; snapshot: boolean }): void {
    if (!this.e.applier.inTransaction && !this.e.skipping && m.lsn <= this.e.applied) {
      this.e.flushGroup();
      this.seq = m.seq;
      this.storePosition(false);
      return;
    }
    const { store } = this.e;
    this.e.logger.warn(
      { seq: m.seq, lsn: formatLsn(m.lsn), appliedLsn: formatLsn(this.e.applied), hubSnapshot: m.snapshot },
      'follow: the hub reset the stream (its replica was remade past it); forwarding every read and bootstrapping afresh',
    );
    this.rebootstrap = true;
    this.resetWait = { seq: m.seq, snapshot: m.snapshot };
    this.e.abandon(new Error(`stream reset at seq ${m.seq}`));
    // Outside any transaction now (abandon rolled the open one back): durable, so a
    // restart meanwhile bootstraps too (its stored seq is before the reset anyway).
    if (store.snapshotComplete()) store.setMeta('snapshot_state', 'replacing');
    this.e.opts.onCatalogChange?.('reset');
    this.e.lastError = `waiting: the hub reset the stream at seq ${m.seq}: re-bootstrapping; reads are forwarded upstream meanwhile`;
  }

  /**
   * The hub has published everything up to `lsn` and nothing more: like a
   * keepalive, the replica may advance its position there (read-your-writes
   * and --max-lag rely on it when upstream writes touch no replicated table).
   */
  onHeartbeat(m: { lsn: Lsn; seq: number; time: number }): void {
    if (this.e.applier.inTransaction || this.e.skipping) return;
    this.e.flushGroup();
    this.seq = m.seq;
    this.time = m.time;
    if (m.lsn > this.e.applied) {
      this.e.pendingIdle = maxLsn(this.e.pendingIdle, m.lsn);
      this.e.flushIdle(false);
    }
    this.storePosition(false);
  }

  private retentionLost(gen: number, err: RetentionLostError): void {
    if (gen !== this.e.gen || this.e.stopping) return;
    this.e.logger.warn({ err: err.message }, 'follow: the replica left the stream; bootstrapping afresh');
    this.rebootstrap = true;
    this.e.abandon(err);
  }

  /** After a failure: bootstrap again if the stream lost the replica's position, then follow from it. */
  async resume(): Promise<void> {
    if (this.e.stopping) return;
    try {
      if (this.rebootstrap) {
        await this.bootstrapIfNeeded(true);
        this.rebootstrap = false;
        this.resetWait = undefined;
      }
      this.startFollowing();
    } catch (err) {
      this.e.lastError = oneLine(errorMessage(err));
      this.e.logger.warn({ err: this.e.lastError, attempt: this.e.attempt }, 'follow: restart failed');
      this.e.state = 'reconnecting';
      this.e.scheduleReconnect();
    }
  }

  status(): FollowStatus {
    const follow = this.follow;
    const f = this.follower?.status();
    const s: FollowStatus = {
      stream: follow.stream,
      consumer: follow.consumer,
      seq: this.seq,
      connected: f?.connected ?? false,
      heardAt: f?.heardAt ?? 0,
      hubTime: this.time,
      streamEndLsn: formatLsn(this.streamEnd),
      lagBytesFrom: EDGE_LAG_BASIS,
    };
    if (f?.lastError !== undefined) s.lastError = f.lastError;
    return s;
  }
}
