/**
 * Differential probes at the intersections of features that met on main:
 * transactions that start locally, the hidden state check after user code,
 * read-your-writes, executors with cancel and statement_timeout, the role
 * watch. Each probe runs the same statements on a direct session and on an
 * Outpost session and requires the same rows, tags and SQLSTATEs (and, for
 * the raw-protocol probes, the same replies byte for byte, ReadyForQuery
 * status included). Forwarding is always fine; a different answer fails.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { serializeQuery } from '../src/wire/frontend.js';
import { cancelRequest } from './helpers/cancel.js';
import {
  connectThrough,
  eventually,
  lastRoute,
  type OutpostProcess,
  startOutpost,
} from './helpers/outpost.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';
import { type Probe, type ProbeContext, runProbe } from './helpers/probes.js';
import { bindMsg, describeMsg, executeMsg, parseMsg, RawClient, SYNC } from './helpers/wire-client.js';

let upstream: PostgresInstance;
let outpost: OutpostProcess;
let admin: pg.Client;
let dir: string;

/** A read of a few million rows: long enough to cancel or time out, local when the executor runs it. */
const LONG_READ = 'select count(*) from big a, big b, big c';
/** A read of a few million rows that ends: a tenth of a second or more. */
const MID_READ = 'select count(*) from big a, big b, (select id from big order by id limit 40) c';

before(async () => {
  upstream = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'outpost-review-'));
  const hba = `${upstream.dataDir}/pg_hba.conf`;
  writeFileSync(hba, `host all rvraw 127.0.0.1/32 trust\n${readFileSync(hba, 'utf8')}`);
  await upstream.query(
    `create table item (id int primary key, name text not null);
     insert into item select g, 'n' || g from generate_series(1, 10) g;
     create table big (id int primary key);
     insert into big select generate_series(1, 400);
     create table log (v text);
     alter table log replica identity full;
     create table secret (id int primary key, v text);
     insert into secret values (1, 's1');
     create schema rvs;
     create table rvs.item (id int primary key, name text not null);
     insert into rvs.item values (1, 'rvs1'), (2, 'rvs2');
     create materialized view rvmv as select id, name from item;
     create unique index on rvmv (id);
     create role rvalice login password 'pw';
     grant select on item, big to rvalice;
     grant select, insert on log to rvalice;
     create role rvraw login;
     grant select, insert on item, log to rvraw;
     grant select on big to rvraw;
     grant rvalice to rvraw;
     alter materialized view rvmv owner to rvraw`,
  );
  await upstream.query('select pg_reload_conf()');
  outpost = await startOutpost({
    upstream: upstream.url(),
    replica: join(dir, 'r.db'),
    args: ['--max-lag', '2'],
  });
  await outpost.ready();
  admin = await upstream.connect();
  const warm = await connectThrough(outpost.port);
  await eventually(async () => {
    await warm.query('select name from item where id = 1');
    await warm.query('select count(*) from big');
    return (await lastRoute(warm)) === 'local';
  });
  await warm.end();
});

after(async () => {
  await admin?.end();
  await outpost?.stop();
  await upstream?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const context = (): ProbeContext => ({
  upstream: { host: upstream.host, port: upstream.port },
  outpostPort: outpost.port,
  admin,
  waitMs: 2000,
});

const READ = 'select name from item where id = 1';

const PROBES: Probe[] = [
  {
    name: 'SET LOCAL search_path after a local read, then COMMIT: the setting ends with the transaction',
    steps: ['begin', READ, 'set local search_path = pg_catalog', READ, 'commit', READ],
    local: [1],
    note: 'the read after COMMIT forwards (the session is taken to have changed search_path): a missed optimisation only',
  },
  {
    name: 'SET search_path in a local-started transaction rolled back: reverted',
    steps: ['begin', READ, 'set search_path = pg_catalog', 'rollback', READ, 'show search_path'],
  },
  {
    name: 'SET search_path in a local-started transaction committed: kept',
    steps: ['begin', READ, 'set search_path = pg_catalog', 'commit', READ, 'reset search_path', READ],
  },
  {
    name: 'SET as the first statement of a local-started transaction, rolled back',
    steps: ['begin', 'set search_path = pg_catalog', 'rollback', READ, 'show search_path'],
  },
  {
    name: 'ROLLBACK TO SAVEPOINT undoes a SET after local reads',
    steps: [
      'begin',
      READ,
      'savepoint a',
      'set search_path = pg_catalog',
      READ,
      'rollback to savepoint a',
      READ,
      'release savepoint a',
      READ,
      'commit',
      READ,
    ],
  },
  {
    name: 'SET LOCAL ROLE after a local read: privileges of the role, reverted at COMMIT',
    steps: [
      'begin',
      'select v from secret where id = 1',
      'set local role rvalice',
      'select v from secret where id = 1',
      'commit',
      'select v from secret where id = 1',
    ],
  },
  {
    name: 'SET ROLE in a local-started transaction rolled back: reverted',
    steps: [
      'begin',
      READ,
      'set role rvalice',
      'rollback',
      'select current_user',
      'select v from secret where id = 1',
    ],
  },
  {
    name: 'SET SESSION AUTHORIZATION committed inside a local-started transaction',
    steps: [
      'begin',
      READ,
      'set session authorization rvalice',
      'commit',
      'select v from secret where id = 1',
      READ,
      'reset session authorization',
      'select v from secret where id = 1',
    ],
  },
  {
    name: 'prepared before SET ROLE, executed after it (Postgres checks privileges at execution)',
    steps: [
      { sql: 'select v from secret where id = $1', params: [1], name: 'rv_secret' },
      'set role rvalice',
      { sql: 'select v from secret where id = $1', params: [1], name: 'rv_secret' },
      'reset role',
      'begin',
      READ,
      'set local role rvalice',
      { sql: 'select v from secret where id = $1', params: [1], name: 'rv_secret' },
      'rollback',
      { sql: 'select v from secret where id = $1', params: [1], name: 'rv_secret' },
    ],
  },
  {
    name: 'transaction identity after local reads, then after a write',
    steps: [
      'begin',
      READ,
      'show transaction_isolation',
      'select txid_current_if_assigned()',
      'select pg_current_xact_id_if_assigned()',
      "select current_setting('transaction_read_only')",
      "insert into log values ('ident')",
      'select txid_current_if_assigned() is not null as assigned',
      'select pg_current_xact_id_if_assigned() is not null as assigned',
      'rollback',
      'select txid_current_if_assigned()',
    ],
  },
  {
    name: 'a parse error after local reads aborts the transaction',
    steps: ['begin', READ, 'selec 1', READ, 'commit', READ],
  },
  {
    name: 'RELEASE of an unknown savepoint as the first upstream statement',
    steps: ['begin', READ, 'release savepoint nope', READ, 'rollback', READ],
  },
  {
    name: 'a missing table after local reads aborts the transaction',
    steps: ['begin', READ, 'select * from no_such_table', READ, 'end', READ],
  },
  {
    name: 'DISCARD ALL inside a local-started transaction is refused, outside it resets',
    steps: [
      'set search_path = pg_catalog',
      'begin',
      'discard all',
      'rollback',
      READ,
      'begin',
      'select 1 as x',
      'discard all',
      'rollback',
      'discard all',
      READ,
    ],
  },
  {
    name: 'RESET ALL inside a local-started transaction: rolled back, then committed',
    steps: [
      'set search_path = pg_catalog',
      'begin',
      'reset all',
      'rollback',
      READ,
      'begin',
      'select 1 as x',
      'reset all',
      'commit',
      READ,
      'show search_path',
    ],
  },
  {
    name: 'user code in a local-started transaction changing search_path, then a read',
    steps: [
      'begin',
      READ,
      "select set_config('search_path', 'pg_catalog', true)",
      READ,
      'commit',
      READ,
      "select set_config('search_path', 'pg_catalog', false)",
      READ,
      'reset search_path',
    ],
  },
  {
    name: 'DO block changing search_path inside a local-started transaction, rolled back',
    steps: [
      'begin',
      READ,
      "do $$ begin perform set_config('search_path', 'pg_catalog', false); end $$",
      READ,
      'rollback',
      READ,
      'show search_path',
    ],
  },
  {
    name: 'read-your-writes: own autocommit write, then a local-started transaction reads it',
    steps: [
      "insert into log values ('ryw1')",
      'begin',
      "select count(*) from log where v = 'ryw1'",
      'commit',
      "select count(*) from log where v = 'ryw1'",
    ],
  },
  {
    name: 'a write inside a local-started transaction, rolled back, then reads',
    steps: [
      'begin',
      "select count(*) from log where v = 'ryw2'",
      "insert into log values ('ryw2')",
      "select count(*) from log where v = 'ryw2'",
      'rollback',
      "select count(*) from log where v = 'ryw2'",
      'begin',
      "select count(*) from log where v = 'ryw2'",
      'commit',
    ],
  },
  {
    name: 'COMMIT and ROLLBACK with AND CHAIN after local reads',
    steps: [
      'begin',
      READ,
      'commit and chain',
      'show transaction_isolation',
      READ,
      'rollback and chain',
      'rollback',
    ],
  },
  {
    name: 'BEGIN inside a local-started transaction warns and stays one transaction',
    steps: ['begin', READ, 'begin', READ, 'commit', 'commit'],
  },
  {
    name: 'as another role: local-started transaction, a denied read aborts it',
    user: 'rvalice',
    steps: ['begin', READ, 'select v from secret', READ, 'rollback', READ],
  },
  {
    name: 'several statements in one simple query around a local-started transaction',
    steps: [`begin; ${READ}; commit`, `begin; ${READ}`, READ, 'commit', `${READ}; begin`, 'rollback'],
  },
  {
    name: "SET SESSION CHARACTERISTICS serializable, then BEGIN: the isolation is upstream's",
    steps: [
      'set session characteristics as transaction isolation level serializable',
      'begin',
      'show transaction_isolation',
      READ,
      'commit',
      'set session characteristics as transaction isolation level read committed',
    ],
  },
  {
    name: 'default_transaction_read_only, then BEGIN, a read and a write',
    steps: [
      'set default_transaction_read_only = on',
      'begin',
      'show transaction_read_only',
      READ,
      "insert into log values ('ro')",
      'rollback',
      'reset default_transaction_read_only',
    ],
  },
  {
    name: 'SET TRANSACTION READ ONLY after a local read, then a write',
    steps: ['begin', READ, 'set transaction read only', "insert into log values ('ro2')", 'rollback'],
  },
  {
    name: 'statements refused in a transaction block after local reads',
    steps: [
      'begin',
      READ,
      "prepare transaction 'rvx'",
      'commit',
      'begin',
      READ,
      'vacuum big',
      'rollback',
      'begin',
      READ,
      "commit prepared 'rvx'",
      'rollback',
      'begin',
      READ,
      'create index concurrently big_c on big (id)',
      'rollback',
    ],
  },
  {
    name: 'cursors in a local-started transaction, WITH HOLD past COMMIT',
    steps: [
      'begin',
      READ,
      'declare c1 cursor for select name from item order by id',
      'fetch 2 from c1',
      'declare c2 cursor with hold for select name from item order by id',
      'commit',
      'fetch 2 from c1',
      'fetch 2 from c2',
      'close c2',
    ],
  },
  {
    name: 'a savepoint right after BEGIN, reads, ROLLBACK TO, COMMIT',
    steps: ['begin', 'savepoint a', READ, 'rollback to savepoint a', READ, 'commit', READ],
  },
  {
    name: "default_transaction_isolation set inside a local-started transaction: the next BEGIN is upstream's",
    steps: [
      'begin',
      READ,
      "set default_transaction_isolation = 'serializable'",
      'show transaction_isolation',
      'commit',
      'begin',
      'show transaction_isolation',
      READ,
      'commit',
      'reset default_transaction_isolation',
      'begin',
      'show transaction_isolation',
      'commit',
    ],
  },
  {
    name: 'a temporary table shadowing a replicated one, created in a local-started transaction',
    steps: [
      'begin',
      READ,
      'create temp table item (id int, name text)',
      READ,
      'rollback',
      READ,
      'begin',
      READ,
      "create temp table item (id int, name text); insert into item values (1, 'temp')",
      'commit',
      READ,
      'discard temp',
      READ,
    ],
  },
  {
    name: 'PREPARE inside a local-started transaction survives its ROLLBACK',
    steps: [
      'begin',
      READ,
      'prepare rv_ps(int) as select name from item where id = $1',
      'rollback',
      'execute rv_ps(2)',
      'deallocate rv_ps',
    ],
  },
  {
    name: 'statement_timeout set in a local-started transaction: SET LOCAL ends at COMMIT, SET ends at ROLLBACK',
    steps: [
      'begin',
      READ,
      "set local statement_timeout = '50ms'",
      'commit',
      MID_READ,
      'begin',
      READ,
      "set statement_timeout = '50ms'",
      'rollback',
      MID_READ,
      'begin',
      READ,
      'savepoint a',
      "set statement_timeout = '50ms'",
      'rollback to savepoint a',
      MID_READ,
      'commit',
      MID_READ,
      'show statement_timeout',
    ],
  },
  {
    name: 'statement_timeout set in a local-started transaction and committed applies to later local reads',
    steps: [
      'begin',
      READ,
      "set statement_timeout = '200ms'",
      'commit',
      LONG_READ,
      READ,
      'reset statement_timeout',
    ],
  },
  {
    name: 'a statement prepared before search_path changes (Postgres parses it again), in and out of a transaction',
    steps: [
      { sql: 'select name from item where id = $1', params: [1], name: 'rv_sp' },
      'set search_path = rvs, public',
      { sql: 'select name from item where id = $1', params: [1], name: 'rv_sp' },
      'reset search_path',
      { sql: 'select name from item where id = $1', params: [1], name: 'rv_sp' },
      'begin',
      READ,
      'set local search_path = rvs',
      { sql: 'select name from item where id = $1', params: [2], name: 'rv_sp' },
      'commit',
      { sql: 'select name from item where id = $1', params: [2], name: 'rv_sp' },
      "select set_config('search_path', 'rvs', false)",
      { sql: 'select name from item where id = $1', params: [2], name: 'rv_sp' },
      'reset search_path',
    ],
    local: [0],
    note: 'after RESET search_path reads still forward (session changed search_path): a missed optimisation only',
  },
  {
    name: 'the isolation level changed by SET or set_config after a local read is refused (25001)',
    steps: [
      'begin',
      READ,
      "set transaction_isolation = 'repeatable read'",
      'rollback',
      'begin',
      READ,
      "select set_config('transaction_isolation', 'serializable', true)",
      'rollback',
      'begin',
      "set local transaction_isolation = 'repeatable read'",
      'show transaction_isolation',
      READ,
      'commit',
    ],
  },
];

const CHANGES: Probe[] = [
  {
    name: 'a statement prepared by a role, its SELECT revoked by another session, executed again',
    user: 'rvalice',
    steps: [{ sql: 'select name from item where id = $1', params: [1], name: 'rv_item' }],
    change: ['revoke select on item from rvalice'],
    after: [
      { sql: 'select name from item where id = $1', params: [1], name: 'rv_item' },
      'begin',
      'select count(*) from big',
      READ,
      'rollback',
    ],
    revert: ['grant select on item to rvalice'],
  },
  {
    name: 'a local-started transaction open while another session revokes SELECT',
    user: 'rvalice',
    steps: ['begin', READ],
    change: ['revoke select on item from rvalice'],
    after: [READ, 'rollback', READ],
    revert: ['grant select on item to rvalice'],
  },
];

test('intersection probes', async (t) => {
  for (const p of PROBES) {
    await t.test(p.name, async () => {
      await runProbe(context(), p);
    });
  }
});

test('role changes by another session, around local-started transactions and prepared statements', async (t) => {
  for (const p of CHANGES) {
    await t.test(p.name, async () => {
      await runProbe(context(), p);
    });
  }
});

/** Runs the same steps on a direct and an Outpost session, collecting outcomes (tag or SQLSTATE). */
async function both(
  steps: ((c: pg.Client, port: number) => Promise<string>)[],
): Promise<{ direct: string[]; outpost: string[] }> {
  const out: { direct: string[]; outpost: string[] } = { direct: [], outpost: [] };
  for (const [key, port] of [
    ['direct', upstream.port],
    ['outpost', outpost.port],
  ] as const) {
    const c = new pg.Client({
      host: '127.0.0.1',
      port,
      user: 'postgres',
      password: 'postgres',
      database: 'postgres',
    });
    c.on('error', () => {});
    await c.connect();
    try {
      for (const step of steps) out[key].push(await step(c, port));
    } finally {
      await c.end();
    }
  }
  return out;
}

const q =
  (sql: string) =>
  async (c: pg.Client): Promise<string> => {
    try {
      const r = await c.query(sql);
      return `${r.command} ${JSON.stringify(r.rows)}`;
    } catch (err) {
      return `error ${(err as { code?: string }).code}`;
    }
  };

test('statement_timeout of a local read inside a local-started transaction: 57014, then 25P02 until ROLLBACK', async () => {
  for (const where of ['set local', 'session'] as const) {
    const setTimeout =
      where === 'session'
        ? [q("set statement_timeout = '300ms'"), q('begin'), q(READ)]
        : [q('begin'), q(READ), q("set local statement_timeout = '300ms'")];
    const r = await both([
      ...setTimeout,
      q(LONG_READ),
      q(READ),
      q('commit'),
      q(READ),
      q('reset statement_timeout'),
    ]);
    assert.deepEqual(r.outpost, r.direct, where);
    assert.equal(r.direct[3], 'error 57014');
  }
});

test('cancel of a local read inside a local-started transaction: 57014, then 25P02 until ROLLBACK', async () => {
  const cancelled = async (c: pg.Client, port: number): Promise<string> => {
    const running = q(LONG_READ)(c);
    await new Promise((r) => setTimeout(r, 300));
    await cancelRequest(port, c);
    return running;
  };
  const r = await both([q('begin'), q(READ), cancelled, q(READ), q('commit'), q(READ)]);
  assert.deepEqual(r.outpost, r.direct);
  assert.equal(r.direct[2], 'error 57014');
  assert.equal(r.direct[3], 'error 25P02');
});

/** Replies of a batch as type + body hex (byte for byte). */
const bytes = (msgs: { type: string; body: Buffer }[]): string[] =>
  msgs.map((m) => `${m.type}${m.body.toString('hex')}`);

const ext = (sql: string, params: string[] = []): Buffer =>
  Buffer.concat([parseMsg('', sql), bindMsg('', '', params), describeMsg('P', ''), executeMsg('')]);

test('extended-protocol batches mixing BEGIN, local reads, writes and COMMIT in one Sync: as Postgres', async () => {
  const batches: Buffer[][] = [
    // BEGIN, read, COMMIT, read after the COMMIT in one Sync.
    [ext('begin'), ext('select name from item where id = $1', ['2']), ext('commit'), ext(READ), SYNC],
    // BEGIN, read, write, COMMIT in one Sync.
    [ext('begin'), ext(READ), ext("insert into log values ('batch')"), ext('commit'), SYNC],
    // An error after BEGIN and a read: the rest skipped, ReadyForQuery E; the next Sync's COMMIT is ROLLBACK.
    [ext('begin'), ext(READ), ext('select 1/$1::int', ['0']), ext(READ), ext('commit'), SYNC],
    [ext('commit'), SYNC],
    // BEGIN in its own Sync, then reads and a ROLLBACK with a read behind it.
    [ext('begin'), SYNC],
    [ext(READ), ext('rollback'), ext(READ), SYNC],
    // Two Syncs in one write: BEGIN+read, then COMMIT.
    [ext('begin'), ext(READ), SYNC, ext('commit'), SYNC],
    [ext("select count(*) from log where v = 'batch'"), SYNC],
    // A portal of a local read suspended by a row limit, resumed, then gone with the COMMIT.
    [
      ext('begin'),
      parseMsg('s1', 'select name from item order by id'),
      bindMsg('p1', 's1'),
      executeMsg('p1', 2),
      executeMsg('p1', 2),
      ext('commit'),
      executeMsg('p1', 2),
      SYNC,
    ],
    [ext('rollback'), SYNC],
    // The same with ROLLBACK, and a portal bound before BEGIN in the same batch.
    [
      parseMsg('s2', 'select name from item order by id'),
      bindMsg('p0', 's2'),
      ext('begin'),
      bindMsg('p2', 's2'),
      executeMsg('p2', 2),
      executeMsg('p0', 1),
      ext('rollback'),
      executeMsg('p0', 1),
      SYNC,
    ],
    [executeMsg('p2', 1), SYNC],
    // A local portal, then a write (upstream's transaction starts), COMMIT upstream, the portal again.
    [
      ext('begin'),
      bindMsg('p3', 's1'),
      executeMsg('p3', 2),
      ext("insert into log values ('portal')"),
      ext('commit'),
      executeMsg('p3', 2),
      SYNC,
    ],
    [ext('rollback'), SYNC],
    // User code changing search_path pipelined in front of BEGIN and a read.
    [
      ext("select set_config('search_path', 'pg_catalog', false)"),
      ext('begin'),
      ext(READ),
      ext('commit'),
      SYNC,
    ],
    [ext('reset search_path'), SYNC],
    // A write pipelined with BEGIN and a read of it in its own transaction (read-your-writes).
    [
      ext("update item set name = 'pa' where id = 3"),
      SYNC,
      ext('begin'),
      ext('select name from item where id = 3'),
      ext('commit'),
      SYNC,
    ],
    [
      ext("update item set name = 'pb' where id = 3"),
      ext('begin'),
      ext('select name from item where id = 3'),
      ext('commit'),
      SYNC,
    ],
    // The same in the simple protocol, four Queries in one write.
    [
      serializeQuery("update item set name = 'pc' where id = 3"),
      serializeQuery('begin'),
      serializeQuery('select name from item where id = 3'),
      serializeQuery('commit'),
    ],
    [
      serializeQuery(
        "update item set name = 'pd' where id = 3; begin; select name from item where id = 3; commit",
      ),
    ],
    // A COMMIT answered here while the client had pipelined a write and a read behind it.
    [
      serializeQuery('begin'),
      serializeQuery(READ),
      serializeQuery('commit'),
      serializeQuery("update item set name = 'pe' where id = 3"),
      serializeQuery('select name from item where id = 3'),
    ],
    // User code changing search_path pipelined in front of BEGIN and a read (simple protocol).
    [
      serializeQuery("select set_config('search_path', 'pg_catalog', false)"),
      serializeQuery('begin'),
      serializeQuery(READ),
      serializeQuery('commit'),
      serializeQuery('reset search_path'),
    ],
    // READ ONLY transaction (pinned snapshot): its portal after COMMIT.
    [
      ext('begin read only'),
      bindMsg('p4', 's1'),
      executeMsg('p4', 2),
      ext('commit'),
      executeMsg('p4', 2),
      SYNC,
    ],
    // READ ONLY: a portal bound after a savepoint is gone at ROLLBACK TO it, one bound before stays.
    [
      ext('begin read only'),
      bindMsg('p7', 's1'),
      executeMsg('p7', 1),
      ext('savepoint a'),
      bindMsg('p8', 's1'),
      executeMsg('p8', 1),
      ext('rollback to savepoint a'),
      executeMsg('p7', 1),
      executeMsg('p8', 1),
      SYNC,
    ],
    [ext('rollback'), SYNC],
    [ext('begin read only'), ext('savepoint a'), bindMsg('p9', 's1'), executeMsg('p9', 1), SYNC],
    [ext('release savepoint a'), executeMsg('p9', 1), SYNC],
    [ext('savepoint b'), bindMsg('p10', 's1'), executeMsg('p10', 1), SYNC],
    [ext('rollback to savepoint b'), SYNC],
    [executeMsg('p10', 1), SYNC],
    [ext('rollback'), SYNC],
    // A simple-protocol COMMIT in the middle of an extended batch, then its portal.
    [
      ext('begin'),
      bindMsg('p11', 's1'),
      executeMsg('p11', 1),
      serializeQuery('commit'),
      executeMsg('p11', 1),
      SYNC,
    ],
    [
      ext('begin'),
      bindMsg('p12', 's1'),
      executeMsg('p12', 1),
      serializeQuery('select 1'),
      executeMsg('p12', 1),
      SYNC,
    ],
    [ext('rollback'), SYNC],
    // No BEGIN: a portal of the implicit transaction, then COMMIT, then the portal.
    [bindMsg('p5', 's1'), executeMsg('p5', 1), ext('commit'), executeMsg('p5', 1), SYNC],
    // An aborted transaction: a local-able read is 25P02, its portal too.
    [ext('begin'), ext(READ), SYNC],
    [ext('select 1/0'), SYNC],
    [ext(READ), SYNC],
    [bindMsg('p6', 's1'), executeMsg('p6', 1), SYNC],
    [ext('rollback'), SYNC],
    // A write in a local-started transaction committed in the same batch, then a read in the next.
    [ext('begin'), ext(READ), ext("update item set name = 'pf' where id = 3"), ext('commit'), SYNC],
    [ext('select name from item where id = 3'), SYNC],
    [
      ext('begin'),
      ext(READ),
      ext("update item set name = 'pg' where id = 3"),
      ext('commit'),
      ext('select name from item where id = 3'),
      SYNC,
    ],
    [
      ext('begin'),
      ext(READ),
      ext("update item set name = 'ph' where id = 3"),
      SYNC,
      ext('commit'),
      SYNC,
      ext('begin'),
      ext('select name from item where id = 3'),
      ext('commit'),
      SYNC,
    ],
    [
      serializeQuery('begin'),
      serializeQuery("update item set name = 'pi' where id = 3"),
      serializeQuery('commit'),
      serializeQuery('begin'),
      serializeQuery('select name from item where id = 3'),
      serializeQuery('commit'),
    ],
    // A matview refreshed in a local-started transaction after the session's own write, read after COMMIT.
    [
      serializeQuery("update item set name = 'm1' where id = 5"),
      serializeQuery('begin'),
      serializeQuery('select name from rvmv where id = 5'),
      serializeQuery('refresh materialized view rvmv'),
      serializeQuery('commit'),
      serializeQuery('select name from rvmv where id = 5'),
    ],
    [
      serializeQuery("update item set name = 'm2' where id = 5"),
      serializeQuery('begin'),
      serializeQuery('refresh materialized view rvmv'),
      serializeQuery('rollback'),
      serializeQuery('select name from rvmv where id = 5'),
    ],
    // Warnings: BEGIN inside a transaction, COMMIT and ROLLBACK outside one (NoticeResponse bytes too).
    [
      serializeQuery('begin'),
      serializeQuery(READ),
      serializeQuery('begin'),
      serializeQuery('commit'),
      serializeQuery('commit'),
      serializeQuery('rollback'),
    ],
    [ext('begin'), ext('begin'), ext(READ), ext('commit'), SYNC],
    [ext('commit'), SYNC],
    // A syntax error in its own batch inside a local-started transaction, then COMMIT.
    [ext('begin'), ext(READ), SYNC],
    [parseMsg('', 'selec 1'), SYNC],
    [ext(READ), SYNC],
    [ext('commit'), SYNC],
    // search_path and role set before BEGIN: the local-started transaction reads as they say.
    [
      serializeQuery('set search_path = pg_catalog'),
      serializeQuery('begin'),
      serializeQuery(READ),
      serializeQuery('rollback'),
    ],
    [serializeQuery('reset search_path')],
    [
      serializeQuery('set role rvalice'),
      serializeQuery('begin'),
      serializeQuery('select v from secret'),
      serializeQuery('rollback'),
      serializeQuery('reset role'),
    ],
    [
      ext('set role rvalice'),
      SYNC,
      ext('begin'),
      ext('select v from secret'),
      ext('rollback'),
      SYNC,
      ext('reset role'),
      SYNC,
    ],
  ];
  const direct = await RawClient.session(upstream.port, 'rvraw');
  const through = await RawClient.session(outpost.port, 'rvraw');
  try {
    await eventually(async () => {
      await through.run(Buffer.concat([ext(READ), SYNC]));
      const route = await through.run(Buffer.concat([ext('show outpost.last_route'), SYNC]));
      return route.some((m) => m.type === 'D' && m.body.includes(Buffer.from('local')));
    });
    for (const [i, parts] of batches.entries()) {
      const syncs = parts.filter((p) => p === SYNC || p[0] === 0x51).length;
      const collect = async (c: RawClient): Promise<string[]> => {
        return bytes(await c.run(Buffer.concat(parts), syncs));
      };
      // Outpost first: its read of its own write cannot be answered by the direct session's.
      const got = await collect(through);
      const want = await collect(direct);
      assert.deepEqual(got, want, `batch ${i}`);
    }
  } finally {
    direct.close();
    through.close();
  }
});

/** Reply types, CommandComplete tags, ReadyForQuery status and SQLSTATEs (error texts and fields aside). */
function outline(msgs: { type: string; body: Buffer }[]): string {
  return msgs
    .map((m) => {
      if (m.type === 'C' || m.type === 'Z') return `${m.type}:${m.body.toString('utf8').replace(/\0$/, '')}`;
      if (m.type === 'E') {
        const at = m.body.indexOf(Buffer.from('\0C'));
        return `E:${m.body.toString('utf8', at + 2, at + 7)}`;
      }
      return m.type;
    })
    .join(' ');
}

test('extended protocol: a local read timed out inside a local-started transaction fails it', async () => {
  const direct = await RawClient.session(upstream.port, 'rvraw');
  const through = await RawClient.session(outpost.port, 'rvraw');
  try {
    await eventually(async () => {
      await through.run(Buffer.concat([ext('select count(*) from big'), SYNC]));
      const route = await through.run(Buffer.concat([ext('show outpost.last_route'), SYNC]));
      return route.some((m) => m.type === 'D' && m.body.includes(Buffer.from('local')));
    });
    const batches = [
      // Set by a simple Query: Outpost follows it there (through Parse/Bind it forwards every read after).
      [serializeQuery("set statement_timeout = '300ms'")],
      [ext('begin'), SYNC],
      [ext(READ), SYNC],
      [ext(LONG_READ), SYNC],
      [ext(READ), SYNC],
      [ext('commit'), SYNC],
      [ext(READ), SYNC],
      // BEGIN, a read and the stopped read in one batch.
      [ext('begin'), ext(READ), ext(LONG_READ), ext(READ), SYNC],
      [ext(READ), SYNC],
      [ext('rollback'), SYNC],
      [serializeQuery('reset statement_timeout')],
    ];
    for (const [i, parts] of batches.entries()) {
      const want = outline(await direct.run(Buffer.concat(parts)));
      const got = outline(await through.run(Buffer.concat(parts)));
      assert.equal(got, want, `batch ${i}`);
    }
  } finally {
    direct.close();
    through.close();
  }
});
