/**
 * Authentication relayed through the proxy, against a real Postgres whose
 * pg_hba.conf asks for SCRAM, md5 or cleartext depending on the role.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import pino from 'pino';
import { silentLogger } from '../src/log.js';
import { createMetrics, type Metrics } from '../src/metrics.js';
import type { QueryRouter } from '../src/router/types.js';
import { ProxyServer } from '../src/server/proxy-server.js';
import { FrameReader } from '../src/wire/frames.js';
import { serializeStartupMessage } from '../src/wire/frontend.js';
import { freePort, type PostgresInstance, startPostgres } from './helpers/postgres.js';

const router: QueryRouter = { route: () => ({ kind: 'upstream', reason: 'test' }) };

let upstream: PostgresInstance;
let proxy: ProxyServer;
let metrics: Metrics;
/** Everything the proxy logged, at debug level. */
let logged = '';
const WRONG = 'wrong-password-b7c1';

function connectTo(port: number, user: string, password: string, database = 'postgres'): Promise<pg.Client> {
  const c = new pg.Client({ host: '127.0.0.1', port, user, password, database });
  c.on('error', () => {});
  return c.connect().then(() => c);
}

/** The error a failed connection attempt gives, with every field node-postgres parsed. */
async function connectError(port: number, user: string, password: string, database?: string) {
  const err = await connectTo(port, user, password, database).then(
    async (c) => {
      await c.end();
      throw new Error('connected unexpectedly');
    },
    (e: unknown) => e as pg.DatabaseError,
  );
  const { severity, code, message, detail, hint, file, routine } = err;
  return { severity, code, message, detail, hint, file, routine };
}

before(async () => {
  upstream = await startPostgres();
  // md5 and cleartext for two roles, SCRAM for everyone else.
  writeFileSync(
    `${upstream.dataDir}/pg_hba.conf`,
    [
      'local all all trust',
      'host all md5user 127.0.0.1/32 md5',
      'host all clearuser 127.0.0.1/32 password',
      'host all all 127.0.0.1/32 scram-sha-256',
      '',
    ].join('\n'),
  );
  const admin = await upstream.connect();
  try {
    await admin.query("set password_encryption = 'md5'");
    await admin.query("create role md5user login password 'md5-secret'");
    await admin.query('reset password_encryption');
    await admin.query("create role clearuser login password 'clear-secret'");
    await admin.query("create role scramuser login password 'scram-secret'");
    const stored = await admin.query<{ rolname: string; kind: string }>(
      `select rolname, case when rolpassword like 'md5%' then 'md5'
         when rolpassword like 'SCRAM-SHA-256$%' then 'scram' end as kind
       from pg_authid where rolname in ('md5user', 'scramuser') order by 1`,
    );
    assert.deepEqual(
      stored.rows.map((r) => [r.rolname, r.kind]),
      [
        ['md5user', 'md5'],
        ['scramuser', 'scram'],
      ],
    );
    await admin.query('select pg_reload_conf()');
  } finally {
    await admin.end();
  }
  await new Promise((r) => setTimeout(r, 300));
  metrics = createMetrics();
  proxy = new ProxyServer({
    listen: { host: '127.0.0.1', port: 0 },
    upstream: { host: upstream.host, port: upstream.port },
    router,
    logger: pino(
      { level: 'debug' },
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          logged += chunk.toString();
          cb();
        },
      }),
    ),
    metrics,
  });
  await proxy.start();
});

after(async () => {
  await proxy?.close();
  await upstream?.stop();
});

describe('authentication relay', () => {
  for (const [user, password, method] of [
    ['postgres', 'postgres', 'SCRAM-SHA-256'],
    ['scramuser', 'scram-secret', 'SCRAM-SHA-256'],
    ['md5user', 'md5-secret', 'md5'],
    ['clearuser', 'clear-secret', 'cleartext'],
  ] as const) {
    test(`${method} as ${user}: the right password works, a wrong one gets upstream's exact error`, async () => {
      const port = proxy.address().port;
      const c = await connectTo(port, user, password);
      try {
        const r = await c.query<{ u: string }>('select current_user as u');
        assert.equal(r.rows[0]?.u, user);
      } finally {
        await c.end();
      }
      const direct = await connectError(upstream.port, user, WRONG);
      const proxied = await connectError(port, user, WRONG);
      assert.equal(proxied.code, '28P01');
      assert.equal(proxied.severity, 'FATAL');
      assert.equal(proxied.message, `password authentication failed for user "${user}"`);
      assert.deepEqual(proxied, direct);
    });
  }

  test('each method is what upstream asked for (Authentication request codes)', async () => {
    const firstRequest = (user: string) =>
      new Promise<number>((resolve, reject) => {
        const s = connect({ host: '127.0.0.1', port: proxy.address().port }, () =>
          s.write(serializeStartupMessage([['user', user]])),
        );
        const reader = new FrameReader();
        s.on('error', reject);
        s.on('data', (chunk: Buffer) => {
          reader.push(chunk);
          const f = reader.next();
          if (!f) return;
          assert.equal(String.fromCharCode(f.type), 'R');
          resolve(f.body.readInt32BE(0));
          s.destroy();
        });
      });
    assert.equal(await firstRequest('scramuser'), 10); // AuthenticationSASL
    assert.equal(await firstRequest('md5user'), 5); // AuthenticationMD5Password
    assert.equal(await firstRequest('clearuser'), 3); // AuthenticationCleartextPassword
  });

  test('no password reaches the logs, even at debug', () => {
    assert.ok(logged.length > 0, 'debug logs were produced');
    for (const secret of ['md5-secret', 'clear-secret', 'scram-secret', WRONG]) {
      assert.ok(!logged.includes(secret), `log contains ${secret}`);
    }
  });

  test('a missing database is upstream error, relayed', async () => {
    const direct = await connectError(upstream.port, 'postgres', 'postgres', 'no_such_db');
    const proxied = await connectError(proxy.address().port, 'postgres', 'postgres', 'no_such_db');
    assert.equal(proxied.code, '3D000');
    assert.deepEqual(proxied, direct);
  });

  test('startup parameters reach upstream unchanged', async () => {
    const c = new pg.Client({
      host: '127.0.0.1',
      port: proxy.address().port,
      user: 'postgres',
      password: 'postgres',
      application_name: 'outpost-test',
      options: '-c search_path=pg_catalog -c work_mem=1234kB',
    });
    await c.connect();
    try {
      const r = await c.query(
        'select current_setting($1) as a, current_setting($2) as s, current_setting($3) as w',
        ['application_name', 'search_path', 'work_mem'],
      );
      assert.deepEqual(r.rows[0], { a: 'outpost-test', s: 'pg_catalog', w: '1234kB' });
    } finally {
      await c.end();
    }
  });

  test('an unreachable upstream gives FATAL 08006 to that client only', async () => {
    const dead = new ProxyServer({
      listen: { host: '127.0.0.1', port: 0 },
      upstream: { host: '127.0.0.1', port: await freePort() },
      router,
      logger: silentLogger(),
      metrics: createMetrics(),
    });
    await dead.start();
    try {
      const err = await connectError(dead.address().port, 'postgres', 'postgres');
      assert.equal(err.code, '08006');
      assert.equal(err.severity, 'FATAL');
      assert.match(err.message ?? '', /could not connect to the upstream server \(ECONNREFUSED\)/);
      assert.equal(err.file, undefined, 'nothing internal leaks');
      const deadline = Date.now() + 5000;
      while (dead.clientCount() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(dead.clientCount(), 0);
    } finally {
      await dead.close();
    }
    // The healthy proxy is unaffected.
    const c = await connectTo(proxy.address().port, 'postgres', 'postgres');
    await c.end();
  });

  test('close() ends open sessions', async () => {
    const p = new ProxyServer({
      listen: { host: '127.0.0.1', port: 0 },
      upstream: { host: upstream.host, port: upstream.port },
      router,
      logger: silentLogger(),
      metrics: createMetrics(),
    });
    await p.start();
    const c = await connectTo(p.address().port, 'postgres', 'postgres');
    const ended = new Promise<void>((resolve) => c.once('end', () => resolve()));
    assert.equal(p.clientCount(), 1);
    await p.close();
    await ended;
    assert.equal(p.clientCount(), 0);
  });
});
