/**
 * The hub publishes each transaction as the walsender sends it, not after its
 * own SQLite apply (which can stall: a resync waiting for open upstream write
 * transactions, a long COMMIT). Confirmation upstream still waits for both:
 * JetStream's ack and the hub's own commit.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { parseLsn } from '../src/replication/lsn.js';
import { startHubInProcess } from './helpers/hub-in-process.js';
import { type NatsInstance, startPostgresAndNats } from './helpers/nats.js';
import { insertedIds, readStream, transactions } from './helpers/nats-stream.js';
import { eventually } from './helpers/outpost.js';
import type { PostgresInstance } from './helpers/postgres.js';

let pg: PostgresInstance;
let nats: NatsInstance;
let nc: NatsConnection;
let dir: string;

before(async () => {
  [pg, nats] = await startPostgresAndNats();
  nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  dir = mkdtempSync(join(tmpdir(), 'outpost-nats-ahead-'));
});

after(async () => {
  await nc?.close().catch(() => {});
  await nats?.cleanup();
  await pg?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function insertLsn(): Promise<bigint> {
  const r = await pg.query<{ l: string }>('SELECT pg_current_wal_insert_lsn()::text AS l');
  return parseLsn(r.rows[0]?.l ?? '0/0');
}

async function confirmed(slot: string): Promise<bigint> {
  const r = await pg.query<{ c: string }>(
    'SELECT confirmed_flush_lsn::text AS c FROM pg_replication_slots WHERE slot_name = $1',
    [slot],
  );
  return parseLsn(r.rows[0]?.c ?? '0/0');
}

test('a hub whose own apply is held up (resync waiting) still publishes what follows; it confirms only after applying it', async () => {
  await pg.query(
    `CREATE TABLE ah_stale (id int PRIMARY KEY, v text);
     INSERT INTO ah_stale SELECT g, 'v' || g FROM generate_series(1, 10) g;
     CREATE TABLE ah_w (id int PRIMARY KEY);
     CREATE TABLE ah_other (id int PRIMARY KEY)`,
  );
  const { hub } = await startHubInProcess({
    upstream: pg.url(),
    nats: nats.url,
    stream: 'AHEAD',
    replica: join(dir, 'hub.db'),
  });
  const hubRows = (): number => {
    const t = hub.store.findTable('public', 'ah_w');
    assert.ok(t, 'ah_w in the hub replica');
    const r = hub.store.db.prepare(`SELECT count(*) AS n FROM "${t.sqliteName}"`).get() as { n: number };
    return r.n;
  };
  // A write transaction left open upstream: the resync's new slot waits for it.
  const blocker = await pg.connect();
  try {
    await eventually(
      async () => hub.store.findTable('public', 'ah_stale') !== undefined,
      30_000,
      'hub replica has ah_stale',
    );
    await blocker.query('BEGIN');
    await blocker.query('INSERT INTO ah_other VALUES (1)');
    // Needs a resync of ah_stale, which the hub's drain loop waits for (the rest of its stream queues).
    await pg.query('ALTER TABLE ah_stale ADD COLUMN extra int DEFAULT 7');
    await eventually(async () => hub.engine.status().staleTables === 1, 30_000, 'ah_stale stale');
    await pg.query('INSERT INTO ah_w SELECT g FROM generate_series(1, 3) g');
    const target = await insertLsn();

    await eventually(
      async () => hub.publisher.durable() >= target,
      30_000,
      'published past the insert while the hub has not applied it',
    );
    const ids = insertedIds(transactions(await readStream(nc, 'AHEAD')), 'ah_w');
    assert.deepEqual(ids, [1, 2, 3]);
    const slot = hub.engine.status().slot;
    assert.ok(slot);
    assert.ok(parseLsn(hub.engine.status().appliedLsn) < target, 'the hub itself has not applied it');
    assert.equal(hubRows(), 0, "not in the hub's replica yet");
    assert.ok((await confirmed(slot)) < target, 'not confirmed upstream before the hub applied it');

    // The resync completes, the hub applies what it queued and confirms it.
    await blocker.query('COMMIT');
    await eventually(
      async () => (await confirmed(slot)) >= target,
      60_000,
      'confirmed once applied, synced and acknowledged',
    );
    assert.equal(hubRows(), 3);
    assert.deepEqual(insertedIds(transactions(await readStream(nc, 'AHEAD')), 'ah_w'), [1, 2, 3]);
  } finally {
    await blocker.query('ROLLBACK').catch(() => {});
    await blocker.end();
    await hub.stop();
  }
});
