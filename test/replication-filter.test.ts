/**
 * `--tables` / `--schemas`: only the chosen tables are replicated (through a
 * publication named after the filter), queries on the others are forwarded,
 * and changing the filter takes a fresh snapshot of the new set.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type pg from 'pg';
import { StartupError } from '../src/errors.js';
import { parseFilter, publicationName } from '../src/replication/filter.js';
import { connectThrough, eventually, lastRoute, runCli, startOutpost } from './helpers/outpost.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';

let upstream: PostgresInstance;
let dir: string;

before(async () => {
  upstream = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'outpost-filter-'));
  await upstream.query(`
    create table a (id int primary key, v text); insert into a values (1, 'a1'), (2, 'a2');
    create table b (id int primary key, v text); insert into b values (1, 'b1');
    create schema s;
    create table s.c (id int primary key); insert into s.c values (7);
    create table s.d (id int primary key); insert into s.d values (8);
    create table "Mixed" (id int primary key); insert into "Mixed" values (9);
  `);
});

after(async () => {
  await upstream?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('filter lists parse like SQL names', () => {
  const f = parseFilter('a, public.b ,"Mixed", s."x.y"', 'S, other');
  assert.deepEqual(f?.tables, [
    ['public', 'Mixed'],
    ['public', 'a'],
    ['public', 'b'],
    ['s', 'x.y'],
  ]);
  assert.deepEqual(f?.schemas, ['other', 's']);
  // Same set, any order or spelling: same publication; another set: another one.
  assert.equal(
    publicationName(parseFilter('b,a', undefined)),
    publicationName(parseFilter('public.a, B', undefined)),
  );
  assert.notEqual(publicationName(parseFilter('a', undefined)), publicationName(parseFilter('b', undefined)));
  assert.equal(publicationName(undefined), 'outpost');
  for (const bad of ['a,,b', 'a.b.c', 'x y', '"unterminated', 'a-b']) {
    assert.throws(() => parseFilter(bad, undefined), StartupError, bad);
  }
});

test('--tables with --publication is refused, naming both flags', async () => {
  const r = await runCli([
    '--upstream',
    upstream.url(),
    '--replica',
    join(dir, 'x.db'),
    '--tables',
    'a',
    '--publication',
    'p',
  ]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--tables\/--schemas .* --publication/);
});

async function route(c: pg.Client, sql: string): Promise<{ rows: unknown[]; route: string }> {
  const r = await c.query(sql);
  return { rows: r.rows, route: await lastRoute(c) };
}

test('only the chosen tables are replicated; others are forwarded; a new filter re-snapshots', async () => {
  const replica = join(dir, 'filtered.db');
  let outpost = await startOutpost({
    upstream: upstream.url(),
    replica,
    args: ['--tables', 'a', '--schemas', 's'],
  });
  try {
    await outpost.ready();
    const c = await connectThrough(outpost.port);
    try {
      assert.deepEqual(await route(c, 'select v from a order by id'), {
        rows: [{ v: 'a1' }, { v: 'a2' }],
        route: 'local',
      });
      assert.deepEqual(await route(c, 'select id from s.c'), { rows: [{ id: 7 }], route: 'local' });
      const b = await route(c, 'select v from b');
      assert.deepEqual(b.rows, [{ v: 'b1' }]);
      assert.match(b.route, /^upstream: .*\bb\b.*not in replica/);
      // Changes to a chosen table replicate.
      await c.query(`insert into a values (3, 'a3')`);
      await eventually(
        async () => {
          const r = await route(c, 'select count(*)::int as n from a');
          return r.route === 'local' && (r.rows[0] as { n: number }).n === 3;
        },
        20_000,
        'the insert into a replicated',
      );
      const pub = await upstream.query<{ pubname: string }>(
        `select pubname from pg_publication_tables where tablename = 'a'`,
      );
      assert.deepEqual(
        pub.rows.map((r) => r.pubname),
        [publicationName(parseFilter('a', 's'))],
      );
    } finally {
      await c.end();
    }
    assert.equal(await outpost.stop(), 0);

    // Restart with another filter: the old slot goes, the new set is copied.
    outpost = await startOutpost({ upstream: upstream.url(), replica, args: ['--tables', 'b'] });
    await outpost.ready();
    const c2 = await connectThrough(outpost.port);
    try {
      assert.deepEqual(await route(c2, 'select v from b'), { rows: [{ v: 'b1' }], route: 'local' });
      assert.match((await route(c2, 'select v from a order by id')).route, /^upstream: .*not in replica/);
    } finally {
      await c2.end();
    }
    assert.match(outpost.output(), /tables to replicate changed/);
    const slots = await upstream.query('select slot_name from pg_replication_slots');
    assert.equal(slots.rowCount, 1, 'the old slot was dropped');
  } finally {
    await outpost.stop();
  }
});
