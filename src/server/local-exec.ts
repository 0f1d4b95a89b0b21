/**
 * A session's local statement running in an executor process (src/exec),
 * with its statement_timeout.
 */
import { NotLocal } from '../errors.js';
import type { RunningJob, StreamSink } from '../exec/pool.js';
import type { LocalOffload } from '../router/types.js';

export interface InFlight {
  task: RunningJob;
  timer: NodeJS.Timeout | undefined;
  /** Why it was stopped: a CancelRequest or statement_timeout. */
  stoppedBy: 'user' | 'timeout' | undefined;
}

/** Starts the job; `timeoutMs` > 0 stops it after that long, like Postgres's statement_timeout. */
export function startOffloaded(offload: LocalOffload, timeoutMs: number, stream?: StreamSink): InFlight {
  const inFlight: InFlight = { task: offload.start(stream), timer: undefined, stoppedBy: undefined };
  if (timeoutMs > 0) {
    inFlight.timer = setTimeout(() => {
      inFlight.stoppedBy ??= 'timeout';
      inFlight.task.cancel();
    }, timeoutMs);
  }
  return inFlight;
}

/**
 * A statement run on the proxy's thread (a key lookup, src/exec/inline.ts,
 * or a plan with a small worst case, src/router/inline-bounds.ts) under the
 * session's statement_timeout. Such runs are bounded by construction (a few
 * equality lookups, `INLINE_ROW_BUDGET` rows, `INLINE_VISIT_BUDGET` rows
 * visited) and take microseconds to about a millisecond;
 * still, one that took as long as the timeout is not answered here (it
 * cannot be stopped half-way, and Postgres might have cancelled it): it goes
 * upstream, which decides, as nothing was sent yet.
 */
export function runInline<T>(timeoutMs: number | undefined, run: () => T): T {
  if (!timeoutMs) return run();
  const started = performance.now();
  const result = run();
  if (performance.now() - started >= timeoutMs)
    throw new NotLocal(
      'statement took as long as its timeout inline (statement_timeout or transaction_timeout)',
    );
  return result;
}

export function stopReason(inFlight: InFlight): 'user' | 'timeout' {
  return inFlight.stoppedBy ?? 'user';
}

/** A keepalive goes upstream this long before upstream's own idle-in-transaction clock would run out. */
const KEEPALIVE_MARGIN_MS = 200;

/**
 * idle_in_transaction_session_timeout for a READ ONLY transaction served
 * locally. Upstream enforces it, but sees the transaction idle from its
 * last statement there, while the client may be busy reading locally: so
 * before upstream's clock runs out, if the client has been active since, a
 * hidden statement resets it (`keepalive`); and the session's own clock,
 * from the client's last answer, ends the session with Postgres's FATAL
 * 25P03 (`expire`) when Postgres would.
 */
export class IdleInTransaction {
  private timer: NodeJS.Timeout | undefined;
  private upstreamIdleSince = Date.now();
  /** Undefined while the client's statement is being answered. */
  private clientIdleSince: number | undefined;
  private watching = false;

  constructor(
    private readonly hooks: {
      /** The timeout in ms (0: none). */
      ms(): number;
      keepalive(): void;
      expire(): void;
    },
  ) {}

  /** Upstream sent ReadyForQuery: its idle clock restarts. */
  upstreamReady(): void {
    this.upstreamIdleSince = Date.now();
    if (this.watching) this.arm();
  }

  /** The session waits for the client inside a local READ ONLY transaction. */
  clientIdle(): void {
    if (this.watching && this.clientIdleSince !== undefined) return;
    this.watching = true;
    this.clientIdleSince = Date.now();
    this.arm();
  }

  /** The client sent something: only upstream's clock matters until it is answered. */
  clientBusy(): void {
    if (!this.watching) return;
    this.clientIdleSince = undefined;
    this.arm();
  }

  /** The transaction is no longer served locally. */
  stop(): void {
    this.watching = false;
    this.clientIdleSince = undefined;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const ms = this.hooks.ms();
    if (ms <= 0) return;
    const since = this.clientIdleSince;
    const expireAt = since === undefined ? Number.POSITIVE_INFINITY : since + ms;
    // The client was active after upstream's clock started: upstream's would run out first.
    const keepaliveAt =
      since === undefined || since > this.upstreamIdleSince
        ? this.upstreamIdleSince + ms - KEEPALIVE_MARGIN_MS
        : Number.POSITIVE_INFINITY;
    const at = Math.min(expireAt, keepaliveAt);
    if (at === Number.POSITIVE_INFINITY) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        if (Date.now() >= expireAt) this.hooks.expire();
        else this.hooks.keepalive();
      },
      Math.max(0, at - Date.now()),
    );
    this.timer.unref();
  }
}
