/**
 * At the edge, the request shapes ORMs send (issue: "at the edge in one
 * round trip"). Upstream sits behind test/helpers/latency-relay.ts (40 ms round
 * trip); Outpost replicates and forwards through it, direct clients go
 * through it too. Each shape's figure is the median time of one request,
 * and the target is on Outpost ÷ direct:
 * - 125 reads one after another (extended protocol, one id each) ≤ 0.10
 * - INSERT … RETURNING id, then SELECT that row ≤ 0.60
 * - BEGIN; SELECT; SELECT; COMMIT (READ COMMITTED, not READ ONLY) ≤ 0.10
 * - 8 concurrent requests of 5 reads + 1 write (wall time) ≤ 0.30
 * and then forwarded statements' round trips and proxy time (edge-forwarding.ts).
 *
 * The clients run with Postgres's default `synchronous_commit=on`: the
 * bench's Postgres is started with it off (test speed, test/helpers/postgres.ts),
 * and then a commit's WAL reaches walsenders only when the WAL writer flushes
 * it (every wal_writer_delay, 10 ms there), so a read of one's own write
 * waits for that timer rather than for Outpost. The write+read pair is also
 * measured that way, without a target, to show what such an upstream costs.
 */
import { join } from 'node:path';
import pg from 'pg';
import { eventually, lastRoute, startOutpost } from '../../test/helpers/outpost.js';
import type { Ctx, Scenario, SystemName } from '../lib/context.js';
import { median } from '../lib/stats.js';
import { startRelay } from '../lib/systems.js';
import { measureForwarding } from './edge-forwarding.js';

const DELAY_MS = 20;
const ROWS = 1000;

type Shape = {
  name: string;
  /** On Outpost ÷ direct; none for a figure shown for information. */
  target: number | undefined;
  clients: number;
  /** The clients' synchronous_commit (default on, as in a stock Postgres). */
  synchronousCommit?: 'on' | 'off';
  request: (clients: pg.Client[], n: number) => Promise<void>;
};

const read = (c: pg.Client, id: number) =>
  c.query({ text: 'select id, v, note from edge_items where id = $1', values: [1 + (id % ROWS)] });

const writeThenRead: Shape['request'] = async ([c]) => {
  const client = c as pg.Client;
  const r = await client.query<{ id: string }>({
    text: 'insert into edge_writes (v) values ($1) returning id',
    values: [1],
  });
  await client.query({ text: 'select id, v from edge_writes where id = $1', values: [r.rows[0]?.id] });
};

const SHAPES: Shape[] = [
  {
    name: '125 ORM reads one after another',
    target: 0.1,
    clients: 1,
    request: async ([c], n) => {
      for (let i = 0; i < 125; i++) await read(c as pg.Client, n * 125 + i);
    },
  },
  {
    name: 'INSERT … RETURNING id, then SELECT that row',
    target: 0.6,
    clients: 1,
    request: writeThenRead,
  },
  {
    name: 'INSERT … RETURNING id, then SELECT that row, upstream synchronous_commit=off',
    target: undefined,
    clients: 1,
    synchronousCommit: 'off',
    request: writeThenRead,
  },
  {
    name: 'BEGIN; SELECT; SELECT; COMMIT',
    target: 0.1,
    clients: 1,
    request: async ([c], n) => {
      const client = c as pg.Client;
      await client.query('begin');
      await read(client, n);
      await read(client, n + 1);
      await client.query('commit');
    },
  },
  {
    name: '8 concurrent requests of 5 reads + 1 write',
    target: 0.3,
    clients: 8,
    request: async (clients, n) => {
      await Promise.all(
        clients.map(async (c, k) => {
          for (let i = 0; i < 5; i++) await read(c, n * 40 + k * 5 + i);
          await c.query({ text: 'update edge_items set v = v + 1 where id = $1', values: [1 + k] });
        }),
      );
    },
  },
];

/** Median request time in ms of `shape` over `seconds` (at least 3 requests). */
async function measure(url: string, shape: Shape, seconds: number): Promise<number> {
  const clients = await Promise.all(
    Array.from({ length: shape.clients }, async () => {
      const c = new pg.Client({
        connectionString: url,
        options: `-c synchronous_commit=${shape.synchronousCommit ?? 'on'}`,
      });
      await c.connect();
      return c;
    }),
  );
  try {
    await shape.request(clients, 0); // warm (prepared statements, privileges)
    const times: number[] = [];
    const end = Date.now() + seconds * 1000;
    for (let n = 1; times.length < 3 || Date.now() < end; n++) {
      const t0 = performance.now();
      await shape.request(clients, n);
      times.push(performance.now() - t0);
    }
    return median(times);
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
}

export const edgeTx: Scenario = {
  name: 'edge-tx',
  title: `At the edge: ORM request shapes (upstream ${2 * DELAY_MS} ms round trip away)`,
  async run(ctx: Ctx) {
    await ctx.upstream.query(
      `create table if not exists edge_items (id int primary key, v int not null, note text);
       insert into edge_items select g, g, 'n' || g from generate_series(1, ${ROWS}) g on conflict do nothing;
       create table if not exists edge_writes (id bigserial primary key, v int not null)`,
    );
    const relay = await startRelay(ctx.upstream.port, DELAY_MS);
    let outpost: Awaited<ReturnType<typeof startOutpost>> | undefined;
    const viaRelay = ctx.upstream.url().replace(`:${ctx.upstream.port}/`, `:${relay.port}/`);
    try {
      outpost = await startOutpost({
        upstream: viaRelay,
        replica: join(ctx.dir, 'edge-tx-replica.db'),
        args: ['--log-level', 'warn'],
      });
      await outpost.ready(300_000);
      const viaOutpost = ctx.upstream.url().replace(`:${ctx.upstream.port}/`, `:${outpost.port}/`);
      // Until the role's privileges are known, reads are forwarded.
      const warm = new pg.Client({ connectionString: viaOutpost });
      await warm.connect();
      await eventually(async () => {
        await read(warm, 1);
        return (await lastRoute(warm)) === 'local';
      }, 60_000);
      await warm.end();
      const systems: [SystemName, string][] = [
        ['direct', viaRelay],
        ['outpost', viaOutpost],
      ];
      for (const shape of SHAPES) {
        const rounds: Partial<Record<SystemName, number[]>> = { direct: [], outpost: [] };
        for (let round = 0; round < ctx.rounds; round++) {
          for (const [name, url] of systems) {
            const ms = await measure(url, shape, ctx.seconds);
            rounds[name]?.push(ms);
            ctx.log(`  edge-tx ${shape.name} round ${round + 1} ${name.padEnd(9)} ${ms.toFixed(1)} ms`);
          }
        }
        const direct = median(rounds.direct ?? []);
        const via = median(rounds.outpost ?? []);
        const r = via / direct;
        const goal = shape.target === undefined ? 'no target' : `target ≤ ${shape.target}`;
        ctx.log(`  edge-tx ${shape.name}: Outpost ÷ direct ${r.toFixed(2)} (${goal})`);
        ctx.rows.push({
          scenario: `Edge (${2 * DELAY_MS} ms RTT), ORM shapes`,
          metric: `${shape.name} (per request)`,
          unit: 'ms',
          better: 'lower',
          values: { direct, outpost: via },
          rounds,
          missing: { pgbouncer: 'not run (pooling does not remove the round trip)' },
          ...(shape.target !== undefined
            ? { target: { text: `Outpost ÷ direct ≤ ${shape.target}`, met: r <= shape.target } }
            : {}),
          command: 'bench/scenarios/edge-tx.ts (node-postgres)',
        });
      }
      await measureForwarding(
        ctx,
        {
          direct: ctx.upstream.url(),
          outpost: ctx.upstream.url().replace(`:${ctx.upstream.port}/`, `:${ctx.outpost.port}/`),
          relayDirect: viaRelay,
          relayOutpost: viaOutpost,
        },
        2 * DELAY_MS,
      );
    } finally {
      await outpost?.stop();
      await relay.stop();
    }
  },
};
