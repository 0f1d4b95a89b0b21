/**
 * Entry point of the replication thread (started by engine-thread.ts): its
 * own replica connection and replication engine, reporting to the main
 * thread by messages and shared memory (the protocol is in engine-thread.ts).
 */
import { getPriority, setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { errorMessage, StartupError } from '../errors.js';
import { createLogger } from '../log.js';
import { createMetrics } from '../metrics.js';
import { ReplicaStore } from '../replica/store.js';
import { syncOffLoop } from '../replica/wal-sync.js';
import { ReplicationEngine } from './engine.js';
import type { FromWorker, ToWorker, WorkerCounters, WorkerInit } from './engine-thread.js';
import { parseLsn } from './lsn.js';
import { TapRelayClient } from './tap-relay.js';

/** How often positions and status are published besides commits. */
const STATUS_MS = 20;
/** Status messages without a change at most this often. */
const STATUS_REPEAT_MS = 500;
/**
 * Counters that moved (transactions applied, changes) are posted at most this
 * often: they are metrics. Posting each 20 ms tick under load was ~19% of an
 * edge's replication thread at 500 tps (a structured clone of the whole status
 * and a wake-up of the main thread each time, bench fanout's profile).
 */
const COUNTERS_MS = 250;
/** Waiting longer than this for the main thread to take a catalog change is logged. */
const ACK_WARN_MS = 5_000;

if (!parentPort) throw new Error('engine-worker.ts runs as a worker thread');
const port = parentPort;
const init = workerData as WorkerInit;
const post = (m: FromWorker) => port.postMessage(m);

if (init.nice !== undefined) {
  try {
    // Pid 0 is the calling thread on Linux (its nice value is per thread).
    setPriority(0, Math.min(19, getPriority(0) + init.nice));
  } catch {
    // A lower priority is a preference; without it the thread runs as any other.
  }
}

const logger = createLogger({
  level: init.logLevel,
  format: 'json',
  write: (line) => post({ type: 'log', line }),
});
const metrics = createMetrics();
const positions = new BigInt64Array(init.positions);
const ack = new Int32Array(init.ack);
const appliedWanted = new Int32Array(init.appliedWanted);
const durability = new BigInt64Array(init.durability);
let seq = 0;
let catalogVersion = -1;

const store = ReplicaStore.open(init.replicaPath);
// No fsync inside each COMMIT (store.relaxSync says why that is safe): a NATS
// edge confirms nothing upstream; an Outpost with a slot confirms only what a
// WalSync, off this thread's event loop, has put on disk.
if (init.follow) store.relaxSync();
const walSync = init.follow
  ? undefined
  : syncOffLoop(store, logger, () => {
      // Stored before anything is confirmed on the strength of it (status and tests read it).
      noteDurability();
      engine.confirmChanged();
    });
/** The hub's publisher, on the main thread (tap-relay.ts). */
const tap = init.tap
  ? new TapRelayClient(init.tap, (batch, transfer) => port.postMessage(batch, transfer))
  : undefined;

function noteDurability(): void {
  if (!walSync) return;
  Atomics.store(durability, 0, walSync.durableLsn());
  Atomics.store(durability, 1, BigInt(walSync.syncs));
}
Atomics.store(durability, 2, BigInt(Number(store.db.pragma('synchronous', { simple: true }))));
noteDurability();
// Checkpoints never inside an apply's COMMIT (checkpointer.ts).
store.checkpointInBackground(logger);

/**
 * Tells the main thread which tables are hidden (and that the catalog may
 * have changed); with `wait`, returns only once it has taken that in, so a
 * hidden table is never read after the commit that makes it differ.
 */
function publishCatalog(wait: boolean): void {
  const id = ++seq;
  catalogVersion = store.catalogVersion;
  post({ type: 'catalog', seq: id, stale: store.staleOids() });
  if (!wait) return;
  const started = Date.now();
  let warned = false;
  for (;;) {
    const seen = Atomics.load(ack, 0);
    if (seen >= id) return;
    Atomics.wait(ack, 0, seen, 1000);
    if (!warned && Date.now() - started > ACK_WARN_MS) {
      warned = true;
      logger.warn('replication: waiting for the proxy thread to take a catalog change');
    }
  }
}

const engine = new ReplicationEngine({
  upstreamUrl: init.upstreamUrl,
  store,
  ...(init.publication !== undefined ? { publication: init.publication } : {}),
  ...(init.filter !== undefined ? { filter: init.filter } : {}),
  ...(init.slot !== undefined ? { slot: init.slot } : {}),
  ...(init.catalogPollMs !== undefined ? { catalogPollMs: init.catalogPollMs } : {}),
  ...(init.matviewRefreshMs !== undefined ? { matviewRefreshMs: init.matviewRefreshMs } : {}),
  ...(init.follow !== undefined ? { follow: init.follow } : {}),
  ...(walSync ? { durability: walSync } : {}),
  ...(tap ? { tap } : {}),
  logger,
  metrics,
  onCatalogChange: (kind) => publishCatalog(kind !== 'changed'),
});

engine.on('applied', (lsn) => {
  // Catalog first: the read path learns of replaced tables no later than of the position.
  if (store.catalogVersion !== catalogVersion) publishCatalog(false);
  if (lsn > Atomics.load(positions, 0)) Atomics.store(positions, 0, lsn);
  // Stored before the count is read: see EngineThread's constructor.
  if (Atomics.load(appliedWanted, 0) > 0) post({ type: 'applied', lsn });
});
engine.on('ddl', (tag) => post({ type: 'ddl', tag }));

function counters(): WorkerCounters {
  return {
    transactions: metrics.transactionsApplied.get(),
    insert: metrics.changesApplied.get({ kind: 'insert' }),
    update: metrics.changesApplied.get({ kind: 'update' }),
    delete: metrics.changesApplied.get({ kind: 'delete' }),
    truncate: metrics.changesApplied.get({ kind: 'truncate' }),
    resynced: metrics.tablesResynced.get(),
  };
}

let lastPosted = '';
let lastCounters = '';
let lastPostedAt = 0;
function publishStatus(force: boolean): void {
  const status = engine.status();
  Atomics.store(positions, 1, parseLsn(status.upstreamLsn));
  const applied = engine.appliedLsn();
  if (applied > Atomics.load(positions, 0)) Atomics.store(positions, 0, applied);
  Atomics.store(durability, 3, engine.confirmLsn());
  if (store.catalogVersion !== catalogVersion) publishCatalog(false);
  const c = counters();
  const { appliedLsn: _a, upstreamLsn: _u, lagBytes: _l, ...rest } = status;
  // What moves with every stream message goes through shared memory (EngineThread.status reads it).
  const nats = rest.nats;
  if (nats) {
    Atomics.store(positions, 2, BigInt(nats.seq));
    Atomics.store(positions, 3, BigInt(nats.heardAt));
    Atomics.store(positions, 4, BigInt(nats.hubTime));
    rest.nats = { ...nats, seq: 0, heardAt: 0, hubTime: 0 };
  }
  const key = JSON.stringify(rest);
  const countersKey = JSON.stringify(c);
  const now = Date.now();
  if (
    !force &&
    key === lastPosted &&
    (countersKey === lastCounters ? now - lastPostedAt < STATUS_REPEAT_MS : now - lastPostedAt < COUNTERS_MS)
  ) {
    return;
  }
  lastPosted = key;
  lastCounters = countersKey;
  lastPostedAt = now;
  post({ type: 'status', status, counters: c });
}
const timer = setInterval(() => publishStatus(false), STATUS_MS);

let stopping: Promise<void> | undefined;
function stop(): Promise<void> {
  stopping ??= (async () => {
    await engine.stop().catch((err) => logger.warn({ err: errorMessage(err) }, 'stopping replication'));
    clearInterval(timer);
    tap?.close();
    publishStatus(true);
    walSync?.close();
    store.close();
    post({ type: 'stopped' });
    port.close();
  })();
  return stopping;
}

port.on('message', (m: ToWorker) => {
  if (m.type === 'stop') void stop();
  else if (m.type === 'tap-resume') tap?.resume();
  else if (m.type === 'confirm-changed') engine.confirmChanged();
});

try {
  publishCatalog(false);
  await engine.start();
  publishStatus(true);
  post({ type: 'started' });
} catch (err) {
  publishStatus(true);
  post({ type: 'start-failed', message: errorMessage(err), startup: err instanceof StartupError });
  await stop();
}
