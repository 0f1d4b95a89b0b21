/**
 * SIGKILL at any moment — during the snapshot, in the middle of a large
 * transaction, anywhere in a stream of small ones (between a SQLite commit
 * and its acknowledgement included) — and a restart on the same file ends
 * with a replica identical to upstream: nothing lost, nothing applied twice.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { parseLsn } from '../src/replication/lsn.js';
import { type OutpostProcess, startOutpost } from './helpers/outpost.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';
import { byPgNames } from './helpers/replica-views.js';

let upstream: PostgresInstance;
let dir: string;

before(async () => {
  upstream = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'outpost-crash-'));
  await upstream.query(`
    create table acct (id int primary key, balance int8 not null, note text);
    insert into acct select g, g * 10, 'n' || g from generate_series(1, 200000) g;
    create table log (id bigserial primary key, acct int, delta int);
  `);
});

after(async () => {
  await upstream?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitState(o: OutpostProcess, states: string[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const s = await o.status();
      if (states.includes(String(s.replication.state))) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for state ${states.join('|')}`);
    await sleep(10);
  }
}

/** Upstream's rows and the replica file's rows, as comparable text. */
async function upstreamDump(): Promise<string[]> {
  const a = await upstream.query<{ r: string }>(
    `select id || ':' || balance || ':' || coalesce(note, '~') as r from acct order by id`,
  );
  const l = await upstream.query<{ r: string }>(
    `select id || ':' || acct || ':' || delta as r from log order by id`,
  );
  return [...a.rows.map((x) => x.r), '--', ...l.rows.map((x) => x.r)];
}

function replicaDump(path: string): string[] {
  const db = new Database(path, { readonly: true });
  try {
    const a = byPgNames(db)
      .prepare(
        `select id || ':' || balance || ':' || coalesce(note, '~') as r from "public.acct" order by id`,
      )
      .pluck()
      .all() as string[];
    const l = byPgNames(db)
      .prepare(`select id || ':' || acct || ':' || delta as r from "public.log" order by id`)
      .pluck()
      .all() as string[];
    return [...a, '--', ...l];
  } finally {
    db.close();
  }
}

async function lsnNow(): Promise<bigint> {
  const r = await upstream.query<{ lsn: string }>('select pg_current_wal_insert_lsn()::text as lsn');
  return parseLsn(String(r.rows[0]?.lsn));
}

async function appliedLsn(o: OutpostProcess): Promise<bigint> {
  return parseLsn(String((await o.status()).replication.appliedLsn));
}

async function caughtUp(o: OutpostProcess): Promise<void> {
  const target = await lsnNow();
  const deadline = Date.now() + 60_000;
  while ((await appliedLsn(o)) < target) {
    if (Date.now() > deadline) throw new Error('replica did not catch up');
    await sleep(50);
  }
}

test('SIGKILL during the snapshot, mid-transaction and under a stream of writes: identical replica', async () => {
  const replica = join(dir, 'r.db');
  const start = () => startOutpost({ upstream: upstream.url(), replica, args: ['--log-level', 'warn'] });

  // 1. During the snapshot.
  let o = await start();
  await waitState(o, ['snapshot', 'streaming']);
  await o.stop('SIGKILL');

  // 2. In the middle of one large transaction.
  o = await start();
  await o.ready(120_000);
  await upstream.query('update acct set balance = balance + 1');
  const target = await lsnNow();
  // 200 000 changes take a while to decode, send and apply: kill well before the end.
  await sleep(150);
  const mid = (await appliedLsn(o)) < target;
  await o.stop('SIGKILL');
  assert.ok(mid, 'killed before the large transaction was applied');

  // 3. Under a steady stream of small transactions, killed at random moments.
  let writing = true;
  let txns = 0;
  const writer = (async () => {
    const c = new pg.Client({ connectionString: upstream.url() });
    await c.connect();
    try {
      while (writing) {
        const id = 1 + Math.floor(Math.random() * 200000);
        await c.query(
          `begin; update acct set balance = balance - 5, note = null where id = ${id};
           insert into log (acct, delta) values (${id}, -5);
           ${txns % 7 === 0 ? `delete from acct where id = ${200001 + txns}; insert into acct values (${200001 + txns}, 1, 'new');` : ''}
           commit;`,
        );
        txns++;
      }
    } finally {
      await c.end();
    }
  })();
  try {
    for (let round = 0; round < 5; round++) {
      o = await start();
      await o.ready(120_000);
      await sleep(100 + Math.floor(Math.random() * 400));
      await o.stop('SIGKILL');
    }
  } finally {
    writing = false;
    await writer;
  }
  assert.ok(txns > 20, `the writer ran (${txns} transactions)`);

  // 4. A last restart catches up; the replica equals upstream exactly.
  o = await start();
  try {
    await o.ready(120_000);
    await caughtUp(o);
    assert.equal(await o.stop('SIGTERM'), 0);
  } finally {
    await o.stop('SIGKILL');
  }
  const want = await upstreamDump();
  const got = replicaDump(replica);
  assert.equal(got.length, want.length, 'row counts');
  assert.deepEqual(got, want);
});
