/**
 * The systems under test besides Postgres itself: pgbouncer (the Debian
 * binary, run as our child with a generated ini) and the latency relay.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import pg from 'pg';
import { freePort, type PostgresInstance } from '../../test/helpers/postgres.js';

export interface Pgbouncer {
  port: number;
  version: string;
  /** pgbouncer ≥ 1.21 tracks protocol-level prepared statements in transaction mode. */
  preparedStatements: boolean;
  ini: string;
  pid: number;
  stop(): Promise<void>;
}

/**
 * The pgbouncer binary: BENCH_PGBOUNCER if set (a path; one that does not
 * exist, e.g. `none`, runs the bench as if pgbouncer were not installed), else
 * on PATH or in the sbin directories a non-root PATH may lack.
 */
export function findPgbouncer(): string | undefined {
  const forced = process.env.BENCH_PGBOUNCER;
  if (forced !== undefined) return existsSync(forced) ? forced : undefined;
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin'];
  for (const d of dirs) {
    if (d && existsSync(join(d, 'pgbouncer'))) return join(d, 'pgbouncer');
  }
  return undefined;
}

/** pgbouncer refuses to run as root: run it as the OS user the test Postgres runs as. */
function unprivileged(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const user of ['outpost-pg', 'nobody']) {
    try {
      const uid = Number(execFileSync('id', ['-u', user], { stdio: 'pipe' }).toString().trim());
      const gid = Number(execFileSync('id', ['-g', user], { stdio: 'pipe' }).toString().trim());
      return { uid, gid };
    } catch {
      // try the next one
    }
  }
  throw new Error('running as root and no unprivileged user for pgbouncer');
}

function versionAtLeast(v: string, major: number, minor: number): boolean {
  const [a = 0, b = 0] = v.split('.').map(Number);
  return a > major || (a === major && b >= minor);
}

export async function startPgbouncer(
  upstream: PostgresInstance,
  opts: { poolSize: number },
): Promise<Pgbouncer> {
  const bin = findPgbouncer();
  if (!bin) throw new Error('pgbouncer not found');
  const version = /PgBouncer ([\d.]+)/.exec(execFileSync(bin, ['--version']).toString())?.[1] ?? '0';
  const preparedStatements = versionAtLeast(version, 1, 21);
  const owner = unprivileged();
  const dir = mkdtempSync(join(tmpdir(), 'outpost-pgbouncer-'));
  const port = await freePort();
  const ini = [
    '[databases]',
    `* = host=127.0.0.1 port=${upstream.port}`,
    '',
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    // Same as the test Postgres: SCRAM over TCP. A plain-text password in the
    // auth file lets pgbouncer run SCRAM both with clients and with the server.
    'auth_type = scram-sha-256',
    `auth_file = ${join(dir, 'userlist.txt')}`,
    'pool_mode = transaction',
    'max_client_conn = 1000',
    `default_pool_size = ${opts.poolSize}`,
    'ignore_startup_parameters = extra_float_digits',
    ...(preparedStatements ? ['max_prepared_statements = 200'] : []),
    `logfile = ${join(dir, 'pgbouncer.log')}`,
    'log_connections = 0',
    'log_disconnections = 0',
    '',
  ].join('\n');
  writeFileSync(join(dir, 'pgbouncer.ini'), ini);
  writeFileSync(join(dir, 'userlist.txt'), `"${upstream.user}" "${upstream.password}"\n`);
  if (owner) {
    for (const f of ['', 'pgbouncer.ini', 'userlist.txt']) chownSync(join(dir, f), owner.uid, owner.gid);
  }
  const child: ChildProcess = spawn(bin, [join(dir, 'pgbouncer.ini')], {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(owner ? { uid: owner.uid, gid: owner.gid } : {}),
  });
  let output = '';
  child.stdout?.on('data', (b) => {
    output += b;
  });
  child.stderr?.on('data', (b) => {
    output += b;
  });
  let exited = false;
  const exitPromise = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const stop = async () => {
    process.removeListener('exit', killOnExit);
    if (!exited) {
      child.kill('SIGTERM'); // immediate shutdown
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exitPromise;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    const log = () => {
      try {
        return readFileSync(join(dir, 'pgbouncer.log'), 'utf8');
      } catch {
        return '';
      }
    };
    if (exited) {
      const msg = `pgbouncer exited during startup:\n${output}${log()}`;
      await stop();
      throw new Error(msg);
    }
    const c = new pg.Client({
      host: '127.0.0.1',
      port,
      user: upstream.user,
      password: upstream.password,
      database: 'postgres',
    });
    c.on('error', () => {});
    try {
      await c.connect();
      await c.query('SELECT 1');
      await c.end();
      break;
    } catch (err) {
      await c.end().catch(() => {});
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`pgbouncer not ready: ${(err as Error).message}\n${output}${log()}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { port, version, preparedStatements, ini, pid: child.pid ?? 0, stop };
}

/** The latency relay (test/helpers/latency-relay.ts) as a child process in front of `targetPort`. */
export { type Relay, spawnLatencyRelay as startRelay } from '../../test/helpers/latency-relay.js';
