/**
 * Logs: JSON lines by default (stdout not a terminal), pretty lines on
 * request, `--log-level`, and never a password, whatever happens.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { createLogger, formatPretty, secretScrubber, urlPassword } from '../src/log.js';
import { CLI } from './helpers/outpost.js';
import { freePort, type PostgresInstance, startPostgres } from './helpers/postgres.js';

describe('formatting and scrubbing', () => {
  test('pretty line: time, level, message, fields; error stack below', () => {
    const time = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
    const line = JSON.stringify({
      level: 30,
      time,
      pid: 1,
      hostname: 'h',
      service: 'outpost',
      msg: 'replication: streaming',
      slot: 'outpost_ab',
      from: '0/1A2B',
      note: 'two words',
      n: 3,
    });
    assert.equal(
      formatPretty(line),
      '03:04:05.678 INFO  replication: streaming slot=outpost_ab from=0/1A2B note="two words" n=3\n',
    );
    const err = JSON.stringify({
      level: 50,
      time,
      msg: 'boom',
      err: { type: 'Error', message: 'bad thing', stack: 'Error: bad thing\n    at x (y.js:1:1)' },
    });
    assert.equal(
      formatPretty(err),
      '03:04:05.678 ERROR boom err="bad thing"\n    Error: bad thing\n        at x (y.js:1:1)\n',
    );
    assert.match(formatPretty(line, true), /\x1b\[32mINFO /);
    assert.equal(formatPretty('not json'), 'not json\n');
  });

  test('secrets are replaced as written, URL-encoded and JSON-escaped', () => {
    const secret = 'p@ss "w/rd"';
    const scrub = secretScrubber([secret, 'ab']);
    assert.equal(scrub(`a ${secret} b`), 'a [redacted] b');
    assert.equal(scrub(`url ${encodeURIComponent(secret)}`), 'url [redacted]');
    assert.equal(scrub(JSON.stringify({ m: `x${secret}` })), '{"m":"x[redacted]"}');
    assert.equal(scrub('ab stays: too short to be worth hiding'), 'ab stays: too short to be worth hiding');
    assert.equal(urlPassword('postgres://u:p%40ss%20w@h/db'), 'p@ss w');
    assert.equal(urlPassword('postgres://u@h/db'), undefined);
  });

  test('the logger scrubs secrets from messages and fields, and honours the level', () => {
    const lines: string[] = [];
    const log = createLogger({
      level: 'info',
      format: 'json',
      secrets: ['hunter22'],
      write: (l) => lines.push(l),
    });
    log.info({ url: 'postgres://u:hunter22@h/db', password: 'x' }, 'connecting with hunter22');
    log.debug('not at info');
    assert.equal(lines.length, 1);
    assert.ok(!lines[0]?.includes('hunter22'));
    const rec = JSON.parse(lines[0] as string);
    assert.equal(rec.msg, 'connecting with [redacted]');
    assert.equal(rec.url, 'postgres://u:[redacted]@h/db');
    assert.equal(rec.password, '[redacted]');
  });
});

interface Run {
  proc: ChildProcess;
  out: () => string;
  exited: Promise<number | null>;
}

/** The CLI with its whole output kept (the shared helper keeps only the tail). */
function runOutpost(args: string[], env: Record<string, string> = {}): Run {
  const proc = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout?.on('data', (b) => {
    out += b;
  });
  proc.stderr?.on('data', (b) => {
    out += b;
  });
  const kill = () => proc.kill('SIGKILL');
  process.once('exit', kill);
  const exited = new Promise<number | null>((resolve) =>
    proc.on('exit', (code) => {
      process.removeListener('exit', kill);
      resolve(code);
    }),
  );
  return { proc, out: () => out, exited };
}

async function waitForLine(run: Run, pattern: RegExp, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(run.out())) {
    if (Date.now() > deadline) throw new Error(`no line matching ${pattern}:\n${run.out()}`);
    if (run.proc.exitCode !== null) throw new Error(`outpost exited:\n${run.out()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the outpost command never logs a password', () => {
  // URL-special characters on purpose: the password appears encoded in the URL.
  const PASSWORD = 'Zq8-s3cret!P@ss/w0rd';
  // A client's own password: Outpost never knows it in advance, so no scrubbing could hide it.
  const CLIENT_PASSWORD = 'Cl13nt-0nly-Pw#77';
  let upstream: PostgresInstance;
  let dir: string;
  let url: string;

  before(async () => {
    upstream = await startPostgres();
    dir = mkdtempSync(join(tmpdir(), 'outpost-ops-logs-'));
    await upstream.query(`
      create role opsadmin login superuser replication password '${PASSWORD}';
      create role opsclient login password '${CLIENT_PASSWORD}';
      create table notes (id int primary key, body text);
      insert into notes values (1, 'one'), (2, 'two');
      grant select, insert on notes to opsclient;
    `);
    url = `postgres://opsadmin:${encodeURIComponent(PASSWORD)}@127.0.0.1:${upstream.port}/postgres`;
  });

  after(async () => {
    await upstream?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function assertNoPassword(output: string): void {
    for (const form of [PASSWORD, encodeURIComponent(PASSWORD), JSON.stringify(PASSWORD).slice(1, -1)]) {
      assert.ok(!output.includes(form), `the log contains the password (${form})`);
    }
    // Parts of it too (e.g. a URL split at '@').
    assert.ok(!output.includes('s3cret'), 'the log contains part of the password');
    assert.ok(
      !output.includes(CLIENT_PASSWORD) && !output.includes('0nly-Pw'),
      "the log contains a client's password",
    );
  }

  test('JSON lines at debug level, statements, failed logins, errors, SIGTERM: no password', async (t) => {
    const port = await freePort();
    const httpPort = await freePort();
    const run = runOutpost([
      '--upstream',
      url,
      '--replica',
      join(dir, 'r.db'),
      '--listen',
      `127.0.0.1:${port}`,
      '--http',
      `127.0.0.1:${httpPort}`,
      '--log-level',
      'debug',
    ]);
    // A failed assertion must not leave it holding the slot for the next test.
    t.after(() => {
      if (run.proc.exitCode === null) run.proc.kill('SIGKILL');
    });
    await waitForLine(run, /replication: streaming/);
    // The proxy listens only after replication has started (src/app.ts).
    await waitForLine(run, /outpost listening/);
    const connect = async (password: string, user = 'opsadmin') => {
      const c = new pg.Client({ host: '127.0.0.1', port, user, password, database: 'postgres' });
      c.on('error', () => {});
      await c.connect();
      return c;
    };
    const c = await connect(PASSWORD);
    await c.query('select * from notes where id = 1');
    await c.query("insert into notes values (3, 'three')");
    await c.query(`select '${PASSWORD}' as echoed_value_is_data_not_a_credential`).catch(() => {});
    await assert.rejects(c.query('select * from missing_table'), { code: '42P01' });
    await assert.rejects(connect('wrong-password'), { code: '28P01' });
    const other = await connect(CLIENT_PASSWORD, 'opsclient');
    await other.query('select body from notes where id = 2');
    await other.query("insert into notes values (4, 'four')");
    await assert.rejects(connect(`${CLIENT_PASSWORD}x`, 'opsclient'), { code: '28P01' });
    await other.end();
    await c.end();
    run.proc.kill('SIGTERM');
    assert.equal(await run.exited, 0, run.out());
    const output = run.out();
    // The statement text above quotes the password as data: it may only show
    // up in debug lines if the session logged SQL, which it must not either.
    assertNoPassword(output);
    const lines = output.split('\n').filter((l) => l !== '');
    const records = lines.map((l) => {
      let rec: { level: number; msg: string } | undefined;
      try {
        rec = JSON.parse(l) as { level: number; msg: string };
      } catch {
        rec = undefined;
      }
      assert.ok(rec, `not a JSON line: ${l}`);
      return rec;
    });
    assert.ok(
      records.some((r) => r.level === 20),
      '--log-level debug shows debug lines',
    );
    const msgs = records.map((r) => r.msg);
    for (const m of [
      'outpost listening',
      'shutting down',
      'clients drained',
      'replication stopped',
      'stopped',
    ]) {
      assert.ok(msgs.includes(m), `logged "${m}"`);
    }
  });

  test('pretty lines (OUTPOST_LOG_FORMAT=pretty), --log-level warn hides info: no password', async () => {
    const port = await freePort();
    const httpPort = await freePort();
    const args = [
      '--upstream',
      url,
      '--replica',
      join(dir, 'r.db'),
      '--listen',
      `127.0.0.1:${port}`,
      '--http',
      `127.0.0.1:${httpPort}`,
    ];
    const pretty = runOutpost([...args, '--log-level', 'info'], { OUTPOST_LOG_FORMAT: 'pretty' });
    await waitForLine(pretty, /INFO {2}replication: streaming/);
    pretty.proc.kill('SIGINT');
    assert.equal(await pretty.exited, 0, pretty.out());
    const lines = pretty
      .out()
      .split('\n')
      .filter((l) => l !== '');
    assert.ok(lines.length >= 3);
    for (const l of lines) {
      if (l.startsWith('    ')) continue; // a stack trace line
      assert.match(l, /^\d\d:\d\d:\d\d\.\d{3} (TRACE|DEBUG|INFO |WARN |ERROR|FATAL) \S/, l);
    }
    assert.ok(lines.some((l) => / INFO {2}shutting down signal=SIGINT$/.test(l)));
    assertNoPassword(pretty.out());

    const quiet = runOutpost([...args, '--log-level', 'warn'], { OUTPOST_LOG_FORMAT: 'json' });
    // /healthz answers once it is up; info lines must not have been written.
    const deadline = Date.now() + 60_000;
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${httpPort}/readyz`)
        .then((r) => r.status === 200)
        .catch(() => false);
      if (ok) break;
      assert.ok(Date.now() < deadline, quiet.out());
      await new Promise((r) => setTimeout(r, 100));
    }
    quiet.proc.kill('SIGTERM');
    assert.equal(await quiet.exited, 0, quiet.out());
    for (const l of quiet
      .out()
      .split('\n')
      .filter((x) => x !== '')) {
      assert.ok((JSON.parse(l) as { level: number }).level >= 40, `only warn and above: ${l}`);
    }
    assertNoPassword(quiet.out());
  });
});
