/**
 * The proxy's flags: TLS, --max-clients, --idle-timeout, and the upstream
 * URL's sslmode, with their environment twins and one-line errors.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Config, helpText, parseConfig, parseUpstream } from '../src/config.js';
import { StartupError } from '../src/errors.js';

const UP = 'postgres://app:secret@db.internal:5432/app';

function config(argv: string[], env: NodeJS.ProcessEnv = {}): Config {
  const c = parseConfig(['--upstream', UP, ...argv], env);
  assert.ok(typeof c === 'object');
  return c;
}

function refused(argv: string[], pattern: RegExp, env: NodeJS.ProcessEnv = {}): void {
  assert.throws(
    () => parseConfig(['--upstream', UP, ...argv], env),
    (err: unknown) =>
      err instanceof StartupError && pattern.test(err.message) && !err.message.includes('secret'),
  );
}

describe('proxy flags', () => {
  test('defaults: no TLS, 1000 clients, no idle timeout, sslmode prefer', () => {
    const c = config([]);
    assert.equal(c.tls, undefined);
    assert.equal(c.maxClients, 1000);
    assert.equal(c.idleTimeoutSeconds, 0);
    assert.equal(c.upstreamTarget.sslMode, 'prefer');
  });

  test('flags and their environment twins', () => {
    const c = config([
      '--tls-cert',
      '/c.pem',
      '--tls-key',
      '/k.pem',
      '--tls-required',
      '--max-clients',
      '50',
    ]);
    assert.deepEqual(c.tls, { certPath: '/c.pem', keyPath: '/k.pem', required: true });
    assert.equal(c.maxClients, 50);
    const e = config([], {
      OUTPOST_TLS_CERT: '/c.pem',
      OUTPOST_TLS_KEY: '/k.pem',
      OUTPOST_TLS_REQUIRED: 'true',
      OUTPOST_MAX_CLIENTS: '7',
      OUTPOST_IDLE_TIMEOUT: '300',
    });
    assert.deepEqual(e.tls, { certPath: '/c.pem', keyPath: '/k.pem', required: true });
    assert.equal(e.maxClients, 7);
    assert.equal(e.idleTimeoutSeconds, 300);
    assert.equal(config(['--tls-cert', '/c', '--tls-key', '/k']).tls?.required, false);
    assert.equal(config([]).matviewRefreshMs, 60_000);
    assert.equal(config(['--matview-refresh', '2.5']).matviewRefreshMs, 2_500);
    assert.equal(config([], { OUTPOST_MATVIEW_REFRESH: '5' }).matviewRefreshMs, 5_000);
    // Each check is an upstream query: never a busy loop.
    assert.equal(config(['--matview-refresh', '0']).matviewRefreshMs, 100);
  });

  test('bad combinations and values are refused in one line', () => {
    refused(['--tls-cert', '/c.pem'], /--tls-cert and --tls-key go together/);
    refused(['--tls-required'], /--tls-required needs --tls-cert/);
    refused(['--max-clients', '0'], /--max-clients must be a whole number of at least 1/);
    refused(['--max-clients', 'many'], /--max-clients/);
    refused(['--idle-timeout=-1'], /--idle-timeout must be a whole number/);
    refused(['--idle-timeout', '1.5'], /--idle-timeout/);
    refused(['--matview-refresh', 'hourly'], /--matview-refresh must be a number of seconds/);
  });

  test('--help lists the new flags with their environment variables', () => {
    const h = helpText();
    for (const s of [
      '--tls-cert PATH',
      '--tls-key PATH',
      '--tls-required ',
      '--max-clients N',
      '--matview-refresh SECONDS',
      '--idle-timeout SECONDS',
      'OUTPOST_TLS_CERT',
      'OUTPOST_TLS_REQUIRED',
      'OUTPOST_MAX_CLIENTS',
      'OUTPOST_IDLE_TIMEOUT',
      'OUTPOST_MATVIEW_REFRESH',
    ]) {
      assert.ok(h.includes(s), s);
    }
  });
});

describe('upstream sslmode', () => {
  test('every libpq mode, with sslrootcert, sslcert and sslkey', () => {
    for (const mode of ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full']) {
      assert.equal(parseUpstream(`${UP}?sslmode=${mode}`).sslMode, mode);
    }
    const t = parseUpstream(`${UP}?sslmode=verify-full&sslrootcert=/etc/root.pem&sslcert=/c&sslkey=/k`);
    assert.equal(t.sslRootCert, '/etc/root.pem');
    assert.equal(t.sslCert, '/c');
    assert.equal(t.sslKey, '/k');
    assert.equal(parseUpstream(`${UP}?sslrootcert=system`).sslRootCert, 'system');
  });

  test('an unknown sslmode is refused without printing the password', () => {
    assert.throws(
      () => parseUpstream(`${UP}?sslmode=always`),
      (err: unknown) => err instanceof StartupError && /sslmode must be one of/.test(err.message),
    );
  });
});
