/**
 * Startup problems an operator can hit: each is one clear line on stderr,
 * exit code 1, no stack trace and never the password.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from './helpers/outpost.js';
import { freePort, type PostgresInstance, startPostgres } from './helpers/postgres.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'outpost-cli-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function ports(): Promise<string[]> {
  return ['--listen', `127.0.0.1:${await freePort()}`, '--http', `127.0.0.1:${await freePort()}`];
}

function assertOneLine(stderr: string, pattern: RegExp, secret?: string) {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line expected, got:\n${stderr}`);
  assert.match(lines[0] ?? '', pattern);
  assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
  if (secret) assert.ok(!stderr.includes(secret), 'the password is never printed');
}

test('--help lists every flag with its environment variable', async () => {
  const r = await runCli(['--help']);
  assert.equal(r.code, 0);
  for (const flag of ['--upstream', '--replica', '--listen', '--http', '--publication'])
    assert.ok(r.stdout.includes(flag));
  for (const env of ['OUTPOST_UPSTREAM', 'OUTPOST_REPLICA', 'OUTPOST_LISTEN', 'OUTPOST_HTTP'])
    assert.ok(r.stdout.includes(env));
});

test('a malformed --upstream is refused in one line', async () => {
  for (const bad of ['not a url', 'mysql://u:hunter2@h/db', 'postgres://:hunter2@/db']) {
    const r = await runCli(['--upstream', bad, '--replica', join(dir, 'x.db'), ...(await ports())]);
    assert.equal(r.code, 1, r.stderr);
    assertOneLine(r.stderr, /^outpost: --upstream /, 'hunter2');
  }
  const r = await runCli(['--replica', join(dir, 'x.db')], { OUTPOST_UPSTREAM: '', DATABASE_URL: '' });
  assert.equal(r.code, 1);
  assertOneLine(r.stderr, /--upstream is required/);
  const l = await runCli(['--upstream', 'postgres://u@h/db', '--listen', 'nope']);
  assert.equal(l.code, 1);
  assertOneLine(l.stderr, /--listen must be HOST:PORT/);
});

test('bad values of the consistency flags name the flag and the fix', async () => {
  const cases: [string[], RegExp][] = [
    [['--consistency', 'strong'], /^outpost: --consistency must be one of session, eventual/],
    [['--max-lag', 'soon'], /^outpost: --max-lag must be a number of seconds/],
    [['--ryw-timeout=-1'], /^outpost: --ryw-timeout must be a number of seconds/],
    [['--max-clients', '0'], /^outpost: --max-clients must be a whole number of at least 1/],
  ];
  for (const [args, pattern] of cases) {
    const r = await runCli(['--upstream', 'postgres://u@127.0.0.1/db', ...args]);
    assert.equal(r.code, 1, r.stderr);
    assertOneLine(r.stderr, pattern);
  }
});

test('an unreachable upstream fails fast with a clear line', async () => {
  const port = await freePort();
  const r = await runCli([
    '--upstream',
    `postgres://postgres:hunter2@127.0.0.1:${port}/postgres`,
    '--replica',
    join(dir, 'unreachable.db'),
    ...(await ports()),
  ]);
  assert.equal(r.code, 1, r.stderr);
  assert.ok(r.ms < 35_000, `took ${r.ms} ms`);
  assertOneLine(r.stderr, /127\.0\.0\.1|connect|reach/i, 'hunter2');
});

test('wal_level other than logical says exactly what to run', async () => {
  const pg: PostgresInstance = await startPostgres({ settings: { wal_level: 'replica' } });
  try {
    const r = await runCli(['--upstream', pg.url(), '--replica', join(dir, 'wal.db'), ...(await ports())]);
    assert.equal(r.code, 1, r.stderr);
    assertOneLine(r.stderr, /wal_level/, pg.password);
    assert.match(r.stderr, /ALTER SYSTEM SET wal_level = logical/);
  } finally {
    await pg.stop();
  }
});

test('missing privileges name the privilege', async () => {
  const pg: PostgresInstance = await startPostgres();
  try {
    await pg.query(`create role app login password 'app-secret'; create table items (id int primary key)`);
    const r = await runCli([
      '--upstream',
      pg.url({ user: 'app', password: 'app-secret' }),
      '--replica',
      join(dir, 'priv.db'),
      ...(await ports()),
    ]);
    assert.equal(r.code, 1, r.stderr);
    assertOneLine(r.stderr, /REPLICATION|superuser|privilege|permission/i, 'app-secret');
  } finally {
    await pg.stop();
  }
});
