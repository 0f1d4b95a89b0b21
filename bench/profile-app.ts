/**
 * `node --import tsx bench/profile-app.ts [statement-name ...]`: the app-reads
 * mix (bench/lib/shop.ts) one statement at a time, direct and through
 * Outpost, with the CPU per statement of Outpost's main process and of its
 * executor processes separately (from /proc), to find where the app mix's
 * milliseconds go. PROFILE=1 adds `node --cpu-prof` to Outpost and (through
 * OUTPOST_EXECUTOR_NODE_ARGS, src/exec/pool.ts) to its executors, and prints each
 * process's top functions by self time. OUTPOST_COMPARE=<other dist/cli.js>
 * runs a second build on the same replica's upstream, alternated.
 * PROFILE_MAIN=1 (with PROFILE=1) profiles the main process instead of the executors.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type OutpostProcess, startOutpost } from '../test/helpers/outpost.js';
import { startPostgres } from '../test/helpers/postgres.js';
import { childPids, cpuSeconds, postgresCpu } from './lib/cpu.js';
import { pgbench } from './lib/pgbench.js';
import { APP_STATEMENTS, createShop } from './lib/shop.js';

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

const only = process.argv.slice(2);
const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const clients = process.env.BENCH_CLIENTS ?? '8';
const profile = process.env.PROFILE === '1';
const dir = mkdtempSync(join(tmpdir(), 'outpost-prof-app-'));
const profDir = join(dir, 'prof');

function cpu(o: OutpostProcess): { main: number; exec: number } {
  const pid = o.proc.pid as number;
  const c = cpuSeconds(pid);
  return { main: c.self, exec: c.children + childPids(pid).reduce((s, p) => s + cpuSeconds(p).self, 0) };
}

const upstream = await startPostgres();
const outposts: { name: string; o: OutpostProcess }[] = [];
try {
  await createShop(upstream);
  const builds: { name: string; cli?: string }[] = [{ name: 'outpost' }];
  if (process.env.OUTPOST_COMPARE) builds.push({ name: 'compare', cli: process.env.OUTPOST_COMPARE });
  for (const b of builds) {
    const o = await startOutpost({
      upstream: upstream.url(),
      replica: join(dir, `${b.name}.db`),
      args: ['--log-level', 'warn', ...(process.env.OUTPOST_ARGS ?? '').split(' ').filter(Boolean)],
      ...(b.cli ? { cli: b.cli } : {}),
      ...(profile
        ? {
            nodeArgs: ['--cpu-prof', '--cpu-prof-dir', profDir],
            env: { OUTPOST_EXECUTOR_NODE_ARGS: `--cpu-prof --cpu-prof-dir=${profDir}` },
          }
        : {}),
    });
    await o.ready(300_000);
    outposts.push({ name: b.name, o });
  }
  const statements = APP_STATEMENTS.filter((s) => only.length === 0 || only.includes(s.name));
  for (const s of statements) {
    const file = join(dir, 'one.sql');
    writeFileSync(file, `${[...s.sets, `${s.sql};`].join('\n')}\n`);
    const args = ['-f', file, '-M', 'extended', '-c', clients, '-j', '2', '-T', String(seconds), '-n'];
    const line: string[] = [];
    const p0 = postgresCpu(upstream);
    const d = await pgbench({ port: upstream.port }, args);
    await new Promise((r) => setTimeout(r, 300));
    line.push(
      `direct ${d.tps.toFixed(0)} tps p50 ${d.p50.toFixed(2)} ms pg ${(((postgresCpu(upstream) - p0) * 1e6) / d.transactions).toFixed(0)} µs`,
    );
    for (const { name, o } of outposts) {
      const c0 = cpu(o);
      const r = await pgbench({ port: o.port }, args);
      const c1 = cpu(o);
      const per = (x: number) => ((x * 1e6) / r.transactions).toFixed(0);
      line.push(
        `${name} ${r.tps.toFixed(0)} tps p50 ${r.p50.toFixed(2)} ms main ${per(c1.main - c0.main)} µs exec ${per(c1.exec - c0.exec)} µs`,
      );
    }
    process.stdout.write(`${s.name.padEnd(22)} ${line.join(' | ')}\n`);
  }
  if (profile) {
    // Killed, Outpost does not kill its executors: they see the IPC channel close and exit, writing their profiles.
    // PROFILE_MAIN=1 stops it in order instead, which writes the main process's profile (and kills the executors).
    for (const { o } of outposts) await o.stop(process.env.PROFILE_MAIN === '1' ? 'SIGTERM' : 'SIGKILL');
    outposts.length = 0;
    await new Promise((r) => setTimeout(r, 1000));
    for (const f of readdirSync(profDir).filter((x) => x.endsWith('.cpuprofile'))) {
      const p = JSON.parse(readFileSync(join(profDir, f), 'utf8')) as { nodes: ProfileNode[] };
      const total = p.nodes.reduce((s, n) => s + (n.hitCount ?? 0), 0);
      if (total < 200) continue;
      const byFn = new Map<string, number>();
      for (const n of p.nodes) {
        const cf = n.callFrame;
        const where = cf.url.replace(/^.*\/(dist|node_modules)\//, '$1/');
        const key = `${cf.functionName || '(anonymous)'} ${where}:${cf.lineNumber + 1}`;
        byFn.set(key, (byFn.get(key) ?? 0) + (n.hitCount ?? 0));
      }
      process.stdout.write(`\n${f} (${total} samples)\n`);
      for (const [k, v] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TOP ?? 25)))
        process.stdout.write(`${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}\n`);
    }
  }
} finally {
  for (const { o } of outposts) await o.stop();
  await upstream.stop();
  if (!process.env.PROFILE_KEEP) rmSync(dir, { recursive: true, force: true });
  else process.stdout.write(`kept ${dir}\n`);
}
