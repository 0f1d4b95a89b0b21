/**
 * READ ONLY transactions are served locally from one SQLite snapshot: every
 * read of the transaction sees the same replica state while the applier
 * commits changes underneath. Other transactions stay upstream.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type pg from 'pg';
import {
  connectThrough,
  eventually,
  lastRoute,
  type OutpostProcess,
  startOutpost,
} from './helpers/outpost.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';

let upstream: PostgresInstance;
let outpost: OutpostProcess;
let dir: string;

before(async () => {
  upstream = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'outpost-ro-'));
  await upstream.query(
    `create table acct (id int primary key, balance int not null);
     insert into acct select g, 100 from generate_series(1, 10) g`,
  );
  outpost = await startOutpost({ upstream: upstream.url(), replica: join(dir, 'r.db') });
  await outpost.ready();
});

after(async () => {
  await outpost?.stop();
  await upstream?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const client = (): Promise<pg.Client> => connectThrough(outpost.port);

const total = async (c: pg.Client): Promise<number> =>
  Number((await c.query<{ s: string }>('select sum(balance) as s from acct')).rows[0]?.s);
const balanceOf = async (c: pg.Client, id: number): Promise<number> =>
  (await c.query<{ balance: number }>(`select balance from acct where id = ${id}`)).rows[0]?.balance ?? -1;

/** Until a change made directly upstream is visible through Outpost outside a transaction. */
async function applied(probe: pg.Client, id: number, balance: number): Promise<void> {
  await eventually(
    async () => (await balanceOf(probe, id)) === balance,
    20_000,
    `balance ${balance} of ${id}`,
  );
}

test('BEGIN READ ONLY: every read sees one snapshot while the replica applies changes', async () => {
  const c = await client();
  const probe = await client();
  try {
    await c.query('begin read only');
    const before = await balanceOf(c, 1);
    assert.equal(await lastRoute(c), 'local');
    const sumBefore = await total(c);
    // Move money upstream in one transaction, then again: the replica applies both.
    await upstream.query(
      'update acct set balance = balance - 30 where id = 1; update acct set balance = balance + 30 where id = 2',
    );
    await upstream.query('update acct set balance = balance + 7 where id = 3');
    await applied(probe, 3, 107);
    assert.equal(await balanceOf(c, 1), before, 'the transaction keeps its snapshot');
    assert.equal(await lastRoute(c), 'local');
    assert.equal(await balanceOf(c, 3), 100);
    assert.equal(await total(c), sumBefore);
    // pg reports the transaction status the client would see from Postgres.
    const status = await c.query('select 1 as one');
    assert.equal(status.rows[0]?.one, 1);
    await c.query('commit');
    // After COMMIT, reads see the new state.
    assert.equal(await balanceOf(c, 3), 107);
    assert.equal(await balanceOf(c, 1), 70);
  } finally {
    await c.end();
    await probe.end();
  }
});

test('BEGIN then SET TRANSACTION READ ONLY is local; a write in it fails like upstream', async () => {
  const c = await client();
  try {
    await c.query('begin');
    await c.query('set transaction read only');
    await balanceOf(c, 4);
    assert.equal(await lastRoute(c), 'local');
    await assert.rejects(c.query('update acct set balance = 0 where id = 4'), { code: '25006' });
    // The failed transaction: every statement now errors upstream, as on Postgres.
    await assert.rejects(c.query('select balance from acct where id = 4'), { code: '25P02' });
    await c.query('rollback');
    assert.equal(await balanceOf(c, 4), 100);
    assert.equal(await lastRoute(c), 'local');
  } finally {
    await c.end();
  }
});

test('the extended protocol inside a READ ONLY transaction reads the same snapshot', async () => {
  const c = await client();
  const probe = await client();
  try {
    await c.query('start transaction read only');
    const q = { name: 'bal', text: 'select balance from acct where id = $1', values: [5] };
    const first = await c.query<{ balance: number }>(q);
    assert.equal(await lastRoute(c), 'local');
    await upstream.query('update acct set balance = balance + 1 where id = 5');
    await applied(probe, 5, (first.rows[0]?.balance ?? 0) + 1);
    const second = await c.query<{ balance: number }>(q);
    assert.equal(second.rows[0]?.balance, first.rows[0]?.balance);
    await c.query('commit');
    const third = await c.query<{ balance: number }>(q);
    assert.equal(third.rows[0]?.balance, (first.rows[0]?.balance ?? 0) + 1);
  } finally {
    await c.end();
    await probe.end();
  }
});

test('read-write, REPEATABLE READ and SERIALIZABLE transactions go upstream', async () => {
  const c = await client();
  try {
    // (A plain BEGIN starts locally: test/local-transactions.test.ts.)
    for (const begin of [
      'begin read write',
      'begin isolation level repeatable read read only',
      'start transaction isolation level serializable, read only',
    ]) {
      await c.query(begin);
      await balanceOf(c, 6);
      assert.equal(await lastRoute(c), 'upstream: inside a transaction', begin);
      await c.query('commit');
    }
    // SET TRANSACTION READ ONLY after another statement: upstream.
    await c.query('begin');
    await balanceOf(c, 6);
    await c.query('set transaction read only');
    await balanceOf(c, 6);
    assert.equal(await lastRoute(c), 'upstream: inside a transaction');
    await c.query('commit');
    // A READ ONLY transaction whose isolation is raised before its first query: upstream.
    await c.query('begin read only');
    await c.query('set transaction isolation level serializable');
    await balanceOf(c, 6);
    assert.equal(await lastRoute(c), 'upstream: inside a transaction');
    await c.query('commit');
  } finally {
    await c.end();
  }
});

test('a session whose default isolation is raised stops serving locally', async () => {
  const c = await client();
  try {
    await c.query("set default_transaction_isolation = 'repeatable read'");
    await c.query('begin read only');
    await balanceOf(c, 7);
    assert.match(await lastRoute(c), /^upstream: /);
    await c.query('commit');
  } finally {
    await c.end();
  }
});

test('a READ ONLY transaction older than --max-lag reads upstream for the rest of it', async () => {
  const o = await startOutpost({
    upstream: upstream.url(),
    replica: join(dir, 'aged.db'),
    args: ['--max-lag', '1'],
  });
  let c: pg.Client | undefined;
  try {
    await o.ready();
    const conn = await connectThrough(o.port);
    c = conn;
    const route = () => lastRoute(conn);
    // Within --max-lag 1 s of upstream to begin with (a loaded machine may lag for a moment).
    await eventually(async () => {
      await balanceOf(conn, 8);
      return (await route()) === 'local';
    }, 20_000);
    await conn.query('begin read only');
    await balanceOf(conn, 8);
    assert.equal(await route(), 'local');
    // Its snapshot would now be staler than the bound allows.
    await new Promise((r) => setTimeout(r, 1300));
    await balanceOf(conn, 8);
    assert.equal(await route(), 'upstream: READ ONLY transaction older than --max-lag');
    await balanceOf(conn, 8);
    assert.equal(await route(), 'upstream: READ ONLY transaction older than --max-lag');
    await conn.query('commit');
    await balanceOf(conn, 8);
    assert.equal(await route(), 'local');
  } finally {
    await c?.end();
    await o.stop();
  }
});
