/**
 * `npm run bench`: pgbench point reads (`-S`, 8 clients, `-M simple` and
 * `-M prepared`) directly against Postgres and through Outpost, alternating
 * A B A B so machine noise hits both; medians and ratios reported.
 * `npm run bench -- replication` runs the replication benchmark instead.
 *
 * Environment: BENCH_SECONDS (per run, default 5), BENCH_ROUNDS (default 3),
 * BENCH_SCALE (pgbench scale, default 1).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startOutpost } from '../test/helpers/outpost.js';
import { startPostgres } from '../test/helpers/postgres.js';

if (process.argv.includes('replication')) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'replication.ts')], {
    stdio: 'inherit',
  });
  process.exit(r.status ?? 1);
}

const SECONDS = process.env.BENCH_SECONDS ?? '5';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SCALE = process.env.BENCH_SCALE ?? '1';

interface Run {
  tps: number;
  latencyMs: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

function pgbench(port: number, args: string[]): string {
  return execFileSync(
    'pgbench',
    [...args, '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', 'postgres'],
    { env: { ...process.env, PGPASSWORD: 'postgres' }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
}

function pointReads(port: number, mode: string): Run {
  const out = pgbench(port, ['-S', '-M', mode, '-c', '8', '-j', '2', '-T', SECONDS, '-n']);
  return {
    tps: Number(/tps = ([\d.]+)/.exec(out)?.[1]),
    latencyMs: Number(/latency average = ([\d.]+)/.exec(out)?.[1]),
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-bench-'));
  const upstream = await startPostgres();
  let outpost: Awaited<ReturnType<typeof startOutpost>> | undefined;
  try {
    pgbench(upstream.port, ['-i', '-s', SCALE, '-q']);
    outpost = await startOutpost({
      upstream: upstream.url(),
      replica: join(dir, 'replica.db'),
      args: ['--log-level', 'warn'],
    });
    await outpost.ready(600_000);
    process.stdout.write(
      `pgbench -S -c 8 -j 2 -T ${SECONDS}, scale ${SCALE}, ${ROUNDS} rounds alternating direct/outpost\n`,
    );
    for (const mode of ['simple', 'prepared']) {
      const direct: Run[] = [];
      const via: Run[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        direct.push(pointReads(upstream.port, mode));
        via.push(pointReads(outpost.port, mode));
      }
      const d = { tps: median(direct.map((r) => r.tps)), lat: median(direct.map((r) => r.latencyMs)) };
      const o = { tps: median(via.map((r) => r.tps)), lat: median(via.map((r) => r.latencyMs)) };
      process.stdout.write(
        `-M ${mode.padEnd(8)} direct ${d.tps.toFixed(0).padStart(7)} tps (${d.lat.toFixed(3)} ms avg)  ` +
          `outpost ${o.tps.toFixed(0).padStart(7)} tps (${o.lat.toFixed(3)} ms avg)  ratio ${(o.tps / d.tps).toFixed(2)}x\n`,
      );
    }
    const metrics = (await outpost.http('/metrics')).body;
    const routes = metrics.split('\n').filter((l) => l.startsWith('outpost_statements_total'));
    process.stdout.write(`${routes.join('\n')}\n`);
  } finally {
    await outpost?.stop();
    await upstream.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${(err as Error).message}\n`);
  process.exit(1);
});
