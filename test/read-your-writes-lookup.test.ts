/**
 * Coalesced position lookups (read-your-writes): every request is answered
 * by a lookup that started after it, and concurrent requests share lookups.
 * Exercised against a real Postgres: the position must be at or after each
 * session's own commit.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { parseLsn } from '../src/replication/lsn.js';
import { coalescedLookup } from '../src/router/read-your-writes.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';

let upstream: PostgresInstance;

before(async () => {
  upstream = await startPostgres();
  await upstream.query('create table w (id serial primary key, v int)');
});

after(async () => {
  await upstream?.stop();
});

test('each request sees a position at or after its own commit, with far fewer lookups than requests', async () => {
  let lookups = 0;
  const lookup = coalescedLookup(async () => {
    lookups++;
    const r = await upstream.query<{ lsn: string }>('select pg_current_wal_insert_lsn()::text as lsn');
    return parseLsn(r.rows[0]?.lsn as string);
  });
  const sessions = 40;
  await Promise.all(
    Array.from({ length: sessions }, async () => {
      for (let i = 0; i < 5; i++) {
        // The commit's own end position, then the shared lookup.
        const r = await upstream.query<{ lsn: string }>(
          'with x as (insert into w (v) values (1) returning id) select pg_current_wal_insert_lsn()::text as lsn from x',
        );
        const committedAtLeast = parseLsn(r.rows[0]?.lsn as string);
        const seen = await lookup();
        assert.ok(seen >= committedAtLeast, `lookup ${seen} before the commit ${committedAtLeast}`);
      }
    }),
  );
  assert.ok(lookups < sessions * 5, `${lookups} lookups for ${sessions * 5} requests`);
});

test('a failed lookup rejects its waiters, and the next request runs a new one', async () => {
  let calls = 0;
  const lookup = coalescedLookup(async () => {
    calls++;
    if (calls === 1) throw new Error('connection lost');
    return 42n;
  });
  await assert.rejects(lookup(), /connection lost/);
  assert.equal(await lookup(), 42n);
  assert.equal(calls, 2);
});
