/** What every scenario gets, and what it reports. */
import type { OutpostProcess } from '../../test/helpers/outpost.js';
import type { PostgresInstance } from '../../test/helpers/postgres.js';
import { outpostCpu, postgresCpu } from './cpu.js';
import { type PgbenchRun, type PgbenchTarget, pgbench } from './pgbench.js';
import { sleep } from './proc.js';
import { median } from './stats.js';
import type { Pgbouncer } from './systems.js';

export type SystemName = 'direct' | 'pgbouncer' | 'outpost';
export const SYSTEMS: SystemName[] = ['direct', 'pgbouncer', 'outpost'];

/** One line of the results table: a metric measured on one or more systems (medians over rounds). */
export interface Row {
  scenario: string;
  metric: string;
  unit: string;
  /** Whether a bigger number is better (throughput) or worse (latency, memory). */
  better: 'higher' | 'lower';
  values: Partial<Record<SystemName, number>>;
  /** Per-round values behind each median, so the noise is visible. */
  rounds?: Partial<Record<SystemName, number[]>>;
  /** Why a system has no value (e.g. pgbouncer absent or unable to run the mode). */
  missing?: Partial<Record<SystemName, string>>;
  target?: { text: string; met: boolean | undefined };
  /** The command that produced the figure (ports and credentials as placeholders). */
  command: string;
  /** Drawn in the ratio chart. */
  chart?: string;
}

export interface Ctx {
  seconds: number;
  rounds: number;
  scale: number;
  upstream: PostgresInstance;
  outpost: OutpostProcess;
  replicaPath: string;
  pgbouncer: Pgbouncer | undefined;
  /** Why pgbouncer is not part of the run, when it is not. */
  pgbouncerNote: string | undefined;
  dir: string;
  rows: Row[];
  notes: string[];
  log(line: string): void;
}

/** A pgbench run with the CPU spent per transaction (µs) by Outpost's process and by Postgres's backends. */
export interface MeasuredRun extends PgbenchRun {
  cpu: { outpost: number; postgres: number };
}

export interface Scenario {
  name: string;
  title: string;
  run(ctx: Ctx): Promise<void>;
}

export function target(ctx: Ctx, system: SystemName): PgbenchTarget | undefined {
  if (system === 'direct') return { port: ctx.upstream.port };
  if (system === 'outpost') return { port: ctx.outpost.port };
  return ctx.pgbouncer ? { port: ctx.pgbouncer.port } : undefined;
}

/**
 * Runs `args` on every system, alternating A B C A B C for `rounds` rounds
 * so that the machine's noise falls on all of them alike. Returns every run.
 */
export async function alternate(
  ctx: Ctx,
  systems: { name: SystemName; target: PgbenchTarget }[],
  args: string[],
  label: string,
): Promise<Map<SystemName, MeasuredRun[]>> {
  const runs = new Map<SystemName, MeasuredRun[]>(systems.map((s) => [s.name, []]));
  for (let round = 0; round < ctx.rounds; round++) {
    for (const s of systems) {
      const o0 = outpostCpu(ctx.outpost);
      const p0 = postgresCpu(ctx.upstream);
      const run = await pgbench(s.target, args);
      // Backends are counted once reaped, after pgbench disconnects.
      await sleep(300);
      const per = (seconds: number) => (seconds * 1e6) / Math.max(1, run.transactions);
      const r: MeasuredRun = {
        ...run,
        cpu: { outpost: per(outpostCpu(ctx.outpost) - o0), postgres: per(postgresCpu(ctx.upstream) - p0) },
      };
      runs.get(s.name)!.push(r);
      ctx.log(
        `  ${label} round ${round + 1} ${s.name.padEnd(9)} ${r.tps.toFixed(0).padStart(7)} tps  ` +
          `p50 ${r.p50.toFixed(3)} ms  p99 ${r.p99.toFixed(3)} ms  ` +
          `CPU/tx Outpost ${r.cpu.outpost.toFixed(1)} µs, Postgres ${r.cpu.postgres.toFixed(1)} µs`,
      );
    }
  }
  return runs;
}

/** Medians of one field of the runs, per system, plus the per-round values. */
export function medians(
  runs: Map<SystemName, MeasuredRun[]>,
  field: 'tps' | 'p50' | 'p99',
): { values: Partial<Record<SystemName, number>>; rounds: Partial<Record<SystemName, number[]>> } {
  const values: Partial<Record<SystemName, number>> = {};
  const rounds: Partial<Record<SystemName, number[]>> = {};
  for (const [name, rs] of runs) {
    rounds[name] = rs.map((r) => r[field]);
    values[name] = median(rounds[name]);
  }
  return { values, rounds };
}

/** Systems for a pgbench run: direct, pgbouncer when present (and able), Outpost. */
export function pgbenchSystems(
  ctx: Ctx,
  opts: { pgbouncer?: boolean | string } = {},
): { systems: { name: SystemName; target: PgbenchTarget }[]; missing: Partial<Record<SystemName, string>> } {
  const systems: { name: SystemName; target: PgbenchTarget }[] = [];
  const missing: Partial<Record<SystemName, string>> = {};
  for (const name of SYSTEMS) {
    const t = target(ctx, name);
    if (name === 'pgbouncer' && typeof opts.pgbouncer === 'string') missing.pgbouncer = opts.pgbouncer;
    else if (t) systems.push({ name, target: t });
    else missing[name] = name === 'pgbouncer' ? (ctx.pgbouncerNote ?? 'not run') : 'not run';
  }
  return { systems, missing };
}

export function pgbenchCommand(args: string[]): string {
  return `pgbench ${args.join(' ')} -l -h 127.0.0.1 -p <port> -U postgres postgres`;
}

/** `outpost_statements_total` by route and `outpost_forwarded_total` by reason, from /metrics. */
export async function routeCounters(outpost: OutpostProcess): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const line of (await outpost.http('/metrics')).body.split('\n')) {
    const m =
      /^outpost_(statements|forwarded)_total\{(?:route|reason)="((?:[^"\\]|\\.)*)"\} ([\d.e+]+)$/.exec(line);
    if (m) out[`${m[1]}:${m[2]}`] = Number(m[3]);
  }
  return out;
}

/** "N% local" of the statements Outpost handled between two `routeCounters` readings. */
export function localShare(before: Record<string, number>, after: Record<string, number>): string {
  const d = (k: string) => (after[k] ?? 0) - (before[k] ?? 0);
  const local = d('statements:local');
  const total = local + d('statements:upstream');
  return `${total === 0 ? 0 : Math.round((100 * local) / total)}% of ${total} statements local`;
}

/**
 * Rows of CPU per transaction (µs), which the machine's load does not skew
 * the way it skews throughput: Outpost's own process (with its executors)
 * on the Outpost runs, and Postgres's backends on the direct and the Outpost
 * runs (for Outpost: the upstream work it forwarded).
 */
export function cpuRows(
  ctx: Ctx,
  runs: Map<SystemName, MeasuredRun[]>,
  scenario: string,
  what: string,
  command: string,
): void {
  const pick = (name: SystemName, f: (r: MeasuredRun) => number) => {
    const rs = (runs.get(name) ?? []).map(f);
    return rs.length > 0 ? rs : undefined;
  };
  const outpostSelf = pick('outpost', (r) => r.cpu.outpost);
  const pgDirect = pick('direct', (r) => r.cpu.postgres);
  const pgVia = pick('outpost', (r) => r.cpu.postgres);
  ctx.rows.push({
    scenario,
    metric: `${what}: CPU of Outpost's process`,
    unit: 'µs',
    better: 'lower',
    values: outpostSelf ? { outpost: median(outpostSelf) } : {},
    rounds: outpostSelf ? { outpost: outpostSelf } : {},
    command: `${command} (utime+stime from /proc ÷ transactions)`,
  });
  ctx.rows.push({
    scenario,
    metric: `${what}: CPU of Postgres's backends`,
    unit: 'µs',
    better: 'lower',
    values: {
      ...(pgDirect ? { direct: median(pgDirect) } : {}),
      ...(pgVia ? { outpost: median(pgVia) } : {}),
    },
    command: `${command} (the postmaster's reaped children ÷ transactions)`,
  });
  ctx.log(
    `  ${what}: Outpost ${outpostSelf ? median(outpostSelf).toFixed(1) : '-'} µs + its upstream backends ${pgVia ? median(pgVia).toFixed(1) : '-'} µs; direct Postgres ${pgDirect ? median(pgDirect).toFixed(1) : '-'} µs`,
  );
}
