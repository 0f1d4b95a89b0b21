/**
 * The hub's NATS connection: connects (retrying until NATS answers), lets the
 * client reconnect forever with a growing delay, tells when it is up or down
 * (one log line per outage, not one per failed publish) and makes sure the
 * change stream exists with the configuration of docs/architecture.md.
 */
import { EventEmitter } from 'node:events';
import {
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type StoredMsg,
  type StreamConfig,
  type StreamInfo,
} from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { changesSubject } from './wire-format.js';

export interface NatsLinkOptions {
  url: string;
  stream: string;
  logger: Logger;
  /** Client name shown by the server's monitoring. */
  name?: string;
  /** Retention of the change stream (ms); default 24 h. */
  maxAgeMs?: number;
  /** Byte cap of the change stream; default none. */
  maxBytes?: number;
}

/** A restarted hub republishes from its confirmed position: dedup covers it within this window. */
export const DUPLICATE_WINDOW_MS = 10 * 60_000;
const DEFAULT_MAX_AGE_MS = 24 * 3600_000;
const FIRST_DELAY_MS = 250;
const MAX_DELAY_MS = 5_000;
/** A dead server behind a live socket is noticed within about pingInterval × maxPingOut. */
const PING_INTERVAL_MS = 5_000;
const MAX_PING_OUT = 3;

const ms2ns = (ms: number) => ms * 1_000_000;

export function changeStreamConfig(
  name: string,
  opts: { maxAgeMs?: number | undefined; maxBytes?: number | undefined } = {},
): Partial<StreamConfig> & { name: string } {
  return {
    name,
    subjects: [changesSubject(name)],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    duplicate_window: ms2ns(DUPLICATE_WINDOW_MS),
    max_age: ms2ns(opts.maxAgeMs ?? DEFAULT_MAX_AGE_MS),
    max_bytes: opts.maxBytes ?? -1,
  };
}

export type NatsLinkEvents = { up: []; down: [] };

export class NatsLink extends EventEmitter<NatsLinkEvents> {
  private nc: NatsConnection | undefined;
  private jsClient: JetStreamClient | undefined;
  private jsManager: JetStreamManager | undefined;
  private up = false;
  private closed = false;
  /** Since when the connection is down (ms), for the log line when it is back. */
  private downSince: number | undefined;
  private attempt = 0;
  outages = 0;
  lastError: string | undefined;

  constructor(private readonly opts: NatsLinkOptions) {
    super();
  }

  get connected(): boolean {
    return this.up;
  }

  /** The client connection (object store snapshots share it). */
  get connection(): NatsConnection {
    if (!this.nc) throw new Error('NATS is not connected yet');
    return this.nc;
  }

  get js(): JetStreamClient {
    if (!this.jsClient) throw new Error('NATS is not connected yet');
    return this.jsClient;
  }

  get jsm(): JetStreamManager {
    if (!this.jsManager) throw new Error('NATS is not connected yet');
    return this.jsManager;
  }

  /**
   * The connected server's max_payload (from its INFO; a reconnection to
   * another server of a cluster updates it), or undefined before connecting.
   */
  maxPayload(): number | undefined {
    const n = this.nc?.info?.max_payload;
    return typeof n === 'number' && n > 0 ? n : undefined;
  }

  /** Resolves once connected the first time (retrying meanwhile); rejects only if closed first. */
  async open(): Promise<void> {
    let delay = FIRST_DELAY_MS;
    for (;;) {
      if (this.closed) throw new Error('NATS link closed');
      try {
        const nc = await connect({
          // A cluster or a leaf node's peers: comma-separated, as for edges.
          servers: this.opts.url
            .split(',')
            .map((u) => u.trim())
            .filter((u) => u !== ''),
          name: this.opts.name ?? 'outpost-hub',
          maxReconnectAttempts: -1,
          reconnectDelayHandler: () => this.reconnectDelay(),
          pingInterval: PING_INTERVAL_MS,
          maxPingOut: MAX_PING_OUT,
          timeout: 5_000,
          // Else every publish builds two Error objects up front (RequestError, TimeoutError) for
          // their stack: ~10% of the hub's CPU at 500 tps (profiled). Errors keep their messages.
          noAsyncTraces: true,
        });
        if (this.closed) {
          await nc.close().catch(() => {});
          throw new Error('NATS link closed');
        }
        this.nc = nc;
        this.jsClient = jetstream(nc);
        this.jsManager = await jetstreamManager(nc);
        this.watch(nc);
        this.setUp();
        return;
      } catch (err) {
        if (this.closed) throw err;
        this.setDown(err);
        await sleep(delay);
        delay = Math.min(MAX_DELAY_MS, delay * 2);
      }
    }
  }

  /** Creates the change stream if missing; returns its info. */
  async ensureStream(): Promise<StreamInfo> {
    const jsm = this.jsm;
    const name = this.opts.stream;
    try {
      const info = await jsm.streams.info(name);
      if (!info.config.subjects?.includes(changesSubject(name))) {
        throw new Error(
          `NATS stream ${name} exists but does not hold subject ${changesSubject(name)}: use another --stream`,
        );
      }
      return info;
    } catch (err) {
      if ((err as Error).name !== 'StreamNotFoundError') throw err;
    }
    this.opts.logger.info({ stream: name }, 'nats: creating the change stream');
    return jsm.streams.add(
      changeStreamConfig(name, { maxAgeMs: this.opts.maxAgeMs, maxBytes: this.opts.maxBytes }),
    );
  }

  /** The stream's last message (null when it is empty). */
  async lastMessage(lastSeq: number): Promise<StoredMsg | null> {
    if (lastSeq <= 0) return null;
    return this.jsm.streams.getMessage(this.opts.stream, { seq: lastSeq });
  }

  async close(): Promise<void> {
    this.closed = true;
    const nc = this.nc;
    this.nc = undefined;
    this.up = false;
    if (nc) await nc.drain().catch(() => nc.close().catch(() => {}));
  }

  private reconnectDelay(): number {
    const d = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** this.attempt);
    this.attempt++;
    return d;
  }

  private watch(nc: NatsConnection): void {
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect' || s.type === 'staleConnection') this.setDown(undefined);
        else if (s.type === 'reconnect') this.setUp();
        else if (s.type === 'error') this.lastError = errorMessage(s.error);
      }
    })().catch(() => {});
    nc.closed().then(
      () => {
        if (!this.closed) this.setDown(new Error('NATS connection closed'));
      },
      () => {},
    );
  }

  private setUp(): void {
    const was = this.downSince;
    this.up = true;
    this.attempt = 0;
    this.downSince = undefined;
    if (was !== undefined) {
      this.opts.logger.info({ url: this.opts.url, downMs: Date.now() - was }, 'nats: connected again');
    } else this.opts.logger.info({ url: this.opts.url }, 'nats: connected');
    this.emit('up');
  }

  private setDown(err: unknown): void {
    if (err !== undefined) this.lastError = errorMessage(err);
    const wasUp = this.up;
    this.up = false;
    if (this.downSince !== undefined) return;
    this.downSince = Date.now();
    this.outages++;
    this.opts.logger.warn(
      { url: this.opts.url, ...(this.lastError ? { err: this.lastError } : {}) },
      wasUp ? 'nats: connection lost; reconnecting' : 'nats: cannot connect; retrying',
    );
    if (wasUp) this.emit('down');
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
