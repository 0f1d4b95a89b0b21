/**
 * An object-store snapshot replaced while an edge downloads it (src/nats/snapshots.ts
 * `downloadSnapshot`): the hub's put purges the old object's chunks once the
 * new one is live, and the object store's reader of the old chunks then waits
 * for messages that no longer exist. The download must start over on the new
 * object instead of waiting out its idle limit (a new edge then took a
 * snapshot of upstream of its own: nats-edge-boot's CI failure).
 * Real nats-server -js, real Postgres, real SQLite replicas.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import Database from 'better-sqlite3';
import { silentLogger } from '../src/log.js';
import { createMetrics } from '../src/metrics.js';
import { downloadSnapshot, publishSnapshot, snapshotBucket, snapshotStore } from '../src/nats/snapshots.js';
import { changesSubject, encodeHeader } from '../src/nats/wire-format.js';
import { ReplicaStore } from '../src/replica/store.js';
import { ReplicationEngine } from '../src/replication/engine.js';
import { parseLsn } from '../src/replication/lsn.js';
import { type NatsInstance, startPostgresAndNats } from './helpers/nats.js';
import type { PostgresInstance } from './helpers/postgres.js';
import { byPgNames } from './helpers/replica-views.js';
import { waitFor } from './helpers/wait.js';

let pg: PostgresInstance;
let nats: NatsInstance;
let nc: NatsConnection;
let dir: string;

before(async () => {
  [pg, nats] = await startPostgresAndNats();
  nc = await connect({ servers: nats.url });
  dir = mkdtempSync(join(tmpdir(), 'outpost-snap-replaced-'));
});

after(async () => {
  await nc?.close();
  await nats?.cleanup();
  await pg?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a snapshot replaced during its download: the edge downloads the new one, whole', async () => {
  const db = 'replaced';
  await pg.query(`CREATE DATABASE ${db}`);
  await pg.query(
    `CREATE TABLE items (id int4 PRIMARY KEY, v text);
     INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 2000) g;`,
    [],
    db,
  );
  const stream = 'REPLACED';
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: stream, subjects: [changesSubject(stream)] });
  const hubPath = join(dir, 'hub.db');
  const hub = ReplicaStore.open(hubPath);
  const engine = new ReplicationEngine({
    upstreamUrl: pg.url({ database: db }),
    store: hub,
    logger: silentLogger(),
    metrics: createMetrics(),
  });
  const heartbeat = async () => {
    const h = headers();
    for (const [k, v] of encodeHeader({ kind: 'hb', lsn: hub.appliedLsn(), time: Date.now() })) h.set(k, v);
    await jetstream(nc).publish(changesSubject(stream), new Uint8Array(0), { headers: h });
  };
  const publish = async () => {
    await heartbeat();
    const p = await publishSnapshot({ nc, stream, replicaPath: hubPath, logger: silentLogger() });
    assert.ok(p, 'published');
    return p;
  };
  try {
    await engine.start();
    await publish();
    // What a reader of the first object meets when the hub's next put lands
    // between its reading the object's info and its chunks: the chunks purged.
    const os = await snapshotStore(nc, stream, false);
    const old = await os.info('replica');
    assert.ok(old);
    await jsm.streams.purge(`OBJ_${snapshotBucket(stream)}`, {
      filter: `$O.${snapshotBucket(stream)}.C.${old.nuid}`,
    });
    const path = join(dir, 'edge.db');
    const download = downloadSnapshot(nc, stream, path);
    download.catch(() => {});
    // The download has the first object's info (its file is created after that).
    await waitFor('the download to start', () => existsSync(path));

    await pg.query(`UPDATE items SET v = 'after the first snapshot' WHERE id % 7 = 0`, [], db);
    const target = parseLsn(
      (await pg.query<{ l: string }>('SELECT pg_current_wal_insert_lsn()::text AS l', [], db)).rows[0]?.l ??
        '0/0',
    );
    await waitFor('the update applied to the hub', () => hub.appliedLsn() >= target, 30_000);
    const newer = await publish();
    assert.notEqual(newer.revision, old.revision);

    const label = await download;
    assert.ok(label, 'downloaded');
    assert.equal(label.revision, newer.revision, 'the download is of the object that replaced the first');
    assert.equal(label.lsn, newer.lsn);
    assert.equal(label.seq, newer.seq);
    const edge = new Database(path, { readonly: true });
    try {
      const upstream = (
        await pg.query<{ id: number; v: string }>('SELECT id, v FROM items ORDER BY id', [], db)
      ).rows;
      assert.deepEqual(
        byPgNames(edge).prepare('SELECT id, v FROM "public.items" ORDER BY id').all(),
        upstream,
      );
      const meta = edge.prepare(`SELECT value FROM _outpost_meta WHERE key = ?`).pluck();
      assert.equal(meta.get('nats_seq'), String(newer.seq));
      assert.equal(meta.get('source'), 'nats');
    } finally {
      edge.close();
    }
  } finally {
    await engine.stop();
    hub.close();
  }
});
