/**
 * Local answers resume once the session is back in a state the local path
 * reproduces (found missing by the review of local-started transactions):
 * - `SET LOCAL search_path` ended with its transaction, and `SET` then
 *   `RESET search_path` (or `SET … TO DEFAULT`): verified upstream by the
 *   session state check, then local again;
 * - `SET statement_timeout` through the extended protocol is followed as
 *   through a simple Query;
 * - `SHOW outpost.last_route` through the extended protocol inside a
 *   transaction that started locally is answered here;
 * - transaction_timeout (Postgres 17) in force keeps the session upstream,
 *   which enforces it, and local answers resume when it is reset.
 * Each step is also run on a direct session: the answers are the same.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { serializeQuery } from '../src/wire/frontend.js';
import { connectThrough, eventually, lastRoute, type OutpostProcess } from './helpers/outpost.js';
import type { PostgresInstance } from './helpers/postgres.js';
import { type Stack, settle, startStack } from './helpers/stack.js';
import {
  bindMsg,
  describeMsg,
  executeMsg,
  type Message,
  parseMsg,
  RawClient,
  SYNC,
} from './helpers/wire-client.js';

let upstream: PostgresInstance;
let outpost: OutpostProcess;
let stack: Stack;

const READ = 'select name from item where id = 1';

before(async () => {
  stack = await startStack({
    name: 'session-changes',
    // `shadow.item` answers unqualified `item` while shadow is first on the path.
    setup: `create table item (id int primary key, name text not null);
     insert into item select g, 'n' || g from generate_series(1, 10) g;
     create schema shadow;
     create table shadow.item (id int primary key, name text not null);
     insert into shadow.item values (1, 'shadowed');
     create role ttr login password 'ttr';
     grant select on item to ttr;
     alter role ttr in database postgres set transaction_timeout = '5s'`,
  });
  ({ upstream, outpost } = stack);
  // A role the raw-protocol test logs in as without a password.
  const hba = `${upstream.dataDir}/pg_hba.conf`;
  writeFileSync(hba, `host all lscraw 127.0.0.1/32 trust\n${readFileSync(hba, 'utf8')}`);
  await upstream.query('create role lscraw login; grant select on item to lscraw; select pg_reload_conf()');
  const warm = await connectThrough(outpost.port);
  await eventually(async () => {
    await warm.query(READ);
    return (await lastRoute(warm)) === 'local';
  });
  await warm.end();
});

after(() => stack?.stop());

/** A session through Outpost and a direct one, as the same role with the same startup parameters. */
async function pair(
  extra: pg.ClientConfig = {},
): Promise<{ via: pg.Client; direct: pg.Client; end: () => Promise<void> }> {
  const via = await connectThrough(outpost.port, extra);
  const direct = new pg.Client({
    host: '127.0.0.1',
    port: upstream.port,
    user: 'postgres',
    password: 'postgres',
    ...extra,
  });
  direct.on('error', () => {});
  await direct.connect();
  return { via, direct, end: async () => void (await Promise.all([via.end(), direct.end()])) };
}

type Step = string | pg.QueryConfig;

/** Runs `step` on both sessions; returns Outpost's rows after asserting they are Postgres's. */
async function same(p: { via: pg.Client; direct: pg.Client }, step: Step): Promise<unknown[]> {
  const run = async (c: pg.Client): Promise<{ code: string | undefined } | { rows: unknown[] }> => {
    const r = await settle(c.query(typeof step === 'string' ? step : step));
    return r instanceof Error ? { code: (r as pg.DatabaseError).code } : { rows: r.rows };
  };
  const got = await run(p.via);
  const want = await run(p.direct);
  assert.deepEqual(got, want, typeof step === 'string' ? step : step.text);
  return 'rows' in got ? got.rows : [];
}

test('SET LOCAL search_path ends with its transaction: reads after the COMMIT or ROLLBACK are local', async () => {
  const p = await pair();
  try {
    for (const end of ['commit', 'rollback']) {
      await same(p, 'begin');
      await same(p, 'set local search_path = shadow, public');
      assert.deepEqual(await same(p, READ), [{ name: 'shadowed' }]);
      await same(p, end);
      assert.deepEqual(await same(p, READ), [{ name: 'n1' }]);
      assert.equal(await lastRoute(p.via), 'local', `read after SET LOCAL search_path and ${end}`);
    }
  } finally {
    await p.end();
  }
});

test('SET search_path then RESET (or SET TO DEFAULT): local again; while set, answered upstream', async () => {
  const p = await pair();
  try {
    for (const back of [
      'reset search_path',
      'set search_path to default',
      `set search_path = "$user", public`,
    ]) {
      await same(p, 'set search_path = shadow, public');
      assert.deepEqual(await same(p, READ), [{ name: 'shadowed' }]);
      assert.match(await lastRoute(p.via), /^upstream: /, 'shadow first on the path: forwarded');
      await same(p, back);
      assert.deepEqual(await same(p, READ), [{ name: 'n1' }]);
      assert.equal(await lastRoute(p.via), 'local', `read after ${back}`);
    }
    // A session-level SET inside a transaction block that rolls back: undone upstream, local after.
    await same(p, 'begin');
    await same(p, 'set search_path = shadow, public');
    await same(p, 'rollback');
    assert.deepEqual(await same(p, READ), [{ name: 'n1' }]);
    assert.equal(await lastRoute(p.via), 'local', 'after a rolled-back SET');
    // ... and one that commits stays in force: forwarded, shadowed.
    await same(p, 'begin');
    await same(p, 'set search_path = shadow, public');
    await same(p, 'commit');
    assert.deepEqual(await same(p, READ), [{ name: 'shadowed' }]);
    assert.match(await lastRoute(p.via), /^upstream: /);
  } finally {
    await p.end();
  }
});

test('SET statement_timeout through the extended protocol is followed: reads stay local, and it applies', async () => {
  const p = await pair();
  try {
    await same(p, { name: 'st', text: `set statement_timeout = '30s'` });
    await same(p, READ);
    assert.equal(await lastRoute(p.via), 'local', 'read after an extended-protocol SET statement_timeout');
    assert.deepEqual(await same(p, 'show statement_timeout'), [{ statement_timeout: '30s' }]);
    // Unnamed statements with parameters (node-postgres sends them through Parse/Bind too).
    await same(p, { text: `select set_config('application_name', $1, false)`, values: ['x'] });
    await same(p, { name: 'st0', text: 'set statement_timeout = 0' });
    await same(p, { text: READ.replace('1', '$1'), values: [1] });
    assert.equal(await lastRoute(p.via), 'local');
    // Followed, so applied to local reads: a long one is stopped with 57014 like upstream's.
    await same(p, { name: 'st1', text: 'set statement_timeout = 200' });
    const heavy = 'select count(*) from item a, item b, item c, item d, item e, item f, item g, item h';
    const err = (await settle(p.via.query(heavy))) as pg.DatabaseError;
    assert.equal(err.code, '57014', 'a long local read is stopped');
    assert.equal(((await settle(p.direct.query(heavy))) as pg.DatabaseError).code, '57014');
    await same(p, { name: 'st2', text: 'reset statement_timeout' });
    await same(p, READ);
    assert.equal(await lastRoute(p.via), 'local');
  } finally {
    await p.end();
  }
});

test('SHOW outpost.last_route through the extended protocol in a local-started transaction: answered here', async () => {
  const app = `lsc-${process.pid}`;
  const c = await connectThrough(outpost.port, { application_name: app });
  try {
    await c.query('begin');
    await c.query({ text: 'select name from item where id = $1', values: [2] });
    const r = await c.query<{ last_route: string }>({ name: 'lr', text: 'show outpost.last_route' });
    assert.deepEqual(r.rows, [{ last_route: 'local' }]);
    const s = await upstream.query<{ state: string }>(
      `select state from pg_stat_activity where application_name = '${app}'`,
    );
    assert.deepEqual(
      s.rows.map((x) => x.state),
      ['idle'],
      'upstream never entered a transaction',
    );
    await c.query('commit');
    assert.equal(await lastRoute(c), 'local');
  } finally {
    await c.end();
  }
});

const ext = (sql: string, params: string[] = []): Buffer =>
  Buffer.concat([parseMsg('', sql), bindMsg('', '', params), describeMsg('P', ''), executeMsg('')]);

/** Reply types, tags, ReadyForQuery status, SQLSTATEs and DataRow text (what a client sees). */
const outline = (msgs: Message[]): string[] =>
  msgs.map((m) => {
    if (m.type === 'E') {
      const at = m.body.indexOf(Buffer.from('\0C'));
      return `E:${m.body.toString('utf8', at + 2, at + 7)}`;
    }
    if (m.type === 'C' || m.type === 'Z' || m.type === 'D') return `${m.type}:${m.body.toString('latin1')}`;
    return m.type;
  });

test('SHOW outpost.last_route in extended-protocol batches of a local-started transaction: local, no upstream transaction', async () => {
  const app = 'lsc-raw';
  const c = await RawClient.session(outpost.port, 'lscraw', { params: [['application_name', app]] });
  const upstreamState = async () =>
    (
      await upstream.query<{ state: string }>(
        `select state from pg_stat_activity where application_name = '${app}'`,
      )
    ).rows.map((r) => r.state);
  try {
    await eventually(async () => {
      await c.run(Buffer.concat([ext(READ), SYNC]));
      const r = await c.run(Buffer.concat([ext('show outpost.last_route'), SYNC]));
      return r.some((m) => m.type === 'D' && m.body.includes(Buffer.from('local')));
    });
    const batches: Buffer[][] = [
      [ext('begin'), ext('show outpost.last_route'), SYNC],
      [ext('show outpost.last_route'), SYNC],
      [ext(READ), ext('show outpost.last_route'), SYNC],
      [ext('show outpost.last_route'), ext(READ), SYNC],
      [parseMsg('lr', 'show outpost.last_route'), SYNC],
      [bindMsg('', 'lr', []), executeMsg(''), SYNC],
    ];
    for (const [i, parts] of batches.entries()) {
      const got = outline(await c.run(Buffer.concat(parts)));
      assert.ok(!got.some((m) => m.startsWith('E:')), `batch ${i}: ${got.join(' ')}`);
      assert.ok(
        got.every((m) => !m.startsWith('D:') || /local|n1/.test(m)),
        `batch ${i}: ${got.join(' ')}`,
      );
      assert.equal(got.at(-1), 'Z:T', `batch ${i}`);
      assert.deepEqual(await upstreamState(), ['idle'], `batch ${i}: upstream never entered a transaction`);
    }
    // A forwarded statement takes the transaction upstream: SHOW (first in its
    // batch, nothing of upstream's owed before it) is still answered here, as
    // through a simple Query.
    await c.run(Buffer.concat([ext('select relname from pg_class where oid = 1259'), SYNC]));
    assert.deepEqual(await upstreamState(), ['idle in transaction']);
    for (const parts of [
      [ext('show outpost.last_route'), SYNC],
      [bindMsg('', 'lr', []), describeMsg('P', ''), executeMsg(''), SYNC],
      [ext('show outpost.last_route'), ext('select relname from pg_class where oid = 1259'), SYNC],
    ]) {
      const got = outline(await c.run(Buffer.concat(parts)));
      assert.ok(!got.some((m) => m.startsWith('E:')), got.join(' '));
      assert.ok(
        got.some((m) => m.startsWith('D:') && m.includes('upstream: ')),
        got.join(' '),
      );
      assert.equal(got.at(-1), 'Z:T');
    }
    assert.deepEqual(outline(await c.run(serializeQuery('commit'))), ['C:COMMIT\0', 'Z:I']);
  } finally {
    c.close();
  }
});

/** The session's reads and its BEGIN are forwarded (upstream sees the transaction), or not. */
async function upstreamOwnsTransactions(c: pg.Client, app: string): Promise<boolean> {
  await c.query('begin');
  const s = await upstream.query<{ state: string }>(
    `select state from pg_stat_activity where application_name = '${app}'`,
  );
  await c.query(READ);
  const route = await lastRoute(c);
  await c.query('commit');
  return s.rows[0]?.state === 'idle in transaction' && route.startsWith('upstream: ');
}

test('transaction_timeout in force: transactions and extended batches go upstream, which ends them at the timeout; a lone simple read stays local', async () => {
  const app = `ltt-${process.pid}`;
  const p = await pair({ application_name: app });
  try {
    await same(p, `set transaction_timeout = '5s'`);
    assert.ok(await upstreamOwnsTransactions(p.via, app), 'BEGIN and the read went upstream');
    // A lone simple Query is its own transaction, answered within the timeout.
    await eventually(async () => {
      await same(p, READ);
      return (await lastRoute(p.via)) === 'local';
    });
    // One that would run in an executor could outlive the timeout: upstream decides.
    await same(p, 'select count(*) from item');
    assert.match(await lastRoute(p.via), /^upstream: transaction_timeout in force/);
    // An extended batch's implicit transaction lasts until its Sync: upstream's.
    await same(p, { text: READ.replace('1', '$1'), values: [1] });
    assert.match(await lastRoute(p.via), /^upstream: transaction_timeout in force/);
    // READ ONLY transactions too (upstream must see them from their start).
    await same(p, 'begin read only');
    await same(p, READ);
    assert.match(await lastRoute(p.via), /^upstream: /);
    await same(p, 'commit');
    // A transaction that outlives it: both sessions are ended by upstream
    // (FATAL 25P04), whether the end shows as an error event or on a query.
    await same(p, `set transaction_timeout = '500ms'`);
    const ended = async (c: pg.Client): Promise<string | undefined> => {
      const gone = new Promise<string | undefined>((resolve) => {
        c.once('error', (e: pg.DatabaseError) => resolve(e.code));
      });
      const tx = (async () => {
        await c.query('begin');
        await c.query(READ);
        await new Promise((r) => setTimeout(r, 1500));
        await c.query(READ);
        return 'not ended';
      })().catch((e: pg.DatabaseError) => e.code ?? 'ended');
      return Promise.race([gone, tx]);
    };
    const [got, want] = await Promise.all([ended(p.via), ended(p.direct)]);
    assert.equal(want, '25P04');
    assert.equal(got, want);
  } finally {
    await p.end().catch(() => {});
  }
  // Reset: local again.
  const app2 = `ltt2-${process.pid}`;
  const c = await connectThrough(outpost.port, { application_name: app2 });
  try {
    await c.query(`set transaction_timeout = '5s'`);
    await c.query('reset transaction_timeout');
    assert.equal(await upstreamOwnsTransactions(c, app2), false, 'after RESET the transaction is local');
    await c.query(READ);
    assert.equal(await lastRoute(c), 'local');
  } finally {
    await c.end();
  }
});

test('transaction_timeout from the startup options or a role default: transactions upstream, lone reads local', async () => {
  const app = `ltt3-${process.pid}`;
  const c = await connectThrough(outpost.port, {
    application_name: app,
    options: '-c transaction_timeout=5000',
  });
  try {
    assert.ok(await upstreamOwnsTransactions(c, app));
    await eventually(async () => {
      await c.query(READ);
      return (await lastRoute(c)) === 'local';
    });
  } finally {
    await c.end();
  }
  // The role's default is read on the session's own upstream session, then followed like a SET.
  const app4 = `ltt4-${process.pid}`;
  const r = await connectThrough(outpost.port, {
    user: 'ttr',
    password: 'ttr',
    database: 'postgres',
    application_name: app4,
  });
  try {
    await eventually(async () => {
      await r.query(READ);
      return (await lastRoute(r)) === 'local';
    });
    assert.ok(await upstreamOwnsTransactions(r, app4), 'the role default keeps transactions upstream');
    assert.equal((await r.query('show transaction_timeout')).rows[0]?.transaction_timeout, '5s');
    // RESET goes back to the role's default, not to none: transactions stay upstream.
    await r.query('reset transaction_timeout');
    assert.ok(await upstreamOwnsTransactions(r, app4), 'after RESET the role default is in force again');
    await r.query('set transaction_timeout = 0');
    assert.equal(
      await upstreamOwnsTransactions(r, app4),
      false,
      'with none in force the transaction is local',
    );
  } finally {
    await r.end();
  }
});
