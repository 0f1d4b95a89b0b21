/**
 * A CancelRequest for a local statement running in an executor ends it at
 * once with Postgres's 57014, from psql (SIGINT) and from node-postgres (a
 * raw CancelRequest with the session's key), in and out of a READ ONLY
 * transaction, through the simple and the extended protocol; the session
 * goes on as it would on Postgres.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import type pg from 'pg';
import { cancelRequest } from './helpers/cancel.js';
import { connectThrough, eventually, lastRoute, type OutpostProcess } from './helpers/outpost.js';
import type { PostgresInstance } from './helpers/postgres.js';
import { type Stack, settle, startStack } from './helpers/stack.js';

let upstream: PostgresInstance;
let outpost: OutpostProcess;
let stack: Stack;

const HEAVY = 'select count(*) from big a cross join big b cross join big c';

before(async () => {
  stack = await startStack({
    name: 'cancel',
    setup: `create table big (id int primary key, v int not null);
     insert into big select g, g % 97 from generate_series(1, 1000) g`,
    args: ['--workers', '2'],
  });
  ({ upstream, outpost } = stack);
});

after(() => stack?.stop());

async function cancelled(c: pg.Client, query: Promise<unknown>): Promise<pg.DatabaseError> {
  const result = settle(query);
  await new Promise((r) => setTimeout(r, 300));
  await cancelRequest(outpost.port, c);
  return (await result) as pg.DatabaseError;
}

test('node-postgres: a cancelled local read answers 57014 and the session continues', async () => {
  const c = await connectThrough(outpost.port);
  try {
    const err = await cancelled(c, c.query(HEAVY));
    assert.equal(err.code, '57014');
    assert.equal(err.message, 'canceling statement due to user request');
    assert.equal(await lastRoute(c), 'local');
    const r = await c.query('select v from big where id = 3');
    assert.equal(r.rows[0]?.v, 3);
    assert.equal(await lastRoute(c), 'local');
    // Nothing left to cancel: a later CancelRequest does nothing to the next statement.
    await cancelRequest(outpost.port, c);
    const sql = 'select count(*) as n from big where v < 10';
    assert.deepEqual((await c.query(sql)).rows, (await upstream.query(sql)).rows);
  } finally {
    await c.end();
  }
});

test('extended protocol: a cancelled local read answers 57014', async () => {
  const c = await connectThrough(outpost.port);
  try {
    const err = await cancelled(c, c.query({ text: `${HEAVY} where a.v >= $1`, values: [0] }));
    assert.equal(err.code, '57014');
    assert.equal(err.message, 'canceling statement due to user request');
    const r = await c.query({ text: 'select v from big where id = $1', values: [4] });
    assert.equal(r.rows[0]?.v, 4);
    assert.equal(await lastRoute(c), 'local');
  } finally {
    await c.end();
  }
});

test('inside a READ ONLY transaction: the cancel aborts the transaction as on Postgres', async () => {
  for (const extended of [false, true]) {
    const c = await connectThrough(outpost.port);
    try {
      await c.query('begin read only');
      assert.equal((await c.query('select v from big where id = 2')).rows[0]?.v, 2);
      assert.equal(await lastRoute(c), 'local');
      const err = await cancelled(c, extended ? c.query({ text: HEAVY, values: [] }) : c.query(HEAVY));
      assert.equal(err.code, '57014', `extended: ${extended}`);
      assert.equal(err.message, 'canceling statement due to user request');
      const aborted = (await settle(c.query('select 1'))) as pg.DatabaseError;
      assert.equal(aborted.code, '25P02');
      await c.query('rollback');
      assert.equal((await c.query('select v from big where id = 9')).rows[0]?.v, 9);
      assert.equal(await lastRoute(c), 'local');
    } finally {
      await c.end();
    }
  }
});

test('psql: Ctrl-C (SIGINT) cancels a local read', async () => {
  const psql = spawn(
    'psql',
    // The first statement shows psql is connected (on a busy machine that takes a while).
    [
      '-X',
      '-At',
      '-h',
      '127.0.0.1',
      '-p',
      String(outpost.port),
      '-U',
      'postgres',
      '-d',
      'postgres',
      '-c',
      'select 1',
      '-c',
      HEAVY,
    ],
    { env: { ...process.env, PGPASSWORD: 'postgres' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  let stdout = '';
  psql.stderr.on('data', (b) => {
    stderr += b;
  });
  psql.stdout.on('data', (b) => {
    stdout += b;
  });
  const exited = new Promise<number | null>((resolve) => psql.on('exit', (code) => resolve(code)));
  await eventually(async () => stdout === '1\n', 20_000, 'psql connected');
  await new Promise((r) => setTimeout(r, 500));
  psql.kill('SIGINT');
  const code = await exited;
  assert.equal(code, 1, `psql output: ${stdout} ${stderr}`);
  assert.match(stderr, /ERROR: {2}canceling statement due to user request/);
  assert.equal(stdout, '1\n');
});

test('psql: Ctrl-C (SIGINT) cancels a local read inside a READ ONLY transaction', async () => {
  const args = [
    '-X',
    '-h',
    '127.0.0.1',
    '-p',
    String(outpost.port),
    '-U',
    'postgres',
    '-d',
    'postgres',
    '-At',
  ];
  const psql = spawn(
    'psql',
    [...args, '-c', 'begin read only', '-c', 'select v from big where id = 2', '-c', HEAVY],
    {
      env: { ...process.env, PGPASSWORD: 'postgres', PGAPPNAME: 'sigint-ro' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  let stdout = '';
  psql.stderr.on('data', (b) => {
    stderr += b;
  });
  psql.stdout.on('data', (b) => {
    stdout += b;
  });
  const exited = new Promise<number | null>((resolve) => psql.on('exit', (code) => resolve(code)));
  // The transaction's read was answered (locally), and the heavy one is running.
  await eventually(async () => stdout.includes('2\n'), 20_000, 'the first read');
  await new Promise((r) => setTimeout(r, 500));
  psql.kill('SIGINT');
  const code = await exited;
  assert.notEqual(code, 0, `psql output: ${stdout} ${stderr}`);
  assert.match(stderr, /ERROR: {2}canceling statement due to user request/);
  assert.equal(stdout, 'BEGIN\n2\n');
  // The session and its upstream transaction are gone with psql.
  await eventually(
    async () =>
      (await upstream.query(`select 1 from pg_stat_activity where application_name = 'sigint-ro'`)).rows
        .length === 0,
    10_000,
    'the session upstream to end',
  );
});
