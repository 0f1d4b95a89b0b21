/**
 * Runs the real `outpost` command (dist/cli.js, built by `npm test`'s pretest)
 * as a child process, for end-to-end tests.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { freePort } from './postgres.js';

export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

export interface OutpostProcess {
  proc: ChildProcess;
  port: number;
  httpPort: number;
  output(): string;
  status(): Promise<Record<string, unknown> & { replication: Record<string, unknown> }>;
  http(path: string): Promise<{ status: number; body: string }>;
  /** Resolves when /status says streaming. */
  ready(timeoutMs?: number): Promise<void>;
  /** Exit code after SIGTERM (or the signal name after SIGKILL). */
  stop(signal?: NodeJS.Signals): Promise<number | string | null>;
}

export async function runCli(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 60_000,
): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  const proc = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (b) => {
    stdout += b;
  });
  proc.stderr.on('data', (b) => {
    stderr += b;
  });
  const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => proc.on('exit', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stdout, stderr, ms: Date.now() - started };
}

export async function startOutpost(opts: {
  upstream: string;
  replica: string;
  args?: string[];
  port?: number;
  httpPort?: number;
  /** Extra node flags, e.g. --cpu-prof for profiling in benchmarks. */
  nodeArgs?: string[];
  /** Added to the environment. */
  env?: Record<string, string>;
  /** Another build's cli.js (benchmarks comparing two builds side by side). */
  cli?: string;
}): Promise<OutpostProcess> {
  const port = opts.port ?? (await freePort());
  const httpPort = opts.httpPort ?? (await freePort());
  const proc = spawn(
    process.execPath,
    [
      ...(opts.nodeArgs ?? []),
      opts.cli ?? CLI,
      '--upstream',
      opts.upstream,
      '--replica',
      opts.replica,
      '--listen',
      `127.0.0.1:${port}`,
      '--http',
      `127.0.0.1:${httpPort}`,
      '--log-level',
      'info',
      ...(opts.args ?? []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } },
  );
  let out = '';
  const collect = (b: Buffer) => {
    out = (out + b.toString()).slice(-20000);
  };
  proc.stdout?.on('data', collect);
  proc.stderr?.on('data', collect);
  let exitCode: number | string | null | undefined;
  const exited = new Promise<number | string | null>((resolve) =>
    proc.on('exit', (code, signal) => {
      exitCode = code ?? signal;
      resolve(exitCode);
    }),
  );
  const kill = () => proc.kill('SIGKILL');
  process.once('exit', kill);

  const http = async (path: string) => {
    const res = await fetch(`http://127.0.0.1:${httpPort}${path}`);
    return { status: res.status, body: await res.text() };
  };
  const status = async () => JSON.parse((await http('/status')).body);
  return {
    proc,
    port,
    httpPort,
    output: () => out,
    http,
    status,
    async ready(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (exitCode !== undefined) throw new Error(`outpost exited (${exitCode}):\n${out}`);
        try {
          const s = await status();
          if (s.replication.state === 'streaming') return;
        } catch {
          // not listening yet
        }
        if (Date.now() > deadline) throw new Error(`outpost not ready within ${timeoutMs} ms:\n${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      process.removeListener('exit', kill);
      if (exitCode === undefined) proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Poll `fn` until it returns true. */
export async function eventually(
  fn: () => Promise<boolean>,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A pg client connected through Outpost as the test superuser (errors after a kill are ignored). */
export async function connectThrough(port: number, extra: pg.ClientConfig = {}): Promise<pg.Client> {
  const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password: 'postgres', ...extra });
  c.on('error', () => {});
  await c.connect();
  return c;
}

/** What `SHOW outpost.last_route` answers on this connection. */
export async function lastRoute(c: pg.Client): Promise<string> {
  const r = await c.query<{ last_route: string }>('show outpost.last_route');
  return r.rows[0]?.last_route ?? '';
}
