/**
 * Issue 18: a hub whose replica is remade past what its stream holds (a lost
 * slot, a new replica file) publishes a `reset` message; an edge that reads it
 * stops serving and applying, re-bootstraps (from the hub's object-store
 * snapshot covering the reset, or its own logical snapshot when the hub
 * publishes none) and ends identical to upstream, rows written while the hub
 * was down included. Real Postgres, real nats-server, the real hub and edge engine.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Hub } from '../src/commands/publish.js';
import { natsConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { createMetrics } from '../src/metrics.js';
import { ReplicaStore } from '../src/replica/store.js';
import { ReplicationEngine } from '../src/replication/engine.js';
import { type Lsn, parseLsn } from '../src/replication/lsn.js';
import { startHubInProcess } from './helpers/hub-in-process.js';
import { type NatsInstance, startPostgresAndNats } from './helpers/nats.js';
import type { PostgresInstance } from './helpers/postgres.js';
import { byPgNames } from './helpers/replica-views.js';
import { waitFor as waitForAtMost } from './helpers/wait.js';

let pg: PostgresInstance;
let nats: NatsInstance;
let dir: string;

before(async () => {
  [pg, nats] = await startPostgresAndNats();
  dir = mkdtempSync(join(tmpdir(), 'outpost-nats-reset-'));
});

after(async () => {
  await nats?.cleanup();
  await pg?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** This file's waits cover a hub restart and a re-bootstrap: a longer default. */
const waitFor = <T>(what: string, fn: () => T | Promise<T>, timeoutMs = 60_000) =>
  waitForAtMost(what, fn, timeoutMs);

async function startHub(db: string, stream: string, replica: string, interval: string): Promise<Hub> {
  const upstream = pg.url({ database: db });
  return (
    await startHubInProcess({ upstream, nats: nats.url, stream, replica, snapshotInterval: Number(interval) })
  ).hub;
}

async function scenario(o: { db: string; stream: string; interval: string; newReplicaFile: boolean }) {
  await pg.query(`CREATE DATABASE ${o.db}`);
  await pg.query(
    `CREATE TABLE t (id int PRIMARY KEY, v text);
     INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 500) g;`,
    [],
    o.db,
  );
  const currentLsn = async (): Promise<Lsn> =>
    parseLsn((await pg.query<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l', [], o.db)).rows[0]!.l);
  const upstreamRows = async () =>
    JSON.stringify(
      (await pg.query<{ id: string; v: string }>('SELECT id::text AS id, v FROM t ORDER BY t.id', [], o.db))
        .rows,
    );
  let hub = await startHub(o.db, o.stream, join(dir, `${o.db}-hub.db`), o.interval);
  const edgeStore = ReplicaStore.open(join(dir, `${o.db}-edge.db`));
  const follow = natsConfig(nats.url, o.stream, `${o.db}-edge`, edgeStore.path);
  assert.ok(follow);
  const lines: string[] = [];
  const edge = new ReplicationEngine({
    upstreamUrl: pg.url({ database: o.db }),
    store: edgeStore,
    logger: createLogger({ level: 'info', format: 'json', write: (l) => lines.push(l) }),
    metrics: createMetrics(),
    follow,
  });
  const edgeRows = () =>
    JSON.stringify(
      (
        byPgNames(edgeStore.reader).prepare('SELECT id, v FROM "public.t" ORDER BY id').all() as Array<{
          id: unknown;
          v: unknown;
        }>
      ).map((r) => ({ id: String(r.id), v: String(r.v) })),
    );
  let sampler: NodeJS.Timeout | undefined;
  const violations: string[] = [];
  let sawForwarding = false;
  try {
    await edge.start();
    await pg.query(`INSERT INTO t VALUES (1001, 'before the hub stopped')`, [], o.db);
    await waitFor('edge caught up', async () => edgeRows() === (await upstreamRows()));

    await hub.stop();
    await pg.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots`, [], o.db);
    await pg.query(
      `INSERT INTO t VALUES (2001, 'while the hub was down'), (2002, 'while the hub was down');
       UPDATE t SET v = 'updated while down' WHERE id <= 20;
       DELETE FROM t WHERE id BETWEEN 100 AND 110;`,
      [],
      o.db,
    );
    // The insert position: under the test server's synchronous_commit=off,
    // pg_current_wal_lsn() can still be short of the writes just made.
    const downLsn = parseLsn(
      (await pg.query<{ l: string }>('SELECT pg_current_wal_insert_lsn()::text AS l', [], o.db)).rows[0]!.l,
    );
    // From here on: whenever the edge could answer locally (snapshot complete) at a position
    // past the writes made while the hub was down, its replica must hold them.
    sampler = setInterval(() => {
      if (!edgeStore.snapshotComplete()) {
        sawForwarding = true;
        return;
      }
      if (edgeStore.appliedLsn() < downLsn) return;
      const r = byPgNames(edgeStore.reader)
        .prepare(
          `SELECT count(*) AS n FROM "public.t" WHERE id IN (2001, 2002) OR v LIKE 'updated while down%'`,
        )
        .get() as { n: number };
      if (Number(r.n) !== 22) violations.push(`at ${edgeStore.getMeta('applied_lsn')}: ${r.n} of 22 rows`);
    }, 5);

    hub = await startHub(
      o.db,
      o.stream,
      join(dir, o.newReplicaFile ? `${o.db}-hub-new.db` : `${o.db}-hub.db`),
      o.interval,
    );
    const reset = hub.publisher.status().reset;
    assert.ok(reset, 'the hub published a reset');
    await pg.query(`INSERT INTO t VALUES (3001, 'after the hub restarted')`, [], o.db);
    await pg.query(`UPDATE t SET v = v || ' later' WHERE id % 7 = 0`, [], o.db);
    await waitFor('edge identical to upstream', async () => edgeRows() === (await upstreamRows()));
    const end = await currentLsn();
    await waitFor('edge applied up to the end', () => edgeStore.appliedLsn() >= end);
    assert.equal(edgeRows(), await upstreamRows());
    assert.deepEqual(violations, []);
    assert.ok(sawForwarding, 'the edge stopped serving locally while it re-bootstrapped');
    assert.ok(
      lines.some((l) => l.includes('the hub reset the stream')),
      'the edge saw the reset',
    );
    const slots = await pg.query<{ n: string }>(
      'SELECT count(*) AS n FROM pg_replication_slots WHERE database = $1',
      [o.db],
    );
    assert.equal(slots.rows[0]?.n, '1', "only the hub's slot");
    return { lines, edgeStore };
  } finally {
    if (sampler) clearInterval(sampler);
    await edge.stop();
    await hub.stop();
    edgeStore.close();
  }
}

test('lost hub slot: the edge waits for the object-store snapshot covering the reset and ends identical', async () => {
  const { lines } = await scenario({
    db: 'reset_obj',
    stream: 'RESETOBJ',
    interval: '3600',
    newReplicaFile: false,
  });
  assert.ok(
    lines.filter((l) => l.includes('installed from the object-store snapshot')).length >= 1,
    're-bootstrapped from the object store',
  );
});

test('new hub replica file and no object-store snapshots: the edge takes its own snapshot and ends identical', async () => {
  const { lines } = await scenario({
    db: 'reset_own',
    stream: 'RESETOWN',
    interval: '0',
    newReplicaFile: true,
  });
  assert.equal(lines.filter((l) => l.includes('installed from the object-store snapshot')).length, 0);
  assert.ok(lines.some((l) => l.includes('follow: snapshot complete')));
});
