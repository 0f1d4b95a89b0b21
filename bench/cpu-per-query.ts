/**
 * `node --import tsx bench/cpu-per-query.ts [simple] [prepared] [tpcb-like]`:
 * pgbench against Postgres directly and through Outpost, alternated, with
 * the CPU each party spends per transaction: Outpost (its process and
 * executors), Postgres's backends, pgbench. CPU per transaction does not
 * depend on how loaded the shared machine is the way throughput does.
 * Environment: BENCH_SECONDS (default 5), BENCH_ROUNDS (default 3),
 * OUTPOST_NODE_ARGS (e.g. --perf-basic-prof), OUTPOST_ATTACH (a command run
 * beside each Outpost run and stopped with SIGINT after it; `{pid}` is
 * Outpost's pid, `{mode}` the mode), e.g.
 * `perf record -e cpu-clock -g -o /tmp/p.{mode} -p {pid}` or `strace -c -f -o /tmp/s.{mode} -p {pid}`;
 * OUTPOST_COMPARE (another build's dist/cli.js: run as a third system,
 * `compare`, alternated with the others, so a change is measured before and
 * after under the same load).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startOutpost } from '../test/helpers/outpost.js';
import { startPostgres } from '../test/helpers/postgres.js';
import { clientCpu, outpostCpu, postgresCpu } from './lib/cpu.js';
import { connArgs, exec, pgbench, pgbenchEnv } from './lib/pgbench.js';
import { sleep } from './lib/proc.js';
import { median } from './lib/stats.js';

const modes = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['simple', 'prepared', 'tpcb-like'];
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const dir = mkdtempSync(join(tmpdir(), 'outpost-cpu-'));
const upstream = await startPostgres();
try {
  await exec(
    'pgbench',
    ['-i', '-s', '1', '-q', ...connArgs({ port: upstream.port })],
    pgbenchEnv({ port: upstream.port }),
  );
  const start = (name: string, cli?: string) =>
    startOutpost({
      upstream: upstream.url(),
      replica: join(dir, `${name}.db`),
      args: ['--log-level', 'warn'],
      nodeArgs: (process.env.OUTPOST_NODE_ARGS ?? '').split(' ').filter(Boolean),
      ...(cli ? { cli } : {}),
    });
  const outpost = await start('outpost');
  const compare = process.env.OUTPOST_COMPARE
    ? await start('compare', process.env.OUTPOST_COMPARE)
    : undefined;
  await compare?.ready(300_000);
  await outpost.ready(300_000);
  process.stdout.write(
    `load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}\n`,
  );
  for (const mode of modes) {
    const args =
      mode === 'tpcb-like'
        ? ['-c', '8', '-j', '2', '-T', String(seconds), '-n']
        : ['-S', '-M', mode, '-c', '8', '-j', '2', '-T', String(seconds), '-n'];
    const systems = [
      { name: 'direct', port: upstream.port, proxy: outpost },
      { name: 'outpost', port: outpost.port, proxy: outpost },
      ...(compare ? [{ name: 'compare', port: compare.port, proxy: compare }] : []),
    ];
    const rows: Record<string, { tps: number[]; outpost: number[]; postgres: number[]; pgbench: number[] }> =
      Object.fromEntries(systems.map((s) => [s.name, { tps: [], outpost: [], postgres: [], pgbench: [] }]));
    for (let r = 0; r < rounds; r++) {
      for (const { name, port, proxy } of systems) {
        const o0 = outpostCpu(proxy);
        const p0 = postgresCpu(upstream);
        const c0 = clientCpu();
        // A profiler attached to Outpost for its runs, e.g. OUTPOST_ATTACH='strace -c -f -o /tmp/s.{mode} -p {pid}'.
        const attach = process.env.OUTPOST_ATTACH;
        const perf =
          name !== 'direct' && attach
            ? spawn(
                'sh',
                [
                  '-c',
                  `exec ${attach.replaceAll('{pid}', String(proxy.proc.pid)).replaceAll('{mode}', `${mode}.${name}`)}`,
                ],
                { stdio: 'ignore' },
              )
            : undefined;
        if (perf) await sleep(200);
        const run = await pgbench({ port }, args);
        if (perf) {
          perf.kill('SIGINT');
          await new Promise((r) => perf.once('exit', r));
        }
        // Backends are reaped after pgbench disconnects.
        await sleep(300);
        const per = (s: number) => (s * 1e6) / run.transactions;
        const row = rows[name]!;
        row.tps.push(run.tps);
        row.outpost.push(per(outpostCpu(proxy) - o0));
        row.postgres.push(per(postgresCpu(upstream) - p0));
        row.pgbench.push(per(clientCpu() - c0));
      }
    }
    for (const { name } of systems) {
      const row = rows[name]!;
      process.stdout.write(
        `${mode.padEnd(10)} ${name.padEnd(8)} ${median(row.tps).toFixed(0).padStart(7)} tps  CPU µs/tx: outpost ${median(row.outpost).toFixed(1).padStart(5)}  postgres ${median(row.postgres).toFixed(1).padStart(5)}  pgbench ${median(row.pgbench).toFixed(1).padStart(5)}  (tps rounds ${row.tps.map((t) => t.toFixed(0)).join(' ')})\n`,
      );
    }
  }
  process.stdout.write(
    `load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}\n`,
  );
  await outpost.stop();
  await compare?.stop();
} finally {
  await upstream.stop();
  rmSync(dir, { recursive: true, force: true });
}
