/**
 * Chaos for the fan-out (issue 18): the hub (`outpost publish`) and edges
 * (`outpost --nats`) as real processes, SIGKILLed at random moments while
 * upstream writes, NATS restarted once, object-store snapshots published
 * meanwhile; at the end every edge's replica holds exactly upstream's rows
 * (nothing lost, nothing applied twice). Real Postgres, real nats-server.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { type NatsInstance, startNats } from './helpers/nats.js';
import { CLI, type OutpostProcess, startOutpost } from './helpers/outpost.js';
import { freePort, type PostgresInstance, startPostgres } from './helpers/postgres.js';
import { prng } from './helpers/prng.js';
import { byPgNames } from './helpers/replica-views.js';

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

function spawnHub(replica: string, http: number): ChildProcess {
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
      replica,
      '--http',
      `127.0.0.1:${http}`,
      '--snapshot-interval',
      '2',
      '--log-level',
      'warn',
    ],
    { stdio: ['ignore', 'ignore', 'ignore'] },
  );
  const kill = () => proc.kill('SIGKILL');
  process.once('exit', kill);
  proc.once('exit', () => process.removeListener('exit', kill));
  return proc;
}

function killed(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  proc.kill('SIGKILL');
  return exited;
}

function edge(name: string): Promise<OutpostProcess> {
  return startOutpost({
    upstream: pg.url({ database: DB }),
    replica: join(dir, `${name}.db`),
    args: [
      '--nats',
      nats.url,
      '--stream',
      STREAM,
      '--nats-consumer',
      name,
      '--workers',
      '0',
      '--log-level',
      'warn',
    ],
  });
}

const TABLES = ['acct', 'ledger'];

async function upstreamState(): Promise<string> {
  const out: unknown[] = [];
  for (const t of TABLES) out.push((await pg.query(`SELECT * FROM ${t} ORDER BY id`, [], DB)).rows);
  return JSON.stringify(out);
}

function replicaState(path: string): string {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const v = byPgNames(db);
    return JSON.stringify(TABLES.map((t) => v.prepare(`SELECT * FROM "public.${t}" ORDER BY id`).all()));
  } catch {
    return 'unreadable';
  } finally {
    db.close();
  }
}

test('SIGKILL the hub and random edges under writes, restart NATS once: every edge ends identical to upstream', async () => {
  await pg.query(`CREATE DATABASE ${DB}`);
  await pg.query(
    `CREATE TABLE acct (id int PRIMARY KEY, bal int NOT NULL, note text);
     CREATE TABLE ledger (id int PRIMARY KEY, acct int NOT NULL, amt int NOT NULL);
     INSERT INTO acct SELECT g, 1000, 'acct ' || g FROM generate_series(1, 200) g;`,
    [],
    DB,
  );
  const rnd = prng(18);
  const pick = (n: number) => Math.floor(rnd() * n);
  const hubReplica = join(dir, 'hub.db');
  const hubHttp = await freePort();
  let hub = spawnHub(hubReplica, hubHttp);
  const names = ['e0', 'e1', 'e2'];
  const edges: OutpostProcess[] = [];
  for (const n of names) edges.push(await edge(n));
  let writing = true;
  let commits = 0;
  const writer = (async () => {
    const c = await pg.connect({ database: DB });
    let next = 1;
    try {
      while (writing) {
        const a = 1 + pick(200);
        const b = 1 + pick(200);
        const amt = 1 + pick(50);
        // Multi-statement transactions: a partial apply would show as a wrong balance or a missing ledger row.
        await c.query('BEGIN');
        await c.query('UPDATE acct SET bal = bal - $2 WHERE id = $1', [a, amt]);
        await c.query('UPDATE acct SET bal = bal + $2 WHERE id = $1', [b, amt]);
        await c.query('INSERT INTO ledger VALUES ($1, $2, $3), ($4, $5, $6)', [
          next,
          a,
          -amt,
          next + 1,
          b,
          amt,
        ]);
        if (pick(10) === 0) await c.query('DELETE FROM ledger WHERE id = $1', [1 + pick(next + 1)]);
        if (pick(20) === 0) await c.query(`UPDATE acct SET note = repeat('n', 3000) WHERE id = $1`, [a]);
        await c.query('COMMIT');
        next += 2;
        commits++;
        if (pick(4) === 0) await sleep(pick(5));
      }
    } finally {
      await c.end();
    }
  })();
  try {
    await Promise.all(edges.map((e) => e.ready(120_000)));
    const rounds = 10;
    for (let round = 0; round < rounds; round++) {
      await sleep(300 + pick(1200));
      const what = round === Math.floor(rounds / 2) ? 3 : pick(3);
      if (what === 0) {
        await killed(hub);
        await sleep(pick(500));
        hub = spawnHub(hubReplica, hubHttp);
      } else if (what === 1) {
        const i = pick(edges.length);
        await edges[i]?.stop('SIGKILL');
        await sleep(pick(500));
        edges[i] = await edge(names[i] as string);
      } else if (what === 2) {
        // Both at once.
        const i = pick(edges.length);
        await Promise.all([killed(hub), edges[i]?.stop('SIGKILL')]);
        hub = spawnHub(hubReplica, hubHttp);
        edges[i] = await edge(names[i] as string);
      } else {
        await nats.kill();
        await sleep(500 + pick(1000));
        await nats.restart();
      }
    }
    writing = false;
    await writer;
    assert.ok(commits > 50, `upstream committed ${commits} transactions`);
    const want = await upstreamState();
    const deadline = Date.now() + 120_000;
    for (const [i, n] of names.entries()) {
      for (;;) {
        const got = replicaState(join(dir, `${n}.db`));
        if (got === want) break;
        if (Date.now() > deadline) {
          assert.equal(got, want, `edge ${n} differs from upstream:\n${edges[i]?.output().slice(-3000)}`);
        }
        await sleep(200);
      }
    }
    // Still exactly one slot upstream: the hub's.
    const slots = await pg.query<{ n: string }>(
      'SELECT count(*) AS n FROM pg_replication_slots WHERE database = $1',
      [DB],
    );
    assert.equal(slots.rows[0]?.n, '1');
  } finally {
    writing = false;
    await writer.catch(() => {});
    await Promise.all(edges.map((e) => e.stop().catch(() => {})));
    await killed(hub);
  }
});
