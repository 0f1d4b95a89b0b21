/**
 * The hub's publisher: the engine's tap (EngineTap) that turns the pgoutput
 * stream into the JetStream change stream of docs/architecture.md, and the
 * gate that lets the engine confirm an LSN upstream only once JetStream has
 * acknowledged everything up to it.
 *
 * - Transactions are made self-contained: before the first change of a table
 *   in a transaction, the latest Relation message seen for it is inserted
 *   unless pgoutput sent one earlier in that transaction (an edge may start at
 *   any transaction). Type messages are dropped (nothing applies them), which
 *   also makes the cut into parts the same however a session started, so a
 *   transaction republished after a restart gets the same parts and msg ids.
 * - Parts are cut at ~512 KiB and published pipelined, each with
 *   `Nats-Msg-Id` (dedup) and the stream's expected last sequence, so a lost
 *   publish can never let a later one in ahead of it: the stream stays in LSN
 *   order with one tx's parts consecutive. Any failure stops sending; once
 *   NATS answers again the first unacknowledged message is sent alone
 *   (dedup answers for one stored already), then pipelining resumes.
 * - Memory is bounded: past MAX_OUTBOX_* unacknowledged bytes or messages,
 *   `ready()` makes the engine pause the replication socket (the walsender
 *   waits; the slot keeps the WAL). The engine hands over each message as it
 *   arrives, so publishing never waits for the hub's own SQLite apply.
 * - On start the stream's last message says what is published already:
 *   transactions up to it are skipped (a partly published one resumes at its
 *   next part), so a restart after the dedup window duplicates nothing.
 */

import type { StoredMsg } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { StartupError } from '../errors.js';
import { trace, tracing } from '../latency-trace.js';
import type { Logger } from '../log.js';
import { Counter, Gauge } from '../metrics.js';
import type { EngineTap } from '../replication/engine.js';
import { formatLsn, type Lsn } from '../replication/lsn.js';
import type { NatsLink } from './connection.js';
import { PubAckChannel } from './pub-acks.js';
import {
  changesSubject,
  decodeHeader,
  decodeRecords,
  encodeHeader,
  HDR_MSG_ID,
  headerLsn,
  PART_TARGET_BYTES,
  PartCutter,
  type StreamHeader,
  WireFormatError,
} from './wire-format.js';

/** JetStream's publish header: the stream's last sequence must be this, or the message is refused. */
const HDR_EXPECTED_LAST_SEQ = 'Nats-Expected-Last-Sequence';

/** Room for a part's last record past the cut, its headers and NATS' framing (a part passes the target by up to one record). */
const PART_HEADROOM_BYTES = 64 * 1024;

export function createNatsHubMetrics() {
  return {
    natsConnected: new Gauge('outpost_nats_publisher_connected', '1 while the hub is connected to NATS.'),
    natsPublished: new Counter(
      'outpost_nats_published_messages_total',
      'Messages acknowledged by JetStream, by kind (tx part, hb heartbeat).',
    ),
    natsPublishedBytes: new Counter(
      'outpost_nats_published_bytes_total',
      'Body bytes of the messages acknowledged by JetStream.',
    ),
    natsUnacked: new Gauge(
      'outpost_nats_publish_unacked_messages',
      'Messages handed to the publisher and not yet acknowledged by JetStream.',
    ),
    natsLastSeq: new Gauge(
      'outpost_nats_publish_last_seq',
      'Stream sequence of the last acknowledged message.',
    ),
    natsDurableLsn: new Gauge(
      'outpost_nats_publish_durable_lsn',
      'Upstream LSN up to which everything is acknowledged by JetStream, as a number.',
    ),
    natsRetries: new Counter(
      'outpost_nats_publish_retries_total',
      'Times publishing stopped on a failure (NATS down, timeout, rejected) and resumed from the first unacknowledged message.',
    ),
    natsOutages: new Gauge('outpost_nats_publisher_outages', 'Times the NATS connection was lost.'),
  };
}

export type NatsHubMetrics = ReturnType<typeof createNatsHubMetrics>;

export interface PublisherOptions {
  link: NatsLink;
  stream: string;
  logger: Logger;
  metrics?: NatsHubMetrics;
  /** The confirmable position moved (the hub has the engine send a status update). */
  onDurable?: () => void;
  /** The hub publishes object-store snapshots (said in reset messages: edges wait for one, else take their own). */
  snapshots?: boolean;
  /**
   * A reset message is acknowledged at `seq`: an object-store snapshot must be
   * published now, labelled at or past `seq`, for the edges that wait on it.
   */
  onReset?: (seq: number, lsn: Lsn) => void;
  /** Tests: part size, windows, timings. */
  partBytes?: number;
  maxInFlight?: number;
  maxOutboxBytes?: number;
  publishTimeoutMs?: number;
}

export interface PublisherStatus {
  state: 'starting' | 'publishing' | 'recovering' | 'closed';
  connected: boolean;
  stream: string;
  /** Stream sequence of the last acknowledged message (0: none yet). */
  lastSeq: number;
  /** Its LSN (tx: finalLsn; hb: position), `X/Y`. */
  lastLsn?: string;
  lastKind?: 'tx' | 'hb' | 'reset';
  unacked: number;
  unackedBytes: number;
  /** LSN of the first unacknowledged message (what publishing waits on), `X/Y`. */
  pendingLsn?: string;
  /** Everything up to here is acknowledged by JetStream, `X/Y`. */
  durableLsn: string;
  outages: number;
  /** Transactions streamed again after a restart or reconnection and not republished (in the stream already). */
  skippedTransactions: number;
  /** Parts of a transaction cut short by a restart that were not republished. */
  skippedParts: number;
  /**
   * The hub's replica was remade from a snapshot past what the stream holds: the
   * changes in between were never published, so edges that followed the stream
   * before must re-bootstrap (see docs/architecture.md).
   */
  streamGap?: { from: string; to: string };
  /** The `reset` message published for that gap: its LSN and, once acknowledged, its stream seq. */
  reset?: { lsn: string; seq?: number };
  lastError?: string;
}

interface Out {
  header: StreamHeader;
  msgId: string;
  pairs: Array<[string, string]>;
  body: Uint8Array;
  /** Acknowledged together with everything before it, this position is durable. */
  durable: Lsn;
  state: 'queued' | 'sent' | 'acked';
  seq: number;
  expect: number;
}

interface TxInProgress {
  finalLsn: Lsn;
  part: number;
  /** Published entirely already (before a restart or reconnection): nothing to do but note its end. */
  skip: boolean;
  /** Parts below this number are in the stream already. */
  skipParts: number;
  relSent: Set<number>;
  content: boolean;
}

/** A boundary in the stream: after `seq`, everything of positions up to `lsn` is there. */
interface Boundary {
  seq: number;
  kind: 'tx' | 'hb' | 'reset';
  lsn: Lsn;
}

/**
 * Publishes awaiting their PubAck. A window of 64 throttled the hub exactly
 * when it mattered: after a stall (a long COMMIT, the machine busy) hundreds
 * of queued transactions went out 64 per round trip (~40 ms on a loaded
 * machine), adding up to ~225 ms at p99 between applying a commit and
 * publishing it (bench fanout, per-hop trace). The outbox bounds (8 MiB,
 * 4096 messages) still hold memory; a failure resends from the first
 * unacknowledged message whatever the window.
 */
const MAX_IN_FLIGHT = 1024;
const EMPTY_BODY = new Uint8Array(0);
const MAX_OUTBOX_BYTES = 8 * 1024 * 1024;
const MAX_OUTBOX_MESSAGES = 4096;
const PUBLISH_TIMEOUT_MS = 5_000;
const HB_MIN_MS = 200;
const HB_MAX_MS = 1_000;
/** Heartbeats wait while this many messages are unacknowledged (the parts carry the time anyway). */
const HB_MAX_BACKLOG = 64;
const HISTORY_MAX = 50_000;
const RECOVER_MIN_MS = 200;
const RECOVER_MAX_MS = 5_000;

// pgoutput message tags (https://www.postgresql.org/docs/current/protocol-logicalrep-message-formats.html)
const TAG_BEGIN = 0x42; // B
const TAG_COMMIT = 0x43; // C
const TAG_RELATION = 0x52; // R
const TAG_TYPE = 0x59; // Y
const TAG_INSERT = 0x49; // I
const TAG_UPDATE = 0x55; // U
const TAG_DELETE = 0x44; // D
const TAG_TRUNCATE = 0x54; // T
const TAG_MESSAGE = 0x4d; // M

export class Publisher implements EngineTap {
  private readonly subject: string;
  private readonly cutter: PartCutter;
  private readonly maxInFlight: number;
  private readonly maxOutboxBytes: number;
  private readonly timeoutMs: number;
  private state: PublisherStatus['state'] = 'starting';
  /** Publishes and their PubAcks (pub-acks.ts), on the link's connection once it is open. */
  private acks: PubAckChannel | undefined;

  // Outbox: every message not yet acknowledged, in stream order; [head, length).
  private outbox: Out[] = [];
  private head = 0;
  private sendIdx = 0;
  private inflight = 0;
  private outboxBytes = 0;
  /** The stream's last sequence once everything sent so far is stored. */
  private lastSeq = 0;
  /** After a recovery: one message alone until its ack says where the stream is. */
  private probing = false;
  private recovering = false;
  private failures = 0;

  private durableLsn: Lsn = 0n;
  private lastAcked: Boundary | undefined;
  private resetInfo: { lsn: string; seq?: number } | undefined;
  private readonly history: Boundary[] = [];
  /** history covers the stream from its start (it was empty when this hub began). */
  private historyFromStart = false;
  private readonly waiters: Array<() => void> = [];

  private cur: TxInProgress | undefined;
  /** Transactions with a final LSN below this are in the outbox or the stream. */
  private doneBelow: Lsn = 0n;
  /** A transaction whose first parts are in the stream (a restart cut it short). */
  private partial: { finalLsn: Lsn; nextPart: number } | undefined;
  private readonly relations = new Map<number, Buffer>();
  /** Everything before this position is in the outbox or the stream (heartbeat position). */
  private hbPos: Lsn = 0n;
  private lastHbLsn: Lsn = -1n;
  private lastHbAt = 0;
  private hbTimer: NodeJS.Timeout | undefined;
  private skippedTx = 0;
  private gap: { from: Lsn; to: Lsn } | undefined;
  /** The stream had messages before this hub published anything (or it published some). */
  private streamHadHistory = false;
  private skippedParts = 0;

  constructor(private readonly opts: PublisherOptions) {
    this.subject = changesSubject(opts.stream);
    this.cutter = new PartCutter(opts.partBytes ?? PART_TARGET_BYTES);
    this.maxInFlight = opts.maxInFlight ?? MAX_IN_FLIGHT;
    this.maxOutboxBytes = opts.maxOutboxBytes ?? MAX_OUTBOX_BYTES;
    this.timeoutMs = opts.publishTimeoutMs ?? PUBLISH_TIMEOUT_MS;
    opts.link.on('down', () => {
      this.opts.metrics?.natsConnected.set(0);
      this.opts.metrics?.natsOutages.set(this.opts.link.outages);
      if (this.state === 'publishing') this.fail();
      // Their answers may never come (a restarted server forgets the reply subscription's
      // interest until the client re-subscribes): recovery asks the stream where it ends.
      this.acks?.failAll(new Error('NATS connection lost'));
    });
    opts.link.on('up', () => {
      this.opts.metrics?.natsConnected.set(1);
      if (this.state === 'recovering' && this.inflight === 0) void this.recover();
    });
  }

  /**
   * Connects (waiting for NATS as long as it takes), makes sure the stream
   * exists, and reads its last message to know what is published already.
   */
  async init(): Promise<void> {
    await this.opts.link.open();
    this.opts.metrics?.natsConnected.set(1);
    this.checkMaxPayload();
    let delay = RECOVER_MIN_MS;
    for (;;) {
      try {
        const info = await this.opts.link.ensureStream();
        const last = await this.opts.link.lastMessage(info.state.last_seq);
        this.resumeAfter(info.state.last_seq, last);
        break;
      } catch (err) {
        if (err instanceof StartupError || this.state === 'closed') throw err;
        if ((err as Error).message.includes('does not hold subject'))
          throw new StartupError((err as Error).message);
        this.opts.logger.warn(
          { err: (err as Error).message },
          'nats: cannot read the change stream; retrying',
        );
        await sleep(delay);
        delay = Math.min(RECOVER_MAX_MS, delay * 2);
      }
    }
    this.state = 'publishing';
    this.hbTimer = setInterval(() => this.heartbeat(), HB_MIN_MS / 2);
    this.hbTimer.unref();
    this.wake();
  }

  private resumeAfter(lastSeq: number, last: StoredMsg | null): void {
    this.lastSeq = lastSeq;
    this.streamHadHistory = lastSeq > 0;
    if (!last) {
      this.historyFromStart = lastSeq === 0;
      this.opts.logger.info({ stream: this.opts.stream, lastSeq }, 'nats: publishing to an empty stream');
      return;
    }
    let h: StreamHeader;
    let endLsn: Lsn | undefined;
    try {
      h = decodeHeader(last.header);
      if (h.kind === 'tx' && h.last) endLsn = commitEnd(last.data);
    } catch (err) {
      if (err instanceof WireFormatError) {
        throw new StartupError(
          `NATS stream ${this.opts.stream} holds a message that is not Outpost's (seq ${last.seq}: ${err.message}): use another --stream`,
        );
      }
      throw err;
    }
    this.lastAcked = { seq: last.seq, kind: h.kind, lsn: headerLsn(h) };
    // A reset at L is a position like a heartbeat's: the stream is complete up to L from there on.
    if (h.kind !== 'tx') {
      this.doneBelow = h.lsn;
      this.durableLsn = h.lsn;
      this.hbPos = h.lsn;
      this.lastHbLsn = h.lsn;
      this.remember({ seq: last.seq, kind: h.kind, lsn: h.lsn });
    } else if (h.last) {
      this.doneBelow = h.finalLsn + 1n;
      this.durableLsn = endLsn ?? 0n;
      this.hbPos = this.durableLsn;
      this.remember({ seq: last.seq, kind: 'tx', lsn: h.finalLsn });
    } else {
      // Its remaining parts follow once the transaction is streamed again.
      this.doneBelow = h.finalLsn;
      this.partial = { finalLsn: h.finalLsn, nextPart: h.part + 1 };
    }
    this.opts.metrics?.natsLastSeq.set(last.seq);
    this.opts.metrics?.natsDurableLsn.set(Number(this.durableLsn));
    this.opts.logger.info(
      {
        stream: this.opts.stream,
        lastSeq: last.seq,
        kind: h.kind,
        lsn: formatLsn(headerLsn(h)),
        ...(this.partial ? { resumesAtPart: this.partial.nextPart } : {}),
      },
      'nats: resuming the change stream after its last message',
    );
  }

  // ---- EngineTap ----------------------------------------------------------

  onStart(_from: Lsn): void {
    // A transaction the old connection did not finish comes again from its Begin.
    this.cur = undefined;
    this.cutter.reset();
  }

  onSnapshot(lsn: Lsn): void {
    // A stream that was empty until now starts at the snapshot: nothing is missing.
    if (!this.streamHadHistory && this.lastAcked === undefined && this.outbox.length === this.head) {
      if (lsn > this.hbPos) this.hbPos = lsn;
      this.advanceDurable(lsn);
      return;
    }
    if (!this.partial && lsn <= this.hbPos) return;
    this.gap = { from: this.partial ? this.partial.finalLsn : this.hbPos, to: lsn };
    // The transaction cut short is never streamed again: its rest cannot be published.
    this.partial = undefined;
    if (lsn > this.doneBelow) this.doneBelow = lsn;
    this.cur = undefined;
    this.cutter.reset();
    this.opts.logger.warn(
      { stream: this.opts.stream, from: formatLsn(this.gap.from), to: formatLsn(lsn) },
      'nats: the replica was remade from a snapshot past what the change stream holds; publishing a reset message (edges re-bootstrap from a snapshot covering it)',
    );
    // Before any transaction after `lsn` (the engine streams only after this
    // call): edges must not apply those on a replica that misses the gap.
    this.resetInfo = { lsn: formatLsn(lsn) };
    this.enqueue(
      { kind: 'reset', lsn, time: Date.now(), snapshot: this.opts.snapshots ?? false },
      EMPTY_BODY,
      lsn,
    );
    if (lsn > this.hbPos) this.hbPos = lsn;
  }

  private resetAcked(seq: number, lsn: Lsn): void {
    this.resetInfo = { lsn: formatLsn(lsn), seq };
    this.opts.logger.info(
      { stream: this.opts.stream, seq, lsn: formatLsn(lsn) },
      'nats: reset message published',
    );
    this.opts.onReset?.(seq, lsn);
  }

  onMessage(data: Buffer): void {
    const tag = data[0];
    if (tag === TAG_BEGIN) {
      const finalLsn = data.readBigUInt64BE(1);
      const skip = finalLsn < this.doneBelow;
      const skipParts = !skip && this.partial?.finalLsn === finalLsn ? this.partial.nextPart : 0;
      this.cur = { finalLsn, part: 0, skip, skipParts, relSent: new Set(), content: false };
      this.cutter.reset();
      if (!skip) this.add(data);
      return;
    }
    if (tag === TAG_RELATION) {
      const oid = data.readUInt32BE(1);
      this.relations.set(oid, Buffer.from(data));
      if (this.cur && !this.cur.skip) {
        this.cur.relSent.add(oid);
        this.add(data);
      }
      return;
    }
    if (tag === TAG_TYPE) return;
    const cur = this.cur;
    // Outside a transaction (a non-transactional logical message): nothing an edge applies.
    if (!cur) return;
    if (tag === TAG_COMMIT) {
      const endLsn = data.readBigUInt64BE(10);
      this.cur = undefined;
      if (cur.skip) this.skippedTx++;
      if (cur.skip || !cur.content) {
        // In the stream already, or Begin/Commit alone (older servers send one for every
        // transaction, even one that touched no published table): nothing to publish.
        this.cutter.reset();
        this.noteDone(cur.finalLsn, endLsn);
        return;
      }
      const body = this.cutter.push(data) ?? this.cutter.flush();
      this.emitPart(cur, body, true, endLsn);
      this.noteDone(cur.finalLsn, endLsn);
      return;
    }
    if (cur.skip) return;
    switch (tag) {
      case TAG_INSERT:
      case TAG_UPDATE:
      case TAG_DELETE:
        this.ensureRelation(cur, data.readUInt32BE(1));
        cur.content = true;
        break;
      case TAG_TRUNCATE: {
        const n = data.readUInt32BE(1);
        for (let i = 0; i < n; i++) this.ensureRelation(cur, data.readUInt32BE(6 + 4 * i));
        cur.content = true;
        break;
      }
      case TAG_MESSAGE:
        cur.content = true;
        break;
    }
    this.add(data);
  }

  onIdle(walEnd: Lsn): void {
    if (this.cur) return;
    this.notePosition(walEnd);
  }

  /** The NATS server's max_payload, once connected (the engine names a row too big for it). */
  maxMessageBytes(): number | undefined {
    return this.opts.link.maxPayload();
  }

  /**
   * A server whose max_payload is below a part (PART_TARGET_BYTES and its
   * headers) refuses the stream's full parts: said at start with the fix, as
   * the part size itself must not follow the server (a restarted hub's parts
   * must be cut where the first session cut them, or the dedup ids would not match).
   */
  private checkMaxPayload(): void {
    const max = this.opts.link.maxPayload();
    const part = this.opts.partBytes ?? PART_TARGET_BYTES;
    if (max === undefined || max >= part + PART_HEADROOM_BYTES) return;
    this.opts.logger.error(
      { maxPayload: max, partBytes: part },
      `nats: the NATS server's max_payload (${max} bytes) is below the change stream's part size (${part} bytes and headers): a large transaction cannot be published; raise max_payload in nats-server's configuration to at least 1 MiB (its default)`,
    );
  }

  ready(): Promise<void> | undefined {
    if (!this.full()) return undefined;
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  confirmable(lsn: Lsn): Lsn {
    return this.durableLsn < lsn ? this.durableLsn : lsn;
  }

  // ---- for snapshots and status --------------------------------------------

  /**
   * The highest acknowledged stream sequence S such that every message with
   * seq <= S is contained in a replica at `lsn` (transactions with a final LSN
   * below it, heartbeats at or below it): a snapshot's `Outpost-Seq`. 0 when
   * nothing in the stream qualifies and this hub saw it from its start;
   * undefined when that is not known (older than what is remembered).
   */
  seqCoveredBy(lsn: Lsn): number | undefined {
    for (let i = this.history.length - 1; i >= 0; i--) {
      const b = this.history[i] as Boundary;
      if (b.kind === 'tx' ? b.lsn < lsn : b.lsn <= lsn) return b.seq;
    }
    return this.historyFromStart ? 0 : undefined;
  }

  /** Everything up to this LSN is acknowledged by JetStream. */
  durable(): Lsn {
    return this.durableLsn;
  }

  status(): PublisherStatus {
    const s: PublisherStatus = {
      state: this.state,
      connected: this.opts.link.connected,
      stream: this.opts.stream,
      lastSeq: this.lastAcked?.seq ?? 0,
      unacked: this.outbox.length - this.head,
      unackedBytes: this.outboxBytes,
      durableLsn: formatLsn(this.durableLsn),
      outages: this.opts.link.outages,
      skippedTransactions: this.skippedTx,
      skippedParts: this.skippedParts,
    };
    const pending = this.outbox[this.head];
    if (pending) {
      s.pendingLsn = formatLsn(headerLsn(pending.header));
    }
    if (this.gap) s.streamGap = { from: formatLsn(this.gap.from), to: formatLsn(this.gap.to) };
    if (this.resetInfo) s.reset = { ...this.resetInfo };
    if (this.lastAcked) {
      s.lastLsn = formatLsn(this.lastAcked.lsn);
      s.lastKind = this.lastAcked.kind;
    }
    if (this.opts.link.lastError !== undefined) s.lastError = this.opts.link.lastError;
    return s;
  }

  /** Stops publishing (what is unacknowledged stays unconfirmed upstream: a restart republishes it). */
  close(): void {
    this.state = 'closed';
    this.acks?.close();
    if (this.hbTimer) clearInterval(this.hbTimer);
    this.hbTimer = undefined;
    // The engine's drain loop must not wait forever on a closed publisher.
    for (const w of this.waiters.splice(0)) w();
  }

  // ---- assembling transactions ---------------------------------------------

  private add(record: Uint8Array): void {
    const full = this.cutter.push(record);
    if (full && this.cur) this.emitPart(this.cur, full, false, 0n);
  }

  private ensureRelation(cur: TxInProgress, oid: number): void {
    if (cur.relSent.has(oid)) return;
    cur.relSent.add(oid);
    const rel = this.relations.get(oid);
    if (rel) this.add(rel);
  }

  private emitPart(cur: TxInProgress, body: Uint8Array, last: boolean, endLsn: Lsn): void {
    const part = cur.part++;
    if (part < cur.skipParts) {
      this.skippedParts++;
      // Cut differently than before the restart: its Commit would be dropped as a duplicate part.
      if (last) {
        this.opts.logger.error(
          { finalLsn: formatLsn(cur.finalLsn), part, stream: this.opts.stream },
          'nats: a transaction republished after a restart has fewer parts than the stream holds; edges must re-bootstrap',
        );
      }
      return;
    }
    if (!last) this.partial = { finalLsn: cur.finalLsn, nextPart: part + 1 };
    this.enqueue(
      { kind: 'tx', finalLsn: cur.finalLsn, part, last, time: Date.now() },
      body,
      last ? endLsn : 0n,
    );
  }

  private noteDone(finalLsn: Lsn, endLsn: Lsn): void {
    if (finalLsn + 1n > this.doneBelow) this.doneBelow = finalLsn + 1n;
    if (this.partial && this.partial.finalLsn <= finalLsn) this.partial = undefined;
    this.notePosition(endLsn);
  }

  /** Everything before `pos` is in the outbox or the stream: durable once what is queued is acknowledged. */
  private notePosition(pos: Lsn): void {
    // A transaction cut short (restart, reconnection) is still owed its remaining parts.
    if (this.partial && pos > this.partial.finalLsn) return;
    if (pos > this.hbPos) this.hbPos = pos;
    const tail = this.outbox.length > this.head ? this.outbox[this.outbox.length - 1] : undefined;
    if (tail) {
      if (pos > tail.durable) tail.durable = pos;
    } else this.advanceDurable(pos);
  }

  private heartbeat(): void {
    // Never between the parts of one transaction (nor while one cut short is owed its rest).
    if (this.state !== 'publishing' || this.cur || this.partial || !this.opts.link.connected) return;
    if (this.hbPos === 0n || this.outbox.length - this.head > HB_MAX_BACKLOG) return;
    const now = Date.now();
    const moved = this.hbPos !== this.lastHbLsn;
    if (!(moved ? now - this.lastHbAt >= HB_MIN_MS : now - this.lastHbAt >= HB_MAX_MS)) return;
    const repeat = !moved;
    this.lastHbLsn = this.hbPos;
    this.lastHbAt = now;
    this.enqueue(
      { kind: 'hb', lsn: this.hbPos, time: now, ...(repeat ? { repeat } : {}) },
      new Uint8Array(0),
      this.hbPos,
    );
  }

  // ---- publishing ------------------------------------------------------------

  private enqueue(header: StreamHeader, body: Uint8Array, durable: Lsn): void {
    const all = encodeHeader(header);
    const msgId = all.find(([k]) => k === HDR_MSG_ID)?.[1] ?? '';
    const pairs = all.filter(([k]) => k !== HDR_MSG_ID);
    this.outbox.push({ header, msgId, pairs, body, durable, state: 'queued', seq: 0, expect: 0 });
    this.outboxBytes += body.length;
    this.opts.metrics?.natsUnacked.set(this.outbox.length - this.head);
    this.pump();
  }

  private pump(): void {
    if (this.state !== 'publishing' || !this.opts.link.connected) return;
    const limit = this.probing ? 1 : this.maxInFlight;
    while (this.inflight < limit && this.sendIdx < this.outbox.length) {
      const o = this.outbox[this.sendIdx++] as Out;
      if (o.state === 'acked') continue;
      this.send(o);
    }
  }

  private send(o: Out): void {
    if (tracing && o.header.kind === 'tx' && o.header.last) trace('hub.pub', o.header.finalLsn);
    o.state = 'sent';
    o.expect = this.lastSeq;
    this.lastSeq++;
    this.inflight++;
    const h = natsHeaders();
    for (const [k, v] of o.pairs) h.set(k, v);
    h.set(HDR_MSG_ID, o.msgId);
    // The stream takes it only right after the message before it: never out of order.
    h.set(HDR_EXPECTED_LAST_SEQ, String(o.expect));
    this.acks ??= new PubAckChannel(this.opts.link.connection, this.timeoutMs);
    this.acks.publish(this.subject, o.body, h, {
      ack: (seq, duplicate) => this.onAck(o, seq, duplicate),
      fail: (err) => this.onFail(o, err),
    });
  }

  private onAck(o: Out, seq: number, duplicate: boolean): void {
    if (tracing && o.header.kind === 'tx' && o.header.last) trace('hub.ack', o.header.finalLsn);
    this.inflight--;
    o.state = 'acked';
    o.seq = seq;
    if (this.probing) {
      this.probing = false;
      // Stored before (its ack was lost): the stream ends where it did.
      this.lastSeq = duplicate ? o.expect : seq;
    }
    this.failures = 0;
    this.settle();
    if (this.state === 'recovering') {
      if (this.inflight === 0 && this.opts.link.connected) void this.recover();
    } else this.pump();
  }

  private onFail(o: Out, err: unknown): void {
    this.inflight--;
    if (o.state === 'sent') o.state = 'queued';
    if (this.state === 'publishing') {
      this.opts.link.lastError = (err as Error).message;
      this.opts.logger.debug({ err: (err as Error).message }, 'nats: publish failed; resending');
      this.fail();
    }
    if (this.state === 'recovering' && this.inflight === 0 && this.opts.link.connected) void this.recover();
  }

  private fail(): void {
    this.state = 'recovering';
    this.opts.metrics?.natsRetries.inc();
  }

  /** Once nothing is in flight: where does the stream end? Then resend from the first unacknowledged message. */
  private async recover(): Promise<void> {
    if (this.recovering || this.state !== 'recovering') return;
    this.recovering = true;
    try {
      let delay = RECOVER_MIN_MS * 2 ** Math.min(this.failures, 5);
      this.failures++;
      // Failing again with NATS up (a rejected message, a stream at its limits): not in a tight loop.
      if (this.failures > 1) {
        await sleep(Math.min(RECOVER_MAX_MS, delay));
        const first = this.outbox[this.head];
        if (this.failures === 4 && /max_payload/i.test(this.opts.link.lastError ?? '') && first) {
          // A single row's pgoutput message can be larger than a part: NATS must take it whole.
          this.opts.logger.error(
            { stream: this.opts.stream, bytes: first.body.length },
            "nats: a message of the change stream is larger than the NATS server's max_payload; raise max_payload in nats-server's configuration (up to 64 MB) — publishing and confirming upstream wait until then",
          );
        } else if (this.failures === 4) {
          this.opts.logger.warn(
            { stream: this.opts.stream, err: this.opts.link.lastError },
            'nats: publishing keeps failing while NATS is reachable; retrying (nothing is confirmed upstream meanwhile)',
          );
        }
      }
      for (;;) {
        if (this.state !== 'recovering') return;
        if (!this.opts.link.connected) return; // the 'up' event calls again
        try {
          const info = await this.opts.link.ensureStream();
          if (this.state !== 'recovering') return;
          const lastSeq = info.state.last_seq;
          const ackedSeq = this.lastAcked?.seq ?? 0;
          if (lastSeq < ackedSeq) {
            this.opts.logger.error(
              { stream: this.opts.stream, lastSeq, acknowledged: ackedSeq },
              'nats: the change stream lost acknowledged messages (its store was replaced?): edges must re-bootstrap',
            );
          }
          this.lastSeq = lastSeq;
          this.sendIdx = this.head;
          for (let i = this.head; i < this.outbox.length; i++) {
            const o = this.outbox[i] as Out;
            if (o.state === 'sent') o.state = 'queued';
          }
          this.probing = true;
          this.state = 'publishing';
          this.pump();
          return;
        } catch (err) {
          this.opts.link.lastError = (err as Error).message;
          await sleep(delay);
          delay = Math.min(RECOVER_MAX_MS, delay * 2);
        }
      }
    } finally {
      this.recovering = false;
    }
  }

  /** Drops acknowledged messages from the front; what they complete becomes durable. */
  private settle(): void {
    let durable = this.durableLsn;
    while (this.head < this.outbox.length) {
      const o = this.outbox[this.head] as Out;
      if (o.state !== 'acked') break;
      this.head++;
      this.outboxBytes -= o.body.length;
      const h = o.header;
      const b: Boundary = { seq: o.seq, kind: h.kind, lsn: headerLsn(h) };
      this.lastAcked = b;
      if (h.kind !== 'tx' || h.last) this.remember(b);
      if (h.kind === 'reset') this.resetAcked(o.seq, h.lsn);
      if (o.durable > durable) durable = o.durable;
      this.opts.metrics?.natsPublished.inc({ kind: h.kind });
      this.opts.metrics?.natsPublishedBytes.inc(undefined, o.body.length);
      // Its slot stays until the array is compacted: not its 512 KiB.
      o.body = EMPTY_BODY;
    }
    if (this.head >= 256 && this.head * 2 > this.outbox.length) {
      this.outbox = this.outbox.slice(this.head);
      this.sendIdx -= this.head;
      this.head = 0;
    }
    this.opts.metrics?.natsUnacked.set(this.outbox.length - this.head);
    if (this.lastAcked) this.opts.metrics?.natsLastSeq.set(this.lastAcked.seq);
    this.advanceDurable(durable);
    if (!this.full()) this.wake();
  }

  private remember(b: Boundary): void {
    this.history.push(b);
    if (this.history.length > HISTORY_MAX) {
      this.history.splice(0, this.history.length - HISTORY_MAX);
      this.historyFromStart = false;
    }
  }

  private advanceDurable(lsn: Lsn): void {
    if (lsn <= this.durableLsn) return;
    this.durableLsn = lsn;
    this.opts.metrics?.natsDurableLsn.set(Number(lsn));
    this.opts.onDurable?.();
  }

  private full(): boolean {
    if (this.state === 'starting') return true;
    if (this.state === 'closed') return false;
    return this.outboxBytes >= this.maxOutboxBytes || this.outbox.length - this.head >= MAX_OUTBOX_MESSAGES;
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

/** The end LSN of the Commit that ends a tx's last part. */
function commitEnd(body: Uint8Array): Lsn {
  const recs = decodeRecords(body);
  const c = recs[recs.length - 1];
  if (!c || c[0] !== TAG_COMMIT || c.length < 18) {
    throw new WireFormatError('the last part of a transaction does not end with its Commit');
  }
  return Buffer.from(c.buffer, c.byteOffset, c.length).readBigUInt64BE(10);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
