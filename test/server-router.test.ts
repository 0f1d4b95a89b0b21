/**
 * The extended protocol through the proxy with the real Router over a
 * replica of upstream tables: local answers (text and binary, with row limits)
 * are byte for byte what Postgres sends for the same messages.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { silentLogger } from '../src/log.js';
import { createMetrics, type Metrics } from '../src/metrics.js';
import { Router } from '../src/router/router.js';
import { ProxyServer } from '../src/server/proxy-server.js';
import { serializeQuery } from '../src/wire/frontend.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';
import { createReplicaFixture, type ReplicaFixture } from './helpers/replica-fixture.js';
import {
  bindMsg,
  describeMessages,
  describeMsg,
  executeMsg,
  type Message,
  parseMsg,
  RawClient,
  SYNC,
} from './helpers/wire-client.js';

const SETUP = `
CREATE TABLE pgbench_accounts (aid int4 PRIMARY KEY, bid int4, abalance int4, filler char(84));
INSERT INTO pgbench_accounts SELECT g, 1 + g / 100, g * 7 % 1000 - 500, '' FROM generate_series(1, 1000) g;
CREATE TABLE scratch (x int);
CREATE TABLE items (
  id int4, i2 int2, i8 int8, b bool, f8 float8, f4 float4, n numeric, t text, vc varchar(8), d date,
  ts timestamptz, u uuid
);
INSERT INTO items VALUES
 (1, 1, 10, true, 1.5, 1.5, 1.5, 'abc', 'abc', '2024-01-01', '2024-01-01 00:00:05+00', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
 (2, 2, 9223372036854775807, false, -0, 0, 1.50, 'a%c', 'x y', 'infinity', '2024-01-01 00:00:05.25+00', NULL),
 (3, NULL, -30, NULL, 'NaN', 'NaN', 'NaN', 'x y', NULL, '2000-02-29', '2024-01-01 00:00:05.5+00', NULL),
 (4, 4, NULL, true, 0, -0, 100, '', 'É', NULL, NULL, NULL),
 (5, 5, 50, false, 'Infinity', 1e10, '-0.001', NULL, 'abc', '1999-12-31', '1999-12-31 23:59:59.999999+00', NULL),
 (6, -6, 60, true, 1e-300, 2, 100.000, 'ABC', '', '2024-01-01', 'infinity', NULL);
`;

let upstream: PostgresInstance;
let fixture: ReplicaFixture;
let proxy: ProxyServer;
let metrics: Metrics;
let port: number;

before(async () => {
  upstream = await startPostgres();
  const hba = `${upstream.dataDir}/pg_hba.conf`;
  writeFileSync(hba, `host all rawuser 127.0.0.1/32 trust\n${readFileSync(hba, 'utf8')}`);
  await upstream.query('create role rawuser login superuser');
  await upstream.query('select pg_reload_conf()');
  const client = await upstream.connect();
  try {
    await client.query(SETUP);
    fixture = createReplicaFixture();
    await fixture.load(
      client,
      ['pgbench_accounts', 'items'].map((name) => ({ schema: 'public', name })),
    );
  } finally {
    await client.end();
  }
  const router = await Router.create({
    catalog: fixture.catalog,
    reader: fixture.reader,
    database: 'postgres',
    textCollationIsC: true,
  });
  metrics = createMetrics();
  proxy = new ProxyServer({
    listen: { host: '127.0.0.1', port: 0 },
    upstream: { host: upstream.host, port: upstream.port },
    router,
    logger: silentLogger(),
    metrics,
  });
  await proxy.start();
  port = proxy.address().port;
});

after(async () => {
  await proxy?.close();
  fixture?.close();
  await upstream?.stop();
});

async function both(
  batches: Buffer[],
): Promise<{ outpost: Message[][]; direct: Message[][]; local: number }> {
  const o = await RawClient.session(port);
  const d = await RawClient.session(upstream.port);
  try {
    const before = metrics.statements.get({ route: 'local' });
    const outpost: Message[][] = [];
    for (const b of batches) outpost.push(await o.run(b));
    const local = metrics.statements.get({ route: 'local' }) - before;
    const direct: Message[][] = [];
    for (const b of batches) direct.push(await d.run(b));
    return { outpost, direct, local };
  } finally {
    o.close();
    d.close();
  }
}

const POINT = 'SELECT abalance FROM pgbench_accounts WHERE aid = $1';

describe('the real Router behind the proxy', () => {
  test('pgbench point select, prepared once, executed many times locally', async () => {
    const batches = [Buffer.concat([parseMsg('P_0', POINT), SYNC])];
    for (const aid of ['1', '500', '1000', '1001', '42']) {
      batches.push(Buffer.concat([bindMsg('', 'P_0', [aid]), describeMsg('P', ''), executeMsg(''), SYNC]));
    }
    const r = await both(batches);
    assert.deepEqual(r.outpost.map(describeMessages), r.direct.map(describeMessages));
    assert.equal(r.local, 5, 'every execution local');
  });

  test('every column in binary and in text, with row limits, equals Postgres', async () => {
    const sql = 'SELECT * FROM items WHERE id > $1 ORDER BY id';
    const r = await both([
      Buffer.concat([
        parseMsg('', sql),
        describeMsg('S', ''),
        bindMsg('', '', ['0'], { resultFormats: [1] }),
        describeMsg('P', ''),
        executeMsg('', 4),
        executeMsg('', 4),
        SYNC,
      ]),
      Buffer.concat([parseMsg('', sql), bindMsg('', '', ['2']), executeMsg(''), SYNC]),
      Buffer.concat([
        parseMsg('', POINT),
        bindMsg('', '', [Buffer.from([0, 0, 0, 7])], { paramFormats: [1], resultFormats: [1] }),
        executeMsg(''),
        SYNC,
      ]),
    ]);
    assert.deepEqual(r.outpost.map(describeMessages), r.direct.map(describeMessages));
    assert.equal(r.local, 3);
  });

  test('node-postgres queries with parameters go local and return upstream rows', async () => {
    const local = new pg.Client({ host: '127.0.0.1', port, user: 'rawuser', database: 'postgres' });
    const direct = new pg.Client({
      host: '127.0.0.1',
      port: upstream.port,
      user: 'rawuser',
      database: 'postgres',
    });
    await local.connect();
    await direct.connect();
    try {
      for (const [sql, params] of [
        [POINT, [5]],
        ['SELECT * FROM items WHERE id = $1', [1]],
        ['SELECT id, t FROM items WHERE t = $1', ['x y']],
        ['SELECT id FROM items ORDER BY id LIMIT $1', [3]],
      ] as const) {
        const a = await local.query({ text: sql, values: [...params], rowMode: 'array' });
        const b = await direct.query({ text: sql, values: [...params], rowMode: 'array' });
        assert.deepEqual(a.rows, b.rows, sql);
        const route = await local.query('SHOW outpost.last_route');
        assert.equal(route.rows[0].last_route, 'local', sql);
      }
    } finally {
      await local.end();
      await direct.end();
    }
  });

  test('a write in the same batch as a local read: the batch continues upstream, the next read is local', async () => {
    const c = await RawClient.session(port);
    try {
      const local0 = metrics.statements.get({ route: 'local' });
      const mixed = await c.run(
        Buffer.concat([
          parseMsg('', POINT),
          bindMsg('', '', ['3']),
          executeMsg(''),
          parseMsg('', 'INSERT INTO scratch VALUES ($1)'),
          bindMsg('', '', ['1']),
          executeMsg(''),
          SYNC,
        ]),
      );
      assert.deepEqual(
        mixed.map((m) => m.type),
        ['1', '2', 'D', 'C', '1', '2', 'C', 'Z'],
      );
      assert.equal(metrics.statements.get({ route: 'local' }), local0 + 1);
      const show = await c.run(serializeQuery('SHOW outpost.last_route'));
      assert.match(show.find((m) => m.type === 'D')?.body.toString() ?? '', /upstream/);
      const r = await c.run(
        Buffer.concat([parseMsg('', POINT), bindMsg('', '', ['4']), executeMsg(''), SYNC]),
      );
      assert.deepEqual(
        r.map((m) => m.type),
        ['1', '2', 'D', 'C', 'Z'],
      );
      assert.equal(metrics.statements.get({ route: 'local' }), local0 + 2);
      assert.equal((await upstream.query('SELECT count(*)::int AS n FROM scratch')).rows[0]?.n, 1);
    } finally {
      c.close();
    }
  });
});
