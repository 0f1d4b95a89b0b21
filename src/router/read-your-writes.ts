/**
 * Read-your-writes for one session (`--consistency session`). After anything
 * the session sent upstream completes outside a transaction (autocommit or
 * COMMIT), Outpost learns upstream's WAL insert position — at or after that
 * commit: from a hidden query pipelined right behind it on the session's own
 * connection when it could send one (`knownPosition`, no round trip of its
 * own), else with one query on its own catalog connection, off the client's
 * path. The session's next local reads wait until the replica has applied
 * that position; past `--ryw-timeout` they go upstream instead, until the
 * replica catches up. Never a blind sleep.
 */
import type { TxStatus } from '../session.js';

export interface ReadYourWritesSource {
  /** Upstream's current WAL insert position (`pg_current_wal_insert_lsn()`), read after the commit. */
  currentLsn(): Promise<bigint>;
  /** The position the replica reflects. */
  appliedLsn(): bigint;
  /** Subscribe to "the replica applied more"; returns the unsubscribe function. */
  onApplied(listener: () => void): () => void;
  timeoutMs: number;
}

export type FenceState = 'ok' | 'wait' | 'expired';

export const RYW_EXPIRED =
  "read-your-writes: replica has not applied this session's last write within --ryw-timeout";
export const RYW_WAITING = "read-your-writes: waiting for the replica to apply this session's last write";

export class SessionFence {
  /** The session sent something upstream since its last fence. */
  private forwarded = false;
  /** Position the session's reads must see; undefined when there is none outstanding. */
  private mustSee: bigint | undefined;
  private lookup: Promise<void> | undefined;
  private deadline = 0;
  /** Read on the session's connection after what it forwarded: used by the next ReadyForQuery. */
  private known: bigint | undefined;

  constructor(private readonly source: ReadYourWritesSource) {}

  /** Something of this session went upstream (it may write). */
  markForwarded(): void {
    this.forwarded = true;
  }

  /**
   * Upstream's WAL insert position, read by a query the session sent right
   * behind its statements (so at or after their commit), ahead of the
   * ReadyForQuery that ends them.
   */
  knownPosition(lsn: bigint): void {
    this.known = lsn;
  }

  /** The known position was read before statements that are still owed: not theirs. */
  discardKnown(): void {
    this.known = undefined;
  }

  /** Upstream's ReadyForQuery: outside a transaction, whatever was forwarded has committed (or failed). */
  onReadyForQuery(status: TxStatus): void {
    const known = this.known;
    this.known = undefined;
    if (!this.forwarded || status !== 'I') return;
    this.forwarded = false;
    this.deadline = Date.now() + this.source.timeoutMs;
    if (known !== undefined) {
      if (this.mustSee === undefined || known > this.mustSee) this.mustSee = known;
      return;
    }
    const lookup = this.source.currentLsn().then(
      (lsn) => {
        if (this.mustSee === undefined || lsn > this.mustSee) this.mustSee = lsn;
      },
      () => {
        // Position unknown: nothing local can be proven fresh until the timeout.
        this.mustSee = 0xffff_ffff_ffff_ffffn;
      },
    );
    this.lookup = lookup;
    void lookup.finally(() => {
      if (this.lookup === lookup) this.lookup = undefined;
    });
  }

  /** May a local read run now (`ok`), should it wait (`wait`), or go upstream (`expired`)? */
  check(): FenceState {
    if (
      this.lookup === undefined &&
      (this.mustSee === undefined || this.source.appliedLsn() >= this.mustSee)
    ) {
      this.mustSee = undefined;
      return 'ok';
    }
    return Date.now() >= this.deadline ? 'expired' : 'wait';
  }

  /** Resolves when `check()` may have changed: the lookup settled, the replica applied more, or the deadline passed. */
  changed(): Promise<void> {
    return new Promise((resolve) => {
      let off = () => {};
      const timer = setTimeout(done, Math.max(0, this.deadline - Date.now()) + 1);
      function done() {
        clearTimeout(timer);
        off();
        resolve();
      }
      off = this.source.onApplied(done);
      this.lookup?.then(done, done);
      // Applied between the caller's check and the listener (an engine thread
      // tells only the listeners it knows of: engine-thread.ts).
      if (
        this.lookup === undefined &&
        this.mustSee !== undefined &&
        this.source.appliedLsn() >= this.mustSee
      ) {
        done();
      }
    });
  }
}

/**
 * Shares upstream position lookups between sessions: a request is answered
 * by the first lookup that *starts* after it (so the position is at or after
 * the request's commit), and at most one lookup runs at a time. Under many
 * committing sessions this is one query per round trip instead of one per
 * commit, on a catalog pool of two connections.
 */
export function coalescedLookup(lookup: () => Promise<bigint>): () => Promise<bigint> {
  type Waiter = { resolve: (lsn: bigint) => void; reject: (err: unknown) => void };
  let waiting: Waiter[] = [];
  let running = false;
  const run = async (): Promise<void> => {
    running = true;
    while (waiting.length > 0) {
      const batch = waiting;
      waiting = [];
      try {
        const lsn = await lookup();
        for (const w of batch) w.resolve(lsn);
      } catch (err) {
        for (const w of batch) w.reject(err);
      }
    }
    running = false;
  };
  return () =>
    new Promise<bigint>((resolve, reject) => {
      waiting.push({ resolve, reject });
      if (!running) void run();
    });
}
