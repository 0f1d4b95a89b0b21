/**
 * Edges (issue 18): an Outpost with --nats follows the hub's JetStream change
 * stream instead of a slot of its own. Real Postgres, real nats-server.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { jetstream, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { connect, headers } from '@nats-io/transport-node';
import type { Client } from 'pg';
import { natsConfig } from '../src/config.js';
import { silentLogger } from '../src/log.js';
import { createMetrics } from '../src/metrics.js';
import { NatsFollower } from '../src/nats/follower.js';
import { changesSubject, encodeHeader } from '../src/nats/wire-format.js';
import { ReplicaStore } from '../src/replica/store.js';
import { ReplicationEngine } from '../src/replication/engine.js';
import { startHubInProcess } from './helpers/hub-in-process.js';
import { type NatsInstance, startNats, startPostgresAndNats } from './helpers/nats.js';
import {
  connectThrough,
  eventually,
  lastRoute,
  localQuery,
  type OutpostProcess,
  runCli,
  startOutpost,
} from './helpers/outpost.js';
import type { PostgresInstance } from './helpers/postgres.js';
import { byPgNames } from './helpers/replica-views.js';
import { waitFor } from './helpers/wait.js';

let pg: PostgresInstance;
let nats: NatsInstance;
let dir: string;

before(async () => {
  [pg, nats] = await startPostgresAndNats();
  dir = mkdtempSync(join(tmpdir(), 'outpost-edge-'));
});

after(async () => {
  await Promise.all([pg?.stop(), nats?.cleanup()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

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

/** The real hub (`outpost publish`, src/commands/publish.ts) in this process. */
async function startHub(db: string, stream: string) {
  const upstream = pg.url({ database: db });
  const replica = join(dir, `${db}-hub.db`);
  return (await startHubInProcess({ upstream, nats: nats.url, stream, replica })).hub;
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
  const hub = await startHub(db, 'F1');
  await pg.query(`INSERT INTO t VALUES (101, 'before edge', 0)`, [], db);
  const edge = edgeEngine(db, 'F1', 'e1');
  await edge.engine.start();
  assert.equal(edge.engine.status().source, 'nats');
  assert.equal(edge.store.getMeta('source'), 'nats');
  // Only the hub's slot: the edge's temporary one went with its copy.
  const slots = await pg.query<{ slot_name: string }>(
    'SELECT slot_name FROM pg_replication_slots WHERE database = current_database()',
    [],
    db,
  );
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
  // The hub publishes a transaction before its own SQLite commit: the edge may hold it first.
  await waitFor(
    'edge and hub caught up',
    () =>
      rows(edge.store, 'public.t').length === want.length &&
      JSON.stringify(rows(edge.store, 'public.t')) === JSON.stringify(rows(hub.store, 'public.t')),
  );
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

// ---- edges as the real `outpost` command (dist/cli.js) ----------------------

function edgeArgs(stream: string, consumer: string, extra: string[] = []): string[] {
  return ['--nats', nats.url, '--stream', stream, '--nats-consumer', consumer, '--workers', '0', ...extra];
}

async function currentLsn(db: string): Promise<bigint> {
  const r = await pg.query<{ l: string }>('SELECT pg_current_wal_insert_lsn()::text AS l', [], db);
  const [hi, lo] = (r.rows[0]?.l ?? '0/0').split('/').map((h) => BigInt(`0x${h}`));
  return ((hi ?? 0n) << 32n) + (lo ?? 0n);
}

function lsnOf(text: unknown): bigint {
  const [hi, lo] = String(text)
    .split('/')
    .map((h) => BigInt(`0x${h}`));
  return ((hi ?? 0n) << 32n) + (lo ?? 0n);
}

/** Waits until the edge reflects everything upstream has written so far. */
async function caughtUp(edge: OutpostProcess, db: string, timeoutMs = 30_000): Promise<void> {
  const target = await currentLsn(db);
  await eventually(
    async () => {
      const s = await edge.status();
      return s.replication.state === 'streaming' && lsnOf(s.replication.appliedLsn) >= target;
    },
    timeoutMs,
    `edge at ${target}`,
  );
}

/**
 * The table through the edge, answered locally (waited for: a restarted edge
 * forwards while it looks up the role's privileges), and upstream's answer.
 */
async function sameThroughEdge(c: Client, db: string, sql: string): Promise<void> {
  const local = await localQuery(c, { text: sql, rowMode: 'array' });
  const direct = await pg.connect({ database: db });
  try {
    const want = await direct.query({ text: sql, rowMode: 'array' });
    assert.deepEqual(local.rows, want.rows);
    assert.deepEqual(
      local.fields.map((f) => [f.name, f.dataTypeID]),
      want.fields.map((f) => [f.name, f.dataTypeID]),
    );
  } finally {
    await direct.end();
  }
}

test('1 hub + 2 edges: one slot, local reads, read-your-writes, schema change, SIGKILL, NATS restart', async () => {
  const db = 'fanout';
  const stream = 'FAN';
  await pg.query(`CREATE DATABASE ${db}`);
  await pg.query(
    `CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, qty int, price numeric(10,2));
     INSERT INTO items SELECT g, 'item ' || g, g % 13, g * 0.25 FROM generate_series(1, 500) g;`,
    [],
    db,
  );
  const hub = await startHub(db, stream);
  const url = pg.url({ database: db });
  const start = (name: string, extra: string[] = []) =>
    startOutpost({
      upstream: url,
      replica: join(dir, `${db}-${name}.db`),
      args: edgeArgs(stream, name, extra),
    });
  // a: a read after its own write waits up to 10 s for the stream (1 s by default: a loaded CI
  // machine can take longer from upstream through the hub). b: a --max-lag small enough to see
  // passed below, large enough for a hub heartbeat late by a few seconds under load.
  const edges = [await start('a', ['--ryw-timeout', '10']), await start('b', ['--max-lag', '4'])];
  const clients: Client[] = [];
  try {
    await Promise.all(edges.map((e) => e.ready()));
    // Bootstrapped, and still exactly one slot upstream: the hub's.
    const slots = await pg.query<{ slot_name: string }>(
      'SELECT slot_name FROM pg_replication_slots WHERE database = current_database()',
      [],
      db,
    );
    assert.deepEqual(
      slots.rows.map((r) => r.slot_name),
      [hub.store.getMeta('slot')],
    );
    const s0 = await edges[0]!.status();
    assert.equal(s0.replication.source, 'nats');
    assert.equal((s0.replication.nats as { stream: string }).stream, stream);
    assert.match(String(s0.replication.appliedLsn), /^[0-9A-F]+\/[0-9A-F]+$/);
    const cli = await runCli([
      'status',
      '--upstream',
      url,
      '--replica',
      join(dir, `${db}-a.db`),
      '--http',
      '127.0.0.1:1',
    ]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /^source: +NATS stream FAN, seq \d+ \(an edge: no slot of its own\)$/m);
    assert.doesNotMatch(cli.stdout, /slot upstream: missing/);
    const metrics = (await edges[0]!.http('/metrics')).body;
    assert.match(metrics, /^outpost_nats_edge_stream_seq \d+/m);

    // Writes upstream show up on both edges, served locally.
    await pg.query(
      `UPDATE items SET qty = qty + 100 WHERE id <= 50; DELETE FROM items WHERE id > 490`,
      [],
      db,
    );
    for (const e of edges) {
      await caughtUp(e, db);
      const c = await connectThrough(e.port, { database: db });
      clients.push(c);
      await sameThroughEdge(c, db, 'SELECT * FROM items ORDER BY id');
    }
    const [ca, cb] = clients as [Client, Client];

    // Read-your-writes through an edge: the write goes upstream, the read sees it.
    for (let i = 0; i < 20; i++) {
      await ca.query('INSERT INTO items VALUES ($1, $2, 1, 9.99)', [1000 + i, `ryw ${i}`]);
      const r = await ca.query('SELECT name FROM items WHERE id = $1', [1000 + i]);
      assert.deepEqual(r.rows, [{ name: `ryw ${i}` }]);
    }
    assert.equal(await lastRoute(ca), 'local');

    // A schema change propagates (through the hub's DDL hook and the edges' resync).
    await pg.query(
      `ALTER TABLE items ADD COLUMN note text DEFAULT 'n/a'; UPDATE items SET note = 'x' WHERE id = 1`,
      [],
      db,
    );
    for (const c of clients) {
      await eventually(
        async () => {
          try {
            await c.query('SELECT note FROM items WHERE id = 1');
            return (await lastRoute(c)) === 'local';
          } catch {
            return false;
          }
        },
        30_000,
        'new column served locally',
      );
      await sameThroughEdge(c, db, 'SELECT * FROM items ORDER BY id');
    }

    // SIGKILL edge a at random moments while upstream writes; restart it each time.
    let writing = true;
    let n = 0;
    const writer = (async () => {
      const w = await pg.connect({ database: db });
      try {
        while (writing) {
          n++;
          await w.query('BEGIN');
          await w.query('INSERT INTO items (id, name, qty) VALUES ($1, $2, $3)', [5000 + n, `w${n}`, n]);
          await w.query('UPDATE items SET qty = qty + 1 WHERE id = $1', [1 + (n % 400)]);
          if (n % 5 === 0) await w.query('DELETE FROM items WHERE id = $1', [5000 + n - 3]);
          await w.query('COMMIT');
        }
      } finally {
        await w.end();
      }
    })();
    await ca.end().catch(() => {});
    for (let round = 0; round < 3; round++) {
      await new Promise((r) => setTimeout(r, 200 + Math.floor(Math.random() * 800)));
      assert.equal(await edges[0]!.stop('SIGKILL'), 'SIGKILL');
      edges[0] = await start('a', ['--ryw-timeout', '10']);
      await edges[0].ready();
    }
    writing = false;
    await writer;
    assert.ok(n > 10, `only ${n} write transactions`);
    for (const e of edges) {
      await caughtUp(e, db);
      const c = await connectThrough(e.port, { database: db });
      await sameThroughEdge(c, db, 'SELECT * FROM items ORDER BY id');
      await c.end();
    }

    // NATS goes away: edges serve within --max-lag, then forward; back, they resume.
    await nats.kill();
    const served = await cb.query('SELECT count(*) FROM items');
    assert.ok(served.rows.length === 1);
    assert.equal(await lastRoute(cb), 'local');
    await eventually(
      async () => {
        await cb.query('SELECT count(*) FROM items');
        return (await lastRoute(cb)).startsWith('upstream');
      },
      20_000,
      'edge b forwards once past --max-lag',
    );
    await nats.restart();
    await pg.query(`INSERT INTO items (id, name) VALUES (99999, 'after restart')`, [], db);
    for (const e of edges) {
      await caughtUp(e, db, 60_000);
      const c = await connectThrough(e.port, { database: db });
      await eventually(
        async () => {
          await c.query('SELECT 1 FROM items WHERE id = 99999');
          return (await lastRoute(c)) === 'local';
        },
        20_000,
        'local again after NATS restart',
      );
      await sameThroughEdge(c, db, 'SELECT * FROM items ORDER BY id');
      await c.end();
    }
  } finally {
    for (const c of clients) await c.end().catch(() => {});
    await Promise.all(edges.map((e) => e.stop()));
    await hub.stop();
  }
});

test('follower: a stream that lost acknowledged messages and reused their sequences is followed on by LSN', async () => {
  const stream = 'REUSE';
  const nc = await connect({ servers: nats.url });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const create = () =>
    jsm.streams.add({ name: stream, subjects: [changesSubject(stream)], storage: StorageType.File });
  const hb = async (lsn: bigint) => {
    const h = headers();
    for (const [k, v] of encodeHeader({ kind: 'hb', lsn, time: Date.now() })) h.set(k, v);
    return (await js.publish(changesSubject(stream), new Uint8Array(0), { headers: h })).seq;
  };
  const follower = await NatsFollower.connect(
    { servers: [nats.url], stream, consumer: 'reuse' },
    silentLogger(),
  );
  try {
    await create();
    for (let i = 1n; i <= 5n; i++) await hb(i * 16n);
    // The replica took everything up to seq 5 (LSN 0/50); the stream is then rebuilt shorter.
    await jsm.streams.delete(stream);
    await create();
    assert.equal(await hb(0x60n), 1);
    assert.equal(await hb(0x70n), 2);
    const got: Array<[number, bigint]> = [];
    follower.start(6, {
      part: () => assert.fail('no transactions published'),
      heartbeat: (h) => got.push([h.seq, h.header.lsn]),
      appliedLsn: () => 0x50n,
      lost: (err) => assert.fail(err.message),
    });
    await waitFor('both new heartbeats', () => got.length >= 2);
    assert.deepEqual(got, [
      [1, 0x60n],
      [2, 0x70n],
    ]);
    // And on from there as the stream grows.
    assert.equal(await hb(0x80n), 3);
    await waitFor('third heartbeat', () => got.length >= 3);
    assert.deepEqual(got[2], [3, 0x80n]);
  } finally {
    await follower.stop();
    await nc.close();
  }
});

test('an edge started while NATS is down says so in /status and follows once it is back', async () => {
  const db = 'natsdown';
  const stream = 'DOWN';
  const nats2 = await startNats();
  await pg.query(`CREATE DATABASE ${db}`);
  await pg.query(`CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'one')`, [], db);
  const { hub } = await startHubInProcess({
    upstream: pg.url({ database: db }),
    nats: nats2.url,
    stream,
    replica: join(dir, `${db}-hub.db`),
    logger: silentLogger(),
  });
  const url = pg.url({ database: db });
  const replica = join(dir, `${db}-edge.db`);
  const args = ['--nats', nats2.url, '--stream', stream, '--nats-consumer', 'down', '--workers', '0'];
  let edge = await startOutpost({ upstream: url, replica, args });
  try {
    await edge.ready();
    await edge.stop();
    await nats2.stop();
    edge = await startOutpost({ upstream: url, replica, args });
    await eventually(
      async () => {
        try {
          const s = await edge.status();
          return (
            s.replication.state !== 'streaming' && /cannot reach NATS/.test(String(s.replication.lastError))
          );
        } catch {
          return false;
        }
      },
      20_000,
      '/status reporting NATS unreachable',
    );
    // Not following anything: reads go upstream meanwhile.
    const c = await connectThrough(edge.port, { database: db });
    await c.query('SELECT * FROM t');
    assert.match(await lastRoute(c), /^upstream/);
    await nats2.restart();
    await edge.ready(30_000);
    await pg.query(`INSERT INTO t VALUES (2, 'two')`, [], db);
    await caughtUp(edge, db);
    await sameThroughEdge(c, db, 'SELECT * FROM t ORDER BY id');
    await c.end();
  } finally {
    await edge.stop();
    await hub.stop();
    await nats2.cleanup();
  }
});

test('an edge killed during its own snapshot starts over cleanly and holds no slot', async () => {
  const db = 'bootkill';
  const stream = 'BOOT';
  await pg.query(`CREATE DATABASE ${db}`);
  await pg.query(
    `CREATE TABLE big (id int PRIMARY KEY, v text);
     INSERT INTO big SELECT g, md5(g::text) FROM generate_series(1, 200000) g;`,
    [],
    db,
  );
  const hub = await startHub(db, stream);
  const url = pg.url({ database: db });
  const replica = join(dir, `${db}-edge.db`);
  const args = edgeArgs(stream, 'boot');
  let edge = await startOutpost({ upstream: url, replica, args });
  try {
    await eventually(
      async () => {
        try {
          return (await edge.status()).replication.state === 'snapshot';
        } catch {
          return false;
        }
      },
      30_000,
      'edge copying',
    );
    await edge.stop('SIGKILL');
    await pg.query(`UPDATE big SET v = 'changed' WHERE id % 1000 = 0`, [], db);
    edge = await startOutpost({ upstream: url, replica, args });
    await edge.ready(120_000);
    await caughtUp(edge, db);
    const c = await connectThrough(edge.port, { database: db });
    await sameThroughEdge(c, db, `SELECT count(*), count(*) FILTER (WHERE v = 'changed') FROM big`);
    await sameThroughEdge(c, db, 'SELECT * FROM big WHERE id % 997 = 0 ORDER BY id');
    await c.end();
    // The killed copy's temporary slot went with its connection.
    await eventually(
      async () =>
        (
          await pg.query<{ n: string }>(
            'SELECT count(*)::text AS n FROM pg_replication_slots WHERE database = current_database()',
            [],
            db,
          )
        ).rows[0]?.n === '1',
      10_000,
      'one slot left',
    );
  } finally {
    await edge.stop();
    await hub.stop();
  }
});
