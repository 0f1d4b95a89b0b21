/**
 * Session lifecycle: --max-clients, --idle-timeout, and draining on shutdown
 * (in-process, and the real CLI on SIGTERM).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { silentLogger } from '../src/log.js';
import { createMetrics } from '../src/metrics.js';
import type { QueryRouter } from '../src/router/types.js';
import { ProxyServer } from '../src/server/proxy-server.js';
import { startOutpost } from './helpers/outpost.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';

const router: QueryRouter = { route: () => ({ kind: 'upstream', reason: 'test' }) };

let upstream: PostgresInstance;

before(async () => {
  upstream = await startPostgres();
});

after(async () => {
  await upstream?.stop();
});

async function startProxy(opts: { maxClients?: number; idleTimeoutMs?: number } = {}): Promise<ProxyServer> {
  const p = new ProxyServer({
    listen: { host: '127.0.0.1', port: 0 },
    upstream: { host: upstream.host, port: upstream.port },
    router,
    logger: silentLogger(),
    metrics: createMetrics(),
    ...opts,
  });
  await p.start();
  return p;
}

function client(port: number): pg.Client {
  const c = new pg.Client({
    host: '127.0.0.1',
    port,
    user: 'postgres',
    password: 'postgres',
    database: 'postgres',
  });
  c.on('error', () => {});
  return c;
}

/** Resolves with the error the connection ends with. */
function endedWith(c: pg.Client): Promise<pg.DatabaseError> {
  return new Promise((resolve) => c.once('error', (e) => resolve(e as pg.DatabaseError)));
}

describe('limits', () => {
  test('--max-clients: one more gets FATAL 53300, and a freed slot is usable again', async () => {
    const p = await startProxy({ maxClients: 3 });
    const port = p.address().port;
    const clients = [client(port), client(port), client(port)];
    try {
      await Promise.all(clients.map((c) => c.connect()));
      const extra = client(port);
      const err = (await extra.connect().catch((e: unknown) => e)) as pg.DatabaseError;
      assert.equal(err.code, '53300');
      assert.equal(err.message, 'sorry, too many clients already');
      assert.equal(err.severity, 'FATAL');
      await clients.pop()?.end();
      const deadline = Date.now() + 5000;
      while (p.clientCount() > 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const again = client(port);
      await again.connect();
      assert.equal((await again.query('select 1 as one')).rows[0].one, 1);
      clients.push(again);
    } finally {
      await Promise.all(clients.map((c) => c.end().catch(() => {})));
      await p.close();
    }
  });

  test('--idle-timeout closes idle sessions with FATAL 57P05, never one in a transaction or mid-query', async () => {
    const p = await startProxy({ idleTimeoutMs: 300 });
    const port = p.address().port;
    const idle = client(port);
    const inTx = client(port);
    const busy = client(port);
    await Promise.all([idle.connect(), inTx.connect(), busy.connect()]);
    try {
      const idleEnd = endedWith(idle);
      const busyEnd = endedWith(busy);
      await inTx.query('begin');
      const started = Date.now();
      // Longer than the timeout, without any traffic: still answered.
      const slept = await busy.query('select pg_sleep(0.6) as s');
      assert.equal(slept.rowCount, 1);
      const e1 = await idleEnd;
      assert.equal(e1.code, '57P05');
      assert.match(e1.message, /idle-session timeout/);
      const e2 = await busyEnd;
      assert.equal(e2.code, '57P05');
      assert.ok(Date.now() - started >= 850, 'the busy session timed out only after its query');
      // The one in a transaction is still there.
      assert.equal((await inTx.query('select 2 as two')).rows[0].two, 2);
      await inTx.query('commit');
    } finally {
      await Promise.all([idle, inTx, busy].map((c) => c.end().catch(() => {})));
      await p.close();
    }
  });
});

describe('shutdown drains', () => {
  test('close(): idle sessions end at once; a running statement finishes first; then FATAL 57P01', async () => {
    const p = await startProxy();
    const port = p.address().port;
    const idle = client(port);
    const busy = client(port);
    await Promise.all([idle.connect(), busy.connect()]);
    const idleEnd = endedWith(idle);
    const busyEnd = endedWith(busy);
    const running = busy.query('select pg_sleep(0.5) as s, 42 as answer');
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    const closed = p.close();
    const e1 = await idleEnd;
    assert.equal(e1.code, '57P01');
    assert.ok(Date.now() - started < 300, 'the idle session ended at once');
    const r = await running;
    assert.equal(r.rows[0].answer, 42, 'the statement in flight got its answer');
    assert.equal((await busyEnd).code, '57P01');
    await closed;
    assert.equal(p.clientCount(), 0);
    // No longer listening.
    const late = client(port);
    await assert.rejects(late.connect());
  });

  test('close() is bounded: a statement still running after the drain time is cut off', async () => {
    const p = await startProxy();
    const port = p.address().port;
    const busy = client(port);
    await busy.connect();
    const running = busy.query('select pg_sleep(30)').catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    await p.close(400);
    assert.ok(Date.now() - started < 3000);
    assert.ok((await running) instanceof Error);
  });

  test('the CLI on SIGTERM: the query in flight completes, the session gets 57P01, exit code 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'outpost-lifecycle-'));
    const op = await startOutpost({
      upstream: upstream.url(),
      replica: join(dir, 'replica.db'),
      args: ['--max-clients', '5', '--idle-timeout', '0'],
    });
    try {
      await op.ready();
      const c = client(op.port);
      await c.connect();
      const ended = endedWith(c);
      const running = c.query('select pg_sleep(0.5) as s, 7 as seven');
      await new Promise((r) => setTimeout(r, 100));
      const exit = op.stop('SIGTERM');
      assert.equal((await running).rows[0].seven, 7);
      assert.equal((await ended).code, '57P01');
      assert.equal(await exit, 0);
    } finally {
      await op.stop('SIGKILL').catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
