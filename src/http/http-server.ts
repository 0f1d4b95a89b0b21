/**
 * Operator endpoints: `GET /healthz` (process alive), `GET /readyz` (ready to
 * serve reads locally), `GET /status` (JSON),
 * `GET /metrics` (Prometheus text format). Read-only, no auth: bind it to a
 * private address.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log.js';
import { type Metrics, renderMetrics } from '../metrics.js';

export interface HttpOptions {
  host: string;
  port: number;
  logger: Logger;
  metrics: Metrics;
  /** The `/status` document, built on each request. */
  status: () => Record<string, unknown>;
  /**
   * Readiness for load balancers (`/readyz`): snapshot complete and lag within
   * bound. Not ready still means alive: reads are forwarded meanwhile.
   */
  ready?: () => { ready: boolean; reason?: string };
  /** Refresh gauges that are derived from live state, just before `/metrics` renders. */
  beforeMetrics?: () => void;
}

export class HttpServer {
  private server: Server | undefined;

  constructor(private readonly opts: HttpOptions) {}

  async start(): Promise<void> {
    // Small read-only endpoints: no request needs a body or long headers, and
    // none may hold a connection for long (Node's defaults allow 5 minutes).
    const server = createServer(
      {
        maxHeaderSize: MAX_HEADER_BYTES,
        headersTimeout: HEADERS_TIMEOUT_MS,
        requestTimeout: REQUEST_TIMEOUT_MS,
        // How often those timeouts are enforced (default 30 s).
        connectionsCheckingInterval: 1_000,
      },
      (req, res) => this.handle(req, res),
    );
    server.maxConnections = MAX_CONNECTIONS;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  address(): AddressInfo | undefined {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a : undefined;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        this.send(res, 405, 'text/plain', 'method not allowed\n', true);
        return;
      }
      if (hasBody(req)) {
        // Never read: close rather than drain whatever the client streams.
        this.send(res, 413, 'text/plain', 'request body not accepted\n', true);
        return;
      }
      switch (path) {
        case '/healthz':
          this.send(res, 200, 'text/plain', 'ok\n');
          return;
        case '/readyz': {
          const r = this.opts.ready?.() ?? { ready: true };
          this.send(
            res,
            r.ready ? 200 : 503,
            'application/json',
            `${JSON.stringify({ ready: r.ready, ...(r.reason ? { reason: r.reason } : {}) })}\n`,
          );
          return;
        }
        case '/status':
          this.send(res, 200, 'application/json', `${JSON.stringify(this.opts.status(), null, 2)}\n`);
          return;
        case '/metrics':
          this.opts.beforeMetrics?.();
          this.send(res, 200, 'text/plain; version=0.0.4', renderMetrics(this.opts.metrics));
          return;
        default:
          this.send(res, 404, 'text/plain', 'not found\n');
      }
    } catch (err) {
      this.opts.logger.error({ err, path }, 'http handler failed');
      this.send(res, 500, 'text/plain', 'internal error\n');
    }
  }

  private send(res: ServerResponse, code: number, type: string, body: string, close = false): void {
    res.writeHead(code, {
      'content-type': type,
      'content-length': Buffer.byteLength(body),
      ...(close ? { connection: 'close' } : {}),
    });
    res.end(body);
  }
}

/** Headers of a request (Node's default is 16 KiB). */
const MAX_HEADER_BYTES = 8 * 1024;
const HEADERS_TIMEOUT_MS = 5_000;
/** Whole request, headers included. */
const REQUEST_TIMEOUT_MS = 10_000;
/** Open connections at once; more are refused (scrapers and probes need a few). */
const MAX_CONNECTIONS = 64;

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}
