/**
 * Differential tests: every query here must be answered locally, and the
 * local answer (RowDescription fields, rendered rows, command tag) must equal
 * what the real Postgres returns for the same query on the same data.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { Router } from '../src/router/router.js';
import type { LocalResult } from '../src/router/types.js';
import type { SessionState } from '../src/session.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';
import {
  connectTracked,
  createReplicaFixture,
  type ReplicaFixture,
  rawTypes,
} from './helpers/replica-fixture.js';

let pgi: PostgresInstance;
let client: pg.Client;
let session: SessionState;
let fixture: ReplicaFixture;
let router: Router;

const SETUP = `
CREATE TABLE items (
  id int4 PRIMARY KEY,
  i2 int2,
  i8 int8,
  b bool,
  f8 float8,
  f4 float4,
  n numeric(12,3),
  t text,
  vc varchar(20),
  tc text COLLATE "C",
  bp char(5),
  d date,
  ts timestamptz,
  tsn timestamp,
  iv interval,
  u uuid,
  j jsonb,
  ba bytea,
  arr int4[],
  "Mixed Case" text
);
INSERT INTO items
SELECT g,
  CASE WHEN g % 7 = 0 THEN NULL ELSE (g * 37 % 200 - 100)::int2 END,
  CASE WHEN g % 5 = 0 THEN NULL ELSE (g::int8 * 1234567891 - 20000000000) END,
  CASE WHEN g % 3 = 0 THEN NULL ELSE g % 2 = 0 END,
  CASE WHEN g % 6 = 0 THEN NULL
       WHEN g = 1 THEN 'NaN'::float8 WHEN g = 2 THEN 'Infinity' WHEN g = 4 THEN '-Infinity'
       WHEN g = 5 THEN 1e20 WHEN g = 7 THEN 1.5e-5 WHEN g = 8 THEN 0.1 + 0.2
       ELSE (g * 1.25 - 20) * (CASE WHEN g % 4 = 0 THEN 1e-3 ELSE 1 END) + 0.001 END,
  CASE WHEN g % 8 = 0 THEN NULL WHEN g = 3 THEN 'NaN'::float4 ELSE (g / 3.0)::float4 END,
  CASE WHEN g % 9 = 0 THEN NULL ELSE g * 1.5 - 7 END,
  CASE WHEN g % 10 = 0 THEN NULL
       WHEN g = 3 THEN '' WHEN g = 11 THEN 'Zebra' WHEN g = 12 THEN 'zebra' WHEN g = 13 THEN 'émile'
       WHEN g = 14 THEN 'ab' WHEN g = 15 THEN 'ab ' WHEN g = 16 THEN 'a' WHEN g = 17 THEN '日本'
       ELSE 'val-' || (g * 7 % 30) END,
  CASE WHEN g % 4 = 0 THEN NULL ELSE 'v' || (30 - g) END,
  CASE WHEN g % 6 = 1 THEN NULL ELSE chr(64 + g % 26) || g END,
  CASE WHEN g % 5 = 1 THEN NULL ELSE 'b' || g END,
  CASE WHEN g % 11 = 0 THEN NULL WHEN g = 2 THEN 'infinity'::date WHEN g = 3 THEN '-infinity'::date
       ELSE date '2000-02-29' + (g * 97 - 1000) END,
  CASE WHEN g % 12 = 0 THEN NULL WHEN g = 5 THEN 'infinity'::timestamptz
       ELSE timestamptz '2024-03-10 06:30:00.123456+00' + (g * interval '37 days 5 hours 17 minutes') - interval '700 days' END,
  CASE WHEN g % 13 = 0 THEN NULL ELSE timestamp '2001-09-09 01:46:40' + g * interval '1 day 1 second' END,
  CASE WHEN g % 14 = 0 THEN NULL ELSE g * interval '1 day 2 hours 3 minutes' - interval '5 days' END,
  CASE WHEN g % 15 = 0 THEN NULL ELSE md5(g::text)::uuid END,
  CASE WHEN g % 16 = 0 THEN NULL ELSE jsonb_build_object('g', g, 'f', g / 7.0, 's', 'x"y') END,
  CASE WHEN g % 17 = 0 THEN NULL ELSE decode(md5(g::text), 'hex') END,
  CASE WHEN g % 18 = 0 THEN NULL ELSE ARRAY[g, NULL, -g] END,
  'M' || g
FROM generate_series(1, 40) g;
-- Rows inserted after the bulk load keep heap (insertion) order.
INSERT INTO items (id, t) VALUES (100, 'late'), (99, 'later');
CREATE SCHEMA other;
CREATE TABLE other."Items" (k int8, label varchar(10));
INSERT INTO other."Items" VALUES (3, 'c'), (1, 'a'), (2, NULL), (NULL, 'z');
CREATE TABLE other.under_scored (col_1_2 int8);
INSERT INTO other.under_scored VALUES (5), (1), (12);
`;

before(async () => {
  pgi = await startPostgres();
  ({ client, session } = await connectTracked(pgi));
  await client.query(SETUP);
  fixture = createReplicaFixture();
  await fixture.load(client, [
    { schema: 'public', name: 'items' },
    { schema: 'other', name: 'Items' },
    { schema: 'other', name: 'under_scored' },
  ]);
  router = await Router.create({
    catalog: fixture.catalog,
    reader: fixture.reader,
    database: 'postgres',
    textCollationIsC: true,
  });
});

after(async () => {
  await client?.end();
  fixture?.close();
  await pgi?.stop();
});

function localResults(sql: string): LocalResult[] {
  const route = router.route(sql, session);
  assert.equal(
    route.kind,
    'local',
    `expected local for ${sql}: ${route.kind === 'upstream' ? route.reason : ''}`,
  );
  if (route.kind !== 'local') throw new Error('unreachable');
  return route.run();
}

function sortRows(rows: (string | null)[][]): (string | null)[][] {
  return [...rows].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
}

/** Run on both sides and compare everything the client can observe. */
async function same(sql: string, opts: { unordered?: boolean } = {}): Promise<void> {
  const locals = localResults(sql);
  const res = (await client.query({ text: sql, rowMode: 'array', types: rawTypes })) as unknown as
    | pg.QueryResult<unknown[]>
    | pg.QueryResult<unknown[]>[];
  const remotes = Array.isArray(res) ? res : [res];
  assert.equal(locals.length, remotes.length, `statement count for ${sql}`);
  for (const [i, local] of locals.entries()) {
    const remote = remotes[i] as pg.QueryResult<unknown[]>;
    assert.deepEqual(
      local.fields.map((f) => ({ ...f })),
      remote.fields.map((f) => ({
        name: f.name,
        tableOid: f.tableID,
        columnAttr: f.columnID,
        typeOid: f.dataTypeID,
        typeSize: f.dataTypeSize,
        typeModifier: f.dataTypeModifier,
        format: f.format === 'text' ? 0 : 1,
      })),
      `fields of ${sql}`,
    );
    const remoteRows = remote.rows as (string | null)[][];
    if (opts.unordered) assert.deepEqual(sortRows(local.rows), sortRows(remoteRows), `rows of ${sql}`);
    else assert.deepEqual(local.rows, remoteRows, `rows of ${sql}`);
    assert.equal(local.commandTag, `${remote.command} ${remote.rowCount}`, `tag of ${sql}`);
  }
}

// More constructs (joins, aggregates, expressions, -0 and NaN, ...) in router-compile.test.ts.
const QUERIES: string[] = [
  // targets
  'SELECT * FROM items',
  'select * from items order by id',
  'SELECT id, t FROM items',
  'SELECT id AS "ID", t AS x, items.vc, "Mixed Case" FROM items',
  'SELECT a.* FROM items a ORDER BY 1',
  'SELECT items.*, id FROM public.items',
  'SELECT i.id, i.i2, i.i8 renamed, i.b FROM public.items AS i WHERE i.id < 20',
  'SELECT id, id, t AS id FROM items ORDER BY 1 DESC',
  'SELECT id, f8, f4, n FROM items ORDER BY id',
  'SELECT id, d, ts, tsn, iv FROM items ORDER BY id',
  'SELECT id, u, j, ba, arr, bp FROM items ORDER BY id',
  'SELECT * FROM other."Items"',
  'TABLE other."Items"',
  'SELECT ALL id FROM items ORDER BY id',
  'SELECT id FROM items ORDER BY id DESC FOR READ ONLY',
  'SELECT col_1_2 FROM other.under_scored WHERE col_1_2 < 10 ORDER BY 1',
  'SELECT label, k FROM other."Items" x ORDER BY x.k DESC',
  // WHERE on integers
  'SELECT id FROM items WHERE id = 3',
  'SELECT id FROM items WHERE id <> 3',
  'SELECT id FROM items WHERE id != 3',
  'SELECT id FROM items WHERE id < 10',
  'SELECT id, i2 FROM items WHERE i2 >= 5',
  'SELECT id, i2 FROM items WHERE i2 <= -50 OR i2 > 90',
  'SELECT id, i2 FROM items WHERE i2 < 100000',
  'SELECT id, i8 FROM items WHERE i8 > 3000000000',
  'SELECT id, i8 FROM items WHERE i8 = -9223372036854775808',
  "SELECT id FROM items WHERE i2 = '7'",
  "SELECT id FROM items WHERE id = '5'",
  "SELECT id FROM items WHERE '5' = id",
  'SELECT id FROM items WHERE 10 > id',
  'SELECT id FROM items WHERE i2 = id',
  'SELECT id FROM items WHERE i8 < i2',
  // bool
  'SELECT id, b FROM items WHERE b',
  'SELECT id, b FROM items WHERE NOT b',
  'SELECT id FROM items WHERE b = true',
  'SELECT id FROM items WHERE b <> false',
  'SELECT id FROM items WHERE b IS TRUE',
  'SELECT id FROM items WHERE b IS NOT TRUE',
  'SELECT id FROM items WHERE b IS FALSE',
  'SELECT id FROM items WHERE b IS NOT FALSE',
  'SELECT id FROM items WHERE b IS UNKNOWN',
  'SELECT id FROM items WHERE b IS NOT UNKNOWN',
  'SELECT id FROM items WHERE b IS DISTINCT FROM true',
  'SELECT id FROM items WHERE b IS NOT DISTINCT FROM NULL',
  'SELECT id FROM items WHERE true',
  'SELECT id FROM items WHERE false',
  // text (C collation)
  "SELECT id, t FROM items WHERE t = 'ab'",
  "SELECT id, t FROM items WHERE t = 'ab '",
  "SELECT id, t FROM items WHERE t < 'm'",
  "SELECT id, t FROM items WHERE t >= 'Z'",
  "SELECT id, t FROM items WHERE t <> ''",
  "SELECT id, t FROM items WHERE t > 'é'",
  "SELECT id, vc FROM items WHERE vc > 'v2'",
  "SELECT id, tc FROM items WHERE tc < 'M'",
  'SELECT id FROM items WHERE t = t',
  "SELECT id FROM items WHERE t = E'a\\nb' OR t = U&'\\65E5\\672C'",
  `SELECT id FROM items WHERE t <> '${'ab01'.repeat(16)}' -- ${'long comment '.repeat(9)}`,
  `SELECT id AS ${'x'.repeat(63)} FROM items`,
  // date
  "SELECT id, d FROM items WHERE d = '2000-02-29'",
  "SELECT id, d FROM items WHERE d < '2000-01-01'",
  "SELECT id, d FROM items WHERE d >= '2002-02-28'",
  "SELECT id, d FROM items WHERE d > '1999-12-31'",
  "SELECT id, d FROM items WHERE d <> '2001-06-05' AND d IS NOT NULL",
  // float8
  'SELECT id, f8 FROM items WHERE f8 > 1',
  'SELECT id, f8 FROM items WHERE f8 < 0',
  'SELECT id, f8 FROM items WHERE f8 = 1.5e-5',
  'SELECT id, f8 FROM items WHERE f8 >= -1e10',
  'SELECT id, f8 FROM items WHERE f8 <> 2',
  'SELECT id, f8 FROM items WHERE f8 > 1e300',
  'SELECT id, f8 FROM items WHERE f8 = 0.30000000000000004',
  'SELECT id, f8 FROM items WHERE f8 = f8',
  // NULL tests on any type
  'SELECT id FROM items WHERE n IS NULL',
  'SELECT id FROM items WHERE ts IS NOT NULL AND j IS NULL',
  // boolean combinations
  "SELECT id FROM items WHERE (id < 10 OR id > 30) AND NOT (t = 'a' OR b) AND i2 IS NOT NULL",
  "SELECT id FROM items WHERE NOT (NOT (id > 5)) AND (d < '2010-01-01' OR d IS NULL)",
  // ORDER BY
  'SELECT id, t FROM items ORDER BY t, id',
  'SELECT id, t FROM items ORDER BY t DESC, id',
  'SELECT id, t FROM items ORDER BY t NULLS FIRST, id DESC',
  'SELECT id, t FROM items ORDER BY t DESC NULLS LAST, id',
  'SELECT id, d FROM items ORDER BY d, id',
  'SELECT id, d FROM items ORDER BY d DESC, id',
  'SELECT id, d FROM items ORDER BY d ASC NULLS FIRST, id',
  'SELECT id, f8 FROM items ORDER BY f8, id',
  'SELECT id, f8 FROM items ORDER BY f8 DESC, id',
  'SELECT id, f8 FROM items ORDER BY f8 DESC NULLS LAST, id',
  'SELECT id, b FROM items ORDER BY b, id',
  'SELECT id, b FROM items ORDER BY b DESC, id DESC',
  'SELECT id, i8 FROM items ORDER BY i8 DESC, id',
  'SELECT id, i2 FROM items ORDER BY i2 NULLS FIRST, id',
  'SELECT id, vc, tc FROM items ORDER BY tc, vc, id',
  'SELECT t, id FROM items ORDER BY 2 DESC',
  'SELECT id, t AS z FROM items ORDER BY z, id',
  'SELECT t AS id, id AS t FROM items ORDER BY id, t',
  'SELECT id AS x FROM items ORDER BY items.id DESC',
  'SELECT id, i2 FROM items WHERE i2 > 0 ORDER BY i2 DESC, 1 ASC',
  // LIMIT / OFFSET
  'SELECT id FROM items ORDER BY id LIMIT 5',
  'SELECT id FROM items ORDER BY id LIMIT 0',
  'SELECT id FROM items ORDER BY id LIMIT ALL',
  'SELECT id FROM items ORDER BY id OFFSET 3',
  'SELECT id FROM items ORDER BY id LIMIT 3 OFFSET 2',
  'SELECT id FROM items ORDER BY id OFFSET 2 LIMIT 3',
  'SELECT id FROM items ORDER BY id LIMIT NULL',
  'SELECT id FROM items ORDER BY id OFFSET 100',
  'SELECT id FROM items ORDER BY id DESC FETCH FIRST 2 ROWS ONLY',
  'SELECT id FROM items ORDER BY id OFFSET 1 ROW FETCH NEXT 3 ROWS ONLY',
  'SELECT id, t FROM items LIMIT 4',
  'SELECT id FROM items ORDER BY id LIMIT 9999999999',
  // several statements
  'SELECT id FROM items WHERE id = 1; SELECT t FROM items WHERE id = 2',
  'SELECT id FROM items ORDER BY id LIMIT 2;;SELECT k FROM other."Items";',
];

describe('local answers equal upstream', () => {
  for (const sql of QUERIES) test(sql, () => same(sql));

  test('ties in ORDER BY: same rows, same key order', async () => {
    await same('SELECT b FROM items ORDER BY b', { unordered: true });
    await same('SELECT id, b FROM items ORDER BY b DESC', { unordered: true });
  });
});

describe('session settings', () => {
  const zoneQuery = 'SELECT id, ts FROM items WHERE ts IS NOT NULL OR id = 12 ORDER BY id';
  for (const zone of [
    'America/New_York',
    'Asia/Kolkata',
    'Europe/Berlin',
    'Australia/Sydney',
    'Etc/UTC',
    'GMT',
    'UTC',
  ]) {
    test(`timestamptz under TimeZone ${zone}`, async () => {
      await client.query(`SET TimeZone = '${zone}'`);
      try {
        assert.equal(session.params.get('TimeZone'), zone);
        await same(zoneQuery);
        await same('SELECT * FROM items ORDER BY id');
      } finally {
        await client.query("SET TimeZone = 'UTC'");
      }
    });
  }

  test('lower-case utc is reported as given and still local', async () => {
    await client.query("SET TimeZone = 'utc'");
    try {
      await same(zoneQuery);
    } finally {
      await client.query("SET TimeZone = 'UTC'");
    }
  });

  test('DateStyle ISO, DMY and ISO, YMD stay local', async () => {
    for (const style of ['ISO, DMY', 'ISO, YMD']) {
      await client.query(`SET DateStyle = '${style}'`);
      try {
        await same("SELECT id, d, ts, tsn FROM items WHERE d > '2001-01-01' ORDER BY d, id");
      } finally {
        await client.query("SET DateStyle = 'ISO, MDY'");
      }
    }
  });

  test('non-ISO DateStyle forwards date output but not integer output', async () => {
    await client.query("SET DateStyle = 'German'");
    try {
      const r = router.route('SELECT id, d FROM items', session);
      assert.equal(r.kind, 'upstream');
      await same('SELECT id, t FROM items ORDER BY id');
    } finally {
      await client.query("SET DateStyle = 'ISO, MDY'");
    }
  });

  test('non-postgres IntervalStyle forwards interval output', async () => {
    await client.query("SET IntervalStyle = 'iso_8601'");
    try {
      const r = router.route('SELECT iv FROM items', session);
      assert.deepEqual(r, { kind: 'upstream', reason: 'IntervalStyle iso_8601' });
    } finally {
      await client.query("SET IntervalStyle = 'postgres'");
    }
  });

  test('IntervalStyle sql_standard forwards a signed interval constant, whatever the output type', async () => {
    // sql_standard applies a leading sign to every field of the input
    // (DecodeInterval): '-1 2:00' is -1 day -2 hours there, -1 day +2 hours
    // under postgres. The output here is a boolean, which no renderer gates.
    const sql = "SELECT '-1 2:00'::interval = '-1 day -2 hours'::interval AS eq";
    assert.equal(router.route(sql, session).kind, 'local');
    await same(sql);
    await client.query("SET IntervalStyle = 'sql_standard'");
    try {
      assert.deepEqual((await client.query(sql)).rows, [{ eq: true }]);
      const r = router.route(sql, session);
      assert.equal(r.kind, 'upstream');
      assert.equal(
        r.kind === 'upstream' && r.reason,
        'interval input with a sign under IntervalStyle sql_standard',
      );
      // Unsigned interval input reads the same under every style: still local.
      assert.equal(
        router.route("SELECT '1 2:00'::interval = '1 day 2 hours'::interval AS eq", session).kind,
        'local',
      );
    } finally {
      await client.query("SET IntervalStyle = 'postgres'");
    }
  });

  test('unverified time zone forwards timestamptz', async () => {
    await client.query("SET TimeZone = 'America/Sao_Paulo'");
    try {
      const r = router.route('SELECT ts FROM items', session);
      assert.equal(r.kind, 'upstream');
      await same('SELECT id, d FROM items ORDER BY id');
    } finally {
      await client.query("SET TimeZone = 'UTC'");
    }
  });
});
