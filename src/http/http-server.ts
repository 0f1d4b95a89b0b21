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
    const server = createServer((req, res) => this.handle(req, res));
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
        this.send(res, 405, 'text/plain', 'method not allowed\n');
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

  private send(res: ServerResponse, code: number, type: string, body: string): void {
    res.writeHead(code, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }
}
