/**
 * Read gathering on the replication connection (stream.ts GATHER_MS): a bulk
 * stream is read in bursts with short waits between them (fewer, larger
 * segments from the walsender), a trickle of small transactions never waits,
 * and the engine's backpressure pause holds through a gathering wait.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { parseLsn } from '../src/replication/lsn.js';
import { gatherMsFromEnv, ReplicationConnection } from '../src/replication/stream.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';
import { waitFor } from './helpers/wait.js';

let pg: PostgresInstance;
let serverVersion = 0;

before(async () => {
  pg = await startPostgres();
  await pg.query(
    `CREATE TABLE g (id int PRIMARY KEY, label text NOT NULL);
     CREATE PUBLICATION gather_pub FOR TABLE g;`,
  );
  serverVersion = Number(
    (await pg.query<{ v: string }>("SELECT current_setting('server_version_num') AS v")).rows[0]?.v,
  );
});

after(async () => {
  await pg?.stop();
});

/** A slot streaming from now on; counts the Insert messages ('I') it delivers, in order. */
async function follow(slot: string) {
  const repl = await ReplicationConnection.connect(pg.url());
  const { consistentPoint } = await repl.createSlot(slot, serverVersion, { temporary: true });
  const seen = { inserts: 0, commits: 0, lastWalEnd: 0n };
  repl.on('xlog', (m: { data: Buffer; walEnd: bigint }) => {
    if (m.data[0] === 0x49 /* I */) seen.inserts++;
    if (m.data[0] === 0x43 /* C */) seen.commits++;
    if (m.walEnd > seen.lastWalEnd) seen.lastWalEnd = m.walEnd;
  });
  repl.on('keepalive', (m: { walEnd: bigint; replyRequested: boolean }) => {
    if (m.replyRequested) repl.sendStatus(m.walEnd);
  });
  await repl.start(slot, consistentPoint, 'gather_pub');
  return { repl, seen };
}

test('a big transaction is read in bursts, every message delivered', async () => {
  const { repl, seen } = await follow('gather_big');
  try {
    await pg.query(`INSERT INTO g SELECT i, 'row ' || i FROM generate_series(1, 100000) i`);
    await waitFor('the big transaction', () => seen.commits === 1, 60_000);
    assert.equal(seen.inserts, 100_000);
    assert.ok(repl.gatherWaits > 0, 'a bulk stream waits to gather between bursts');
  } finally {
    await repl.close();
    await pg.query('TRUNCATE g');
  }
});

test('a trickle of small transactions is read at once (no gathering wait)', async () => {
  const { repl, seen } = await follow('gather_trickle');
  try {
    for (let i = 1; i <= 40; i++) {
      await pg.query('INSERT INTO g VALUES ($1, $2)', [i, `small ${i}`]);
      await waitFor('the small transaction', () => seen.commits === i);
    }
    assert.equal(seen.inserts, 40);
    assert.equal(repl.gatherWaits, 0);
  } finally {
    await repl.close();
    await pg.query('TRUNCATE g');
  }
});

test("the engine's pause holds through a gathering wait; resume delivers the rest", async () => {
  const { repl, seen } = await follow('gather_pause');
  try {
    await pg.query(`INSERT INTO g SELECT i, 'row ' || i FROM generate_series(1, 100000) i`);
    // Pause at the first gathering wait: its timer must not resume reading.
    await waitFor('a gathering wait', () => repl.gatherWaits > 0 || seen.commits > 0, 60_000);
    repl.pause();
    const held = seen.inserts;
    await new Promise((r) => setTimeout(r, 300));
    if (seen.commits === 0) assert.equal(seen.inserts, held, 'nothing is read while paused');
    repl.resume();
    await waitFor('the rest of the transaction', () => seen.commits === 1, 60_000);
    assert.equal(seen.inserts, 100_000);
    const end = (await pg.query<{ l: string }>('SELECT pg_current_wal_insert_lsn()::text AS l')).rows[0]?.l;
    assert.ok(seen.lastWalEnd > 0n && parseLsn(end ?? '0/0') >= seen.lastWalEnd);
  } finally {
    await repl.close();
    await pg.query('TRUNCATE g');
  }
});

test('OUTPOST_REPL_GATHER_MS parsing', () => {
  assert.equal(gatherMsFromEnv(undefined, 2), 2);
  assert.equal(gatherMsFromEnv('', 2), 2);
  assert.equal(gatherMsFromEnv('0', 2), 0);
  assert.equal(gatherMsFromEnv('5', 2), 5);
  assert.equal(gatherMsFromEnv('abc', 2), 2);
  assert.equal(gatherMsFromEnv('-1', 2), 2);
  assert.equal(gatherMsFromEnv('1000', 2), 100);
});
