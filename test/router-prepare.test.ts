/**
 * Router.prepare (extended protocol): ParameterDescription types equal what
 * Postgres reports for Parse/Describe (declared types win, the rest inferred
 * like Postgres), and every execution with text parameters equals
 * upstream's result for the same parameters (node-postgres sends them
 * through Parse/Bind/Execute).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { NotLocal } from '../src/errors.js';
import { Router } from '../src/router/router.js';
import type { SessionState } from '../src/session.js';
import { describeStatement, samePrepared } from './helpers/differential.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';
import { connectTracked, createReplicaFixture, type ReplicaFixture } from './helpers/replica-fixture.js';

let pgi: PostgresInstance;
let client: pg.Client;
let session: SessionState;
let fixture: ReplicaFixture;
let router: Router;

const SETUP = `
CREATE TABLE pgbench_accounts (aid int4 PRIMARY KEY, bid int4, abalance int4, filler char(84));
INSERT INTO pgbench_accounts SELECT g, 1 + g / 100, g * 7 % 1000 - 500, '' FROM generate_series(1, 1000) g;
CREATE TABLE items (
  id int4, i2 int2, i8 int8, b bool, f8 float8, f4 float4, n numeric, t text, vc varchar(8), d date,
  ts timestamptz, u uuid, g int4
);
INSERT INTO items VALUES
 (1, 1, 10, true, 1.5, 1.5, 1.5, 'abc', 'abc', '2024-01-01', '2024-01-01 00:00:05+00', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 1),
 (2, 2, 9223372036854775807, false, -0, 0, 1.50, 'a%c', 'x y', 'infinity', '2024-01-01 00:00:05.25+00', NULL, 1),
 (3, NULL, -30, NULL, 'NaN', 'NaN', 'NaN', 'x y', NULL, '2000-02-29', '2024-01-01 00:00:05.5+00', NULL, 2),
 (4, 4, NULL, true, 0, -0, 100, '', 'É', NULL, NULL, NULL, 2),
 (5, 5, 50, false, 'Infinity', 1e10, '-0.001', NULL, 'abc', '1999-12-31', '1999-12-31 23:59:59.999999+00', NULL, 3),
 (6, -6, 60, true, 1e-300, 2, 100.000, 'ABC', '', '2024-01-01', 'infinity', NULL, NULL);
CREATE TABLE o (id int4, t_id int4, qty int4);
INSERT INTO o VALUES (1, 1, 5), (2, 1, 7), (3, 2, 1), (4, 9, 3), (5, NULL, 2);
`;

before(async () => {
  pgi = await startPostgres();
  ({ client, session } = await connectTracked(pgi));
  await client.query(SETUP);
  fixture = createReplicaFixture();
  await fixture.load(
    client,
    ['pgbench_accounts', 'items', 'o'].map((name) => ({ schema: 'public', name })),
  );
  // The replica store indexes key columns; so does this fixture, for the timing below.
  const accounts = fixture.catalog.findTable('public', 'pgbench_accounts');
  // aid is attnum 1.
  fixture.db.exec(`CREATE INDEX pgbench_accounts_key ON "${accounts?.sqliteName}" (a1)`);
  router = await Router.create({
    catalog: fixture.catalog,
    reader: fixture.reader,
    database: 'postgres',
    textCollationIsC: true,
    textCtypeIsC: true,
  });
});

after(async () => {
  await client?.end();
  fixture?.close();
  await pgi?.stop();
});

type Case = [
  sql: string,
  executions: (string | null)[][],
  opts?: { declared?: number[]; unordered?: boolean },
];

const CASES: Case[] = [
  [
    'SELECT abalance FROM pgbench_accounts WHERE aid = $1',
    [['1'], ['500'], ['1001'], [null], ['007'], ['+3'], ['-1']],
  ],
  ['SELECT * FROM items WHERE id = $1', [['1'], ['2'], ['3'], ['4'], ['5'], ['6']]],
  ['SELECT id FROM items WHERE i2 = $1', [['1'], ['-6'], ['32767']]],
  ['SELECT id FROM items WHERE i8 = $1', [['9223372036854775807'], ['-30']]],
  ['SELECT id FROM items WHERE $1 = id', [['3']]],
  ['SELECT id FROM items WHERE t = $1', [['abc'], [''], [null], ['x y']]],
  ['SELECT id FROM items WHERE vc = $1', [['abc'], ['É']]],
  ['SELECT id FROM items WHERE b = $1', [['t'], ['false'], ['yes'], ['OFF'], ['1']]],
  ['SELECT id FROM items WHERE b IS DISTINCT FROM $1', [['t'], [null]]],
  [
    'SELECT id FROM items WHERE f8 = $1',
    [['1.5'], ['0'], ['-0'], ['NaN'], ['Infinity'], ['1e-300'], ['-inf']],
  ],
  ['SELECT id FROM items WHERE f8 > $1 ORDER BY f8, id', [['0'], ['-1e308'], ['1.4999999999999999']]],
  ['SELECT id FROM items WHERE n = $1', [['1.5'], ['1.50'], ['100'], ['NaN'], ['-0.0010'], ['1e2'], ['.5']]],
  ['SELECT id FROM items WHERE n < $1 ORDER BY n, id', [['100'], ['Infinity'], ['0']]],
  ['SELECT id FROM items WHERE d = $1', [['2024-01-01'], ['infinity'], ['2000-02-29']]],
  ['SELECT id FROM items WHERE d < $1 ORDER BY d, id', [['2024-01-01'], ['-infinity']]],
  [
    'SELECT id FROM items WHERE ts > $1 ORDER BY ts, id',
    [['2024-01-01 00:00:05+00'], ['2024-01-01T00:00:05.25Z'], ['2024-01-01 01:00:05.3+01'], ['-infinity']],
  ],
  [
    'SELECT id FROM items WHERE u = $1',
    [['A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'], ['a0eebc999c0b4ef8bb6d6bb9bd380a11']],
  ],
  [
    'SELECT id FROM items WHERE id IN ($1, $2)',
    [
      ['1', '2'],
      ['1', null],
      [null, null],
    ],
  ],
  [
    'SELECT id FROM items WHERE id NOT IN ($1, $2)',
    [
      ['1', '2'],
      ['1', null],
    ],
  ],
  ['SELECT id FROM items WHERE i2 IN ($1, 5)', [['1'], ['70000']]],
  ['SELECT id FROM items WHERE i2 IN ($1, $2)', [['1', '4']]],
  ['SELECT id FROM items WHERE vc IN ($1, $2)', [['abc', 'É']]],
  ['SELECT id FROM items WHERE vc IN ($1)', [['abc']]],
  ['SELECT id FROM items WHERE id IN ($1, i2)', [['3']]],
  [
    'SELECT id FROM items WHERE id = ANY($1)',
    [['{1,2,3}'], ['{}'], [null], ['{1,NULL}'], ['{ 1 , 5 }'], ['{"4"}']],
  ],
  ['SELECT id FROM items WHERE id <> ALL($1)', [['{1,2,3}'], ['{}'], [null], ['{1,NULL}']]],
  ['SELECT id FROM items WHERE i8 = ANY($1)', [['{10,-30}']]],
  ['SELECT id FROM items WHERE t = ANY($1)', [['{abc,"x y",""}'], ['{"a%c",NULL}'], ['{"NULL"}']]],
  ['SELECT id FROM items WHERE vc = ANY($1)', [['{abc,É}']]],
  ['SELECT id FROM items ORDER BY id LIMIT $1', [['2'], ['0'], [null], ['100']]],
  [
    'SELECT id FROM items ORDER BY id LIMIT $1 OFFSET $2',
    [
      ['2', '1'],
      [null, '3'],
      ['1', null],
    ],
  ],
  ['SELECT id FROM items ORDER BY id OFFSET $1', [['4']]],
  [
    'SELECT id FROM items WHERE id BETWEEN $1 AND $2',
    [
      ['2', '4'],
      ['4', '2'],
      [null, '3'],
    ],
  ],
  ['SELECT id FROM items WHERE i2 BETWEEN $1 AND 5', [['-10']]],
  ['SELECT id FROM items WHERE t LIKE $1', [['a%'], ['%c'], ['%'], ['_']]],
  ['SELECT id FROM items WHERE t ILIKE $1', [['a%'], ['ABC']]],
  [
    'SELECT id FROM items WHERE t LIKE $1 ESCAPE $2',
    [
      ['a!%c', '!'],
      ['a%', ''],
    ],
  ],
  ['SELECT id + $1, $1 + id FROM items ORDER BY id', [['1'], ['-5']]],
  ['SELECT i2 + $1 FROM items ORDER BY id', [['1']]],
  [
    'SELECT $1::int8, $2::text, $3::numeric, $4::date FROM items WHERE id = 1',
    [['5', 'x', '1.50', '2024-02-29']],
  ],
  ['SELECT $1 FROM items WHERE id = 1', [['hello'], [null]]],
  [
    'SELECT $1 = $2 FROM items WHERE id = 1',
    [
      ['a', 'a'],
      ['a', 'b'],
    ],
  ],
  ['SELECT t || $1 FROM items ORDER BY id', [['!']]],
  ['SELECT coalesce(vc, $1) FROM items ORDER BY id', [['none']]],
  ['SELECT coalesce($1, id) FROM items ORDER BY id', [['7'], [null]]],
  ['SELECT nullif(id, $1) FROM items ORDER BY id', [['3']]],
  ['SELECT id FROM items WHERE id = $1 OR i8 = $1', [['5'], ['10']]],
  [
    'SELECT g, count(*) FROM items WHERE id > $1 GROUP BY g HAVING count(*) >= $2 ORDER BY 1',
    [
      ['0', '2'],
      ['1', '1'],
    ],
  ],
  ["SELECT CASE id WHEN $1 THEN 'x' ELSE 'y' END FROM items ORDER BY id", [['2']]],
  [
    'SELECT id FROM items WHERE EXISTS (SELECT 1 FROM o WHERE o.t_id = items.id AND o.qty > $1) ORDER BY id',
    [['2'], ['6']],
  ],
  ['SELECT items.id, o.qty FROM items JOIN o ON o.t_id = items.id WHERE o.qty < $1 ORDER BY o.id', [['6']]],
  ['SELECT id FROM items WHERE id IN (SELECT t_id FROM o WHERE qty > $1) ORDER BY id', [['4']]],
  ['SELECT id FROM items WHERE id < $1 UNION ALL SELECT t_id FROM o WHERE qty = $1', [['3']]],
  ['WITH c AS (SELECT id FROM items WHERE id > $1) SELECT count(*) FROM c', [['2']]],
  ['SELECT count(*) FROM items', [[]]],
  // declared types win
  ['SELECT id FROM items WHERE id = $1', [['2']], { declared: [20] }],
  ['SELECT id FROM items WHERE id = $1', [['2', 'unused']], { declared: [23, 25] }],
  ['SELECT id FROM items WHERE t = $1', [['abc']], { declared: [25] }],
  ['SELECT id FROM items WHERE vc = $1', [['abc']], { declared: [1043] }],
  ['SELECT id FROM items WHERE id = $1', [['3']], { declared: [0] }],
  ['SELECT id FROM items WHERE id = $1::int8', [['3']]],
  ['SELECT id FROM items WHERE f8 = $1', [['1.5']], { declared: [701] }],
  ['SELECT id FROM items WHERE n = $1', [['100']], { declared: [23] }],
  ['SELECT id FROM items WHERE id = ANY($1)', [['{1,2}']], { declared: [1016] }],
];

describe('prepared statements equal upstream', () => {
  for (const [sql, executions, opts] of CASES) {
    const label = opts?.declared ? `${sql} (declared ${opts.declared.join(',')})` : sql;
    test(label, () => samePrepared(router, client, session, sql, executions, opts ?? {}));
  }

  test('session.lastRoute is set', () => {
    router.prepare('SELECT id FROM items', [], session);
    assert.equal(session.lastRoute, 'local');
    router.prepare('SELECT now()', [], session);
    assert.match(session.lastRoute, /^upstream: .*now\(\)/);
  });
});

describe('parameter types: local statements report exactly what Postgres infers', () => {
  const STATEMENTS = [
    'SELECT length($1) FROM items',
    'SELECT upper($1), lower($2) FROM items',
    "SELECT id FROM items WHERE $1 LIKE 'a%'",
    "SELECT id FROM items WHERE 'abc' LIKE $1",
    'SELECT id FROM items WHERE $1 ILIKE t',
    'SELECT id + $1 * 2 FROM items',
    'SELECT -$1 FROM items',
    'SELECT $1::int4 + 1 FROM items',
    'SELECT coalesce($1, $2) FROM items',
    'SELECT coalesce($1, i2, i8) FROM items',
    'SELECT CASE WHEN b THEN $1 END FROM items',
    'SELECT CASE WHEN b THEN $1 ELSE i2 END FROM items',
    'SELECT CASE WHEN b THEN $1 ELSE $2 END FROM items',
    'SELECT id FROM items WHERE $1 = ANY(ARRAY[1, 2])',
    'SELECT id FROM items WHERE $1 BETWEEN 1 AND 5',
    'SELECT id FROM items WHERE $1 LIKE $2',
    'SELECT id FROM items WHERE $1',
    'SELECT id FROM items WHERE NOT $1',
    'SELECT id FROM items WHERE $1 IS TRUE',
    'SELECT id FROM items WHERE $1 IS DISTINCT FROM $2',
    'SELECT id FROM items WHERE t IS DISTINCT FROM $1',
    'SELECT id FROM items WHERE $1 = $2',
    'SELECT id FROM items WHERE $1 < 5',
    'SELECT id FROM items WHERE n > $1 AND f8 < $2 AND d >= $3 AND ts <= $4 AND u <> $5',
    'SELECT nullif($1, 5) FROM items',
    'SELECT nullif($1, $2) FROM items',
    'SELECT $1 || $2 FROM items',
    'SELECT $1 || 5 FROM items',
    'SELECT t || $1 || i2 FROM items',
    'SELECT id FROM items WHERE EXISTS (SELECT 1 WHERE $1)',
    'SELECT id FROM items WHERE id IN (SELECT $1)',
    'SELECT id FROM items WHERE id IN (SELECT $1::int8)',
    'SELECT $1 UNION ALL SELECT id FROM items',
    'SELECT id FROM items UNION ALL SELECT $1',
    'SELECT $1 UNION SELECT $2',
    'SELECT count(*) FROM items HAVING count(*) > $1',
    'SELECT sum(id + $1) FROM items',
    'SELECT id FROM items ORDER BY id + $1',
    'SELECT id FROM items LIMIT $1::int4',
    'SELECT id FROM items WHERE vc = $1 OR vc LIKE $2 OR vc IN ($3, $4)',
    'SELECT id FROM items WHERE b = $1 OR b IN ($2)',
    'SELECT * FROM (SELECT $1 AS x) s WHERE x = 5',
    'WITH c AS (SELECT $1 AS x) SELECT x FROM c',
    'SELECT id FROM items WHERE $2 = id AND $1 = t',
    'SELECT $1::text::int4 FROM items',
    "SELECT id FROM items WHERE t = ANY($1) AND vc = ANY('{a}')",
    'SELECT id FROM items WHERE i2 = ANY($1)',
    'SELECT id FROM items WHERE n = ANY($1)',
    'SELECT id FROM items WHERE $1 IN (1, 2)',
    'SELECT id FROM items WHERE $1 IN (id, 2)',
  ];
  for (const sql of STATEMENTS) {
    test(sql, async () => {
      const r = router.prepare(sql, [], session);
      let described: { paramTypes: number[] } | undefined;
      try {
        described = await describeStatement(client, sql);
      } catch {
        described = undefined;
      }
      if (r.kind === 'local') {
        assert.ok(described, `local, but Postgres rejects ${sql}`);
        assert.deepEqual(r.prepared.paramTypes, described.paramTypes, sql);
      }
    });
  }
});

describe('prepared statements that go upstream', () => {
  const FORWARDED: [string, number[], RegExp][] = [
    ['SELECT $1 FROM items WHERE id = $1', [], /comparison of int4 with text/],
    ['SELECT id FROM items WHERE id = $2', [], /could not determine data type of parameter \$1/],
    ['SELECT $1 IS NULL FROM items', [], /could not determine data type/],
    ['SELECT id FROM items WHERE id = $1', [0, 0], /could not determine data type of parameter \$2/],
    ['SELECT id FROM items WHERE f4 = $1', [], /parameter \$1 of type float4/],
    ['SELECT id FROM items WHERE t = $1', [3802], /parameter \$1 of type jsonb/],
    ['SELECT id FROM items WHERE id = $1', [25], /comparison of int4 with text/],
    ['SELECT 1; SELECT 2', [], /several statements/],
    ['INSERT INTO items (id) VALUES ($1)', [], /INSERT/],
    ['SELECT id FROM items ORDER BY $1', [], /ORDER BY/],
    ['', [], /empty query/],
    ['SHOW outpost.last_route', [25], /declared parameter types/],
    ['SELECT $1 FROM items', [1007], /array parameter \$1 outside = ANY/],
    ['SELECT id FROM items WHERE id = ANY($1) AND $1 IS NOT NULL', [], /array parameter \$1 outside = ANY/],
  ];
  for (const [sql, declared, reason] of FORWARDED) {
    test(`${sql || '(empty)'} ${declared.join(',')}`, async () => {
      const r = router.prepare(sql, declared, session);
      assert.equal(r.kind, 'upstream');
      if (r.kind === 'upstream') assert.match(r.reason, reason);
      assert.equal(session.lastRoute, `upstream: ${r.kind === 'upstream' ? r.reason : ''}`);
    });
  }

  test('the Postgres errors behind those reasons', async () => {
    await assert.rejects(
      describeStatement(client, 'SELECT $1 FROM items WHERE id = $1'),
      /inconsistent types/,
    );
    await assert.rejects(
      describeStatement(client, 'SELECT id FROM items WHERE id = $2'),
      /could not determine/,
    );
  });

  test('session checks apply', () => {
    const s = { ...session, params: new Map(session.params), txStatus: 'T' as const };
    const r = router.prepare('SELECT id FROM items WHERE id = $1', [], s);
    assert.deepEqual(r, { kind: 'upstream', reason: 'inside a transaction' });
    const d = { ...session, params: new Map(session.params), localDisabled: 'because' };
    assert.deepEqual(router.prepare('SELECT id FROM items', [], d), { kind: 'upstream', reason: 'because' });
    const p = { ...session, params: new Map(session.params), localDisabled: undefined };
    // A search_path change is read back upstream once executed (the session state check).
    router.prepare('SET search_path = x', [], p);
    assert.equal(p.localDisabled, undefined);
    router.executed?.('SET search_path = x', p);
    assert.match(p.stateCheck?.reason ?? '', /search_path/);
  });

  test('values Postgres would reject (or read differently) are forwarded at run time', async () => {
    const runFails = (sql: string, params: (string | null)[], reason: RegExp): void => {
      const r = router.prepare(sql, [], session);
      assert.equal(r.kind, 'local', sql);
      if (r.kind !== 'local') return;
      assert.throws(
        () => r.prepared.run(params),
        (err: unknown) => err instanceof NotLocal && reason.test(err.reason),
        `${sql} ${JSON.stringify(params)}`,
      );
    };
    const q = 'SELECT id FROM items WHERE id = $1';
    for (const bad of ['abc', ' 1', '1.5', '99999999999', '', '0x10', '1_000'])
      runFails(q, [bad], /parameter \$1/);
    runFails(q, [], /parameters/);
    runFails('SELECT id FROM items LIMIT $1', ['-1'], /negative LIMIT/);
    runFails('SELECT id FROM items OFFSET $1', ['-1'], /negative OFFSET/);
    runFails('SELECT id FROM items WHERE f8 = $1', ['1e400'], /out of range/);
    runFails('SELECT id FROM items WHERE f8 = $1', ['1e-400'], /out of range/);
    runFails('SELECT id FROM items WHERE id = ANY($1)', ['{{1,2}}'], /array/);
    runFails('SELECT id FROM items WHERE id = ANY($1)', ['[0:0]={1}'], /array/);
    runFails('SELECT id FROM items WHERE ts = $1', ['2024-01-01 00:00:00'], /offset/);
    runFails('SELECT id FROM items WHERE d = $1', ['J2451187'], /date/);
    runFails('SELECT id / $1 FROM items', ['0'], /division by zero/);
    runFails('SELECT id FROM items WHERE t LIKE $1', ['a\\'], /escape/);
    // Postgres indeed rejects these.
    for (const [sql, params] of [
      [q, ['abc']],
      [q, ['99999999999']],
      ['SELECT id FROM items LIMIT $1', ['-1']],
      ['SELECT id FROM items WHERE f8 = $1', ['1e400']],
    ] as [string, string[]][]) {
      await assert.rejects(client.query(sql, params));
    }
  });
});

// What routing costs is measured by `npm run bench -- routing`, not here.
describe('repeated point selects', () => {
  test('prepared and inlined-constant forms stay local and answer each row', () => {
    const sql = 'SELECT abalance FROM pgbench_accounts WHERE aid = $1';
    const simple = (aid: number): string => `SELECT abalance FROM pgbench_accounts WHERE aid = ${aid}`;
    for (let i = 0; i < 2000; i++) {
      const aid = (i % 1000) + 1;
      const p = router.prepare(sql, [], session);
      if (p.kind !== 'local') throw new Error(p.reason);
      const s = router.route(simple(aid), session);
      if (s.kind !== 'local') throw new Error(s.kind === 'upstream' ? s.reason : s.kind);
      assert.deepEqual(s.run()[0]?.rows, p.prepared.run([String(aid)]).rows, `aid ${aid}`);
    }
  });
});
