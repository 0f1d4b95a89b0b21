/**
 * Issue 18's chaos target, audited: under a steady write load (small
 * transactions of inserts, updates and deletes, out-of-line TOAST values left
 * unchanged by later updates, and multi-part transactions over 512 KiB),
 * SIGKILL the hub and random edges at random points (some aimed just after a
 * multi-part commit: the hub mid-publish, an edge mid-apply; the hub and an
 * edge together), restart NATS once (SIGKILL), and let a third edge join
 * mid-chaos from the object store. Afterwards every edge holds exactly
 * upstream's rows (every table, as PG text, answered locally through the
 * edge), the stream holds every write transaction once, whole and in order,
 * no process logged that the stream failed to carry something, and upstream
 * has exactly one replication slot. Real Postgres, real nats-server, the hub
 * and the edges as real `outpost` processes (dist/cli.js).
 *
 * The schedule comes from a seeded PRNG, printed: OUTPOST_CHAOS_SEED=<n> replays one.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Client } from 'pg';
import { parseLsn } from '../src/replication/lsn.js';
import { type NatsCluster, startCluster } from './helpers/nats-cluster.js';
import { changesRows, readStream, transactions } from './helpers/nats-stream.js';
import { connectThrough, localQuery, type OutpostProcess } from './helpers/outpost.js';
import { prng } from './helpers/prng.js';
import { waitFor } from './helpers/wait.js';

let cluster: NatsCluster;

before(async () => {
  cluster = await startCluster({
    db: 'chaos',
    stream: 'CHAOS',
    setup: `CREATE TABLE acct (id int PRIMARY KEY, bal bigint NOT NULL, note text, touched timestamptz);
      INSERT INTO acct SELECT g, 1000, 'acct ' || g, '2024-01-01 00:00:00+00' FROM generate_series(1, 200) g;
      CREATE TABLE events (id bigint PRIMARY KEY, acct int NOT NULL, amount numeric(12,2), meta jsonb);
      CREATE TABLE blobs (id int PRIMARY KEY, batch int NOT NULL, data text, raw bytea);`,
  });
});

after(async () => {
  await cluster?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TABLES = ['acct', 'events', 'blobs'] as const;
/** Every column as upstream's text (no client-side parsing), ordered by key. */
const textTypes = { getTypeParser: () => (v: string) => v };
const tableQuery = (table: string) => ({
  text: `SELECT * FROM ${table} ORDER BY id`,
  rowMode: 'array' as const,
  types: textTypes,
});

/** Object-store snapshots during the chaos too: the late edge bootstraps from one. */
const HUB_ARGS = ['--snapshot-interval', '2'];

test('chaos: SIGKILL hub and edges under writes (multi-part txs too), NATS once: edges end identical, stream whole, one slot', async () => {
  const seed = Number(process.env.OUTPOST_CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));
  console.log(`chaos seed ${seed} (OUTPOST_CHAOS_SEED=${seed} replays it)`);
  const rnd = prng(seed);
  const pick = (n: number) => Math.floor(rnd() * n);
  const { nats } = cluster;

  let hub = await cluster.startHub({ args: HUB_ARGS });
  const edges = new Map<string, OutpostProcess>();
  const log: string[] = [];
  let writing = true;
  let writer: Promise<void> = Promise.resolve();
  try {
    // Two edges from the start; the third joins mid-chaos (object-store snapshot or its own).
    for (const n of ['a', 'b']) edges.set(n, await cluster.startEdge(n));
    await Promise.all([...edges.values()].map((e) => e.ready(120_000)));

    let txs = 0;
    let bigTxs = 0;
    let changeTxs = 0;
    // Resolved when the next multi-part transaction commits (or the writer fails): some kills
    // aim at the moment its parts are being published (hub) or applied (edge).
    let bigCommitted: () => void = () => {};
    const nextBig = () =>
      new Promise<void>((resolve) => {
        bigCommitted = resolve;
      });
    const wrnd = prng(seed ^ 0x5eed);
    writer = (async () => {
      const w = await cluster.pg.connect({ database: cluster.db });
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
              if (kind < 0.5) {
                eventId++;
                await q(
                  `INSERT INTO events VALUES ($1, $2, $3::numeric / 100, jsonb_build_object('tx', $4::int, 'k', $5::text))`,
                  [eventId, acct, amount, txs, `e${eventId}`],
                );
                // Leaves a TOASTed note as it is: pgoutput sends it as unchanged, the edge keeps its copy.
                await q('UPDATE acct SET bal = bal + $2, touched = now() WHERE id = $1', [acct, amount]);
              } else if (kind < 0.55) {
                // ~4 KB of hex that does not compress: stored out of line (TOAST).
                await q(
                  `UPDATE acct SET note = (SELECT string_agg(md5($2::text || g), '') FROM generate_series(1, 120) g)
                    WHERE id = $1`,
                  [acct, txs],
                );
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
      bigCommitted();
    });

    // The chaos: 10 events at random moments; NATS is SIGKILLed once, somewhere in the middle.
    const natsAt = [3, 5, 6, 8][pick(4)] as number;
    for (let i = 0; i < 10; i++) {
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
        edges.set('c', await cluster.startEdge('c'));
        continue;
      }
      const victims = ['hub', 'hub+edge', ...edges.keys()];
      // Events 4 and 7 go for the hub and an edge while a multi-part transaction is in flight.
      const victim = (i === 4 ? 'hub' : i === 7 ? 'b' : victims[pick(victims.length)]) as string;
      const downMs = pick(1500);
      if (i === 4 || i === 7) {
        await nextBig();
        if (writerFailed) throw writerFailed;
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
        hub = await cluster.startHub({ args: HUB_ARGS });
        edges.set(name, await cluster.startEdge(name));
      } else if (victim === 'hub') {
        assert.equal(await hub.stop('SIGKILL'), 'SIGKILL');
        await sleep(downMs);
        hub = await cluster.startHub({ args: HUB_ARGS });
      } else {
        const e = edges.get(victim) as OutpostProcess;
        assert.equal(await e.stop('SIGKILL'), 'SIGKILL');
        await sleep(downMs);
        edges.set(victim, await cluster.startEdge(victim));
      }
    }
    writing = false;
    await writer;
    console.log(`chaos schedule: ${log.join('; ')}; ${txs} write transactions (${bigTxs} multi-part)`);
    assert.ok(bigTxs >= 1, `no multi-part transaction was written (${txs} transactions)`);

    // Quiet now: every edge reaches upstream's position and holds exactly its rows.
    const target = await cluster.currentLsn();
    const direct = await cluster.pg.connect({ database: cluster.db });
    try {
      const want = new Map<string, string[][]>();
      for (const t of TABLES) want.set(t, (await direct.query(tableQuery(t))).rows);
      for (const [name, e] of edges) {
        // A 2-core CI machine replays the whole chaos on three edges at once: a generous bound.
        await waitFor(
          `edge ${name} at upstream's position (seed ${seed})\n${e.output().slice(-4000)}\nhub:\n${hub.output().slice(-4000)}`,
          async () => {
            const s = await e.status().catch(() => undefined);
            return (
              s?.replication.state === 'streaming' && parseLsn(String(s.replication.appliedLsn)) >= target
            );
          },
          180_000,
        );
        const c: Client = await connectThrough(e.port, { database: cluster.db });
        try {
          for (const t of TABLES) {
            const got = (await localQuery(c, tableQuery(t))).rows as string[][];
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
    const nc = await cluster.connectNats();
    try {
      const msgs = await readStream(nc, cluster.stream);
      const streamTxs = transactions(msgs);
      const withChanges = streamTxs.filter(changesRows).length;
      const heartbeats = msgs.filter((m) => m.header.kind === 'hb').length;
      console.log(
        `stream: ${streamTxs.length} transactions (${withChanges} with row changes), ${heartbeats} heartbeats`,
      );
      assert.equal(withChanges, changeTxs, `write transactions in the stream vs committed (seed ${seed})`);
    } finally {
      await nc.close();
    }
    assert.deepEqual(cluster.incidents, [], `the stream did not carry everything (seed ${seed})`);

    // Exactly one slot upstream, the hub's: the edges' temporary copy slots are gone with their copies.
    const slots = await waitFor(
      'exactly one replication slot',
      async () => {
        const s = await cluster.slots();
        return s.length === 1 ? s : undefined;
      },
      30_000,
    );
    assert.equal(slots[0]?.temporary, false, JSON.stringify(slots));
  } finally {
    writing = false;
    await writer.catch(() => {});
    await Promise.all([...edges.values()].map((e) => e.stop()));
    await hub.stop();
  }
});
