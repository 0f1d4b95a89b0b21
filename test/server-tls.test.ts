/**
 * TLS on both sides of the proxy, with self-signed certificates made by
 * openssl: clients to Outpost (SSLRequest answered 'S', --tls-required),
 * Outpost to upstream (sslmode), psql, and SCRAM channel binding.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createSecureContext } from 'node:tls';
import { promisify } from 'node:util';
import pg from 'pg';
import { silentLogger } from '../src/log.js';
import { createMetrics } from '../src/metrics.js';
import type { QueryRouter } from '../src/router/types.js';
import type { ClientTls } from '../src/server/client-session.js';
import { ProxyServer } from '../src/server/proxy-server.js';
import type { UpstreamTls } from '../src/server/upstream-connection.js';
import { parseAuthentication, parseSaslMechanisms } from '../src/wire/backend.js';
import { SSL_REQUEST, serializeQuery, serializeStartupMessage } from '../src/wire/frontend.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';
import { errorOf, RawClient } from './helpers/wire-client.js';

const execFileAsync = promisify(execFile);
const router: QueryRouter = { route: () => ({ kind: 'upstream', reason: 'test' }) };

let dir: string;
let upstream: PostgresInstance;
/** The certificate upstream uses (and Outpost, for the same-certificate case). */
let shared: { cert: Buffer; key: Buffer; path: string };
/** Another self-signed certificate. */
let other: { cert: Buffer; key: Buffer; path: string };
const proxies: ProxyServer[] = [];

function makeCert(name: string): { cert: Buffer; key: Buffer; path: string } {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.crt`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { stdio: 'pipe' },
  );
  return { cert: readFileSync(cert), key: readFileSync(key), path: cert };
}

function clientTls(c: { cert: Buffer; key: Buffer }, required = false): ClientTls {
  return {
    context: createSecureContext({ cert: c.cert, key: c.key }),
    certificate: new X509Certificate(c.cert).raw,
    required,
  };
}

async function startProxy(opts: { tls?: ClientTls; upstreamTls?: UpstreamTls; upstreamPort?: number }) {
  const p = new ProxyServer({
    listen: { host: '127.0.0.1', port: 0 },
    upstream: {
      host: '127.0.0.1',
      port: opts.upstreamPort ?? upstream.port,
      ...(opts.upstreamTls ? { tls: opts.upstreamTls } : {}),
    },
    router,
    logger: silentLogger(),
    metrics: createMetrics(),
    ...(opts.tls ? { tls: opts.tls } : {}),
  });
  await p.start();
  proxies.push(p);
  return p.address().port;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'outpost-tls-'));
  shared = makeCert('shared');
  other = makeCert('other');
  upstream = await startPostgres();
  // The server's files: owned by its OS user, the key private (Postgres insists).
  const owner = statSync(upstream.dataDir);
  for (const [file, data, mode] of [
    ['server.crt', shared.cert, 0o644],
    ['server.key', shared.key, 0o600],
  ] as const) {
    const path = join(upstream.dataDir, file);
    writeFileSync(path, data);
    chownSync(path, owner.uid, owner.gid);
    chmodSync(path, mode);
  }
  const hba = `${upstream.dataDir}/pg_hba.conf`;
  writeFileSync(hba, `host all rawuser 127.0.0.1/32 trust\n${readFileSync(hba, 'utf8')}`);
  await upstream.query('create role rawuser login');
  await upstream.query("alter system set ssl_cert_file = 'server.crt'");
  await upstream.query("alter system set ssl_key_file = 'server.key'");
  await upstream.query("alter system set ssl = 'on'");
  await upstream.query('select pg_reload_conf()');
  await new Promise((r) => setTimeout(r, 500));
  assert.equal((await upstream.query('show ssl')).rows[0]?.ssl, 'on');
});

after(async () => {
  for (const p of proxies) await p.close();
  await upstream?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function pgClient(port: number, opts: Partial<pg.ClientConfig> = {}): pg.Client {
  return new pg.Client({
    host: '127.0.0.1',
    port,
    user: 'postgres',
    password: 'postgres',
    database: 'postgres',
    ...opts,
  });
}

/** Whether the session's upstream connection is TLS, as upstream sees it. */
async function upstreamSsl(c: pg.Client): Promise<boolean> {
  const r = await c.query('select ssl from pg_stat_ssl where pid = pg_backend_pid()');
  return r.rows[0]?.ssl === true;
}

describe('TLS for clients', () => {
  test("SSLRequest is answered 'S', the session runs over TLS; plain text still works", async () => {
    const port = await startProxy({ tls: clientTls(other), upstreamTls: { mode: 'disable' } });
    const secure = pgClient(port, { ssl: { rejectUnauthorized: false } });
    await secure.connect();
    try {
      const socket = (secure as unknown as { connection: { stream: { encrypted?: boolean } } }).connection
        .stream;
      assert.equal(socket.encrypted, true);
      assert.equal((await secure.query('select 1 + 1 as two')).rows[0].two, 2);
      assert.equal(await upstreamSsl(secure), false, 'sslmode=disable upstream');
      // The client verifies Outpost's certificate when asked to.
      const verified = pgClient(port, { ssl: { ca: other.cert, servername: 'localhost' } });
      await verified.connect();
      await verified.end();
    } finally {
      await secure.end();
    }
    const plain = pgClient(port);
    await plain.connect();
    assert.equal((await plain.query('select 1 as one')).rows[0].one, 1);
    await plain.end();
  });

  test('--tls-required refuses plain-text startups with FATAL 28000; GSSENCRequest still gets N', async () => {
    const port = await startProxy({ tls: clientTls(other, true), upstreamTls: { mode: 'disable' } });
    const raw = await RawClient.open(port);
    raw.send(serializeStartupMessage([['user', 'rawuser']]));
    const err = errorOf(await raw.untilClosed());
    assert.equal(err?.get('S'), 'FATAL');
    assert.equal(err?.get('C'), '28000');
    assert.equal(err?.get('M'), 'TLS required');
    const gss = connect({ host: '127.0.0.1', port });
    await new Promise((r) => gss.once('connect', r));
    gss.write(Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30]));
    assert.equal((await new Promise<Buffer>((r) => gss.once('data', r))).toString(), 'N');
    gss.destroy();
    const tls = await RawClient.session(port, 'rawuser', { tls: true });
    assert.equal((await tls.run(serializeQuery('select 1'))).at(-1)?.type, 'Z');
    tls.close();
  });

  test('bytes sent in the clear right after SSLRequest are refused (CVE-2021-23214)', async () => {
    const port = await startProxy({ tls: clientTls(other), upstreamTls: { mode: 'disable' } });
    const s = connect({ host: '127.0.0.1', port });
    await new Promise((r) => s.once('connect', r));
    const got: Buffer[] = [];
    s.on('data', (b) => got.push(b));
    s.write(Buffer.concat([SSL_REQUEST, serializeStartupMessage([['user', 'rawuser']])]));
    await new Promise((r) => s.once('close', r));
    const all = Buffer.concat(got).toString('latin1');
    assert.match(all, /08P01/);
    assert.match(all, /received unencrypted data after SSL request/);
  });

  test('psql with sslmode=require through Outpost (same certificate as upstream: SCRAM channel binding works)', async (t) => {
    if (!existsSync('/usr/bin/psql')) {
      t.diagnostic('psql not installed; skipped');
      return;
    }
    const port = await startProxy({ tls: clientTls(shared), upstreamTls: { mode: 'require' } });
    const env = { ...process.env, PGPASSWORD: 'postgres', PGCONNECT_TIMEOUT: '10' };
    const conn = `host=127.0.0.1 port=${port} user=postgres dbname=postgres sslmode=require`;
    const r = await execFileAsync(
      '/usr/bin/psql',
      [conn, '-Atc', 'select ssl from pg_stat_ssl where pid = pg_backend_pid()'],
      { env },
    );
    assert.equal(r.stdout.trim(), 't');
    const required = await execFileAsync(
      '/usr/bin/psql',
      [`${conn} channel_binding=require`, '-Atc', 'select 1'],
      {
        env,
      },
    );
    assert.equal(required.stdout.trim(), '1');
  });

  test('with a different certificate, SCRAM-SHA-256-PLUS is not offered', async (t) => {
    const port = await startProxy({ tls: clientTls(other), upstreamTls: { mode: 'require' } });
    const raw = await RawClient.open(port, { tls: true });
    raw.send(
      serializeStartupMessage([
        ['user', 'postgres'],
        ['database', 'postgres'],
      ]),
    );
    const auth = await raw.next();
    assert.equal(auth?.type, 'R');
    const { code, data } = parseAuthentication(auth?.body ?? Buffer.alloc(4));
    assert.equal(code, 10);
    assert.deepEqual(parseSaslMechanisms(data), ['SCRAM-SHA-256']);
    raw.close();
    // Plain text to upstream: libpq's default channel_binding=prefer logs in.
    const plainPort = await startProxy({ tls: clientTls(other), upstreamTls: { mode: 'disable' } });
    if (!existsSync('/usr/bin/psql')) return;
    const env = { ...process.env, PGPASSWORD: 'postgres', PGCONNECT_TIMEOUT: '10' };
    const ok = await execFileAsync(
      '/usr/bin/psql',
      [`host=127.0.0.1 port=${plainPort} user=postgres dbname=postgres sslmode=require`, '-Atc', 'select 1'],
      { env },
    );
    assert.equal(ok.stdout.trim(), '1');
    // TLS on both legs with different certificates: channel_binding=disable is needed,
    // since a TLS upstream rejects a client that says it could have bound the channel.
    const conn = `host=127.0.0.1 port=${port} user=postgres dbname=postgres sslmode=require`;
    const disabled = await execFileAsync(
      '/usr/bin/psql',
      [`${conn} channel_binding=disable`, '-Atc', 'select 1'],
      {
        env,
      },
    );
    assert.equal(disabled.stdout.trim(), '1');
    const preferred = await execFileAsync('/usr/bin/psql', [conn, '-Atc', 'select 1'], { env }).catch(
      (e: { stderr: string }) => e,
    );
    t.diagnostic(`channel_binding=prefer: ${'stderr' in preferred ? preferred.stderr.trim() : 'ok'}`);
  });
});

describe('TLS to upstream (sslmode)', () => {
  test('require, verify-ca and verify-full connect over TLS; disable and prefer behave like libpq', async () => {
    for (const [tls, expected] of [
      [{ mode: 'require' }, true],
      [{ mode: 'prefer' }, true],
      [{ mode: 'verify-ca', ca: shared.cert }, true],
      [{ mode: 'verify-full', ca: shared.cert }, true],
      [{ mode: 'disable' }, false],
    ] as [UpstreamTls, boolean][]) {
      const port = await startProxy({ upstreamTls: tls });
      const c = pgClient(port);
      await c.connect();
      try {
        assert.equal(await upstreamSsl(c), expected, tls.mode);
      } finally {
        await c.end();
      }
    }
  });

  test('an untrusted upstream certificate, or no TLS where it is required, fails the session with FATAL 08006', async () => {
    const wrongCa = await startProxy({ upstreamTls: { mode: 'verify-ca', ca: other.cert } });
    const e1 = (await pgClient(wrongCa)
      .connect()
      .catch((e: unknown) => e)) as pg.DatabaseError;
    assert.equal(e1.code, '08006');
    assert.match(e1.message, /could not connect to the upstream server/);
    // A server that refuses SSL.
    const refusing = createServer((s) => {
      s.once('data', () => s.write('N'));
      s.on('error', () => {});
    });
    await new Promise<void>((r) => refusing.listen(0, '127.0.0.1', r));
    const refusingPort = (refusing.address() as { port: number }).port;
    try {
      const port = await startProxy({ upstreamTls: { mode: 'require' }, upstreamPort: refusingPort });
      const e2 = (await pgClient(port)
        .connect()
        .catch((e: unknown) => e)) as pg.DatabaseError;
      assert.equal(e2.code, '08006');
      assert.match(e2.message, /server does not support SSL, but SSL was required/);
    } finally {
      refusing.close();
    }
  });
});
