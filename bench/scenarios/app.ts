/**
 * Scenario 2: ORM-style reads (joins, aggregates, paging) over the shop
 * schema, as a weighted pgbench mix of one-statement scripts with random
 * parameters, through the extended protocol with unnamed statements (what
 * node-postgres and most ORMs send).
 *
 * BENCH_APP_WRITES=N (transactions per second, default 0): a steady write
 * stream upstream during the runs of every system (each transaction updates
 * an order, a product and an order line and adds an order with its lines),
 * which Outpost replicates while it serves the mix.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  alternate,
  type Ctx,
  cpuRows,
  medians,
  pgbenchCommand,
  pgbenchSystems,
  routeCounters,
  type Scenario,
} from '../lib/context.js';
import { connArgs, exec, pgbenchEnv } from '../lib/pgbench.js';
import { APP_STATEMENTS, SHOP, withSample } from '../lib/shop.js';
import { median } from '../lib/stats.js';

export const app: Scenario = {
  name: 'app',
  title: 'App reads (shop schema, ORM-style mix)',
  async run(ctx: Ctx) {
    // Which of the mix Outpost answers itself, asked once per statement.
    let localWeight = 0;
    let totalWeight = 0;
    let local = 0;
    for (const s of APP_STATEMENTS) {
      const { stdout } = await exec(
        'psql',
        [
          '-X',
          '-A',
          '-t',
          '-v',
          'ON_ERROR_STOP=1',
          '-c',
          withSample(s),
          '-c',
          'SHOW outpost.last_route',
          ...connArgs({ port: ctx.outpost.port }),
        ],
        pgbenchEnv({ port: ctx.outpost.port }),
      );
      const route = stdout.trim().split('\n').at(-1) ?? '?';
      totalWeight += s.weight;
      if (route === 'local') {
        local++;
        localWeight += s.weight;
      }
      ctx.log(`  route of "${s.name}" (weight ${s.weight}): ${route}`);
    }
    const share = `${local} of ${APP_STATEMENTS.length} statements (${Math.round((100 * localWeight) / totalWeight)}% of the mix) local`;
    ctx.log(`  ${share}`);

    const files: string[] = [];
    APP_STATEMENTS.forEach((s, i) => {
      const file = join(ctx.dir, `app-${i}.sql`);
      writeFileSync(file, `${[...s.sets, `${s.sql};`].join('\n')}\n`);
      files.push('-f', `${file}@${s.weight}`);
    });
    const args = [...files, '-M', 'extended', '-c', '8', '-j', '2', '-T', String(ctx.seconds), '-n'];
    const { systems, missing } = pgbenchSystems(ctx);
    const before = await routeCounters(ctx.outpost);
    const stream = writeStream(ctx, Number(process.env.BENCH_APP_WRITES ?? 0));
    let runs: Awaited<ReturnType<typeof alternate>>;
    try {
      runs = await alternate(ctx, systems, args, 'app mix');
    } finally {
      const w = await stream.stop();
      if (w)
        ctx.log(
          `  write stream: ${w.transactions} transactions in ${w.seconds.toFixed(1)} s (${(w.transactions / w.seconds).toFixed(0)}/s) during the runs`,
        );
    }
    const after = await routeCounters(ctx.outpost);
    const delta = (k: string) => (after[k] ?? 0) - (before[k] ?? 0);
    const servedLocal = delta('statements:local');
    const servedUp = delta('statements:upstream');
    const reasons = Object.keys(after)
      .filter((k) => k.startsWith('forwarded:') && delta(k) > 0)
      .sort((a, b) => delta(b) - delta(a))
      .map((k) => `${delta(k)} × ${k.slice('forwarded:'.length)}`);
    if (reasons.length > 0) ctx.log(`  forwarded during the runs: ${reasons.join('; ')}`);
    const measured = `${Math.round((100 * servedLocal) / Math.max(1, servedLocal + servedUp))}% of the statements Outpost handled during the runs were local (outpost_statements_total)`;
    ctx.log(`  ${measured}`);
    if (stream.rate > 0)
      ctx.notes.push(
        `App reads: with a write stream of ${stream.rate} transactions/s upstream (BENCH_APP_WRITES).`,
      );
    ctx.notes.push(`App reads: ${share} when asked with \`SHOW outpost.last_route\` via psql; ${measured}.`);

    // Per statement: where a system spends its time (median over rounds of each run's p50).
    APP_STATEMENTS.forEach((st, i) => {
      const per = systems.map((sys) => {
        const v = median(runs.get(sys.name)!.map((r) => r.p50ByScript[i] ?? Number.NaN));
        return `${sys.name} ${v.toFixed(3)}`;
      });
      ctx.log(`  p50 ms of "${st.name}": ${per.join('  ')}`);
    });

    const command = pgbenchCommand([
      ...APP_STATEMENTS.flatMap((s, i) => ['-f', `app-${i}.sql@${s.weight}`]),
      ...args.slice(files.length),
    ]);
    const tps = medians(runs, 'tps');
    ctx.rows.push({
      scenario: 'App reads',
      metric: 'mix throughput',
      unit: 'stmt/s',
      better: 'higher',
      ...tps,
      missing,
      target: {
        text: 'Outpost ≥ 1.5× direct',
        met:
          tps.values.direct !== undefined && tps.values.outpost !== undefined
            ? tps.values.outpost >= 1.5 * tps.values.direct
            : undefined,
      },
      command,
      chart: 'app reads',
    });
    cpuRows(ctx, runs, 'App reads', 'CPU per app statement', command);
    for (const p of ['p50', 'p99'] as const) {
      ctx.rows.push({
        scenario: 'App reads',
        metric: `mix latency ${p}`,
        unit: 'ms',
        better: 'lower',
        ...medians(runs, p),
        missing,
        command,
      });
    }
  },
};

/**
 * Writes `rate` transactions a second upstream until stopped (none when 0):
 * updates of rows the mix reads and new orders past the generated ones.
 */
function writeStream(ctx: Ctx, rate: number) {
  let running = rate > 0;
  let transactions = 0;
  const started = performance.now();
  const done = (async () => {
    if (!running) return;
    const c = await ctx.upstream.connect();
    try {
      let next = SHOP.orders + 1_000_000;
      while (running) {
        const t0 = performance.now();
        const id = next++;
        const o = 1 + ((id * 7919) % SHOP.orders);
        await c.query(`BEGIN;
          UPDATE orders SET status = (ARRAY['pending','paid','shipped','delivered'])[1 + ${id} % 4] WHERE id = ${o};
          UPDATE products SET stock = stock + 1 WHERE id = ${1 + (id % SHOP.products)};
          UPDATE order_items SET quantity = 1 + (quantity % 5) WHERE order_id = ${o} AND line = 1;
          INSERT INTO orders VALUES (${id}, ${1 + (id % SHOP.customers)}, 'pending', now());
          INSERT INTO order_items SELECT ${id}, l, 1 + (${id} + l) % ${SHOP.products}, 1, 1.00 FROM generate_series(1, ${SHOP.itemsPerOrder}) l;
          COMMIT`);
        transactions++;
        const wait = 1000 / rate - (performance.now() - t0);
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
    } finally {
      await c.end();
    }
  })();
  return {
    rate,
    async stop(): Promise<{ transactions: number; seconds: number } | undefined> {
      running = false;
      await done;
      return rate > 0 ? { transactions, seconds: (performance.now() - started) / 1000 } : undefined;
    },
  };
}
