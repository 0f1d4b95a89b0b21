/**
 * `node --import tsx bench/forwarding-compare.ts`: proxy time per forwarded
 * statement (the statements of bench/scenarios/edge-forwarding.ts, on
 * loopback), direct Postgres and Outpost alternated in each round, and with
 * `OUTPOST_COMPARE=<other dist/cli.js>` a second build alternated too, so
 * that old and new are measured in the same minutes of a shared machine.
 * BENCH_SECONDS per statement and system per round (default 3), BENCH_ROUNDS (default 5).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type OutpostProcess, startOutpost } from '../test/helpers/outpost.js';
import { startPostgres } from '../test/helpers/postgres.js';
import { median } from './lib/stats.js';
import { FORWARDED_STATEMENTS, timeStatement } from './scenarios/edge-forwarding.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const compare = process.env.OUTPOST_COMPARE;
const dir = mkdtempSync(join(tmpdir(), 'outpost-fwd-'));
const upstream = await startPostgres();
const outposts: OutpostProcess[] = [];
try {
  await upstream.query(
    `create table edge_items (id int primary key, v int not null, note text);
     insert into edge_items select g, g, 'n' || g from generate_series(1, 1000) g`,
  );
  const systems: [string, string][] = [['direct', upstream.url()]];
  const builds: [string, string | undefined][] = [['outpost', undefined]];
  if (compare) builds.push(['compare', compare]);
  for (const [name, cli] of builds) {
    const o = await startOutpost({
      upstream: upstream.url(),
      replica: join(dir, `${name}.db`),
      args: ['--log-level', 'warn'],
      ...(cli ? { cli } : {}),
    });
    outposts.push(o);
    await o.ready(300_000);
    systems.push([name, upstream.url().replace(`:${upstream.port}/`, `:${o.port}/`)]);
  }
  process.stdout.write(
    `load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}\n`,
  );
  for (const s of FORWARDED_STATEMENTS) {
    const times = new Map<string, number[]>(systems.map(([n]) => [n, []]));
    for (let round = 0; round < rounds; round++) {
      for (const [name, url] of systems) times.get(name)?.push(await timeStatement(url, s, seconds, 200));
    }
    const direct = median(times.get('direct') ?? []);
    const parts = systems
      .slice(1)
      .map(([n]) => `${n} +${(median(times.get(n) ?? []) - direct).toFixed(3)} ms`);
    process.stdout.write(`${s.name}: direct ${direct.toFixed(3)} ms; ${parts.join('; ')}\n`);
  }
  process.stdout.write(
    `load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}\n`,
  );
} finally {
  for (const o of outposts) await o.stop();
  await upstream.stop();
  rmSync(dir, { recursive: true, force: true });
}
