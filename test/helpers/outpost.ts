/**
 * Runs the real `outpost` command (dist/cli.js, built by `npm test`'s pretest)
 * as a child process, for end-to-end tests.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { freePort } from './postgres.js';
import { waitFor } from './wait.js';

export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

/** An `outpost` child process with an HTTP listener, supervised for tests. */
export interface SupervisedProcess {
  proc: ChildProcess;
  httpPort: number;
  output(): string;
  status(): Promise<Record<string, unknown> & { replication: Record<string, unknown> }>;
  http(path: string): Promise<{ status: number; body: string }>;
  /** Resolves when /status says streaming. */
  ready(timeoutMs?: number): Promise<void>;
  /** Exit code after SIGTERM (or the signal name after SIGKILL). */
  stop(signal?: NodeJS.Signals): Promise<number | string | null>;
}

/** An edge or a single Outpost: the proxy's port too. */
export interface OutpostProcess extends SupervisedProcess {
  port: number;
}

/** The NATS hub (`outpost publish`): no proxy listener. */
export type HubProcess = SupervisedProcess;

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

interface SpawnOptions {
  /** Extra node flags, e.g. --cpu-prof for profiling in benchmarks. */
  nodeArgs?: string[];
  /**
   * A session of its own (setsid), so the scheduler's autogroups weigh it as a
   * separate service rather than as one more process of the caller's session
   * (benchmarks running several Outposts beside other work on a shared machine).
   */
  ownSession?: boolean;
  /** Added to the environment. */
  env?: Record<string, string>;
  /** Another build's cli.js (benchmarks comparing two builds side by side). */
  cli?: string;
  /** Called with every line the process writes (stdout and stderr), e.g. to watch for log lines. */
  onLine?: (line: string) => void;
}

/**
 * Spawns `cli.js` with `args` (which must give it `--http 127.0.0.1:<httpPort>`)
 * and keeps the last 20 KB of its output; a test process that exits takes the
 * child with it (SIGKILL).
 */
function supervise(args: string[], httpPort: number, opts: SpawnOptions): SupervisedProcess {
  const proc = spawn(process.execPath, [...(opts.nodeArgs ?? []), opts.cli ?? CLI, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: opts.ownSession === true,
    env: { ...process.env, ...opts.env },
  });
  let out = '';
  let pending = '';
  const onLine = opts.onLine;
  const collect = (b: Buffer) => {
    out = (out + b.toString()).slice(-20000);
    if (!onLine) return;
    const lines = (pending + b.toString()).split('\n');
    pending = lines.pop() ?? '';
    for (const l of lines) onLine(l);
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

export async function startOutpost(
  opts: SpawnOptions & {
    upstream: string;
    replica: string;
    args?: string[];
    port?: number;
    httpPort?: number;
  },
): Promise<OutpostProcess> {
  const port = opts.port ?? (await freePort());
  const httpPort = opts.httpPort ?? (await freePort());
  const args = [
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
  ];
  return { ...supervise(args, httpPort, opts), port };
}

/** The flags `outpost publish` (the NATS hub) needs, after the word `publish`. */
export function publishArgs(o: {
  upstream: string;
  nats: string;
  stream: string;
  replica: string;
  httpPort: number;
}): string[] {
  return [
    '--upstream',
    o.upstream,
    '--nats',
    o.nats,
    '--stream',
    o.stream,
    '--replica',
    o.replica,
    '--http',
    `127.0.0.1:${o.httpPort}`,
  ];
}

/**
 * The NATS hub, `outpost publish`, as a child process (so that it can be
 * SIGKILLed). `args` come last: e.g. `--snapshot-interval 2`.
 */
export async function startHub(
  opts: SpawnOptions & {
    upstream: string;
    nats: string;
    stream: string;
    replica: string;
    args?: string[];
    httpPort?: number;
  },
): Promise<HubProcess> {
  const httpPort = opts.httpPort ?? (await freePort());
  const args = [
    'publish',
    ...publishArgs({ ...opts, httpPort }),
    '--log-level',
    'info',
    ...(opts.args ?? []),
  ];
  return supervise(args, httpPort, opts);
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

/**
 * Runs `query` until Outpost answers it locally and returns that answer: a
 * freshly (re)started Outpost forwards, correctly, while it looks up the
 * role's privileges, so a test asserting a local answer waits for one.
 */
export async function localQuery(
  c: pg.Client,
  query: string | pg.QueryConfig | pg.QueryArrayConfig,
  timeoutMs = 20_000,
): Promise<pg.QueryResult> {
  // Array-mode configs too (rows then are arrays): pg's overloads take one kind at a time.
  const q = (typeof query === 'string' ? { text: query } : query) as pg.QueryConfig;
  return waitFor(
    `${q.text} answered locally`,
    async () => {
      const r = await c.query(q);
      return (await lastRoute(c)) === 'local' ? r : undefined;
    },
    timeoutMs,
  );
}
