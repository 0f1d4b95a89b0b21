/**
 * Partitioned tables: the publication carries changes under each leaf
 * partition, so leaves are replicated (rows moving between partitions
 * included) and served locally, while the partitioned root — whose rows
 * the replica holds only piecewise — is forwarded.
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
import { rawTypes } from './helpers/replica-fixture.js';

let upstream: PostgresInstance;
let outpost: OutpostProcess;
let dir: string;
let c: pg.Client;

before(async () => {
  upstream = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'outpost-part-'));
  await upstream.query(`
    create table m (id int, day date, v text, primary key (id, day)) partition by range (day);
    create table m_2024 partition of m for values from ('2024-01-01') to ('2025-01-01');
    create table m_2025 partition of m for values from ('2025-01-01') to ('2026-01-01');
    insert into m values (1, '2024-05-01', 'a'), (2, '2025-05-01', 'b');
  `);
  outpost = await startOutpost({ upstream: upstream.url(), replica: join(dir, 'r.db') });
  await outpost.ready();
  c = await connectThrough(outpost.port, { types: rawTypes });
});

after(async () => {
  await c?.end();
  await outpost?.stop();
  await upstream?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function read(sql: string): Promise<{ rows: unknown[]; route: string }> {
  const r = await c.query({ text: sql, rowMode: 'array' });
  return { rows: r.rows, route: await lastRoute(c) };
}

test('leaves are local and follow rows moving between partitions; the root is forwarded', async () => {
  assert.deepEqual(await read('select id, day, v from m_2024'), {
    rows: [['1', '2024-05-01', 'a']],
    route: 'local',
  });
  const root = await read('select id, v from m order by id');
  assert.deepEqual(root.rows, [
    ['1', 'a'],
    ['2', 'b'],
  ]);
  assert.match(root.route, /^upstream: .*\bm\b.*not in replica/);

  await upstream.query(
    `insert into m values (3, '2025-06-01', 'c'); update m set day = '2025-02-02' where id = 1`,
  );
  await eventually(
    async () =>
      JSON.stringify((await read('select id from m_2025 order by id')).rows) === '[["1"],["2"],["3"]]',
    20_000,
    'the cross-partition update to replicate',
  );
  assert.deepEqual(await read('select id, day, v from m_2025 order by id'), {
    rows: [
      ['1', '2025-02-02', 'a'],
      ['2', '2025-05-01', 'b'],
      ['3', '2025-06-01', 'c'],
    ],
    route: 'local',
  });
  assert.deepEqual(await read('select id from m_2024'), { rows: [], route: 'local' });
});
