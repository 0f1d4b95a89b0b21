/**
 * The proxy against a real Postgres: queries, errors, local answers, the
 * extended protocol, transactions, concurrency, cancellation, bad input, psql.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { NotLocal } from '../src/errors.js';
import { silentLogger } from '../src/log.js';
import { createMetrics, type Metrics } from '../src/metrics.js';
import type { LocalResult, QueryRouter, Route } from '../src/router/types.js';
import { ProxyServer } from '../src/server/proxy-server.js';
import type { SessionState } from '../src/session.js';
import {
  GSSENC_REQUEST,
  PROTOCOL_3_0,
  SSL_REQUEST,
  serializeCancelRequest,
  serializeQuery,
  serializeStartupMessage,
  TERMINATE,
} from '../src/wire/frontend.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';
import { errorOf, int16, int32, type Message, msg, RawClient, SYNC } from './helpers/wire-client.js';

const execFileAsync = promisify(execFile);

/** What `select 42` answers locally: a column name upstream would never produce. */
const LOCAL_42: LocalResult = {
  fields: [
    {
      name: 'local_answer',
      tableOid: 0,
      columnAttr: 0,
      typeOid: 23,
      typeSize: 4,
      typeModifier: -1,
      format: 0,
    },
  ],
  rows: [['42']],
  commandTag: 'SELECT 1',
};

/** A stand-in for the real router: a few fixed statements are local, the rest upstream. */
class TestRouter implements QueryRouter {
  /** Every session the router was asked about, by user. */
  readonly sessions = new Map<string, SessionState>();
  route(sql: string, session: SessionState): Route {
    this.sessions.set(session.user, session);
    const s = sql.trim().replace(/;$/, '').toLowerCase();
    if (s === 'show outpost.last_route') return { kind: 'show-last-route' };
    if (s === 'select 42') return { kind: 'local', run: () => [LOCAL_42] };
    if (s === 'select 42; select 42') return { kind: 'local', run: () => [LOCAL_42, LOCAL_42] };
    if (s === "select 'notlocal'") {
      return {
        kind: 'local',
        run: () => {
          throw new NotLocal('test says no');
        },
      };
    }
    if (s === "select 'boom'") {
      return {
        kind: 'local',
        run: () => {
          throw new Error('kaboom');
        },
      };
    }
    return { kind: 'upstream', reason: 'not a test query' };
  }
}

/** Parse (unnamed), Bind (unnamed, no parameters), Execute (all rows). */
const extended = (sql: string) =>
  Buffer.concat([
    msg('P', '', sql, int16(0)),
    msg('B', '', '', int16(0), int16(0), int16(0)),
    msg('E', '', int32(0)),
  ]);

const status = (msgs: Message[]) => msgs.at(-1)?.body.toString();

let upstream: PostgresInstance;
let proxy: ProxyServer;
let metrics: Metrics;
const router = new TestRouter();
let port: number;

function client(opts: { user?: string; password?: string } = {}): pg.Client {
  return new pg.Client({
    host: '127.0.0.1',
    port,
    user: opts.user ?? 'postgres',
    password: opts.password ?? 'postgres',
    database: 'postgres',
  });
}

async function withClient<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = client();
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function lastRoute(c: pg.Client): Promise<string> {
  const r = await c.query<{ last_route: string }>('SHOW outpost.last_route');
  return r.rows[0]?.last_route ?? '';
}

before(async () => {
  upstream = await startPostgres();
  // A role trusted over TCP, for the bare protocol client.
  const hba = `${upstream.dataDir}/pg_hba.conf`;
  writeFileSync(hba, `host all rawuser 127.0.0.1/32 trust\n${readFileSync(hba, 'utf8')}`);
  await upstream.query('create role rawuser login');
  await upstream.query('select pg_reload_conf()');
  await new Promise((r) => setTimeout(r, 300));
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
  await upstream?.stop();
});

describe('queries through the proxy', () => {
  test('a forwarded query returns upstream rows', async () => {
    await withClient(async (c) => {
      const r = await c.query('select n, n * 2 as twice, $$héllo$$ as s from generate_series(1, 3) n');
      assert.deepEqual(r.rows, [
        { n: 1, twice: 2, s: 'héllo' },
        { n: 2, twice: 4, s: 'héllo' },
        { n: 3, twice: 6, s: 'héllo' },
      ]);
      assert.equal(await lastRoute(c), 'upstream: not a test query');
    });
  });

  test('an error is relayed with all its fields', async () => {
    await withClient(async (c) => {
      const err = (await c.query('select 1 from no_such_table').catch((e: unknown) => e)) as pg.DatabaseError;
      assert.equal(err.code, '42P01');
      assert.equal(err.severity, 'ERROR');
      assert.equal(err.position, '15');
      assert.match(err.message, /relation "no_such_table" does not exist/);
      assert.ok(err.file && err.line && err.routine, 'source location fields relayed');
      await c.query('create temp table t (id int primary key, v int check (v > 0))');
      await c.query('insert into t values (1, 1)');
      const dup = (await c.query('insert into t values (1, 2)').catch((e: unknown) => e)) as pg.DatabaseError;
      assert.equal(dup.code, '23505');
      assert.equal(dup.table, 't');
      assert.equal(dup.constraint, 't_pkey');
      assert.ok(dup.schema?.startsWith('pg_temp'));
      assert.equal(dup.detail, 'Key (id)=(1) already exists.');
      // The session is still usable.
      assert.equal((await c.query('select 1 as one')).rows[0].one, 1);
    });
    assert.ok(metrics.clientErrors.get({ class: '42' }) >= 1);
    assert.ok(metrics.clientErrors.get({ class: '23' }) >= 1);
  });

  test('a local route is answered by Outpost', async () => {
    const before = metrics.statements.get({ route: 'local' });
    await withClient(async (c) => {
      assert.equal(await lastRoute(c), 'none');
      const r = await c.query('select 42');
      assert.deepEqual(r.rows, [{ local_answer: 42 }]);
      assert.equal(r.fields[0]?.dataTypeID, 23);
      assert.equal(r.command, 'SELECT');
      assert.equal(r.rowCount, 1);
      assert.equal(await lastRoute(c), 'local');
      // SHOW does not change the last route.
      assert.equal(await lastRoute(c), 'local');
      const both = (await c.query('select 42; select 42')) as unknown as pg.QueryResult[];
      assert.equal(both.length, 2);
      assert.deepEqual(both[1]?.rows, [{ local_answer: 42 }]);
    });
    assert.equal(metrics.statements.get({ route: 'local' }), before + 2);
  });

  test('NotLocal and local failures fall back to upstream with the reason', async () => {
    await withClient(async (c) => {
      assert.deepEqual((await c.query("select 'notlocal'")).rows, [{ '?column?': 'notlocal' }]);
      assert.equal(await lastRoute(c), 'upstream: test says no');
      assert.deepEqual((await c.query("select 'boom'")).rows, [{ '?column?': 'boom' }]);
      assert.equal(await lastRoute(c), 'upstream: local error: kaboom');
    });
    assert.ok(metrics.forwarded.get({ reason: 'test says no' }) >= 1);
  });

  test('parameterised queries and prepared statements pass through (extended protocol)', async () => {
    await withClient(async (c) => {
      const r = await c.query('select $1::int + 1 as x, $2::text as t', [41, 'ünï']);
      assert.deepEqual(r.rows, [{ x: 42, t: 'ünï' }]);
      const named = { name: 'add', text: 'select $1::int + $2::int as s', values: [1, 2] };
      assert.deepEqual((await c.query(named)).rows, [{ s: 3 }]);
      assert.deepEqual((await c.query({ ...named, values: [5, 6] })).rows, [{ s: 11 }]);
      const bad = (await c.query('select $1::int', ['x']).catch((e: unknown) => e)) as pg.DatabaseError;
      assert.equal(bad.code, '22P02');
      // Every Sync was answered: simple queries are local again.
      await c.query('select 42');
      assert.equal(await lastRoute(c), 'local');
    });
  });

  test('transaction status follows BEGIN, errors and COMMIT/ROLLBACK', async () => {
    const raw = await RawClient.session(port);
    try {
      raw.send(serializeQuery('begin'));
      assert.equal(status(await raw.untilReady()), 'T');
      const session = router.sessions.get('rawuser');
      assert.equal(session?.txStatus, 'T');
      raw.send(serializeQuery('select 42'));
      const local = await raw.untilReady();
      assert.deepEqual(
        local.map((m) => m.type),
        ['T', 'D', 'C', 'Z'],
      );
      assert.equal(status(local), 'T', 'local answer reports the transaction status');
      raw.send(serializeQuery('select 1/0'));
      const failed = await raw.untilReady();
      assert.equal(errorOf(failed)?.get('C'), '22012');
      assert.equal(status(failed), 'E');
      assert.equal(router.sessions.get('rawuser')?.txStatus, 'E');
      raw.send(serializeQuery('rollback'));
      assert.equal(status(await raw.untilReady()), 'I');
      assert.equal(session?.txStatus, 'I');
      raw.send(serializeQuery('begin; select 1; commit'));
      assert.equal(status(await raw.untilReady()), 'I');
      // ParameterStatus changes are recorded.
      raw.send(serializeQuery("set application_name = 'raw-test'"));
      const set = await raw.untilReady();
      assert.ok(set.some((m) => m.type === 'S'));
      assert.equal(session?.params.get('application_name'), 'raw-test');
      assert.ok(session?.params.get('server_version'));
      assert.equal(session?.user, 'rawuser');
      assert.equal(session?.database, 'postgres');
    } finally {
      raw.send(TERMINATE);
      await raw.closed;
    }
  });

  test('pipelined queries keep their order; SHOW waits for upstream', async () => {
    const raw = await RawClient.session(port);
    try {
      raw.send(
        Buffer.concat([
          serializeQuery('select pg_sleep(0.2)'),
          serializeQuery('select 42'),
          serializeQuery('show outpost.last_route'),
          serializeQuery('select 42'),
          serializeQuery('show outpost.last_route'),
        ]),
      );
      const sleep = await raw.untilReady();
      assert.ok(sleep.some((m) => m.type === 'D'));
      const pipelined = await raw.untilReady();
      // Upstream answered it: its column is ?column?, not local_answer.
      assert.match(pipelined[0]?.body.toString() ?? '', /\?column\?/);
      const show1 = await raw.untilReady();
      assert.match(show1[1]?.body.toString() ?? '', /upstream: pipelined behind upstream work/);
      const local = await raw.untilReady();
      assert.match(local[0]?.body.toString() ?? '', /local_answer/);
      const show2 = await raw.untilReady();
      assert.match(show2[1]?.body.toString() ?? '', /local/);
    } finally {
      raw.close();
    }
  });

  test('an extended-protocol COPY FROM STDIN (Sync ignored during copy-in) keeps the count right', async () => {
    const raw = await RawClient.session(port);
    try {
      raw.send(serializeQuery('create temp table cp (a int)'));
      await raw.untilReady();
      // As libpq's PQexecParams does: Sync right after Execute, another after CopyDone.
      raw.send(Buffer.concat([extended('copy cp from stdin'), SYNC]));
      const types: string[] = [];
      for (let m = await raw.next(); m && m.type !== 'G'; m = await raw.next()) types.push(m.type);
      assert.deepEqual(types, ['1', '2']);
      raw.send(Buffer.concat([msg('d', Buffer.from('1\n2\n')), msg('c'), SYNC]));
      const done = await raw.untilReady();
      assert.deepEqual(
        done.map((m) => m.type),
        ['C', 'Z'],
      );
      raw.send(serializeQuery('select 42'));
      const local = await raw.untilReady();
      assert.match(local[0]?.body.toString() ?? '', /local_answer/, 'nothing left outstanding');
      raw.send(serializeQuery('select count(*) from cp'));
      assert.equal((await raw.untilReady())[1]?.body.subarray(6).toString(), '2');
    } finally {
      raw.close();
    }
  });

  test('a Query inside an unsynced, failing batch never leaves the session hanging', async () => {
    const raw = await RawClient.session(port);
    try {
      // Upstream discards the Query (error mode until Sync): one ReadyForQuery for two requests.
      raw.send(Buffer.concat([extended('select no_such_column'), serializeQuery('select 1'), SYNC]));
      const failed = await raw.untilReady();
      assert.equal(errorOf(failed)?.get('C'), '42703');
      // The proxy followed upstream skipping the Query: nothing is owed, so
      // SHOW and a local statement are answered here right away.
      raw.send(serializeQuery('show outpost.last_route'));
      const show = await raw.untilReady();
      assert.equal(errorOf(show), undefined);
      assert.match(show[1]?.body.toString() ?? '', /upstream: not a test query/);
      raw.send(serializeQuery('select 42'));
      assert.match((await raw.untilReady())[0]?.body.toString() ?? '', /local_answer/);
    } finally {
      raw.close();
    }
  });

  test('SSLRequest and GSSENCRequest get N, then the startup proceeds', async () => {
    const s = connect({ host: '127.0.0.1', port });
    await new Promise((r) => s.once('connect', r));
    const readByte = () => new Promise<Buffer>((resolve) => s.once('data', resolve));
    s.write(GSSENC_REQUEST);
    assert.equal((await readByte()).toString(), 'N');
    s.write(SSL_REQUEST);
    assert.equal((await readByte()).toString(), 'N');
    s.write(
      serializeStartupMessage([
        ['user', 'rawuser'],
        ['database', 'postgres'],
      ]),
    );
    const first = await readByte();
    assert.equal(String.fromCharCode(first[0] ?? 0), 'R');
    s.destroy();
  });

  test('protocol 3.2 is negotiated by upstream, through the proxy', async () => {
    const raw = await RawClient.open(port);
    try {
      raw.send(
        serializeStartupMessage(
          [
            ['user', 'rawuser'],
            ['database', 'postgres'],
            ['_pq_.unknown_option', 'x'],
          ],
          PROTOCOL_3_0 | 2,
        ),
      );
      const msgs = await raw.untilReady();
      const types = msgs.map((m) => m.type);
      if (upstream.version < 18) assert.equal(types[0], 'v', 'NegotiateProtocolVersion relayed');
      assert.ok(types.includes('K'));
      raw.send(serializeQuery('select 42'));
      assert.match((await raw.untilReady())[0]?.body.toString() ?? '', /local_answer/);
    } finally {
      raw.close();
    }
  });

  test('backpressure: a client that stops reading, then reads everything', async () => {
    const raw = await RawClient.session(port);
    try {
      raw.socket.pause();
      // 30 MB from upstream, and 20000 pipelined local answers.
      raw.send(serializeQuery("select repeat('x', 10000) from generate_series(1, 3000)"));
      await new Promise((r) => setTimeout(r, 300));
      raw.socket.resume();
      const big = await raw.untilReady();
      assert.equal(big.filter((m) => m.type === 'D').length, 3000);
      raw.socket.pause();
      raw.send(Buffer.concat(Array.from({ length: 20000 }, () => serializeQuery('select 42'))));
      await new Promise((r) => setTimeout(r, 300));
      raw.socket.resume();
      for (let i = 0; i < 20000; i++) {
        const answer = await raw.untilReady();
        assert.equal(answer.length, 4);
      }
    } finally {
      raw.close();
    }
  });

  test('LISTEN/NOTIFY: notifications reach an idle client', async () => {
    await withClient(async (c) => {
      await c.query('listen outpost_test');
      const got = new Promise<pg.Notification>((resolve) => c.once('notification', resolve));
      await upstream.query("notify outpost_test, 'hello'");
      const n = await got;
      assert.equal(n.channel, 'outpost_test');
      assert.equal(n.payload, 'hello');
    });
  });

  test('a large result set is relayed intact', async () => {
    await withClient(async (c) => {
      const r = await c.query<{ n: number; s: string }>(
        "select n, repeat('x', 1000) || n as s from generate_series(1, 20000) n",
      );
      assert.equal(r.rows.length, 20000);
      assert.equal(r.rows[19999]?.s, `${'x'.repeat(1000)}20000`);
    });
  });

  test('50 concurrent clients', async () => {
    const clients = Array.from({ length: 50 }, () => client());
    await Promise.all(clients.map((c) => c.connect()));
    try {
      assert.ok(proxy.clientCount() >= 50);
      const results = await Promise.all(
        clients.map(async (c, i) => {
          const up = await c.query('select $1::int as i, pg_backend_pid() as pid', [i]);
          const local = await c.query('select 42');
          const route = await lastRoute(c);
          return { i: up.rows[0].i as number, pid: up.rows[0].pid as number, local: local.rows[0], route };
        }),
      );
      results.forEach((r, i) => {
        assert.equal(r.i, i);
        assert.deepEqual(r.local, { local_answer: 42 });
        assert.equal(r.route, 'local');
      });
      // Each client has its own upstream backend.
      assert.equal(new Set(results.map((r) => r.pid)).size, 50);
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
    const deadline = Date.now() + 5000;
    while (proxy.clientCount() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(proxy.clientCount(), 0);
    assert.equal(metrics.clients.get(), 0);
  });
});

describe('cancellation', () => {
  function sendCancel(processId: number, secretKey: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const key = Buffer.alloc(4);
      key.writeInt32BE(secretKey);
      const s = connect({ host: '127.0.0.1', port }, () => s.end(serializeCancelRequest(processId, key)));
      s.on('error', reject);
      s.resume();
      s.on('close', () => resolve());
    });
  }

  test('CancelRequest with Outpost key cancels the upstream query', async () => {
    await withClient(async (c) => {
      const pid = (c as unknown as { processID: number }).processID;
      const secret = (c as unknown as { secretKey: number }).secretKey;
      const upstreamPid = (await c.query('select pg_backend_pid() as p')).rows[0].p as number;
      assert.notEqual(pid, upstreamPid, 'the client sees Outpost key, not upstream one');
      const started = Date.now();
      const running = c.query('select pg_sleep(10)').catch((e: unknown) => e);
      await new Promise((r) => setTimeout(r, 300));
      // A wrong secret does nothing.
      await sendCancel(pid, secret ^ 1);
      await sendCancel(pid + 1, secret);
      await new Promise((r) => setTimeout(r, 200));
      await sendCancel(pid, secret);
      const err = (await running) as pg.DatabaseError;
      assert.equal(err.code, '57014');
      assert.ok(Date.now() - started < 5000);
      assert.equal((await c.query('select 1 as one')).rows[0].one, 1);
    });
  });
});

describe('bad input', () => {
  async function expectFatal(bytes: Buffer, code: string, pattern?: RegExp): Promise<void> {
    const raw = await RawClient.open(port);
    raw.send(bytes);
    const msgs = await raw.untilClosed();
    const err = errorOf(msgs);
    assert.ok(err, `expected an ErrorResponse, got ${msgs.map((m) => m.type).join('')}`);
    assert.equal(err.get('S'), 'FATAL');
    assert.equal(err.get('C'), code);
    if (pattern) assert.match(err.get('M') ?? '', pattern);
  }

  test('a Query before startup', async () => {
    await expectFatal(serializeQuery('select 1'), '08P01', /startup packet/);
  });

  test('a startup packet with a bad length', async () => {
    const b = Buffer.alloc(8);
    b.writeInt32BE(4, 0);
    await expectFatal(b, '08P01');
    b.writeInt32BE(1 << 30, 0);
    await expectFatal(b, '08P01');
  });

  test('an unsupported protocol version, a replication connection, no user', async () => {
    await expectFatal(
      serializeStartupMessage([['user', 'x']], 2 << 16),
      '08P01',
      /unsupported frontend protocol/,
    );
    await expectFatal(
      serializeStartupMessage([
        ['user', 'postgres'],
        ['replication', 'database'],
      ]),
      '0A000',
    );
    await expectFatal(serializeStartupMessage([['database', 'postgres']]), '28000');
  });

  test('a message length of 1 GiB or more after startup', async () => {
    const raw = await RawClient.session(port);
    const head = Buffer.from([0x51, 0x40, 0, 0, 0]);
    raw.send(head);
    const err = errorOf(await raw.untilClosed());
    assert.equal(err?.get('C'), '08P01');
    assert.equal(err?.get('S'), 'FATAL');
  });

  test('a malformed Query and a non-password message during authentication', async () => {
    const raw = await RawClient.session(port);
    raw.send(Buffer.from([0x51, 0, 0, 0, 6, 0x61, 0x62])); // no NUL terminator
    assert.equal(errorOf(await raw.untilClosed())?.get('C'), '08P01');
    // postgres needs a password: sending a Query instead is out of order.
    const c = await RawClient.open(port);
    c.send(
      serializeStartupMessage([
        ['user', 'postgres'],
        ['database', 'postgres'],
      ]),
    );
    const auth = await c.next();
    assert.equal(auth?.type, 'R');
    c.send(serializeQuery('select 1'));
    const err = errorOf(await c.untilClosed());
    assert.equal(err?.get('C'), '08P01');
    assert.match(err?.get('M') ?? '', /expected password response/);
  });

  test('random garbage, truncated packets and abrupt disconnects leave the server up', async () => {
    for (let i = 0; i < 20; i++) {
      const raw = await RawClient.open(port);
      const junk = Buffer.alloc(1 + ((i * 37) % 200));
      for (let j = 0; j < junk.length; j++) junk[j] = (i * 131 + j * 17) & 0xff;
      raw.send(junk);
      if (i % 2) raw.close();
      else await Promise.race([raw.closed, new Promise((r) => setTimeout(r, 200))]);
      raw.close();
    }
    // Half a startup packet, then gone.
    const half = await RawClient.open(port);
    half.send(serializeStartupMessage([['user', 'postgres']]).subarray(0, 10));
    half.close();
    // Gone during authentication.
    const mid = await RawClient.open(port);
    mid.send(serializeStartupMessage([['user', 'postgres']]));
    await mid.next();
    mid.close();
    await withClient(async (c) => {
      assert.deepEqual((await c.query('select 42')).rows, [{ local_answer: 42 }]);
    });
  });
});

describe('upstream failures', () => {
  test('upstream killing the backend relays its FATAL', async () => {
    const c = client();
    c.on('error', () => {});
    await c.connect();
    const pid = (await c.query('select pg_backend_pid() as p')).rows[0].p as number;
    const running = c.query('select pg_sleep(10)').catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 200));
    await upstream.query('select pg_terminate_backend($1)', [pid]);
    const err = (await running) as pg.DatabaseError;
    assert.equal(err.code, '57P01');
    await c.end().catch(() => {});
  });

  test('a lost upstream connection mid-query gives FATAL 08006', async () => {
    // A TCP relay in front of the real Postgres that can be cut.
    const links = new Set<Socket>();
    const relay: Server = createServer((inbound) => {
      const outbound = connect({ host: upstream.host, port: upstream.port });
      links.add(inbound).add(outbound);
      inbound.pipe(outbound).pipe(inbound);
      inbound.on('error', () => {});
      outbound.on('error', () => {});
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    const relayPort = (relay.address() as { port: number }).port;
    const p2 = new ProxyServer({
      listen: { host: '127.0.0.1', port: 0 },
      upstream: { host: '127.0.0.1', port: relayPort },
      router,
      logger: silentLogger(),
      metrics: createMetrics(),
    });
    await p2.start();
    try {
      const c = new pg.Client({
        host: '127.0.0.1',
        port: p2.address().port,
        user: 'postgres',
        password: 'postgres',
      });
      c.on('error', () => {});
      await c.connect();
      const running = c.query('select pg_sleep(10)').catch((e: unknown) => e);
      await new Promise((r) => setTimeout(r, 200));
      for (const s of links) s.destroy();
      const err = (await running) as pg.DatabaseError;
      assert.equal(err.code, '08006');
      assert.match(err.message, /upstream server closed the connection unexpectedly/);
      await c.end().catch(() => {});
    } finally {
      await p2.close();
      await new Promise((r) => relay.close(r));
    }
  });
});

describe('psql', () => {
  test('psql (sslmode=prefer sends SSLRequest first) runs queries and COPY', async (t) => {
    if (!existsSync('/usr/bin/psql')) {
      t.diagnostic('psql not installed at /usr/bin/psql; skipped');
      return;
    }
    const env = { ...process.env, PGPASSWORD: 'postgres', PGCONNECT_TIMEOUT: '10' };
    const conn = `host=127.0.0.1 port=${port} user=postgres dbname=postgres sslmode=prefer`;
    const one = await execFileAsync('/usr/bin/psql', [conn, '-Atc', 'select 1'], { env });
    assert.equal(one.stdout.trim(), '1');
    const many = await execFileAsync(
      '/usr/bin/psql',
      [conn, '-At', '-c', 'select 42', '-c', 'show outpost.last_route', '-c', 'copy (select 1, 2) to stdout'],
      { env },
    );
    assert.deepEqual(many.stdout.trim().split('\n'), ['42', 'local', '1\t2']);
    // psql reads the COPY data from its stdin.
    const copyIn = await new Promise<{ stdout: string; code: number | null }>((resolve, reject) => {
      const child = spawn(
        '/usr/bin/psql',
        [
          conn,
          '-At',
          '-c',
          'create temp table c (a int, b text)',
          '-c',
          '\\copy c from stdin',
          '-c',
          'select * from c',
        ],
        { env },
      );
      let stdout = '';
      child.stdout.on('data', (b: Buffer) => {
        stdout += b.toString();
      });
      child.on('error', reject);
      child.on('close', (code) => resolve({ stdout, code }));
      child.stdin.end('1\tone\n2\ttwo\n\\.\n');
    });
    assert.equal(copyIn.code, 0);
    assert.match(copyIn.stdout, /1\|one\n2\|two/);
  });
});
