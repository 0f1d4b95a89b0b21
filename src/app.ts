/**
 * Wires the parts into one running Outpost: replica store, replication
 * engine, router, wire-protocol proxy and HTTP endpoints.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import pg from 'pg';
import type { Config } from './config.js';
import { StartupError } from './errors.js';
import { ExecPool } from './exec/pool.js';
import { HttpServer } from './http/http-server.js';
import type { Logger } from './log.js';
import { createMetrics, type Metrics } from './metrics.js';
import { bootstrapBeforeOpen } from './nats/bootstrap.js';
import { snapshotReport } from './replica/snapshot.js';
import { ReplicaStore } from './replica/store.js';
import { syncOffLoop } from './replica/wal-sync.js';
import { type EngineHandle, type FollowStatus, ReplicationEngine } from './replication/engine.js';
import { EngineThread } from './replication/engine-thread.js';
import { parseLsn } from './replication/lsn.js';
import { AccessControl } from './router/access.js';
import { Freshness } from './router/freshness.js';
import { coalescedLookup } from './router/read-your-writes.js';
import { RoleCatalogWatch, roleWatchIntervalMs } from './router/role-watch.js';
import { Router } from './router/router.js';
import type { ClientTls } from './server/client-session.js';
import { ProxyServer } from './server/proxy-server.js';
import type { UpstreamTarget } from './server/upstream-connection.js';
import { localeFingerprint, probeTextLocale, type Query, type TextLocale } from './upstream-locale.js';

export const VERSION = '0.1.0';

export class Outpost {
  /** Settles when replication is streaming (snapshot done); rejects with a StartupError. */
  readonly replicationStarted: Promise<void>;
  private stopping: Promise<void> | undefined;
  private readonly timers: NodeJS.Timeout[] = [];

  private constructor(
    readonly config: Config,
    readonly logger: Logger,
    readonly metrics: Metrics,
    readonly store: ReplicaStore,
    readonly engine: EngineHandle,
    readonly proxy: ProxyServer,
    readonly http: HttpServer,
    private readonly catalogPool: pg.Pool,
    replicationStarted: Promise<void>,
    private readonly lifecycle: { stopping: boolean },
    readonly exec: ExecPool | undefined,
    private readonly roleWatch: RoleCatalogWatch,
  ) {
    this.replicationStarted = replicationStarted;
  }

  static async start(config: Config, logger: Logger): Promise<Outpost> {
    // Files first: a bad path is an operator error worth failing on before anything starts.
    const clientTls = loadClientTls(config);
    const upstreamTarget = loadUpstreamTarget(config);
    const metrics = createMetrics();
    metrics.buildInfo.set(1, { version: VERSION });
    // An edge's first replica comes from the object store by renaming a whole file into place, which
    // must happen before anything opens it (the engine's in-place install copies every row instead).
    if (config.nats) {
      await bootstrapBeforeOpen({
        replicaPath: config.replica,
        upstreamUrl: config.upstream,
        follow: config.nats,
        publicationOwned: config.publication === undefined,
        logger,
      });
    }
    const store = ReplicaStore.open(config.replica);
    if (store.formatReplaced !== undefined) {
      logger.warn(
        { replica: config.replica, layout: store.formatReplaced },
        'replica file has an older layout: taking a fresh snapshot (reads are forwarded until it completes)',
      );
    }
    // An edge acknowledges nothing upstream: a commit a power cut takes back is read again from the stream.
    if (config.nats) store.relaxSync();
    const engineOptions = {
      upstreamUrl: config.upstream,
      store,
      ...(config.publication ? { publication: config.publication } : {}),
      ...(config.filter ? { filter: config.filter } : {}),
      ...(config.slot ? { slot: config.slot } : {}),
      matviewRefreshMs: config.matviewRefreshMs,
      ...(config.nats ? { follow: config.nats } : {}),
      logger,
      metrics,
    };
    // Its own thread and SQLite connection, so applying never holds up the
    // proxy. OUTPOST_APPLY_THREAD=main keeps it on the proxy's event loop
    // (in 4 ms slices), for comparison and debugging.
    const onMain = process.env.OUTPOST_APPLY_THREAD === 'main';
    let engine: EngineHandle;
    if (onMain) {
      // This thread's connection writes then; the apply thread does the same for its own.
      let eng: ReplicationEngine | undefined;
      const walSync = config.nats ? undefined : syncOffLoop(store, logger, () => eng?.confirmChanged());
      store.checkpointInBackground(logger);
      eng = new ReplicationEngine({ ...engineOptions, ...(walSync ? { durability: walSync } : {}) });
      engine = eng;
    } else engine = new EngineThread(engineOptions);
    // Every session waiting to read its own write listens for 'applied'.
    engine.setMaxListeners(0);
    const replicationStarted = engine.start();
    // Handled by the caller through `replicationStarted`; avoid an unhandled rejection meanwhile.
    replicationStarted.catch(() => {});

    // Catalog lookups (collation, privileges); never used for a client's statements.
    const catalogPool = new pg.Pool({
      connectionString: config.upstream,
      max: 2,
      connectionTimeoutMillis: 30_000,
      idleTimeoutMillis: 60_000,
      application_name: 'outpost-catalog',
    });
    catalogPool.on('error', (err) => logger.warn({ err: err.message }, 'catalog connection error'));
    const catalogRows: Query = async <R>(sql: string, params?: unknown[]) =>
      (await catalogPool.query(sql, params)).rows as R[];
    let locale: TextLocale;
    try {
      locale = await probeTextLocale(catalogRows);
    } catch (err) {
      await catalogPool.end().catch(() => {});
      // The engine reports connection problems with a clearer message; prefer it.
      await replicationStarted;
      throw new StartupError(`cannot query upstream: ${(err as Error).message}`);
    }

    const catalogQuery = async <R>(sql: string, params: unknown[]) =>
      (await catalogPool.query(sql, params)).rows as R[];
    const access = new AccessControl({
      catalog: store,
      query: catalogQuery,
      // Role facts are never staler than the replica may be.
      maxUnconfirmedMs: config.maxLagMs,
      // Facts carry the fingerprint read before them: the watch's first reading
      // (or a table added to the replica) does not throw away facts of an unchanged catalog.
      fingerprint: () => roleWatch.read(),
      onError: (err) =>
        logger.warn({ err: (err as Error).message }, 'privilege lookup failed; forwarding meanwhile'),
    });
    engine.on('ddl', () => access.invalidate());
    // Roles, memberships and role/database settings are not in the replication stream.
    const roleWatch = new RoleCatalogWatch({
      query: catalogQuery,
      tableOids: () => store.allTables().map((t) => t.oid),
      confirm: (fingerprint, startedAt) => access.confirm(fingerprint, startedAt),
      intervalMs: roleWatchIntervalMs(config.maxLagMs),
      onError: (err) =>
        logger.warn({ err: (err as Error).message }, 'role catalog check failed; forwarding after --max-lag'),
    });
    roleWatch.start();
    const freshness = new Freshness(() => {
      const s = engine.status();
      return {
        state: s.state,
        appliedLsn: parseLsn(s.appliedLsn),
        upstreamLsn: parseLsn(s.upstreamLsn),
        ...(s.nats ? { heardAt: s.nats.heardAt } : {}),
      };
    }, config.maxLagMs);
    // Sample often so a position's "first seen" time is accurate even between queries.
    const freshnessTimer = setInterval(() => freshness.sample(), 250);
    freshnessTimer.unref();
    // Local reads other than key lookups run in these processes (src/exec).
    const exec =
      config.workers > 0
        ? new ExecPool({
            path: config.replica,
            size: config.workers,
            logger,
            ...(locale.caseMap ? { caseMap: locale.caseMap.serialized } : {}),
          })
        : undefined;
    try {
      await exec?.ready();
    } catch (err) {
      roleWatch.stop();
      await exec?.close();
      await catalogPool.end().catch(() => {});
      await engine.stop().catch(() => {});
      store.close();
      throw new StartupError(`cannot start executors: ${(err as Error).message}`);
    }
    const router = await Router.create({
      ...(exec ? { pool: exec } : {}),
      freshness,
      catalog: store,
      reader: store.reader,
      database: config.upstreamTarget.database,
      textCollationIsC: locale.codePointCollations.includes('default'),
      textCtypeIsC: locale.asciiCtypeCollations.includes('default'),
      textLocale: locale,
      serverVersionNum: locale.versionNum,
      access,
      maxSnapshotAgeMs: config.maxLagMs,
      onInlineDemoted: (ms) => {
        metrics.inlineDemotions.inc();
        // The statement's text may quote values: not logged.
        logger.warn(
          { ms: Math.round(ms * 100) / 100 },
          'a bounded local plan ran long inline; executors only from now on',
        );
      },
    });
    for (const note of locale.notes) logger.info({ note }, 'text locale');
    const localeTimer = watchTextLocale(catalogRows, locale, router, logger);
    const proxy = new ProxyServer({
      listen: config.listen,
      upstream: upstreamTarget,
      router,
      logger,
      metrics,
      ...(clientTls ? { tls: clientTls } : {}),
      maxClients: config.maxClients,
      idleTimeoutMs: config.idleTimeoutSeconds * 1000,
      readYourWrites:
        config.consistency === 'session'
          ? {
              timeoutMs: config.rywTimeoutMs,
              currentLsn: coalescedLookup(async () => {
                const r = await catalogPool.query<{ lsn: string }>(
                  'select pg_current_wal_insert_lsn()::text as lsn',
                );
                return parseLsn(r.rows[0]?.lsn ?? '0/0');
              }),
              appliedLsn: () => engine.appliedLsn(),
              onApplied: (listener) => {
                engine.on('applied', listener);
                return () => engine.off('applied', listener);
              },
            }
          : undefined,
    });
    // Set by stop(): /readyz turns 503 at once so load balancers move away while clients drain.
    const lifecycle = { stopping: false };
    const http = new HttpServer({
      host: config.http.host,
      port: config.http.port,
      logger,
      metrics,
      status: () => {
        const { snapshot, ...replication } = engine.status();
        return {
          version: VERSION,
          ...(lifecycle.stopping ? { stopping: true } : {}),
          replication: {
            ...replication,
            lagSeconds: freshness.lagMs() / 1000,
            ...(replication.nats ? { nats: edgeReport(replication.nats) } : {}),
          },
          snapshot: snapshotReport(snapshot, store.snapshotComplete()),
          proxy: { clients: proxy.clientCount(), listen: `${config.listen.host}:${config.listen.port}` },
          replica: { path: config.replica, snapshotComplete: store.snapshotComplete() },
        };
      },
      ready: () => {
        if (lifecycle.stopping) return { ready: false, reason: 'shutting down' };
        if (!store.snapshotComplete()) return { ready: false, reason: 'snapshot not complete' };
        const stale = freshness.staleness();
        return stale ? { ready: false, reason: stale } : { ready: true };
      },
      beforeMetrics: () => {
        metrics.lagSeconds.set(freshness.lagMs() / 1000);
        const s = engine.status();
        metrics.lagBytes.set(s.lagBytes);
        metrics.appliedLsn.set(Number(parseLsn(s.appliedLsn)));
        metrics.clients.set(proxy.clientCount());
        metrics.replicationUp.set(s.state === 'streaming' ? 1 : 0);
        if (s.nats) {
          const now = Date.now();
          metrics.edgeSeq.set(s.nats.seq);
          metrics.edgeConnected.set(s.nats.connected ? 1 : 0);
          metrics.edgeSilence.set(s.nats.heardAt > 0 ? Math.max(0, now - s.nats.heardAt) / 1000 : 0);
          metrics.edgeHubLag.set(s.nats.hubTime > 0 ? Math.max(0, now - s.nats.hubTime) / 1000 : 0);
        }
        if (s.snapshot) {
          metrics.snapshotTablesDone.set(s.snapshot.tablesDone);
          metrics.snapshotTablesTotal.set(s.snapshot.tables);
          metrics.snapshotRows.set(s.snapshot.rows);
        } else if (store.snapshotComplete()) {
          // Made by an earlier run: every table is there.
          const n = store.allTables().length;
          metrics.snapshotTablesDone.set(n);
          metrics.snapshotTablesTotal.set(n);
        }
      },
    });
    try {
      await proxy.start();
      await http.start();
    } catch (err) {
      clearInterval(freshnessTimer);
      clearInterval(localeTimer);
      roleWatch.stop();
      await proxy.close().catch(() => {});
      await exec?.close();
      await catalogPool.end().catch(() => {});
      await engine.stop().catch(() => {});
      store.close();
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'EADDRINUSE') {
        throw new StartupError(
          `address already in use: ${e.message.replace(/^.*EADDRINUSE:? ?/, '')} (choose another --listen or --http)`,
        );
      }
      throw err;
    }
    logger.info(
      {
        listen: `${config.listen.host}:${config.listen.port}`,
        http: `${config.http.host}:${config.http.port}`,
      },
      'outpost listening',
    );
    const outpost = new Outpost(
      config,
      logger,
      metrics,
      store,
      engine,
      proxy,
      http,
      catalogPool,
      replicationStarted,
      lifecycle,
      exec,
      roleWatch,
    );
    outpost.timers.push(freshnessTimer, localeTimer);
    return outpost;
  }

  /**
   * Graceful stop: stop accepting clients and let statements in flight
   * finish (sessions then end with FATAL 57P01), stop replication after the
   * transaction being applied and acknowledge the replica's position, close
   * the replica. Safe to call more than once.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const started = performance.now();
      this.lifecycle.stopping = true;
      for (const t of this.timers) clearInterval(t);
      this.roleWatch.stop();
      await this.proxy.close().catch((err) => this.logger.warn({ err }, 'closing proxy'));
      this.logger.info({ ms: Math.round(performance.now() - started) }, 'clients drained');
      await this.exec?.close();
      await this.engine.stop().catch((err) => this.logger.warn({ err }, 'stopping replication'));
      const s = this.engine.status();
      this.logger.info({ slot: s.slot, appliedLsn: s.appliedLsn }, 'replication stopped');
      await this.http.close().catch(() => {});
      await this.catalogPool.end().catch(() => {});
      this.store.close();
      this.logger.info({ ms: Math.round(performance.now() - started) }, 'stopped');
    })();
    return this.stopping;
  }
}

/** An edge's stream position for /status: the engine's, with ages in seconds. */
function edgeReport(n: FollowStatus): FollowStatus & { silenceSeconds: number; hubLagSeconds: number } {
  const now = Date.now();
  return {
    ...n,
    silenceSeconds: n.heardAt > 0 ? Math.max(0, now - n.heardAt) / 1000 : 0,
    hubLagSeconds: n.hubTime > 0 ? Math.max(0, now - n.hubTime) / 1000 : 0,
  };
}

function readFile(flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new StartupError(
      `cannot read ${flag} ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
}

/** Outpost's own certificate for clients (--tls-cert, --tls-key). */
function loadClientTls(config: Config): ClientTls | undefined {
  if (!config.tls) return undefined;
  const cert = readFile('--tls-cert', config.tls.certPath);
  const key = readFile('--tls-key', config.tls.keyPath);
  let context: ReturnType<typeof createSecureContext>;
  let certificate: Buffer | undefined;
  try {
    context = createSecureContext({ cert, key });
    certificate = new X509Certificate(cert).raw;
  } catch (err) {
    throw new StartupError(
      `--tls-cert/--tls-key are not a usable PEM certificate and key: ${(err as Error).message}`,
    );
  }
  return { context, certificate, required: config.tls.required };
}

/** Where client sessions connect upstream, with the URL's sslmode and files. */
function loadUpstreamTarget(config: Config): UpstreamTarget {
  const t = config.upstreamTarget;
  const root = t.sslRootCert;
  return {
    host: t.host,
    port: t.port,
    tls: {
      mode: t.sslMode,
      ...(root && root !== 'system' ? { ca: readFile('sslrootcert', root) } : {}),
      ...(t.sslCert ? { cert: readFile('sslcert', t.sslCert) } : {}),
      ...(t.sslKey ? { key: readFile('sslkey', t.sslKey) } : {}),
    },
  };
}

/** How often upstream's text locale is re-read (a change makes text order and case mapping re-probed). */
const LOCALE_CHECK_MS = 30_000;

/**
 * Re-read upstream's text locale facts now and then: a changed database
 * locale, server version or glibc (an upgrade, a failover to another machine)
 * changes the fingerprint, and the router then compiles against a fresh probe.
 */
function watchTextLocale(query: Query, start: TextLocale, router: Router, logger: Logger): NodeJS.Timeout {
  let fingerprint = start.fingerprint;
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    (async () => {
      if ((await localeFingerprint(query)) === fingerprint) return;
      const next = await probeTextLocale(query);
      fingerprint = next.fingerprint;
      router.setTextLocale(next);
      logger.warn(
        { codePointCollations: next.codePointCollations, notes: next.notes },
        'upstream text locale changed; re-probed',
      );
    })()
      .catch((err) => logger.warn({ err: (err as Error).message }, 'text locale check failed'))
      .finally(() => {
        busy = false;
      });
  }, LOCALE_CHECK_MS);
  timer.unref();
  return timer;
}
