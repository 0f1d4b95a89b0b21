/**
 * Edges (issue 18): an Outpost with --nats follows the hub's JetStream change
 * stream instead of a slot of its own. Real Postgres, real nats-server.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { natsConfig } from '../src/config.js';
import { silentLogger } from '../src/log.js';
import { createMetrics } from '../src/metrics.js';
import { ReplicaStore } from '../src/replica/store.js';
import { ReplicationEngine } from '../src/replication/engine.js';
import { ContractHub } from './helpers/contract-hub.js';
import { type NatsInstance, startNats } from './helpers/nats.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';
import { byPgNames } from './helpers/replica-views.js';

let pg: PostgresInstance;
let nats: NatsInstance;
let dir: string;

before(async () => {
  [pg, nats] = await Promise.all([startPostgres(), startNats()]);
  dir = mkdtempSync(join(tmpdir(), 'outpost-edge-'));
});

after(async () => {
  await Promise.all([pg?.stop(), nats?.cleanup()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function waitFor<T>(
  what: string,
  fn: () => T | Promise<T>,
  timeoutMs = 20_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function rows(store: ReplicaStore, table: string): unknown[] {
  return byPgNames(store.reader)
    .prepare(`SELECT * FROM "${table}" ORDER BY id`)
    .safeIntegers(true)
    .all()
    .map((r) => JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));
}

async function upstreamRows(db: string, table: string): Promise<unknown[]> {
  const c = await pg.connect({ database: db });
  try {
    // Same shape as the replica's rows: text of every column, int8 as string.
    const r = await c.query(`SELECT * FROM ${table} ORDER BY id`);
    return r.rows.map((row) => JSON.stringify(row));
  } finally {
    await c.end();
  }
}

async function hubEngine(db: string, stream: string) {
  const hub = await ContractHub.start(nats.url, stream);
  const store = ReplicaStore.open(join(dir, `${db}-hub.db`));
  const engine = new ReplicationEngine({
    upstreamUrl: pg.url({ database: db }),
    store,
    logger: silentLogger(),
    metrics: createMetrics(),
    tap: hub,
  });
  await engine.start();
  return {
    hub,
    engine,
    store,
    async stop() {
      await engine.stop();
      await hub.close();
      store.close();
    },
  };
}

function edgeEngine(db: string, stream: string, name: string) {
  const store = ReplicaStore.open(join(dir, `${db}-${name}.db`));
  const follow = natsConfig(nats.url, stream, name, store.path);
  assert.ok(follow);
  const engine = new ReplicationEngine({
    upstreamUrl: pg.url({ database: db }),
    store,
    logger: silentLogger(),
    metrics: createMetrics(),
    follow,
  });
  return { engine, store };
}

test('config: --nats, --stream and --nats-consumer', () => {
  assert.equal(natsConfig(undefined, undefined, undefined, 'x.db'), undefined);
  const c = natsConfig('nats://127.0.0.1:4222', undefined, undefined, 'x.db');
  assert.equal(c?.stream, 'OUTPOST');
  assert.deepEqual(c?.servers, ['nats://127.0.0.1:4222']);
  assert.match(c?.consumer ?? '', /^edge-[0-9a-f]{12}$/);
  // Stable for the same file, different for another.
  assert.equal(natsConfig('nats://h:1', 'S', undefined, 'x.db')?.consumer, c?.consumer);
  assert.notEqual(natsConfig('nats://h:1', 'S', undefined, 'y.db')?.consumer, c?.consumer);
  assert.deepEqual(natsConfig('a:1, b:2', 'S_1', 'me', 'x.db'), {
    servers: ['a:1', 'b:2'],
    stream: 'S_1',
    consumer: 'me',
  });
  assert.throws(() => natsConfig('http://x/y z', undefined, undefined, 'x.db'), /--nats must be/);
  assert.throws(() => natsConfig('nats://h:1', 'a.b', undefined, 'x.db'), /--stream/);
  assert.throws(() => natsConfig('nats://h:1', 'S', 'a b', 'x.db'), /--nats-consumer/);
});

test('an edge bootstraps by its own snapshot, follows the stream, and holds no slot', async () => {
  const db = 'follow1';
  await pg.query(`CREATE DATABASE ${db}`);
  await pg.query(
    `CREATE TABLE t (id int PRIMARY KEY, v text, n numeric);
     INSERT INTO t SELECT g, 'row ' || g, g * 1.5 FROM generate_series(1, 100) g;`,
    [],
    db,
  );
  const hub = await hubEngine(db, 'F1');
  await pg.query(`INSERT INTO t VALUES (101, 'before edge', 0)`, [], db);
  const edge = edgeEngine(db, 'F1', 'e1');
  await edge.engine.start();
  assert.equal(edge.engine.status().source, 'nats');
  assert.equal(edge.store.getMeta('source'), 'nats');
  // Only the hub's slot: the edge's temporary one went with its copy.
  const slots = await pg.query<{ slot_name: string }>('SELECT slot_name FROM pg_replication_slots');
  assert.deepEqual(
    slots.rows.map((r) => r.slot_name),
    [hub.store.getMeta('slot')],
  );
  await pg.query(
    `UPDATE t SET v = 'changed' WHERE id % 10 = 0;
     DELETE FROM t WHERE id % 7 = 0;
     INSERT INTO t SELECT g, repeat('x', 2000), g FROM generate_series(1000, 1600) g;`,
    [],
    db,
  );
  const want = await upstreamRows(db, 't');
  await waitFor('edge caught up', () => rows(edge.store, 'public.t').length === want.length);
  assert.deepEqual(rows(edge.store, 'public.t'), rows(hub.store, 'public.t'));
  // The stream position is stored with the data.
  assert.ok(Number(edge.store.getMeta('nats_seq')) > 0);
  // Heartbeats move the position when a write touches nothing replicated.
  await pg.query('CREATE TABLE other (x int); DROP TABLE other', [], db);
  const target = (await pg.query<{ l: string }>('SELECT pg_current_wal_insert_lsn()::text AS l', [], db))
    .rows[0]?.l;
  await waitFor('heartbeat position', () => {
    const [a, b] = (target ?? '0/0').split('/').map((h) => BigInt(`0x${h}`));
    return edge.engine.appliedLsn() >= ((a ?? 0n) << 32n) + (b ?? 0n);
  });
  await edge.engine.stop();
  edge.store.close();
  await hub.stop();
});
