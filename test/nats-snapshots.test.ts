/**
 * Object-store snapshots (src/nats/snapshots.ts, src/nats/bootstrap.ts) against a
 * real nats-server -js, a real Postgres and real SQLite replicas: the hub's replica
 * (made by the ordinary engine) is published, fetched into a new edge file,
 * replaced, and installed in place into an open edge replica whose stream
 * position left the retention.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { natsConfig } from '../src/config.js';
import { createLogger, silentLogger } from '../src/log.js';
import { createMetrics } from '../src/metrics.js';
import { rebootstrapFromSnapshot } from '../src/nats/bootstrap.js';
import {
  coveredSeq,
  downloadSnapshot,
  fetchLatestSnapshot,
  latestSnapshotInfo,
  publishSnapshot,
  retentionCheck,
  SnapshotError,
  SnapshotSchedule,
  snapshotStore,
} from '../src/nats/snapshots.js';
import { changesSubject, encodeHeader, type StreamHeader } from '../src/nats/wire-format.js';
import { ReplicaStore } from '../src/replica/store.js';
import { ReplicationEngine } from '../src/replication/engine.js';
import { formatLsn, type Lsn, parseLsn } from '../src/replication/lsn.js';
import { startHubInProcess } from './helpers/hub-in-process.js';
import { type NatsInstance, startPostgresAndNats } from './helpers/nats.js';
import type { PostgresInstance } from './helpers/postgres.js';
import { byPgNames } from './helpers/replica-views.js';
import { waitFor } from './helpers/wait.js';

let pg: PostgresInstance;
let nats: NatsInstance;
let nc: NatsConnection;
let jsm: JetStreamManager;
let dir: string;

before(async () => {
  [pg, nats] = await startPostgresAndNats();
  nc = await connect({ servers: nats.url });
  jsm = await jetstreamManager(nc);
  dir = mkdtempSync(join(tmpdir(), 'outpost-nats-snap-'));
});

after(async () => {
  await nc?.close();
  await nats?.cleanup();
  await pg?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function addStream(name: string): Promise<void> {
  await jsm.streams.add({ name, subjects: [changesSubject(name)], duplicate_window: 600_000_000_000 });
}

/** Publishes a message of the stream's format (what the hub's publisher sends). */
async function put(stream: string, h: StreamHeader): Promise<number> {
  const hdrs = headers();
  for (const [k, v] of encodeHeader(h)) hdrs.set(k, v);
  const ack = await jetstream(nc).publish(changesSubject(stream), new Uint8Array(0), { headers: hdrs });
  return ack.seq;
}

const hb = (lsn: string): StreamHeader => ({ kind: 'hb', lsn: parseLsn(lsn), time: Date.now() });
const part = (lsn: string, i: number, last: boolean): StreamHeader => ({
  kind: 'tx',
  finalLsn: parseLsn(lsn),
  part: i,
  last,
  time: Date.now(),
});

async function upstreamItems(db: string): Promise<Array<{ id: number; v: string }>> {
  const r = await pg.query<{ id: number; v: string }>('SELECT id, v FROM items ORDER BY id', [], db);
  return r.rows;
}

function replicaItems(store: ReplicaStore): Array<{ id: number; v: string }> {
  return byPgNames(store.reader).prepare('SELECT id, v FROM "public.items" ORDER BY id').all() as Array<{
    id: number;
    v: string;
  }>;
}

test('coveredSeq: the last message every message up to which a replica at an LSN contains', async () => {
  const s = 'COVER';
  await addStream(s);
  assert.equal(await coveredSeq(jsm, s, parseLsn('0/100')), 0, 'an empty stream: nothing to skip');
  await put(s, hb('0/10')); // 1
  await put(s, part('0/20', 0, false)); // 2
  await put(s, part('0/20', 1, false)); // 3
  await put(s, part('0/20', 2, true)); // 4
  await put(s, hb('0/30')); // 5
  await put(s, part('0/40', 0, true)); // 6
  await put(s, part('0/50', 0, false)); // 7: the rest of this tx is not published yet
  const at = (lsn: string) => coveredSeq(jsm, s, parseLsn(lsn));
  assert.equal(await at('0/5'), 0);
  assert.equal(await at('0/10'), 1, 'a heartbeat at the LSN is contained');
  assert.equal(await at('0/20'), 1, "a transaction whose commit record starts at the replica's end is not");
  assert.equal(await at('0/21'), 4, 'a multi-part transaction counts once its last part is in');
  assert.equal(await at('0/30'), 5);
  assert.equal(await at('0/45'), 6);
  assert.equal(await at('0/51'), 6, 'never in the middle of a transaction: back to before its part 0');
  await put(s, part('0/50', 1, true)); // 8
  assert.equal(await at('0/51'), 8);
  assert.equal(await at('1/0'), 8);
  // Earlier messages aged out and the first one left is past the LSN: unknown, not guessed.
  await jsm.streams.purge(s, { seq: 3 });
  assert.equal(await at('0/15'), undefined);
  assert.equal(await at('0/21'), 4);
});

test('hub publishes its replica; a new edge fetches it; a replacement; an edge out of retention re-bootstraps in place', async () => {
  const db = 'snapdb';
  await pg.query(`CREATE DATABASE ${db}`);
  await pg.query(
    `CREATE TABLE items (id int4 PRIMARY KEY, v text);
     INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 2000) g;`,
    [],
    db,
  );
  const stream = 'SNAP';
  await addStream(stream);
  const hubPath = join(dir, 'hub.db');
  const hubStore = ReplicaStore.open(hubPath);
  const engine = new ReplicationEngine({
    upstreamUrl: pg.url({ database: db }),
    store: hubStore,
    logger: silentLogger(),
    metrics: createMetrics(),
  });
  const edgePath = join(dir, 'edge.db');
  let edge: ReplicaStore | undefined;
  try {
    await engine.start();
    assert.equal(hubStore.getMeta('slot')?.startsWith('outpost_'), true);
    // The position in the file (the engine's in-memory one may be an idle position not written yet).
    const start = hubStore.appliedLsn();
    // The stream holds what the hub has published so far: a heartbeat at its position.
    await put(stream, hb(formatLsn(start)));

    assert.equal(await latestSnapshotInfo(nc, stream), null, 'no bucket yet: no snapshot');
    // A copy left by a hub killed while publishing (its pid gone) is removed; a live process's is not.
    const stale = `${hubPath}.snapshot-${2 ** 22 + 17}-deadbeef`;
    const live = `${hubPath}.snapshot-${process.ppid}-cafebabe`;
    writeFileSync(stale, 'x');
    writeFileSync(live, 'x');
    const first = await publishSnapshot({ nc, stream, replicaPath: hubPath, logger: silentLogger() });
    assert.equal(existsSync(stale), false);
    assert.equal(existsSync(live), true);
    rmSync(live);
    assert.ok(first);
    assert.equal(first.seq, 1);
    assert.ok(
      first.lsn >= start && first.lsn <= engine.appliedLsn(),
      'labelled with the LSN the copy reflects',
    );
    assert.equal(first.format, 2);
    assert.equal(first.database, db);
    assert.match(first.systemId, /^[0-9]+$/);
    assert.deepEqual(await latestSnapshotInfo(nc, stream), {
      lsn: first.lsn,
      seq: 1,
      format: 2,
      systemId: first.systemId,
      database: db,
      size: first.size,
      revision: first.revision,
      mtime: first.mtime,
    });
    const obj = await (await snapshotStore(nc, stream, false)).info('replica');
    assert.equal(obj?.headers?.get('Outpost-Lsn'), formatLsn(first.lsn), 'the label is in the headers too');
    assert.equal(obj?.headers?.get('Outpost-Seq'), '1');

    // A new edge: the file appears whole, marked as following the stream.
    const got = await fetchLatestSnapshot(nc, stream, edgePath, { systemId: first.systemId, database: db });
    assert.ok(got);
    assert.equal(got.lsn, first.lsn);
    assert.equal(existsSync(`${edgePath}.download`), false);
    assert.equal(statSync(edgePath).mode & 0o777, 0o600);
    edge = ReplicaStore.open(edgePath);
    assert.equal(edge.snapshotComplete(), true);
    assert.equal(edge.getMeta('slot'), undefined, 'hub-only meta stripped');
    assert.equal(edge.getMeta('publication_owned'), undefined);
    assert.equal(
      edge.getMeta('publication'),
      'outpost',
      'which tables the stream carries travels with the data',
    );
    assert.equal(edge.getMeta('source'), 'nats');
    assert.equal(edge.getMeta('nats_stream'), stream);
    assert.equal(edge.getMeta('nats_seq'), '1');
    assert.equal(edge.appliedLsn(), first.lsn);
    assert.deepEqual(replicaItems(edge), await upstreamItems(db));
    assert.equal(
      hubStore.getMeta('slot')?.startsWith('outpost_'),
      true,
      "the hub's own replica keeps its slot",
    );

    // A transaction whose commit record starts at the snapshot's end is not in it.
    await put(stream, part(formatLsn(first.lsn), 0, true)); // 2
    assert.equal(await coveredSeq(jsm, stream, first.lsn), 1);

    // Upstream moves on; the next snapshot replaces the object (old chunks purged).
    await pg.query(
      `INSERT INTO items SELECT g, 'new ' || g FROM generate_series(2001, 3000) g;
       UPDATE items SET v = 'changed' WHERE id % 7 = 0; DELETE FROM items WHERE id % 11 = 0;`,
      [],
      db,
    );
    const want = await upstreamItems(db);
    await waitFor('hub applied', () => replicaItems(hubStore).length === want.length);
    const moved = hubStore.appliedLsn();
    await put(stream, hb(formatLsn(moved))); // 3
    const second = await publishSnapshot({ nc, stream, replicaPath: hubPath, logger: silentLogger() });
    assert.ok(second);
    assert.equal(second.seq, 3);
    assert.ok(second.lsn >= moved);
    const os = await snapshotStore(nc, stream, false);
    assert.equal((await os.list()).length, 1, 'one object, replaced');
    const status = await os.status();
    assert.ok(status.size < second.size + 64 * 1024, `old chunks purged (bucket ${status.size} B)`);

    // The edge fell behind the stream's retention (still at seq 1, messages up to 3 gone).
    await jsm.streams.purge(stream, { keep: 0 });
    const ret = await retentionCheck(jsm, stream, Number(edge.getMeta('nats_seq')));
    assert.deepEqual(ret, { lost: true, firstSeq: 4, lastSeq: 3 });
    assert.equal((await retentionCheck(jsm, stream, 3)).lost, false);

    const events: string[] = [];
    const openEdge = edge;
    const label = await rebootstrapFromSnapshot(nc, stream, openEdge, {
      expect: { systemId: first.systemId, database: db },
      onReset: () => {
        events.push(`reset complete=${openEdge.snapshotComplete()}`);
        // Readers still see the old replica until the swap commits.
        events.push(`rows=${replicaItems(openEdge).length}`);
      },
      onChanged: () => events.push(`changed complete=${openEdge.snapshotComplete()}`),
    });
    assert.ok(label);
    assert.deepEqual(events, ['reset complete=false', 'rows=2000', 'changed complete=true']);
    assert.equal(existsSync(`${edgePath}.download`), false);
    assert.equal(openEdge.appliedLsn(), second.lsn);
    assert.equal(openEdge.getMeta('nats_seq'), '3');
    assert.equal(openEdge.getMeta('source'), 'nats');
    assert.equal(openEdge.getMeta('slot'), undefined);
    assert.deepEqual(replicaItems(openEdge), want, 'the open replica now holds the new snapshot');
    const t = openEdge.findTable('public', 'items');
    assert.ok(t);
    const idx = openEdge.db
      .prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?`)
      .pluck()
      .all(t.sqliteName);
    assert.deepEqual(idx, [`${t.sqliteName}__outpost_key`], 'key index rebuilt');

    // A snapshot of another upstream is refused and leaves nothing behind.
    const other = join(dir, 'other.db');
    await assert.rejects(
      downloadSnapshot(nc, stream, other, { systemId: '42' }),
      (err: unknown) => err instanceof SnapshotError && /not this upstream/.test(err.message),
    );
    assert.equal(existsSync(other), false);
    assert.equal(await fetchLatestSnapshot(nc, 'NOSUCH', join(dir, 'none.db')), null);
    assert.equal(existsSync(join(dir, 'none.db')), false);
  } finally {
    await engine.stop();
    edge?.close();
    hubStore.close();
  }
});

test('SnapshotSchedule publishes at once, then on its interval; a round that cannot be labelled is retried', async () => {
  const db = 'scheddb';
  await pg.query(`CREATE DATABASE ${db}`);
  await pg.query(
    'CREATE TABLE items (id int4 PRIMARY KEY, v text); INSERT INTO items VALUES (1, $$a$$)',
    [],
    db,
  );
  const stream = 'SCHED';
  await addStream(stream);
  const path = join(dir, 'sched.db');
  const store = ReplicaStore.open(path);
  const engine = new ReplicationEngine({
    upstreamUrl: pg.url({ database: db }),
    store,
    logger: silentLogger(),
    metrics: createMetrics(),
  });
  let answer: number | undefined;
  const asked: Lsn[] = [];
  const sched = new SnapshotSchedule({
    nc,
    stream,
    replicaPath: path,
    logger: silentLogger(),
    intervalS: 1,
    retryS: 0.2,
    seqFor: (lsn) => {
      asked.push(lsn);
      return answer;
    },
  });
  try {
    await engine.start();
    sched.start();
    await waitFor('a refused round', () => asked.length >= 2);
    assert.equal(sched.status().published, 0);
    assert.equal(await latestSnapshotInfo(nc, stream), null);
    answer = 7;
    await waitFor('two snapshots', () => sched.status().published >= 2);
    const st = sched.status();
    assert.equal(st.lastSeq, 7);
    assert.equal((await latestSnapshotInfo(nc, stream))?.seq, 7);
  } finally {
    await sched.stop();
    await engine.stop();
    store.close();
  }
});

test('an edge engine starts from the object-store snapshot, follows, and re-bootstraps from the newest one when out of retention', async () => {
  const db = 'objboot';
  await pg.query(`CREATE DATABASE ${db}`);
  await pg.query(
    `CREATE TABLE t (id int PRIMARY KEY, v text, n numeric);
     INSERT INTO t SELECT g, 'row ' || g, g * 1.5 FROM generate_series(1, 3000) g;`,
    [],
    db,
  );
  const stream = 'OBJ';
  // The real hub (outpost publish, in process); its schedule is driven by publishNow() here.
  const { hub } = await startHubInProcess({
    upstream: pg.url({ database: db }),
    nats: nats.url,
    stream,
    replica: join(dir, 'objboot-hub.db'),
    snapshotInterval: 3600,
    logger: silentLogger(),
    started: false,
  });
  const hubStore = hub.store;
  const lines: string[] = [];
  const logger = createLogger({ level: 'info', format: 'json', write: (l) => lines.push(l) });
  const edgeStore = ReplicaStore.open(join(dir, 'objboot-edge.db'));
  const follow = natsConfig(nats.url, stream, 'objboot-edge', edgeStore.path);
  assert.ok(follow);
  const newEdge = () =>
    new ReplicationEngine({
      upstreamUrl: pg.url({ database: db }),
      store: edgeStore,
      logger,
      metrics: createMetrics(),
      follow,
    });
  let edge = newEdge();
  const installed = () => lines.filter((l) => l.includes('installed from the object-store snapshot')).length;
  const upstreamT = async () =>
    (await pg.query<{ id: number; v: string }>('SELECT id, v FROM t ORDER BY id', [], db)).rows;
  const edgeT = () =>
    byPgNames(edgeStore.reader).prepare('SELECT id, v FROM "public.t" ORDER BY id').all() as Array<{
      id: number;
      v: string;
    }>;
  /** The hub's replica holds everything upstream committed so far. */
  const hubCaughtUp = async () => {
    const want = JSON.stringify(await upstreamT());
    await waitFor('hub applied', () => {
      const t = hubStore.findTable('public', 't');
      const got = t
        ? hubStore.reader.prepare(`SELECT a1 AS id, a2 AS v FROM "${t.sqliteName}" ORDER BY a1`).all()
        : [];
      return JSON.stringify(got) === want;
    });
  };
  const publish = async () => {
    assert.ok(hub.snapshots);
    return hub.snapshots.publishNow();
  };
  try {
    await hub.replicationStarted;
    await pg.query(`UPDATE t SET v = 'before snapshot' WHERE id <= 10`, [], db);
    await hubCaughtUp();
    const first = await waitFor('a snapshot', publish);
    await pg.query(`INSERT INTO t VALUES (5001, 'after snapshot', 1)`, [], db);

    await edge.start();
    assert.equal(installed(), 1, 'bootstrapped from the object store');
    const slots = await pg.query<{ n: string }>(
      'SELECT count(*) AS n FROM pg_replication_slots WHERE database = $1',
      [db],
    );
    assert.equal(slots.rows[0]?.n, '1', "only the hub's slot");
    assert.equal(edgeStore.getMeta('source'), 'nats');
    assert.equal(edgeStore.getMeta('slot'), undefined);
    assert.equal(edgeStore.getMeta('publication_owned'), 'true');
    await waitFor(
      'edge caught up',
      async () => JSON.stringify(edgeT()) === JSON.stringify(await upstreamT()),
    );
    await edge.stop();

    // The edge is down while the stream discards what it has not read.
    await pg.query(`DELETE FROM t WHERE id % 3 = 0; INSERT INTO t VALUES (5002, 'while down', 2)`, [], db);
    await hubCaughtUp();
    await jsm.streams.purge(stream);
    await pg.query(`UPDATE t SET v = 'after purge' WHERE id % 5 = 0`, [], db);
    await hubCaughtUp();
    await waitFor('hub position in its file', () => hubStore.appliedLsn() > first.lsn);
    const second = await waitFor('a snapshot labelled inside the retention', async () => {
      const s = await publish();
      const { state } = await jsm.streams.info(stream);
      return s && s.seq + 1 >= state.first_seq ? s : undefined;
    });
    assert.ok(Number(edgeStore.getMeta('nats_seq')) + 1 < (await jsm.streams.info(stream)).state.first_seq);

    edge = newEdge();
    await edge.start();
    await waitFor('re-bootstrapped', () => installed() === 2);
    await pg.query(`INSERT INTO t VALUES (5003, 'after re-bootstrap', 3)`, [], db);
    await waitFor(
      'edge caught up again',
      async () => JSON.stringify(edgeT()) === JSON.stringify(await upstreamT()),
    );
    assert.ok(Number(edgeStore.getMeta('nats_seq')) > second.seq);
    assert.ok(edgeStore.appliedLsn() > second.lsn);
  } finally {
    await edge.stop();
    await hub.stop();
    edgeStore.close();
  }
});
