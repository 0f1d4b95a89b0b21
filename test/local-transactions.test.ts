/**
 * READ COMMITTED transactions that start locally (src/server/local-transaction.ts):
 * a plain BEGIN is answered by Outpost, reads in it are served from the
 * replica, and upstream's transaction begins (BEGIN pipelined in front) with
 * the first statement that must go there. Upstream's own view of the
 * session (pg_stat_activity) shows whether its transaction exists.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import type pg from 'pg';
import { STATE_CHECK_SQL } from '../src/server/state-check.js';
import {
  connectThrough,
  eventually,
  lastRoute,
  type OutpostProcess,
  startOutpost,
} from './helpers/outpost.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';
import { bindMsg, describeMsg, executeMsg, parseMsg, RawClient, SYNC } from './helpers/wire-client.js';

const execFileP = promisify(execFile);

let upstream: PostgresInstance;
let outpost: OutpostProcess;
let dir: string;

before(async () => {
  upstream = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'outpost-ltx-'));
  await upstream.query(
    `create table item (id int primary key, name text not null);
     insert into item select g, 'n' || g from generate_series(1, 10) g`,
  );
  // A role the raw-protocol test logs in as without a password.
  const hba = `${upstream.dataDir}/pg_hba.conf`;
  writeFileSync(hba, `host all ltxraw 127.0.0.1/32 trust\n${readFileSync(hba, 'utf8')}`);
  await upstream.query('create role ltxraw login; grant select, insert on item to ltxraw');
  await upstream.query('select pg_reload_conf()');
  outpost = await startOutpost({ upstream: upstream.url(), replica: join(dir, 'r.db') });
  await outpost.ready();
  // The role's privileges are looked up once: until then reads are forwarded.
  const warm = await connectThrough(outpost.port);
  await eventually(async () => {
    await warm.query('select name from item where id = 1');
    return (await lastRoute(warm)) === 'local';
  });
  await warm.end();
});

after(async () => {
  await outpost?.stop();
  await upstream?.stop();
  rmSync(dir, { recursive: true, force: true });
});

let sessions = 0;

/** A client through Outpost, and a probe of its upstream backend's state in pg_stat_activity. */
async function session(): Promise<{ c: pg.Client; upstreamState: () => Promise<string> }> {
  const app = `ltx-${process.pid}-${++sessions}`;
  const c = await connectThrough(outpost.port, { application_name: app });
  const upstreamState = async (): Promise<string> => {
    const r = await upstream.query<{ state: string }>(
      `select state from pg_stat_activity where application_name = '${app}'`,
    );
    return r.rows.map((x) => x.state).join(',');
  };
  return { c, upstreamState };
}

const nameOf = async (c: pg.Client, id: number): Promise<string | undefined> =>
  (await c.query<{ name: string }>(`select name from item where id = ${id}`)).rows[0]?.name;

test('BEGIN, reads, COMMIT: answered locally, upstream never enters a transaction', async () => {
  const { c, upstreamState } = await session();
  try {
    const begin = await c.query('begin');
    assert.equal(begin.command, 'BEGIN');
    assert.equal(await lastRoute(c), 'local');
    assert.equal(await nameOf(c, 1), 'n1');
    assert.equal(await lastRoute(c), 'local');
    const q = { name: 'by-id', text: 'select name from item where id = $1', values: [2] };
    assert.equal((await c.query<{ name: string }>(q)).rows[0]?.name, 'n2');
    assert.equal(await lastRoute(c), 'local');
    assert.equal(await upstreamState(), 'idle');
    const commit = await c.query('commit');
    assert.equal(commit.command, 'COMMIT');
    assert.equal(await lastRoute(c), 'local');
    // START TRANSACTION / ROLLBACK, and END for COMMIT.
    assert.equal((await c.query('start transaction isolation level read committed')).command, 'START');
    assert.equal(await nameOf(c, 3), 'n3');
    assert.equal((await c.query('rollback')).command, 'ROLLBACK');
    assert.equal(await lastRoute(c), 'local');
    await c.query('begin');
    assert.equal((await c.query('end')).command, 'COMMIT');
    assert.equal(await upstreamState(), 'idle');
    // COMMIT outside a transaction is upstream's (a WARNING).
    await c.query('commit');
    assert.match(await lastRoute(c), /^upstream: /);
  } finally {
    await c.end();
  }
});

test('a write opens the upstream transaction; it sees its own write and rolls back', async () => {
  const { c, upstreamState } = await session();
  try {
    await c.query('begin');
    assert.equal(await nameOf(c, 4), 'n4');
    assert.equal(await lastRoute(c), 'local');
    const ins = await c.query("insert into item values (100, 'new') returning id");
    assert.equal(ins.rows[0]?.id, 100);
    assert.equal(await upstreamState(), 'idle in transaction');
    // Its own uncommitted row: only upstream has it.
    assert.equal(await nameOf(c, 100), 'new');
    assert.equal(await lastRoute(c), 'upstream: inside a transaction');
    await c.query('rollback');
    assert.equal(await upstreamState(), 'idle');
    const direct = await upstream.query('select 1 from item where id = 100');
    assert.equal(direct.rows.length, 0);
  } finally {
    await c.end();
  }
});

test('a locking read, a savepoint, now() and SET go upstream inside the transaction', async () => {
  const { c, upstreamState } = await session();
  try {
    for (const stmt of [
      'select name from item where id = 5 for update',
      'select name from item where id = 5 for share',
      'savepoint s1',
      'select now() is not null as t',
      "set local search_path = 'public'",
    ]) {
      await c.query('begin');
      assert.equal(await nameOf(c, 5), 'n5');
      assert.equal(await lastRoute(c), 'local', stmt);
      await c.query(stmt);
      assert.match(await lastRoute(c), /^upstream: /, stmt);
      assert.equal(await upstreamState(), 'idle in transaction', stmt);
      await c.query('commit');
      assert.equal(await upstreamState(), 'idle', stmt);
    }
  } finally {
    await c.end();
  }
});

test('an error fails the transaction as Postgres does; COMMIT then answers ROLLBACK', async () => {
  const { c } = await session();
  try {
    await c.query('begin');
    assert.equal(await nameOf(c, 6), 'n6');
    await assert.rejects(c.query('select 1/0'), { code: '22012' });
    await assert.rejects(c.query('select name from item where id = 6'), { code: '25P02' });
    const end = await c.query('commit');
    assert.equal(end.command, 'ROLLBACK');
    assert.equal(await nameOf(c, 6), 'n6');
    assert.equal(await lastRoute(c), 'local');
  } finally {
    await c.end();
  }
});

test('SET TRANSACTION ISOLATION LEVEL: allowed first, refused after a (local) read', async () => {
  const { c } = await session();
  try {
    await c.query('begin');
    await c.query('set transaction isolation level serializable');
    const level = await c.query<{ transaction_isolation: string }>('show transaction_isolation');
    assert.equal(level.rows[0]?.transaction_isolation, 'serializable');
    await nameOf(c, 7);
    assert.equal(await lastRoute(c), 'upstream: inside a transaction');
    await c.query('commit');

    await c.query('begin');
    assert.equal(await nameOf(c, 7), 'n7');
    assert.equal(await lastRoute(c), 'local');
    await assert.rejects(c.query('set transaction isolation level repeatable read'), { code: '25001' });
    await c.query('rollback');
  } finally {
    await c.end();
  }
});

test('read-your-writes: a committed write is seen by the next local transaction', async () => {
  const { c, upstreamState } = await session();
  try {
    for (let i = 0; i < 5; i++) {
      await c.query(`update item set name = 'v${i}' where id = 8`);
      await c.query('begin');
      assert.equal(await nameOf(c, 8), `v${i}`);
      assert.equal(await lastRoute(c), 'local');
      await c.query('commit');
    }
    // A write inside a transaction, committed: the next transaction reads it locally.
    await c.query('begin');
    await c.query("update item set name = 'tx' where id = 8");
    await c.query('commit');
    await c.query('begin');
    assert.equal(await nameOf(c, 8), 'tx');
    assert.equal(await lastRoute(c), 'local');
    await c.query('commit');
    assert.equal(await upstreamState(), 'idle');
  } finally {
    await c.end();
  }
});

test('REPEATABLE READ, SERIALIZABLE and READ WRITE transactions start upstream', async () => {
  const { c, upstreamState } = await session();
  try {
    for (const begin of [
      // Run as READ COMMITTED, but SHOW transaction_isolation tells it apart from a plain BEGIN.
      'begin isolation level read uncommitted',
      'begin isolation level repeatable read',
      'begin isolation level serializable',
      'begin read write',
    ]) {
      await c.query(begin);
      assert.equal(await upstreamState(), 'idle in transaction', begin);
      await nameOf(c, 9);
      assert.equal(await lastRoute(c), 'upstream: inside a transaction', begin);
      await c.query('commit');
    }
    await c.query("set default_transaction_isolation = 'serializable'");
    await c.query('begin');
    assert.equal(await upstreamState(), 'idle in transaction');
    await c.query('commit');
  } finally {
    await c.end();
  }
});

test('idle_in_transaction_session_timeout keeps BEGIN upstream', async () => {
  const { c, upstreamState } = await session();
  try {
    await c.query("set idle_in_transaction_session_timeout = '10min'");
    await c.query('begin');
    assert.equal(await upstreamState(), 'idle in transaction');
    await c.query('commit');
  } finally {
    await c.end();
  }
});

const PSYCOPG2_SCRIPT = `
import json, sys, psycopg2
conn = psycopg2.connect(host='127.0.0.1', port=int(sys.argv[1]), user='postgres', password='postgres',
                        dbname='postgres', application_name=sys.argv[2])
out = {}
cur = conn.cursor()
cur.execute('select name from item where id = %s', (1,))
out['row'] = cur.fetchone()[0]
out['status'] = conn.get_transaction_status()
cur.execute('show outpost.last_route')
out['route'] = cur.fetchone()[0]
cur.execute('select name from item where id = 2')
cur.execute('show outpost.last_route')
out['route2'] = cur.fetchone()[0]
conn.commit()
out['after_commit'] = conn.get_transaction_status()
cur.execute('show outpost.last_route')
out['commit_route'] = cur.fetchone()[0]
conn.rollback()
print(json.dumps(out))
`;

test('psycopg2 in its default mode (implicit BEGIN): reads local, status in transaction', async () => {
  const python = '/usr/bin/python3';
  assert.ok(existsSync(python), `${python} is missing`);
  const app = `ltx-py-${process.pid}`;
  const { stdout } = await execFileP(python, ['-c', PSYCOPG2_SCRIPT, String(outpost.port), app], {
    timeout: 30_000,
  });
  const out = JSON.parse(stdout) as Record<string, unknown>;
  assert.equal(out.row, 'n1');
  // psycopg2.extensions.TRANSACTION_STATUS_INTRANS = 2, IDLE = 0
  assert.equal(out.status, 2);
  assert.equal(out.route, 'local');
  assert.equal(out.route2, 'local');
  assert.equal(out.after_commit, 0);
  // SHOW outpost.last_route after COMMIT runs in psycopg2's next implicit transaction.
  assert.equal(out.commit_route, 'local');
  await eventually(async () => {
    const r = await upstream.query(
      `select xact_start from pg_stat_activity where application_name = '${app}'`,
    );
    return r.rows.length === 0;
  });
});

/** Reply types of a batch, with CommandComplete tags and ReadyForQuery status spelled out. */
function summary(msgs: { type: string; body: Buffer }[]): string {
  return msgs
    .map((m) =>
      m.type === 'C' || m.type === 'Z' ? `${m.type}:${m.body.toString('utf8').replace(/\0$/, '')}` : m.type,
    )
    .join(' ');
}

test('extended protocol: BEGIN pipelined with reads, then a write, as pgx and JDBC send them', async () => {
  const raw = await RawClient.session(outpost.port, 'ltxraw', { params: [['application_name', 'ltx-raw']] });
  const upstreamState = async (): Promise<string> =>
    (
      await upstream.query<{ state: string }>(
        "select state from pg_stat_activity where application_name = 'ltx-raw'",
      )
    ).rows
      .map((r) => r.state)
      .join(',');
  try {
    // Warm the role's privileges (looked up once).
    await eventually(async () => {
      await raw.run(
        Buffer.concat([
          parseMsg('', 'select name from item where id = 1'),
          bindMsg('', ''),
          executeMsg(''),
          SYNC,
        ]),
      );
      const route = await raw.run(
        Buffer.concat([parseMsg('', 'show outpost.last_route'), bindMsg('', ''), executeMsg(''), SYNC]),
      );
      return route.some((m) => m.type === 'D' && m.body.includes(Buffer.from('local')));
    });
    const begin = Buffer.concat([
      parseMsg('', 'begin'),
      bindMsg('', ''),
      describeMsg('P', ''),
      executeMsg(''),
    ]);
    const read = Buffer.concat([
      parseMsg('', 'select name from item where id = $1'),
      bindMsg('', '', ['3']),
      describeMsg('P', ''),
      executeMsg(''),
    ]);
    const batch = await raw.run(Buffer.concat([begin, read, SYNC]));
    assert.equal(summary(batch), '1 2 n C:BEGIN 1 2 T D C:SELECT 1 Z:T');
    // Byte for byte what Postgres answers.
    const direct = await RawClient.session(upstream.port, 'ltxraw');
    try {
      const expected = await direct.run(Buffer.concat([begin, read, SYNC]));
      assert.deepEqual(
        batch.map((m) => `${m.type}${m.body.toString('hex')}`),
        expected.map((m) => `${m.type}${m.body.toString('hex')}`),
      );
    } finally {
      direct.close();
    }
    assert.equal(await upstreamState(), 'idle');
    // COMMIT in the extended protocol, answered here too.
    const commit = await raw.run(
      Buffer.concat([parseMsg('', 'commit'), bindMsg('', ''), executeMsg(''), SYNC]),
    );
    assert.equal(summary(commit), '1 2 C:COMMIT Z:I');
    // BEGIN, a read, a write in one batch: upstream's transaction starts at the write.
    const write = Buffer.concat([
      parseMsg('', "insert into item values (200, 'x')"),
      bindMsg('', ''),
      executeMsg(''),
    ]);
    const mixed = await raw.run(Buffer.concat([begin, read, write, SYNC]));
    assert.equal(summary(mixed), '1 2 n C:BEGIN 1 2 T D C:SELECT 1 1 2 C:INSERT 0 1 Z:T');
    assert.equal(await upstreamState(), 'idle in transaction');
    const rollback = await raw.run(
      Buffer.concat([parseMsg('', 'rollback'), bindMsg('', ''), executeMsg(''), SYNC]),
    );
    assert.equal(summary(rollback), '1 2 C:ROLLBACK Z:I');
    assert.equal(await upstreamState(), 'idle');
    assert.equal((await upstream.query('select 1 from item where id = 200')).rows.length, 0);
  } finally {
    raw.close();
  }
});

test('read-your-writes: the position is read on the session connection, right behind its write', async () => {
  const { c } = await session();
  const app = (c as unknown as { connectionParameters: { application_name: string } }).connectionParameters
    .application_name;
  const lastUpstreamQuery = async (): Promise<string> =>
    (
      await upstream.query<{ query: string }>(
        `select query from pg_stat_activity where application_name = '${app}'`,
      )
    ).rows[0]?.query ?? '';
  const POSITION = 'SELECT pg_catalog.pg_current_wal_insert_lsn()';
  // Alone, or as the last column of the session state check after a write (which may run triggers).
  const readsPosition = (q: string): boolean =>
    q === POSITION ||
    (q.startsWith(STATE_CHECK_SQL) && q.endsWith(' pg_catalog.pg_current_wal_insert_lsn()'));
  // pg_stat_activity shows a query once upstream has started it (it was sent with the write).
  const positionRead = (): Promise<void> =>
    eventually(async () => readsPosition(await lastUpstreamQuery()), 5_000, 'the position query');
  try {
    for (let i = 0; i < 5; i++) {
      // Autocommit (simple protocol), the extended protocol, and a COMMIT.
      const r = await c.query(`update item set name = 'p${i}' where id = 9`);
      assert.equal(r.command, 'UPDATE');
      await positionRead();
      assert.equal(await nameOf(c, 9), `p${i}`);
      assert.equal(await lastRoute(c), 'local');
      await c.query({ text: 'update item set name = $1 where id = 9', values: [`q${i}`] });
      await positionRead();
      assert.equal(await nameOf(c, 9), `q${i}`);
      await c.query('begin');
      await c.query(`update item set name = 'r${i}' where id = 9`);
      assert.equal(readsPosition(await lastUpstreamQuery()), false, 'not inside a transaction');
      await c.query('commit');
      await positionRead();
      assert.equal(await nameOf(c, 9), `r${i}`);
      assert.equal(await lastRoute(c), 'local');
    }
  } finally {
    await c.end();
  }
});

test("the server's default_transaction_isolation above read committed keeps BEGIN upstream", async () => {
  await upstream.query("alter system set default_transaction_isolation = 'repeatable read'");
  await upstream.query('select pg_reload_conf()');
  // A role whose facts (privileges, settings) are looked up from now on.
  await upstream.query("create role ltxrr login password 'ltxrr'; grant select on item to ltxrr");
  const c = await connectThrough(outpost.port, {
    user: 'ltxrr',
    password: 'ltxrr',
    database: 'postgres',
    application_name: 'ltx-rr',
  });
  try {
    await c.query('begin');
    const level = await c.query<{ transaction_isolation: string }>('show transaction_isolation');
    assert.equal(level.rows[0]?.transaction_isolation, 'repeatable read');
    await nameOf(c, 1);
    assert.match(await lastRoute(c), /^upstream: /);
    await c.query('commit');
    // Outside a transaction too: the session's settings are not what local answers assume.
    await nameOf(c, 1);
    assert.match(await lastRoute(c), /default_transaction_isolation/);
  } finally {
    await c.end();
    await upstream.query('alter system reset default_transaction_isolation');
    await upstream.query('select pg_reload_conf()');
  }
});
