/**
 * JetStream publishes with their PubAcks on one reply subscription: each
 * message is a plain core publish whose reply subject is `<inbox>.<id>`, and
 * the stream's PubAck (or error) comes back to a single wildcard
 * subscription, matched by id.
 *
 * Why not `js.publish`: it is a request per message (a mux-subscription
 * entry, a timer, a promise chain, header building and a token each): at 500
 * tps that was the largest part of the hub's main thread in bench fanout's
 * profile. Here a message costs its publish and, on its reply, a JSON parse;
 * timeouts are found by one timer scanning the oldest pending messages
 * (sent in order, so they time out in order).
 *
 * The answers mean the same as js.publish's: `{stream, seq, duplicate}` is
 * the ack; `{error: {code, err_code, description}}` (a wrong expected last
 * sequence, a message over max_payload, ...) and a status reply (503: no
 * stream listens on the subject) are failures; no answer within the timeout is
 * a failure too, and a late answer after it is ignored.
 */
import {
  createInbox,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type Subscription,
} from '@nats-io/transport-node';

export interface PubAckHandlers {
  ack(seq: number, duplicate: boolean): void;
  fail(err: Error): void;
}

interface Pending extends PubAckHandlers {
  at: number;
}

/** Thrown (passed to `fail`) when JetStream refuses a message. */
export class PubAckError extends Error {
  constructor(
    message: string,
    /** JetStream's err_code, or the status code of a status reply (503: no responders). */
    readonly code: number,
  ) {
    super(message);
  }
}

export class PubAckChannel {
  private readonly prefix: string;
  private readonly sub: Subscription;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs: number,
  ) {
    this.prefix = `${createInbox()}.`;
    this.sub = nc.subscribe(`${this.prefix}*`, { callback: (err, msg) => this.onReply(err, msg) });
    this.timer = setInterval(() => this.expire(), Math.max(50, Math.min(1_000, timeoutMs / 4)));
    this.timer.unref();
  }

  /** Messages sent and not answered yet. */
  get size(): number {
    return this.pending.size;
  }

  /** Publishes `body` to `subject`; exactly one of the handlers is called later (never synchronously). */
  publish(subject: string, body: Uint8Array, headers: MsgHdrs, handlers: PubAckHandlers): void {
    if (this.closed) {
      queueMicrotask(() => handlers.fail(new Error('publisher closed')));
      return;
    }
    const id = this.nextId++;
    try {
      this.nc.publish(subject, body, { reply: this.prefix + id, headers });
    } catch (err) {
      queueMicrotask(() => handlers.fail(err as Error));
      return;
    }
    this.pending.set(id, { ack: handlers.ack, fail: handlers.fail, at: Date.now() });
  }

  /** Fails every pending message (the connection was lost: their answers may never come). */
  failAll(err: Error): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.fail(err);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    try {
      this.sub.unsubscribe();
    } catch {
      // The connection is closed already: so is the subscription.
    }
    this.failAll(new Error('publisher closed'));
  }

  private onReply(err: Error | null, msg: Msg): void {
    if (err) {
      // The subscription itself failed (permissions): nothing will be answered.
      this.failAll(err);
      return;
    }
    const id = Number(msg.subject.slice(this.prefix.length));
    const p = this.pending.get(id);
    if (!p) return; // timed out already
    this.pending.delete(id);
    const h = msg.headers;
    if (msg.data.length === 0 && h?.hasError) {
      p.fail(new PubAckError(`${h.code} ${h.description}`.trim(), h.code));
      return;
    }
    let r: {
      stream?: string;
      seq?: number;
      duplicate?: boolean;
      error?: { code?: number; err_code?: number; description?: string };
    };
    try {
      r = JSON.parse(msg.string()) as typeof r;
    } catch {
      p.fail(new PubAckError('invalid PubAck from JetStream', 0));
      return;
    }
    if (r.error) {
      p.fail(new PubAckError(r.error.description ?? 'JetStream refused the message', r.error.err_code ?? 0));
      return;
    }
    if (typeof r.seq !== 'number' || !r.stream) {
      p.fail(new PubAckError('invalid PubAck from JetStream', 0));
      return;
    }
    p.ack(r.seq, r.duplicate === true);
  }

  private expire(): void {
    const limit = Date.now() - this.timeoutMs;
    const late: Pending[] = [];
    // In insertion order, which is sending order: the first one still in time ends the scan.
    for (const [id, p] of this.pending) {
      if (p.at > limit) break;
      this.pending.delete(id);
      late.push(p);
    }
    for (const p of late) p.fail(new PubAckError('timeout waiting for the PubAck', 408));
  }
}
