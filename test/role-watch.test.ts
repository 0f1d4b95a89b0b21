/**
 * The role catalog watch (src/router/role-watch.ts) against a real Postgres:
 * every fact that decides a local answer but is not in logical decoding
 * changes the fingerprint, and role facts are used only while the latest
 * confirmation is younger than the bound (`--max-lag`).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import type { ReplicaTable } from '../src/replica/schema.js';
import { AccessControl } from '../src/router/access.js';
import { RoleCatalogWatch } from '../src/router/role-watch.js';
import { newSessionState } from '../src/session.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';

let upstream: PostgresInstance;
let pool: pg.Pool;
let table: ReplicaTable;

const query = async <R>(sql: string, params: unknown[]) => (await pool.query(sql, params)).rows as R[];

before(async () => {
  upstream = await startPostgres();
  await upstream.query(`
    create role grp nologin;
    create role ann login password 'pw';
    create schema s;
    create table s.t (id int primary key);
    grant usage on schema s to grp;
    grant select on s.t to grp;
    grant grp to ann;
  `);
  pool = new pg.Pool({ connectionString: upstream.url(), max: 2 });
  pool.on('error', () => {});
  const oid = Number(
    (await upstream.query<{ oid: string }>("select 's.t'::regclass::oid as oid")).rows[0]?.oid,
  );
  table = { oid, schema: 's', name: 't', sqliteName: `t${oid}`, columns: [] };
});

after(async () => {
  await pool?.end();
  await upstream?.stop();
});

async function fingerprint(): Promise<string> {
  let fp = '';
  const watch = new RoleCatalogWatch({
    query,
    tableOids: () => [table.oid],
    confirm: (f) => {
      fp = f;
    },
    intervalMs: 1000,
  });
  await watch.poll();
  assert.notEqual(fp, '', 'the fingerprint was read');
  return fp;
}

test('each fact outside logical decoding changes the fingerprint', async () => {
  const changes: [string, string][] = [
    ['alter role ann nologin', 'alter role ann login'],
    ['alter role ann superuser', 'alter role ann nosuperuser'],
    ['alter role ann bypassrls', 'alter role ann nobypassrls'],
    ['alter role ann noinherit', 'alter role ann inherit'],
    ['revoke grp from ann', 'grant grp to ann'],
    ['alter role ann set search_path = s', 'alter role ann reset search_path'],
    ['alter database postgres set search_path = s', 'alter database postgres reset search_path'],
    ['revoke usage on schema s from grp', 'grant usage on schema s to grp'],
    ['create schema ann', 'drop schema ann'],
    ['revoke select on s.t from grp', 'grant select on s.t to grp'],
    ['alter table s.t enable row level security', 'alter table s.t disable row level security'],
    ['alter table s.t owner to ann', 'alter table s.t owner to postgres'],
  ];
  for (const [change, undo] of changes) {
    const before = await fingerprint();
    await upstream.query(change);
    assert.notEqual(await fingerprint(), before, `${change} changes the fingerprint`);
    await upstream.query(undo);
  }
  const base = await fingerprint();
  // Temporary schemas (any session's first temporary table) do not count.
  const c = await upstream.connect();
  try {
    await c.query('create temp table tmp (x int)');
    assert.equal(await fingerprint(), base, 'a temporary schema does not change it');
  } finally {
    await c.end();
  }
});

test('role facts are used only while the latest confirmation is younger than the bound', async () => {
  const access = new AccessControl({
    query,
    catalog: { tables: () => [table], catalogVersion: 1 },
    maxUnconfirmedMs: 1000,
  });
  const session = newSessionState('ann', 'postgres');
  assert.equal(access.check(session, table), 'role catalog not yet read');
  access.confirm('a', Date.now());
  await access.prepare(session);
  assert.equal(access.check(session, table), undefined, 'ann reads s.t through grp');
  // An older confirmation than the bound: forward.
  const old = new AccessControl({
    query,
    catalog: { tables: () => [table], catalogVersion: 1 },
    maxUnconfirmedMs: 1000,
  });
  old.confirm('a', Date.now() - 5000);
  await old.prepare(session);
  assert.match(old.check(session, table) ?? '', /^role catalog not confirmed for \d+\.\d s$/);
  // A different fingerprint: looked up again (at once, for roles in use).
  await upstream.query('revoke grp from ann');
  try {
    access.confirm('b', Date.now());
    assert.match(access.check(session, table) ?? '', /changed upstream, being looked up/);
    await access.prepare(session);
    assert.equal(access.check(session, table), 'role ann lacks USAGE on schema s');
  } finally {
    await upstream.query('grant grp to ann');
  }
});

test('facts tagged with the fingerprint read before them survive its confirmation and fall on a change', async () => {
  const watch = new RoleCatalogWatch({
    query,
    tableOids: () => [table.oid],
    confirm: (f, at) => access.confirm(f, at),
    intervalMs: 60_000,
  });
  const access = new AccessControl({
    query,
    catalog: { tables: () => [table], catalogVersion: 1 },
    maxUnconfirmedMs: 60_000,
    fingerprint: () => watch.read(),
  });
  const session = newSessionState('ann', 'postgres');
  // Facts looked up before the watch's first reading: an unchanged catalog keeps them.
  await access.prepare(session);
  await watch.poll();
  assert.equal(
    access.check(session, table),
    undefined,
    'the first confirmation keeps facts of the same catalog',
  );
  await watch.poll();
  assert.equal(access.check(session, table), undefined, 'so does every later one');
  // A change upstream: the next confirmation sets them aside until looked up again.
  await upstream.query('revoke grp from ann');
  try {
    await watch.poll();
    assert.match(access.check(session, table) ?? '', /changed upstream, being looked up/);
    await access.prepare(session);
    assert.equal(access.check(session, table), 'role ann lacks USAGE on schema s');
  } finally {
    await upstream.query('grant grp to ann');
  }
});
