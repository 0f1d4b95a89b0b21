/**
 * A throwaway, real NATS server with JetStream for the fan-out tests and the
 * fan-out bench.
 *
 * Uses the system `nats-server` (Debian's in /usr/sbin, installed by `.ci/run`;
 * override with OUTPOST_NATS_SERVER). Each instance listens on its own free loopback port and
 * keeps JetStream data in its own store directory, so `restart()` (after
 * `stop()` or `kill()`) comes back on the same port with the same streams and
 * objects: outage tests take NATS away and give it back without the clients
 * having to learn a new address.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, type PostgresInstance, startPostgres } from './postgres.js';

/** Debian installs the server under /usr/sbin; elsewhere it is usually on PATH. */
export const NATS_SERVER =
  process.env.OUTPOST_NATS_SERVER ??
  ['/usr/sbin/nats-server', '/usr/bin/nats-server'].find((p) => existsSync(p)) ??
  'nats-server';

export interface NatsOptions {
  /** Port; default a free one. */
  port?: number;
  /** JetStream store directory; default a new temp dir (removed by cleanup()). */
  storeDir?: string;
  /** Echo server output to stderr. */
  verbose?: boolean;
  /** Extra command-line arguments. */
  args?: string[];
}

export interface NatsInstance {
  host: string;
  port: number;
  /** `nats://127.0.0.1:<port>` */
  url: string;
  storeDir: string;
  /** True while the server process is running. */
  readonly running: boolean;
  /** Graceful stop (SIGTERM, SIGKILL after 10 s); the store is kept. */
  stop(): Promise<void>;
  /** SIGKILL: an abrupt outage; the store is kept (whatever reached the disk). */
  kill(): Promise<void>;
  /** Start again on the same port and store (stops a running one first). */
  restart(): Promise<void>;
  /** Stop and remove the store directory (if this helper created it). */
  cleanup(): Promise<void>;
  /** The last ~8 KB of server output, for failure messages. */
  output(): string;
}

/** Resolves once something accepts a TCP connection and sends the NATS INFO line. */
function probe(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = tcpConnect({ host, port });
    let buf = '';
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.on('error', () => done(false));
    sock.on('data', (b) => {
      buf += b.toString('latin1');
      if (buf.includes('\r\n')) done(buf.startsWith('INFO '));
    });
  });
}

export async function startNats(opts: NatsOptions = {}): Promise<NatsInstance> {
  const host = '127.0.0.1';
  const ownStore = opts.storeDir === undefined;
  const storeDir = opts.storeDir ?? mkdtempSync(join(tmpdir(), 'outpost-nats-'));
  const port = opts.port ?? (await freePort());
  let child: ChildProcess | undefined;
  let exitPromise: Promise<void> = Promise.resolve();
  let running = false;
  let output = '';
  const killOnExit = () => child?.kill('SIGKILL');
  process.once('exit', killOnExit);

  const launch = async (): Promise<void> => {
    const args = ['-js', '-a', host, '-p', String(port), '-sd', storeDir, ...(opts.args ?? [])];
    const proc = spawn(NATS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    running = true;
    let ready = false;
    let mine = '';
    const collect = (b: Buffer) => {
      output = (output + b.toString()).slice(-8000);
      if (!ready) {
        mine = (mine + b.toString()).slice(-4000);
        if (mine.includes('Server is ready')) ready = true;
      }
      if (opts.verbose) process.stderr.write(b);
    };
    proc.stdout?.on('data', collect);
    proc.stderr?.on('data', collect);
    exitPromise = new Promise<void>((resolve) =>
      proc.once('exit', () => {
        if (child === proc) running = false;
        resolve();
      }),
    );
    proc.once('error', (err) => {
      // A failed spawn (ENOENT) emits no 'exit'.
      output += `\nspawn ${NATS_SERVER}: ${err.message}`;
      if (child === proc) running = false;
    });
    // "Server is ready" is logged after JetStream has recovered its store; the
    // probe confirms the listener answers (a restart after SIGKILL may take a
    // moment while the port is released).
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (!running) throw new Error(`nats-server exited during startup:\n${output}`);
      if (ready && (await probe(host, port))) return;
      // Looked at once more past the deadline: this process's event loop may
      // have been held up until after it (startPostgres's synchronous initdb,
      // started beside this), and then this timer runs before the output
      // saying "ready" is read. The probe's round trip reads it.
      if (Date.now() > deadline && !((await probe(host, port)) && ready)) {
        proc.kill('SIGKILL');
        await exitPromise;
        throw new Error(`nats-server did not start within 30 s:\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const halt = async (signal: NodeJS.Signals): Promise<void> => {
    if (!child || !running) return;
    child.kill(signal);
    const timer = setTimeout(() => child?.kill('SIGKILL'), 10_000);
    await exitPromise;
    clearTimeout(timer);
  };

  try {
    await launch();
  } catch (err) {
    process.removeListener('exit', killOnExit);
    if (ownStore) rmSync(storeDir, { recursive: true, force: true });
    throw err;
  }

  return {
    host,
    port,
    url: `nats://${host}:${port}`,
    storeDir,
    get running() {
      return running;
    },
    stop: () => halt('SIGTERM'),
    kill: () => halt('SIGKILL'),
    async restart() {
      await halt('SIGTERM');
      output += '\n--- restart ---\n';
      await launch();
    },
    async cleanup() {
      await halt('SIGTERM');
      process.removeListener('exit', killOnExit);
      if (ownStore) rmSync(storeDir, { recursive: true, force: true });
    },
    output: () => output,
  };
}

/**
 * Postgres and NATS started side by side. When one fails to start the other
 * is stopped: its process would keep the test file's alive, so a failed
 * start hung the run instead of failing it (`after` never learns of it).
 */
export async function startPostgresAndNats(): Promise<[PostgresInstance, NatsInstance]> {
  const [p, n] = await Promise.allSettled([startPostgres(), startNats()]);
  if (p.status === 'fulfilled' && n.status === 'fulfilled') return [p.value, n.value];
  if (p.status === 'fulfilled') await p.value.stop();
  if (n.status === 'fulfilled') await n.value.cleanup();
  throw p.status === 'rejected' ? p.reason : (n as PromiseRejectedResult).reason;
}
