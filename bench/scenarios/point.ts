/** Scenario 1: pgbench -S point reads, 8 clients, simple and prepared protocol. */
import {
  alternate,
  type Ctx,
  cpuRows,
  localShare,
  medians,
  pgbenchCommand,
  pgbenchSystems,
  routeCounters,
  type Scenario,
} from '../lib/context.js';

export const point: Scenario = {
  name: 'point',
  title: 'Point reads (pgbench -S)',
  async run(ctx: Ctx) {
    for (const mode of ['simple', 'prepared']) {
      const args = ['-S', '-M', mode, '-c', '8', '-j', '2', '-T', String(ctx.seconds), '-n'];
      // pgbouncer before 1.21 cannot keep named prepared statements in
      // transaction pooling: pgbench's clients would abort on a server that
      // never saw their Parse.
      const { systems, missing } = pgbenchSystems(ctx, {
        pgbouncer:
          mode === 'prepared' && ctx.pgbouncer && !ctx.pgbouncer.preparedStatements
            ? `pgbouncer ${ctx.pgbouncer.version} does not support prepared statements in transaction pooling (1.21+ does)`
            : undefined,
      });
      const before = await routeCounters(ctx.outpost);
      const runs = await alternate(ctx, systems, args, `-M ${mode}`);
      const share = localShare(before, await routeCounters(ctx.outpost));
      ctx.log(`  Outpost: ${share}`);
      ctx.notes.push(`Point reads -M ${mode}: through Outpost, ${share}.`);
      const command = pgbenchCommand(args);
      const tps = medians(runs, 'tps');
      ctx.rows.push({
        scenario: 'Point reads',
        metric: `-M ${mode} throughput`,
        unit: 'tps',
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
        chart: `point ${mode}`,
      });
      cpuRows(ctx, runs, 'Point reads', `CPU per point read -M ${mode}`, command);
      for (const p of ['p50', 'p99'] as const) {
        ctx.rows.push({
          scenario: 'Point reads',
          metric: `-M ${mode} latency ${p}`,
          unit: 'ms',
          better: 'lower',
          ...medians(runs, p),
          missing,
          command,
        });
      }
    }
  },
};
