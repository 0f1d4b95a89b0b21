/**
 * Scenario 4: at the edge. Upstream sits behind test/helpers/latency-relay.ts
 * (20 ms each way, 40 ms round trip); Outpost replicates and forwards through
 * the relay, direct clients go through it too. Point reads with few clients:
 * the figure is latency, not throughput.
 */
import { join } from 'node:path';
import { startOutpost } from '../../test/helpers/outpost.js';
import {
  alternate,
  type Ctx,
  localShare,
  medians,
  pgbenchCommand,
  routeCounters,
  type Scenario,
} from '../lib/context.js';
import { startRelay } from '../lib/systems.js';

const DELAY_MS = 20;

export const edge: Scenario = {
  name: 'edge',
  title: `At the edge (upstream ${2 * DELAY_MS} ms round trip away)`,
  async run(ctx: Ctx) {
    const relay = await startRelay(ctx.upstream.port, DELAY_MS);
    let outpost: Awaited<ReturnType<typeof startOutpost>> | undefined;
    try {
      outpost = await startOutpost({
        upstream: ctx.upstream.url().replace(`:${ctx.upstream.port}/`, `:${relay.port}/`),
        replica: join(ctx.dir, 'edge-replica.db'),
        args: ['--log-level', 'warn'],
      });
      await outpost.ready(300_000);
      const clients = process.env.BENCH_EDGE_CLIENTS ?? '2';
      const args = ['-S', '-M', 'prepared', '-c', clients, '-j', clients === '1' ? '1' : '2'];
      args.push('-T', String(ctx.seconds), '-n');
      const before = await routeCounters(outpost);
      const runs = await alternate(
        ctx,
        [
          { name: 'direct', target: { port: relay.port } },
          { name: 'outpost', target: { port: outpost.port } },
        ],
        args,
        'edge -S',
      );
      const share = localShare(before, await routeCounters(outpost));
      ctx.log(`  Outpost: ${share}`);
      ctx.notes.push(`Edge: through the edge Outpost, ${share}.`);
      const command = pgbenchCommand(args);
      const missing = { pgbouncer: 'not run (pooling does not remove the round trip)' };
      const p50 = medians(runs, 'p50');
      ctx.rows.push({
        scenario: `Edge (${2 * DELAY_MS} ms RTT)`,
        metric: 'point read latency p50',
        unit: 'ms',
        better: 'lower',
        ...p50,
        missing,
        target: {
          text: 'Outpost < 0.5 ms; direct ≥ 40 ms',
          met:
            p50.values.outpost !== undefined && p50.values.direct !== undefined
              ? p50.values.outpost < 0.5 && p50.values.direct >= 2 * DELAY_MS
              : undefined,
        },
        command,
        chart: 'edge p50',
      });
      ctx.rows.push({
        scenario: `Edge (${2 * DELAY_MS} ms RTT)`,
        metric: 'point read latency p99',
        unit: 'ms',
        better: 'lower',
        ...medians(runs, 'p99'),
        missing,
        command,
      });
      ctx.rows.push({
        scenario: `Edge (${2 * DELAY_MS} ms RTT)`,
        metric: `point read throughput (${clients} clients)`,
        unit: 'tps',
        better: 'higher',
        ...medians(runs, 'tps'),
        missing,
        command,
      });
    } finally {
      await outpost?.stop();
      await relay.stop();
    }
  },
};
