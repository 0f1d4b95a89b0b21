/**
 * One client's own raw TCP connection to upstream Postgres. Bytes only: the
 * client session decides what to send and reads what comes back.
 */
import { connect, type Socket } from 'node:net';
import { TERMINATE } from '../wire/frontend.js';

export interface UpstreamTarget {
  host: string;
  port: number;
  /** Give up connecting after this long; default 10 s. */
  connectTimeoutMs?: number;
}

export interface UpstreamHandlers {
  data(chunk: Buffer): void;
  /** Called exactly once. `connected` tells a refused connection from a lost one. */
  close(info: { error: Error | undefined; connected: boolean }): void;
  /** The socket can take more writes again. */
  drain(): void;
}

export class UpstreamConnection {
  private readonly socket: Socket;
  private connected = false;
  private error: Error | undefined;
  private closed = false;

  constructor(target: UpstreamTarget, handlers: UpstreamHandlers) {
    this.socket = connect({ host: target.host, port: target.port, noDelay: true, keepAlive: true });
    this.socket.setTimeout(target.connectTimeoutMs ?? 10_000, () => {
      if (this.connected) return;
      this.error ??= new Error('timed out');
      this.socket.destroy();
    });
    this.socket.once('connect', () => {
      this.connected = true;
      // The timeout was only for connecting; an idle session may stay idle.
      this.socket.setTimeout(0);
    });
    this.socket.on('data', (chunk: Buffer) => handlers.data(chunk));
    this.socket.on('drain', () => handlers.drain());
    this.socket.on('error', (err) => {
      this.error ??= err;
    });
    this.socket.once('close', () => {
      this.closed = true;
      handlers.close({ error: this.error, connected: this.connected });
    });
  }

  isClosed(): boolean {
    return this.closed;
  }

  /** Queues bytes (buffered by Node while connecting); false means wait for `drain`. */
  write(buf: Buffer): boolean {
    if (this.closed || this.socket.destroyed || !this.socket.writable) return true;
    return this.socket.write(buf);
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    if (!this.closed) this.socket.resume();
  }

  /** Polite close: Terminate (when the session got that far) then FIN. */
  terminate(sendTerminate: boolean): void {
    if (this.closed || this.socket.destroyed) return;
    if (sendTerminate && this.connected && this.socket.writable) this.socket.end(TERMINATE);
    else this.socket.end();
    // Do not wait on a peer that never closes its side.
    setTimeout(() => this.socket.destroy(), 2_000).unref();
  }

  destroy(): void {
    this.socket.destroy();
  }
}
