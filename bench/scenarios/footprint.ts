/**
 * Scenario 6: Outpost's memory (VmRSS of the Outpost process): idle after
 * its snapshot, with 200 idle clients connected, and the peak while it
 * snapshots a larger table (its own database, so the shared replica is not
 * disturbed).
 */
import { join } from 'node:path';
import pg from 'pg';
import { startOutpost } from '../../test/helpers/outpost.js';
import type { Ctx, Scenario } from '../lib/context.js';
import { rssMiB, sleep } from '../lib/proc.js';

const CLIENTS = 200;
const BIG_ROWS = Number(process.env.BENCH_FOOTPRINT_ROWS ?? 1_000_000);

export const footprint: Scenario = {
  name: 'footprint',
  title: 'Footprint (Outpost RSS)',
  async run(ctx: Ctx) {
    const rows = (metric: string, value: number | undefined, command: string) =>
      ctx.rows.push({
        scenario: 'Footprint',
        metric,
        unit: 'MiB RSS',
        better: 'lower',
        values: value === undefined ? {} : { outpost: value },
        command,
      });

    // Idle and with clients: a fresh Outpost on the shared database.
    const outpost = await startOutpost({
      upstream: ctx.upstream.url(),
      replica: join(ctx.dir, 'footprint-replica.db'),
      args: ['--log-level', 'warn'],
    });
    const pid = outpost.proc.pid!;
    const clients: pg.Client[] = [];
    try {
      await outpost.ready(300_000);
      await sleep(3000);
      const idle = rssMiB(pid);
      ctx.log(`  idle: ${idle?.toFixed(1)} MiB`);
      for (let i = 0; i < CLIENTS; i += 20) {
        const batch = Array.from({ length: Math.min(20, CLIENTS - i) }, async () => {
          const c = new pg.Client({
            host: '127.0.0.1',
            port: outpost.port,
            user: 'postgres',
            password: 'postgres',
            database: 'postgres',
          });
          c.on('error', () => {});
          clients.push(c);
          await c.connect();
          // One local read each, so every session has been through the read path.
          await c.query('SELECT abalance FROM pgbench_accounts WHERE aid = 1');
        });
        await Promise.all(batch);
      }
      await sleep(2000);
      const withClients = rssMiB(pid);
      ctx.log(`  ${CLIENTS} idle clients: ${withClients?.toFixed(1)} MiB`);
      rows(
        'idle, after snapshot',
        idle,
        'fresh Outpost on the bench database, 3 s after /status says streaming',
      );
      rows(
        `${CLIENTS} idle clients`,
        withClients,
        `${CLIENTS} node-postgres clients connected through Outpost, one local SELECT each`,
      );
    } finally {
      await Promise.all(clients.map((c) => c.end().catch(() => {})));
      await outpost.stop();
    }

    // Peak during the snapshot of a bigger table, in a database of its own.
    const db = 'bench_footprint';
    await ctx.upstream.query(`CREATE DATABASE ${db}`);
    await ctx.upstream.query(
      `CREATE TABLE big (id int PRIMARY KEY, n int NOT NULL, label text NOT NULL, at timestamptz NOT NULL);
       INSERT INTO big SELECT g, g % 1000, 'row ' || g, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second'
       FROM generate_series(1, ${BIG_ROWS}) g;`,
      [],
      db,
    );
    const big = await startOutpost({
      upstream: ctx.upstream.url({ database: db }),
      replica: join(ctx.dir, 'footprint-big.db'),
      args: ['--log-level', 'warn'],
    });
    let peak = 0;
    try {
      const sampling = (async () => {
        for (;;) {
          const rss = rssMiB(big.proc.pid!);
          if (rss === undefined) return;
          peak = Math.max(peak, rss);
          await sleep(20);
        }
      })();
      const t0 = performance.now();
      await big.ready(600_000);
      const secs = (performance.now() - t0) / 1000;
      ctx.log(
        `  snapshot of ${BIG_ROWS.toLocaleString('en-US')} rows in ${secs.toFixed(1)} s, peak ${peak.toFixed(1)} MiB`,
      );
      await big.stop();
      await sampling;
    } finally {
      await big.stop();
    }
    rows(
      `peak during a ${BIG_ROWS.toLocaleString('en-US')}-row snapshot`,
      peak,
      `fresh Outpost on a database with one ${BIG_ROWS.toLocaleString('en-US')}-row table (4 columns), VmRSS sampled every 20 ms`,
    );
  },
};
