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
 * walsender), transfer and applying, not the workload. For each, also:
 * Outpost's CPU time (changes per CPU-second: what applying costs, whoever
 * is slower), and the rate at which upstream alone delivers the same
 * changes to a client that applies nothing (a second slot): the ceiling for
 * the end-to-end rate on this machine.
 *
 * BENCH_ROUNDS (default 1) repeats each CDC case; the best round is shown.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../src/log.js';
import { createMetrics } from '../src/metrics.js';
import { ReplicaStore } from '../src/replica/store.js';
import { ReplicationEngine } from '../src/replication/engine.js';
import { type Lsn, parseLsn } from '../src/replication/lsn.js';
import { ReplicationConnection, type XLogData } from '../src/replication/stream.js';
import { startPostgres } from '../test/helpers/postgres.js';

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const TXNS = Number(process.env.BENCH_TXNS ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
const RAW_SLOT = 'bench_raw';

const pg = await startPostgres({
  settings: { shared_buffers: '256MB', max_wal_size: '8GB', checkpoint_timeout: '30min' },
});
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

interface Run {
  seconds: number;
  cpuSeconds: number;
}

/** Starts an engine on the backlog; time (and CPU) until `transactions` were applied. */
async function catchUp(transactions: number): Promise<Run> {
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
  await done;
  // Let the slot confirm a position past a fresh running-transactions record,
  // so the next start does not decode this backlog again (restart_lsn).
  const mark = (await pg.query<{ l: string }>('SELECT pg_log_standby_snapshot()::text AS l')).rows[0]?.l;
  const until = Date.now() + 10_000;
  while (mark && store.appliedLsn() < parseLsn(mark) && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 50));
  }
  await e.stop();
  return { seconds: (doneAt - started) / 1000, cpuSeconds: (cpuAt.user + cpuAt.system) / 1e6 };
}

let rawFrom: Lsn = 0n;

/** Streams the backlog from the second slot, applying nothing; seconds until `commits` commits arrived. */
async function upstreamAlone(commits: number): Promise<number> {
  const repl = await ReplicationConnection.connect(url, 'outpost-bench');
  const started = performance.now();
  let seen = 0;
  let last: Lsn = rawFrom;
  await new Promise<void>((resolve, reject) => {
    repl.on('xlog', (m: XLogData) => {
      // Commit ('C'): flags, commit LSN, end LSN.
      if (m.data[0] !== 0x43) return;
      last = m.data.readBigUInt64BE(10);
      if (++seen === commits) resolve();
    });
    repl.start(RAW_SLOT, rawFrom, 'outpost').catch(reject);
  });
  const secs = (performance.now() - started) / 1000;
  repl.sendStatus(last);
  rawFrom = last;
  await new Promise((r) => setTimeout(r, 100));
  await repl.close();
  return secs;
}

function rate(n: number, secs: number): string {
  return `${Math.round(n / secs).toLocaleString('en-US')}/s`;
}

function report(label: string, n: number, runs: Run[], raw: number[]): void {
  const best = runs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  console.log(
    `${label.padEnd(22)} ${rate(n, best.seconds).padStart(10)} end to end (${best.seconds.toFixed(2)} s); ` +
      `Outpost CPU ${best.cpuSeconds.toFixed(2)} s = ${rate(n, best.cpuSeconds)} per CPU-second; ` +
      `upstream alone ${rate(n, Math.min(...raw))}`,
  );
}

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
  console.log(
    `${'snapshot'.padEnd(22)} ${rate(ROWS, snapSecs).padStart(10)} rows (${snapSecs.toFixed(2)} s)`,
  );

  /** A new slot for the upstream-alone run, right before the workload: nothing older to decode. */
  const freshRawSlot = async () => {
    await pg.query(
      `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`,
      [RAW_SLOT],
    );
    const raw = await ReplicationConnection.connect(url, 'outpost-bench');
    rawFrom = (await raw.createSlot(RAW_SLOT, pg.version * 10_000)).consistentPoint;
    await raw.close();
  };

  for (const c of [
    {
      label: `cdc 1 x ${ROWS.toLocaleString('en-US')} rows`,
      sql: 'UPDATE pgbench_accounts SET abalance = abalance + 1',
      txns: 1,
      changes: ROWS,
    },
    {
      label: `cdc ${TXNS.toLocaleString('en-US')} x 1 row`,
      sql: `CALL bench_small(${TXNS}, ${ROWS})`,
      txns: TXNS,
      changes: TXNS,
    },
    {
      label: `cdc ${TXNS.toLocaleString('en-US')} x 1 hot row`,
      sql: `CALL bench_hot(${TXNS})`,
      txns: TXNS,
      changes: TXNS,
    },
  ]) {
    const runs: Run[] = [];
    const alone: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      await freshRawSlot();
      await pg.query(c.sql);
      runs.push(await catchUp(c.txns));
      alone.push(await upstreamAlone(c.txns));
    }
    report(c.label, c.changes, runs, alone);
  }

  // The replica must equal upstream after all that.
  const want = (await pg.query<{ s: string }>('SELECT sum(abalance)::text AS s FROM pgbench_accounts'))
    .rows[0]?.s;
  const got = String(
    store.reader.prepare('SELECT sum(abalance) FROM "public.pgbench_accounts"').pluck().get(),
  );
  if (want !== got) throw new Error(`replica differs: sum(abalance) ${got}, upstream ${want}`);
  await pg.query(`SELECT pg_drop_replication_slot('${RAW_SLOT}')`);
} finally {
  store.close();
  await pg.stop();
  rmSync(dir, { recursive: true, force: true });
}
