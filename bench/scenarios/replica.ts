/**
 * Scenario 5: replication. Throughput from bench/replication.ts (snapshot
 * rows/s, CDC changes/s, on its own Postgres, smaller sizes than its
 * standalone defaults), then commit-to-applied latency under a steady write
 * load: pgbench tpcb-like at a fixed rate upstream while a probe inserts a
 * row stamped with clock_timestamp() every 20 ms and watches the replica
 * file until it appears.
 */
import Database from 'better-sqlite3';
import { byPgNames } from '../../test/helpers/replica-views.js';
import type { Ctx, Scenario } from '../lib/context.js';
import { connArgs, exec, pgbenchEnv } from '../lib/pgbench.js';
import { sleep } from '../lib/proc.js';
import { median, percentile } from '../lib/stats.js';
import { runReplicationBench } from '../replication.js';

export const PROBE_TABLE = 'bench_lag_probe';

/** Created before Outpost starts, so it is in the snapshot. */
export const PROBE_DDL = `CREATE TABLE ${PROBE_TABLE} (id int PRIMARY KEY, t double precision NOT NULL)`;

const REPL_ROWS = Number(process.env.BENCH_REPL_ROWS ?? 500_000);
const REPL_TXNS = Number(process.env.BENCH_REPL_TXNS ?? 50_000);
const RATE = 500;

/** Wall-clock seconds with sub-millisecond resolution, on the same clock as Postgres's clock_timestamp(). */
function clock(): () => number {
  // performance.now() is monotonic; anchor it to the wall clock once.
  const offset = Date.now() - (performance.timeOrigin + performance.now());
  return () => (performance.timeOrigin + performance.now() + offset) / 1000;
}

async function commitToApplied(ctx: Ctx): Promise<{ lags: number[]; statusLag: number[]; tps: number }> {
  const seconds = Math.max(3, ctx.seconds * 2);
  const db = new Database(ctx.replicaPath, { readonly: true, fileMustExist: true });
  const probe = await ctx.upstream.connect();
  probe.on('error', () => {});
  const now = clock();
  const lags: number[] = [];
  const statusLag: number[] = [];
  const start = (await probe.query<{ m: number | null }>(`SELECT max(id) AS m FROM ${PROBE_TABLE}`)).rows[0]
    ?.m;
  let next = (start ?? 0) + 1;
  let seen = next - 1;
  const select = byPgNames(db).prepare(`SELECT id, t FROM "public.${PROBE_TABLE}" WHERE id > ? ORDER BY id`);
  let running = true;
  try {
    const load = exec(
      'pgbench',
      [
        '-c',
        '4',
        '-j',
        '2',
        '--rate',
        String(RATE),
        '-T',
        String(seconds),
        '-n',
        ...connArgs({ port: ctx.upstream.port }),
      ],
      pgbenchEnv({ port: ctx.upstream.port }),
    );
    load.catch(() => {});
    const inserter = (async () => {
      while (running) {
        await probe.query(`INSERT INTO ${PROBE_TABLE} VALUES ($1, extract(epoch FROM clock_timestamp()))`, [
          next++,
        ]);
        await sleep(20);
      }
    })();
    const poller = (async () => {
      while (running || seen < next - 1) {
        for (const r of select.all(seen) as { id: number; t: number }[]) {
          lags.push((now() - r.t) * 1000);
          seen = r.id;
        }
        await sleep(1);
      }
    })();
    const sampler = (async () => {
      while (running) {
        const s = await ctx.outpost.status();
        statusLag.push(Number(s.replication.lagSeconds));
        await sleep(250);
      }
    })();
    const { stdout } = await load;
    running = false;
    await inserter;
    await Promise.race([poller, sleep(10_000)]);
    await sampler;
    return { lags, statusLag, tps: Number(/tps = ([\d.]+)/.exec(stdout)?.[1]) };
  } finally {
    running = false;
    await probe.end();
    db.close();
  }
}

export const replica: Scenario = {
  name: 'replica',
  title: 'Replication',
  async run(ctx: Ctx) {
    const r = await runReplicationBench({
      rows: REPL_ROWS,
      txns: REPL_TXNS,
      rounds: 1,
      log: (line) => ctx.log(`  ${line}`),
    });
    const command = `BENCH_ROWS=${REPL_ROWS} BENCH_TXNS=${REPL_TXNS} node --import tsx bench/replication.ts`;
    ctx.rows.push({
      scenario: 'Replication',
      metric: `snapshot (${REPL_ROWS.toLocaleString('en-US')} rows)`,
      unit: 'rows/s',
      better: 'higher',
      values: { outpost: r.snapshot.rowsPerSecond },
      command,
    });
    for (const c of r.cdc) {
      ctx.rows.push({
        scenario: 'Replication',
        metric: c.label,
        unit: 'changes/s',
        better: 'higher',
        values: { outpost: c.changesPerSecond },
        command,
      });
    }

    const lag = await commitToApplied(ctx);
    const p50 = percentile(lag.lags, 50);
    const p99 = percentile(lag.lags, 99);
    ctx.log(
      `  commit-to-applied under tpcb-like at ${lag.tps.toFixed(0)} tps: ${lag.lags.length} probes, ` +
        `p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${Math.max(...lag.lags).toFixed(1)} ms; ` +
        `/status lagSeconds median ${median(lag.statusLag).toFixed(3)} max ${Math.max(...lag.statusLag).toFixed(3)}`,
    );
    const lagCommand =
      `pgbench -c 4 -j 2 --rate ${RATE} -T ${Math.max(3, ctx.seconds * 2)} -n -h 127.0.0.1 -p <postgres> -U postgres postgres, ` +
      `meanwhile INSERT INTO ${PROBE_TABLE} VALUES (n, extract(epoch FROM clock_timestamp())) every 20 ms ` +
      'and the replica file polled every 1 ms until row n is there';
    ctx.notes.push(
      'Commit-to-applied includes up to wal_writer_delay (10 ms): the test Postgres runs with synchronous_commit=off, ' +
        'so WAL reaches the walsender when the WAL writer flushes it; and up to 1 ms of polling.',
    );
    for (const [p, v] of [
      ['p50', p50],
      ['p99', p99],
    ] as const) {
      ctx.rows.push({
        scenario: 'Replication',
        metric: `commit-to-applied ${p} (tpcb-like at ${RATE} tps)`,
        unit: 'ms',
        better: 'lower',
        values: { outpost: v },
        command: lagCommand,
      });
    }
    ctx.rows.push({
      scenario: 'Replication',
      metric: `/status lagSeconds, max (tpcb-like at ${RATE} tps)`,
      unit: 's',
      better: 'lower',
      values: { outpost: Math.max(...lag.statusLag) },
      command: `${lagCommand}; GET /status every 250 ms`,
    });
  },
};
