/**
 * statement_timeout applies to local statements run in an executor, with
 * Postgres's 57014 "canceling statement due to statement timeout", from
 * each place it can be set; what Outpost cannot follow exactly goes upstream.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type pg from 'pg';
import { parseTimeout } from '../src/router/timeouts.js';
import { connectThrough, lastRoute, type OutpostProcess } from './helpers/outpost.js';
import type { PostgresInstance } from './helpers/postgres.js';
import { type Stack, settle, startStack } from './helpers/stack.js';
import { waitFor } from './helpers/wait.js';

let upstream: PostgresInstance;
let outpost: OutpostProcess;
let stack: Stack;

const HEAVY = 'select count(*) from big a cross join big b cross join big c';
/** About 10^7 rows: well under a second locally. */
const MEDIUM = 'select count(*) as n from big a cross join big b cross join big c where c.id <= 10';
/** About 10^8 rows: a second or more locally, well past 300 ms. */
const SLOW = 'select count(*) as n from big a cross join big b cross join big c where c.id <= 60';
const TIMEOUT_MESSAGE = 'canceling statement due to statement timeout';

before(async () => {
  stack = await startStack({
    name: 'timeout',
    setup: `create table big (id int primary key, v int not null);
     insert into big select g, g % 97 from generate_series(1, 1000) g;
     create role tr login password 'tr';
     grant select on big to tr;
     alter role tr in database postgres set statement_timeout = '300ms';
     create role tr2 login password 'tr2';
     grant select on big to tr2;
     alter role tr2 set statement_timeout = '300ms';
     create role tr3 login password 'tr3';
     grant select on big to tr3;
     alter role tr3 set statement_timeout = '10min';
     alter role tr3 in database postgres set statement_timeout = '300ms';
     create role tr4 login password 'tr4';
     grant select on big to tr4`,
    args: ['--workers', '2'],
  });
  ({ upstream, outpost } = stack);
});

after(() => stack?.stop());

test('values are read exactly as Postgres reads them, or not at all', async () => {
  // (At least 100 ms each: reading the setting back runs under it.)
  const values = [
    '1s',
    '1.5s',
    '100',
    '0',
    '2min',
    '1h',
    '1d',
    '500us',
    '100000us',
    '1.5',
    ' 3 s ',
    '010',
    '0x10',
    '1e3',
    '250 ms',
    '2.5min',
  ];
  let understood = 0;
  for (const v of values) {
    const ms = parseTimeout(v);
    if (ms === undefined) continue;
    understood++;
    const c = await upstream.connect();
    try {
      await c.query(`set statement_timeout = '${v}'`).catch((e: Error) => {
        throw new Error(`Postgres rejects '${v}', Outpost reads ${ms}: ${e.message}`);
      });
      const r = await c.query<{ setting: string }>(
        `select setting from pg_settings where name = 'statement_timeout'`,
      );
      assert.equal(ms, Number(r.rows[0]?.setting), `statement_timeout = '${v}'`);
    } finally {
      await c.end();
    }
  }
  assert.ok(understood >= 10);
});

test('SET statement_timeout stops a long local read with 57014; SET 0 and RESET lift it', async () => {
  const c = await connectThrough(outpost.port);
  try {
    await c.query(`set statement_timeout = '400ms'`);
    const err = (await settle(c.query(HEAVY))) as pg.DatabaseError;
    assert.equal(err.code, '57014');
    assert.equal(err.message, TIMEOUT_MESSAGE);
    assert.equal(await lastRoute(c), 'local');
    assert.equal((await c.query('select v from big where id = 8')).rows[0]?.v, 8);
    await c.query('reset statement_timeout');
    assert.deepEqual((await c.query(MEDIUM)).rows, (await upstream.query(MEDIUM)).rows);
    assert.equal(await lastRoute(c), 'local');
    await c.query('set statement_timeout to 300');
    assert.equal(((await settle(c.query(HEAVY))) as pg.DatabaseError).message, TIMEOUT_MESSAGE);
    await c.query('set statement_timeout = 0');
    assert.deepEqual((await c.query(MEDIUM)).rows, (await upstream.query(MEDIUM)).rows);
  } finally {
    await c.end();
  }
});

test('SET LOCAL inside a READ ONLY transaction: the timeout aborts it, and ends with it', async () => {
  const c = await connectThrough(outpost.port);
  try {
    await c.query('begin read only');
    await c.query('set local statement_timeout = 300');
    const err = (await settle(c.query(HEAVY))) as pg.DatabaseError;
    assert.equal(err.code, '57014');
    assert.equal(err.message, TIMEOUT_MESSAGE);
    assert.equal(((await settle(c.query('select 1'))) as pg.DatabaseError).code, '25P02');
    await c.query('rollback');
    // SET LOCAL outside a block only warns: no timeout.
    await c.query('set local statement_timeout = 1');
    assert.deepEqual((await c.query(MEDIUM)).rows, (await upstream.query(MEDIUM)).rows);
    assert.equal(await lastRoute(c), 'local');
  } finally {
    await c.end();
  }
});

test('statement_timeout in the startup options applies to local reads', async () => {
  const c = await connectThrough(outpost.port, { options: '-c statement_timeout=300' });
  try {
    assert.equal((await c.query('select v from big where id = 2')).rows[0]?.v, 2);
    assert.equal(await lastRoute(c), 'local');
    const err = (await settle(c.query(HEAVY))) as pg.DatabaseError;
    assert.equal(err.message, TIMEOUT_MESSAGE);
    assert.equal(await lastRoute(c), 'local');
    // RESET goes back to the startup value.
    await c.query('set statement_timeout = 0');
    await c.query('reset statement_timeout');
    assert.equal(((await settle(c.query(HEAVY))) as pg.DatabaseError).message, TIMEOUT_MESSAGE);
  } finally {
    await c.end();
  }
});

/** A session of `user` whose defaults give it a 300 ms statement_timeout: applied to local reads like Postgres applies it. */
async function defaultTimeoutApplies(user: string, expected: unknown[]): Promise<void> {
  const c = await connectThrough(outpost.port, { user, password: user, database: 'postgres' });
  try {
    assert.equal((await c.query('select v from big where id = 2')).rows[0]?.v, 2);
    assert.equal(await lastRoute(c), 'local', user);
    assert.equal((await c.query('show statement_timeout')).rows[0]?.statement_timeout, '300ms');
    const err = (await settle(c.query(HEAVY))) as pg.DatabaseError;
    assert.equal(err.code, '57014', user);
    assert.equal(err.message, TIMEOUT_MESSAGE);
    assert.equal(await lastRoute(c), 'local', user);
    // SET lifts it; RESET goes back to the default.
    await c.query('set statement_timeout = 0');
    assert.deepEqual((await c.query(SLOW)).rows, expected);
    assert.equal(await lastRoute(c), 'local', user);
    await c.query('reset statement_timeout');
    assert.equal(((await settle(c.query(HEAVY))) as pg.DatabaseError).message, TIMEOUT_MESSAGE);
    assert.equal(await lastRoute(c), 'local', user);
  } finally {
    await c.end();
  }
}

test('role defaults: ALTER ROLE ... IN DATABASE, ALTER ROLE (the former wins) apply to local reads', async () => {
  const expected = (await upstream.query(SLOW)).rows;
  await defaultTimeoutApplies('tr', expected);
  await defaultTimeoutApplies('tr2', expected);
  await defaultTimeoutApplies('tr3', expected);
  // Startup options override role defaults, as on Postgres.
  const c = await connectThrough(outpost.port, {
    user: 'tr2',
    password: 'tr2',
    database: 'postgres',
    options: '-c statement_timeout=0',
  });
  try {
    assert.deepEqual((await c.query(SLOW)).rows, expected);
    assert.equal(await lastRoute(c), 'local');
  } finally {
    await c.end();
  }
});

test('a database default (ALTER DATABASE ... SET) applies to local reads', async () => {
  const expected = (await upstream.query(SLOW)).rows;
  await upstream.query(`alter database postgres set statement_timeout = '300ms'`);
  try {
    // The role watch sees the change within --max-lag (1 s here).
    await new Promise((r) => setTimeout(r, 2000));
    await defaultTimeoutApplies('tr4', expected);
  } finally {
    await upstream.query('alter database postgres reset statement_timeout');
    // The reset is a change the role watch sees too: until it has looked the
    // roles up again their reads are forwarded (correctly). Later tests here
    // assert local routes, so wait for that to settle.
    const probe = await connectThrough(outpost.port, { user: 'tr2', password: 'tr2', database: 'postgres' });
    try {
      await waitFor('tr2 served locally again', async () => {
        await probe.query('select v from big where id = 2');
        return (await lastRoute(probe)) === 'local';
      });
    } finally {
      await probe.end();
    }
  }
});

test('a SET before the defaults were read keeps its meaning', async () => {
  const c = await connectThrough(outpost.port, { user: 'tr2', password: 'tr2', database: 'postgres' });
  try {
    await c.query('set statement_timeout = 0');
    assert.deepEqual((await c.query(SLOW)).rows, (await upstream.query(SLOW)).rows);
    assert.equal(await lastRoute(c), 'local');
    await c.query('reset statement_timeout');
    assert.equal(((await settle(c.query(HEAVY))) as pg.DatabaseError).message, TIMEOUT_MESSAGE);
    assert.equal(await lastRoute(c), 'local');
  } finally {
    await c.end();
  }
});

test('changes Outpost does not follow turn local answers off', async () => {
  for (const [i, change] of [
    // (Through the extended protocol a lone SET is followed: test/local-after-session-changes.test.ts.)
    (c: pg.Client) => c.query('select 1; set statement_timeout = 300'),
    (c: pg.Client) => c.query(`set statement_timeout = '0x10'`),
    (c: pg.Client) => c.query(`begin read only; set statement_timeout = 300; commit`),
  ].entries()) {
    const c = await connectThrough(outpost.port);
    try {
      await change(c);
      await c.query('select v from big where id = 2');
      assert.match(await lastRoute(c), /^upstream: .*timeout/, `change ${i}`);
    } finally {
      await c.end();
    }
  }
  // A session-level SET inside a block: a rollback would undo it.
  const c = await connectThrough(outpost.port);
  try {
    await c.query('begin read only');
    await c.query('set statement_timeout = 300');
    await c.query('rollback');
    await c.query('select v from big where id = 2');
    assert.match(await lastRoute(c), /^upstream: statement_timeout set inside a transaction block/);
  } finally {
    await c.end();
  }
});

test('idle_in_transaction_session_timeout: busy locally is not idle; idle ends the session with 25P03', async () => {
  const c = await connectThrough(outpost.port);
  let fatal: pg.DatabaseError | undefined;
  c.on('error', (e: Error) => {
    fatal ??= e as pg.DatabaseError;
  });
  try {
    await c.query('begin read only');
    await c.query(`set local idle_in_transaction_session_timeout = '1s'`);
    // Busy locally for well past the timeout (upstream sees no statement all along).
    const started = Date.now();
    for (let id = 1; Date.now() - started < 2500; id++) {
      const r = await c.query(`select v from big where id = ${1 + (id % 1000)}`);
      assert.equal(r.rows[0]?.v, (1 + (id % 1000)) % 97);
      assert.equal(await lastRoute(c), 'local');
      await new Promise((r) => setTimeout(r, 200));
    }
    // Idle past it: the session ends as Postgres ends it.
    await new Promise((r) => setTimeout(r, 1600));
    const after = (await settle(c.query('select 1'))) as Error;
    assert.ok(after instanceof Error);
    const reported = fatal ?? (after as pg.DatabaseError);
    assert.equal(reported.code, '25P03');
    assert.equal(reported.message, 'terminating connection due to idle-in-transaction timeout');
  } finally {
    await c.end().catch(() => {});
  }
});
