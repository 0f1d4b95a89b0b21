/**
 * Scenario 2: ORM-style reads (joins, aggregates, paging) over the shop
 * schema, as a weighted pgbench mix of one-statement scripts with random
 * parameters, through the extended protocol with unnamed statements (what
 * node-postgres and most ORMs send).
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
import { APP_STATEMENTS, withSample } from '../lib/shop.js';
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
    const runs = await alternate(ctx, systems, args, 'app mix');
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
