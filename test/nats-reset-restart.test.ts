/**
 * Issue 18: an edge restarted while it waits for the object-store snapshot
 * covering a stream reset ends identical to upstream. The restart goes the way
 * app.ts starts an edge (bootstrapBeforeOpen, then the engine on the reopened
 * file): the replica is `replacing` (unservable) across the restart, the older
 * snapshot it starts from leads it to the same reset again, and it waits again
 * until a snapshot covering the reset is published. Real Postgres, real
 * nats-server, the real hub (in process) and edge engine.
 *
 * The reset is published by the test while the hub is down (deterministic: the
 * hub's own reset is followed by its snapshot within milliseconds, too soon to
 * restart an edge in between). Rows written before it are then in no stream
 * message: the restarted hub resumes after a reset like after a heartbeat at its
 * LSN, so only the snapshot can carry them.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { jetstream } from '@nats-io/jetstream';
import { connect, headers } from '@nats-io/transport-node';
import type { Hub } from '../src/commands/publish.js';
import { natsConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { createMetrics } from '../src/metrics.js';
import { bootstrapBeforeOpen } from '../src/nats/bootstrap.js';
import { changesSubject, encodeHeader } from '../src/nats/wire-format.js';
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
  dir = mkdtempSync(join(tmpdir(), 'outpost-nats-reset-restart-'));
});

after(async () => {
  await nats?.cleanup();
  await pg?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const waitFor = <T>(what: string, fn: () => T | Promise<T>, timeoutMs = 60_000) =>
  waitForAtMost(what, fn, timeoutMs);

test('an edge restarted while it waits for the snapshot covering a reset ends identical to upstream', async () => {
  const db = 'reset_restart';
  const stream = 'RESETRESTART';
  await pg.query(`CREATE DATABASE ${db}`);
  await pg.query(
    `CREATE TABLE t (id int PRIMARY KEY, v text);
     INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 500) g;`,
    [],
    db,
  );
  const upstream = pg.url({ database: db });
  const currentLsn = async (): Promise<Lsn> =>
    parseLsn((await pg.query<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l', [], db)).rows[0]!.l);
  const upstreamRows = async () =>
    JSON.stringify(
      (await pg.query<{ id: string; v: string }>('SELECT id::text AS id, v FROM t ORDER BY t.id', [], db))
        .rows,
    );
  const hubReplica = join(dir, 'hub.db');
  const startHub = async () =>
    (
      await startHubInProcess({
        upstream,
        nats: nats.url,
        stream,
        replica: hubReplica,
        snapshotInterval: 3600,
      })
    ).hub;
  const edgePath = join(dir, 'edge.db');
  const follow = natsConfig(nats.url, stream, 'reset-restart-edge', edgePath);
  assert.ok(follow);
  const lines: string[] = [];
  const logger = createLogger({ level: 'info', format: 'json', write: (l) => lines.push(l) });
  const startEdge = async () => {
    // As app.ts does: a file without a complete replica may be replaced before it is opened.
    await bootstrapBeforeOpen({
      replicaPath: edgePath,
      upstreamUrl: upstream,
      follow,
      publicationOwned: true,
      logger,
    });
    const store = ReplicaStore.open(edgePath);
    const engine = new ReplicationEngine({
      upstreamUrl: upstream,
      store,
      logger,
      metrics: createMetrics(),
      follow,
    });
    // Resolves once following; with a reset ahead it may already be waiting again.
    await engine.start();
    return { store, engine };
  };
  const rows = (store: ReplicaStore) =>
    JSON.stringify(
      (
        byPgNames(store.reader).prepare('SELECT id, v FROM "public.t" ORDER BY id').all() as Array<{
          id: unknown;
          v: unknown;
        }>
      ).map((r) => ({ id: String(r.id), v: String(r.v) })),
    );
  const resetsSeen = () => lines.filter((l) => l.includes('the hub reset the stream')).length;
  const waiting = (e: ReplicationEngine) =>
    /waiting for its object-store snapshot/.test(e.status().lastError ?? '');

  let hub: Hub | undefined = await startHub();
  let edge: { store: ReplicaStore; engine: ReplicationEngine } | undefined;
  const nc = await connect({ servers: nats.url });
  try {
    await waitFor(
      'the hub snapshot of its start',
      async () => (await hub?.snapshots?.publishNow()) ?? undefined,
    );
    edge = await startEdge();
    await pg.query(`INSERT INTO t VALUES (1001, 'before the reset')`, [], db);
    await waitFor(
      'edge caught up',
      async () => edge !== undefined && rows(edge.store) === (await upstreamRows()),
    );

    // The hub goes down; rows committed now reach edges only through the snapshot after the reset.
    await hub.stop();
    hub = undefined;
    await pg.query(
      `INSERT INTO t VALUES (2001, 'only in the snapshot'), (2002, 'only in the snapshot');
       UPDATE t SET v = 'updated, only in the snapshot' WHERE id <= 20;
       DELETE FROM t WHERE id BETWEEN 100 AND 110;`,
      [],
      db,
    );
    // The insert position: under the test server's synchronous_commit=off,
    // pg_current_wal_lsn() can still be where the edge already is, and a
    // reset at or before an edge's position is rightly ignored by it.
    const resetLsn = parseLsn(
      (await pg.query<{ l: string }>('SELECT pg_current_wal_insert_lsn()::text AS l', [], db)).rows[0]!.l,
    );
    const h = headers();
    for (const [k, v] of encodeHeader({ kind: 'reset', lsn: resetLsn, time: Date.now(), snapshot: true }))
      h.set(k, v);
    const ack = await jetstream(nc).publish(changesSubject(stream), new Uint8Array(0), { headers: h });
    const first = edge;
    await waitFor('the edge waits for a snapshot covering the reset', () => waiting(first.engine));
    assert.equal(first.store.snapshotComplete(), false, 'reads are forwarded while it waits');
    assert.equal(first.store.getMeta('snapshot_state'), 'replacing');

    // Restarted while waiting: still unservable, and back to waiting for the same reset.
    await first.engine.stop();
    first.store.close();
    edge = undefined;
    const seenBefore = resetsSeen();
    edge = await startEdge();
    const second = edge;
    await waitFor(
      'the restarted edge waits again',
      () => waiting(second.engine) && resetsSeen() > seenBefore,
    );
    assert.equal(second.store.snapshotComplete(), false, 'still forwarded after the restart');
    assert.ok(second.store.appliedLsn() < resetLsn);

    // The hub returns (its slot intact: it skips what the reset covers) and publishes a snapshot past it.
    hub = await startHub();
    const running = hub;
    await waitFor('a snapshot covering the reset', async () => {
      const s = await running.snapshots?.publishNow();
      return s && s.seq >= ack.seq && s.lsn >= resetLsn ? s : undefined;
    });
    await pg.query(`INSERT INTO t VALUES (3001, 'after the hub returned')`, [], db);
    await waitFor('edge identical to upstream', async () => rows(second.store) === (await upstreamRows()));
    const end = await currentLsn();
    await waitFor('edge applied up to the end', () => second.store.appliedLsn() >= end);
    assert.equal(second.store.snapshotComplete(), true);
    assert.equal(rows(second.store), await upstreamRows());
    const slots = await pg.query<{ n: string }>(
      'SELECT count(*) AS n FROM pg_replication_slots WHERE database = $1',
      [db],
    );
    assert.equal(slots.rows[0]?.n, '1', "only the hub's slot");
  } finally {
    await edge?.engine.stop();
    edge?.store.close();
    await hub?.stop();
    await nc.close();
  }
});
