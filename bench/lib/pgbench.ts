/**
 * Runs pgbench (asynchronously: the bench process keeps serving its own
 * timers and sockets while pgbench runs) and computes real latency
 * percentiles from its per-transaction log (`-l`).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { percentileSorted } from './stats.js';

export interface PgbenchTarget {
  port: number;
  database?: string;
  user?: string;
  password?: string;
}

export interface PgbenchRun {
  tps: number;
  /** Latency percentiles over every logged transaction, in milliseconds. */
  p50: number;
  p99: number;
  avg: number;
  transactions: number;
  /** p50 per script (`-f` files, in order), when several scripts ran. */
  p50ByScript: number[];
  output: string;
}

export function pgbenchEnv(target: PgbenchTarget): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PGPASSWORD: target.password ?? 'postgres',
    // pgbench must not pick up an operator's PG* settings meant for another server.
    PGSSLMODE: 'disable',
    PGOPTIONS: '',
  };
}

export function connArgs(target: PgbenchTarget): string[] {
  return [
    '-h',
    '127.0.0.1',
    '-p',
    String(target.port),
    '-U',
    target.user ?? 'postgres',
    target.database ?? 'postgres',
  ];
}

/** Runs a command to completion; rejects with its stderr when it fails. */
export function exec(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd?: string,
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => {
      stdout += b;
    });
    child.stderr.on('data', (b) => {
      stderr += b;
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(`${cmd} ${args.join(' ')} failed (${code ?? signal}):\n${stderr}${stdout}`));
    });
  });
}

/**
 * `pgbench <args> -l` against `target`. The log's third column is each
 * transaction's latency in microseconds; every transaction is kept (a few
 * hundred thousand numbers at most), so p50/p99 are exact.
 */
export async function pgbench(target: PgbenchTarget, args: string[]): Promise<PgbenchRun> {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-pgbench-'));
  try {
    const { stdout, stderr } = await exec(
      'pgbench',
      [...args, '-l', '--log-prefix', join(dir, 'tx'), ...connArgs(target)],
      pgbenchEnv(target),
      dir,
    );
    const output = stdout + stderr;
    if (/aborted in command|client \d+ aborted/.test(output)) {
      throw new Error(`pgbench clients aborted:\n${output}`);
    }
    const latencies: number[] = [];
    const byScript: number[][] = [];
    for (const f of readdirSync(dir)) {
      if (!f.startsWith('tx')) continue;
      for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
        // client_id transaction_no time script_no time_epoch time_us
        const fields = line.split(' ');
        const ms = Number(fields[2]) / 1000;
        if (!line || !Number.isFinite(ms)) continue;
        latencies.push(ms);
        const script = Number(fields[3]);
        if (!Number.isInteger(script)) continue;
        const list = byScript[script] ?? [];
        byScript[script] = list;
        list.push(ms);
      }
    }
    const sorted = Float64Array.from(latencies).sort();
    const tps = Number(/tps = ([\d.]+)/.exec(output)?.[1]);
    if (!Number.isFinite(tps) || sorted.length === 0)
      throw new Error(`unexpected pgbench output:\n${output}`);
    let sum = 0;
    for (const x of sorted) sum += x;
    return {
      tps,
      p50: percentileSorted(sorted, 50),
      p99: percentileSorted(sorted, 99),
      avg: sum / sorted.length,
      transactions: sorted.length,
      p50ByScript: Array.from(byScript, (xs) =>
        xs === undefined ? Number.NaN : percentileSorted(Float64Array.from(xs).sort(), 50),
      ),
      output,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
