/**
 * `outpost status` and `outpost drop-slot` against a real upstream and a
 * replica written by a real Outpost; SIGTERM leaves a resumable position.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCli, startOutpost } from './helpers/outpost.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';

let upstream: PostgresInstance;
let dir: string;

before(async () => {
  upstream = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'outpost-admin-'));
  await upstream.query('create table t (id int primary key); insert into t select generate_series(1, 10)');
});

after(async () => {
  await upstream?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('status reports slot, position and lag; drop-slot removes slot and publication', async () => {
  const replica = join(dir, 'replica.db');
  const outpost = await startOutpost({ upstream: upstream.url(), replica });
  await outpost.ready();
  const live = await outpost.status();
  const slot = String(live.replication.slot);
  // SIGTERM: graceful, exit 0, position acknowledged up to what the replica holds.
  assert.equal(await outpost.stop('SIGTERM'), 0);

  const status = await runCli(['status', '--upstream', upstream.url(), '--replica', replica, '--json']);
  assert.equal(status.code, 0, status.stderr);
  const report = JSON.parse(status.stdout);
  assert.equal(report.replica.slot, slot);
  assert.equal(report.replica.snapshot, 'complete');
  assert.match(report.replica.appliedLsn, /^[0-9A-F]+\/[0-9A-F]+$/);
  assert.equal(report.upstream.slot.active, false);
  assert.equal(typeof report.upstream.lagBytes, 'number');
  // Nothing acknowledged beyond what the replica file holds.
  const confirmed = await upstream.query<{ ok: boolean }>(
    'select confirmed_flush_lsn <= $2::pg_lsn as ok from pg_replication_slots where slot_name = $1',
    [slot, report.replica.appliedLsn],
  );
  assert.equal(confirmed.rows[0]?.ok, true);

  const text = await runCli(['status', '--upstream', upstream.url(), '--replica', replica]);
  assert.equal(text.code, 0);
  assert.match(text.stdout, new RegExp(`slot: +${slot}`));

  const drop = await runCli(['drop-slot', '--upstream', upstream.url(), '--replica', replica]);
  assert.equal(drop.code, 0, drop.stderr);
  assert.match(drop.stdout, new RegExp(`dropped slot ${slot}`));
  const slots = await upstream.query('select 1 from pg_replication_slots where slot_name = $1', [slot]);
  assert.equal(slots.rowCount, 0);
  const pubs = await upstream.query(`select 1 from pg_publication where pubname = 'outpost'`);
  assert.equal(pubs.rowCount, 0, 'the publication Outpost created is dropped with the last slot');

  const again = await runCli(['drop-slot', '--upstream', upstream.url(), '--replica', join(dir, 'none.db')]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /^outpost: no slot to drop/);
});

test('status without the replica file finds the running one, and lists the tables not replicated', async () => {
  await upstream.query('create table nopk (v text); insert into nopk values (1)');
  const replica = join(dir, 'running.db');
  const outpost = await startOutpost({ upstream: upstream.url(), replica });
  try {
    await outpost.ready();
    const slot = String((await outpost.status()).replication.slot);
    // As an operator would run it, in another directory, without --replica.
    const status = () =>
      runCli([
        'status',
        '--upstream',
        upstream.url(),
        '--replica',
        join(dir, 'not-here.db'),
        '--http',
        `127.0.0.1:${outpost.httpPort}`,
      ]);
    let r = await status();
    // The list is recorded by the first catalog check after streaming began.
    for (let i = 0; i < 20 && !/not replicated/.test(r.stdout); i++) r = await status();
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /not created yet/);
    assert.match(r.stdout, new RegExp(`replica: +${replica.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\n`));
    assert.match(r.stdout, new RegExp(`slot: +${slot}`));
    assert.match(r.stdout, /running: +streaming/);
    assert.match(
      r.stdout,
      /not replicated \(queries forwarded\): 1 table\(s\)\n {2}public\.nopk: no primary key or replica identity; .*REPLICA IDENTITY FULL/,
    );
  } finally {
    assert.equal(await outpost.stop(), 0);
    await upstream.query('drop table nopk');
  }
});
