/** `npm run demo` starts Postgres and Outpost, prints a working psql line, and stops cleanly on Ctrl-C. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { freePort } from './helpers/postgres.js';

test('the demo prints a psql line that works', async () => {
  const port = await freePort();
  const httpPort = await freePort();
  const demoDir = mkdtempSync(join(tmpdir(), 'outpost-demo-'));
  const proc = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    env: {
      ...process.env,
      OUTPOST_LISTEN: `127.0.0.1:${port}`,
      OUTPOST_HTTP: `127.0.0.1:${httpPort}`,
      OUTPOST_DEMO_DIR: demoDir,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, signalled whole below, as a terminal's Ctrl-C is.
    detached: true,
  });
  let out = '';
  proc.stdout.on('data', (b) => {
    out += b;
  });
  proc.stderr.on('data', (b) => {
    out += b;
  });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (c) => resolve(c)));
  try {
    const deadline = Date.now() + 90_000;
    while (!out.includes('Press Ctrl-C')) {
      if (proc.exitCode !== null) assert.fail(`demo exited early:\n${out}`);
      if (Date.now() > deadline) assert.fail(`demo did not come up:\n${out}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.match(out, new RegExp(`psql -h 127\\.0\\.0\\.1 -p ${port} -U postgres postgres`));
    const c = new pg.Client({
      host: '127.0.0.1',
      port,
      user: 'postgres',
      password: 'postgres',
      database: 'postgres',
    });
    await c.connect();
    const r = await c.query('select id, sku, price from products order by id limit 2');
    assert.deepEqual(r.rows, [
      { id: 1, sku: 'SKU-0001', price: '3.70' },
      { id: 2, sku: 'SKU-0002', price: '7.40' },
    ]);
    const route = await c.query('show outpost.last_route');
    assert.equal(route.rows[0].last_route, 'local');
    // A client still connected when Ctrl-C comes.
    const idle = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password: 'postgres' });
    await idle.connect();
    const notices: string[] = [];
    idle.on('error', (err) => notices.push(`${(err as { code?: string }).code} ${err.message}`));
    await c.end();
    const upstreamPort = Number(/Upstream Postgres: \S+@127\.0\.0\.1:(\d+)\//.exec(out)?.[1]);
    assert.ok(upstreamPort > 0, out);
    const stoppingAt = out.length;
    process.kill(-(proc.pid as number), 'SIGINT');
    assert.equal(await exited, 0, out);
    // Stopped once, in order: Outpost ended its sessions (57P01, as Postgres
    // would on shutdown) before Postgres stopped; no warnings, no second stop.
    const tail = out.slice(stoppingAt);
    assert.equal(tail.match(/Stopping/g)?.length, 1, tail);
    assert.doesNotMatch(tail, /WARN|ERROR|FATAL|"level":(40|50|60)/, tail);
    // (node-postgres adds its own "terminated unexpectedly" after any FATAL.)
    assert.deepEqual(
      notices.filter((n) => !n.endsWith('Connection terminated unexpectedly')),
      ['57P01 terminating connection due to administrator command'],
      'the client saw only the graceful end',
    );
    await idle.end().catch(() => {});
    // And Postgres is gone.
    const left = new pg.Client({
      host: '127.0.0.1',
      port: upstreamPort,
      user: 'postgres',
      password: 'postgres',
    });
    await assert.rejects(left.connect(), /ECONNREFUSED/);
  } finally {
    if (proc.exitCode === null) process.kill(-(proc.pid as number), 'SIGKILL');
    rmSync(demoDir, { recursive: true, force: true });
  }
});
