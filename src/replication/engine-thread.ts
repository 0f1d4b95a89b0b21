/**
 * Runs the replication engine in a worker thread with its own SQLite
 * connection, so applying a large transaction or copying a snapshot never
 * holds up the proxy's event loop: local reads keep being served from the
 * last committed state (SQLite WAL mode keeps reader and writer apart).
 *
 * This side looks like the engine to the rest of Outpost (`EngineHandle`):
 * - positions (applied, upstream) are shared memory, so `status()` and
 *   read-your-writes see a commit as soon as the worker has made it;
 * - `applied` and `ddl` events, log lines, status and metric counters come
 *   as messages;
 * - catalog changes the read path must see before the worker goes on (a
 *   table hidden before the transaction skipping its changes commits, a
 *   fresh snapshot about to clear the replica) are acknowledged through a
 *   shared counter the worker waits on (engine-worker.ts).
 */
import { EventEmitter } from 'node:events';
import type { Worker } from 'node:worker_threads';
import pino from 'pino';
import { errorMessage, StartupError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { ReplicaStore } from '../replica/store.js';
import { startWorker } from '../worker-start.js';
import type { EngineEvents, EngineHandle, EngineStatus, EngineTap } from './engine.js';
import type { TableFilter } from './filter.js';
import type { FollowOptions } from './follow.js';
import { formatLsn, type Lsn } from './lsn.js';
import { createTapShared, type TapBatch, TapRelayHost, type TapShared } from './tap-relay.js';

/** Given to the worker (`workerData`). */
export interface WorkerInit {
  upstreamUrl: string;
  replicaPath: string;
  publication?: string;
  filter?: TableFilter;
  slot?: string;
  catalogPollMs?: number;
  matviewRefreshMs?: number;
  follow?: FollowOptions;
  logLevel: string;
  /**
   * BigInt64Array: [0] applied (what readers may rely on), [1] upstream WAL end seen;
   * follow mode (an edge), as of the worker's last status tick: [2] nats seq, [3] heardAt, [4] hubTime.
   */
  positions: SharedArrayBuffer;
  /** Int32Array: [0] the last catalog message the main thread has applied. */
  ack: SharedArrayBuffer;
  /**
   * Int32Array: [0] listeners of `applied` on the main thread. The worker
   * posts an `applied` message only while there are some (read-your-writes
   * waiters): the position itself is in `positions`.
   */
  appliedWanted: SharedArrayBuffer;
  /**
   * BigInt64Array (the worker writes): [0] replica fsynced up to (WalSync),
   * [1] fsyncs done, [2] the writer's `PRAGMA synchronous`, [3] what the
   * engine may confirm upstream (`confirmLsn`).
   */
  durability: SharedArrayBuffer;
  /** The engine has a tap on the main thread (the NATS hub's publisher): tap-relay.ts. */
  tap?: TapShared;
  /** The thread's nice value relative to the process (Linux: per thread), when given. */
  nice?: number;
}

/** Engine counters the worker reports, added to this thread's metrics as they grow. */
export interface WorkerCounters {
  transactions: number;
  insert: number;
  update: number;
  delete: number;
  truncate: number;
  resynced: number;
}

export type FromWorker =
  | { type: 'log'; line: string }
  | { type: 'catalog'; seq: number; stale: number[] }
  | { type: 'applied'; lsn: bigint }
  | { type: 'ddl'; tag: string }
  | { type: 'status'; status: EngineStatus; counters: WorkerCounters }
  | { type: 'started' }
  | { type: 'start-failed'; message: string; startup: boolean }
  | { type: 'stopped' }
  | TapBatch;

export type ToWorker = { type: 'stop' } | { type: 'tap-resume' } | { type: 'confirm-changed' };

export interface EngineThreadOptions {
  upstreamUrl: string;
  /** The read path's store (same file); its catalog view follows the worker's. */
  store: ReplicaStore;
  publication?: string;
  filter?: TableFilter;
  slot?: string;
  catalogPollMs?: number;
  matviewRefreshMs?: number;
  follow?: FollowOptions;
  logger: Logger;
  metrics: Metrics;
  /**
   * Sees the raw stream on this thread and gates what is confirmed upstream
   * (the NATS hub's publisher): fed from the replication thread (tap-relay.ts).
   * Call `confirmChanged()` when its confirmable position moves.
   */
  tap?: EngineTap;
}

const STOP_WAIT_MS = 15_000;
/**
 * The hub's replication thread yields to its main thread, which publishes for
 * every edge: on a machine short of CPU the process gets its share, split
 * evenly between runnable threads of equal nice, and a publisher held to half
 * of it fell behind (bench fanout: the hub's main thread 0.4 s-2 s behind at
 * load 24, while one thread doing both kept up). At +5 (weight 335 against
 * 1024) the apply gets the rest: only the hub's own replica and what it
 * confirms upstream wait for it, never an edge.
 */
const TAP_THREAD_NICE = 5;
const RESTART_DELAY_MS = 1_000;

export class EngineThread extends EventEmitter<EngineEvents> implements EngineHandle {
  private worker: Worker | undefined;
  private readonly positions = new BigInt64Array(new SharedArrayBuffer(40));
  private readonly ack = new Int32Array(new SharedArrayBuffer(4));
  private readonly appliedWanted = new Int32Array(new SharedArrayBuffer(4));
  private readonly durability = new BigInt64Array(new SharedArrayBuffer(32));
  private readonly relay: TapRelayHost | undefined;
  private confirmPosted = false;
  private last: EngineStatus;
  private counted: WorkerCounters = zeroCounters();
  private started = false;
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private restartTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: EngineThreadOptions) {
    super();
    this.last = {
      state: 'starting',
      slot: '',
      publication: '',
      appliedLsn: '0/0',
      upstreamLsn: '0/0',
      lagBytes: 0,
      ddlDetection: 'unknown',
      staleTables: 0,
      forwardedTables: [],
      source: opts.follow ? 'nats' : 'slot',
    };
    if (opts.tap) {
      this.relay = new TapRelayHost(createTapShared(), opts.tap, () =>
        this.worker?.postMessage({ type: 'tap-resume' } satisfies ToWorker),
      );
    }
    // A message per commit woke this thread ~500 times a second at 500 tps for
    // nobody (each edge's main thread, in the fan-out's profile): only listeners
    // need it. Counted before a listener is added, so a worker that stores a
    // position after this sees the count (Atomics are sequentially consistent);
    // one that stored it before is seen by the listener's own re-check of
    // appliedLsn() (read-your-writes.ts `changed`).
    const untyped = this as EventEmitter;
    untyped.on('newListener', (event: string | symbol) => {
      if (event === 'applied') Atomics.add(this.appliedWanted, 0, 1);
    });
    untyped.on('removeListener', (event: string | symbol) => {
      if (event === 'applied') Atomics.sub(this.appliedWanted, 0, 1);
    });
  }

  appliedLsn(): bigint {
    return Atomics.load(this.positions, 0);
  }

  status(): EngineStatus {
    const applied = this.appliedLsn();
    const upstream = Atomics.load(this.positions, 1);
    const s: EngineStatus = {
      ...this.last,
      appliedLsn: formatLsn(applied),
      upstreamLsn: formatLsn(upstream > applied ? upstream : applied),
      lagBytes: upstream > applied ? Number(upstream - applied) : 0,
    };
    // Status messages leave out what moves with each message (engine-worker.ts publishStatus).
    if (s.nats) {
      s.nats = {
        ...s.nats,
        seq: Number(Atomics.load(this.positions, 2)),
        heardAt: Number(Atomics.load(this.positions, 3)),
        hubTime: Number(Atomics.load(this.positions, 4)),
      };
    }
    return s;
  }

  /** The replica's durability as the replication thread last wrote it. */
  durabilityState(): { durableLsn: Lsn; syncs: number; synchronous: number; confirmLsn: Lsn } {
    return {
      durableLsn: Atomics.load(this.durability, 0),
      syncs: Number(Atomics.load(this.durability, 1)),
      synchronous: Number(Atomics.load(this.durability, 2)),
      confirmLsn: Atomics.load(this.durability, 3),
    };
  }

  /** What the engine may confirm upstream, as the replication thread last wrote it. */
  confirmLsn(): Lsn {
    return Atomics.load(this.durability, 3);
  }

  /** The tap's confirmable position moved: the replication thread sends a status update soon. */
  confirmChanged(): void {
    if (!this.relay) return;
    this.relay.publishState();
    // One message per turn of this event loop at most (an ack per transaction moves it).
    if (this.confirmPosted) return;
    this.confirmPosted = true;
    setImmediate(() => {
      this.confirmPosted = false;
      this.worker?.postMessage({ type: 'confirm-changed' } satisfies ToWorker);
    });
  }

  start(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.spawn({ resolve, reject });
    });
  }

  /** Asks the worker to stop after the transaction it is applying, and waits for it. */
  stop(): Promise<void> {
    if (this.stopped) return this.stopped;
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const worker = this.worker;
    if (!worker) {
      this.stopped = Promise.resolve();
      return this.stopped;
    }
    this.stopped = new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.opts.logger.warn('replication: the apply thread did not stop in time; terminating it');
        void worker.terminate();
      }, STOP_WAIT_MS);
      worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      worker.postMessage({ type: 'stop' } satisfies ToWorker);
    });
    return this.stopped;
  }

  private spawn(first?: { resolve: () => void; reject: (err: Error) => void }): void {
    const o = this.opts;
    const init: WorkerInit = {
      upstreamUrl: o.upstreamUrl,
      replicaPath: o.store.path,
      ...(o.publication !== undefined ? { publication: o.publication } : {}),
      ...(o.filter !== undefined ? { filter: o.filter } : {}),
      ...(o.slot !== undefined ? { slot: o.slot } : {}),
      ...(o.catalogPollMs !== undefined ? { catalogPollMs: o.catalogPollMs } : {}),
      ...(o.matviewRefreshMs !== undefined ? { matviewRefreshMs: o.matviewRefreshMs } : {}),
      ...(o.follow !== undefined ? { follow: o.follow } : {}),
      logLevel: o.logger.level,
      positions: this.positions.buffer as SharedArrayBuffer,
      ack: this.ack.buffer as SharedArrayBuffer,
      appliedWanted: this.appliedWanted.buffer as SharedArrayBuffer,
      durability: this.durability.buffer as SharedArrayBuffer,
      ...(this.relay ? { tap: this.relay.shared, nice: TAP_THREAD_NICE } : {}),
    };
    // Catalog messages and counters start from zero in each worker.
    Atomics.store(this.ack, 0, 0);
    this.relay?.reset();
    this.relay?.publishState();
    this.counted = zeroCounters();
    const worker = startEngineWorker(init);
    this.worker = worker;
    let settled = false;
    worker.on('message', (m: FromWorker) => {
      switch (m.type) {
        case 'log':
          this.relayLog(m.line);
          return;
        case 'catalog':
          this.opts.store.syncFromWriter(m.stale);
          Atomics.store(this.ack, 0, m.seq);
          Atomics.notify(this.ack, 0);
          return;
        case 'applied':
          this.emit('applied', m.lsn);
          return;
        case 'ddl':
          this.emit('ddl', m.tag);
          return;
        case 'status':
          this.last = m.status;
          this.count(m.counters);
          return;
        case 'started':
          this.started = true;
          settled = true;
          first?.resolve();
          return;
        case 'start-failed':
          settled = true;
          if (first) first.reject(m.startup ? new StartupError(m.message) : new Error(m.message));
          else this.opts.logger.error({ err: m.message }, 'replication: restart of the apply thread failed');
          return;
        case 'stopped':
          return;
        case 'tap':
          this.relay?.handle(m);
          return;
      }
    });
    worker.on('error', (err) => {
      // An uncaught error in the engine: never expected; the worker is gone.
      this.opts.logger.error({ err: errorMessage(err) }, 'replication: the apply thread failed');
      this.last = { ...this.last, state: 'error', lastError: errorMessage(err) };
    });
    worker.on('exit', (code) => {
      if (this.worker === worker) this.worker = undefined;
      if (!settled) {
        settled = true;
        first?.reject(new Error(`replication thread exited with code ${code} before starting`));
      }
      if (this.stopping) {
        if (this.last.state !== 'error') this.last = { ...this.last, state: 'stopped' };
        return;
      }
      this.last = { ...this.last, state: this.started ? 'reconnecting' : 'error' };
      if (!this.started) return;
      // Resumes from the position stored with the data: nothing lost or repeated.
      this.opts.logger.warn(
        { code, inMs: RESTART_DELAY_MS },
        'replication: apply thread exited; restarting it',
      );
      this.restartTimer = setTimeout(() => {
        this.restartTimer = undefined;
        if (!this.stopping) this.spawn();
      }, RESTART_DELAY_MS);
    });
  }

  /** A worker's log line through this thread's logger (format, secrets filter, destination). */
  private relayLog(line: string): void {
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    const { level, msg, time: _time, pid: _pid, hostname: _host, service: _service, ...fields } = rec;
    const name = (pino.levels.labels[Number(level)] ?? 'info') as pino.Level;
    this.opts.logger[name](fields, typeof msg === 'string' ? msg : '');
  }

  private count(c: WorkerCounters): void {
    const m = this.opts.metrics;
    const prev = this.counted;
    if (c.transactions > prev.transactions)
      m.transactionsApplied.inc(undefined, c.transactions - prev.transactions);
    for (const kind of ['insert', 'update', 'delete', 'truncate'] as const) {
      if (c[kind] > prev[kind]) m.changesApplied.inc({ kind }, c[kind] - prev[kind]);
    }
    if (c.resynced > prev.resynced) m.tablesResynced.inc(undefined, c.resynced - prev.resynced);
    this.counted = c;
  }
}

function zeroCounters(): WorkerCounters {
  return { transactions: 0, insert: 0, update: 0, delete: 0, truncate: 0, resynced: 0 };
}

/** The worker runs engine-worker.js (or .ts under tsx) next to this file. */
function startEngineWorker(init: WorkerInit): Worker {
  return startWorker(import.meta.url, 'engine-worker', init);
}
