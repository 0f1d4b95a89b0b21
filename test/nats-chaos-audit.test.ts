/**
 * Issue 18's chaos target, audited (test/nats-chaos.test.ts is the plain
 * fixed-seed run; this one adds multi-part transactions, kills aimed at them,
 * a late edge, PG-text comparison through the edges and a check of the stream
 * itself): under a steady write load, SIGKILL the hub and
 * random edges at random points and restart NATS once; afterwards every edge
 * holds exactly upstream's rows (every table, as PG text, ordered by key) and
 * upstream has exactly one replication slot. Real Postgres, real nats-server,
 * the hub and the edges as real `outpost` processes (dist/cli.js).
 *
 * The schedule comes from a seeded PRNG: OUTPOST_CHAOS_SEED=<n> replays one.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { Client } from 'pg';
import { decodeHeader, decodeRecords } from '../src/nats/wire-format.js';
import { type NatsInstance, startNats } from './helpers/nats.js';
import {
  CLI,
  connectThrough,
  eventually,
  lastRoute,
  type OutpostProcess,
  startOutpost,
} from './helpers/outpost.js';
import { freePort, type PostgresInstance, startPostgres } from './helpers/postgres.js';
import { prng } from './helpers/prng.js';

let pg: PostgresInstance;
let nats: NatsInstance;
let dir: string;

before(async () => {
  [pg, nats] = await Promise.all([startPostgres(), startNats()]);
  dir = mkdtempSync(join(tmpdir(), 'outpost-chaos-'));
});

after(async () => {
  await Promise.all([pg?.stop(), nats?.cleanup()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const DB = 'chaos';
const STREAM = 'CHAOS';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function lsnOf(text: unknown): bigint {
  const [hi, lo] = String(text)
    .split('/')
    .map((h) => BigInt(`0x${h}`));
  return ((hi ?? 0n) << 32n) + (lo ?? 0n);
}

async function currentLsn(): Promise<bigint> {
  const r = await pg.query<{ l: string }>('SELECT pg_current_wal_insert_lsn()::text AS l', [], DB);
  return lsnOf(r.rows[0]?.l ?? '0/0');
}

interface HubProcess {
  proc: ChildProcess;
  output(): string;
  status(): Promise<{ replication: Record<string, unknown> }>;
  stop(signal?: NodeJS.Signals): Promise<number | string | null>;
}

/** `outpost publish` as a child process, so it can be SIGKILLed. */
async function startHub(): Promise<HubProcess> {
  const httpPort = await freePort();
  const proc = spawn(
    process.execPath,
    [
      CLI,
      'publish',
      '--upstream',
      pg.url({ database: DB }),
      '--nats',
      nats.url,
      '--stream',
      STREAM,
      '--replica',
      join(dir, 'hub.db'),
      '--http',
      `127.0.0.1:${httpPort}`,
      // Object-store snapshots during the chaos too: the late edge bootstraps from one.
      '--snapshot-interval',
      '2',
      '--log-level',
      'info',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
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
  watch(proc, 'hub');
  return {
    proc,
    output: () => out,
    async status() {
      const res = await fetch(`http://127.0.0.1:${httpPort}/status`);
      return JSON.parse(await res.text());
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

async function startEdge(name: string): Promise<OutpostProcess> {
  const e = await startOutpost({
    upstream: pg.url({ database: DB }),
    replica: join(dir, `edge-${name}.db`),
    args: ['--nats', nats.url, '--stream', STREAM, '--nats-consumer', name, '--workers', '0'],
  });
  watch(e.proc, `edge ${name}`);
  return e;
}

/**
 * Log lines that mean the stream did not carry everything through the chaos
 * (an edge fell back to a fresh copy, a hub skipped changes, a republished
 * transaction was cut differently): the rows could still end right, but the
 * stream path would not have been what got them there.
 */
const INCIDENT =
  /the replica left the stream|no longer holds the message|remade from a snapshot past|fewer parts than the stream holds|must re-bootstrap/;
const incidents: string[] = [];

function watch(proc: ChildProcess, label: string): void {
  let pending = '';
  const scan = (b: Buffer) => {
    const lines = (pending + b.toString()).split('\n');
    pending = lines.pop() ?? '';
    for (const l of lines) if (INCIDENT.test(l)) incidents.push(`${label}: ${l}`);
  };
  proc.stdout?.on('data', scan);
  proc.stderr?.on('data', scan);
}

const TABLES = ['acct', 'events', 'blobs'] as const;
/** Every column as upstream's text (no client-side parsing), ordered by key. */
const textTypes = { getTypeParser: () => (v: string) => v };

async function tableText(c: Client, table: string): Promise<string[][]> {
  const r = await c.query({ text: `SELECT * FROM ${table} ORDER BY id`, rowMode: 'array', types: textTypes });
  return r.rows as string[][];
}

/**
 * Reads the whole stream and checks its shape: each transaction's parts are
 * consecutive, numbered from 0, end with one last part, and no (LSN, part)
 * appears twice; transactions come in LSN order. Returns how many carry a row
 * change (Insert/Update/Delete), for the count of committed write transactions.
 */
async function auditStream(): Promise<{ txs: number; changeTxs: number; heartbeats: number }> {
  const nc = await connect({ servers: nats.url });
  try {
    const jsm = await jetstreamManager(nc);
    const last = (await jsm.streams.info(STREAM)).state.last_seq;
    const consumer = await jetstream(nc).consumers.get(STREAM);
    let txs = 0;
    let changeTxs = 0;
    let heartbeats = 0;
    let open: { lsn: bigint; part: number; change: boolean } | undefined;
    let prevTx = -1n;
    for (let seq = 0; seq < last; ) {
      const m = await consumer.next({ expires: 5000 });
      assert.ok(m, `stream ended before seq ${last} (at ${seq})`);
      seq = m.seq;
      const h = decodeHeader(m.headers);
      if (h.kind === 'hb') {
        assert.equal(open, undefined, `heartbeat at seq ${seq} inside a transaction's parts`);
        heartbeats++;
        continue;
      }
      // The hub's replica is never remade here: a reset would mean the stream lost changes.
      if (h.kind === 'reset') assert.fail(`reset at seq ${seq}: the stream misses changes`);
      if (h.part === 0) {
        assert.equal(open, undefined, `seq ${seq} starts a transaction before the last one ended`);
        assert.ok(h.finalLsn > prevTx, `seq ${seq}: transaction ${h.finalLsn} repeated or out of order`);
        open = { lsn: h.finalLsn, part: 0, change: false };
      } else {
        assert.ok(
          open && open.lsn === h.finalLsn && open.part + 1 === h.part,
          `seq ${seq}: part out of place`,
        );
        open.part = h.part;
      }
      for (const r of decodeRecords(m.data)) if ([0x49, 0x55, 0x44].includes(r[0] ?? 0)) open.change = true;
      if (h.last) {
        txs++;
        if (open.change) changeTxs++;
        prevTx = open.lsn;
        open = undefined;
      }
    }
    assert.equal(open, undefined, 'the stream ends inside a transaction');
    return { txs, changeTxs, heartbeats };
  } finally {
    await nc.close();
  }
}

test('chaos, audited: SIGKILL hub and edges under writes (multi-part txs too), NATS once: edges end identical, one slot', async () => {
  const seed = Number(process.env.OUTPOST_CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));
  console.log(`chaos seed ${seed} (OUTPOST_CHAOS_SEED=${seed} replays it)`);
  const rnd = prng(seed);
  const pick = (n: number) => Math.floor(rnd() * n);

  await pg.query(`CREATE DATABASE ${DB}`);
  await pg.query(
    `CREATE TABLE acct (id int PRIMARY KEY, bal bigint NOT NULL, note text, touched timestamptz);
     INSERT INTO acct SELECT g, 1000, 'acct ' || g, '2024-01-01 00:00:00+00' FROM generate_series(1, 200) g;
     CREATE TABLE events (id bigint PRIMARY KEY, acct int NOT NULL, amount numeric(12,2), meta jsonb);
     CREATE TABLE blobs (id int PRIMARY KEY, batch int NOT NULL, data text, raw bytea);`,
    [],
    DB,
  );

  let hub = await startHub();
  const names = ['a', 'b', 'c'];
  const edges = new Map<string, OutpostProcess>();
  const log: string[] = [];
  try {
    // Two edges from the start; the third joins mid-chaos (object-store snapshot or its own).
    for (const n of names.slice(0, 2)) edges.set(n, await startEdge(n));
    await Promise.all([...edges.values()].map((e) => e.ready(90_000)));

    // The write load: small transactions of inserts, updates and deletes, and
    // every so often one multi-part transaction (> 512 KiB of pgoutput).
    let writing = true;
    let txs = 0;
    let bigTxs = 0;
    let changeTxs = 0;
    // Resolved when the next multi-part transaction commits: some kills aim at
    // the moment its parts are being published (hub) or applied (edge).
    let bigCommitted: () => void = () => {};
    const nextBig = () =>
      new Promise<void>((resolve) => {
        bigCommitted = resolve;
      });
    const wrnd = prng(seed ^ 0x5eed);
    const writer = (async () => {
      const w = await pg.connect({ database: DB });
      try {
        let eventId = 0;
        let batch = 0;
        while (writing) {
          txs++;
          await w.query('BEGIN');
          let changed = 0;
          const q = async (sql: string, params: unknown[]) => {
            changed += (await w.query(sql, params)).rowCount ?? 0;
          };
          if (txs % 60 === 0) {
            batch++;
            bigTxs++;
            // ~1.2 MB of new rows, then an update and a delete inside the same transaction.
            await q(
              `INSERT INTO blobs SELECT $1::int * 1000 + g, $1, repeat(md5(($1::int * 1000 + g)::text), 32),
                 decode(md5(g::text), 'hex') FROM generate_series(1, 600) g`,
              [batch],
            );
            await q(`UPDATE blobs SET data = 'rewritten ' || id WHERE batch = $1 AND id % 7 = 0`, [batch]);
            await q('DELETE FROM blobs WHERE batch = $1 AND id % 11 = 0', [batch - 1]);
          } else {
            const ops = 1 + Math.floor(wrnd() * 4);
            for (let i = 0; i < ops; i++) {
              const acct = 1 + Math.floor(wrnd() * 200);
              const amount = Math.floor(wrnd() * 20000) - 10000;
              const kind = wrnd();
              if (kind < 0.55) {
                eventId++;
                await q(
                  `INSERT INTO events VALUES ($1, $2, $3::numeric / 100, jsonb_build_object('tx', $4::int, 'k', $5::text))`,
                  [eventId, acct, amount, txs, `e${eventId}`],
                );
                await q('UPDATE acct SET bal = bal + $2, touched = now() WHERE id = $1', [acct, amount]);
              } else if (kind < 0.8) {
                await q(`UPDATE acct SET note = note || '.' , bal = bal - 1 WHERE id = $1`, [acct]);
              } else if (eventId > 0) {
                await q('DELETE FROM events WHERE id = $1', [1 + Math.floor(wrnd() * eventId)]);
              }
            }
          }
          await w.query('COMMIT');
          // Postgres does not decode a transaction that changed no row (a delete of a deleted event).
          if (changed > 0) changeTxs++;
          if (txs % 60 === 0) bigCommitted();
          await sleep(Math.floor(wrnd() * 15));
        }
      } finally {
        await w.end();
      }
    })();
    let writerFailed: unknown;
    writer.catch((err) => {
      writerFailed = err;
    });

    // The chaos: ~10 events at random moments; NATS restarts once, somewhere in the middle.
    const events = 10;
    const natsAt = [3, 5, 6, 8][pick(4)] as number;
    for (let i = 0; i < events; i++) {
      await sleep(500 + pick(2500));
      if (writerFailed) throw writerFailed;
      if (i === natsAt) {
        const downMs = 300 + pick(1200);
        log.push(`SIGKILL NATS, back after ${downMs} ms`);
        await nats.kill();
        await sleep(downMs);
        await nats.restart();
        continue;
      }
      if (i === 2) {
        log.push('start edge c');
        edges.set('c', await startEdge('c'));
        continue;
      }
      const victims = ['hub', 'hub+edge', ...edges.keys()];
      // Events 4 and 7 go for the hub and an edge while a multi-part transaction is in flight.
      const victim = (i === 4 ? 'hub' : i === 7 ? 'b' : victims[pick(victims.length)]) as string;
      const downMs = pick(1500);
      if (i === 4 || i === 7) {
        await nextBig();
        const ms = pick(150);
        await sleep(ms);
        log.push(`${ms} ms after a multi-part commit:`);
      }
      log.push(`SIGKILL ${victim}, back after ${downMs} ms`);
      if (victim === 'hub+edge') {
        const name = [...edges.keys()][pick(edges.size)] as string;
        log[log.length - 1] += ` (edge ${name})`;
        const e = edges.get(name) as OutpostProcess;
        await Promise.all([hub.stop('SIGKILL'), e.stop('SIGKILL')]);
        await sleep(downMs);
        hub = await startHub();
        edges.set(name, await startEdge(name));
      } else if (victim === 'hub') {
        assert.equal(await hub.stop('SIGKILL'), 'SIGKILL');
        await sleep(downMs);
        hub = await startHub();
      } else {
        const e = edges.get(victim) as OutpostProcess;
        assert.equal(await e.stop('SIGKILL'), 'SIGKILL');
        await sleep(downMs);
        edges.set(victim, await startEdge(victim));
      }
    }
    writing = false;
    await writer;
    console.log(`chaos schedule: ${log.join('; ')}; ${txs} write transactions (${bigTxs} multi-part)`);
    assert.ok(bigTxs >= 1, `no multi-part transaction was written (${txs} transactions)`);

    // Quiet now: every edge reaches upstream's position and holds exactly its rows.
    const target = await currentLsn();
    const direct = await pg.connect({ database: DB });
    try {
      const want = new Map<string, string[][]>();
      for (const t of TABLES) want.set(t, await tableText(direct, t));
      for (const [name, e] of edges) {
        await eventually(
          async () => {
            try {
              const s = await e.status();
              return s.replication.state === 'streaming' && lsnOf(s.replication.appliedLsn) >= target;
            } catch {
              return false;
            }
          },
          60_000,
          `edge ${name} at upstream's position (seed ${seed})\n${e.output().slice(-4000)}\nhub:\n${hub.output().slice(-4000)}`,
        );
        const c = await connectThrough(e.port, { database: DB });
        try {
          for (const t of TABLES) {
            // A restarted edge may still be looking up the role's privileges
            // (forwarded meanwhile, correctly): wait for the read to be local.
            let got: string[][] = [];
            await eventually(
              async () => {
                got = await tableText(c, t);
                return (await lastRoute(c)) === 'local';
              },
              20_000,
              `edge ${name}: ${t} answered locally`,
            );
            const exp = want.get(t) as string[][];
            assert.equal(got.length, exp.length, `edge ${name}: ${t} row count (seed ${seed})`);
            assert.deepEqual(got, exp, `edge ${name}: ${t} differs from upstream (seed ${seed})`);
          }
        } finally {
          await c.end();
        }
      }
    } finally {
      await direct.end();
    }
    // The stream itself: every write transaction exactly once, whole, in order.
    const audit = await auditStream();
    console.log(
      `stream: ${audit.txs} transactions (${audit.changeTxs} with row changes), ${audit.heartbeats} heartbeats`,
    );
    assert.equal(audit.changeTxs, changeTxs, `write transactions in the stream vs committed (seed ${seed})`);
    assert.deepEqual(incidents, [], `the stream did not carry everything (seed ${seed})`);
    // Exactly one slot upstream (the hub's): edges' temporary copy slots are gone.
    await eventually(
      async () =>
        (
          await pg.query<{ n: string }>(
            'SELECT count(*)::text AS n FROM pg_replication_slots WHERE database = current_database()',
            [],
            DB,
          )
        ).rows[0]?.n === '1',
      15_000,
      'exactly one replication slot',
    );
    const slots = await pg.query<{ slot_name: string; temporary: boolean }>(
      'SELECT slot_name, temporary FROM pg_replication_slots',
    );
    assert.equal(slots.rows.length, 1, JSON.stringify(slots.rows));
    assert.equal(slots.rows[0]?.temporary, false);
  } finally {
    await Promise.all([...edges.values()].map((e) => e.stop()));
    await hub.stop();
  }
});
