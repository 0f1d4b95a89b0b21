/**
 * An edge's input: the hub's JetStream change stream, read with a durable
 * pull consumer and handed to the replication engine message by message, in
 * stream order, exactly once per engine generation.
 *
 * SQLite is the truth and the consumer follows it: `start(fromSeq)` deletes
 * and re-creates the consumer at the sequence after the last one the replica
 * stored (`nats_seq`), so a crash never skips or repeats a message whatever
 * the consumer's own acknowledged position was. Acknowledgements are sent
 * only after the SQLite commit that covers a message (`committed`); the
 * consumer acknowledges cumulatively (AckPolicy.All), so one acknowledgement
 * of the last message a commit covers stands for all before it (one NATS
 * publish per SQLite commit instead of one per message: an edge at 500 tps
 * spent ~5% of its CPU sending acks).
 *
 * NATS may drop the connection, restart or redeliver: the client reconnects
 * on its own, a redelivered message the engine already has is acknowledged
 * and dropped, and a gap (a message lost in flight across a reconnect) makes
 * the consumer be re-created at the first missing sequence.
 */

import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { AckPolicy, DeliverPolicy, type JsMsg, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { errorMessage } from '../errors.js';
import { trace, tracing } from '../latency-trace.js';
import type { Logger } from '../log.js';
import { formatLsn, type Lsn } from '../replication/lsn.js';
import {
  changesSubject,
  decodeHeader,
  decodeRecords,
  type HeartbeatHeader,
  headerLsn,
  type ResetHeader,
  type StreamHeader,
  type TxPartHeader,
} from './wire-format.js';

export interface FollowOptions {
  servers: string[];
  stream: string;
  consumer: string;
}

/** One part of one transaction: its pgoutput messages, in order. */
export interface FollowedPart {
  seq: number;
  header: TxPartHeader;
  records: Buffer[];
}

export interface FollowedHeartbeat {
  seq: number;
  header: HeartbeatHeader;
}

export interface FollowedReset {
  seq: number;
  header: ResetHeader;
}

/** Where the follower delivers (the engine's queue); called synchronously, in stream order. */
export interface FollowSink {
  part(p: FollowedPart): void;
  heartbeat(h: FollowedHeartbeat): void;
  /** The hub's stream skips changes before `header.lsn` (its replica was remade): see ResetHeader. */
  reset?(r: FollowedReset): void;
  /** What the replica reflects (transactions at or before it are skipped when delivered again). */
  appliedLsn(): Lsn;
  /** The follower cannot go on from where the replica is (retention lost); it has stopped. */
  lost(err: RetentionLostError): void;
}

/** The replica's position has left the stream's retention: only a new bootstrap can follow it again. */
export class RetentionLostError extends Error {
  constructor(
    readonly wantedSeq: number,
    readonly firstSeq: number,
    stream: string,
  ) {
    super(
      `the stream ${stream} no longer holds message ${wantedSeq} (its oldest is ${firstSeq}): the replica must be bootstrapped again`,
    );
  }
}

export interface StreamPosition {
  firstSeq: number;
  lastSeq: number;
  messages: number;
}

export interface FollowerStatus {
  connected: boolean;
  /** Last message delivered to the engine (0: none yet). */
  deliveredSeq: number;
  /** Date.now() when the last stream message arrived (0: never). */
  heardAt: number;
  lastError?: string;
}

/** Messages pulled per request; the client asks for more once 3/4 are consumed. */
const PULL_BATCH = 256;
/** Unacknowledged messages allowed per consumer: a group of transactions is acknowledged at its commit (by its last message). */
const MAX_ACK_PENDING = 50_000;
/** Long: a redelivery is dropped anyway, and an apply may wait for a resync. */
const ACK_WAIT_NS = 10 * 60 * 1_000_000_000;
const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 5_000;

export class NatsFollower {
  private js: JetStreamClient;
  private jsm: JetStreamManager | undefined;
  private next = 0;
  private gen = 0;
  private sink: FollowSink | undefined;
  private running: Promise<void> | undefined;
  private messages: { close(): Promise<unknown> } | undefined;
  private closed = false;
  private paused = false;
  private resumeWaiter: (() => void) | undefined;
  /**
   * Delivered, not yet covered by a SQLite commit (in stream order), with
   * their consumer generation, from `unackedHead` on (a head index: at 500 tps
   * a splice per commit shifted the array each time).
   */
  private unacked: { seq: number; msg: JsMsg; gen: number }[] = [];
  private unackedHead = 0;
  private connected = true;
  private heardAt = 0;
  /** Highest LSN handed to the sink in this generation (0: none yet). */
  private heardLsn: Lsn = 0n;
  private lastError: string | undefined;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly opts: FollowOptions,
    private readonly logger: Logger,
  ) {
    this.js = jetstream(nc);
    void this.watchConnection();
  }

  /**
   * Connects, retrying until NATS answers (or `isCancelled`), and lets the
   * client reconnect forever after. `waiting` hears why it is still waiting.
   */
  static async connect(
    opts: FollowOptions,
    logger: Logger,
    hooks: { isCancelled?: () => boolean; waiting?: (why: string) => void } = {},
  ): Promise<NatsFollower> {
    let delay = RETRY_MIN_MS;
    let warned = false;
    for (;;) {
      try {
        const nc = await connect({
          servers: opts.servers,
          name: `outpost-edge ${opts.consumer}`,
          maxReconnectAttempts: -1,
          reconnectTimeWait: 500,
          pingInterval: 5_000,
        });
        if (warned) logger.info({ servers: opts.servers }, 'nats: connected');
        return new NatsFollower(nc, opts, logger);
      } catch (err) {
        if (hooks.isCancelled?.()) throw new Error('stopping');
        const why = `cannot reach NATS at ${opts.servers.join(',')}: ${errorMessage(err)}`;
        hooks.waiting?.(why);
        if (!warned) logger.warn({ retryInMs: delay }, `nats: ${why}; retrying`);
        warned = true;
        await sleep(delay);
        delay = Math.min(RETRY_MAX_MS, delay * 2);
      }
    }
  }

  get stream(): string {
    return this.opts.stream;
  }

  /** The NATS connection (the object-store snapshot is fetched over it: src/nats/snapshots.ts). */
  get connection(): NatsConnection {
    return this.nc;
  }

  status(): FollowerStatus {
    const s: FollowerStatus = {
      connected: this.connected && !this.nc.isClosed(),
      deliveredSeq: this.next > 0 ? this.next - 1 : 0,
      heardAt: this.heardAt,
    };
    if (this.lastError !== undefined) s.lastError = this.lastError;
    return s;
  }

  private async manager(): Promise<JetStreamManager> {
    this.jsm ??= await jetstreamManager(this.nc);
    return this.jsm;
  }

  /** The stream's bounds, or undefined when it does not exist (yet: the hub creates it). */
  async position(): Promise<StreamPosition | undefined> {
    const jsm = await this.manager();
    try {
      const info = await jsm.streams.info(this.opts.stream);
      return { firstSeq: info.state.first_seq, lastSeq: info.state.last_seq, messages: info.state.messages };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** The stream's last message (its sequence and header), if any. */
  async lastMessage(): Promise<{ seq: number; header: StreamHeader } | undefined> {
    return this.message({ last_by_subj: changesSubject(this.opts.stream) });
  }

  private async message(
    query: { seq: number } | { last_by_subj: string },
  ): Promise<{ seq: number; header: StreamHeader } | undefined> {
    const jsm = await this.manager();
    try {
      const m = await jsm.streams.getMessage(this.opts.stream, query);
      if (!m) return undefined;
      return { seq: m.seq, header: decodeHeader(m.header) };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /**
   * Whether the stream still holds, at `this.next - 1`, the message the
   * replica followed. A NATS server killed abruptly may lose the last
   * messages it acknowledged (its file store is not synced at each write)
   * and then give their sequences to new ones: following on by sequence
   * would skip those. Such a message has an LSN beyond anything this edge
   * was handed (or, after a restart, beyond the replica's position).
   */
  private async rewritten(heard: Lsn, pos: StreamPosition): Promise<boolean> {
    const at = this.next - 1;
    if (at < 1) return false;
    if (at > pos.lastSeq) return true;
    if (at < pos.firstSeq) return false;
    const m = await this.message({ seq: at });
    if (!m) return true;
    return lsnOf(m.header) > heard;
  }

  /** The first sequence after the last message wholly before `lsn` (LSNs grow along the stream). */
  private async seqAfter(lsn: Lsn, pos: StreamPosition): Promise<number> {
    let lo = pos.firstSeq;
    let hi = pos.lastSeq;
    let found = pos.firstSeq - 1;
    while (lo <= hi) {
      const mid = Math.floor((lo + hi) / 2);
      const m = await this.message({ seq: mid });
      if (m && lsnOf(m.header) < lsn) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return Math.max(1, found + 1);
  }

  /**
   * Delivers every message from `fromSeq` on to `sink`, until `stop()` or the
   * next `start()` (a new engine generation: anything delivered before is
   * forgotten, unacknowledged).
   */
  start(fromSeq: number, sink: FollowSink): void {
    const gen = ++this.gen;
    this.sink = sink;
    this.next = Math.max(1, fromSeq);
    this.heardLsn = 0n;
    this.unacked = [];
    this.unackedHead = 0;
    // Silence is measured from here (freshness: a hub that stopped publishing is lag).
    this.heardAt = Date.now();
    this.paused = false;
    this.wake();
    const previous = this.running;
    const closing = this.messages?.close();
    this.running = (async () => {
      await closing?.catch(() => {});
      await previous?.catch(() => {});
      await this.run(gen);
    })();
  }

  /** Stop delivering (the engine's queue is full); `resume()` goes on where it stopped. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.wake();
  }

  /**
   * Everything up to `seq` is committed in SQLite: acknowledge it, with one
   * acknowledgement of the last such message (AckPolicy.All covers the rest).
   */
  committed(seq: number): void {
    const list = this.unacked;
    let i = this.unackedHead;
    let last: JsMsg | undefined;
    for (; i < list.length; i++) {
      const u = list[i] as { seq: number; msg: JsMsg; gen: number };
      if (u.seq > seq) break;
      // A message of a consumer since re-created would acknowledge nothing useful.
      if (u.gen === this.gen) last = u.msg;
    }
    if (i === this.unackedHead) return;
    if (i === list.length) {
      this.unacked = [];
      this.unackedHead = 0;
    } else if (i > 1024 && i * 2 > list.length) {
      this.unacked = list.slice(i);
      this.unackedHead = 0;
    } else this.unackedHead = i;
    last?.ack();
  }

  async stop(): Promise<void> {
    this.closed = true;
    this.gen++;
    this.wake();
    await this.messages?.close().catch(() => {});
    await this.running?.catch(() => {});
    // Drain waits for the server; a gone server must not hold up the stop.
    await Promise.race([this.nc.drain().catch(() => {}), sleep(2_000)]);
    if (!this.nc.isClosed()) await this.nc.close().catch(() => {});
  }

  private wake(): void {
    const w = this.resumeWaiter;
    this.resumeWaiter = undefined;
    w?.();
  }

  private async watchConnection(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === 'disconnect') {
        this.connected = false;
        this.logger.warn({ server: s.server }, 'nats: connection lost; reconnecting');
      } else if (s.type === 'reconnect') {
        this.connected = true;
        this.logger.info({ server: s.server }, 'nats: reconnected');
        // Pull requests and in-flight messages died with the old connection
        // (or the server): read on from the next sequence with a fresh consumer.
        void this.messages?.close().catch(() => {});
      }
    }
  }

  /** Pull-consume loop of one generation: re-creates the consumer after a gap or a failure. */
  private async run(gen: number): Promise<void> {
    let delay = RETRY_MIN_MS;
    while (!this.closed && gen === this.gen) {
      try {
        const ok = await this.recreate(gen);
        if (!ok || gen !== this.gen) return;
        delay = RETRY_MIN_MS;
        this.lastError = undefined;
        await this.consume(gen);
      } catch (err) {
        if (this.closed || gen !== this.gen) return;
        this.lastError = errorMessage(err);
        this.logger.warn(
          { err: this.lastError, stream: this.opts.stream, retryInMs: delay },
          'nats: following the stream failed; retrying',
        );
        await sleep(delay);
        delay = Math.min(RETRY_MAX_MS, delay * 2);
      }
    }
  }

  /**
   * The durable consumer, afresh at `this.next`: deleting it first is the
   * only way to move a consumer's start (its deliver policy cannot change).
   * False when the follower cannot go on (retention lost: reported to the sink).
   */
  private async recreate(gen: number): Promise<boolean> {
    const jsm = await this.manager();
    const pos = await this.position();
    if (pos === undefined) {
      throw new Error(`stream ${this.opts.stream} does not exist (yet): is the hub running?`);
    }
    const sink = this.sink;
    if (sink && (await this.rewritten(this.heardLsn > 0n ? this.heardLsn : sink.appliedLsn(), pos))) {
      const from = await this.seqAfter(sink.appliedLsn(), pos);
      this.logger.warn(
        { expected: this.next - 1, lastSeq: pos.lastSeq, from, appliedLsn: formatLsn(sink.appliedLsn()) },
        'nats: the stream no longer holds the message the replica followed (NATS lost acknowledged messages?); following on by LSN',
      );
      this.next = from;
    }
    if (this.next < pos.firstSeq) {
      const err = new RetentionLostError(this.next, pos.firstSeq, this.opts.stream);
      this.lastError = err.message;
      if (gen === this.gen) this.sink?.lost(err);
      return false;
    }
    try {
      await jsm.consumers.delete(this.opts.stream, this.opts.consumer);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    await jsm.consumers.add(this.opts.stream, {
      durable_name: this.opts.consumer,
      // Cumulative: `committed` acknowledges a commit's last message only.
      ack_policy: AckPolicy.All,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: this.next,
      filter_subject: changesSubject(this.opts.stream),
      max_ack_pending: MAX_ACK_PENDING,
      ack_wait: ACK_WAIT_NS,
      description: 'outpost edge (re-created at each start from the replica position)',
    });
    this.unacked = this.unacked.slice(this.unackedHead).filter((u) => u.gen === gen);
    this.unackedHead = 0;
    return true;
  }

  private async consume(gen: number): Promise<void> {
    const consumer = await this.js.consumers.get(this.opts.stream, this.opts.consumer);
    const messages = await consumer.consume({ max_messages: PULL_BATCH });
    this.messages = messages;
    try {
      for await (const m of messages) {
        if (this.closed || gen !== this.gen) return;
        this.heardAt = Date.now();
        // Parsed from the reply subject at each read of m.seq: once.
        const seq = m.seq;
        if (seq < this.next) {
          // Redelivered (after ack_wait, or a reconnect): already handed over.
          m.ack();
          continue;
        }
        if (seq > this.next) {
          this.logger.info(
            { expected: this.next, got: seq },
            'nats: gap in the stream delivery (lost in flight); re-creating the consumer',
          );
          return;
        }
        this.deliver(m, seq, gen);
        while (this.paused && !this.closed && gen === this.gen) {
          await new Promise<void>((resolve) => {
            this.resumeWaiter = resolve;
          });
        }
      }
    } finally {
      if (this.messages === messages) this.messages = undefined;
      await messages.close().catch(() => {});
    }
  }

  private deliver(m: JsMsg, seq: number, gen: number): void {
    const sink = this.sink;
    if (!sink) return;
    const header = decodeHeader(m.headers);
    this.next = seq + 1;
    this.unacked.push({ seq, msg: m, gen });
    const lsn = lsnOf(header);
    if (lsn > this.heardLsn) this.heardLsn = lsn;
    if (header.kind === 'hb') {
      sink.heartbeat({ seq, header });
      return;
    }
    if (header.kind === 'reset') {
      sink.reset?.({ seq, header });
      return;
    }
    if (tracing && header.last) {
      trace('nats.stored', header.finalLsn, m.info.timestampNanos / 1e6);
      trace('edge.recv', header.finalLsn);
    }
    sink.part({ seq, header, records: decodeRecords(m.data) });
  }
}

function lsnOf(h: StreamHeader): Lsn {
  return headerLsn(h);
}

function isNotFound(err: unknown): boolean {
  const e = err as { code?: unknown; api_error?: { err_code?: number; code?: number }; message?: string };
  if (e.api_error?.code === 404) return true;
  return /not found/i.test(e.message ?? '');
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
