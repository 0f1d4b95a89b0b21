/**
 * The Postgres wire-protocol listener: one `ClientSession` per accepted
 * connection, each with its own upstream connection.
 * https://www.postgresql.org/docs/current/protocol-flow.html
 */

import { createServer, type Server, type Socket } from 'node:net';
import { errorMessage, PgError, SqlState } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { ReadYourWritesSource } from '../router/read-your-writes.js';
import type { QueryRouter } from '../router/types.js';
import { CancelRegistry } from './cancel.js';
import { ClientSession, type ClientTls } from './client-session.js';
import type { UpstreamTarget } from './upstream-connection.js';

export interface ProxyServerOptions {
  /** Where clients connect; port 0 picks a free port (see `address()`). */
  listen: { host: string; port: number };
  /** Upstream Postgres; every client gets its own connection there. */
  upstream: UpstreamTarget;
  router: QueryRouter;
  logger: Logger;
  metrics: Metrics;
  /** TLS for clients; without it SSLRequest is answered 'N'. */
  tls?: ClientTls;
  /** Connections beyond this many get FATAL 53300 (like max_connections); default 1000. */
  maxClients?: number;
  /** Close sessions idle this long outside a transaction (FATAL 57P05); 0 (default) = never. */
  idleTimeoutMs?: number;
  /** Read-your-writes for every session (`--consistency session`). */
  readYourWrites?: ReadYourWritesSource | undefined;
}

/** How long `close()` lets in-flight statements finish before ending their sessions. */
export const DRAIN_TIMEOUT_MS = 10_000;

export class ProxyServer {
  private readonly server: Server;
  /** Open sessions, each with a promise settled when it has closed. */
  private readonly sessions = new Map<ClientSession, { closed: Promise<void>; resolve: () => void }>();
  private readonly cancel = new CancelRegistry();
  private nextId = 1;
  private listening = false;
  private closing: Promise<void> | undefined;

  constructor(private readonly opts: ProxyServerOptions) {
    this.server = createServer({ noDelay: true, keepAlive: true }, (socket) => this.accept(socket));
    this.server.on('error', (err) => {
      // Once listening, accept errors (EMFILE, ...) must not crash the process.
      if (this.listening) opts.logger.error({ err: errorMessage(err) }, 'proxy listener error');
    });
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen(this.opts.listen.port, this.opts.listen.host, () => {
        this.server.removeListener('error', onError);
        this.listening = true;
        const addr = this.address();
        this.opts.logger.info({ host: addr.host, port: addr.port, tls: !!this.opts.tls }, 'proxy listening');
        resolve();
      });
    });
  }

  /** The bound address (the real port when started with port 0). */
  address(): { host: string; port: number } {
    const addr = this.server.address();
    if (!addr || typeof addr === 'string') return { ...this.opts.listen };
    return { host: addr.address, port: addr.port };
  }

  clientCount(): number {
    return this.sessions.size;
  }

  /**
   * Shutdown: stop accepting, let statements in flight finish (at most
   * `drainMs`), then end every session with FATAL 57P01 and close its
   * upstream connection. Idle sessions end at once.
   */
  close(drainMs = DRAIN_TIMEOUT_MS): Promise<void> {
    this.closing ??= (async () => {
      const closed = new Promise<void>((resolve) => {
        if (!this.server.listening) resolve();
        else this.server.close(() => resolve());
      });
      this.listening = false;
      const pending = [...this.sessions.values()].map((e) => e.closed);
      if (this.sessions.size > 0)
        this.opts.logger.info({ sessions: this.sessions.size }, 'draining sessions');
      for (const s of [...this.sessions.keys()]) s.drain();
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, drainMs);
      });
      await Promise.race([Promise.all(pending), deadline]);
      clearTimeout(timer);
      for (const s of [...this.sessions.keys()]) s.shutdown();
      await Promise.all([closed, ...pending]);
    })();
    return this.closing;
  }

  private accept(socket: Socket): void {
    try {
      if (this.closing) {
        socket.destroy();
        return;
      }
      const id = this.nextId++;
      let resolve: () => void = () => {};
      const closed = new Promise<void>((r) => {
        resolve = r;
      });
      const max = this.opts.maxClients ?? 1000;
      // Like Postgres, the refusal comes after the startup packet (and any TLS
      // negotiation), so the client can read it; cancel requests still work.
      const refuse =
        this.sessions.size >= max
          ? new PgError({
              severity: 'FATAL',
              code: SqlState.tooManyConnections,
              message: 'sorry, too many clients already',
            })
          : undefined;
      const session = new ClientSession({
        socket,
        id,
        upstream: this.opts.upstream,
        router: this.opts.router,
        logger: this.opts.logger,
        metrics: this.opts.metrics,
        cancel: this.cancel,
        tls: this.opts.tls,
        idleTimeoutMs: this.opts.idleTimeoutMs ?? 0,
        readYourWrites: this.opts.readYourWrites,
        refuse,
        onClose: (s) => {
          this.sessions.get(s)?.resolve();
          this.sessions.delete(s);
        },
      });
      this.sessions.set(session, { closed, resolve });
    } catch (err) {
      this.opts.logger.error({ err: errorMessage(err) }, 'could not start client session');
      socket.destroy();
    }
  }
}
