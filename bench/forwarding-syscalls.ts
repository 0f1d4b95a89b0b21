/**
 * `node --import tsx bench/forwarding-syscalls.ts`: the socket system calls
 * of Outpost's main thread per forwarded statement (the statements of
 * bench/scenarios/edge-forwarding.ts, sequential node-postgres), counted
 * with `strace -f` on the running process. Load-independent, unlike the
 * proxy time: one read and one write per side per statement is the floor,
 * and any other descriptor (the catalog connection looking up a position)
 * is work the client's session pipelining missed.
 * `OUTPOST_COMPARE=<other dist/cli.js>`: that build instead. `STATEMENTS` (default 200).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startOutpost } from '../test/helpers/outpost.js';
import { startPostgres } from '../test/helpers/postgres.js';
import { FORWARDED_STATEMENTS } from './scenarios/edge-forwarding.js';

const N = Number(process.env.STATEMENTS ?? 200);
const dir = mkdtempSync(join(tmpdir(), 'outpost-syscalls-'));
const upstream = await startPostgres();
try {
  await upstream.query(
    `create table edge_items (id int primary key, v int not null, note text);
     insert into edge_items select g, g, 'n' || g from generate_series(1, 1000) g`,
  );
  const compare = process.env.OUTPOST_COMPARE;
  const outpost = await startOutpost({
    upstream: upstream.url(),
    replica: join(dir, 'r.db'),
    args: ['--log-level', 'warn'],
    ...(compare ? { cli: compare } : {}),
  });
  await outpost.ready(300_000);
  const pid = outpost.proc.pid as number;
  const url = upstream.url().replace(`:${upstream.port}/`, `:${outpost.port}/`);
  for (const s of FORWARDED_STATEMENTS) {
    const c = new pg.Client({ connectionString: url, options: '-c synchronous_commit=on' });
    await c.connect();
    for (let i = 0; i < 20; i++) await s.run(c, i);
    const out = join(dir, 'strace.out');
    const trace = spawn('strace', ['-f', '-o', out, '-e', 'trace=read,write,writev', '-p', String(pid)], {
      stdio: 'ignore',
    });
    await new Promise((r) => setTimeout(r, 1000));
    for (let i = 0; i < N; i++) await s.run(c, i);
    await new Promise((r) => setTimeout(r, 300));
    trace.kill('SIGINT');
    await new Promise((r) => trace.on('exit', r));
    await c.end();
    // The main thread's calls by descriptor (libuv's wake-up eventfd, read 1024 bytes at a time, left out).
    const counts = new Map<string, number>();
    for (const line of readFileSync(out, 'utf8').split('\n')) {
      const m = new RegExp(`^${pid} +(read|write|writev)\\((\\d+),`).exec(line);
      if (!m || (m[1] === 'read' && line.includes(', 1024)'))) continue;
      const key = `${m[1]}(${m[2]})`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    const per = [...counts]
      .filter(([, v]) => v >= N / 20)
      .map(([k, v]) => `${k} ${(v / N).toFixed(2)}`)
      .join(', ');
    process.stdout.write(`${s.name}: per statement ${per}\n`);
  }
  await outpost.stop();
} finally {
  await upstream.stop();
  rmSync(dir, { recursive: true, force: true });
}
