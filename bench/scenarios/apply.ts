/**
 * Scenario: local reads while a large transaction is applied. One client
 * reads single rows through Outpost in a loop while upstream commits an
 * UPDATE of every row of a 300k-row table, three times; the figure is the
 * read latency inside the windows from each commit until Outpost reports it
 * applied. Run twice: with the engine in its worker thread (the default) and
 * on the proxy's own event loop (OUTPOST_APPLY_THREAD=main, applying in 4 ms
 * slices), each on a fresh Outpost of its own.
 */
import { join } from 'node:path';
import { parseLsn } from '../../src/replication/lsn.js';
import { connectThrough, lastRoute, type OutpostProcess, startOutpost } from '../../test/helpers/outpost.js';
import type { Ctx, Scenario } from '../lib/context.js';
import { sleep } from '../lib/proc.js';
import { percentile } from '../lib/stats.js';

const ROWS = Number(process.env.BENCH_APPLY_ROWS ?? 300_000);
const UPDATES = 3;

interface Measured {
  reads: number;
  p50: number;
  p99: number;
  max: number;
  local: boolean;
  applySeconds: number;
}

async function measure(ctx: Ctx, outpost: OutpostProcess): Promise<Measured> {
  const client = await connectThrough(outpost.port);
  const inWindow: number[] = [];
  let applying = false;
  let running = true;
  let applySeconds = 0;
  try {
    // Warm: the statement compiled and its table's pages cached.
    for (let i = 1; i <= 200; i++) await client.query(`SELECT v FROM bench_apply WHERE id = ${i}`);
    const route = await lastRoute(client);
    const reader = (async () => {
      let id = 1;
      while (running) {
        const t = performance.now();
        await client.query(`SELECT v FROM bench_apply WHERE id = ${id}`);
        if (applying) inWindow.push(performance.now() - t);
        id = (id * 7919) % ROWS || 1;
      }
    })();
    for (let u = 0; u < UPDATES; u++) {
      await ctx.upstream.query('UPDATE bench_apply SET v = v + 1');
      const lsn = parseLsn(
        (await ctx.upstream.query<{ l: string }>('SELECT pg_current_wal_insert_lsn()::text AS l')).rows[0]
          ?.l ?? '0/0',
      );
      const started = performance.now();
      applying = true;
      for (;;) {
        const s = await outpost.status();
        if (parseLsn(String(s.replication.appliedLsn)) >= lsn) break;
        await sleep(5);
      }
      applying = false;
      applySeconds += (performance.now() - started) / 1000;
      await sleep(200);
    }
    running = false;
    await reader;
    return {
      reads: inWindow.length,
      p50: percentile(inWindow, 50),
      p99: percentile(inWindow, 99),
      max: Math.max(...inWindow),
      local: route?.startsWith('local') ?? false,
      applySeconds,
    };
  } finally {
    running = false;
    await client.end().catch(() => {});
  }
}

export const apply: Scenario = {
  name: 'apply',
  title: 'Local reads while a large transaction applies',
  async run(ctx: Ctx) {
    await ctx.upstream.query(`
      DROP TABLE IF EXISTS bench_apply;
      CREATE TABLE bench_apply (id int PRIMARY KEY, v int NOT NULL, pad text NOT NULL);
      INSERT INTO bench_apply SELECT g, 0, repeat('x', 40) FROM generate_series(1, ${ROWS}) g;
    `);
    const modes: { label: string; env: Record<string, string> }[] = [
      { label: 'apply thread (default)', env: {} },
      { label: 'proxy event loop (OUTPOST_APPLY_THREAD=main)', env: { OUTPOST_APPLY_THREAD: 'main' } },
    ];
    for (const [i, mode] of modes.entries()) {
      const outpost = await startOutpost({
        upstream: ctx.upstream.url(),
        replica: join(ctx.dir, `apply-${i}.db`),
        args: ['--log-level', 'warn', '--max-lag', '120'],
        env: mode.env,
      });
      try {
        await outpost.ready(300_000);
        const m = await measure(ctx, outpost);
        ctx.log(
          `  ${mode.label}: ${m.reads} reads during ${m.applySeconds.toFixed(2)} s of applying ` +
            `${UPDATES} x ${ROWS.toLocaleString('en-US')} rows; p50 ${m.p50.toFixed(3)} ms, p99 ${m.p99.toFixed(3)} ms, ` +
            `max ${m.max.toFixed(1)} ms${m.local ? '' : ' (NOT served locally)'}`,
        );
        for (const [p, v] of [
          ['p99', m.p99],
          ['max', m.max],
        ] as const) {
          ctx.rows.push({
            scenario: 'Reads during apply',
            metric: `point read ${p} while applying ${ROWS.toLocaleString('en-US')}-row transactions, ${mode.label}`,
            unit: 'ms',
            better: 'lower',
            values: { outpost: v },
            command: `npm run bench -- apply (one client, SELECT v FROM bench_apply WHERE id = n through Outpost while upstream runs UPDATE bench_apply SET v = v + 1, ${UPDATES} times)`,
          });
        }
      } finally {
        await outpost.stop();
      }
    }
  },
};
