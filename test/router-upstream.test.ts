/**
 * Everything the local path cannot answer exactly must be forwarded with a
 * reason, never answered locally; and session-level rules (snapshot,
 * database, transaction, SET side effects, search_path) are honoured.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { NotLocal } from '../src/errors.js';
import { Router } from '../src/router/router.js';
import type { Route } from '../src/router/types.js';
import { newSessionState, type SessionState } from '../src/session.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';
import { connectTracked, createReplicaFixture, type ReplicaFixture } from './helpers/replica-fixture.js';

let pgi: PostgresInstance;
let client: pg.Client;
let baseSession: SessionState;
let fixture: ReplicaFixture;
let router: Router;

before(async () => {
  pgi = await startPostgres();
  ({ client, session: baseSession } = await connectTracked(pgi));
  await client.query(`
    CREATE TABLE items (id int4, t text, b bool, d date, f8 float8, n numeric, ts timestamptz, bp char(3),
                        tu text COLLATE "ucs_basic", m money, f4 float4);
    INSERT INTO items VALUES (1, 'a', true, '2024-01-01', 1.5, 1, '2024-01-01 00:00:00+00', 'x', 'u', 1, 2.5),
                             (2, 'b', false, '2024-01-02', 2.5, 2, '2024-01-02 00:00:00+00', 'y', 'v', 2, 3.5);
    CREATE TABLE bc (id int4, d date);
    INSERT INTO bc VALUES (1, '2024-01-01'), (2, '0044-03-15 BC'), (3, '12345-01-01');
    CREATE TABLE zeros (id int4, f float8);
    INSERT INTO zeros VALUES (1, 1.5), (2, 0), (3, '-0');
    CREATE TABLE old_ts (id int4, ts timestamptz);
    INSERT INTO old_ts VALUES (1, '2020-01-01 00:00:00+00'), (2, '1901-01-01 00:00:00+00');
    CREATE SCHEMA alice;
    CREATE TABLE alice.other (x int4);
  `);
  fixture = createReplicaFixture();
  await fixture.load(client, [
    { schema: 'public', name: 'items' },
    { schema: 'public', name: 'bc' },
    { schema: 'public', name: 'zeros' },
    { schema: 'public', name: 'old_ts' },
    { schema: 'alice', name: 'other' },
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

/** A fresh session with the real server's reported parameters. */
function session(user = 'postgres', database = 'postgres'): SessionState {
  const s = newSessionState(user, database);
  for (const [k, v] of baseSession.params) s.params.set(k, v);
  return s;
}

function expectUpstream(sql: string, reasonPattern: RegExp, s: SessionState = session()): void {
  const r = router.route(sql, s);
  assert.equal(r.kind, 'upstream', `expected upstream for ${sql}`);
  if (r.kind !== 'upstream') return;
  assert.match(r.reason, reasonPattern, `reason for ${sql}`);
  assert.equal(s.lastRoute, `upstream: ${r.reason}`);
}

function expectLocal(sql: string, s: SessionState = session()): Route & { kind: 'local' } {
  const r = router.route(sql, s);
  assert.equal(r.kind, 'local', `expected local for ${sql}: ${r.kind === 'upstream' ? r.reason : ''}`);
  return r as Route & { kind: 'local' };
}

const UNSUPPORTED: [string, RegExp][] = [
  ['SELECT a.id FROM items a JOIN items b ON a.id = b.id', /join/],
  ['SELECT items.id FROM items, bc', /join/],
  ['SELECT lower(t) FROM items', /function call lower\(\)/],
  ['SELECT id FROM items WHERE lower(t) = $$a$$', /function call lower\(\)/],
  ['SELECT count(*) FROM items', /function call count\(\)/],
  ['SELECT id::text FROM items', /cast/],
  ["SELECT id FROM items WHERE d = date '2024-01-01'", /cast/],
  ['SELECT id + 1 FROM items', /operator \+/],
  ['SELECT 1 FROM items', /constant in select list/],
  ['SELECT 1', /SELECT without FROM/],
  ['SELECT id FROM items GROUP BY id', /GROUP BY/],
  ['SELECT id FROM items GROUP BY id HAVING id > 1', /GROUP BY/],
  ['SELECT DISTINCT id FROM items', /DISTINCT/],
  ['SELECT DISTINCT ON (id) id FROM items', /DISTINCT/],
  ['SELECT id FROM (SELECT id FROM items) s', /subquery in FROM/],
  ['SELECT id FROM items WHERE id IN (SELECT id FROM bc)', /subquery/],
  ['SELECT id FROM items WHERE id IN (1, 2)', /IN/],
  ['SELECT id FROM items WHERE EXISTS (SELECT 1 FROM bc)', /subquery/],
  ['SELECT (SELECT 1) FROM items', /subquery in select list/],
  ['WITH x AS (SELECT id FROM items) SELECT id FROM x', /WITH/],
  ['SELECT id FROM items UNION SELECT id FROM bc', /set operation/],
  ['SELECT id FROM items EXCEPT SELECT id FROM bc', /set operation/],
  ['SELECT id FROM items WHERE id = $1', /parameter/],
  ['SELECT id FROM items FOR UPDATE', /locking clause/],
  ['SELECT id FROM items FOR SHARE', /locking clause/],
  ['SELECT id INTO newtab FROM items', /SELECT INTO/],
  ['SELECT relname FROM pg_class', /system catalog/],
  ['SELECT relname FROM pg_catalog.pg_class', /pg_catalog\.pg_class not in replica/],
  ['SELECT table_name FROM information_schema.tables', /information_schema\.tables not in replica/],
  ['SELECT * FROM nosuch', /table nosuch not in replica/],
  ['SELECT * FROM public.nosuch', /table public\.nosuch not in replica/],
  ['SELECT * FROM "Items"', /table Items not in replica/],
  ['SELECT ctid, id FROM items', /column ctid not in public\.items/],
  ['SELECT xmin FROM items', /column xmin/],
  ['SELECT nosuch FROM items', /column nosuch/],
  ['SELECT items FROM items', /column items/],
  ['SELECT x.id FROM items', /unknown qualifier x/],
  ['SELECT items.id FROM items i', /unknown qualifier items/],
  ['SELECT public.items.id FROM items', /more than two parts/],
  ['SELECT * FROM ONLY items', /ONLY/],
  ['SELECT * FROM items TABLESAMPLE SYSTEM (10)', /TABLESAMPLE/],
  ['SELECT * FROM postgres.public.items', /database-qualified/],
  ['SELECT * FROM generate_series(1, 3)', /function in FROM/],
  ['SELECT * FROM items AS i(a, b)', /column aliases/],
  ['SELECT i.* AS x FROM items i', /./],
  ['SELECT FROM items', /empty select list/],
  ['SELECT id FROM items ORDER BY id + 1', /operator \+ in ORDER BY/],
  ['SELECT id FROM items ORDER BY lower(t)', /function call lower\(\) in ORDER BY/],
  ['SELECT id FROM items ORDER BY 3', /ORDER BY position 3/],
  ['SELECT id FROM items ORDER BY 0', /ORDER BY position 0/],
  ["SELECT id FROM items ORDER BY 'x'", /non-integer constant/],
  ['SELECT id AS x, t AS x FROM items ORDER BY x', /ambiguous/],
  ['SELECT id FROM items ORDER BY id USING <', /USING/],
  ['SELECT id FROM items ORDER BY n', /comparison on type numeric/],
  ['SELECT id FROM items ORDER BY ts', /comparison on type timestamptz/],
  ['SELECT id FROM items ORDER BY bp', /comparison on type bpchar/],
  ['SELECT id FROM items ORDER BY f4', /comparison on type float4/],
  ['SELECT id FROM items ORDER BY tu', /non-C collation ucs_basic/],
  ["SELECT id FROM items WHERE tu = 'u'", /non-C collation/],
  ['SELECT id FROM items WHERE t = tu', /non-C collation/],
  ['SELECT id FROM items LIMIT -1', /negative LIMIT/],
  ['SELECT id FROM items OFFSET -1', /negative OFFSET/],
  ['SELECT id FROM items LIMIT 1.5', /non-integer LIMIT/],
  ["SELECT id FROM items LIMIT '2'", /non-integer LIMIT/],
  ['SELECT id FROM items LIMIT 1 + 1', /in LIMIT/],
  ['SELECT id FROM items ORDER BY id FETCH FIRST 1 ROW WITH TIES', /WITH TIES/],
  // comparisons Postgres would type differently, or reject
  ['SELECT id FROM items WHERE t = 1', /comparison of text with integer constant/],
  ["SELECT id FROM items WHERE id = 'abc'", /comparison of int4 with string constant/],
  ["SELECT id FROM items WHERE id = ' 1'", /string constant/],
  ["SELECT id FROM items WHERE id = '3000000000'", /string constant/],
  ['SELECT id FROM items WHERE id = 1.5', /numeric constant/],
  ['SELECT id FROM items WHERE id = 99999999999999999999', /numeric constant/],
  ['SELECT id FROM items WHERE b = 1', /comparison of bool with integer/],
  ["SELECT id FROM items WHERE b = 't'", /comparison of bool with string/],
  ['SELECT id FROM items WHERE id = NULL', /comparison with NULL/],
  ['SELECT id FROM items WHERE id = id + 1', /operator \+/],
  ['SELECT id FROM items WHERE 1 = 1', /comparison other than column/],
  ['SELECT id FROM items WHERE id', /non-boolean column id used as condition/],
  ['SELECT id FROM items WHERE NULL', /constant condition/],
  ["SELECT id FROM items WHERE d = '2024-1-1'", /comparison of date with string/],
  ["SELECT id FROM items WHERE d = '2023-02-29'", /comparison of date with string/],
  ["SELECT id FROM items WHERE d = 'today'", /comparison of date with string/],
  ["SELECT id FROM items WHERE d = '20240101'", /comparison of date with string/],
  ['SELECT id FROM items WHERE d = id', /comparison of date with int4/],
  ['SELECT id FROM items WHERE f8 = 9007199254740993', /comparison of float8 with integer constant/],
  ["SELECT id FROM items WHERE f8 = 'NaN'", /comparison of float8 with string/],
  ['SELECT id FROM items WHERE f8 = 1e400', /numeric constant/],
  ['SELECT id FROM items WHERE f8 = id', /comparison of float8 with int4/],
  ["SELECT id FROM items WHERE n = '1'", /comparison on type numeric/],
  ["SELECT id FROM items WHERE ts > '2024-01-01'", /comparison on type timestamptz/],
  ["SELECT id FROM items WHERE bp = 'x'", /comparison on type bpchar/],
  ["SELECT id FROM items WHERE t LIKE 'a%'", /LIKE/],
  ["SELECT id FROM items WHERE t ILIKE 'a%'", /ILIKE/],
  ['SELECT id FROM items WHERE id BETWEEN 1 AND 2', /BETWEEN/],
  ["SELECT id FROM items WHERE t ~ 'a'", /operator ~/],
  ['SELECT id FROM items WHERE id = ANY(ARRAY[1])', /ANY/],
  ['SELECT id FROM items WHERE id OPERATOR(pg_catalog.=) 1', /operator \?/],
  ['SELECT id FROM items WHERE t = \'a\' COLLATE "C"', /COLLATE/],
  ['SELECT id FROM items WHERE b IS NOT DISTINCT FROM 1', /comparison of bool with integer/],
  ['SELECT id FROM items WHERE ROW(id, id) IS NULL', /row constructor|row IS NULL/],
  ['SELECT id FROM items WHERE id = 0x10', /non-decimal or underscored number/],
  ['SELECT id FROM items WHERE id = 1_000', /non-decimal or underscored number/],
  ['SELECT id FROM items LIMIT 0b1', /non-decimal or underscored number/],
  // output types we cannot render
  ['SELECT m FROM items', /type money/],
  [`SELECT id AS "${'x'.repeat(64)}" FROM items`, /identifier longer than 63 bytes/],
  [`SELECT id AS ${'é'.repeat(32)} FROM items`, /identifier longer than 63 bytes/],
  [`SELECT id AS U&"${'x'.repeat(64)}" FROM items`, /identifier longer than 63 bytes/],
];

describe('unsupported constructs go upstream', () => {
  for (const [sql, reason] of UNSUPPORTED) test(sql, () => expectUpstream(sql, reason));
});

describe('statement-level rules', () => {
  test('unparseable SQL goes upstream', () => {
    expectUpstream('SELEC id FROM items', /parse error: syntax error at or near "SELEC"/);
    expectUpstream('SELECT id FROM items WHERE', /parse error/);
    expectUpstream("SELECT 'unterminated", /parse error/);
  });

  test('empty query goes upstream', () => {
    expectUpstream('', /empty query/);
    expectUpstream(' ; ', /empty query/);
  });

  test('non-SELECT statements go upstream', () => {
    expectUpstream('INSERT INTO items (id) VALUES (3)', /write \(INSERT\)/);
    expectUpstream('UPDATE items SET id = 1', /write \(UPDATE\)/);
    expectUpstream('DELETE FROM items', /write \(DELETE\)/);
    expectUpstream('BEGIN', /transaction control/);
    expectUpstream('EXPLAIN SELECT id FROM items', /EXPLAIN/);
    expectUpstream('SHOW TimeZone', /SHOW/);
    expectUpstream('VALUES (1)', /VALUES/);
    expectUpstream('TABLE items', /type money/);
  });

  test('multi-statement strings are local only if every statement is', () => {
    expectUpstream('SELECT id FROM items; SELECT lower(t) FROM items', /function call lower/);
    expectUpstream('SELECT id FROM items; INSERT INTO items (id) VALUES (9)', /INSERT/);
    expectLocal('SELECT id FROM items; SELECT t FROM items');
  });

  test('SHOW outpost.last_route in any case', () => {
    for (const sql of ['SHOW outpost.last_route', 'show OUTPOST.LAST_ROUTE', 'SHOW "outpost.last_route";']) {
      const s = session();
      s.lastRoute = 'local';
      assert.deepEqual(router.route(sql, s), { kind: 'show-last-route' });
      assert.equal(s.lastRoute, 'local');
    }
    expectUpstream('SHOW outpost.last_route; SELECT id FROM items', /SHOW/);
  });

  test('snapshot not complete', () => {
    fixture.catalog.complete = false;
    try {
      expectUpstream('SELECT id FROM items', /replica snapshot not complete/);
    } finally {
      fixture.catalog.complete = true;
    }
  });

  test('other database', () => {
    expectUpstream('SELECT id FROM items', /database other not replicated/, session('postgres', 'other'));
  });

  test('inside a transaction', () => {
    for (const tx of ['T', 'E'] as const) {
      const s = session();
      s.txStatus = tx;
      expectUpstream('SELECT id FROM items', /inside a transaction/, s);
    }
  });

  test('localDisabled is reported', () => {
    const s = session();
    s.localDisabled = 'because';
    expectUpstream('SELECT id FROM items', /^because$/, s);
  });

  test('client_encoding, extra_float_digits and standard_conforming_strings', () => {
    const s1 = session();
    s1.params.set('client_encoding', 'LATIN1');
    expectUpstream('SELECT id FROM items', /client_encoding LATIN1/, s1);
    const s2 = session();
    s2.params.set('standard_conforming_strings', 'off');
    expectUpstream('SELECT id FROM items', /standard_conforming_strings off/, s2);
    const s3 = session();
    s3.params.set('extra_float_digits', '0');
    expectUpstream('SELECT id FROM items', /extra_float_digits 0/, s3);
  });
});

describe('statements that change what the local path depends on', () => {
  const DISABLING: [string, RegExp][] = [
    ['SET search_path = alice, public', /search_path/],
    ['SET search_path TO DEFAULT', /search_path/],
    ["SET SCHEMA 'alice'", /search_path/],
    ["SELECT set_config('search_path', 'alice', false)", /set_config/],
    ['SET extra_float_digits = 0', /extra_float_digits/],
    ['SET extra_float_digits = -3', /extra_float_digits/],
    ["SET bytea_output = 'escape'", /bytea_output/],
    ["SET lc_monetary = 'C'", /lc_monetary/],
    ['SET ROLE nobody', /role/],
    ['SET SESSION AUTHORIZATION nobody', /session_authorization/],
    ['SET LOCAL search_path = alice', /search_path/],
    ['CREATE TEMP TABLE items (x int)', /temporary table/],
    ['CREATE TEMPORARY VIEW items AS SELECT 1', /temporary view/],
    ['CREATE TABLE pg_temp.items (x int)', /temporary table/],
    ['CREATE TEMP TABLE items AS SELECT 1', /temporary table/],
    ['SELECT 1 INTO TEMP items', /temporary table/],
    ['CREATE TEMP SEQUENCE items', /temporary sequence/],
    ['CREATE SCHEMA postgres', /schema created/],
    ["DO $$ BEGIN PERFORM set_config('search_path', 'x', false); END $$", /DO/],
    ['BEGIN; SET search_path = alice; COMMIT', /search_path/],
  ];
  for (const [sql, reason] of DISABLING) {
    test(sql, () => {
      const s = session();
      const r = router.route(sql, s);
      assert.equal(r.kind, 'upstream');
      assert.match(s.localDisabled ?? '', reason);
      expectUpstream('SELECT id FROM items', reason, s);
    });
  }

  const HARMLESS = [
    "SET TimeZone = 'Europe/Berlin'",
    'SET extra_float_digits = 3',
    'SET extra_float_digits TO 1',
    'SET statement_timeout = 1000',
    'RESET ALL',
    'RESET search_path',
    'DISCARD ALL',
    'CREATE TABLE permanent (x int)',
    'SELECT now()',
    'SET TRANSACTION ISOLATION LEVEL SERIALIZABLE',
  ];
  for (const sql of HARMLESS) {
    test(`harmless: ${sql}`, () => {
      const s = session();
      router.route(sql, s);
      assert.equal(s.localDisabled, undefined);
      expectLocal('SELECT id FROM items', s);
    });
  }
});

describe('name resolution', () => {
  test('an unqualified name is forwarded when a schema named like the user exists', () => {
    expectUpstream('SELECT id FROM items', /schema "alice" may shadow/, session('alice'));
    // Qualified names are unaffected.
    expectLocal('SELECT id FROM public.items', session('alice'));
    expectLocal('SELECT x FROM alice.other', session('alice'));
  });

  test('upstreamSchemas reveals schemas without replicated tables', async () => {
    const r = await Router.create({
      catalog: fixture.catalog,
      reader: fixture.reader,
      database: 'postgres',
      textCollationIsC: true,
      upstreamSchemas: () => new Set(['public', 'bob']),
    });
    const s = session('bob');
    const route = r.route('SELECT id FROM items', s);
    assert.deepEqual(route, { kind: 'upstream', reason: 'schema "bob" may shadow unqualified names' });
    assert.equal(r.route('SELECT id FROM items', session('carol')).kind, 'local');
  });

  test('a reported non-default search_path forwards unqualified names only', () => {
    const s = session();
    s.params.set('search_path', 'alice, public');
    expectUpstream('SELECT id FROM items', /search_path alice, public/, s);
    expectLocal('SELECT id FROM public.items', s);
    const d = session();
    d.params.set('search_path', '"$user", public');
    expectLocal('SELECT id FROM items', d);
  });

  test('unqualified names are not looked up in other schemas', () => {
    expectUpstream('SELECT x FROM other', /table other not in replica/);
  });

  test('access check forwards with its reason', async () => {
    const r = await Router.create({
      catalog: fixture.catalog,
      reader: fixture.reader,
      database: 'postgres',
      textCollationIsC: true,
      access: {
        check: (s, t) =>
          s.user === 'mallory' && t.name === 'items' ? 'role mallory lacks SELECT' : undefined,
      },
    });
    const m = session('mallory');
    assert.deepEqual(r.route('SELECT id FROM items', m), {
      kind: 'upstream',
      reason: 'role mallory lacks SELECT',
    });
    assert.equal(r.route('SELECT id FROM bc', session('mallory')).kind, 'local');
  });

  test('text comparison needs a C database collation', async () => {
    const r = await Router.create({
      catalog: fixture.catalog,
      reader: fixture.reader,
      database: 'postgres',
      textCollationIsC: false,
    });
    assert.deepEqual(r.route("SELECT id FROM items WHERE t = 'a'", session()), {
      kind: 'upstream',
      reason: 'non-C collation default on column t',
    });
    assert.equal(r.route('SELECT t FROM items ORDER BY id', session()).kind, 'local');
  });
});

describe('values the replica cannot compare or render exactly fail at run time', () => {
  function runFails(sql: string, reason: RegExp, s: SessionState = session()): void {
    const r = expectLocal(sql, s);
    assert.throws(
      () => r.run(),
      (err: unknown) => err instanceof NotLocal && reason.test(err.reason),
    );
  }

  test('dates outside 4-digit AD years in comparisons and sorts', () => {
    runFails("SELECT id FROM bc WHERE d < '2025-01-01'", /date outside years 1-9999 AD/);
    runFails('SELECT id FROM bc ORDER BY d', /date outside years 1-9999 AD/);
    // Filtered out before the comparison: fine.
    const r = expectLocal("SELECT id, d FROM bc WHERE id = 1 AND d < '2025-01-01'");
    assert.deepEqual(r.run()[0]?.rows, [['1', '2024-01-01']]);
    // Rendering them is exact.
    assert.deepEqual(expectLocal('SELECT d FROM bc').run()[0]?.rows, [
      ['2024-01-01'],
      ['0044-03-15 BC'],
      ['12345-01-01'],
    ]);
  });

  test('float zero (sign lost in SQLite) is never rendered', () => {
    runFails('SELECT f FROM zeros', /zero/);
    assert.deepEqual(expectLocal('SELECT f FROM zeros WHERE id = 1').run()[0]?.rows, [['1.5']]);
    // Comparing zeros is fine: -0 = 0 in Postgres too.
    assert.deepEqual(expectLocal('SELECT id FROM zeros WHERE f = 0').run()[0]?.rows, [['2'], ['3']]);
  });

  test('timestamptz outside the verified years under a non-UTC zone', () => {
    const s = session();
    s.params.set('TimeZone', 'Europe/Berlin');
    runFails('SELECT ts FROM old_ts', /outside the verified range/, s);
    assert.deepEqual(expectLocal('SELECT ts FROM old_ts WHERE id = 1', s).run()[0]?.rows, [
      ['2020-01-01 01:00:00+01'],
    ]);
  });
});

describe('plan cache', () => {
  test('a catalog change invalidates cached plans', async () => {
    expectUpstream('SELECT * FROM public.later', /not in replica/);
    await client.query('CREATE TABLE later (v int4); INSERT INTO later VALUES (7)');
    await fixture.load(client, [{ schema: 'public', name: 'later' }]);
    assert.deepEqual(expectLocal('SELECT * FROM public.later').run()[0]?.rows, [['7']]);
  });

  test('route timing', () => {
    const s = session();
    const sql = "SELECT id, t FROM items WHERE t = 'a' AND id > 0 ORDER BY id LIMIT 10";
    const t0 = performance.now();
    for (let i = 0; i < 2000; i++) {
      const r = router.route(sql, s);
      if (r.kind === 'local') r.run();
    }
    const perCall = (performance.now() - t0) / 2000;
    // Generous bound: cached route + run of a tiny result.
    assert.ok(perCall < 1, `route+run ${perCall.toFixed(3)} ms`);
    console.log(`cached route+run: ${(perCall * 1000).toFixed(1)} µs`);
  });
});
