/**
 * How far behind upstream the replica is, in time, and whether that is within
 * `--max-lag`.
 *
 * Every sample records when upstream's WAL end was first seen at a position;
 * the lag is the age of the oldest such position the replica has not applied
 * yet. An idle upstream keeps confirming its position through keepalives and
 * the replica follows it, so idleness never counts as lag; a steady write
 * load counts only as the time its changes take to arrive and apply.
 */
export interface ReplicationView {
  /** `streaming` when changes are flowing; anything else means replication is down or not ready. */
  state: string;
  appliedLsn: bigint;
  /** Latest upstream WAL end the stream reported. */
  upstreamLsn: bigint;
  /**
   * Follow mode (an edge): Date.now() when the hub's stream last said
   * anything. The hub sends a heartbeat at least every second, so a longer
   * silence (NATS or the hub gone) is lag, measured from then: the edge keeps
   * serving within --max-lag and forwards after it.
   */
  heardAt?: number;
}

/** Silence of the hub's stream beyond this counts as lag (it heartbeats at least every 1 s). */
export const STREAM_SILENCE_GRACE_MS = 1_500;

const MAX_SAMPLES = 10_000;

export class Freshness {
  /** Upstream positions not yet applied, with when they were first seen; ascending. */
  private pending: { lsn: bigint; at: number }[] = [];
  private state = 'starting';
  /** Last time replication was streaming (or start). */
  private lastStreaming: number;
  private heardAt: number | undefined;

  constructor(
    private readonly view: () => ReplicationView,
    private readonly maxLagMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.lastStreaming = now();
  }

  /** Take a sample of the replication state. Cheap; called on every check and by a timer. */
  sample(): void {
    const v = this.view();
    const t = this.now();
    this.state = v.state;
    this.heardAt = v.heardAt;
    if (v.state === 'streaming') this.lastStreaming = t;
    const last = this.pending[this.pending.length - 1];
    if (v.upstreamLsn > v.appliedLsn && (!last || v.upstreamLsn > last.lsn)) {
      this.pending.push({ lsn: v.upstreamLsn, at: t });
      if (this.pending.length > MAX_SAMPLES) this.pending.splice(1, this.pending.length - MAX_SAMPLES);
    }
    while (this.pending.length > 0 && (this.pending[0] as { lsn: bigint }).lsn <= v.appliedLsn)
      this.pending.shift();
  }

  /** Milliseconds the replica is behind: the age of the oldest upstream position it has not applied. */
  lagMs(): number {
    this.sample();
    return this.lagAt(this.now());
  }

  /** Lag as of the latest sample; while replication is down the outage counts too. */
  private lagAt(t: number): number {
    const oldest = this.pending[0];
    const down = this.state === 'streaming' ? 0 : t - this.lastStreaming;
    const silent = this.heardAt !== undefined && this.heardAt > 0 ? t - this.heardAt : 0;
    return Math.max(0, oldest ? t - oldest.at : 0, down, silent > STREAM_SILENCE_GRACE_MS ? silent : 0);
  }

  /**
   * Why local reads must go upstream right now, or undefined when the replica
   * is fresh enough. Asked for every statement: while the latest sample (taken
   * on a short timer) says all is well it is trusted as is; a verdict to
   * forward is confirmed with a fresh sample, so recovery is seen at once.
   */
  staleness(): string | undefined {
    if (this.state !== 'streaming' || this.lagAt(this.now()) > this.maxLagMs) this.sample();
    const lag = this.lagAt(this.now());
    if (this.state !== 'streaming') return `replication ${this.state}`;
    if (lag > this.maxLagMs) {
      return `replica lag ${(lag / 1000).toFixed(1)} s exceeds --max-lag ${(this.maxLagMs / 1000).toFixed(1)} s`;
    }
    return undefined;
  }
}
