/**
 * A restarted hub (`outpost publish`, issue 18) after JetStream's duplicate
 * window has passed: dedup by Nats-Msg-Id no longer hides a republished
 * message, so only the hub's own skip (it reads the stream's last message at
 * start and leaves out what is there already) keeps each transaction once.
 * The streams here get a short duplicate window (the hub takes an existing
 * stream as it is). Real Postgres, real nats-server, the hub as a real
 * process (dist/cli.js).
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { jetstream, jetstreamManager, StorageType } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import Database from 'better-sqlite3';
import { changeStreamConfig } from '../src/nats/connection.js';
import { type Lsn, parseLsn } from '../src/replication/lsn.js';
import { type NatsCluster, startCluster } from './helpers/nats-cluster.js';
import { changesRows, describeTx, insertedIds, readStream, transactions } from './helpers/nats-stream.js';
import type { HubProcess } from './helpers/outpost.js';
import { byPgNames } from './helpers/replica-views.js';
import { waitFor } from './helpers/wait.js';

let cluster: NatsCluster;
let nc: NatsConnection;

before(async () => {
  cluster = await startCluster({
    db: 'hubrestart',
    stream: 'RESTART',
    setup: `CREATE TABLE kill_t (id int PRIMARY KEY, v text); CREATE TABLE repub_t (id int PRIMARY KEY, v text);`,
  });
  nc = await cluster.connectNats();
});

after(async () => {
  await nc?.close().catch(() => {});
  await cluster?.stop();
});

interface HubStatus {
  replication: { state: string; slot: string; appliedLsn: string };
  nats: { durableLsn: string; lastSeq: number; skippedTransactions: number; skippedParts: number };
}
const hubStatus = async (hub: HubProcess) => (await hub.status()) as unknown as HubStatus;

/** The stream as the hub would create it, with a duplicate window of `windowMs`. */
async function addStream(name: string, windowMs: number): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ ...changeStreamConfig(name), duplicate_window: windowMs * 1_000_000 });
}

/**
 * Waits until JetStream has forgotten every message id published so far on a
 * stream with this duplicate window: a probe stream with the same window is
 * sent one id until it is stored again. (NATS drops ids on a timer of its
 * own, a little after the window: a fixed sleep would not say it happened.)
 */
async function pastDuplicateWindow(windowMs: number): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const name = `PROBE${Date.now()}`;
  await jsm.streams.add({
    name,
    subjects: [`${name}.probe`],
    storage: StorageType.Memory,
    duplicate_window: windowMs * 1_000_000,
  });
  try {
    assert.equal((await js.publish(`${name}.probe`, 'x', { msgID: 'probe' })).duplicate, false);
    await waitFor('the duplicate window to pass', async () => {
      return !(await js.publish(`${name}.probe`, 'x', { msgID: 'probe' })).duplicate;
    });
  } finally {
    await jsm.streams.delete(name);
  }
}

/** Waits until the hub has JetStream's acknowledgement for everything upstream committed so far. */
async function published(hub: HubProcess, timeoutMs = 90_000): Promise<HubStatus> {
  const target = await cluster.currentLsn();
  return waitFor(
    `hub published everything\n${hub.output().slice(-4000)}`,
    async () => {
      const s = await hubStatus(hub).catch(() => undefined);
      return s && parseLsn(s.nats.durableLsn) >= target ? s : undefined;
    },
    timeoutMs,
  );
}

async function insert(table: string, from: number, n: number): Promise<void> {
  await cluster.query(
    `INSERT INTO ${table} SELECT g, repeat('k', 200) FROM generate_series($1::int, $2::int) g`,
    [from, from + n - 1],
  );
}

async function dropSlots(): Promise<void> {
  await waitFor('no walsender on the slots', async () =>
    (
      await cluster.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_replication_slots WHERE active')
    ).every((r) => r.n === 0),
  );
  await cluster.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots');
}

test('hub SIGKILLed mid-stream and restarted past the duplicate window: no duplicate, no gap', async () => {
  const stream = 'KILL';
  await addStream(stream, 200);
  const start = () =>
    cluster.startHub({
      stream,
      replica: join(cluster.dir, 'kill-hub.db'),
      args: ['--snapshot-interval', '0'],
    });
  let hub = await start();
  try {
    await hub.ready();
    // Large transactions (several parts each) and small ones, while the hub is killed.
    let next = 1;
    const writes = (async () => {
      for (let i = 0; i < 12; i++) {
        const n = i % 3 === 0 ? 8000 : 40;
        await insert('kill_t', next, n);
        next += n;
      }
    })();
    const jsm = await jetstreamManager(nc);
    const lastSeq = async () => (await jsm.streams.info(stream)).state.last_seq;
    await waitFor('some messages published', async () => (await lastSeq()) >= 3, 60_000);
    assert.equal(await hub.stop('SIGKILL'), 'SIGKILL');
    const killedAt = await lastSeq();
    await writes;
    // A republished message would now be stored again.
    await pastDuplicateWindow(200);
    hub = await start();
    const st = await published(hub);
    // What the restart found in the stream already (depends on where the kill fell).
    console.log(
      `# killed at seq ${killedAt}; restarted hub skipped ${st.nats.skippedTransactions} txs, ${st.nats.skippedParts} parts`,
    );
    const ids = insertedIds(transactions(await readStream(nc, stream)), 'kill_t');
    assert.equal(ids.length, next - 1, 'every row once');
    assert.deepEqual(
      ids,
      Array.from({ length: next - 1 }, (_, i) => i + 1),
    );
    assert.equal((await cluster.slots()).length, 1);
    assert.deepEqual(cluster.incidents, []);
  } finally {
    await hub.stop();
    await dropSlots();
  }
});

test('a hub restarted past the duplicate window behind what the stream holds republishes nothing: each transaction once, in order', async () => {
  const stream = 'REPUB';
  const windowMs = 1000;
  await addStream(stream, windowMs);
  const replica = join(cluster.dir, 'repub-hub.db');
  const start = () => cluster.startHub({ stream, replica, args: ['--snapshot-interval', '0'] });
  let hub = await start();
  try {
    await hub.ready();
    await insert('repub_t', 1, 10);
    await published(hub);
    // Keep the hub's position P: its replica file and a copy of its slot (confirmed at P).
    // A clean stop confirms everything committed and acknowledged.
    const { slot } = (await hubStatus(hub)).replication;
    assert.equal(await hub.stop(), 0);
    for (const suffix of ['', '-wal']) {
      if (existsSync(`${replica}${suffix}`)) copyFileSync(`${replica}${suffix}`, `${replica}.at-p${suffix}`);
    }
    await cluster.query(`SELECT pg_copy_logical_replication_slot($1, 'repub_at_p')`, [slot]);
    const [p] = await cluster.query<{ lsn: string }>(
      'SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1',
      [slot],
    );
    const positionP: Lsn = parseLsn(p?.lsn ?? '0/0');

    // Transactions after P, small and multi-part, all acknowledged by JetStream.
    hub = await start();
    await hub.ready();
    let next = 11;
    const afterP = 8;
    for (let i = 0; i < afterP; i++) {
      const n = i % 4 === 0 ? 8000 : 25;
      await insert('repub_t', next, n);
      next += n;
    }
    await published(hub);
    assert.equal(await hub.stop('SIGKILL'), 'SIGKILL');

    // Now the state of a hub that crashed after JetStream acknowledged those transactions but
    // before its SQLite commit and its confirmation upstream: replica and slot back at P.
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${replica}${suffix}`, { force: true });
    for (const suffix of ['', '-wal']) {
      if (existsSync(`${replica}.at-p${suffix}`))
        copyFileSync(`${replica}.at-p${suffix}`, `${replica}${suffix}`);
    }
    await waitFor('the killed hub released its slot', async () => {
      const [r] = await cluster.query<{ active: boolean }>(
        'SELECT active FROM pg_replication_slots WHERE slot_name = $1',
        [slot],
      );
      return r?.active === false;
    });
    await cluster.query('SELECT pg_drop_replication_slot($1)', [slot]);
    await cluster.query(`SELECT pg_copy_logical_replication_slot('repub_at_p', $1)`, [slot]);
    await cluster.query(`SELECT pg_drop_replication_slot('repub_at_p')`);
    const [restored] = await cluster.slots();
    assert.equal(parseLsn(restored?.confirmed ?? '0/0'), positionP, 'slot back at P');

    // Dedup no longer covers any of them: the hub must skip them by itself.
    await pastDuplicateWindow(windowMs);
    hub = await start();
    await hub.ready();
    await insert('repub_t', next, 5);
    next += 5;
    const st = await published(hub);
    assert.ok(
      st.nats.skippedTransactions >= afterP,
      `upstream sent the ${afterP} transactions after P again; the hub skipped ${st.nats.skippedTransactions}`,
    );

    const txs = transactions(await readStream(nc, stream));
    // The first batch, the transactions after P, the one after the restart: each once (the
    // others carry the DDL hook's messages).
    const writes = txs.filter(changesRows);
    assert.equal(writes.length, 1 + afterP + 1, txs.map(describeTx).join('\n'));
    assert.deepEqual(
      insertedIds(txs, 'repub_t'),
      Array.from({ length: next - 1 }, (_, i) => i + 1),
    );
    // And the hub's own replica took them again from upstream (nothing lost there either).
    await waitFor('hub replica holds every row', async () => {
      const s = await hubStatus(hub);
      return parseLsn(s.replication.appliedLsn) >= parseLsn(s.nats.durableLsn);
    });
    const db = new Database(replica, { readonly: true, fileMustExist: true });
    try {
      const r = byPgNames(db).prepare('SELECT count(*) AS n, max(id) AS m FROM "public.repub_t"').get() as {
        n: number;
        m: number;
      };
      assert.deepEqual({ n: Number(r.n), m: Number(r.m) }, { n: next - 1, m: next - 1 });
    } finally {
      db.close();
    }
    assert.equal((await cluster.slots()).length, 1);
    assert.deepEqual(cluster.incidents, []);
  } finally {
    await hub.stop();
    await dropSlots();
  }
});
