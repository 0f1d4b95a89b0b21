/**
 * "Forwarding that adds nothing" (issue: at the edge in one round trip): a
 * statement Outpost forwards must take the same number of round trips to
 * upstream as sent directly (Parse/Bind/Execute/Sync go on as the client
 * pipelined them, no Describe or Parse of Outpost's own), and add < 0.2 ms
 * of proxy time.
 * - Round trips: each statement's median time through the latency relay,
 *   in units of its round trip, Outpost vs direct.
 * - Proxy time: Outpost's median minus direct's on loopback (no relay), where
 *   a fraction of a millisecond is not lost in the relay's timer jitter. It
 *   includes whatever Outpost pipelines behind a write (its WAL position
 *   and, after statements that may run user code, the session state check).
 */
import pg from 'pg';
import type { Ctx, SystemName } from '../lib/context.js';
import { median } from '../lib/stats.js';

const PROXY_TARGET_MS = 0.2;

export interface Statement {
  name: string;
  run: (c: pg.Client, i: number) => Promise<unknown>;
}

/** Statements Outpost forwards, each in the form ORMs and drivers send it. */
export const FORWARDED_STATEMENTS: Statement[] = [
  {
    name: 'UPDATE, extended protocol (unnamed statement)',
    run: (c, i) => c.query({ text: 'update edge_items set v = v where id = $1', values: [1 + (i % 1000)] }),
  },
  {
    name: 'UPDATE, extended protocol (named prepared statement)',
    run: (c, i) =>
      c.query({
        name: 'edge_fwd_update',
        text: 'update edge_items set v = v where id = $1',
        values: [1 + (i % 1000)],
      }),
  },
  {
    name: 'UPDATE, simple protocol',
    run: (c, i) => c.query(`update edge_items set v = v where id = ${1 + (i % 1000)}`),
  },
  {
    // A system catalog: never replicated, so forwarded; a read has nothing pipelined behind it.
    name: 'SELECT forwarded (system catalog), extended protocol',
    run: (c, i) => c.query({ text: 'select relname from pg_class where oid = $1', values: [1259 + (i % 2)] }),
  },
];

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url, options: '-c synchronous_commit=on' });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Median time in ms of one `s`, sequential, over `seconds` (at least `min` runs, after one warm-up). */
export function timeStatement(url: string, s: Statement, seconds: number, min: number): Promise<number> {
  return withClient(url, async (c) => {
    await s.run(c, 0);
    const times: number[] = [];
    const end = performance.now() + seconds * 1000;
    for (let i = 1; times.length < min || performance.now() < end; i++) {
      const t0 = performance.now();
      await s.run(c, i);
      times.push(performance.now() - t0);
    }
    return median(times);
  });
}

export async function measureForwarding(
  ctx: Ctx,
  urls: { direct: string; outpost: string; relayDirect: string; relayOutpost: string },
  roundTripMs: number,
): Promise<void> {
  for (const s of FORWARDED_STATEMENTS) {
    const loop: Record<'direct' | 'outpost', number[]> = { direct: [], outpost: [] };
    const far: Record<'direct' | 'outpost', number[]> = { direct: [], outpost: [] };
    for (let round = 0; round < ctx.rounds; round++) {
      for (const name of ['direct', 'outpost'] as const) {
        loop[name].push(
          await timeStatement(name === 'direct' ? urls.direct : urls.outpost, s, ctx.seconds, 200),
        );
        const relayUrl = name === 'direct' ? urls.relayDirect : urls.relayOutpost;
        far[name].push((await timeStatement(relayUrl, s, Math.min(ctx.seconds, 2), 10)) / roundTripMs);
      }
    }
    const direct = median(loop.direct);
    const via = median(loop.outpost);
    const proxy = via - direct;
    const trips = { direct: Math.round(median(far.direct)), outpost: Math.round(median(far.outpost)) };
    ctx.log(
      `  edge-tx forwarded ${s.name}: proxy time ${proxy.toFixed(3)} ms (direct ${direct.toFixed(3)}, Outpost ${via.toFixed(3)}; target < ${PROXY_TARGET_MS}); round trips direct ${median(far.direct).toFixed(2)}, Outpost ${median(far.outpost).toFixed(2)}`,
    );
    const rounds = loop as Partial<Record<SystemName, number[]>>;
    ctx.rows.push({
      scenario: 'Edge, forwarding that adds nothing',
      metric: `${s.name}: time per statement on loopback`,
      unit: 'ms',
      better: 'lower',
      values: { direct, outpost: via },
      rounds,
      missing: { pgbouncer: 'not run' },
      target: { text: `Outpost − direct < ${PROXY_TARGET_MS} ms`, met: proxy < PROXY_TARGET_MS },
      command: 'bench/scenarios/edge-forwarding.ts (node-postgres, loopback)',
    });
    ctx.rows.push({
      scenario: 'Edge, forwarding that adds nothing',
      metric: `${s.name}: round trips to upstream (${roundTripMs} ms each)`,
      unit: 'round trips',
      better: 'lower',
      values: trips,
      rounds: far as Partial<Record<SystemName, number[]>>,
      missing: { pgbouncer: 'not run' },
      target: { text: 'Outpost = direct', met: trips.outpost === trips.direct },
      command: 'bench/scenarios/edge-forwarding.ts (node-postgres, through the latency relay)',
    });
  }
}
