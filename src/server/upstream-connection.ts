/**
 * One client's own connection to upstream Postgres, TCP or TLS. Bytes only:
 * the client session decides what to send and reads what comes back.
 *
 * TLS follows libpq's `sslmode`: SSLRequest first, then the TLS handshake on
 * 'S', before anything else is sent (writes are queued meanwhile).
 * https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-SSL
 * https://www.postgresql.org/docs/current/libpq-ssl.html#LIBPQ-SSL-PROTECTION
 */
import { connect, type Socket } from 'node:net';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import { SSL_REQUEST, TERMINATE } from '../wire/frontend.js';

export type SslMode = 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';

export interface UpstreamTls {
  mode: SslMode;
  /** PEM root certificates (`sslrootcert`); undefined uses the system's. */
  ca?: string | Buffer;
  /** Client certificate and key (`sslcert`, `sslkey`), PEM. */
  cert?: string | Buffer;
  key?: string | Buffer;
}

export interface UpstreamTarget {
  host: string;
  port: number;
  /** Give up connecting (TCP and TLS) after this long; default 10 s. */
  connectTimeoutMs?: number;
  /** Default: no TLS. */
  tls?: UpstreamTls;
}

export interface UpstreamHandlers {
  data(chunk: Buffer): void;
  /** Called exactly once. `connected` tells a refused connection from a lost one. */
  close(info: { error: Error | undefined; connected: boolean }): void;
  /** The socket can take more writes again. */
  drain(): void;
}

/** Whether this mode sends SSLRequest, and whether it insists on TLS. */
function negotiates(mode: SslMode): { request: boolean; required: boolean } {
  switch (mode) {
    case 'disable':
    case 'allow':
      return { request: false, required: false };
    case 'prefer':
      return { request: true, required: false };
    default:
      return { request: true, required: true };
  }
}

/** Bytes queued before the connection is up beyond which `write` asks the writer to wait. */
const PENDING_HIGH_WATER = 64 * 1024;

export class UpstreamConnection {
  private readonly raw: Socket;
  private socket: Socket;
  /** Ready for the session's bytes (TCP connected, TLS negotiated if any). */
  private connected = false;
  private error: Error | undefined;
  private closed = false;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** `write` answered false while connecting: `drain` is owed once connected. */
  private owesDrain = false;
  private paused = false;
  private secure: TLSSocket | undefined;

  constructor(
    private readonly target: UpstreamTarget,
    private readonly handlers: UpstreamHandlers,
  ) {
    this.raw = connect({ host: target.host, port: target.port, noDelay: true, keepAlive: true });
    this.socket = this.raw;
    this.raw.setTimeout(target.connectTimeoutMs ?? 10_000, () => {
      if (this.connected) return;
      this.error ??= new Error('timed out');
      this.destroy();
    });
    this.raw.on('error', (err) => {
      this.error ??= err;
    });
    this.raw.once('close', () => this.onClose());
    this.raw.once('connect', () => {
      const tls = target.tls;
      if (tls && negotiates(tls.mode).request) this.requestTls(tls);
      else this.ready(this.raw);
    });
  }

  private requestTls(tls: UpstreamTls): void {
    this.raw.write(SSL_REQUEST);
    this.raw.once('data', (answer: Buffer) => {
      this.raw.pause();
      const code = answer[0];
      if (code === 0x53 /* S */) {
        if (answer.length > 1) {
          // Bytes before the handshake could have been injected by anyone on the path (CVE-2021-23222).
          this.fail(new Error('received unencrypted data after SSL response'));
          return;
        }
        this.startTls(tls);
        return;
      }
      if (code === 0x4e /* N */ && answer.length === 1) {
        if (negotiates(tls.mode).required) {
          this.fail(new Error('server does not support SSL, but SSL was required'));
          return;
        }
        this.ready(this.raw);
        return;
      }
      this.fail(new Error('received invalid response to SSL negotiation'));
    });
  }

  private startTls(tls: UpstreamTls): void {
    const verify =
      tls.mode === 'verify-ca' || tls.mode === 'verify-full' || (tls.mode === 'require' && !!tls.ca);
    const secure = tlsConnect({
      socket: this.raw,
      host: this.target.host,
      servername: /^[\d.:]+$/.test(this.target.host) ? undefined : this.target.host,
      rejectUnauthorized: verify,
      ...(tls.ca ? { ca: tls.ca } : {}),
      ...(tls.cert ? { cert: tls.cert } : {}),
      ...(tls.key ? { key: tls.key } : {}),
      // verify-ca checks the chain only; verify-full also the host name (Node's default check).
      ...(tls.mode === 'verify-full' ? {} : { checkServerIdentity: () => undefined }),
    });
    this.secure = secure;
    secure.on('error', (err) => {
      this.error ??= err;
      this.destroy();
    });
    secure.once('secureConnect', () => this.ready(secure));
  }

  private ready(socket: Socket): void {
    if (this.closed) return;
    this.socket = socket;
    this.connected = true;
    // The timeout was only for connecting; an idle session may stay idle.
    this.raw.setTimeout(0);
    socket.on('data', (chunk: Buffer) => this.handlers.data(chunk));
    socket.on('drain', () => this.handlers.drain());
    if (socket !== this.raw) socket.once('close', () => this.onClose());
    const pending = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    let flushed = true;
    for (const buf of pending) flushed = socket.write(buf);
    if (this.paused) socket.pause();
    else socket.resume();
    if (this.owesDrain) {
      this.owesDrain = false;
      // Otherwise the socket's own 'drain' follows.
      if (flushed) this.handlers.drain();
    }
  }

  private fail(err: Error): void {
    this.error ??= err;
    this.destroy();
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.pending = [];
    this.handlers.close({ error: this.error, connected: this.connected });
  }

  isClosed(): boolean {
    return this.closed;
  }

  /** Whether the connection is encrypted. */
  isTls(): boolean {
    return this.connected && this.secure !== undefined;
  }

  /** Upstream's certificate (DER) when on TLS. */
  peerCertificate(): Buffer | undefined {
    return this.secure?.getPeerCertificate()?.raw;
  }

  /** Queues bytes (held until connected); false means wait for `drain`. */
  write(buf: Buffer): boolean {
    if (this.closed) return true;
    if (!this.connected) {
      this.pending.push(buf);
      this.pendingBytes += buf.length;
      // Queued bytes count against the writer like a socket's buffer does.
      if (this.pendingBytes <= PENDING_HIGH_WATER) return true;
      this.owesDrain = true;
      return false;
    }
    if (this.socket.destroyed || !this.socket.writable) return true;
    return this.socket.write(buf);
  }

  pause(): void {
    this.paused = true;
    if (this.connected) this.socket.pause();
  }

  resume(): void {
    this.paused = false;
    if (this.connected && !this.closed) this.socket.resume();
  }

  /** Polite close: Terminate (when the session got that far) then FIN. */
  terminate(sendTerminate: boolean): void {
    if (this.closed || this.socket.destroyed) return;
    if (!this.connected) {
      this.destroy();
      return;
    }
    if (sendTerminate && this.socket.writable) this.socket.end(TERMINATE);
    else this.socket.end();
    // Do not wait on a peer that never closes its side.
    setTimeout(() => this.destroy(), 2_000).unref();
  }

  destroy(): void {
    this.secure?.destroy();
    this.raw.destroy();
  }
}
