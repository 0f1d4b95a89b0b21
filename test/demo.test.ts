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
    await c.end();
    proc.kill('SIGINT');
    assert.equal(await exited, 0, out);
  } finally {
    proc.kill('SIGKILL');
    rmSync(demoDir, { recursive: true, force: true });
  }
});
