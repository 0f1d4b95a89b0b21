/**
 * The replication engine's public shapes (options, status, the tap, the handle
 * the rest of Outpost uses) and the items of its apply queue, shared by
 * engine.ts and the parts split from it (follow-mode.ts, slot-snapshot.ts).
 */

import type { EventEmitter } from 'node:events';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { FollowOptions } from '../nats/follower.js';
import type { AppliedRelation } from '../replica/applier.js';
import type { SnapshotProgress } from '../replica/snapshot.js';
import type { ReplicaStore } from '../replica/store.js';
import type { TableFilter } from './filter.js';
import type { Lsn } from './lsn.js';
import type { RelationMessage } from './pgoutput.js';
import type { Keepalive, XLogData } from './stream.js';

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
   * Gates what is confirmed upstream on the replica's durability, when its
   * commits are not fsynced each (a WalSync: src/replica/wal-sync.ts). Told
   * back through `confirmChanged()` when its position moves. `syncNow` is
   * called once at stop, so the last status update confirms everything
   * applied (an orderly stop leaves the slot exactly at the replica's position).
   */
  durability?: { confirmable(committed: Lsn): Lsn; syncNow?(committed: Lsn): void };
  /**
   * Follow mode (an edge): the input is this JetStream change stream (the
   * hub's), not a slot; no slot, publication or DDL trigger is made upstream
   * (follow.ts).
   */
  follow?: FollowOptions;
}

/**
 * A second consumer of the pgoutput stream, fed as messages arrive, ahead of
 * the engine's apply (the NATS hub publishes every message it receives). The engine confirms an LSN
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
  /** Each XLogData's pgoutput bytes, in stream order, as it arrives (before the engine applies it). Copy to keep. */
  onMessage(data: Buffer): void;
  /** A keepalive arrived: everything the server sent before `walEnd` was passed on. */
  onIdle(walEnd: Lsn): void;
  /** The tap cannot take more now: the engine stops reading the socket until this resolves. */
  ready(): Promise<void> | undefined;
  /** The highest position up to `lsn` the tap has made durable (0 for none yet: the slot's own). */
  confirmable(lsn: Lsn): Lsn;
  /**
   * The replica was (re)made from a snapshot at `lsn` (first start, or a lost slot):
   * changes before it will never be streamed.
   */
  onSnapshot?(lsn: Lsn): void;
  /**
   * The largest message the tap can pass on (the NATS server's max_payload), if
   * it knows: a row whose single pgoutput message exceeds it is logged as an
   * error naming its table. Unknown: NATS' default of 1 MiB is assumed.
   */
  maxMessageBytes?(): number | undefined;
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
  /**
   * `X/Y` of the stream's last message (read every second): the newest upstream
   * WAL position the hub has reported (its heartbeats carry upstream's WAL end),
   * whether or not this edge has read that far.
   */
  streamEndLsn: string;
  /** What `upstreamLsn` and `lagBytes` are measured from on an edge (said in /status). */
  lagBytesFrom: typeof EDGE_LAG_BASIS;
  lastError?: string;
}

export const EDGE_LAG_BASIS =
  "upstream's WAL end as the hub last reported it (the stream's newest message), not this edge's newest message read";

/** `applied`: the replica reflects upstream up to `lsn`; `ddl`: upstream ran DDL (event trigger message). */
export type EngineEvents = { applied: [lsn: bigint]; ddl: [tag: string] };

/** The upstream checks of a start (upstream-checks.ts `preflight`). */
export interface Preflight {
  version: number;
  user: string;
  database: string;
  superuser: boolean;
}

/** Work the drain loop does between stream messages: a catalog check, or a wake-up for a resync retry. */
export type Control =
  | { kind: 'check' }
  | { kind: 'nudge' }
  | { kind: 'matviews' }
  | { kind: 'membership' }
  /** Follow mode: a hub heartbeat (everything up to `lsn` is published; nothing is left to apply). */
  | { kind: 'hb'; lsn: Lsn; seq: number; time: number }
  /** Follow mode: the hub's stream misses changes before `lsn` (wire-format.ts ResetHeader). */
  | { kind: 'reset'; lsn: Lsn; seq: number; snapshot: boolean };
/** Follow mode: a pgoutput message from the stream; the last one of a transaction's last part carries its sequence. */
export type FollowedXLog = XLogData & { natsSeq?: number; natsTime?: number };
export type QueueItem = { gen: number; msg: FollowedXLog | Keepalive | Control };

/** The latest Relation message of a table and what it resolved to for the catalog version. */
export interface StreamRelation {
  msg: RelationMessage;
  identity: number[];
  version: number;
  applied: AppliedRelation | undefined;
}
