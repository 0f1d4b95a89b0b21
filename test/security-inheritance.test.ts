/**
 * Table inheritance: a plain reference to a parent (or `parent*`) reads its
 * descendants' rows too, which the parent's copy in the replica does not
 * hold. Such references are forwarded; `ONLY parent` is served locally; a
 * child created (or detached) after Outpost started changes the route.
 * Every answer equals a direct session's, for a superuser and for a role
 * granted SELECT on some of the tables only.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { eventually, lastRoute, type OutpostProcess, startOutpost } from './helpers/outpost.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';
import { sameThrough } from './helpers/through.js';

let upstream: PostgresInstance;
let outpost: OutpostProcess;
let dir: string;

before(async () => {
  upstream = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'outpost-inherit-'));
  // After Postgres's regression tests (create_table.sql, inherit.sql, aggregates.sql).
  await upstream.query(`
    create table person (name text, age int4);
    create table emp (salary int4, manager text) inherits (person);
    create table student (gpa float8) inherits (person);
    create table stud_emp (percent int4) inherits (emp, student);
    insert into person values ('mike', 40), ('joe', 20);
    insert into emp values ('sharon', 25, 1000, 'mike'), ('sam', 30, 1200, 'mike');
    insert into student values ('fred', 28, 3.7), ('larry', 60, 3.1);
    insert into stud_emp values ('jeff', 23, 600, 'sharon', 3.5, 50);
    create table minmaxtest (f1 int4);
    create table minmaxtest1 () inherits (minmaxtest);
    create table minmaxtest2 () inherits (minmaxtest);
    create table minmaxtest3 () inherits (minmaxtest);
    insert into minmaxtest values (11), (12);
    insert into minmaxtest1 values (13), (14);
    insert into minmaxtest2 values (15), (16);
    insert into minmaxtest3 values (17), (18);
    create table some_tab (a int4);
    insert into some_tab values (1), (2);
    create table nocols ();
    create table nocols_child () inherits (nocols);
    insert into nocols default values;
    insert into nocols_child default values;
    insert into nocols_child default values;
    create table plain (id int4 primary key, v text);
    insert into plain values (1, 'x');
    create role reader login password 'reader-pw';
    grant select on person, plain, some_tab, minmaxtest to reader;
  `);
  // Without a key a table is replicated only with a replica identity (publication.ts).
  for (const t of [
    'person',
    'emp',
    'student',
    'stud_emp',
    'minmaxtest',
    'minmaxtest1',
    'minmaxtest2',
    'minmaxtest3',
    'some_tab',
    'nocols',
    'nocols_child',
  ]) {
    await upstream.query(`alter table ${t} replica identity full`);
  }
  outpost = await startOutpost({ upstream: upstream.url(), replica: join(dir, 'replica.db') });
  await outpost.ready();
});

after(async () => {
  await outpost?.stop();
  await upstream?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function pair(user = 'postgres', password = 'postgres'): Promise<[pg.Client, pg.Client]> {
  const via = new pg.Client({ host: '127.0.0.1', port: outpost.port, user, password, database: 'postgres' });
  const direct = new pg.Client({ connectionString: upstream.url({ user, password }) });
  await via.connect();
  await direct.connect();
  return [via, direct];
}

const FORWARDED = [
  'select * from person order by name',
  'select * from person* order by name',
  'select name, age from person where age > 24 order by name',
  'select count(*) from person',
  'select * from emp order by name',
  'select * from student order by name',
  'select p.name from person p join plain on plain.id = 1 order by 1',
  'select max(f1), min(f1) from minmaxtest',
  'select count(*) from nocols',
  'select * from (select * from minmaxtest) s order by f1',
  'select f1 from minmaxtest where f1 in (select f1 from minmaxtest1) order by 1',
];

const LOCAL = [
  'select * from only person order by name',
  'select * from only emp order by name',
  'select * from stud_emp order by name',
  'select * from only stud_emp order by name',
  'select * from only student order by name',
  'select max(f1), min(f1) from only minmaxtest',
  'select * from minmaxtest1 order by f1',
  'select p.name, plain.v from only person p, plain order by 1',
  'select * from only plain',
  // A table without columns is copied by counting its own rows.
  'select count(*) from only nocols',
  'select count(*) from nocols_child',
];

test('a parent with inheritance children is forwarded unless ONLY; answers equal upstream', async () => {
  const [via, direct] = await pair();
  try {
    for (const sql of FORWARDED) {
      const route = await sameThrough(via, direct, sql);
      assert.match(route, /^upstream: table public\.\w+ has inheritance children$/, sql);
    }
    for (const sql of LOCAL) assert.equal(await sameThrough(via, direct, sql), 'local', sql);
  } finally {
    await via.end();
    await direct.end();
  }
});

test('a role granted SELECT on the parent only: same rows or same 42501 as upstream', async () => {
  const [via, direct] = await pair('reader', 'reader-pw');
  try {
    for (const sql of [...FORWARDED, ...LOCAL]) await sameThrough(via, direct, sql);
    // The parent's privilege governs its children's rows in Postgres.
    assert.match(await sameThrough(via, direct, 'select * from person order by name'), /^upstream/);
    assert.equal(await sameThrough(via, direct, 'select * from only person order by name'), 'local');
    await assert.rejects(via.query('select * from emp'), (e: { code?: string }) => e.code === '42501');
  } finally {
    await via.end();
    await direct.end();
  }
});

test('a child created, filled and detached after start changes what the parent serves', async () => {
  const [via, direct] = await pair();
  try {
    assert.equal(await sameThrough(via, direct, 'select * from some_tab order by a'), 'local');
    await upstream.query(`
      create table some_tab_child (b int4) inherits (some_tab);
      alter table some_tab_child replica identity full;
      insert into some_tab_child values (3, 30);
      create table some_tab_grandchild () inherits (some_tab_child);
      alter table some_tab_grandchild replica identity full;
      insert into some_tab_grandchild values (4, 40);
    `);
    // Once the replica holds the new tables, the parent is known to have children.
    await eventually(
      async () => {
        await via.query('select * from some_tab_grandchild');
        return (await lastRoute(via)) === 'local';
      },
      30_000,
      'the new child to be replicated',
    );
    for (const sql of [
      'select * from some_tab order by a',
      'select * from some_tab_child order by a',
      'select a from some_tab* where a > 1 order by a',
    ]) {
      assert.match(
        await sameThrough(via, direct, sql),
        /^upstream: table public\.some_tab\w* has inheritance children$/,
      );
    }
    assert.equal(await sameThrough(via, direct, 'select * from only some_tab order by a'), 'local');
    assert.equal(await sameThrough(via, direct, 'select * from only some_tab_child order by a'), 'local');
    // Detached: the parent's own rows are all it reads again.
    await upstream.query('alter table some_tab_child no inherit some_tab');
    await eventually(
      async () => {
        await via.query('select * from some_tab');
        return (await lastRoute(via)) === 'local';
      },
      30_000,
      'the parent to be local again',
    );
    assert.equal(await sameThrough(via, direct, 'select * from some_tab order by a'), 'local');
    assert.match(await sameThrough(via, direct, 'select * from some_tab_child order by a'), /^upstream/);
  } finally {
    await via.end();
    await direct.end();
  }
});

test('rows of a table without columns are replicated too', async () => {
  const [via, direct] = await pair();
  try {
    await upstream.query('insert into nocols default values; insert into nocols default values');
    await eventually(
      async () => {
        const r = await via.query<{ n: string }>('select count(*) as n from only nocols');
        return (await lastRoute(via)) === 'local' && r.rows[0]?.n === '3';
      },
      30_000,
      'the inserts to be applied',
    );
    assert.equal(await sameThrough(via, direct, 'select count(*) from only nocols'), 'local');
  } finally {
    await via.end();
    await direct.end();
  }
});
