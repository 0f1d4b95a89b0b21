/**
 * A replica that can no longer follow its upstream — its slot dropped or
 * invalidated (`wal_status = lost`), or a different upstream cluster behind
 * the same address — is detected, logged, and rebuilt by a fresh snapshot,
 * instead of silently missing changes or refusing to start.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pino from 'pino';
import { createMetrics } from '../src/metrics.js';
import { ReplicaStore } from '../src/replica/store.js';
import { ReplicationEngine } from '../src/replication/engine.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';
import { byPgNames } from './helpers/replica-views.js';

let pgA: PostgresInstance;
let dir: string;

before(async () => {
  pgA = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'outpost-recovery-'));
});

after(async () => {
  await pgA?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** An engine whose warnings are collected, to check what the operator is told. */
function engineFor(upstream: PostgresInstance, store: ReplicaStore) {
  const lines: string[] = [];
  const logger = pino(
    { level: 'info' },
    {
      write: (line: string) => {
        lines.push(line);
      },
    },
  );
  const engine = new ReplicationEngine({
    upstreamUrl: upstream.url(),
    store,
    logger,
    metrics: createMetrics(),
  });
  return { engine, lines };
}

async function waitFor(
  what: string,
  fn: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const replicaIds = (store: ReplicaStore, table: string): number[] =>
  (
    byPgNames(store.reader).prepare(`SELECT id FROM "public.${table}" ORDER BY id`).pluck().all() as bigint[]
  ).map(Number);

async function upstreamIds(upstream: PostgresInstance, table: string): Promise<number[]> {
  const r = await upstream.query<{ id: number }>(`SELECT id FROM ${table} ORDER BY id`);
  return r.rows.map((row) => row.id);
}

/** Start an engine, wait until it streams and has applied everything upstream has. */
async function follow(upstream: PostgresInstance, store: ReplicaStore, table: string) {
  const e = engineFor(upstream, store);
  await e.engine.start();
  const want = await upstreamIds(upstream, table);
  await waitFor(`replica of ${table}`, () => {
    try {
      return JSON.stringify(replicaIds(store, table)) === JSON.stringify(want);
    } catch {
      return false;
    }
  });
  return e;
}

test('a slot dropped while Outpost was down: a fresh snapshot, with the changes made meanwhile', async () => {
  await pgA.query('CREATE TABLE t1 (id int PRIMARY KEY); INSERT INTO t1 SELECT generate_series(1, 50)');
  const path = join(dir, 'dropped.db');
  let store = ReplicaStore.open(path);
  const first = await follow(pgA, store, 't1');
  const slot = store.getMeta('slot') as string;
  await first.engine.stop();
  store.close();

  await pgA.query(`SELECT pg_drop_replication_slot('${slot}')`);
  await pgA.query('INSERT INTO t1 SELECT generate_series(51, 80); DELETE FROM t1 WHERE id <= 5');

  store = ReplicaStore.open(path);
  const second = await follow(pgA, store, 't1');
  try {
    assert.deepEqual(replicaIds(store, 't1'), await upstreamIds(pgA, 't1'));
    assert.notEqual(store.getMeta('slot'), slot, 'a new slot');
    assert.ok(
      second.lines.some((l) => /no longer exists upstream/.test(l) && /fresh snapshot/.test(l)),
      'the operator is told why',
    );
    // And it streams again afterwards.
    await pgA.query('INSERT INTO t1 VALUES (1000)');
    await waitFor('a change after the fresh snapshot', () => replicaIds(store, 't1').includes(1000));
  } finally {
    await second.engine.stop();
    store.close();
  }
});

test('a slot invalidated upstream (wal_status lost): dropped, and a fresh snapshot', async () => {
  await pgA.query(
    'CREATE TABLE t2 (id int PRIMARY KEY, pad text); INSERT INTO t2 SELECT generate_series(1, 20)',
  );
  const path = join(dir, 'invalidated.db');
  let store = ReplicaStore.open(path);
  const first = await follow(pgA, store, 't2');
  const slot = store.getMeta('slot') as string;
  await first.engine.stop();
  store.close();

  // Let the slot fall more than max_slot_wal_keep_size behind; a checkpoint invalidates it.
  await pgA.query(`ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'`);
  await pgA.query('SELECT pg_reload_conf()');
  try {
    for (let i = 0; i < 6; i++) {
      await pgA.query(
        `INSERT INTO t2 SELECT g, repeat('x', 500) FROM generate_series(${100 + i * 3000}, ${99 + (i + 1) * 3000}) g`,
      );
      await pgA.query('SELECT pg_switch_wal()');
      await pgA.query('CHECKPOINT');
      const r = await pgA.query<{ wal_status: string }>(
        'SELECT wal_status FROM pg_replication_slots WHERE slot_name = $1',
        [slot],
      );
      if (r.rows[0]?.wal_status === 'lost') break;
    }
    const r = await pgA.query<{ wal_status: string }>(
      'SELECT wal_status FROM pg_replication_slots WHERE slot_name = $1',
      [slot],
    );
    assert.equal(r.rows[0]?.wal_status, 'lost', 'the test made the slot lose its WAL');
  } finally {
    await pgA.query('ALTER SYSTEM RESET max_slot_wal_keep_size');
    await pgA.query('SELECT pg_reload_conf()');
  }

  store = ReplicaStore.open(path);
  const second = await follow(pgA, store, 't2');
  try {
    assert.deepEqual(replicaIds(store, 't2'), await upstreamIds(pgA, 't2'));
    assert.ok(
      second.lines.some((l) => /invalidated upstream/.test(l)),
      'the operator is told why',
    );
    const old = await pgA.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slot]);
    assert.equal(old.rowCount, 0, 'the invalidated slot was dropped');
  } finally {
    await second.engine.stop();
    store.close();
  }
});

test('a different upstream cluster behind the same address: a fresh snapshot of it', async () => {
  await pgA.query('CREATE TABLE t3 (id int PRIMARY KEY); INSERT INTO t3 SELECT generate_series(1, 10)');
  const path = join(dir, 'moved.db');
  let store = ReplicaStore.open(path);
  const first = await follow(pgA, store, 't3');
  const systemA = store.getMeta('system_identifier');
  await first.engine.stop();
  store.close();

  const pgB = await startPostgres();
  try {
    await pgB.query('CREATE TABLE t3 (id int PRIMARY KEY); INSERT INTO t3 SELECT generate_series(500, 520)');
    store = ReplicaStore.open(path);
    const second = await follow(pgB, store, 't3');
    try {
      assert.deepEqual(replicaIds(store, 't3'), await upstreamIds(pgB, 't3'));
      assert.notEqual(store.getMeta('system_identifier'), systemA);
      assert.ok(
        second.lines.some((l) => /system identifier changed/.test(l)),
        'the operator is told why',
      );
    } finally {
      await second.engine.stop();
      store.close();
    }
  } finally {
    await pgB.stop();
  }
});

test('a replacement keeps the old replica until the swap; interrupted, the next start drops its slot and copy', async () => {
  await pgA.query(
    `CREATE TABLE t4 (id int PRIMARY KEY, pad text); INSERT INTO t4 SELECT g, repeat('x', 100) FROM generate_series(1, 300000) g`,
  );
  const path = join(dir, 'replaced.db');
  let store = ReplicaStore.open(path);
  const first = await follow(pgA, store, 't4');
  const slot = store.getMeta('slot') as string;
  await first.engine.stop();
  store.close();
  await pgA.query(`SELECT pg_drop_replication_slot('${slot}')`);
  await pgA.query('DELETE FROM t4 WHERE id <= 1000');

  // Stopped while the replacement is held up (its slot waits for a transaction holding a lock):
  // the old rows are all still there, and the read path forwards.
  const locker = await pgA.connect();
  await locker.query('BEGIN; LOCK TABLE t4 IN ACCESS EXCLUSIVE MODE');
  store = ReplicaStore.open(path);
  const second = engineFor(pgA, store);
  const started = second.engine.start();
  started.catch(() => {});
  const staged = () =>
    store.reader
      .prepare(`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name LIKE '_outpost_resync_%'`)
      .pluck()
      .get() as number;
  let nextSlot: string;
  try {
    await waitFor(
      'the replacement to begin',
      () => store.getMeta('snapshot_state') === 'replacing' && store.getMeta('next_slot') !== undefined,
    );
    assert.equal(replicaIds(store, 't4').length, 300000, 'the old replica is whole meanwhile');
    assert.equal(store.snapshotComplete(), false, 'the read path forwards meanwhile');
    nextSlot = store.getMeta('next_slot') as string;
  } finally {
    const stopped = second.engine.stop();
    await locker.query('ROLLBACK');
    await locker.end();
    await stopped;
  }
  await assert.rejects(started);
  // As a crash after the slot was made and midway through the copy would leave it.
  await pgA.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [nextSlot]);
  store.db.exec('CREATE TABLE "_outpost_resync_1" (x)');
  store.close();

  // The next start drops the interrupted copy's slot and snapshots again.
  store = ReplicaStore.open(path);
  const third = await follow(pgA, store, 't4');
  try {
    assert.equal(replicaIds(store, 't4').length, 299000);
    assert.equal(staged(), 0, 'no staging tables left');
    assert.equal(store.getMeta('next_slot'), undefined);
    const left = await pgA.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [nextSlot]);
    assert.equal(left.rowCount, 0, 'the interrupted copy’s slot was dropped');
    assert.ok(
      third.lines.some((l) => /dropped the slot of an interrupted snapshot/.test(l)),
      third.lines.join('\n'),
    );
  } finally {
    await third.engine.stop();
    store.close();
  }
});

test('a completed replacement swaps tables, slot and position together', async () => {
  await pgA.query(
    'CREATE TABLE t5 (id int PRIMARY KEY); INSERT INTO t5 SELECT generate_series(1, 100); CREATE TABLE t5_gone (id int PRIMARY KEY)',
  );
  const path = join(dir, 'swapped.db');
  let store = ReplicaStore.open(path);
  const first = await follow(pgA, store, 't5');
  const slot = store.getMeta('slot') as string;
  await first.engine.stop();
  store.close();
  await pgA.query(`SELECT pg_drop_replication_slot('${slot}')`);
  await pgA.query(
    'DROP TABLE t5_gone; CREATE TABLE t5_new (id int PRIMARY KEY); INSERT INTO t5_new VALUES (7)',
  );

  store = ReplicaStore.open(path);
  const second = await follow(pgA, store, 't5');
  try {
    assert.ok(
      second.lines.some((l) => /fresh snapshot swapped in/.test(l)),
      'replaced, not cleared in place',
    );
    assert.deepEqual(replicaIds(store, 't5_new'), [7], 'a table created meanwhile is there');
    assert.equal(store.findTable('public', 't5_gone'), undefined, 'a dropped table is gone');
    const newSlot = store.getMeta('slot') as string;
    assert.notEqual(newSlot, slot);
    const r = await pgA.query<{ l: string }>(
      'SELECT confirmed_flush_lsn::text AS l FROM pg_replication_slots WHERE slot_name = $1',
      [newSlot],
    );
    assert.equal(r.rowCount, 1);
    await pgA.query('INSERT INTO t5 VALUES (1000)');
    await waitFor('streaming after the swap', () => replicaIds(store, 't5').includes(1000));
  } finally {
    await second.engine.stop();
    store.close();
  }
});
