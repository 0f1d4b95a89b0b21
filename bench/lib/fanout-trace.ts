/**
 * BENCH_FANOUT_TRACE=DIR (bench/scenarios/fanout.ts): joins the hub's and edge
 * 0's src/latency-trace.ts lines with the probes by final LSN and reports, per
 * stage of the path, where commit-to-applied went: upstream commit (pgoutput's
 * timestamp), the walsender's send (XLogData sendTime), the hub's receipt, its
 * publish, JetStream's store (the message's timestamp), the edge's receipt,
 * the engine's handling of the Commit, the SQLite commit, the bench seeing the
 * row; plus the event-loop stalls (>25 ms) of each thread during the run.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { percentile } from './stats.js';

export interface TracedProbe {
  lsn: string;
  /** Wall-clock ms: the INSERT's clock_timestamp(), and when the bench saw the row in edge 0's file. */
  t: number;
  visible: number;
}

type Stages = Map<string, Map<string, number>>;

function load(dir: string, pid: number | undefined): { stages: Stages; files: string[] } {
  const stages: Stages = new Map();
  const files = readdirSync(dir).filter((f) => f.startsWith(`${pid}-`) && f.endsWith('.trace'));
  for (const f of files) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      const [stage, lsn, at] = line.split(' ');
      if (!stage || !lsn || !at) continue;
      let m = stages.get(stage);
      if (!m) {
        m = new Map();
        stages.set(stage, m);
      }
      m.set(lsn, Number(at));
    }
  }
  return { stages, files };
}

const SEGMENTS: Array<[string, string | undefined, string | undefined]> = [
  ['insert -> upstream commit', undefined, 'pg.commit'],
  ['-> walsender send', 'pg.commit', 'ws.send'],
  ['-> hub receipt', 'ws.send', 'hub.recv'],
  ['-> hub publish', 'hub.recv', 'hub.pub'],
  ['-> JetStream stored', 'hub.pub', 'nats.stored'],
  ['-> edge receipt', 'nats.stored', 'edge.recv'],
  ['-> engine at Commit', 'edge.recv', 'eng.commit'],
  ['-> SQLite commit', 'eng.commit', 'eng.flush'],
  ['-> seen by the bench', 'eng.flush', undefined],
];

const HUB_STAGES = new Set(['pg.commit', 'ws.send', 'hub.recv', 'hub.pub']);

export function fanoutTraceReport(
  dir: string,
  hubPid: number | undefined,
  edgePid: number | undefined,
  probes: TracedProbe[],
): string {
  const hub = load(dir, hubPid);
  const edge = load(dir, edgePid);
  // The hub's engine writes eng.* lines too: those of the path are edge 0's.
  const at = (stage: string, lsn: string) => (HUB_STAGES.has(stage) ? hub : edge).stages.get(stage)?.get(lsn);
  const out: string[] = [];
  for (const [name, from, to] of SEGMENTS) {
    const xs: number[] = [];
    for (const p of probes) {
      const a = from === undefined ? p.t : at(from, p.lsn);
      const b = to === undefined ? p.visible : at(to, p.lsn);
      if (a !== undefined && b !== undefined) xs.push(b - a);
    }
    out.push(
      `    ${name.padEnd(26)} p50 ${percentile(xs, 50).toFixed(1)} / p90 ${percentile(xs, 90).toFixed(1)} / p99 ${percentile(xs, 99).toFixed(1)} ms (${xs.length})`,
    );
  }
  const t0 = Math.min(...probes.map((p) => p.t));
  const t1 = Math.max(...probes.map((p) => p.visible));
  for (const [who, src] of [
    ['hub', hub],
    ['edge 0', edge],
  ] as const) {
    // Stalls carry their length in the lsn field: read as a list, not by key.
    for (const f of src.files) {
      const xs: number[] = [];
      for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
        const [stage, ms, when] = line.split(' ');
        if (stage === 'loop.stall' && Number(when) >= t0 && Number(when) <= t1) xs.push(Number(ms));
      }
      const sum = xs.reduce((a, b) => a + b, 0);
      out.push(
        `    ${who} thread ${f.replace(/^\d+-|\.trace$/g, '')}: ${xs.length} event-loop stalls > 25 ms, ${xs.filter((x) => x >= 100).length} >= 100 ms, max ${xs.length ? Math.max(...xs) : 0} ms, ${(sum / 1000).toFixed(1)} s in ${((t1 - t0) / 1000).toFixed(1)} s`,
      );
    }
  }
  return out.join('\n');
}
