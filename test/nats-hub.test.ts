/**
 * The NATS hub (`outpost publish`, issue 18) against a real Postgres and a
 * real nats-server: what it publishes (parts, self-contained transactions,
 * LSN headers, heartbeats), that it confirms upstream only what JetStream
 * acknowledged (NATS stopped and restarted). Restarts past the stream's
 * duplicate window: test/nats-hub-restart.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { PART_TARGET_BYTES } from '../src/nats/wire-format.js';
import { formatLsn, parseLsn } from '../src/replication/lsn.js';
import { startHubInProcess } from './helpers/hub-in-process.js';
import { type NatsInstance, startPostgresAndNats } from './helpers/nats.js';
import { describeTx, insertedIds, readStream, type Tx, transactions } from './helpers/nats-stream.js';
import { connectThrough, eventually, localQuery, startOutpost } from './helpers/outpost.js';
import type { PostgresInstance } from './helpers/postgres.js';
import { waitFor } from './helpers/wait.js';

let pg: PostgresInstance;
let nats: NatsInstance;
let nc: NatsConnection;
let dir: string;

before(async () => {
  [pg, nats] = await startPostgresAndNats();
  nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  dir = mkdtempSync(join(tmpdir(), 'outpost-nats-hub-'));
});

after(async () => {
  await nc?.close().catch(() => {});
  await nats?.cleanup();
  await pg?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function currentLsn(): Promise<bigint> {
  const r = await pg.query<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l');
  return parseLsn(r.rows[0]?.l ?? '0/0');
}

async function slots(): Promise<Array<{ slot_name: string; confirmed: string }>> {
  const r = await pg.query<{ slot_name: string; confirmed: string }>(
    'SELECT slot_name, confirmed_flush_lsn::text AS confirmed FROM pg_replication_slots',
  );
  return r.rows;
}

/** The real hub in this process (snapshots on a long interval: the tests publish them). */
const startHub = (stream: string, replica: string) =>
  startHubInProcess({ upstream: pg.url(), nats: nats.url, stream, replica, snapshotInterval: 3600 });

test('the hub publishes self-contained transactions, cut into parts, with LSN headers and heartbeats; one slot', async () => {
  await pg.query(
    `CREATE TABLE hub_a (id int PRIMARY KEY, v text); CREATE TABLE hub_b (id int PRIMARY KEY, w text)`,
  );
  const { hub, http } = await startHub('HUB1', join(dir, 'hub1.db'));
  try {
    await pg.query(`INSERT INTO hub_a SELECT g, 'a' || g FROM generate_series(1, 3) g`);
    // hub_a's Relation came with the previous transaction; this one must carry it again.
    await pg.query(`BEGIN; INSERT INTO hub_b VALUES (1, 'b'); UPDATE hub_a SET v = 'x' WHERE id = 1; COMMIT`);
    // ~2.4 MB of changes: several parts.
    await pg.query(`INSERT INTO hub_a SELECT g, repeat('y', 100) FROM generate_series(4, 20003) g`);
    const target = await currentLsn();
    await eventually(
      async () => hub.publisher.durable() >= target,
      60_000,
      'publisher durable past the writes',
    );

    const msgs = await readStream(nc, 'HUB1');
    const txs = transactions(msgs);
    assert.equal(txs.length, 3, txs.map(describeTx).join('\n'));
    const [t1, t2, t3] = txs as [Tx, Tx, Tx];
    assert.equal(t1.parts.length, 1);
    assert.deepEqual(insertedIds([t1], 'hub_a'), [1, 2, 3]);
    const t2Relations = t2.records.flatMap((r) => (r.tag === 'relation' ? [r.name] : []));
    assert.deepEqual(t2Relations.sort(), ['hub_a', 'hub_b']);
    assert.ok(t3.parts.length >= 4, `a 2.4 MB transaction in ${t3.parts.length} parts`);
    for (const p of t3.parts) assert.ok(p.size <= PART_TARGET_BYTES + 1024, `part of ${p.size} bytes`);
    const ids = insertedIds([t3], 'hub_a');
    assert.equal(ids.length, 20000);
    assert.equal(new Set(ids).size, 20000);

    // Heartbeats follow while idle, at or past the last commit, and repeat (liveness for edges)
    // even with nothing new upstream: two after the last transaction.
    const lastCommit = t3.records[t3.records.length - 1];
    assert.ok(lastCommit?.tag === 'commit');
    const t3End = t3.parts[t3.parts.length - 1]?.seq ?? 0;
    const hbs = await waitFor('two heartbeats after the last transaction', async () => {
      const after = (await readStream(nc, 'HUB1')).filter((m) => m.header.kind === 'hb');
      return after.filter((m) => m.seq > t3End).length >= 2 ? after.map((m) => m.header) : undefined;
    });
    const lastHb = hbs[hbs.length - 1];
    assert.ok(lastHb?.kind === 'hb' && lastHb.lsn >= lastCommit.endLsn);
    for (let i = 1; i < hbs.length; i++) {
      assert.ok(
        (hbs[i] as { lsn: bigint }).lsn >= (hbs[i - 1] as { lsn: bigint }).lsn,
        'heartbeat LSNs go forward',
      );
    }

    // Labels for snapshots: the highest seq whose transaction the replica at an LSN holds.
    const t3LastSeq = t3.parts[t3.parts.length - 1]?.seq ?? 0;
    assert.ok((hub.publisher.seqCoveredBy(lastCommit.endLsn) ?? 0) >= t3LastSeq);
    // Everything before t3's first part (t2, or a heartbeat after it), not t3.
    assert.equal(hub.publisher.seqCoveredBy(t3.finalLsn), (t3.parts[0]?.seq ?? 0) - 1);
    assert.ok((hub.publisher.seqCoveredBy(t3.finalLsn) ?? 0) >= (t2.parts[0]?.seq ?? 1));

    // One slot upstream, confirmed up to the published position.
    await eventually(
      async () => {
        const s = await slots();
        return s.length === 1 && parseLsn(s[0]?.confirmed ?? '0/0') >= lastCommit.endLsn;
      },
      20_000,
      'one slot confirmed past the last commit',
    );

    type Status = {
      role: string;
      replication: { appliedLsn: string; state: string };
      nats: {
        connected: boolean;
        stream: string;
        lastSeq: number;
        lastLsn: string;
        unacked: number;
        confirmLsn: string;
      };
    };
    // Nothing waits for an acknowledgement between heartbeats (one may be in flight at any moment).
    const status = await waitFor('no message awaiting its acknowledgement', async () => {
      const s = (await (await fetch(`http://127.0.0.1:${http}/status`)).json()) as Status;
      return s.nats.unacked === 0 ? s : undefined;
    });
    assert.equal(status.role, 'hub');
    assert.equal(status.replication.state, 'streaming');
    assert.ok(parseLsn(status.replication.appliedLsn) >= lastCommit.endLsn);
    assert.equal(status.nats.connected, true);
    assert.equal(status.nats.stream, 'HUB1');
    assert.ok(status.nats.lastSeq >= t3LastSeq);
    assert.ok(parseLsn(status.nats.confirmLsn) >= lastCommit.endLsn);
    // The hub's object-store snapshot is labelled from its acknowledgements.
    const snap = await hub.snapshots?.publishNow();
    assert.ok(snap, 'snapshot published');
    assert.ok(snap.lsn >= lastCommit.endLsn, `snapshot at ${formatLsn(snap.lsn)}`);
    assert.ok(snap.seq >= t3LastSeq && snap.seq <= (await lastSeq('HUB1')), `snapshot seq ${snap.seq}`);
    const metrics = await waitFor('metrics with nothing awaiting an acknowledgement', async () => {
      const m = await (await fetch(`http://127.0.0.1:${http}/metrics`)).text();
      return /^outpost_nats_publish_unacked_messages 0$/m.test(m) ? m : undefined;
    });
    assert.match(metrics, /^outpost_nats_published_messages_total\{kind="tx"\} \d+$/m);
    assert.match(metrics, /^outpost_nats_publisher_connected 1$/m);
  } finally {
    await hub.stop();
    await pg.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots`);
  }
});

test('NATS stopped: the slot is not confirmed past what JetStream acknowledged; NATS back: publishing resumes, nothing lost or repeated', async () => {
  await pg.query(`CREATE TABLE hub_out (id int PRIMARY KEY, v text)`);
  const { hub, http } = await startHub('HUB2', join(dir, 'hub2.db'));
  try {
    await pg.query(`INSERT INTO hub_out SELECT g, 'v' FROM generate_series(1, 100) g`);
    let target = await currentLsn();
    await eventually(async () => hub.publisher.durable() >= target, 30_000, 'first rows published');
    await eventually(
      async () => parseLsn((await slots())[0]?.confirmed ?? '0/0') >= hub.publisher.durable(),
      20_000,
      'slot confirmed',
    );

    await nats.stop();
    for (let i = 0; i < 20; i++) {
      await pg.query(`INSERT INTO hub_out SELECT g, 'w' FROM generate_series($1::int, $1::int + 49) g`, [
        101 + i * 50,
      ]);
    }
    target = await currentLsn();
    // SQLite applies them (the engine runs on) but the slot stays where JetStream left it.
    await eventually(
      async () => parseLsn(hub.engine.status().appliedLsn) >= target,
      30_000,
      'hub applied the writes into SQLite',
    );
    await new Promise((r) => setTimeout(r, 1500));
    const confirmed = parseLsn((await slots())[0]?.confirmed ?? '0/0');
    assert.ok(confirmed <= hub.publisher.durable());
    const down = (await (await fetch(`http://127.0.0.1:${http}/status`)).json()) as {
      nats: { connected: boolean; unacked: number };
    };
    assert.equal(down.nats.connected, false);
    assert.ok(down.nats.unacked > 0);

    // The replication connection drops meanwhile: the engine restarts from what JetStream has, so
    // upstream sends the outage's transactions again; they are in the outbox already, not queued twice.
    await pg.query(
      `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE active_pid IS NOT NULL`,
    );
    await eventually(
      async () => hub.publisher.status().skippedTransactions >= 20,
      30_000,
      'resent transactions recognised as queued',
    );

    await nats.restart();
    await eventually(
      async () => hub.publisher.durable() >= target,
      60_000,
      'publishing resumed after NATS came back',
    );
    await eventually(
      async () => parseLsn((await slots())[0]?.confirmed ?? '0/0') >= target,
      20_000,
      'slot confirmed after NATS came back',
    );
    const txs = transactions(await readStream(nc, 'HUB2'));
    // The first transaction written while NATS was down: the slot stayed before it.
    const firstDown = txs.find((tx) => insertedIds([tx], 'hub_out')[0] === 101);
    assert.ok(firstDown);
    assert.ok(
      confirmed < firstDown.finalLsn,
      `slot confirmed ${formatLsn(confirmed)}, past ${formatLsn(firstDown.finalLsn)} written while NATS was down`,
    );
    const ids = insertedIds(txs, 'hub_out');
    assert.deepEqual(
      ids,
      Array.from({ length: 1100 }, (_, i) => i + 1),
    );
    assert.equal((await slots()).length, 1);
  } finally {
    await hub.stop();
    await pg.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots`);
  }
});

async function lastSeq(stream: string): Promise<number> {
  const jsm = await jetstreamManager(nc);
  return (await jsm.streams.info(stream)).state.last_seq;
}

test('an edge follows the stream of the real hub and ends identical to upstream; one slot', async () => {
  await pg.query(`CREATE TABLE hub_edge (id int PRIMARY KEY, v text, n numeric, t timestamptz)`);
  await pg.query(
    `INSERT INTO hub_edge SELECT g, 'before ' || g, g * 1.5, '2024-01-01'::timestamptz + g * interval '1 hour' FROM generate_series(1, 500) g`,
  );
  const { hub } = await startHub('HUB4', join(dir, 'hub4.db'));
  const edge = await startOutpost({
    upstream: pg.url(),
    replica: join(dir, 'edge4.db'),
    args: ['--nats', nats.url, '--stream', 'HUB4'],
  });
  try {
    await edge.ready(60_000);
    await pg.query(`UPDATE hub_edge SET v = 'after' WHERE id % 7 = 0`);
    await pg.query(`DELETE FROM hub_edge WHERE id % 11 = 0`);
    await pg.query(
      `INSERT INTO hub_edge SELECT g, repeat('z', 300), g, now() FROM generate_series(501, 6000) g`,
    );
    const target = await currentLsn();
    await eventually(
      async () => parseLsn(String((await edge.status()).replication.appliedLsn)) >= target,
      60_000,
      'edge applied past the writes',
    );
    const sql = 'SELECT id, v, n, t FROM hub_edge ORDER BY id';
    const viaEdge = await connectThrough(edge.port, { types: { getTypeParser: () => (v: string) => v } });
    try {
      const direct = await pg.connect();
      try {
        // Waits for the local answer: a new edge forwards while it looks up the role's privileges.
        const a = await localQuery(viaEdge, sql);
        const b = await direct.query({ text: sql, types: { getTypeParser: () => (v: string) => v } });
        assert.equal(a.rows.length, b.rows.length);
        assert.deepEqual(a.rows, b.rows);
      } finally {
        await direct.end();
      }
    } finally {
      await viaEdge.end();
    }
    // The hub's slot is the only one: the edge holds none.
    const s = await slots();
    assert.deepEqual(
      s.map((r) => r.slot_name),
      [hub.engine.status().slot],
    );
  } finally {
    await edge.stop();
    await hub.stop();
    await pg.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots`);
  }
});

test('a hub whose replica is remade past what the stream holds reports the gap (edges must re-bootstrap)', async () => {
  await pg.query(`CREATE TABLE hub_gap (id int PRIMARY KEY)`);
  const first = await startHub('HUB5', join(dir, 'hub5.db'));
  await pg.query(`INSERT INTO hub_gap VALUES (1)`);
  const t1 = await currentLsn();
  await eventually(async () => first.hub.publisher.durable() >= t1, 30_000, 'first hub published');
  assert.equal(first.hub.publisher.status().streamGap, undefined);
  await first.hub.stop();
  // The replica file and its slot are gone; changes meanwhile are in no stream.
  await pg.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots`);
  await pg.query(`INSERT INTO hub_gap VALUES (2)`);
  // Past the second insert (the first hub, stopped before it, heard of nothing
  // after it; its heartbeats may have carried WAL positions past t1).
  const t2 = parseLsn(
    (await pg.query<{ l: string }>('SELECT pg_current_wal_insert_lsn()::text AS l')).rows[0]?.l ?? '0/0',
  );
  const second = await startHub('HUB5', join(dir, 'hub5-new.db'));
  try {
    const gap = second.hub.publisher.status().streamGap;
    assert.ok(gap, 'gap reported');
    assert.ok(parseLsn(gap.from) < t2 && parseLsn(gap.to) >= t2, `gap ${gap.from}..${gap.to}`);
    const s = (await (await fetch(`http://127.0.0.1:${second.http}/status`)).json()) as {
      nats: { streamGap?: unknown };
    };
    assert.ok(s.nats.streamGap);
  } finally {
    await second.hub.stop();
    await pg.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots`);
  }
});

test('a row larger than NATS max_payload stalls publishing visibly, and nothing past it is confirmed upstream', async () => {
  await pg.query(`CREATE TABLE hub_wide (id int PRIMARY KEY, v text)`);
  const { hub, http } = await startHub('HUB6', join(dir, 'hub6.db'));
  try {
    // ~1.6 MB of text in one row: one pgoutput message larger than the default 1 MiB max_payload.
    await pg.query(
      `INSERT INTO hub_wide SELECT 1, string_agg(md5(g::text), '') FROM generate_series(1, 50000) g`,
    );
    // The insert position, not pg_current_wal_lsn(): with the test server's
    // synchronous_commit=off the written position can still be short of the
    // commit record just made.
    const target = parseLsn(
      (await pg.query<{ l: string }>('SELECT pg_current_wal_insert_lsn()::text AS l')).rows[0]?.l ?? '0/0',
    );
    let pendingSeen: string | undefined;
    await eventually(
      async () => parseLsn(hub.engine.status().appliedLsn) >= target,
      30_000,
      'hub applied the row into SQLite',
    );
    await eventually(
      async () => {
        const s = (await (await fetch(`http://127.0.0.1:${http}/status`)).json()) as {
          nats: { lastError?: string; unacked: number };
        };
        // Between retries (backoff) the part may be in flight again: read the
        // waiting position in the same turn as the error it belongs to.
        pendingSeen = hub.publisher.status().pendingLsn;
        return /max_payload/.test(s.nats.lastError ?? '') && s.nats.unacked > 0 && pendingSeen !== undefined;
      },
      20_000,
      'status names max_payload',
    );
    // The transaction waiting is the wide row's; the slot stays at or before its commit.
    const pending = parseLsn(pendingSeen ?? '0/0');
    assert.ok(pending > 0n && pending < target, `pending ${formatLsn(pending)} target ${formatLsn(target)}`);
    await new Promise((r) => setTimeout(r, 1000));
    const confirmed = parseLsn((await slots())[0]?.confirmed ?? '0/0');
    assert.ok(
      confirmed <= pending,
      `slot confirmed ${formatLsn(confirmed)} past the unpublished ${formatLsn(pending)}`,
    );
    assert.ok(hub.publisher.durable() <= pending);
  } finally {
    await hub.stop();
    await pg.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots`);
  }
});

test('a hub started while NATS is down waits for it (no slot used meanwhile), then publishes', async () => {
  await pg.query(`CREATE TABLE hub_late (id int PRIMARY KEY)`);
  await nats.stop();
  const { hub, http } = await startHubInProcess({
    upstream: pg.url(),
    nats: nats.url,
    stream: 'HUB7',
    replica: join(dir, 'hub7.db'),
    started: false,
  });
  try {
    await new Promise((r) => setTimeout(r, 1000));
    const s = (await (await fetch(`http://127.0.0.1:${http}/status`)).json()) as {
      replication: { state: string };
      nats: { connected: boolean; state: string };
    };
    assert.equal(s.nats.connected, false);
    assert.equal(s.nats.state, 'starting');
    assert.equal(s.replication.state, 'starting');
    assert.equal((await fetch(`http://127.0.0.1:${http}/readyz`)).status, 503);
    assert.equal((await slots()).length, 0);
    await nats.restart();
    await hub.replicationStarted;
    await pg.query(`INSERT INTO hub_late VALUES (1), (2)`);
    const target = await currentLsn();
    await eventually(async () => hub.publisher.durable() >= target, 30_000, 'published once NATS came');
    assert.deepEqual(insertedIds(transactions(await readStream(nc, 'HUB7')), 'hub_late'), [1, 2]);
  } finally {
    if (!nats.running) await nats.restart();
    await hub.stop();
    await pg.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots`);
  }
});
