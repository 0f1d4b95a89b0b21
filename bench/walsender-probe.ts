/**
 * Where a walsender's CPU goes for one big transaction, per consumer kind:
 * `node --import tsx bench/walsender-probe.ts single|ind5|hub|hub-edges [rows] [flags]`
 * (after `npm run build`; PROBE_REPEATS=n runs n transactions). Starts its own
 * Postgres 17 (and nats-server for the hub), the consumers, and prints the
 * walsender's CPU (user/sys), context switches, its socket's segments
 * (`ss -ti`) and the consumer's sleeps. Flags: --perf counts its syscalls
 * (perf stat tracepoints), --record writes perf-<mode>.data (call graphs),
 * --strace (strace -c: slows it, CPU then means nothing), --pg=name=value a
 * server setting. A diagnostic beside bench/scenarios/fanout.ts, not a scenario;
 * OUTPOST_REPL_GATHER_MS=0 turns read gathering off for an A/B.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseLsn } from '../src/replication/lsn.js';
import { startNats } from '../test/helpers/nats.js';
import { type SupervisedProcess, startHub, startOutpost } from '../test/helpers/outpost.js';
import { startPostgres } from '../test/helpers/postgres.js';
import { sleep } from './lib/proc.js';

const mode = process.argv[2] ?? 'single';
const rows = Number(process.argv[3] ?? 1_000_000);
const useStrace = process.argv.includes('--strace');
const usePerf = process.argv.includes('--perf');
const usePerfRecord = process.argv.includes('--record');
const PERF_EVENTS = [
  'sendto',
  'recvfrom',
  'epoll_wait',
  'read',
  'write',
  'pread64',
  'pwrite64',
  'openat',
  'lseek',
  'kill',
  'getpid',
].map((s) => `syscalls:sys_enter_${s}`);

function sockInfo(pid: number): string {
  try {
    const out = run('ss', ['-tinpH', 'state', 'established']);
    const lines = out.split('\n');
    const i = lines.findIndex((l) => l.includes(`pid=${pid},`));
    if (i < 0) return '';
    const info = lines[i + 1] ?? '';
    const pick = (k: string) => new RegExp(`${k}:(\\d+)`).exec(info)?.[1] ?? '?';
    return `bytes_sent ${pick('bytes_sent')} segs_out ${pick('segs_out')} data_segs_out ${pick('data_segs_out')} bytes_received ${pick('bytes_received')} segs_in ${pick('segs_in')}`;
  } catch {
    return '';
  }
}

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8' });
}
const repeats = Number(process.env.PROBE_REPEATS ?? 1);

function procStat(pid: number): { cpu: number; user: number; sys: number; vcs: number; ivcs: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const num = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return {
    cpu: (Number(f[11]) + Number(f[12])) / 100,
    user: Number(f[11]) / 100,
    sys: Number(f[12]) / 100,
    vcs: num('voluntary_ctxt_switches'),
    ivcs: num('nonvoluntary_ctxt_switches'),
  };
}

/** Voluntary context switches of all a process's threads (each one a sleep someone had to wake). */
function threadsVcs(pid: number): number {
  let n = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      const st = readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8');
      n += Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(st)?.[1] ?? 0);
    } catch {
      // thread gone
    }
  }
  return n;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'walsender-probe-'));
  const pgSettings: Record<string, string> = {};
  for (const a of process.argv.slice(4)) {
    const m = /^--pg=([^=]+)=(.*)$/.exec(a);
    if (m?.[1] && m[2] !== undefined) pgSettings[m[1]] = m[2];
  }
  const upstream = await startPostgres({ settings: pgSettings });
  const nats = mode.startsWith('hub') ? await startNats() : undefined;
  const procs: SupervisedProcess[] = [];
  try {
    await upstream.query('CREATE TABLE big (id int PRIMARY KEY, n int NOT NULL, label text NOT NULL)');
    const url = upstream.url();
    if (mode === 'single' || mode === 'ind5') {
      for (let i = 0; i < (mode === 'ind5' ? 5 : 1); i++) {
        procs.push(
          await startOutpost({
            upstream: url,
            replica: join(dir, `single-${i}.db`),
            args: ['--log-level', 'warn'],
          }),
        );
      }
    } else {
      if (!nats) throw new Error('no nats');
      procs.push(
        await startHub({
          upstream: url,
          nats: nats.url,
          stream: 'PROBE',
          replica: join(dir, 'hub.db'),
          args: ['--log-level', 'warn', '--snapshot-interval', '3600'],
        }),
      );
      await procs[0]?.ready(120_000);
      if (mode === 'hub-edges') {
        for (let i = 0; i < 5; i++) {
          procs.push(
            await startOutpost({
              upstream: url,
              replica: join(dir, `edge-${i}.db`),
              args: [
                '--log-level',
                'warn',
                '--nats',
                nats.url,
                '--stream',
                'PROBE',
                '--nats-consumer',
                `e${i}`,
              ],
            }),
          );
        }
      }
    }
    for (const p of procs) await p.ready(120_000);
    const pids = (
      await upstream.query<{ pid: number }>('SELECT active_pid AS pid FROM pg_replication_slots WHERE active')
    ).rows.map((r) => r.pid);
    const pid = pids[0];
    if (!pid) throw new Error('no walsender');
    for (let r = 0; r < repeats; r++) {
      if (r > 0) await upstream.query('TRUNCATE big');
      await sleep(1000);
      let strace: ChildProcess | undefined;
      const straceOut = join(dir, `strace-${r}.txt`);
      if (useStrace) {
        strace = spawn('strace', ['-c', '-f', '-p', String(pid), '-o', straceOut], { stdio: 'ignore' });
        await sleep(500);
      }
      let perf: ChildProcess | undefined;
      const perfOut = join(dir, `perf-${r}.txt`);
      if (usePerfRecord) {
        perf = spawn(
          'perf',
          [
            'record',
            '--call-graph',
            'dwarf,16384',
            '-F',
            '2000',
            '-p',
            String(pid),
            '-o',
            join(process.cwd(), `perf-${mode}.data`),
          ],
          { stdio: 'ignore' },
        );
        await sleep(500);
      } else if (usePerf) {
        perf = spawn(
          'perf',
          [
            'stat',
            '-e',
            [...PERF_EVENTS, 'raw_syscalls:sys_enter'].join(','),
            '-p',
            String(pid),
            '-o',
            perfOut,
          ],
          { stdio: 'ignore' },
        );
        await sleep(500);
      }
      const sock0 = sockInfo(pid);
      const cpid = procs[0]?.proc.pid as number;
      const cvcs0 = threadsVcs(cpid);
      const before = procStat(pid);
      const allBefore = pids.map(procStat);
      const t0 = performance.now();
      await upstream.query(
        `INSERT INTO big SELECT g, g % 1000, 'row ' || g FROM generate_series(1, ${rows}) g`,
      );
      const tIns = performance.now();
      const lsn = parseLsn(
        (await upstream.query<{ l: string }>('SELECT pg_current_wal_insert_lsn()::text AS l')).rows[0]?.l ??
          '0/0',
      );
      for (const p of procs) {
        for (;;) {
          const s = await p.status();
          if (parseLsn(String(s.replication.appliedLsn)) >= lsn) break;
          await sleep(50);
        }
      }
      const after = procStat(pid);
      const each = pids.map((p, i) => procStat(p).cpu - (allBefore[i]?.cpu ?? 0));
      const cvcs = threadsVcs(cpid) - cvcs0;
      const t1 = performance.now();
      console.log(
        `${mode} run ${r}: walsender cpu ${(after.cpu - before.cpu).toFixed(2)} s (user ${(after.user - before.user).toFixed(2)}, sys ${(after.sys - before.sys).toFixed(2)}), vcs ${after.vcs - before.vcs}, ivcs ${after.ivcs - before.ivcs}, insert ${((tIns - t0) / 1000).toFixed(1)} s, all applied ${((t1 - t0) / 1000).toFixed(1)} s, consumer sleeps ${cvcs}; all walsenders ${each.map((c) => c.toFixed(2)).join(' ')}`,
      );
      console.log(`  socket before: ${sock0}\n  socket after:  ${sockInfo(pid)}`);
      if (perf) {
        perf.kill('SIGINT');
        await new Promise((r) => perf?.on('exit', r));
        if (!usePerfRecord) console.log(readFileSync(perfOut, 'utf8'));
      }
      if (strace) {
        strace.kill('SIGINT');
        await new Promise((r) => strace?.on('exit', r));
        console.log(readFileSync(straceOut, 'utf8'));
      }
    }
  } finally {
    for (const p of procs.reverse()) await p.stop().catch(() => {});
    await nats?.cleanup();
    await upstream.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
