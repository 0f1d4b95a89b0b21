/**
 * An edge's input: the hub's JetStream change stream, read with a durable
 * pull consumer and handed to the replication engine message by message, in
 * stream order, exactly once per engine generation.
 *
 * SQLite is the truth and the consumer follows it: `start(fromSeq)` deletes
 * and re-creates the consumer at the sequence after the last one the replica
 * stored (`nats_seq`), so a crash never skips or repeats a message whatever
 * the consumer's own acknowledged position was. Acknowledgements are sent
 * only after the SQLite commit that covers a message (`committed`).
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
import type { Logger } from '../log.js';
import {
  changesSubject,
  decodeHeader,
  decodeRecords,
  type HeartbeatHeader,
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

/** Where the follower delivers (the engine's queue); called synchronously, in stream order. */
export interface FollowSink {
  part(p: FollowedPart): void;
  heartbeat(h: FollowedHeartbeat): void;
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
/** Unacknowledged messages allowed per consumer: a group of transactions is acknowledged at its commit. */
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
  /** Delivered, not yet covered by a SQLite commit (in stream order), with their consumer generation. */
  private unacked: { seq: number; msg: JsMsg; gen: number }[] = [];
  private connected = true;
  private heardAt = 0;
  private lastError: string | undefined;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly opts: FollowOptions,
    private readonly logger: Logger,
  ) {
    this.js = jetstream(nc);
    void this.watchConnection();
  }

  /** Connects (waiting for the first connection as long as it takes) and reconnects forever after. */
  static async connect(opts: FollowOptions, logger: Logger): Promise<NatsFollower> {
    const nc = await connect({
      servers: opts.servers,
      name: `outpost-edge ${opts.consumer}`,
      waitOnFirstConnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      pingInterval: 5_000,
    });
    return new NatsFollower(nc, opts, logger);
  }

  get stream(): string {
    return this.opts.stream;
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
  async lastMessage(): Promise<{ seq: number; header: TxPartHeader | HeartbeatHeader } | undefined> {
    const jsm = await this.manager();
    try {
      const m = await jsm.streams.getMessage(this.opts.stream, {
        last_by_subj: changesSubject(this.opts.stream),
      });
      if (!m) return undefined;
      return { seq: m.seq, header: decodeHeader(m.header) };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
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
    this.unacked = [];
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

  /** Everything up to `seq` is committed in SQLite: acknowledge it. */
  committed(seq: number): void {
    let n = 0;
    while (n < this.unacked.length && (this.unacked[n] as { seq: number }).seq <= seq) n++;
    if (n === 0) return;
    for (const u of this.unacked.splice(0, n)) {
      // A message of a consumer since re-created would acknowledge nothing useful.
      if (u.gen === this.gen) u.msg.ack();
    }
  }

  async stop(): Promise<void> {
    this.closed = true;
    this.gen++;
    this.wake();
    await this.messages?.close().catch(() => {});
    await this.running?.catch(() => {});
    await this.nc.drain().catch(() => this.nc.close());
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
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: this.next,
      filter_subject: changesSubject(this.opts.stream),
      max_ack_pending: MAX_ACK_PENDING,
      ack_wait: ACK_WAIT_NS,
      description: 'outpost edge (re-created at each start from the replica position)',
    });
    this.unacked = this.unacked.filter((u) => u.gen === gen);
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
        this.deliver(m, gen);
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

  private deliver(m: JsMsg, gen: number): void {
    const sink = this.sink;
    if (!sink) return;
    const header = decodeHeader(m.headers);
    this.next = m.seq + 1;
    this.unacked.push({ seq: m.seq, msg: m, gen });
    if (header.kind === 'hb') {
      sink.heartbeat({ seq: m.seq, header });
      return;
    }
    const data = m.data;
    const records = decodeRecords(data).map((r) => Buffer.from(r.buffer, r.byteOffset, r.byteLength));
    sink.part({ seq: m.seq, header, records });
  }
}

function isNotFound(err: unknown): boolean {
  const e = err as { code?: unknown; api_error?: { err_code?: number; code?: number }; message?: string };
  if (e.api_error?.code === 404) return true;
  return /not found/i.test(e.message ?? '');
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
