/**
 * Scenario: fan-out through NATS JetStream (issue 18). One hub (`outpost
 * publish`) and BENCH_FANOUT_EDGES edges (`outpost --nats`) against the same
 * number of independent Outposts, each with its own slot, on a database of its
 * own (`bench_fanout`), with a real nats-server -js (test/helpers/nats.ts):
 *
 * - replication slots held upstream (target: 1 for hub + edges);
 * - upstream walsender CPU (utime+stime from /proc/<pid>/stat of every
 *   walsender serving the database, found through pg_replication_slots.active_pid)
 *   for one BENCH_FANOUT_ROWS-row transaction (target: hub ≤ a single Outpost);
 * - commit-to-applied at an edge's replica file under tpcb-like at 500 tps
 *   (target p99 < 50 ms);
 * - a new edge with the BENCH_FANOUT_ROWS-row replica: seconds until it is
 *   streaming, from the hub's object-store snapshot vs a logical snapshot of its
 *   own (target < 10 s).
 *
 * The two topologies run one after the other, never together: every walsender
 * decodes all of the cluster's WAL, so the other topology's would be charged too.
 * BENCH_FANOUT_ROWS (default 1,000,000) and BENCH_FANOUT_EDGES (default 5) make a
 * quick run small; BENCH_FANOUT_REPEATS (default 3) big transactions per topology.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg as osLoadavg } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import Database from 'better-sqlite3';
import { latestSnapshotInfo, snapshotStore } from '../../src/nats/snapshots.js';
import { decodeRecords } from '../../src/nats/wire-format.js';
import { parseLsn } from '../../src/replication/lsn.js';
import { decodePgOutput } from '../../src/replication/pgoutput.js';
import { startNats } from '../../test/helpers/nats.js';
import { CLI, type OutpostProcess, startOutpost } from '../../test/helpers/outpost.js';
import { freePort } from '../../test/helpers/postgres.js';
import { byPgNames } from '../../test/helpers/replica-views.js';
import type { Ctx, Row, Scenario } from '../lib/context.js';
import { fanoutTraceReport, type TracedProbe } from '../lib/fanout-trace.js';
import { connArgs, exec, pgbenchEnv } from '../lib/pgbench.js';
import { sleep } from '../lib/proc.js';
import { median, percentile } from '../lib/stats.js';

const ROWS = Number(process.env.BENCH_FANOUT_ROWS ?? 1_000_000);
const EDGES = Number(process.env.BENCH_FANOUT_EDGES ?? 5);
/** Big transactions per topology: the figures are their medians (one run swings by 20% on a shared machine). */
const REPEATS = Math.max(1, Number(process.env.BENCH_FANOUT_REPEATS ?? 3));
const DB = 'bench_fanout';
const STREAM = 'BENCHFAN';
const RATE = 500;
const PROBE = 'fanout_probe';
const TICKS_PER_S = 100; // USER_HZ on Linux
/** BENCH_FANOUT_TRACE=DIR: hub and edges write src/latency-trace.ts lines there, the probes go to DIR/probes.json. */
const TRACE_DIR = process.env.BENCH_FANOUT_TRACE;
if (TRACE_DIR) process.env.OUTPOST_LATENCY_TRACE = TRACE_DIR;

interface Proc {
  proc: ChildProcess;
  httpPort: number;
  status(): Promise<{ replication: Record<string, unknown> } & Record<string, unknown>>;
  ready(timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
  output(): string;
}

/** `outpost publish`: the hub (no proxy listener, so not test/helpers/outpost.ts). */
async function startHub(upstream: string, nats: string, replica: string, args: string[]): Promise<Proc> {
  const httpPort = await freePort();
  const proc = spawn(
    process.execPath,
    [
      ...NODE_ARGS,
      CLI,
      'publish',
      '--upstream',
      upstream,
      '--nats',
      nats,
      '--stream',
      STREAM,
      '--replica',
      replica,
      '--http',
      `127.0.0.1:${httpPort}`,
      '--log-level',
      'warn',
      ...args,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], detached: OWN_SESSIONS },
  );
  let out = '';
  const collect = (b: Buffer) => {
    out = (out + b.toString()).slice(-20000);
  };
  proc.stdout?.on('data', collect);
  proc.stderr?.on('data', collect);
  let exitCode: number | string | null | undefined;
  const exited = new Promise<void>((resolve) =>
    proc.on('exit', (code, signal) => {
      exitCode = code ?? signal;
      resolve();
    }),
  );
  const kill = () => proc.kill('SIGKILL');
  process.once('exit', kill);
  const status = async () =>
    (await (await fetch(`http://127.0.0.1:${httpPort}/status`)).json()) as Awaited<
      ReturnType<Proc['status']>
    >;
  return {
    proc,
    httpPort,
    status,
    output: () => out,
    async ready(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (exitCode !== undefined) throw new Error(`hub exited (${exitCode}):\n${out}`);
        try {
          if ((await status()).replication.state === 'streaming') return;
        } catch {
          // not listening yet
        }
        if (Date.now() > deadline) throw new Error(`hub not ready within ${timeoutMs} ms:\n${out}`);
        await sleep(100);
      }
    },
    async stop() {
      process.removeListener('exit', kill);
      if (exitCode === undefined) proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Hub, edges and independent Outposts each in a session of their own, as
 * separate services are (a systemd unit, a Fly machine): Linux's autogroup
 * scheduler otherwise weighs all of them, the bench's poller and pgbench as
 * one session against every other session on a shared machine, so a
 * 7-process topology gets one session's share of the CPU. BENCH_FANOUT_SESSIONS=0: the bench's session.
 */
const OWN_SESSIONS = process.env.BENCH_FANOUT_SESSIONS !== '0';

/** BENCH_FANOUT_NODE_ARGS: node flags for the hub and the edges (e.g. `--cpu-prof --cpu-prof-dir=DIR`). */
const NODE_ARGS = (process.env.BENCH_FANOUT_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');

function edgeArgs(nats: string, name: string): string[] {
  return ['--log-level', 'warn', '--nats', nats, '--stream', STREAM, '--nats-consumer', name];
}

/** CLOCK_MONOTONIC in µs, the clock of V8's profile timestamps. */
function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** CPU seconds (user + system) of a process so far. */
function cpuSeconds(pid: number): number {
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / TICKS_PER_S;
}

/** The nats-server serving `storeDir` (its pid from /proc), or undefined. */
function natsPid(storeDir: string): number | undefined {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (cmd.includes('nats-server') && cmd.includes(storeDir)) return Number(d);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/**
 * CPU used by groups of processes from now until the returned function is
 * called: "name cores, ...", and with `perTx` (transactions committed
 * upstream meanwhile) also µs of CPU per transaction per process of the group.
 */
function cpuMeter(
  groups: Record<string, Array<number | undefined>>,
  /** Cores each group used before the load, idle (timers, heartbeats): µs/tx leaves it out. */
  idle?: Record<string, number>,
): (perTx?: number) => string {
  const t0 = performance.now();
  const before = Object.entries(groups).map(
    ([name, pids]) => [name, pids.filter((p): p is number => p !== undefined)] as const,
  );
  const start = before.map(([, pids]) => pids.map(cpuSeconds));
  return (perTx) => {
    const secs = (performance.now() - t0) / 1000;
    return before
      .map(([name, pids], g) => {
        const used = pids.reduce((sum, p, i) => sum + cpuSeconds(p) - (start[g]?.[i] ?? 0), 0);
        const marginal = used - (idle?.[name] ?? 0) * secs;
        const each =
          perTx !== undefined && perTx > 0 && pids.length > 0
            ? ` = ${Math.round((used / pids.length / perTx) * 1e6)} µs/tx${pids.length > 1 ? ' each' : ''}${idle ? ` (${Math.round((marginal / pids.length / perTx) * 1e6)} above idle)` : ''}`
            : '';
        return `${name} ${(used / secs).toFixed(2)}${pids.length > 1 ? ` (${pids.length})` : ''}${each}`;
      })
      .join(', ');
  };
}

/** Write transactions so far: pgbench's (one history row each) and the probes. */
async function writeTransactions(ctx: Ctx): Promise<number> {
  const r = await ctx.upstream.query<{ n: string }>(
    `SELECT (SELECT count(*) FROM pgbench_history) + (SELECT count(*) FROM ${PROBE}) AS n`,
    [],
    DB,
  );
  return Number(r.rows[0]?.n);
}

/** CPU seconds each group uses from now until the returned function is called. */
function cpuGroupsSeconds(groups: Record<string, Array<number | undefined>>): () => Record<string, number> {
  const pids = Object.entries(groups).map(
    ([n, ps]) => [n, ps.filter((p): p is number => p !== undefined)] as const,
  );
  const start = pids.map(([, ps]) => ps.map(cpuSeconds));
  return () =>
    Object.fromEntries(
      pids.map(([n, ps], g) => [n, ps.reduce((sum, p, i) => sum + cpuSeconds(p) - (start[g]?.[i] ?? 0), 0)]),
    );
}

async function slotCount(ctx: Ctx): Promise<number> {
  const r = await ctx.upstream.query<{ n: string }>(
    'SELECT count(*) AS n FROM pg_replication_slots WHERE database = $1',
    [DB],
  );
  return Number(r.rows[0]?.n);
}

async function walsenders(ctx: Ctx): Promise<number[]> {
  const r = await ctx.upstream.query<{ pid: number }>(
    `SELECT s.pid FROM pg_stat_replication s JOIN pg_replication_slots r ON r.active_pid = s.pid
      WHERE r.database = $1`,
    [DB],
  );
  return r.rows.map((x) => x.pid);
}

/** Waits until every process reports an applied LSN at or past `lsn`. */
async function allApplied(procs: Array<Pick<Proc, 'status'>>, lsn: bigint, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const p of procs) {
    for (;;) {
      try {
        const s = await p.status();
        if (parseLsn(String(s.replication.appliedLsn)) >= lsn) break;
      } catch {
        // restarting
      }
      if (Date.now() > deadline) throw new Error('replicas did not apply the big transaction in time');
      await sleep(50);
    }
  }
}

/**
 * Walsender CPU for one big transaction, summed over the database's walsenders:
 * measured from before the INSERT until every replica applied it (the walsenders
 * are done decoding and sending by then). REPEATS times (the table emptied in
 * between, outside the measurement); returns each run's per-walsender figures.
 */
async function bigTransactionCpu(ctx: Ctx, procs: Array<Pick<Proc, 'status'>>): Promise<number[][]> {
  const pids = await walsenders(ctx);
  const runs: number[][] = [];
  for (let r = 0; r < REPEATS; r++) {
    if (r > 0) {
      await ctx.upstream.query('TRUNCATE big', [], DB);
      await allApplied(procs, await insertLsn(ctx), 900_000);
      await sleep(500);
    }
    const before = pids.map(cpuSeconds);
    await ctx.upstream.query(
      `INSERT INTO big SELECT g, g % 1000, 'row ' || g FROM generate_series(1, ${ROWS}) g`,
      [],
      DB,
    );
    await allApplied(procs, await insertLsn(ctx), 900_000);
    runs.push(pids.map((p, i) => cpuSeconds(p) - (before[i] ?? 0)));
  }
  return runs;
}

async function insertLsn(ctx: Ctx): Promise<bigint> {
  const r = await ctx.upstream.query<{ l: string }>('SELECT pg_current_wal_insert_lsn()::text AS l');
  return parseLsn(r.rows[0]?.l ?? '0/0');
}

function loadavg(): string {
  return osLoadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}

function clock(): () => number {
  const offset = Date.now() - (performance.timeOrigin + performance.now());
  return () => (performance.timeOrigin + performance.now() + offset) / 1000;
}

/**
 * Per-hop trace of the probe rows on their way to the first replica file:
 * a plain NATS subscriber on the stream's subject sees each part as the
 * server stores and forwards it, with the hub's `Outpost-Time` (taken when the
 * hub cut the part: on receipt of the Commit). So per probe: upstream clock →
 * hub cut (walsender, socket, hub's read) → observer (publish, JetStream store,
 * delivery) → visible in the edge's file (pull delivery, apply, commit, poll).
 */
class HopTrace {
  private sub: ReturnType<NatsConnection['subscribe']> | undefined;
  private readonly seen = new Map<number, { cut: number; observed: number; lsn: string }>();
  readonly probes: Array<TracedProbe & { id: number; observed: number }> = [];
  private readonly hops = { toHub: [] as number[], toNats: [] as number[], toEdge: [] as number[] };

  constructor(private readonly nc: NatsConnection) {}

  start(now: () => number): void {
    this.sub = this.nc.subscribe(`${STREAM}.changes`, {
      callback: (_err, m) => {
        const observed = now() * 1000;
        if (m.headers?.get('Outpost-Kind') !== 'tx') return;
        const cut = Number(m.headers?.get('Outpost-Time'));
        const names = new Map<number, string>();
        for (const r of decodeRecords(m.data)) {
          const msg = decodePgOutput(Buffer.from(r));
          if (msg.tag === 'relation') names.set(msg.oid, msg.name);
          else if (msg.tag === 'insert' && names.get(msg.relationOid) === PROBE) {
            this.seen.set(Number(msg.newTuple[0]), {
              cut,
              observed,
              lsn: String(parseLsn(m.headers?.get('Outpost-Lsn') ?? '0/0')),
            });
          }
        }
      },
    });
  }

  applied(id: number, t: number, lag: number): void {
    const s = this.seen.get(id);
    if (!s) return;
    this.probes.push({ id, lsn: s.lsn, t: t * 1000, observed: s.observed, visible: t * 1000 + lag });
    this.hops.toHub.push(s.cut - t * 1000);
    this.hops.toNats.push(s.observed - s.cut);
    this.hops.toEdge.push(lag - (s.observed - t * 1000));
  }

  stop(): void {
    this.sub?.unsubscribe();
  }

  report(): string {
    const f = (xs: number[]) =>
      `p50 ${percentile(xs, 50).toFixed(1)} / p90 ${percentile(xs, 90).toFixed(1)} / p99 ${percentile(xs, 99).toFixed(1)} ms`;
    return `upstream -> hub cut ${f(this.hops.toHub)}; hub cut -> NATS observer ${f(this.hops.toNats)}; observer -> edge file ${f(this.hops.toEdge)} (${this.hops.toEdge.length} probes)`;
  }
}

/**
 * Commit-to-applied at replica files while pgbench writes at RATE tps
 * (bench/scenarios/replica.ts's probe): one list of lags per file.
 */
async function commitToApplied(
  ctx: Ctx,
  replicaPaths: string[],
  seconds: number,
  hops?: HopTrace,
): Promise<number[][]> {
  const dbs = replicaPaths.map((p) => new Database(p, { readonly: true, fileMustExist: true }));
  const probe = await ctx.upstream.connect({ database: DB });
  probe.on('error', () => {});
  const now = clock();
  hops?.start(now);
  const start = (await probe.query<{ m: number | null }>(`SELECT max(id) AS m FROM ${PROBE}`)).rows[0]?.m;
  let next = (start ?? 0) + 1;
  const watched = dbs.map((db) => ({
    lags: [] as number[],
    seen: next - 1,
    select: byPgNames(db).prepare(`SELECT id, t FROM "public.${PROBE}" WHERE id > ? ORDER BY id`),
  }));
  let running = true;
  try {
    const target = { port: ctx.upstream.port, database: DB };
    const load = exec(
      'pgbench',
      ['-c', '4', '-j', '2', '--rate', String(RATE), '-T', String(seconds), '-n', ...connArgs(target)],
      pgbenchEnv(target),
    );
    load.catch(() => {});
    const inserter = (async () => {
      while (running) {
        await probe.query(`INSERT INTO ${PROBE} VALUES ($1, extract(epoch FROM clock_timestamp()))`, [
          next++,
        ]);
        await sleep(20);
      }
    })();
    const poller = (async () => {
      while (running || watched.some((w) => w.seen < next - 1)) {
        for (const [i, w] of watched.entries()) {
          for (const r of w.select.all(w.seen) as { id: number; t: number }[]) {
            const lag = (now() - r.t) * 1000;
            w.lags.push(lag);
            w.seen = r.id;
            if (i === 0) hops?.applied(r.id, r.t, lag);
          }
        }
        await sleep(1);
      }
    })();
    await load;
    running = false;
    await inserter;
    await Promise.race([poller, sleep(10_000)]);
    return watched.map((w) => w.lags);
  } finally {
    hops?.stop();
    running = false;
    await probe.end();
    for (const db of dbs) db.close();
  }
}

/** Log lines of a new edge's start worth a timestamp in the report. */
const MILESTONES = [
  'follow: replica installed',
  'follow: no object-store snapshot installed',
  'follow: temporary slot created',
  'follow: snapshot complete',
  'replication: schema changes detected',
  'proxy listening',
  'follow: resuming',
  'replication streaming',
];

/** Seconds from starting a new edge on an empty replica file until it is streaming. */
async function newEdgeSeconds(ctx: Ctx, nats: string, name: string): Promise<number> {
  const replica = join(ctx.dir, `${name}.db`);
  const t0 = performance.now();
  const e = await startOutpost({
    upstream: ctx.upstream.url({ database: DB }),
    replica,
    // Info level for its milestones: where a slow start went is printed beside the figure.
    args: [...edgeArgs(nats, name), '--log-level', 'info'],
    ownSession: OWN_SESSIONS,
  });
  try {
    await e.ready(900_000);
    const secs = (performance.now() - t0) / 1000;
    const wall0 = Date.now() - secs * 1000;
    const steps: string[] = [];
    for (const line of e.output().split('\n')) {
      let j: { time?: number; msg?: string; seconds?: number };
      try {
        j = JSON.parse(line);
      } catch {
        continue;
      }
      if (j.time === undefined || !j.msg || !MILESTONES.some((m) => j.msg?.startsWith(m))) continue;
      steps.push(
        `${((j.time - wall0) / 1000).toFixed(1)} s ${j.msg}${j.seconds !== undefined ? ` (${j.seconds} s)` : ''}`,
      );
    }
    ctx.log(`  ${name}: ${steps.join('; ')}`);
    return secs;
  } finally {
    await e.stop();
    for (const s of ['', '-wal', '-shm']) rmSync(`${replica}${s}`, { force: true });
  }
}

async function waitForSnapshotAt(nc: NatsConnection, lsn: bigint, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = await latestSnapshotInfo(nc, STREAM).catch(() => null);
    if (info && info.lsn >= lsn) return;
    if (Date.now() > deadline) throw new Error('the hub published no snapshot of the big table in time');
    await sleep(250);
  }
}

async function dropSlots(ctx: Ctx): Promise<void> {
  await ctx.upstream.query(
    'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1 AND NOT active',
    [DB],
  );
}

export const fanout: Scenario = {
  name: 'fanout',
  title: `Fan-out through NATS (1 hub + ${EDGES} edges vs ${EDGES} independent Outposts)`,
  async run(ctx: Ctx) {
    const rowsText = ROWS.toLocaleString('en-US');
    const push = (metric: string, unit: string, value: number, target?: { text: string; met: boolean }) => {
      const row: Row = {
        scenario: 'Fan-out',
        metric,
        unit,
        better: 'lower',
        values: { outpost: value },
        command: `BENCH_FANOUT_ROWS=${ROWS} BENCH_FANOUT_EDGES=${EDGES} npm run bench -- fanout`,
      };
      if (target) row.target = target;
      ctx.rows.push(row);
      ctx.log(
        `  ${metric}: ${Number.isInteger(value) ? value : value.toFixed(3)} ${unit}${target ? `  [target ${target.text}: ${target.met ? 'met' : 'NOT met'}]` : ''}`,
      );
    };

    await ctx.upstream.query(`CREATE DATABASE ${DB}`);
    await ctx.upstream.query(
      `CREATE TABLE big (id int PRIMARY KEY, n int NOT NULL, label text NOT NULL);
       CREATE TABLE ${PROBE} (id int PRIMARY KEY, t double precision NOT NULL);`,
      [],
      DB,
    );
    const target = { port: ctx.upstream.port, database: DB };
    await exec('pgbench', ['-i', '-s', '1', '-q', ...connArgs(target)], pgbenchEnv(target));

    const nats = await startNats();
    const nc = await connect({ servers: nats.url });
    const hubReplica = join(ctx.dir, 'fanout-hub.db');
    const started: Array<{ stop(): Promise<unknown> }> = [];
    let hubCpu = 0;
    let latency: number[] = [];
    let hubLatency: number[] = [];
    let indLatency: number[] = [];
    const seconds = Math.max(10, ctx.seconds * 2);
    let fromObject = Number.NaN;
    let fromOwn = Number.NaN;
    let fanSlots = 0;
    try {
      // ---- 1 hub + EDGES edges ------------------------------------------------
      // A long interval: the hub's snapshots are the one after its initial
      // snapshot and the one after its restart below, nothing in between.
      const hubArgs = ['--snapshot-interval', '3600'];
      let hub = await startHub(ctx.upstream.url({ database: DB }), nats.url, hubReplica, hubArgs);
      started.push(hub);
      await hub.ready(600_000);
      const edges: OutpostProcess[] = [];
      for (let i = 0; i < EDGES; i++) {
        const e = await startOutpost({
          upstream: ctx.upstream.url({ database: DB }),
          replica: join(ctx.dir, `fanout-edge-${i}.db`),
          args: edgeArgs(nats.url, `bench-edge-${i}`),
          nodeArgs: NODE_ARGS,
          ownSession: OWN_SESSIONS,
        });
        started.push(e);
        edges.push(e);
      }
      for (const e of edges) await e.ready(600_000);
      fanSlots = await slotCount(ctx);
      push(`replication slots, 1 hub + ${EDGES} edges`, 'slots', fanSlots, {
        text: '1',
        met: fanSlots === 1,
      });

      const cpuRuns = await bigTransactionCpu(ctx, [hub, ...edges]);
      const hubRuns = cpuRuns.map((run) => run.reduce((a, b) => a + b, 0));
      hubCpu = median(hubRuns);
      ctx.log(
        `  walsenders of the hub topology: ${cpuRuns[0]?.length ?? 0}; per run (sum): ${hubRuns.map((c) => c.toFixed(2)).join(', ')} s; median ${hubCpu.toFixed(2)} s; load ${loadavg()}`,
      );

      // The hub's own replica beside the edge's: what the NATS hop adds.
      const trace = new HopTrace(nc);
      const groups = {
        hub: [hub.proc.pid],
        edges: edges.map((e) => e.proc.pid),
        'nats-server': [natsPid(nats.storeDir)],
        walsender: await walsenders(ctx),
      };
      // What they use with no writes (ticks, heartbeats, polls): pgbench rarely reaches 500 tps
      // on a loaded machine, and per transaction this fixed part would count more the fewer there are.
      const idleSecs = 3;
      const idleMeter = cpuGroupsSeconds(groups);
      await sleep(idleSecs * 1000);
      const idleUsed = idleMeter();
      const idle = Object.fromEntries(Object.entries(idleUsed).map(([k, v]) => [k, v / idleSecs]));
      const cpu = cpuMeter(groups, idle);
      const txBefore = await writeTransactions(ctx);
      const windowStart = monotonicUs();
      const lags = await commitToApplied(
        ctx,
        [join(ctx.dir, 'fanout-edge-0.db'), hubReplica],
        seconds,
        trace,
      );
      // A --cpu-prof profile's sample times are on this clock: the window of the 500 tps run in it.
      if (NODE_ARGS.some((a) => a.startsWith('--cpu-prof'))) {
        ctx.log(`  cpu-prof window (monotonic µs): ${windowStart} ${monotonicUs()}; hub pid ${hub.proc.pid}`);
      }
      ctx.log(`  per hop (edge 0): ${trace.report()}; load ${loadavg()}`);
      const txs = (await writeTransactions(ctx)) - txBefore;
      ctx.log(
        `  CPU during it (cores; per upstream write transaction, ${txs} of them): ${cpu(txs)}; load ${loadavg()}`,
      );
      if (TRACE_DIR) {
        await sleep(600); // the processes write their traces every 250 ms
        writeFileSync(join(TRACE_DIR, 'probes.json'), JSON.stringify(trace.probes));
        ctx.log(
          `  traced stages (edge 0, BENCH_FANOUT_TRACE):\n${fanoutTraceReport(TRACE_DIR, hub.proc.pid, edges[0]?.proc.pid, trace.probes)}`,
        );
      }
      latency = lags[0] ?? [];
      hubLatency = lags[1] ?? [];

      // The hub publishes a snapshot when it starts: restart it to have one of the big table.
      const bigLsn = parseLsn(
        (await ctx.upstream.query<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l')).rows[0]?.l ??
          '0/0',
      );
      await hub.stop();
      hub = await startHub(ctx.upstream.url({ database: DB }), nats.url, hubReplica, hubArgs);
      started.push(hub);
      await hub.ready(600_000);
      await waitForSnapshotAt(nc, bigLsn, 600_000);
      fromObject = await newEdgeSeconds(ctx, nats.url, 'bench-new-edge-obj');
      // Without a snapshot in the object store the new edge copies from upstream itself.
      await (await snapshotStore(nc, STREAM, false)).delete('replica');
      fromOwn = await newEdgeSeconds(ctx, nats.url, 'bench-new-edge-own');

      for (const p of started.reverse()) await p.stop();
      started.length = 0;
      await dropSlots(ctx);

      // ---- EDGES independent Outposts -----------------------------------------
      await ctx.upstream.query('TRUNCATE big', [], DB);
      const independent: OutpostProcess[] = [];
      for (let i = 0; i < EDGES; i++) {
        const o = await startOutpost({
          upstream: ctx.upstream.url({ database: DB }),
          replica: join(ctx.dir, `fanout-independent-${i}.db`),
          args: ['--log-level', 'warn'],
          ownSession: OWN_SESSIONS,
        });
        started.push(o);
        independent.push(o);
      }
      for (const o of independent) await o.ready(600_000);
      const indSlots = await slotCount(ctx);
      push(`replication slots, ${EDGES} independent Outposts`, 'slots', indSlots, {
        text: String(EDGES),
        met: indSlots === EDGES,
      });
      const indRuns = await bigTransactionCpu(ctx, independent);
      const indCpu = cpuMeter({
        outposts: independent.map((o) => o.proc.pid),
        walsenders: await walsenders(ctx),
      });
      indLatency = (await commitToApplied(ctx, [join(ctx.dir, 'fanout-independent-0.db')], seconds))[0] ?? [];
      ctx.log(`  CPU during the independent Outposts' run (cores): ${indCpu()}; load ${loadavg()}`);
      const totals = indRuns.map((run) => run.reduce((a, b) => a + b, 0));
      const total = median(totals);
      const single = total / Math.max(1, indRuns[0]?.length ?? 1);
      ctx.log(
        `  walsenders of the independent Outposts: ${indRuns[0]?.length ?? 0}; per run: ${indRuns.map((run) => `[${run.map((c) => c.toFixed(2)).join(', ')}]`).join(' ')} s; median total ${total.toFixed(2)} s (${single.toFixed(2)} s each); load ${loadavg()}`,
      );
      // Ticks are 10 ms and the machine is shared: allow 10% (and one tick per walsender) of noise.
      push(
        `walsender CPU for a ${rowsText}-row transaction, hub (all edges), median of ${REPEATS}`,
        's CPU',
        hubCpu,
        {
          text: `≤ a single Outpost's (${single.toFixed(2)} s, +10% noise)`,
          met: hubCpu <= single * 1.1 + 0.01,
        },
      );
      push(
        `walsender CPU for a ${rowsText}-row transaction, ${EDGES} independent Outposts (total), median of ${REPEATS}`,
        's CPU',
        total,
      );
      push(`walsender CPU for a ${rowsText}-row transaction, per independent Outpost`, 's CPU', single);
    } finally {
      for (const p of started.reverse()) await p.stop().catch(() => {});
      await dropSlots(ctx).catch(() => {});
      await nc.close().catch(() => {});
      await nats.cleanup();
    }

    const p50 = percentile(latency, 50);
    const p99 = percentile(latency, 99);
    const fmtLags = (xs: number[]) =>
      `${xs.length} probes, p50 ${percentile(xs, 50).toFixed(1)} ms, p99 ${percentile(xs, 99).toFixed(1)} ms`;
    ctx.log(
      `  commit-to-applied: edge ${fmtLags(latency)}; the hub's own replica ${fmtLags(hubLatency)}; an independent Outpost ${fmtLags(indLatency)}`,
    );
    push(`edge commit-to-applied p50 (tpcb-like at ${RATE} tps)`, 'ms', p50);
    push(`edge commit-to-applied p99 (tpcb-like at ${RATE} tps)`, 'ms', p99, {
      text: '< 50 ms',
      met: p99 < 50,
    });
    push(`hub's own replica commit-to-applied p99 (same run)`, 'ms', percentile(hubLatency, 99));
    push(
      `independent Outpost commit-to-applied p99 (tpcb-like at ${RATE} tps)`,
      'ms',
      percentile(indLatency, 99),
    );
    push(`new edge serving, ${rowsText}-row replica from the object-store snapshot`, 's', fromObject, {
      text: '< 10 s',
      met: fromObject < 10,
    });
    push(`new edge serving, ${rowsText}-row replica by its own logical snapshot`, 's', fromOwn);
    ctx.notes.push(
      `Fan-out: one nats-server -js (test/helpers/nats.ts) on loopback beside Postgres; slots counted in pg_replication_slots of ${DB}; walsender CPU from /proc/<pid>/stat (10 ms ticks), the two topologies one after the other.`,
    );
  },
};
