/**
 * Scenario: sessions isolated from each other's local work. One client runs
 * a long local read (a cross join that statement_timeout ends after
 * BENCH_ISOLATION_SECONDS, default 20) while another client does point
 * reads (extended protocol, one at a time); their latency is compared with
 * the same pair run directly on Postgres. Also the CPU each system spends
 * per point read (pgbench -S): Outpost's process (and its executors) against
 * Postgres's backends (the postmaster's reaped children).
 */
import pg from 'pg';
import { cancelRequest } from '../../test/helpers/cancel.js';
import { alternate, type Ctx, pgbenchCommand, type Scenario, type SystemName } from '../lib/context.js';
import { outpostCpu, postgresCpu } from '../lib/cpu.js';
import { sleep } from '../lib/proc.js';
import { median, percentile } from '../lib/stats.js';

const HEAVY = 'select count(*) from pgbench_accounts a cross join pgbench_accounts b';

async function client(port: number): Promise<pg.Client> {
  const c = new pg.Client({
    host: '127.0.0.1',
    port,
    user: 'postgres',
    password: 'postgres',
    database: 'postgres',
  });
  c.on('error', () => {});
  await c.connect();
  return c;
}

/** Point-read latencies (ms) while a long read runs on another connection of the same system. */
async function pointReadsBeside(port: number, seconds: number, accounts: number): Promise<number[]> {
  const heavy = await client(port);
  const reader = await client(port);
  try {
    await heavy.query(`set statement_timeout = '${seconds}s'`);
    let running = true;
    const done = heavy.query(HEAVY).then(
      () => 'finished',
      (e: Error) => e.message,
    );
    void done.then(() => {
      running = false;
    });
    await sleep(500);
    const latencies: number[] = [];
    let seed = 1;
    while (running) {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      const t = performance.now();
      await reader.query({
        text: 'select abalance from pgbench_accounts where aid = $1',
        values: [1 + (seed % accounts)],
      });
      latencies.push(performance.now() - t);
    }
    const outcome = await done;
    if (outcome === 'finished') throw new Error('the long read finished before its statement_timeout');
    return latencies;
  } finally {
    await heavy.end().catch(() => {});
    await reader.end().catch(() => {});
  }
}

/** Milliseconds from sending a CancelRequest for a running long read to its 57014, and to the next read's answer. */
async function cancelLatency(port: number): Promise<{ cancel: number; next: number }> {
  const c = await client(port);
  try {
    const running = c.query(HEAVY).then(
      () => performance.now(),
      () => performance.now(),
    );
    await sleep(300);
    const sent = performance.now();
    await cancelRequest(port, c);
    const answered = await running;
    // The next statement that needs an executor (the cancelled one's is being replaced).
    await c.query('select count(*) from pgbench_branches');
    return { cancel: answered - sent, next: performance.now() - answered };
  } finally {
    await c.end().catch(() => {});
  }
}

/** CPU seconds a system has used so far: Outpost with its executors, Postgres's reaped backends. */
function systemCpu(ctx: Ctx, name: SystemName): number {
  return name === 'outpost' ? outpostCpu(ctx.outpost) : postgresCpu(ctx.upstream);
}

export const isolation: Scenario = {
  name: 'isolation',
  title: 'Isolation and CPU per point read',
  async run(ctx: Ctx) {
    const seconds = Number(process.env.BENCH_ISOLATION_SECONDS ?? 20);
    const accounts = 100_000 * ctx.scale;
    const p99: Partial<Record<SystemName, number>> = {};
    const p50: Partial<Record<SystemName, number>> = {};
    for (const name of ['direct', 'outpost'] as const) {
      const port = name === 'direct' ? ctx.upstream.port : ctx.outpost.port;
      const lat = await pointReadsBeside(port, seconds, accounts);
      p50[name] = percentile(lat, 50);
      p99[name] = percentile(lat, 99);
      ctx.log(
        `  ${name.padEnd(9)} ${lat.length} point reads beside a ${seconds} s read: p50 ${p50[name]?.toFixed(3)} ms  p99 ${p99[name]?.toFixed(3)} ms`,
      );
    }
    const command = `one client: SET statement_timeout = '${seconds}s'; ${HEAVY}; another: select abalance from pgbench_accounts where aid = $1 (extended protocol, one at a time)`;
    ctx.rows.push({
      scenario: 'Isolation',
      metric: `point read p99 beside a ${seconds} s local read`,
      unit: 'ms',
      better: 'lower',
      values: p99,
      target: {
        text: 'Outpost p99 < 5 ms',
        met: p99.outpost === undefined ? undefined : p99.outpost < 5,
      },
      command,
      chart: 'isolation p99',
    });
    ctx.rows.push({
      scenario: 'Isolation',
      metric: `point read p50 beside a ${seconds} s local read`,
      unit: 'ms',
      better: 'lower',
      values: p50,
      command,
    });

    const cancels: Partial<Record<SystemName, number[]>> = { direct: [], outpost: [] };
    const nexts: Partial<Record<SystemName, number[]>> = { direct: [], outpost: [] };
    for (let round = 0; round < Math.max(3, ctx.rounds); round++) {
      for (const name of ['direct', 'outpost'] as const) {
        const r = await cancelLatency(name === 'direct' ? ctx.upstream.port : ctx.outpost.port);
        cancels[name]?.push(r.cancel);
        nexts[name]?.push(r.next);
      }
    }
    const cancelCommand = `${HEAVY}; CancelRequest after 300 ms; then select count(*) from pgbench_branches`;
    ctx.rows.push({
      scenario: 'Isolation',
      metric: 'CancelRequest to 57014',
      unit: 'ms',
      better: 'lower',
      values: { direct: median(cancels.direct ?? []), outpost: median(cancels.outpost ?? []) },
      rounds: cancels,
      target: {
        text: 'Outpost < 100 ms',
        met: (cancels.outpost?.length ?? 0) > 0 ? median(cancels.outpost ?? []) < 100 : undefined,
      },
      command: cancelCommand,
    });
    ctx.rows.push({
      scenario: 'Isolation',
      metric: 'next local read after a cancel (executor replaced)',
      unit: 'ms',
      better: 'lower',
      values: { direct: median(nexts.direct ?? []), outpost: median(nexts.outpost ?? []) },
      rounds: nexts,
      command: cancelCommand,
    });
    ctx.log(
      `  cancel: direct ${median(cancels.direct ?? []).toFixed(1)} ms, outpost ${median(cancels.outpost ?? []).toFixed(1)} ms; next read after it: direct ${median(nexts.direct ?? []).toFixed(1)} ms, outpost ${median(nexts.outpost ?? []).toFixed(1)} ms`,
    );

    // CPU per point read: the work of the system itself, not of pgbench.
    for (const mode of ['simple', 'prepared']) {
      const args = ['-S', '-M', mode, '-c', '8', '-j', '2', '-T', String(ctx.seconds), '-n'];
      const perRead: Partial<Record<SystemName, number[]>> = { direct: [], outpost: [] };
      for (let round = 0; round < ctx.rounds; round++) {
        for (const name of ['direct', 'outpost'] as const) {
          const before = systemCpu(ctx, name);
          const port = name === 'direct' ? ctx.upstream.port : ctx.outpost.port;
          const runs = await alternate(
            { ...ctx, rounds: 1, log: () => {} },
            [{ name, target: { port } }],
            args,
            '',
          );
          // Backends are reaped when pgbench disconnects: give the postmaster a moment.
          await sleep(300);
          const run = runs.get(name)?.[0];
          const cpu = systemCpu(ctx, name) - before;
          if (run) perRead[name]?.push((cpu * 1e6) / run.transactions);
        }
      }
      const values = {
        direct: median(perRead.direct ?? []),
        outpost: median(perRead.outpost ?? []),
      };
      ctx.log(
        `  CPU per point read -M ${mode}: direct ${values.direct.toFixed(1)} µs, outpost ${values.outpost.toFixed(1)} µs`,
      );
      ctx.rows.push({
        scenario: 'Isolation',
        metric: `CPU per point read -M ${mode}`,
        unit: 'µs',
        better: 'lower',
        values,
        rounds: perRead,
        command: `${pgbenchCommand(args)} (CPU of Outpost and its executors; of Postgres's backends)`,
      });
    }
  },
};
