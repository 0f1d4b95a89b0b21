/**
 * CPU time of the systems under test, from Linux /proc: load-independent
 * where throughput ratios are not (the machine is shared), so the bench
 * reports CPU per statement next to the ratios.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OutpostProcess } from '../../test/helpers/outpost.js';
import type { PostgresInstance } from '../../test/helpers/postgres.js';

/** utime + stime of a process, and of its reaped children, in seconds (proc(5) fields 14-17). */
export function cpuSeconds(pid: number | 'self'): { self: number; children: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Counted from 1 with pid and comm as 1 and 2; clock ticks of 1/100 s.
    const tick = (i: number) => Number(fields[i - 3]) / 100;
    return { self: tick(14) + tick(15), children: tick(16) + tick(17) };
  } catch {
    return { self: 0, children: 0 };
  }
}

export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** Outpost's process and its live executor processes, in seconds. */
export function outpostCpu(outpost: OutpostProcess): number {
  const pid = outpost.proc.pid as number;
  const c = cpuSeconds(pid);
  return c.self + c.children + childPids(pid).reduce((s, p) => s + cpuSeconds(p).self, 0);
}

/** Postgres's backends that have exited (the postmaster's reaped children), in seconds. */
export function postgresCpu(upstream: PostgresInstance): number {
  const postmaster = Number(readFileSync(join(upstream.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  return cpuSeconds(postmaster).children;
}

/** This process's reaped children (pgbench runs), in seconds. */
export function clientCpu(): number {
  return cpuSeconds('self').children;
}
