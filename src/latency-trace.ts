/**
 * Latency trace for the fan-out bench (bench/scenarios/fanout.ts,
 * BENCH_FANOUT_TRACE): with OUTPOST_LATENCY_TRACE=DIR each thread appends
 * `stage lsn ms` lines (wall clock, sub-millisecond) to DIR/<pid>-<thread>.trace,
 * so one transaction's path (hub receipt, publish, PubAck, edge delivery,
 * apply, commit) can be put together by its final LSN. Off: one branch per call.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';

const dir = process.env.OUTPOST_LATENCY_TRACE;
export const tracing = dir !== undefined && dir !== '';
const file = tracing ? join(dir as string, `${process.pid}-${threadId}.trace`) : '';
let lines: string[] = [];

function flush(): void {
  if (lines.length === 0) return;
  const out = `${lines.join('\n')}\n`;
  lines = [];
  try {
    appendFileSync(file, out);
  } catch {
    // a trace is best effort
  }
}

if (tracing) {
  setInterval(flush, 250).unref();
  // Event-loop stalls of this thread: a 5 ms timer that fired late.
  let last = performance.now();
  setInterval(() => {
    const t = performance.now();
    if (t - last > 25) trace('loop.stall', BigInt(Math.round(t - last)));
    last = t;
  }, 5).unref();
  process.on('exit', flush);
}

export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

export function trace(stage: string, lsn: bigint, at = nowMs()): void {
  if (!tracing) return;
  lines.push(`${stage} ${lsn} ${at.toFixed(3)}`);
}
