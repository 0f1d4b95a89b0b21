/**
 * `outpost publish --upstream URL --nats URL [--stream NAME] [--http HOST:PORT] [--replica FILE]`:
 * the NATS hub of the fan-out (docs/architecture.md). It runs the ordinary
 * replication engine (one slot, its own replica file, DDL hook, publication
 * keeper) and publishes every pgoutput message it receives to the JetStream
 * change stream; it confirms an LSN upstream only once SQLite committed it and
 * JetStream acknowledged it. No proxy listener: edges serve the clients.
 *
 * The engine (slot reading, decode, the hub's own SQLite apply) runs on this
 * thread with the publisher, which it feeds each message as it arrives, before
 * applying it (ReplicationEngine.tapReceived). With OUTPOST_HUB_APPLY_THREAD=1
 * it runs in a replication thread instead (engine-thread.ts), as a plain
 * Outpost's does, feeding the publisher here across threads
 * (src/replication/tap-relay.ts). That is not the default: on a 2-core machine
 * short of CPU it cost the hub ~40% more CPU (copies, postMessage, wake-ups)
 * and its main thread fell 0.4-2 s behind in some runs, with no better edge
 * tail in the others (docs/architecture.md, commit-to-applied); it is for a
 * machine with a core to spare. Either way the replica is written with
 * synchronous=NORMAL and a WalSync fsyncs it off the applying event loop, and
 * the confirmation rule is the same: an LSN is confirmed upstream only once
 * SQLite committed it, a sync covering that commit finished, and JetStream
 * acknowledged every part up to it.
 */
import { VERSION } from '../app.js';
import { type Config, parseConfig } from '../config.js';
import { StartupError } from '../errors.js';
import { HttpServer } from '../http/http-server.js';
import type { Logger } from '../log.js';
import { createMetrics, type Metrics } from '../metrics.js';
import { NatsLink } from '../nats/connection.js';
import { createNatsHubMetrics, Publisher } from '../nats/publisher.js';
import { coveredSeq, DEFAULT_SNAPSHOT_INTERVAL_S, SnapshotSchedule } from '../nats/snapshots.js';
import { DEFAULT_STREAM, validStreamName } from '../nats/wire-format.js';
import { ReplicaStore } from '../replica/store.js';
import { syncOffLoop, type WalSync } from '../replica/wal-sync.js';
import { type EngineHandle, type EngineTap, ReplicationEngine } from '../replication/engine.js';
import { EngineThread } from '../replication/engine-thread.js';
import { formatLsn, type Lsn, parseLsn } from '../replication/lsn.js';

export interface PublishConfig {
  config: Config;
  nats: string;
  stream: string;
  /** Seconds between object-store snapshots of the replica; 0: never. */
  snapshotIntervalS: number;
  /** OUTPOST_HUB_APPLY_THREAD=1: the engine in a replication thread (see above). */
  applyThread?: boolean;
}

/** The hub's engine, on this thread or in a replication thread. */
export type HubEngine = EngineHandle & { confirmChanged(): void; confirmLsn(): Lsn };

/** The replica's durability (its WalSync): what is fsynced, how often, and the writer's `PRAGMA synchronous`. */
export interface HubDurability {
  durableLsn(): Lsn;
  readonly syncs: number;
  /** 1: NORMAL, commits without an fsync each. */
  readonly synchronous: number;
  close(): void;
}

/**
 * The hub's flags: `--nats` (env OUTPOST_NATS) and `--stream` (env
 * OUTPOST_STREAM, default OUTPOST) are taken out here; the rest are the
 * ordinary ones (--upstream, --replica, --http, --slot, --publication,
 * --tables, --schemas, --log-level).
 */
export function parsePublishArgs(argv: string[], env: NodeJS.ProcessEnv): PublishConfig | 'help' {
  const rest: string[] = [];
  let nats: string | undefined;
  let stream: string | undefined;
  let interval: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const m = /^--(nats|stream|snapshot-interval)(?:=(.*))?$/.exec(a);
    if (!m) {
      rest.push(a);
      continue;
    }
    let v = m[2];
    if (v === undefined) {
      v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new StartupError(`--${m[1]} needs a value`);
    }
    if (m[1] === 'nats') nats = v;
    else if (m[1] === 'stream') stream = v;
    else interval = v;
  }
  if (rest.includes('--help') || rest.includes('-h')) return 'help';
  nats ??= env.OUTPOST_NATS || undefined;
  stream ??= env.OUTPOST_STREAM || DEFAULT_STREAM;
  const parsed = parseConfig(rest, env);
  if (parsed === 'help' || parsed === 'version') return 'help';
  if (!nats)
    throw new StartupError(
      '--nats is required: the NATS server URL, e.g. nats://127.0.0.1:4222 (or set OUTPOST_NATS)',
    );
  if (!/^(nats|tls):\/\/[^\s]+$/.test(nats) && !/^[^\s/:]+:\d+$/.test(nats)) {
    throw new StartupError(
      `--nats must be a NATS URL such as nats://127.0.0.1:4222, got ${JSON.stringify(nats)}`,
    );
  }
  if (!validStreamName(stream)) {
    throw new StartupError(
      `--stream must be 1-64 letters, digits, '-' or '_' (it names the stream and its subject), got ${JSON.stringify(stream)}`,
    );
  }
  interval ??= env.OUTPOST_SNAPSHOT_INTERVAL || String(DEFAULT_SNAPSHOT_INTERVAL_S);
  if (!/^[0-9]{1,7}$/.test(interval)) {
    throw new StartupError(
      `--snapshot-interval must be whole seconds (0: no object-store snapshots), got ${JSON.stringify(interval)}`,
    );
  }
  return {
    config: parsed,
    nats,
    stream,
    snapshotIntervalS: Number(interval),
    ...(env.OUTPOST_HUB_APPLY_THREAD === '1' ? { applyThread: true } : {}),
  };
}

export const PUBLISH_HELP = `Usage: outpost publish --upstream URL --nats URL [--stream NAME] [--http HOST:PORT] [--replica FILE] [--snapshot-interval SECONDS]
Runs the NATS hub: holds the one replication slot, keeps its own replica, and publishes every
committed transaction to the JetStream stream NAME (subject NAME.changes; default OUTPOST) for
edges started with --nats, and every SECONDS (default 300; 0: never) a compacted copy of its replica
to the object store NAME-snapshots for new edges. Also: --slot, --publication, --tables, --schemas,
--log-level. Environment: OUTPOST_NATS, OUTPOST_STREAM, OUTPOST_SNAPSHOT_INTERVAL and the usual OUTPOST_*.`;

export class Hub {
  readonly replicationStarted: Promise<void>;
  private stopping: Promise<void> | undefined;
  /** Object-store snapshots, once replication streams (the replica is complete). */
  snapshots: SnapshotSchedule | undefined;

  private constructor(
    readonly opts: PublishConfig,
    readonly logger: Logger,
    readonly metrics: Metrics & ReturnType<typeof createNatsHubMetrics>,
    readonly store: ReplicaStore,
    readonly engine: HubEngine,
    readonly link: NatsLink,
    readonly publisher: Publisher,
    readonly walSync: HubDurability,
    readonly http: HttpServer,
  ) {
    this.replicationStarted = (async () => {
      // The stream's last message decides what the engine's first transactions are.
      await publisher.init();
      if (this.stopping) return;
      await engine.start();
      if (this.stopping || opts.snapshotIntervalS === 0) return;
      this.snapshots = new SnapshotSchedule({
        nc: link.connection,
        stream: opts.stream,
        replicaPath: opts.config.replica,
        logger,
        intervalS: opts.snapshotIntervalS,
        // From the acknowledgements; the stream itself when they do not reach back that far (after a restart).
        seqFor: async (lsn) => publisher.seqCoveredBy(lsn) ?? coveredSeq(link.jsm, opts.stream, lsn),
      });
      this.snapshots.start();
    })();
    this.replicationStarted.catch(() => {});
  }

  static async start(opts: PublishConfig, logger: Logger): Promise<Hub> {
    const { config } = opts;
    const metrics = { ...createMetrics(), ...createNatsHubMetrics() };
    metrics.buildInfo.set(1, { version: VERSION });
    const store = ReplicaStore.open(config.replica);
    if (store.formatReplaced !== undefined) {
      logger.warn(
        { replica: config.replica, layout: store.formatReplaced },
        'replica file has an older layout: taking a fresh snapshot',
      );
    }
    let engine: HubEngine | undefined;
    const link = new NatsLink({ url: opts.nats, stream: opts.stream, logger });
    const publisher = new Publisher({
      link,
      stream: opts.stream,
      logger,
      metrics,
      onDurable: () => engine?.confirmChanged(),
      snapshots: opts.snapshotIntervalS > 0,
      // Edges that read the reset wait for a snapshot covering it: publish one now, not at the
      // next interval (a schedule not started yet publishes at its start, after this ack).
      onReset: () => {
        void hubRef?.snapshots?.publishNow().catch(() => {});
      },
    });
    const engineOptions = {
      upstreamUrl: config.upstream,
      store,
      ...(config.publication ? { publication: config.publication } : {}),
      ...(config.filter ? { filter: config.filter } : {}),
      ...(config.slot ? { slot: config.slot } : {}),
      matviewRefreshMs: config.matviewRefreshMs,
      logger,
      metrics,
    };
    let walSync: HubDurability;
    if (opts.applyThread) {
      // This thread's connection only reads (status, tests); the replication thread writes.
      const thread = new EngineThread({ ...engineOptions, tap: publisher });
      engine = thread;
      walSync = threadDurability(thread);
    } else {
      const sync = syncOffLoop(store, logger, () => engine?.confirmChanged());
      // Nor a checkpoint inside a COMMIT on this event loop, which publishes for every edge.
      store.checkpointInBackground(logger);
      engine = new ReplicationEngine({ ...engineOptions, tap: durableTap(publisher, sync) });
      walSync = localDurability(store, sync);
    }
    const eng = engine;
    let hubRef: Hub | undefined;
    const http = new HttpServer({
      host: config.http.host,
      port: config.http.port,
      logger,
      metrics,
      status: () => {
        const { snapshot, ...replication } = eng.status();
        return {
          version: VERSION,
          role: 'hub',
          replication,
          ...(snapshot ? { snapshot } : {}),
          nats: {
            url: opts.nats,
            ...publisher.status(),
            confirmLsn: formatLsn(eng.confirmLsn()),
          },
          ...(hubRef?.snapshots ? { objectSnapshots: hubRef.snapshots.status() } : {}),
          replica: {
            path: config.replica,
            snapshotComplete: store.snapshotComplete(),
            // Committed and fsynced (the confirmation waits for it as well as for JetStream).
            durableLsn: formatLsn(walSync.durableLsn()),
          },
        };
      },
      ready: () => {
        if (!store.snapshotComplete()) return { ready: false, reason: 'snapshot not complete' };
        if (!link.connected) return { ready: false, reason: 'NATS not connected' };
        return { ready: true };
      },
      beforeMetrics: () => {
        const s = eng.status();
        metrics.lagBytes.set(s.lagBytes);
        metrics.appliedLsn.set(Number(parseLsn(s.appliedLsn)));
        metrics.replicationUp.set(s.state === 'streaming' ? 1 : 0);
        metrics.natsConnected.set(link.connected ? 1 : 0);
        metrics.natsOutages.set(link.outages);
      },
    });
    try {
      await http.start();
    } catch (err) {
      store.close();
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'EADDRINUSE') {
        throw new StartupError(
          `address already in use: ${config.http.host}:${config.http.port} (choose another --http)`,
        );
      }
      throw err;
    }
    logger.info(
      { http: `${config.http.host}:${config.http.port}`, nats: opts.nats, stream: opts.stream },
      'outpost hub started',
    );
    hubRef = new Hub(opts, logger, metrics, store, engine, link, publisher, walSync, http);
    return hubRef;
  }

  /** Stops replication (confirming what is committed and acknowledged), then NATS, HTTP and the replica. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.snapshots?.stop();
      await this.engine.stop().catch((err) => this.logger.warn({ err }, 'stopping replication'));
      this.publisher.close();
      this.walSync.close();
      await this.link.close().catch(() => {});
      await this.http.close().catch(() => {});
      this.store.close();
      this.logger.info({ appliedLsn: this.engine.status().appliedLsn }, 'hub stopped');
    })();
    return this.stopping;
  }
}

function threadDurability(engine: EngineThread): HubDurability {
  return {
    durableLsn: () => engine.durabilityState().durableLsn,
    get syncs() {
      return engine.durabilityState().syncs;
    },
    get synchronous() {
      return engine.durabilityState().synchronous;
    },
    close: () => {},
  };
}

function localDurability(store: ReplicaStore, sync: WalSync): HubDurability {
  return {
    durableLsn: () => sync.durableLsn(),
    get syncs() {
      return sync.syncs;
    },
    get synchronous() {
      return Number(store.db.pragma('synchronous', { simple: true }));
    },
    close: () => sync.close(),
  };
}

/**
 * The publisher as the engine's tap, with the replica's durability added to
 * its gate: confirmable = acknowledged by JetStream and on disk.
 */
function durableTap(publisher: Publisher, walSync: WalSync): EngineTap {
  return {
    onStart: (from) => publisher.onStart(from),
    onMessage: (data) => publisher.onMessage(data),
    onIdle: (walEnd) => publisher.onIdle(walEnd),
    ready: () => publisher.ready(),
    onSnapshot: (lsn) => publisher.onSnapshot(lsn),
    maxMessageBytes: () => publisher.maxMessageBytes(),
    // The engine passes what SQLite has committed.
    confirmable: (lsn) => {
      const acked = publisher.confirmable(lsn);
      const synced = walSync.confirmable(lsn);
      return acked < synced ? acked : synced;
    },
  };
}
