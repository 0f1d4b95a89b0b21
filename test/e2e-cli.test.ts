/**
 * The walking skeleton end to end, through the real `outpost` command:
 * upstream with data → a SELECT served locally with Postgres's exact text and
 * type OIDs → an INSERT through the proxy lands upstream and comes back
 * through replication → SIGKILL and restart on the same replica file loses
 * and repeats nothing.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { eventually, type OutpostProcess, startOutpost } from './helpers/outpost.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';

const execFileP = promisify(execFile);

/** Values exactly as Postgres sent them: no parsing into JS types. */
const rawTypes = { getTypeParser: () => (v: string) => v };

let upstream: PostgresInstance;
let dir: string;

async function clientFor(port: number): Promise<pg.Client> {
  const c = new pg.Client({
    host: '127.0.0.1',
    port,
    user: 'postgres',
    password: 'postgres',
    database: 'postgres',
    types: rawTypes,
  });
  // Killing Outpost mid-test ends this connection; that is expected, not a failure.
  c.on('error', () => {});
  await c.connect();
  return c;
}

function describeFields(r: pg.QueryArrayResult) {
  return r.fields.map((f) => ({
    name: f.name,
    tableID: f.tableID,
    columnID: f.columnID,
    dataTypeID: f.dataTypeID,
    dataTypeSize: f.dataTypeSize,
    dataTypeModifier: f.dataTypeModifier,
    format: f.format,
  }));
}

async function lastRoute(c: pg.Client): Promise<string> {
  const r = await c.query<{ last_route: string }>('show outpost.last_route');
  return r.rows[0]?.last_route ?? '';
}

before(async () => {
  upstream = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'outpost-e2e-'));
  await upstream.query(`
    create table t (
      id int primary key,
      small int2, big int8, name text, label varchar(20), ok boolean,
      ratio float8, amount numeric(12,4), day date, at timestamptz
    );
    insert into t values
      (1, -32768, 9223372036854775807, 'alpha', 'a', true, 0.1, 123.4500, '2024-02-29', '2024-02-29 13:14:15.123456+00'),
      (2, 7, -9007199254740993, 'béta ☃', null, false, -1e300, -0.0001, '1999-12-31', '1999-12-31 23:59:59+00'),
      (3, null, null, null, null, null, null, null, null, null),
      (4, 0, 0, '', 'x', true, 1.5e-7, 99999999.9999, '2000-01-01', '2000-01-01 00:00:00.5+00');
    create table events (id int primary key, note text);
    insert into events select g, 'before ' || g from generate_series(1, 100) g;
  `);
});

after(async () => {
  await upstream?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('outpost serves reads locally, forwards writes, and survives SIGKILL', async () => {
  const replica = join(dir, 'replica.db');
  let outpost: OutpostProcess = await startOutpost({ upstream: upstream.url(), replica });
  try {
    await outpost.ready();
    assert.equal(statSync(replica).mode & 0o777, 0o600, 'replica file is private');

    const direct = await upstream.connect();
    direct.on('error', () => {});
    const viaOutpost = await clientFor(outpost.port);

    // 1. A SELECT answered locally, identical to Postgres.
    const sql = 'select * from t order by id';
    const local = await viaOutpost.query({ text: sql, rowMode: 'array', types: rawTypes });
    assert.equal(await lastRoute(viaOutpost), 'local');
    const expected = await direct.query({ text: sql, rowMode: 'array', types: rawTypes });
    assert.deepEqual(describeFields(local), describeFields(expected));
    assert.deepEqual(local.rows, expected.rows);
    assert.equal(local.rowCount, expected.rowCount);

    // 2. A write goes upstream and comes back through replication.
    await viaOutpost.query(
      `insert into t (id, name, at) values (5, 'via outpost', '2025-06-01 12:00:00+00')`,
    );
    assert.match(await lastRoute(viaOutpost), /^upstream: /);
    await eventually(
      async () => {
        const r = await viaOutpost.query({ text: 'select name from t where id = 5', rowMode: 'array' });
        return (await lastRoute(viaOutpost)) === 'local' && r.rows.length === 1;
      },
      20_000,
      'the forwarded insert to replicate',
    );

    // 3. SIGKILL mid-stream of changes, more changes while down, restart.
    await direct.query(`insert into events select g, 'during ' || g from generate_series(101, 300) g`);
    await outpost.stop('SIGKILL');
    await direct.query(`insert into events select g, 'while down ' || g from generate_series(301, 500) g`);
    await direct.query(`update t set name = 'updated while down' where id = 1`);
    await direct.query(`delete from t where id = 4`);
    await viaOutpost.end().catch(() => {});

    outpost = await startOutpost({ upstream: upstream.url(), replica });
    await outpost.ready();
    const again = await clientFor(outpost.port);
    const want = await direct.query({
      text: 'select id, note from events order by id, note',
      rowMode: 'array',
      types: rawTypes,
    });
    await eventually(
      async () => {
        const r = await again.query({
          text: 'select id, note from events order by id, note',
          rowMode: 'array',
        });
        return r.rows.length >= want.rows.length;
      },
      20_000,
      'catch-up after restart',
    );
    const got = await again.query({
      text: 'select id, note from events order by id, note',
      rowMode: 'array',
    });
    assert.equal(await lastRoute(again), 'local');
    assert.equal(got.rows.length, 500, 'no lost and no repeated rows');
    assert.deepEqual(got.rows, want.rows);
    const all = await again.query({ text: sql, rowMode: 'array', types: rawTypes });
    const allDirect = await direct.query({ text: sql, rowMode: 'array', types: rawTypes });
    assert.deepEqual(all.rows, allDirect.rows);

    // 4. Operator endpoints.
    const status = await outpost.status();
    assert.match(String(status.replication.appliedLsn), /^[0-9A-F]+\/[0-9A-F]+$/);
    assert.equal(typeof status.replication.slot, 'string');
    assert.equal((await outpost.http('/healthz')).status, 200);
    const metrics = (await outpost.http('/metrics')).body;
    assert.match(metrics, /outpost_statements_total\{route="local"\} \d+/);
    assert.match(metrics, /outpost_replication_lag_bytes \d+/);

    await again.end();
    await direct.end();
    assert.equal(await outpost.stop('SIGTERM'), 0, 'SIGTERM exits 0');
  } finally {
    await outpost.stop('SIGKILL');
  }
});

test('psql works through outpost with its default sslmode, and \\dt is forwarded', async () => {
  assert.ok(existsSync('/usr/bin/psql'), 'psql is missing: install postgresql-client (.ci/run does)');
  const outpost = await startOutpost({ upstream: upstream.url(), replica: join(dir, 'psql.db') });
  try {
    await outpost.ready();
    const env = { ...process.env, PGPASSWORD: 'postgres', PGCONNECT_TIMEOUT: '10' };
    const base = ['-X', '-h', '127.0.0.1', '-p', String(outpost.port), '-U', 'postgres', '-d', 'postgres'];
    const sel = await execFileP('psql', [...base, '-A', '-c', 'select id, name from t where id = 2'], {
      env,
    });
    assert.match(sel.stdout, /^id\|name\n2\|béta ☃\n\(1 row\)/);
    const route = await execFileP(
      'psql',
      [...base, '-At', '-c', 'select * from t', '-c', 'show outpost.last_route'],
      {
        env,
      },
    );
    assert.match(route.stdout, /\nlocal\n$/);
    const dt = await execFileP('psql', [...base, '-c', '\\dt'], { env });
    assert.match(dt.stdout, /public \| events \| table/);
    assert.match(dt.stdout, /public \| t +\| table/);
  } finally {
    await outpost.stop();
  }
});
