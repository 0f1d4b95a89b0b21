/**
 * A TCP relay that emulates a WAN link: every chunk, in each direction, is
 * delivered `delay` ms after it arrived, in arrival order (one FIFO per
 * direction), so a round trip through it costs 2 × delay on top of the real
 * work. There is no tc/netem here, and this keeps the bench unprivileged.
 *
 * Shared by the edge benchmarks (bench/scenarios/edge*.ts) and the tests that
 * need a far upstream. `spawnLatencyRelay` runs it as a child process, so
 * the relay's timers never wait behind the caller's own work; on its own:
 *   node --import tsx test/helpers/latency-relay.ts --target 127.0.0.1:5432 [--listen 127.0.0.1:0] [--delay 20]
 * It prints `listening <port>` once ready.
 */
import { spawn } from 'node:child_process';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';

export interface RelayOptions {
  targetHost: string;
  targetPort: number;
  listenHost?: string;
  listenPort?: number;
  delayMs: number;
}

/**
 * Delivers to `to` whatever `from` sends, `delayMs` later and in order;
 * the end of the stream is delayed like data, so nothing is cut short.
 */
function pipeDelayed(from: Socket, to: Socket, delayMs: number): void {
  const queue: { due: number; chunk: Buffer | null }[] = [];
  let timer: NodeJS.Timeout | undefined;
  const drain = (): void => {
    timer = undefined;
    const now = performance.now();
    while (queue.length > 0 && queue[0]!.due <= now) {
      const { chunk } = queue.shift()!;
      if (chunk === null) to.end();
      else if (!to.destroyed) to.write(chunk);
    }
    if (queue.length > 0) timer = setTimeout(drain, Math.max(0, queue[0]!.due - performance.now()));
  };
  const push = (chunk: Buffer | null): void => {
    queue.push({ due: performance.now() + delayMs, chunk });
    if (timer === undefined) timer = setTimeout(drain, delayMs);
  };
  from.on('data', (chunk: Buffer) => push(chunk));
  from.on('end', () => push(null));
}

export function startLatencyRelay(opts: RelayOptions): Promise<{ server: Server; port: number }> {
  const sockets = new Set<Socket>();
  const server = createServer({ noDelay: true }, (client) => {
    const upstream = connect({ host: opts.targetHost, port: opts.targetPort, noDelay: true });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    }
    // A reset on one side resets the other at once: a dead link is not delayed.
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    pipeDelayed(client, upstream, opts.delayMs);
    pipeDelayed(upstream, client, opts.delayMs);
  });
  server.on('close', () => {
    for (const s of sockets) s.destroy();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.listenPort ?? 0, opts.listenHost ?? '127.0.0.1', () => {
      const addr = server.address();
      if (addr && typeof addr === 'object') resolve({ server, port: addr.port });
      else reject(new Error('relay has no address'));
    });
  });
}

export interface Relay {
  port: number;
  stop(): Promise<void>;
}

/** This file as a child process relaying to 127.0.0.1:`targetPort`, `delayMs` each way. */
export async function spawnLatencyRelay(targetPort: number, delayMs: number): Promise<Relay> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      fileURLToPath(import.meta.url),
      '--target',
      `127.0.0.1:${targetPort}`,
      '--delay',
      String(delayMs),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (b) => {
      output += b;
      const m = /listening (\d+)/.exec(output);
      if (m) resolve(Number(m[1]));
    });
    child.stderr.on('data', (b) => {
      output += b;
    });
    child.once('exit', (code) => reject(new Error(`latency relay exited (${code}):\n${output}`)));
  });
  return {
    port,
    async stop() {
      process.removeListener('exit', killOnExit);
      if (child.exitCode !== null) return;
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await done;
    },
  };
}

function hostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i), port: Number(s.slice(i + 1)) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name: string): string | undefined => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const target = arg('--target');
  if (!target) {
    process.stderr.write('usage: latency-relay.ts --target HOST:PORT [--listen HOST:PORT] [--delay MS]\n');
    process.exit(2);
  }
  const listen = hostPort(arg('--listen') ?? '127.0.0.1:0');
  const t = hostPort(target);
  const { port } = await startLatencyRelay({
    targetHost: t.host,
    targetPort: t.port,
    listenHost: listen.host,
    listenPort: listen.port,
    delayMs: Number(arg('--delay') ?? 20),
  });
  process.stdout.write(`listening ${port}\n`);
}
