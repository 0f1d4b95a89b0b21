/**
 * Postgres names are case-sensitive and may hold dots, quotes and 63 bytes;
 * SQLite matches names case-insensitively. Tables, schemas, columns and enum
 * types whose names differ only in case or in where the dot is must never
 * share data in the replica, and a role granted SELECT on one of them must
 * get exactly what a direct session gets: the same rows, or the same
 * 42501. Also: tables created after start (resync path), and a replica file
 * of the old layout (tables named "schema.name") is copied afresh, never
 * read.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { eventually, lastRoute, type OutpostProcess, startOutpost } from './helpers/outpost.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';
import { sameThrough } from './helpers/through.js';

let upstream: PostgresInstance;
let outpost: OutpostProcess;
let dir: string;

/** 63 bytes, the longest identifier; two names equal but for their last byte. */
const LONG_A = `${'x'.repeat(62)}a`;
const LONG_B = `${'x'.repeat(62)}b`;
/** 63 bytes of two-byte characters but one: the limit in bytes, not characters. */
const LONG_UTF8 = `${'é'.repeat(31)}z`;

before(async () => {
  upstream = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'outpost-names-'));
  await upstream.query(`
    create table "MixedCase" (id int4 primary key, "Val" text, val text, "VAL" int4);
    insert into "MixedCase" values (1, 'upper-1', 'lower-1', 10), (2, 'upper-2', 'lower-2', 20);
    create table mixedcase (id int4 primary key, val text);
    insert into mixedcase values (1, 'plain-1'), (3, 'plain-3');
    create schema "a.b";
    create table "a.b".c (id int4, v text);
    insert into "a.b".c values (1, 'schema a.b, table c');
    create schema a;
    create table a."b.c" (id int4, v text);
    insert into a."b.c" values (2, 'schema a, table b.c');
    create schema "Sales";
    create table "Sales"."Orders" (id int4, "Amount" int4);
    insert into "Sales"."Orders" values (1, 100);
    create schema sales;
    create table sales.orders (id int4, amount int4);
    insert into sales.orders values (2, 200), (3, 300);
    create table sales."Orders" (id int4, note text);
    insert into sales."Orders" values (4, 'sales."Orders"');
    create table "${LONG_A}" (id int4, "${LONG_A}" text, "${LONG_B}" text);
    insert into "${LONG_A}" values (1, 'col a', 'col b');
    create table "${LONG_B}" (id int4);
    insert into "${LONG_B}" values (2);
    create table "${LONG_UTF8}" (id int4);
    insert into "${LONG_UTF8}" values (3);
    create table "we""ird" ("co""l" int4, "x.y" text);
    insert into "we""ird" values (1, 'quoted');
    -- Names like Outpost's own in SQLite: data columns, output columns, aliases, rowid.
    create table capture (a2 int4, a1 int4, c0 int4, t0 int4, rowid int4, oid int4);
    insert into capture values (1, 2, 3, 4, 5, 6), (7, 8, 9, 10, 11, 12);
    create table t0 (a1 text);
    insert into t0 values ('table t0');
    create type "Mood" as enum ('Happy', 'happy', 'SAD');
    create type mood as enum ('sad', 'Happy');
    create table moods (id int4, m "Mood", n mood);
    insert into moods values (1, 'Happy', 'sad'), (2, 'happy', 'Happy'), (3, 'SAD', 'Happy');
    -- Without a key a table is replicated only with a replica identity (publication.ts).
    alter table "a.b".c replica identity full;
    alter table a."b.c" replica identity full;
    alter table "Sales"."Orders" replica identity full;
    alter table sales.orders replica identity full;
    alter table sales."Orders" replica identity full;
    alter table "${LONG_A}" replica identity full;
    alter table "${LONG_B}" replica identity full;
    alter table "${LONG_UTF8}" replica identity full;
    alter table "we""ird" replica identity full;
    alter table capture replica identity full;
    alter table t0 replica identity full;
    alter table moods replica identity full;
    create role narrow login password 'narrow-pw';
    grant select on "MixedCase" to narrow;
    grant usage on schema "Sales" to narrow;
    grant select on "Sales"."Orders" to narrow;
    grant usage on schema "a.b" to narrow;
    grant select on "a.b".c to narrow;
    grant select on "${LONG_A}" to narrow;
    create role plain login password 'plain-pw';
    grant select on mixedcase, "${LONG_B}", moods to plain;
    grant usage on schema sales, a to plain;
    grant select on sales.orders, a."b.c" to plain;
  `);
  outpost = await startOutpost({ upstream: upstream.url(), replica: join(dir, 'replica.db') });
  await outpost.ready();
});

after(async () => {
  await outpost?.stop();
  await upstream?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function pair(port: number, user = 'postgres', password = 'postgres'): Promise<[pg.Client, pg.Client]> {
  const via = new pg.Client({ host: '127.0.0.1', port, user, password, database: 'postgres' });
  const direct = new pg.Client({ connectionString: upstream.url({ user, password }) });
  await via.connect();
  await direct.connect();
  return [via, direct];
}

/** Served locally for a superuser, and equal to upstream for every role. */
const LOCAL = [
  'select * from "MixedCase" order by id',
  'select * from mixedcase order by id',
  'select * from MixedCase order by id',
  'select * from MIXEDCASE order by id',
  'select "Val", val, "VAL" from "MixedCase" order by id',
  'select "MixedCase"."Val", "MixedCase".val from "MixedCase" order by 1',
  'select public."MixedCase"."VAL" from "MixedCase" order by 1',
  'select m.id, m."Val", n.val from "MixedCase" m join mixedcase n on n.id = m.id order by 1',
  `select count(*) from "MixedCase" where "Val" = 'upper-1' and val = 'lower-1'`,
  'select * from "a.b".c',
  'select * from a."b.c"',
  'select c.v, "b.c".v from "a.b".c, a."b.c"',
  'select * from "Sales"."Orders"',
  'select * from sales.orders order by id',
  'select * from sales."Orders"',
  'select "Amount" from "Sales"."Orders"',
  'select "Sales"."Orders".id from "Sales"."Orders"',
  `select * from "${LONG_A}"`,
  `select "${LONG_A}", "${LONG_B}" from "${LONG_A}"`,
  `select * from "${LONG_B}"`,
  `select * from "${LONG_UTF8}"`,
  'select * from "we""ird"',
  'select "co""l", "x.y" from "we""ird"',
  'select * from capture order by a2',
  'select a1, c0, t0, rowid, oid from capture order by c0 desc',
  'select c0 + a1 as a2, a2 as c0 from capture order by 1',
  'select t0.a1, capture.a1 from t0, capture order by 2',
  'select x.a1 from (select a1, c0 from capture) x order by 1',
  'select * from t0',
  'select * from moods order by m, id',
  'select * from moods order by n, id',
  `select id from moods where m = 'Happy' order by id`,
  `select id from moods where n = 'Happy' order by id`,
  `select id from moods where m > 'happy' order by id`,
  // Aliases, WITH names, output names: folded when unquoted, exact when quoted.
  'select M.id from "MixedCase" m order by 1',
  'select "M".id from "MixedCase" "M" order by 1',
  'with "W" as (select 1 as x) select * from "W"',
  'with w as (select 1 as x) select * from W',
  'select "X" from (select 1 as "X") s',
  'select val as "V" from mixedcase order by "V"',
  'select val as v from mixedcase order by V',
];

/** Not the same table (or column) in Postgres: an error upstream, and through Outpost. */
const ERRORS = [
  'select "val" from mixedcase where "Val" is not null',
  'select "VAL" from mixedcase',
  'select * from "MIXEDCASE"',
  'select * from "a.b.c"',
  'select * from "a.b"."c.d"',
  'select * from "Sales".orders',
  'select "amount" from "Sales"."Orders"',
  `select * from "${LONG_A.slice(0, 62)}"`,
  'select "M".id from "MixedCase" m',
  'with "W" as (select 1 as x) select * from w',
  'select "X" from (select 1 as x) s',
  'select x from (select 1 as "X") s',
  'select "LOWER"(val) from mixedcase',
  'select val as "V" from mixedcase order by "v"',
];

test('names equal but for case, dots or quotes are distinct tables and columns, locally', async () => {
  const [via, direct] = await pair(outpost.port);
  try {
    for (const sql of LOCAL) assert.equal(await sameThrough(via, direct, sql), 'local', sql);
    for (const sql of ERRORS) {
      await sameThrough(via, direct, sql);
      await assert.rejects(direct.query(sql), sql);
    }
  } finally {
    await via.end();
    await direct.end();
  }
});

test('a role granted one of two colliding tables gets what upstream gives it', async () => {
  for (const [user, password] of [
    ['narrow', 'narrow-pw'],
    ['plain', 'plain-pw'],
  ] as const) {
    const [via, direct] = await pair(outpost.port, user, password);
    try {
      for (const sql of [...LOCAL, ...ERRORS]) await sameThrough(via, direct, sql);
    } finally {
      await via.end();
      await direct.end();
    }
  }
  const [via, direct] = await pair(outpost.port, 'narrow', 'narrow-pw');
  try {
    // Granted "MixedCase" only: served; mixedcase is denied, never answered from the other table.
    assert.equal(await sameThrough(via, direct, 'select * from "MixedCase" order by id'), 'local');
    await assert.rejects(via.query('select * from mixedcase'), (e: { code?: string }) => e.code === '42501');
    await assert.rejects(via.query('select * from MixedCase'), (e: { code?: string }) => e.code === '42501');
    await assert.rejects(
      via.query('select * from sales.orders'),
      (e: { code?: string }) => e.code === '42501',
    );
    await assert.rejects(via.query('select * from a."b.c"'), (e: { code?: string }) => e.code === '42501');
    await assert.rejects(
      via.query(`select * from "${LONG_B}"`),
      (e: { code?: string }) => e.code === '42501',
    );
  } finally {
    await via.end();
    await direct.end();
  }
});

test('colliding tables created after start are resynchronised apart', async () => {
  await upstream.query(`
    create table "Late" (id int4 primary key, "X" text, x text);
    insert into "Late" values (1, 'Late.X', 'Late.x');
    create table late (id int4 primary key, x text);
    insert into late values (2, 'late.x');
    create schema "LATE";
    create table "LATE".late (id int4 primary key);
    insert into "LATE".late values (3);
  `);
  const [via, direct] = await pair(outpost.port);
  try {
    for (const sql of ['select * from "Late"', 'select * from late', 'select * from "LATE".late']) {
      await eventually(
        async () => {
          await via.query(sql);
          return (await lastRoute(via)) === 'local';
        },
        30_000,
        `${sql} to be local`,
      );
    }
    for (const sql of [
      'select * from "Late"',
      'select * from late',
      'select * from "LATE".late',
      'select "X", x from "Late"',
      'select l.x, "L".x from late l, "Late" "L"',
    ]) {
      assert.equal(await sameThrough(via, direct, sql), 'local', sql);
    }
  } finally {
    await via.end();
    await direct.end();
  }
});

test('the replica holds one data table per catalog entry, named by OID', () => {
  const db = new Database(join(dir, 'replica.db'), { readonly: true });
  try {
    const catalog = db.prepare('SELECT oid, sqlite_name FROM _outpost_tables').all() as {
      oid: number;
      sqlite_name: string;
    }[];
    assert.ok(catalog.length >= 15);
    for (const t of catalog) assert.equal(t.sqlite_name, `t${t.oid}`);
    const data = db
      .prepare(
        `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_outpost%' ESCAPE '\\'`,
      )
      .pluck()
      .all() as string[];
    assert.deepEqual(data.sort(), catalog.map((t) => t.sqlite_name).sort());
    assert.equal(db.prepare(`SELECT value FROM _outpost_meta WHERE key = 'format'`).pluck().get(), '2');
  } finally {
    db.close();
  }
});

test('a replica file of the old layout is copied afresh, its tables never read', async () => {
  const path = join(dir, 'old.db');
  const old = new Database(path);
  const oid = (await upstream.query<{ oid: number }>(`select 'public.mixedcase'::regclass::oid::int4 as oid`))
    .rows[0]?.oid;
  // Layout 1 (no format key): a complete snapshot whose mixedcase holds a row upstream never had.
  old.exec(`
    CREATE TABLE _outpost_meta (key TEXT PRIMARY KEY, value TEXT);
    CREATE TABLE _outpost_tables (oid INTEGER PRIMARY KEY, schema TEXT NOT NULL, name TEXT NOT NULL,
      sqlite_name TEXT NOT NULL, columns TEXT NOT NULL, storage TEXT, unservable TEXT);
    INSERT INTO _outpost_meta VALUES ('snapshot_state', 'complete'), ('slot', 'outpost_gone'),
      ('publication', 'outpost'), ('applied_lsn', '0/1'), ('database', 'postgres');
    CREATE TABLE "public.mixedcase" ("id" INTEGER, "val" TEXT);
    INSERT INTO "public.mixedcase" VALUES (99, 'stale');
  `);
  old
    .prepare(
      `INSERT INTO _outpost_tables VALUES (?, 'public', 'mixedcase', 'public.mixedcase', ?, NULL, NULL)`,
    )
    .run(
      oid,
      JSON.stringify([
        { name: 'id', attnum: 1, typeOid: 23, typmod: -1, typlen: 4, typeName: 'int4', keyPosition: 1 },
        {
          name: 'val',
          attnum: 2,
          typeOid: 25,
          typmod: -1,
          typlen: -1,
          typeName: 'text',
          keyPosition: null,
          collation: 'default',
        },
      ]),
    );
  old.close();
  const second = await startOutpost({ upstream: upstream.url(), replica: path });
  try {
    await second.ready();
    assert.match(second.output(), /older layout: taking a fresh snapshot/);
    const [via, direct] = await pair(second.port);
    try {
      assert.equal(await sameThrough(via, direct, 'select * from mixedcase order by id'), 'local');
      assert.equal(await sameThrough(via, direct, 'select * from "MixedCase" order by id'), 'local');
    } finally {
      await via.end();
      await direct.end();
    }
  } finally {
    await second.stop();
  }
  const db = new Database(path, { readonly: true });
  try {
    assert.equal(
      db.prepare(`SELECT count(*) FROM sqlite_master WHERE name = 'public.mixedcase'`).pluck().get(),
      0,
    );
  } finally {
    db.close();
  }
});
