/**
 * Plans that are not key lookups but whose worst case is small, run on the
 * proxy's thread (see src/exec/inline-cost.ts for the bound). The round
 * trip to an executor costs the proxy 100-250 µs of CPU under load and
 * about as much in the executor, while such a statement (an order with its
 * three lines, a page of a category's products) takes SQLite 5-50 µs.
 *
 * The figures a bound needs (rows of a table, the largest group of an index
 * prefix) cost a full read of the table or index: an executor computes them
 * (`refresh`), in one snapshot with the replica's state (`stateColumns`):
 * a text for everything but row changes, and each table's count of rows
 * changed, which the applier keeps. A row inserted or updated adds at most
 * one row to a table and to any group, so figures computed at one count,
 * plus the rows changed since, bound every later state with the same text.
 * The plan's `slack` is how many changes to any of its tables its worst case
 * can take and still fit `INLINE_VISIT_BUDGET`. A run inline reads the
 * state in its own read transaction first (a few index lookups): while the
 * text is the figures' and no table changed by more than the slack, the
 * statement runs here; otherwise in an executor as before. So replication
 * writes streaming in do not send bounded plans to the executors: once half
 * the slack is used (or, for a plan over budget, once its tables changed
 * by a quarter of their size, they may have shrunk), the figures are
 * computed again in the background (at most every `REFRESH_MIN_MS` per plan)
 * while runs go on inline.
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
  stateColumns,
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

/** Changes before a plan over budget is judged again, at least (a quarter of its largest figure otherwise). */
const REJUDGE_MIN = 100;

/** A plan's bound and what is known of it (shared by every statement text compiled to the same SQLite text). */
export class BoundedPlan {
  /** Sent to the executors for good (its inline runs took too long). */
  demoted = false;
  /** Inline runs longer than `INLINE_DEMOTE_MS`, less what fast runs took back. */
  strikes = 0;
  /** The state's text the figures were computed for (`stateColumns`). */
  state: string | undefined;
  /** Each table's count of rows changed when the figures were computed. */
  counts: number[] = [];
  /** The worst case for the figures. */
  visits: number | undefined;
  /** Changes to any of its tables since the figures that keep the worst case within budget; -1: over budget. */
  slack = -1;
  /** Changes to any of its tables after which the figures are computed again. */
  rejudgeAt = 0;
  refreshing = false;
  nextRefreshAt = 0;
  readonly factors: Factor[];
  /** The tables the figures are of, in `counts` order. */
  readonly tables: string[];
  readonly readState: Database.Statement;
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
    this.tables = [
      ...new Set(this.factors.map((f) => (f.kind === 'rows' || f.kind === 'group' ? f.table : ''))),
    ]
      .filter((t) => t !== '')
      .sort();
    const state = stateColumns(this.tables);
    this.readState = reader.prepare(`SELECT ${state.join(', ')}`).raw(true);
    this.statsSql = `SELECT ${[...state.map((c) => `CAST(${c} AS TEXT)`), ...this.factors.map((f) => `CAST(${factorSql(f)} AS TEXT)`)].join(', ')}`;
    this.statsKey = statsKey;
  }

  /** Whether the worst case fits the budget at the figures. */
  get admitted(): boolean {
    return this.slack >= 0;
  }

  /**
   * The most rows changed in any one of the tables since the figures (0
   * when none), or undefined when the state's text is not the figures'.
   */
  grown(row: readonly unknown[]): number | undefined {
    if (row[0] !== this.state) return undefined;
    let grown = 0;
    for (let i = 0; i < this.counts.length; i++) {
      const d = Number(row[i + 1]) - (this.counts[i] as number);
      if (d > grown) grown = d;
    }
    return grown;
  }

  /** Takes the figures an executor computed (the row of `statsSql`); false when they are not usable. */
  judge(row: readonly unknown[]): boolean {
    const n = this.tables.length;
    if (typeof row[0] !== 'string') return false;
    const counts: number[] = [];
    for (let i = 0; i < n; i++) {
      const v = row[i + 1];
      if (typeof v !== 'string' || !/^\d+$/.test(v)) return false;
      counts.push(Number(v));
    }
    const figures = new Map<string, number>();
    this.factors.forEach((f, i) => {
      const v = row[n + 1 + i];
      if (typeof v === 'string' && /^\d+$/.test(v)) figures.set(factorKey(f), Number(v));
    });
    // Each figure plus `d` changes: monotone in `d`, so the slack is found by bisection.
    const worst = (d: number) =>
      worstVisits(this.shape, (f) => {
        const v = figures.get(factorKey(f));
        return v === undefined ? undefined : v + d;
      });
    const fits = (d: number) => {
      const v = worst(d);
      return v !== undefined && v <= INLINE_VISIT_BUDGET;
    };
    let slack = -1;
    if (fits(0)) {
      let lo = 0;
      let hi = INLINE_VISIT_BUDGET;
      if (fits(hi)) lo = hi;
      while (lo < hi) {
        const mid = Math.ceil((lo + hi) / 2);
        if (fits(mid)) lo = mid;
        else hi = mid - 1;
      }
      slack = lo;
    }
    this.state = row[0];
    this.counts = counts;
    this.visits = worst(0);
    this.slack = slack;
    const largest = Math.max(0, ...figures.values());
    this.rejudgeAt =
      slack >= 0 ? Math.max(1, Math.floor(slack / 2)) : Math.max(REJUDGE_MIN, Math.ceil(largest / 4));
    return true;
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
      const grown = b.grown(b.readState.get() as unknown[]);
      if (grown === undefined || grown >= b.rejudgeAt) this.refresh(b);
      if (grown === undefined || grown > b.slack) return undefined;
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
    const outputs = [TEXT, ...b.tables.map(() => TEXT), ...b.factors.map(() => TEXT)];
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
        if (row) b.judge(row);
      },
      () => {
        b.refreshing = false;
        b.nextRefreshAt = Date.now() + 10 * REFRESH_MIN_MS;
      },
    );
  }
}
