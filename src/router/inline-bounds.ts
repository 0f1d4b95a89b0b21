/**
 * Plans that are not key lookups but whose worst case is small, run on the
 * proxy's thread (see src/exec/inline-cost.ts for the bound). The round
 * trip to an executor costs the proxy 100-250 µs of CPU under load and
 * about as much in the executor, while such a statement (an order with its
 * three lines, a page of a category's products) takes SQLite 5-50 µs.
 *
 * The figures a bound needs (rows of a table, the largest group of an index
 * prefix) cost a full read of the table or index: an executor computes them
 * (`refresh`), in one snapshot with the replica's fingerprint. A run
 * inline reads the fingerprint in its own read transaction first: only when
 * it is the one the figures were computed for (the replica has not changed
 * since) are they exact for what the statement reads, and the statement
 * runs here if its worst case fits `INLINE_VISIT_BUDGET`. Otherwise it runs
 * in an executor as before, and the figures are computed again (at most
 * once a second per plan): while the replica changes continuously, these
 * plans stay in the executors.
 *
 * Safety net: an inline run that took longer than `INLINE_DEMOTE_MS` (a cost
 * per row far above the estimate: big values, a slow function) sends its
 * plan to the executors for good (until the schema changes), logged and
 * counted.
 */
import type Database from 'better-sqlite3';
import {
  type CostNode,
  costShape,
  type Factor,
  factorKey,
  factorSql,
  factorsOf,
  fingerprintSql,
  worstVisits,
} from '../exec/inline-cost.js';
import type { ExecPool } from '../exec/pool.js';

/**
 * Rows a run inline may visit in the worst case. SQLite visits a row in
 * 0.12-0.3 µs on this 2-core machine under load (scans, index lookups,
 * joins; measured at load 18), so about 1 ms.
 */
export const INLINE_VISIT_BUDGET = 4000;

/**
 * An inline run of a bounded plan longer than this, in wall time and (most
 * of it, `CPU_SHARE`) in CPU time, is a strike; `DEMOTE_STRIKES` of them
 * demote the plan to the executors. On a loaded machine a run is often
 * descheduled half-way (measured at load 15-20: a 0.2 ms run took 64 ms
 * once, and wall time alone demoted every bounded plan of the app mix
 * within seconds), which costs no CPU. A plan whose rows really cost more
 * than estimated is slow every time; each fast run takes back
 * `STRIKE_DECAY` of a strike.
 */
export const INLINE_DEMOTE_MS = 4;
export const DEMOTE_STRIKES = 3;
const STRIKE_DECAY = 0.01;
const CPU_SHARE = 0.75;

/** Least time between two computations of a plan's figures; more when they are slow to compute. */
const REFRESH_MIN_MS = 250;

const TEXT = { typeOid: 25, typeName: 'text' };

/** A plan's bound and what is known of it (shared by every statement text compiled to the same SQLite text). */
export class BoundedPlan {
  /** Sent to the executors for good (its inline runs took too long). */
  demoted = false;
  /** Inline runs longer than `INLINE_DEMOTE_MS`, less what fast runs took back. */
  strikes = 0;
  /** The replica's fingerprint the verdict was reached for. */
  fingerprint: string | undefined;
  admitted = false;
  /** The worst case for `fingerprint`. */
  visits: number | undefined;
  refreshing = false;
  nextRefreshAt = 0;
  readonly factors: Factor[];
  readonly readFingerprint: Database.Statement;
  readonly statsSql: string;
  readonly statsKey: number;

  constructor(
    readonly shape: CostNode[],
    readonly keeper: InlineBounds,
    reader: Database.Database,
    statsKey: number,
  ) {
    const seen = new Map<string, Factor>();
    for (const f of factorsOf(shape)) seen.set(factorKey(f), f);
    this.factors = [...seen.values()];
    const tables = [
      ...new Set(this.factors.map((f) => (f.kind === 'rows' || f.kind === 'group' ? f.table : ''))),
    ]
      .filter((t) => t !== '')
      .sort();
    const fp = fingerprintSql(tables);
    this.readFingerprint = reader.prepare(fp).pluck(true);
    this.statsSql = `SELECT (${fp}), ${this.factors.map((f) => `CAST(${factorSql(f)} AS TEXT)`).join(', ') || "''"}`;
    this.statsKey = statsKey;
  }
}

export interface InlineBoundsStats {
  /** Bounded plans run inline. */
  runs: number;
  /** Plans demoted to the executors. */
  demotions: number;
  /** Figures computed in an executor. */
  refreshes: number;
}

export class InlineBounds {
  readonly stats: InlineBoundsStats = { runs: 0, demotions: 0, refreshes: 0 };
  private readonly begin: Database.Statement;
  private readonly commit: Database.Statement;

  constructor(
    private readonly reader: Database.Database,
    private readonly pool: ExecPool,
    private readonly newKey: () => number,
    /** Told of each demotion (a log line, a metric). */
    private readonly onDemote?: (ms: number, sql: string) => void,
  ) {
    this.begin = reader.prepare('BEGIN');
    this.commit = reader.prepare('COMMIT');
  }

  /** The bound of `sql` when it can be bounded (its precheck, if any, is a constant row). */
  plan(sql: string): BoundedPlan | undefined {
    const shape = costShape(this.reader, sql);
    if (shape === false) return undefined;
    try {
      return new BoundedPlan(shape, this, this.reader, this.newKey());
    } catch {
      return undefined;
    }
  }

  /**
   * Runs `run` inline when the plan's worst case is known to fit the budget
   * for the replica state it reads; undefined when it must go to an executor.
   * In its own read transaction unless one is open (several statements of a
   * query string share one).
   */
  run<T>(b: BoundedPlan, sql: string, run: () => T): T | undefined {
    if (b.demoted) return undefined;
    const own = !this.reader.inTransaction;
    if (own) this.begin.run();
    try {
      const fp = b.readFingerprint.get() as string;
      if (fp !== b.fingerprint) {
        this.refresh(b);
        return undefined;
      }
      if (!b.admitted) return undefined;
      const started = performance.now();
      const cpu = process.cpuUsage();
      const result = run();
      const ms = performance.now() - started;
      this.stats.runs++;
      // A run descheduled half-way is long in wall time only: a strike needs
      // the CPU time too (the process's: in a read-mostly load the proxy
      // thread is nearly all of it).
      const slow = ms > INLINE_DEMOTE_MS && process.cpuUsage(cpu).user / 1000 > INLINE_DEMOTE_MS * CPU_SHARE;
      if (!slow) b.strikes = Math.max(0, b.strikes - STRIKE_DECAY);
      else if (++b.strikes >= DEMOTE_STRIKES) {
        b.demoted = true;
        this.stats.demotions++;
        this.onDemote?.(ms, sql);
      }
      return result;
    } finally {
      if (own) this.commit.run();
    }
  }

  /** Computes the plan's figures in an executor, at most once per `REFRESH_MIN_MS`. */
  private refresh(b: BoundedPlan): void {
    const now = Date.now();
    if (b.refreshing || now < b.nextRefreshAt) return;
    b.refreshing = true;
    this.stats.refreshes++;
    const outputs = [TEXT, ...b.factors.map(() => TEXT)];
    if (b.factors.length === 0) outputs.pop();
    const task = this.pool.run({
      plans: [{ key: b.statsKey, sql: b.statsSql, precheck: undefined, values: undefined, outputs }],
      params: [],
      snapshot: undefined,
    });
    void task.done.then(
      (outcome) => {
        const took = Date.now() - now;
        b.refreshing = false;
        b.nextRefreshAt = Date.now() + Math.max(REFRESH_MIN_MS, 50 * took);
        const row = outcome.kind === 'ok' ? outcome.rows[0]?.[0] : undefined;
        if (!row || typeof row[0] !== 'string') return;
        const figures = new Map<string, number>();
        b.factors.forEach((f, i) => {
          const v = row[i + 1];
          if (typeof v === 'string' && /^\d+$/.test(v)) figures.set(factorKey(f), Number(v));
        });
        const visits = worstVisits(b.shape, (f) => figures.get(factorKey(f)));
        b.fingerprint = row[0];
        b.visits = visits;
        b.admitted = visits !== undefined && visits <= INLINE_VISIT_BUDGET;
      },
      () => {
        b.refreshing = false;
        b.nextRefreshAt = Date.now() + 10 * REFRESH_MIN_MS;
      },
    );
  }
}
