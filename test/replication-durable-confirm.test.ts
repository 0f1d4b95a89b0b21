/**
 * An Outpost holding a slot commits its replica without an fsync in each
 * COMMIT (synchronous=NORMAL) and fsyncs it off the event loop
 * (src/replica/wal-sync.ts): under a stream of writes the slot is never
 * confirmed past what a sync has covered, it does get confirmed, and a
 * durability gate that holds keeps the slot where it was (keepalive replies
 * and idle positions included) until it moves. Real Postgres, real SQLite.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { silentLogger } from '../src/log.js';
import { createMetrics } from '../src/metrics.js';
import { ReplicaStore } from '../src/replica/store.js';
import { syncOffLoop } from '../src/replica/wal-sync.js';
import { ReplicationEngine } from '../src/replication/engine.js';
import { type Lsn, parseLsn } from '../src/replication/lsn.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';
import { byPgNames } from './helpers/replica-views.js';
import { waitFor } from './helpers/wait.js';

let pg: PostgresInstance;
let dir: string;

before(async () => {
  pg = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'outpost-durable-confirm-'));
});

after(async () => {
  await pg?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function confirmed(db: string): Promise<Lsn> {
  const r = await pg.query<{ c: string | null }>(
    'SELECT confirmed_flush_lsn::text AS c FROM pg_replication_slots WHERE database = $1',
    [db],
  );
  return parseLsn(r.rows[0]?.c ?? '0/0');
}

async function insertPosition(): Promise<Lsn> {
  const r = await pg.query<{ l: string }>('SELECT pg_current_wal_insert_lsn()::text AS l');
  return parseLsn(r.rows[0]?.l ?? '0/0');
}

test('the slot is confirmed only up to what is fsynced, and it is confirmed', async () => {
  await pg.query('CREATE DATABASE durable_a');
  await pg.query('CREATE TABLE t (id int PRIMARY KEY, v text)', [], 'durable_a');
  const store = ReplicaStore.open(join(dir, 'a.db'));
  let engine: ReplicationEngine | undefined;
  const sync = syncOffLoop(store, silentLogger(), () => engine?.confirmChanged());
  assert.equal(store.db.pragma('synchronous', { simple: true }), 1, 'commits without an fsync');
  engine = new ReplicationEngine({
    upstreamUrl: pg.url({ database: 'durable_a' }),
    store,
    logger: silentLogger(),
    metrics: createMetrics(),
    durability: sync,
  });
  try {
    await engine.start();
    let violations = 0;
    let samples = 0;
    let writing = true;
    const sampler = (async () => {
      while (writing) {
        // The gate first: it only grows, so a slot past it was confirmed past it.
        const synced = sync.durableLsn();
        const c = await confirmed('durable_a');
        samples++;
        if (c > synced && c > sync.durableLsn()) violations++;
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    for (let i = 0; i < 300; i++) await pg.query('INSERT INTO t VALUES ($1, $2)', [i, `v${i}`], 'durable_a');
    const target = await insertPosition();
    await waitFor(
      'slot confirmed up to the writes',
      async () => (await confirmed('durable_a')) >= target,
      30_000,
    );
    writing = false;
    await sampler;
    assert.ok(samples > 10, `samples ${samples}`);
    assert.equal(violations, 0, 'the slot was confirmed past an fsync');
    assert.ok(sync.syncs > 0, 'the replica was fsynced');
    const n = byPgNames(store.reader).prepare('SELECT count(*) AS n FROM "public.t"').get() as { n: number };
    assert.equal(n.n, 300);
  } finally {
    await engine.stop();
    sync.close();
    store.close();
  }
});

test('a durability gate that holds keeps the slot where it was until it moves', async () => {
  await pg.query('CREATE DATABASE durable_b');
  await pg.query('CREATE TABLE t (id int PRIMARY KEY, v text)', [], 'durable_b');
  const store = ReplicaStore.open(join(dir, 'b.db'));
  let engine: ReplicationEngine | undefined;
  const sync = syncOffLoop(store, silentLogger(), () => engine?.confirmChanged());
  // The real sync, but nothing past `heldAt` is durable while held (a disk that does not sync).
  let heldAt: Lsn | undefined;
  const gate = {
    confirmable: (c: Lsn) => {
      const ok = sync.confirmable(c);
      return heldAt !== undefined && ok > heldAt ? heldAt : ok;
    },
  };
  engine = new ReplicationEngine({
    upstreamUrl: pg.url({ database: 'durable_b' }),
    store,
    logger: silentLogger(),
    metrics: createMetrics(),
    durability: gate,
  });
  try {
    await engine.start();
    await pg.query('INSERT INTO t VALUES (0, $1)', ['first'], 'durable_b');
    const first = await insertPosition();
    await waitFor('first write confirmed', async () => (await confirmed('durable_b')) >= first, 30_000);
    heldAt = await confirmed('durable_b');
    for (let i = 1; i <= 50; i++) await pg.query('INSERT INTO t VALUES ($1, $2)', [i, `v${i}`], 'durable_b');
    const target = await insertPosition();
    await waitFor(
      'applied',
      () => engine?.appliedLsn() !== undefined && engine.appliedLsn() >= target,
      30_000,
    );
    // Keepalives, idle positions and status updates go on meanwhile: none may move the slot.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await confirmed('durable_b'), heldAt, 'nothing confirmed past the gate');
    heldAt = undefined;
    engine.confirmChanged();
    await waitFor('confirmed once durable', async () => (await confirmed('durable_b')) >= target, 30_000);
  } finally {
    await engine.stop();
    sync.close();
    store.close();
  }
});
