/**
 * `node --import tsx bench/profile-point.ts [simple|prepared|tpcb-like]`:
 * a CPU profile of Outpost (node --cpu-prof) under pgbench -S (or
 * tpcb-like writes, which are forwarded), and its top functions by self
 * time. Used to write down where the microseconds of a point read go
 * (docs/architecture.md, "Where a point read's time goes").
 */
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startOutpost } from '../test/helpers/outpost.js';
import { startPostgres } from '../test/helpers/postgres.js';
import { connArgs, exec, pgbenchEnv } from './lib/pgbench.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

const mode = process.argv[2] ?? 'simple';
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const dir = mkdtempSync(join(tmpdir(), 'outpost-prof-'));
const upstream = await startPostgres();
try {
  await exec(
    'pgbench',
    ['-i', '-s', '1', '-q', ...connArgs({ port: upstream.port })],
    pgbenchEnv({ port: upstream.port }),
  );
  const outpost = await startOutpost({
    upstream: upstream.url(),
    replica: join(dir, 'r.db'),
    args: ['--log-level', 'warn'],
    nodeArgs: ['--cpu-prof', '--cpu-prof-dir', dir],
  });
  await outpost.ready(300_000);
  const args =
    mode === 'tpcb-like'
      ? ['-b', 'tpcb-like', '-c', '8', '-j', '2', '-T', String(seconds), '-n']
      : ['-S', '-M', mode, '-c', '8', '-j', '2', '-T', String(seconds), '-n'];
  const { stdout } = await exec(
    'pgbench',
    [...args, ...connArgs({ port: outpost.port })],
    pgbenchEnv({ port: outpost.port }),
  );
  process.stdout.write(`${/tps = [\d.]+/.exec(stdout)?.[0]}\n`);
  await outpost.stop();
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error('no profile written');
  // PROFILE_KEEP=<path>: keep the profile (e.g. for Chrome DevTools).
  if (process.env.PROFILE_KEEP) copyFileSync(join(dir, file), process.env.PROFILE_KEEP);
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { nodes: ProfileNode[] };
  const total = profile.nodes.reduce((s, n) => s + (n.hitCount ?? 0), 0);
  const byFn = new Map<string, number>();
  for (const n of profile.nodes) {
    const f = n.callFrame;
    const where = f.url.replace(/^.*\/(dist|node_modules)\//, '$1/');
    const key = `${f.functionName || '(anonymous)'} ${where}:${f.lineNumber + 1}`;
    byFn.set(key, (byFn.get(key) ?? 0) + (n.hitCount ?? 0));
  }
  const top = [...byFn].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TOP ?? 40));
  for (const [k, v] of top) process.stdout.write(`${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}\n`);
} finally {
  await upstream.stop();
  rmSync(dir, { recursive: true, force: true });
}
