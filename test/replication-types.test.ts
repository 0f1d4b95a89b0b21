/**
 * The type matrix: every common built-in type, with its edge values, copied
 * by the snapshot and then changed through the stream (inserts, updates
 * that leave TOASTed values unchanged, deletes), read back through Outpost
 * column by column. Each answer must be byte-identical to upstream's —
 * names, type OIDs, typmods and text — whether Outpost serves it locally or
 * forwards it; the common types must be served locally.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { parseLsn } from '../src/replication/lsn.js';
import { eventually, type OutpostProcess, startOutpost } from './helpers/outpost.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';
import { rawTypes } from './helpers/replica-fixture.js';

/** Column type and its values (SQL literals); row i of every column is in row id i + 1. */
const MATRIX: [string, string[]][] = [
  ['int2', ['-32768', '32767', '0', 'NULL']],
  ['int4', ['-2147483648', '2147483647', '-1', 'NULL']],
  ['int8', ['-9223372036854775808', '9223372036854775807', '9007199254740993', 'NULL']],
  ['numeric', ["'NaN'", "'Infinity'", "'-Infinity'", '123456789012345678901234567890.000000000000000000001']],
  ['numeric(10,3)', ['-0.000', '1234567.891', '0.5', 'NULL']],
  ['float4', ["'NaN'", "'-0'", "'Infinity'", '3.4028235e38']],
  ['float8', ["'-Infinity'", '0.1', '1e-308', "'-0'"]],
  ['bool', ['true', 'false', 'NULL', 'true']],
  ['text', ["''", "'tab\there'", "E'line\\nbreak \\\\ back'", "'ünïcødé ✓ 日本'"]],
  ['varchar(5)', ["'abc'", "''", "'abcde'", 'NULL']],
  ['char(4)', ["'a'", "''", "'abcd'", "'a b'"]],
  ['bytea', ["'\\x'", "'\\x00ff10'", "decode('deadbeef', 'hex')", 'NULL']],
  ['date', ["'infinity'", "'-infinity'", "'0044-03-15 BC'", "'2024-02-29'"]],
  [
    'timestamp',
    [
      "'infinity'",
      "'2000-01-01 00:00:00.000001'",
      "'0001-01-01 00:00:00 BC'",
      "'294276-12-31 23:59:59.999999'",
    ],
  ],
  [
    'timestamptz',
    [
      "'-infinity'",
      "'2024-03-10 06:30:00.123456+00'",
      "'1900-01-01 00:00:00+05:30'",
      "'2001-09-09 01:46:40+00'",
    ],
  ],
  ['time', ["'00:00:00'", "'24:00:00'", "'23:59:59.999999'", 'NULL']],
  ['timetz', ["'00:00:00+14'", "'12:34:56.5-08'", "'23:59:59.999999+00'", 'NULL']],
  ['interval', ["'-178000000 years'", "'1 day -1 second'", "'1 mon 2 days 03:04:05.000006'", "'0'"]],
  [
    'uuid',
    ["'00000000-0000-0000-0000-000000000000'", "'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'", 'NULL', 'NULL'],
  ],
  ['json', [`'{"b": 1, "a": [1, 2.50, null]}'`, "'[]'", `'"x"'`, 'NULL']],
  ['jsonb', [`'{"b": 1, "a": [1, 2.50, null]}'`, "'[]'", `'{"k": "\\u00e9"}'`, "'1e100'"]],
  ['int4[]', ["'{}'", "'{1,NULL,-3}'", "'{{1,2},{3,4}}'", "'[0:1]={7,8}'"]],
  ['text[]', [`'{"a b","",NULL,"q\\"uote"}'`, "'{}'", "'{NULL}'", 'NULL']],
  ['numeric[]', ["'{1.50,NaN}'", 'NULL', "'{}'", 'NULL']],
  ['inet', ["'192.168.0.1/24'", "'::1'", "'10.0.0.1'", 'NULL']],
  ['cidr', ["'10.0.0.0/8'", "'2001:db8::/32'", 'NULL', 'NULL']],
  ['macaddr', ["'08:00:2b:01:02:03'", 'NULL', 'NULL', 'NULL']],
  ['int4range', ["'[1,5)'", "'empty'", "'(,3]'", 'NULL']],
  ['tstzrange', ["'[2024-01-01 00:00+00,2024-02-01 00:00+00)'", 'NULL', 'NULL', 'NULL']],
  ['money', ["'12.34'", "'-0.01'", 'NULL', 'NULL']],
  ['bit(4)', ["B'1010'", 'NULL', 'NULL', 'NULL']],
  ['varbit', ["B''", "B'1'", 'NULL', 'NULL']],
  ['point', ["'(1.5,-2)'", 'NULL', 'NULL', 'NULL']],
  ['oid', ['0', '4294967295', 'NULL', 'NULL']],
  ['pg_lsn', ["'16/B374D848'", 'NULL', 'NULL', 'NULL']],
  ['tsvector', ["'a fat cat'", 'NULL', 'NULL', 'NULL']],
  ['xml', ["'<a>x</a>'", 'NULL', 'NULL', 'NULL']],
  ['mood', ["'sad'", "'happy'", "'ok'", 'NULL']],
  ['pair', ["ROW(1, 'x')", "ROW(NULL, '')", 'NULL', 'NULL']],
  ['posint', ['1', '2147483647', 'NULL', 'NULL']],
];

/** Types an application reads all the time: these must be served locally. */
const MUST_BE_LOCAL = new Set([
  'int2',
  'int4',
  'int8',
  'numeric',
  'numeric(10,3)',
  'float4',
  'float8',
  'bool',
  'text',
  'varchar(5)',
  'char(4)',
  'bytea',
  'date',
  'timestamp',
  'timestamptz',
  'interval',
  'uuid',
  'json',
  'jsonb',
]);

const col = (i: number) => `c${i}`;
let upstream: PostgresInstance;
let outpost: OutpostProcess;
let dir: string;
let direct: pg.Client;
let via: pg.Client;

before(async () => {
  upstream = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'outpost-types-'));
  const rows = [0, 1, 2, 3].map(
    (r) => `(${r + 1}, ${MATRIX.map(([, values]) => values[r]).join(', ')}, repeat('toast', 5000))`,
  );
  await upstream.query(`
    create type mood as enum ('sad', 'ok', 'happy');
    create type pair as (n int, s text);
    create domain posint as int check (value > 0);
    create table types (id int primary key, ${MATRIX.map(([t], i) => `${col(i)} ${t}`).join(', ')}, big text);
    insert into types values ${rows.join(', ')};
    create index on types (c1, c2);
    create index on types (lower(c8));
    create index on types (c0) where c0 > 0;
    create table fk_parent (id int primary key, k int, unique (id, k));
    create table fk_child (id int primary key, p int references fk_parent, q int references fk_parent,
                           r int, s int, foreign key (r, s) references fk_parent (id, k));
    create index on fk_child (q, id);
    insert into fk_parent select g, g * 10 from generate_series(1, 5) g;
    insert into fk_child values (1, 1, 2, 3, 30), (2, 1, null, 4, 40), (3, 5, 5, null, null);
  `);
  outpost = await startOutpost({ upstream: upstream.url(), replica: join(dir, 'r.db') });
  await outpost.ready();
  direct = new pg.Client({ connectionString: upstream.url(), types: rawTypes });
  via = new pg.Client({
    host: '127.0.0.1',
    port: outpost.port,
    user: 'postgres',
    password: 'postgres',
    types: rawTypes,
  });
  via.on('error', () => {});
  await direct.connect();
  await via.connect();
});

after(async () => {
  await via?.end();
  await direct?.end();
  await outpost?.stop();
  await upstream?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function shape(r: pg.QueryResult<unknown[]>) {
  return {
    fields: r.fields.map((f) => [f.name, f.dataTypeID, f.dataTypeModifier, f.dataTypeSize]),
    rows: r.rows,
  };
}

/** Every column read through Outpost equals upstream; returns the types served locally. */
async function compareAll(phase: string): Promise<Set<string>> {
  const local = new Set<string>();
  for (const [i, [type]] of MATRIX.entries()) {
    const sql = `select id, ${col(i)} from types order by id`;
    const want = await direct.query({ text: sql, rowMode: 'array' });
    const got = await via.query({ text: sql, rowMode: 'array' });
    assert.deepEqual(shape(got), shape(want), `${phase}: ${type}`);
    const route = await via.query<{ last_route: string }>('show outpost.last_route');
    if (route.rows[0]?.last_route === 'local') local.add(type);
  }
  // The whole row at once, too (a TOASTed column included).
  const star = 'select * from types order by id';
  assert.deepEqual(
    shape(await via.query({ text: star, rowMode: 'array' })),
    shape(await direct.query({ text: star, rowMode: 'array' })),
    `${phase}: select *`,
  );
  return local;
}

/** Until the replica has applied everything upstream has written so far. */
async function caughtUp(): Promise<void> {
  const r = await direct.query<{ lsn: string }>({ text: 'select pg_current_wal_insert_lsn()::text as lsn' });
  const target = r.rows[0]?.lsn as string;
  await eventually(
    async () => parseLsn(String((await outpost.status()).replication.appliedLsn)) >= parseLsn(target),
    20_000,
    'the replica to catch up',
  );
}

test('snapshot: every type reads back exactly; the common ones locally', async () => {
  const local = await compareAll('snapshot');
  const missing = [...MUST_BE_LOCAL].filter((t) => !local.has(t));
  assert.deepEqual(missing, [], 'common types served locally');
});

test("upstream's plain indexes are built in the replica too (expression and partial ones are not)", () => {
  const db = new Database(join(dir, 'r.db'), { readonly: true });
  try {
    const table = db
      .prepare(`select sqlite_name from _outpost_tables where schema = 'public' and name = 'types'`)
      .pluck()
      .get() as string;
    const sqls = db
      .prepare(`select sql from sqlite_master where type = 'index' and tbl_name = ? order by name`)
      .pluck()
      .all(table) as string[];
    // Columns by attnum: id 1, c0 2, c1 3, c2 4.
    assert.deepEqual(
      sqls.map((s) => s.replace(/^CREATE INDEX "[^"]+" ON "t\d+" /, '')),
      ['("a3", "a4")', '("a1")'],
    );
  } finally {
    db.close();
  }
});

test('foreign keys no index leads with get one in the replica, and joins on them stay exact', async () => {
  const db = new Database(join(dir, 'r.db'), { readonly: true });
  try {
    const table = db
      .prepare(`select sqlite_name from _outpost_tables where schema = 'public' and name = 'fk_child'`)
      .pluck()
      .get() as string;
    const sqls = db
      .prepare(`select sql from sqlite_master where type = 'index' and tbl_name = ?`)
      .pluck()
      .all(table) as string[];
    // Columns by attnum: id 1, p 2, q 3, r 4, s 5. q leads upstream's (q, id): no index of its own.
    assert.deepEqual(sqls.map((s) => s.replace(/^CREATE INDEX "[^"]+" ON "t\d+" /, '')).sort(), [
      '("a1")',
      '("a2")',
      '("a3", "a1")',
      '("a4", "a5")',
    ]);
  } finally {
    db.close();
  }
  await direct.query('insert into fk_child values (4, 2, 1, 1, 10)');
  await direct.query('update fk_child set p = 2 where id = 1');
  await caughtUp();
  for (const text of [
    'select f.id, count(c.id), min(c.id) from fk_parent f left join fk_child c on c.p = f.id group by f.id order by f.id',
    'select c.id, f.k from fk_child c join fk_parent f on f.id = c.r and f.k = c.s order by c.id',
    'select id from fk_child where p = 2 order by id',
  ]) {
    const want = await direct.query({ text, rowMode: 'array' });
    const got = await via.query({ text, rowMode: 'array' });
    assert.deepEqual(got.rows, want.rows, text);
    const route = await via.query('show outpost.last_route');
    assert.equal(route.rows[0]?.last_route, 'local', text);
  }
});

test('stream: inserts, updates leaving TOASTed values unchanged, deletes', async () => {
  // New rows: the same edge values, through the stream this time.
  await direct.query(
    `insert into types select id + 10, ${MATRIX.map((_, i) => col(i)).join(', ')}, big from types`,
  );
  // Updates that do not touch the TOASTed column: pgoutput sends it as "unchanged".
  await direct.query(`update types set ${col(0)} = 7 where id in (1, 11)`);
  await direct.query(`update types set ${col(8)} = 'changed' where id = 2`);
  await direct.query('delete from types where id in (3, 13)');
  await caughtUp();
  const local = await compareAll('stream');
  const missing = [...MUST_BE_LOCAL].filter((t) => !local.has(t));
  assert.deepEqual(missing, [], 'common types served locally');
  // The TOASTed column survived the updates that left it out.
  const big = await via.query({
    text: 'select id, length(big) from types where id in (1, 11) order by id',
    rowMode: 'array',
  });
  assert.deepEqual(big.rows, [
    ['1', '25000'],
    ['11', '25000'],
  ]);
});
