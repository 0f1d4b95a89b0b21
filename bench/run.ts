/**
 * `npm run bench`: point reads, direct to Postgres vs through Outpost (served
 * from SQLite), alternating A B A B so machine noise hits both, medians of
 * the rounds reported. Also the snapshot and CDC apply rate of the replica.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { eventually, startOutpost } from '../test/helpers/outpost.js';
import { startPostgres } from '../test/helpers/postgres.js';

const ROWS = Number(process.env.BENCH_ROWS ?? 100_000);
const QUERIES = Number(process.env.BENCH_QUERIES ?? 4_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 8);

interface Run {
  qps: number;
  p50: number;
  p99: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

async function pointReads(port: number, clients: number, prepared: boolean): Promise<Run> {
  const conns = await Promise.all(
    Array.from({ length: clients }, async () => {
      const c = new pg.Client({
        host: '127.0.0.1',
        port,
        user: 'postgres',
        password: 'postgres',
        database: 'postgres',
      });
      await c.connect();
      return c;
    }),
  );
  const latencies: number[] = [];
  const perClient = Math.ceil(QUERIES / clients);
  const started = performance.now();
  await Promise.all(
    conns.map(async (c) => {
      for (let i = 0; i < perClient; i++) {
        const id = 1 + Math.floor(Math.random() * ROWS);
        const t0 = performance.now();
        if (prepared) await c.query({ name: 'pt', text: 'select * from items where id = $1', values: [id] });
        else await c.query(`select * from items where id = ${id}`);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  await Promise.all(conns.map((c) => c.end()));
  latencies.sort((a, b) => a - b);
  return { qps: latencies.length / elapsed, p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99) };
}

function fmt(r: Run): string {
  return `${Math.round(r.qps).toLocaleString('en-US').padStart(8)} q/s  p50 ${r.p50.toFixed(3)} ms  p99 ${r.p99.toFixed(3)} ms`;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-bench-'));
  const upstream = await startPostgres();
  let outpost: Awaited<ReturnType<typeof startOutpost>> | undefined;
  try {
    await upstream.query(`
      create table items (id int primary key, name text not null, price int8, active boolean, created date);
      insert into items select g, 'item ' || g, g * 100, g % 2 = 0, date '2024-01-01' + g % 1000
      from generate_series(1, ${ROWS}) g;
    `);
    process.stdout.write(`bench: ${ROWS} rows, ${QUERIES} queries per run, ${ROUNDS} rounds, alternating\n`);

    const snapStart = performance.now();
    outpost = await startOutpost({ upstream: upstream.url(), replica: join(dir, 'replica.db') });
    await outpost.ready(600_000);
    const snapSeconds = (performance.now() - snapStart) / 1000;
    process.stdout.write(
      `snapshot: ${ROWS} rows in ${snapSeconds.toFixed(2)} s (${Math.round(ROWS / snapSeconds).toLocaleString('en-US')} rows/s, incl. process start)\n`,
    );

    // CDC apply rate: one big upstream transaction of updates, time until applied.
    const probe = new pg.Client({
      host: '127.0.0.1',
      port: outpost.port,
      user: 'postgres',
      password: 'postgres',
    });
    await probe.connect();
    const cdcStart = performance.now();
    await upstream.query(`update items set price = price + 1`);
    await eventually(
      async () => {
        const r = await probe.query(`select price from items where id = ${ROWS}`);
        return Number(r.rows[0]?.price) === ROWS * 100 + 1;
      },
      600_000,
      'CDC catch-up',
    );
    const cdcSeconds = (performance.now() - cdcStart) / 1000;
    await probe.end();
    process.stdout.write(
      `cdc: ${ROWS} updates in one transaction applied in ${cdcSeconds.toFixed(2)} s (${Math.round(ROWS / cdcSeconds).toLocaleString('en-US')} changes/s, end to end)\n`,
    );

    for (const mode of [
      { name: 'simple', prepared: false },
      { name: 'prepared', prepared: true },
    ]) {
      const direct: Run[] = [];
      const viaOutpost: Run[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        direct.push(await pointReads(upstream.port, CLIENTS, mode.prepared));
        viaOutpost.push(await pointReads(outpost.port, CLIENTS, mode.prepared));
      }
      const med = (rs: Run[]): Run => ({
        qps: median(rs.map((r) => r.qps)),
        p50: median(rs.map((r) => r.p50)),
        p99: median(rs.map((r) => r.p99)),
      });
      const d = med(direct);
      const o = med(viaOutpost);
      process.stdout.write(
        `point reads, ${CLIENTS} clients, ${mode.name}:\n  direct  ${fmt(d)}\n  outpost ${fmt(o)}\n  ratio   ${(o.qps / d.qps).toFixed(2)}x throughput\n`,
      );
    }
  } finally {
    await outpost?.stop();
    await upstream.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${(err as Error).message}\n`);
  process.exit(1);
});
