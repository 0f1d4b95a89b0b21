/**
 * Bounded staleness: lag is measured in time from upstream positions, idle
 * upstreams show none, and while replication is down reads go upstream and
 * /readyz says not ready — then everything recovers.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { Freshness, type ReplicationView } from '../src/router/freshness.js';
import { eventually, startOutpost } from './helpers/outpost.js';
import { startPostgres } from './helpers/postgres.js';

test('lag is the age of the oldest unapplied upstream position', () => {
  let now = 1_000;
  const view: ReplicationView = { state: 'streaming', appliedLsn: 100n, upstreamLsn: 100n };
  const f = new Freshness(
    () => view,
    10_000,
    () => now,
  );
  assert.equal(f.lagMs(), 0, 'caught up');
  view.upstreamLsn = 200n;
  f.sample();
  now += 3_000;
  view.upstreamLsn = 300n;
  f.sample();
  now += 2_000;
  assert.equal(f.lagMs(), 5_000, 'position 200 first seen 5 s ago is not applied');
  view.appliedLsn = 250n;
  assert.equal(f.lagMs(), 2_000, 'only 300 (seen 2 s ago) is pending');
  now += 9_000;
  assert.equal(f.lagMs(), 11_000);
  assert.match(f.staleness() ?? '', /replica lag 11\.0 s exceeds --max-lag 10\.0 s/);
  view.appliedLsn = 300n;
  assert.equal(f.lagMs(), 0);
  assert.equal(f.staleness(), undefined);
  // An idle upstream: keepalives move both positions together.
  now += 60_000;
  view.upstreamLsn = 400n;
  view.appliedLsn = 400n;
  assert.equal(f.lagMs(), 0, 'idleness is not lag');
  view.state = 'reconnecting';
  f.sample();
  now += 1_500;
  assert.equal(f.staleness(), 'replication reconnecting');
  assert.ok(f.lagMs() >= 1_500, 'an outage counts as lag');
});

test('reads go upstream while replication is down, and come back', async () => {
  const upstream = await startPostgres();
  const dir = mkdtempSync(join(tmpdir(), 'outpost-fresh-'));
  const outpost = await startOutpost({ upstream: upstream.url(), replica: join(dir, 'r.db') });
  const hba = join(upstream.dataDir, 'pg_hba.conf');
  const original = readFileSync(hba, 'utf8');
  try {
    await upstream.query('create table t (id int primary key); insert into t values (1)');
    await outpost.ready();
    const c = new pg.Client({
      host: '127.0.0.1',
      port: outpost.port,
      user: 'postgres',
      password: 'postgres',
    });
    await c.connect();
    const route = async () => {
      await c.query('select * from t');
      return (await c.query<{ last_route: string }>('show outpost.last_route')).rows[0]?.last_route ?? '';
    };
    await eventually(async () => (await route()) === 'local', 20_000, 'local reads');
    assert.equal((await outpost.http('/readyz')).status, 200);

    // Refuse replication connections, then cut the current one.
    writeFileSync(hba, `host replication all 127.0.0.1/32 reject\n${original}`);
    await upstream.query('select pg_reload_conf()');
    await upstream.query(
      `select pg_terminate_backend(active_pid) from pg_replication_slots where active_pid is not null`,
    );
    await eventually(async () => /^upstream: replication /.test(await route()), 20_000, 'forwarding');
    const ready = await outpost.http('/readyz');
    assert.equal(ready.status, 503);
    assert.match(ready.body, /replication/);
    assert.equal((await outpost.http('/healthz')).status, 200, 'still alive');
    const rows = await c.query('select * from t');
    assert.equal(rows.rowCount, 1, 'forwarded reads still answer');

    writeFileSync(hba, original);
    await upstream.query('select pg_reload_conf()');
    await eventually(async () => (await route()) === 'local', 40_000, 'recovery');
    assert.equal((await outpost.http('/readyz')).status, 200);
    const metrics = (await outpost.http('/metrics')).body;
    assert.match(metrics, /outpost_replication_lag_seconds \d/);
    await c.end();
  } finally {
    writeFileSync(hba, original);
    await outpost.stop();
    await upstream.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
