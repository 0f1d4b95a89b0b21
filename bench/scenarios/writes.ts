/** Scenario 3: forwarded writes, pgbench's default tpcb-like transaction. */
import {
  alternate,
  type Ctx,
  cpuRows,
  medians,
  pgbenchCommand,
  pgbenchSystems,
  type Scenario,
} from '../lib/context.js';

export const writes: Scenario = {
  name: 'writes',
  title: 'Forwarded writes (pgbench tpcb-like)',
  async run(ctx: Ctx) {
    const args = ['-c', '8', '-j', '2', '-T', String(ctx.seconds), '-n'];
    const { systems, missing } = pgbenchSystems(ctx);
    const runs = await alternate(ctx, systems, args, 'tpcb-like');
    const command = pgbenchCommand(args);
    const tps = medians(runs, 'tps');
    const direct = tps.values.direct;
    const via = tps.values.outpost;
    ctx.rows.push({
      scenario: 'Forwarded writes',
      metric: 'tpcb-like throughput',
      unit: 'tps',
      better: 'higher',
      ...tps,
      missing,
      target: {
        text: 'Outpost ≥ 0.9× direct',
        met: direct !== undefined && via !== undefined ? via >= 0.9 * direct : undefined,
      },
      command,
      chart: 'writes tpcb-like',
    });
    cpuRows(ctx, runs, 'Forwarded writes', 'CPU per tpcb-like transaction', command);
    for (const p of ['p50', 'p99'] as const) {
      ctx.rows.push({
        scenario: 'Forwarded writes',
        metric: `tpcb-like latency ${p}`,
        unit: 'ms',
        better: 'lower',
        ...medians(runs, p),
        missing,
        command,
      });
    }
  },
};
