/**
 * A pool of executor processes (`exec-child.ts`) that run local statements
 * off the proxy's event loop, so a long local read holds up only its own
 * session. Each child runs one job at a time; jobs wait in a shared queue
 * for the first idle child, except those of a READ ONLY transaction, which
 * wait for the child holding the transaction's SQLite snapshot.
 *
 * Cancelling a running job (CancelRequest, statement_timeout) kills its
 * child, which ends the statement at once, and starts a replacement;
 * snapshots held there are lost (their transactions continue upstream).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../log.js';
import { EXECUTOR_PLANS, type FromChild, type PlanJob, type ToChild, type WirePlan } from './protocol.js';

export type JobOutcome =
  | { kind: 'ok'; rows: (string | null)[][][] }
  /** Every row went to `Job.stream`. */
  | { kind: 'streamed' }
  /** Lost after rows went to `Job.stream` (the executor died): too late to forward. */
  | { kind: 'failed'; reason: string }
  /** Not answerable exactly here (or the executor was lost): forward it; nothing was sent. */
  | { kind: 'not-local'; reason: string }
  | { kind: 'canceled' };

export interface Job {
  plans: PlanJob[];
  params: [string, string][];
  snapshot: number | undefined;
  /** Where a result too big to keep goes (see protocol.ts); without one such a result is `not-local`. */
  stream?: StreamSink;
}

/** The session's end of a streamed result. */
export interface StreamSink {
  /** The result was read to its end without an error; its rows follow from the first. */
  start(): void;
  /** `rows` encoded DataRows of statement `plan`; call `written` once the client's socket has taken them. */
  data(plan: number, rows: number, data: Buffer, written: () => void): void;
}

export interface RunningJob {
  readonly done: Promise<JobOutcome>;
  /** Stops the job: it settles `canceled` at once (a running statement's process is killed). */
  cancel(): void;
}

interface Pending {
  id: number;
  job: Job;
  rows: (string | null)[][][];
  settle(outcome: JobOutcome): void;
  child: Child | undefined;
  /** Rows were handed to `job.stream`. */
  streaming: boolean;
}

interface Child {
  proc: ChildProcess;
  ready: boolean;
  current: Pending | undefined;
  /** Jobs of this child's snapshots, run before any shared job. */
  pinned: Pending[];
  snapshots: Set<number>;
  dead: boolean;
  /** Keys of the plans this executor was given the definition of (it keeps them until told to forget). */
  plans: Set<number>;
  /** The settings its last run was sent with (it keeps them until sent others). */
  params: readonly [string, string][] | undefined;
}

export interface ExecPoolOptions {
  /** The replica file. */
  path: string;
  size: number;
  logger: Logger;
  /** The database's lower()/upper() learned from upstream (CaseMap.serialized), for the mapped SQL functions. */
  caseMap?: string;
}

export class ExecPool {
  private readonly children: Child[] = [];
  private readonly queue: Pending[] = [];
  private readonly snapshotHome = new Map<number, Child>();
  private nextId = 1;
  private nextSnapshot = 1;
  private closed = false;
  /** Executors started to replace a killed or exited one (tests, metrics). */
  replaced = 0;
  /** Executors in a row that exited before they were ready: replacements back off. */
  private startFailures = 0;

  constructor(private readonly opts: ExecPoolOptions) {
    for (let i = 0; i < opts.size; i++) this.children.push(this.spawn());
  }

  /** Resolves when every executor has opened the replica. */
  async ready(): Promise<void> {
    await Promise.all(
      this.children.map(
        (c) =>
          new Promise<void>((resolve, reject) => {
            if (c.ready) return resolve();
            c.proc.once('message', () => resolve());
            c.proc.once('exit', (code) => reject(new Error(`executor exited (${code}) while starting`)));
          }),
      ),
    );
  }

  /** Process ids of the executors (tests kill one to check recovery). */
  pids(): number[] {
    return this.children.map((c) => c.proc.pid ?? 0);
  }

  run(job: Job): RunningJob {
    const id = this.nextId++;
    let settle!: (o: JobOutcome) => void;
    const done = new Promise<JobOutcome>((resolve) => {
      settle = resolve;
    });
    const pending: Pending = {
      id,
      job,
      rows: job.plans.map(() => []),
      child: undefined,
      settle: () => {},
      streaming: false,
    };
    let settled = false;
    pending.settle = (o) => {
      if (settled) return;
      settled = true;
      settle(o);
    };
    if (this.closed) pending.settle({ kind: 'not-local', reason: 'executors stopped' });
    else if (this.unavailable()) pending.settle({ kind: 'not-local', reason: 'executors unavailable' });
    else if (job.snapshot !== undefined) {
      const home = this.snapshotHome.get(job.snapshot);
      if (!home) pending.settle({ kind: 'not-local', reason: 'READ ONLY transaction snapshot lost' });
      else {
        home.pinned.push(pending);
        this.dispatch(home);
      }
    } else {
      this.queue.push(pending);
      const idle = this.children.find((c) => c.ready && !c.current);
      if (idle) this.dispatch(idle);
    }
    return {
      done,
      cancel: () => {
        if (settled) return;
        const child = pending.child;
        if (child && child.current === pending) {
          pending.settle({ kind: 'canceled' });
          this.kill(child, 'statement canceled');
          return;
        }
        remove(this.queue, pending);
        for (const c of this.children) remove(c.pinned, pending);
        pending.settle({ kind: 'canceled' });
      },
    };
  }

  /**
   * A snapshot for a READ ONLY transaction, on the least busy executor: a
   * deferred SQLite transaction, taken by its first read. Undefined when none
   * can be had (the transaction is then served upstream).
   */
  beginSnapshot(): number | undefined {
    if (this.closed) return undefined;
    const live = this.children.filter((c) => !c.dead);
    if (live.length === 0) return undefined;
    const home = live.reduce((a, b) => (load(b) < load(a) ? b : a));
    const snapshot = this.nextSnapshot++;
    home.snapshots.add(snapshot);
    this.snapshotHome.set(snapshot, home);
    this.send(home, { t: 'begin', snapshot });
    return snapshot;
  }

  endSnapshot(snapshot: number): void {
    const home = this.snapshotHome.get(snapshot);
    if (!home) return;
    this.snapshotHome.delete(snapshot);
    home.snapshots.delete(snapshot);
    this.send(home, { t: 'end', snapshot });
  }

  /** Whether the snapshot still exists (its executor may have been killed). */
  snapshotAlive(snapshot: number): boolean {
    return this.snapshotHome.has(snapshot);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) p.settle({ kind: 'not-local', reason: 'executors stopped' });
    await Promise.all(
      this.children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.dead || c.proc.exitCode !== null) return resolve();
            c.proc.once('exit', () => resolve());
            this.kill(c, 'shutting down');
          }),
      ),
    );
  }

  private spawn(): Child {
    const here = import.meta.url;
    const ts = here.endsWith('.ts');
    const entry = fileURLToPath(new URL(ts ? './exec-child.ts' : './exec-child.js', here));
    const proc = fork(entry, [this.opts.path, this.opts.caseMap ?? ''], {
      serialization: 'advanced',
      // A small young generation: an executor's garbage is short-lived rendered
      // rows (a streamed result renders gigabytes of them), and V8's default
      // semi-spaces let it hold about 50 MiB more of it between scavenges.
      // OUTPOST_EXECUTOR_NODE_ARGS: extra node flags for profiling (bench/profile-app.ts: --cpu-prof).
      execArgv: [
        ...(ts ? ['--import', 'tsx'] : []),
        '--max-semi-space-size=2',
        ...(process.env.OUTPOST_EXECUTOR_NODE_ARGS ?? '').split(' ').filter(Boolean),
      ],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const child: Child = {
      proc,
      ready: false,
      current: undefined,
      pinned: [],
      snapshots: new Set(),
      dead: false,
      plans: new Set(),
      params: undefined,
    };
    proc.on('message', (msg: FromChild) => this.onMessage(child, msg));
    proc.on('exit', (code, signal) => this.onExit(child, code, signal));
    proc.on('error', (err) => this.opts.logger.warn({ err: err.message }, 'executor process error'));
    return child;
  }

  private onMessage(child: Child, msg: FromChild): void {
    if (child.dead) return;
    switch (msg.t) {
      case 'ready':
        child.ready = true;
        this.startFailures = 0;
        this.dispatch(child);
        return;
      case 'rows': {
        const p = child.current;
        if (p && p.id === msg.id) {
          const into = p.rows[msg.plan] as (string | null)[][];
          for (const row of msg.rows) into.push(row);
        }
        return;
      }
      case 'stream': {
        const p = child.current;
        if (!p || p.id !== msg.id || !p.job.stream) return;
        p.rows = [];
        p.streaming = true;
        p.job.stream.start();
        return;
      }
      case 'data': {
        const p = child.current;
        if (!p || p.id !== msg.id || !p.streaming) return;
        let credited = false;
        // Data is a view into the IPC message's buffer: it is the chunk itself, not a copy.
        p.job.stream?.data(msg.plan, msg.rows, msg.data, () => {
          if (credited || child.current !== p) return;
          credited = true;
          this.send(child, { t: 'credit', id: p.id, n: 1 });
        });
        return;
      }
      case 'done':
      case 'failed':
      case 'not-local': {
        const p = child.current;
        if (!p || p.id !== msg.id) return;
        child.current = undefined;
        if (msg.t === 'done' && msg.rows) {
          for (const chunk of msg.rows) {
            const into = p.rows[chunk.plan] as (string | null)[][];
            for (const row of chunk.rows) into.push(row);
          }
        }
        p.settle(
          msg.t === 'done'
            ? p.streaming
              ? { kind: 'streamed' }
              : { kind: 'ok', rows: p.rows }
            : msg.t === 'failed'
              ? { kind: 'failed', reason: msg.reason }
              : { kind: 'not-local', reason: msg.reason },
        );
        this.dispatch(child);
        return;
      }
      case 'snapshot-failed':
        this.snapshotHome.delete(msg.snapshot);
        child.snapshots.delete(msg.snapshot);
        return;
    }
  }

  private dispatch(child: Child): void {
    if (!child.ready || child.dead || child.current) return;
    const next = child.pinned.shift() ?? this.queue.shift();
    if (!next) return;
    child.current = next;
    next.child = child;
    const { plans, params, snapshot, stream } = next.job;
    // Only what the executor does not have yet: a plan's text and outputs
    // once, the settings when they differ from its previous run's.
    let forget = false;
    if (child.plans.size + plans.length > EXECUTOR_PLANS) {
      child.plans.clear();
      forget = true;
    }
    const wire = plans.map((p): WirePlan => {
      if (child.plans.has(p.key)) return { key: p.key, values: p.values };
      child.plans.add(p.key);
      return { key: p.key, values: p.values, def: { sql: p.sql, precheck: p.precheck, outputs: p.outputs } };
    });
    const same = child.params !== undefined && sameParams(child.params, params);
    if (!same) child.params = params;
    this.send(child, {
      t: 'run',
      id: next.id,
      plans: wire,
      ...(forget ? { forget: true } : {}),
      params: same ? undefined : params,
      snapshot,
      stream: stream !== undefined,
    });
  }

  private send(child: Child, msg: ToChild): void {
    if (child.dead || !child.proc.connected) return;
    child.proc.send(msg);
  }

  private kill(child: Child, why: string): void {
    if (child.dead) return;
    this.opts.logger.debug({ pid: child.proc.pid, why }, 'stopping executor');
    child.proc.kill('SIGKILL');
    this.retire(child, why, false);
  }

  private onExit(child: Child, code: number | null, signal: NodeJS.Signals | null): void {
    if (child.dead) return;
    this.opts.logger.warn({ pid: child.proc.pid, code, signal }, 'executor exited');
    // Killed (by a signal) is no sign that a replacement cannot start; exiting by itself before ready is.
    this.retire(child, 'local executor exited', code !== null && !child.ready);
  }

  /** The child is gone: settle its work, forget its snapshots, start a replacement. */
  private retire(child: Child, why: string, failedToStart: boolean): void {
    child.dead = true;
    child.proc.removeAllListeners('message');
    const current = child.current;
    child.current = undefined;
    current?.settle(current.streaming ? { kind: 'failed', reason: why } : { kind: 'not-local', reason: why });
    for (const p of child.pinned.splice(0)) {
      p.settle({ kind: 'not-local', reason: 'READ ONLY transaction snapshot lost' });
    }
    for (const s of child.snapshots) this.snapshotHome.delete(s);
    child.snapshots.clear();
    const i = this.children.indexOf(child);
    if (i < 0 || this.closed) return;
    if (!failedToStart) {
      this.children[i] = this.spawn();
      this.replaced++;
      return;
    }
    // It could not even start (the replica unreadable, out of memory): try
    // again later rather than in a tight loop, and forward meanwhile.
    this.startFailures++;
    if (this.unavailable()) {
      for (const p of this.queue.splice(0)) p.settle({ kind: 'not-local', reason: 'executors unavailable' });
    }
    const delay = Math.min(10_000, 100 * 2 ** Math.min(this.startFailures, 7));
    setTimeout(() => {
      if (this.closed || this.children[i] !== child) return;
      this.children[i] = this.spawn();
      this.replaced++;
    }, delay).unref();
  }

  /** No executor is ready and the last ones failed to start. */
  private unavailable(): boolean {
    return this.startFailures > 0 && !this.children.some((c) => c.ready && !c.dead);
  }
}

function load(c: Child): number {
  return c.snapshots.size + c.pinned.length + (c.current ? 1 : 0);
}

function sameParams(a: readonly [string, string][], b: readonly [string, string][]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as [string, string];
    const y = b[i] as [string, string];
    if (x[0] !== y[0] || x[1] !== y[1]) return false;
  }
  return true;
}

function remove<T>(list: T[], item: T): void {
  const i = list.indexOf(item);
  if (i >= 0) list.splice(i, 1);
}
