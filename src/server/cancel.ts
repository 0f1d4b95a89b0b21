/**
 * Query cancellation. Each client gets Outpost's own BackendKeyData (a random
 * process id and secret) instead of upstream's, so a CancelRequest reaching
 * Outpost can be mapped to the upstream backend running that client's query
 * and sent on over a new connection, as Postgres expects.
 * https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-CANCELING-REQUESTS
 */
import { randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import { connect } from 'node:net';
import { serializeCancelRequest } from '../wire/frontend.js';

export interface BackendKey {
  processId: number;
  secretKey: Buffer;
}

const MAX_PID = 0x7fff_ffff;

export interface CancelTarget {
  /** Upstream's key for the client's backend. */
  upstream: BackendKey;
  /**
   * Whether the session has work upstream right now. A statement answered
   * inline is over before any CancelRequest can be read, so a session with
   * nothing upstream (and no statement in an executor) has nothing to
   * cancel, and relaying would only risk cancelling its next statement.
   */
  busy(): boolean;
  /** Stops the session's local statement if one is running (in an executor); false when there is none. */
  cancelLocal?(): boolean;
}

export class CancelRegistry {
  /** Outpost's process id → (Outpost's secret, the session's target). */
  private readonly keys = new Map<number, { secretKey: Buffer; target: CancelTarget }>();

  /** Allocates Outpost's key for a client whose upstream backend has `upstream` as key. */
  register(upstream: BackendKey, busy: () => boolean = () => true, cancelLocal?: () => boolean): BackendKey {
    let processId: number;
    do processId = randomInt(1, MAX_PID);
    while (this.keys.has(processId));
    // 4 bytes is what every protocol 3.x client accepts.
    const secretKey = randomBytes(4);
    this.keys.set(processId, {
      secretKey,
      target: cancelLocal ? { upstream, busy, cancelLocal } : { upstream, busy },
    });
    return { processId, secretKey };
  }

  unregister(ours: BackendKey): void {
    const entry = this.keys.get(ours.processId);
    if (entry?.secretKey.equals(ours.secretKey)) this.keys.delete(ours.processId);
  }

  /** The session behind one of Outpost's keys, or undefined when unknown or the secret is wrong. */
  lookup(processId: number, secretKey: Buffer): CancelTarget | undefined {
    const entry = this.keys.get(processId);
    if (!entry || entry.secretKey.length !== secretKey.length) return undefined;
    return timingSafeEqual(entry.secretKey, secretKey) ? entry.target : undefined;
  }

  size(): number {
    return this.keys.size;
  }
}

/**
 * Sends a CancelRequest to upstream on a new connection. Postgres answers
 * nothing and closes; resolves once the connection is closed (or after
 * `timeoutMs`), rejects if the connection fails.
 */
export function sendCancel(
  upstream: { host: string; port: number },
  key: BackendKey,
  timeoutMs = 10_000,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: upstream.host, port: upstream.port });
    let failure: Error | undefined;
    const timer = setTimeout(() => {
      failure = new Error('timed out sending cancel request upstream');
      socket.destroy();
    }, timeoutMs);
    timer.unref();
    socket.on('error', (err) => {
      failure ??= err;
    });
    socket.on('connect', () => {
      socket.end(serializeCancelRequest(key.processId, key.secretKey));
    });
    socket.resume(); // discard anything, so the close is seen
    socket.on('close', () => {
      clearTimeout(timer);
      if (failure) reject(failure);
      else resolve();
    });
  });
}
