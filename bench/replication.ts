/**
 * Replication throughput: `node --import tsx bench/replication.ts`.
 *
 * 1. Snapshot: a pgbench_accounts-like table of BENCH_ROWS rows (default 1M),
 *    from `engine.start()` until streaming (slot, copy, key index).
 * 2. CDC, one big transaction: one UPDATE of every row, made while Outpost is
 *    stopped; from the restart until that transaction is applied.
 * 3. CDC, many small transactions: BENCH_TXNS (default 100k) single-row
 *    UPDATE transactions on random rows of that table, made while Outpost is
 *    stopped; from the restart until all are applied. Random rows of a big
 *    table make SQLite write a page per row; so also:
 * 4. the same on the 10 rows of a pgbench_branches-like table (the cost per
 *    transaction rather than per page).
 *
 * The CDC cases catch up on a backlog, so they measure decoding (the
 * walsender), transfer and applying, not the workload. Also shown: Outpost's
 * CPU time (changes per CPU-second: what applying costs, whoever is slower)
 * and the CPU time of the walsender serving it; when that is close to the
 * end-to-end time, upstream's decoding is the limit, not Outpost.
 *
 * BENCH_ROUNDS (default 1) repeats each CDC case; the best round is shown.
 * BENCH_CASES picks CDC cases: big,small,hot (default all).
 * BENCH_UPSTREAM_SETTINGS adds upstream server settings (`name=value,...`,
 * e.g. `logical_decoding_work_mem=1GB`): an experiment on the upstream's
 * side (the walsender's decoding), printed with the results, since numbers
 * measured with it are not what Outpost gets from a default upstream.
 *
 * `runReplicationBench()` is the same as a function (bench/run.ts uses it
 * with smaller sizes); running this file calls it with the settings above.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../src/log.js';
import { createMetrics } from '../src/metrics.js';
import { ReplicaStore } from '../src/replica/store.js';
import { ReplicationEngine } from '../src/replication/engine.js';
import { parseLsn } from '../src/replication/lsn.js';
import { startPostgres } from '../test/helpers/postgres.js';
import { byPgNames } from '../test/helpers/replica-views.js';

export interface ReplicationBenchOptions {
  rows: number;
  txns: number;
  rounds: number;
  /** CDC cases to run (big, small, hot); default all. */
  cases?: string[];
  /** Extra upstream server settings (an upstream tuning experiment, reported as such). */
  upstreamSettings?: Record<string, string>;
  log?: (line: string) => void;
}

export interface Run {
  seconds: number;
  cpuSeconds: number;
  /** CPU time of the walsender serving the engine (Linux /proc), if readable. */
  walsenderSeconds: number | undefined;
}

export interface ReplicationBenchResult {
  snapshot: { rows: number; seconds: number; rowsPerSecond: number };
  cdc: { name: string; label: string; changes: number; best: Run; changesPerSecond: number }[];
}

/** utime + stime of a process, from /proc (clock ticks of 10 ms on Linux). */
function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

function rate(n: number, secs: number): string {
  return `${Math.round(n / secs).toLocaleString('en-US')}/s`;
}

export async function runReplicationBench(opts: ReplicationBenchOptions): Promise<ReplicationBenchResult> {
  const { rows: ROWS, txns: TXNS, rounds: ROUNDS } = opts;
  const log = opts.log ?? ((line: string) => console.log(line));
  const extra = opts.upstreamSettings ?? {};
  const pg = await startPostgres({
    settings: { shared_buffers: '256MB', max_wal_size: '8GB', checkpoint_timeout: '30min', ...extra },
  });
  if (Object.keys(extra).length > 0) {
    const shown = Object.entries(extra).map(([k, v]) => `${k}=${v}`);
    log(`upstream tuning (not a default upstream; affects the walsender, not Outpost): ${shown.join(', ')}`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'outpost-bench-repl-'));
  const store = ReplicaStore.open(join(dir, 'replica.db'));
  const url = pg.url();

  function engine() {
    const metrics = createMetrics();
    return {
      metrics,
      engine: new ReplicationEngine({ upstreamUrl: url, store, logger: silentLogger(), metrics }),
    };
  }
  /** Starts an engine on the backlog; time (and CPU) until `transactions` were applied. */
  async function catchUp(transactions: number): Promise<Run> {
    await released(store.getMeta('slot') ?? '');
    const { engine: e, metrics } = engine();
    const cpu = process.cpuUsage();
    const started = performance.now();
    let doneAt = 0;
    let cpuAt = { user: 0, system: 0 };
    const done = new Promise<void>((resolve) => {
      e.on('applied', () => {
        if (doneAt === 0 && metrics.transactionsApplied.get() >= transactions) {
          doneAt = performance.now();
          cpuAt = process.cpuUsage(cpu);
          resolve();
        }
      });
    });
    await e.start();
    const slot = await pg.query<{ pid: number | null }>(
      'SELECT active_pid AS pid FROM pg_replication_slots WHERE slot_name = $1',
      [store.getMeta('slot')],
    );
    const walsender = slot.rows[0]?.pid ?? undefined;
    await done;
    const walsenderSeconds = walsender === undefined ? undefined : processCpuSeconds(walsender);
    // Let the slot confirm a position past a fresh running-transactions record,
    // so the next start does not decode this backlog again (restart_lsn).
    const mark = (await pg.query<{ l: string }>('SELECT pg_log_standby_snapshot()::text AS l')).rows[0]?.l;
    const until = Date.now() + 10_000;
    while (mark && store.appliedLsn() < parseLsn(mark) && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await e.stop();
    return {
      seconds: (doneAt - started) / 1000,
      cpuSeconds: (cpuAt.user + cpuAt.system) / 1e6,
      walsenderSeconds,
    };
  }

  /** The walsender of a closed connection may hold its slot for a moment. */
  async function released(slot: string): Promise<void> {
    for (let i = 0; i < 100; i++) {
      const r = await pg.query('SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1', [slot]);
      if (r.rows[0]?.active_pid == null) return;
      await new Promise((res) => setTimeout(res, 50));
    }
  }

  function report(label: string, n: number, runs: Run[]): Run {
    const best = runs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    const ws = best.walsenderSeconds;
    log(
      `${label.padEnd(24)} ${rate(n, best.seconds).padStart(10)} end to end (${best.seconds.toFixed(2)} s); ` +
        `Outpost CPU ${best.cpuSeconds.toFixed(2)} s (${rate(n, best.cpuSeconds)} per CPU-second)` +
        (ws === undefined ? '' : `; walsender CPU ${ws.toFixed(2)} s`),
    );
    return best;
  }

  const result: ReplicationBenchResult = { snapshot: { rows: ROWS, seconds: 0, rowsPerSecond: 0 }, cdc: [] };
  try {
    await pg.query(`
      CREATE TABLE pgbench_accounts (aid int PRIMARY KEY, bid int NOT NULL, abalance int NOT NULL, filler char(84));
      INSERT INTO pgbench_accounts SELECT g, (g - 1) / 100000 + 1, 0, '' FROM generate_series(1, ${ROWS}) g;
      CREATE TABLE pgbench_branches (bid int PRIMARY KEY, bbalance int NOT NULL, filler char(88));
      INSERT INTO pgbench_branches SELECT g, 0, '' FROM generate_series(1, 10) g;
      CREATE PROCEDURE bench_small(n int, total int) LANGUAGE plpgsql AS $$
      BEGIN
        FOR i IN 1..n LOOP
          UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = 1 + (i * 7919) % total;
          COMMIT;
        END LOOP;
      END $$;
      CREATE PROCEDURE bench_hot(n int) LANGUAGE plpgsql AS $$
      BEGIN
        FOR i IN 1..n LOOP
          UPDATE pgbench_branches SET bbalance = bbalance + 1 WHERE bid = 1 + i % 10;
          COMMIT;
        END LOOP;
      END $$;
    `);
    await pg.query('VACUUM ANALYZE pgbench_accounts');

    // 1. Snapshot.
    const first = engine();
    const t0 = performance.now();
    await first.engine.start();
    const snapSecs = (performance.now() - t0) / 1000;
    await first.engine.stop();
    result.snapshot = { rows: ROWS, seconds: snapSecs, rowsPerSecond: ROWS / snapSecs };
    log(`${'snapshot'.padEnd(24)} ${rate(ROWS, snapSecs).padStart(10)} rows (${snapSecs.toFixed(2)} s)`);

    const cases = [
      {
        label: `cdc 1 x ${ROWS.toLocaleString('en-US')} rows`,
        sql: 'UPDATE pgbench_accounts SET abalance = abalance + 1',
        txns: 1,
        changes: ROWS,
        name: 'big',
      },
      {
        label: `cdc ${TXNS.toLocaleString('en-US')} x 1 row`,
        sql: `CALL bench_small(${TXNS}, ${ROWS})`,
        txns: TXNS,
        changes: TXNS,
        name: 'small',
      },
      {
        label: `cdc ${TXNS.toLocaleString('en-US')} x 1 hot row`,
        sql: `CALL bench_hot(${TXNS})`,
        txns: TXNS,
        changes: TXNS,
        name: 'hot',
      },
    ];
    for (const c of cases.filter((x) => !opts.cases || opts.cases.includes(x.name))) {
      const runs: Run[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        await pg.query(c.sql);
        runs.push(await catchUp(c.txns));
      }
      const best = report(c.label, c.changes, runs);
      result.cdc.push({
        name: c.name,
        label: c.label,
        changes: c.changes,
        best,
        changesPerSecond: c.changes / best.seconds,
      });
    }

    // The replica must equal upstream after all that.
    const want = (await pg.query<{ s: string }>('SELECT sum(abalance)::text AS s FROM pgbench_accounts'))
      .rows[0]?.s;
    const got = String(
      byPgNames(store.reader).prepare('SELECT sum(abalance) FROM "public.pgbench_accounts"').pluck().get(),
    );
    if (want !== got) throw new Error(`replica differs: sum(abalance) ${got}, upstream ${want}`);
    return result;
  } finally {
    store.close();
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await runReplicationBench({
    rows: Number(process.env.BENCH_ROWS ?? 1_000_000),
    txns: Number(process.env.BENCH_TXNS ?? 100_000),
    rounds: Number(process.env.BENCH_ROUNDS ?? 1),
    ...(process.env.BENCH_CASES ? { cases: process.env.BENCH_CASES.split(',') } : {}),
    ...(process.env.BENCH_UPSTREAM_SETTINGS
      ? {
          upstreamSettings: Object.fromEntries(
            process.env.BENCH_UPSTREAM_SETTINGS.split(',').map((kv) => {
              const eq = kv.indexOf('=');
              return [kv.slice(0, eq).trim(), kv.slice(eq + 1).trim()];
            }),
          ),
        }
      : {}),
  });
}
