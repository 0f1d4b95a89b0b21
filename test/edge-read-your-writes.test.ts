/**
 * Read-your-writes at the edge: upstream behind the latency relay, where a
 * write's reply and its WAL (on Outpost's replication connection) cross the
 * same delayed link and arrive about together, so every read right after a
 * write races the replica's apply. 1,000 write-then-read pairs must see
 * their write every time, and most reads must still be answered locally
 * (else the test would pass by forwarding everything).
 *
 * The relay delays 5 ms each way here, not the benchmark's 20 ms: the race is
 * the same (reply and WAL are delayed alike, whatever the delay), and 1,000
 * pairs stay within seconds.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { serializeQuery } from '../src/wire/frontend.js';
import { type Relay, spawnLatencyRelay } from './helpers/latency-relay.js';
import { eventually, lastRoute, type OutpostProcess, startOutpost } from './helpers/outpost.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';
import { bindMsg, describeMsg, executeMsg, parseMsg, RawClient, SYNC } from './helpers/wire-client.js';

const DELAY_MS = 5;
const SESSIONS = 4;
const PAIRS_PER_SESSION = 250;

let upstream: PostgresInstance;
let relay: Relay;
let outpost: OutpostProcess;
let dir: string;

before(async () => {
  upstream = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'outpost-edge-ryw-'));
  await upstream.query(
    `create table ryw_items (id bigserial primary key, session int not null, k int not null);
     create table ryw_counters (id int primary key, n int not null);
     insert into ryw_counters select g, 0 from generate_series(1, ${SESSIONS}) g`,
  );
  // A role the raw-protocol test logs in as without a password.
  const hba = `${upstream.dataDir}/pg_hba.conf`;
  writeFileSync(hba, `host all rywraw 127.0.0.1/32 trust\n${readFileSync(hba, 'utf8')}`);
  await upstream.query(
    'create role rywraw login; grant select, insert on ryw_items to rywraw; grant usage on sequence ryw_items_id_seq to rywraw; select pg_reload_conf()',
  );
  relay = await spawnLatencyRelay(upstream.port, DELAY_MS);
  outpost = await startOutpost({
    upstream: upstream.url().replace(`:${upstream.port}/`, `:${relay.port}/`),
    replica: join(dir, 'r.db'),
    args: ['--log-level', 'warn'],
  });
  await outpost.ready(120_000);
});

after(async () => {
  await outpost?.stop();
  await relay?.stop();
  await upstream?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/**
 * One session's pairs. Half its clients commit synchronously (the WAL is
 * sent at once: a tight race with the reply) and half asynchronously (the
 * WAL waits for upstream's WAL writer: the replica is surely behind when the
 * reply arrives). Pairs alternate between an INSERT … RETURNING then a
 * SELECT of that row (a stale read finds no row) and an UPDATE of a counter
 * then a SELECT of it (a stale read sees the old value), and between the
 * extended and the simple protocol.
 */
async function pairs(session: number): Promise<{ stale: string[]; local: number }> {
  const c = new pg.Client({
    host: '127.0.0.1',
    port: outpost.port,
    user: 'postgres',
    password: 'postgres',
    options: `-c synchronous_commit=${session % 2 === 0 ? 'on' : 'off'}`,
  });
  await c.connect();
  const stale: string[] = [];
  let local = 0;
  let counter = 0;
  try {
    // Until the role's privileges are known, reads are forwarded.
    await eventually(
      async () => {
        await c.query('select n from ryw_counters where id = $1', [session]);
        return (await lastRoute(c)) === 'local';
      },
      60_000,
      'a local read',
    );
    for (let i = 0; i < PAIRS_PER_SESSION; i++) {
      const extended = i % 4 < 2;
      if (i % 2 === 0) {
        const ins = extended
          ? await c.query<{ id: string }>('insert into ryw_items (session, k) values ($1, $2) returning id', [
              session,
              i,
            ])
          : await c.query<{ id: string }>(
              `insert into ryw_items (session, k) values (${session}, ${i}) returning id`,
            );
        const id = ins.rows[0]?.id;
        const r = extended
          ? await c.query<{ k: number }>('select k from ryw_items where id = $1', [id])
          : await c.query<{ k: number }>(`select k from ryw_items where id = ${id}`);
        if (r.rows.length !== 1 || r.rows[0]?.k !== i) {
          stale.push(`pair ${i}: row ${id} read as ${JSON.stringify(r.rows)}`);
        }
      } else {
        counter++;
        if (extended) await c.query('update ryw_counters set n = n + 1 where id = $1', [session]);
        else await c.query(`update ryw_counters set n = n + 1 where id = ${session}`);
        const r = extended
          ? await c.query<{ n: number }>('select n from ryw_counters where id = $1', [session])
          : await c.query<{ n: number }>(`select n from ryw_counters where id = ${session}`);
        if (r.rows[0]?.n !== counter)
          stale.push(`pair ${i}: counter read as ${r.rows[0]?.n}, wrote ${counter}`);
      }
      if ((await lastRoute(c)) === 'local') local++;
    }
  } finally {
    await c.end();
  }
  return { stale, local };
}

test(`${SESSIONS * PAIRS_PER_SESSION} write-then-read pairs through the relay: no stale read, most local`, async () => {
  const results = await Promise.all(Array.from({ length: SESSIONS }, (_, k) => pairs(k + 1)));
  const stale = results.flatMap((r, k) => r.stale.map((s) => `session ${k + 1} ${s}`));
  assert.deepEqual(stale, [], 'every read saw the write just before it');
  const local = results.reduce((n, r) => n + r.local, 0);
  const total = SESSIONS * PAIRS_PER_SESSION;
  assert.ok(local >= total / 2, `only ${local} of ${total} reads were local`);
});

const ext = (sql: string, params: string[] = []): Buffer =>
  Buffer.concat([parseMsg('', sql), bindMsg('', '', params), describeMsg('P', ''), executeMsg('')]);

test('BEGIN pipelined with a read right after a write waits for the write: read locally, sees it', async () => {
  // pgJDBC's shape: BEGIN sent in one batch with the transaction's first statement.
  const c = await RawClient.session(outpost.port, 'rywraw');
  const text = (m: { body: Buffer }) => m.body.toString('latin1');
  const pairs = 20;
  let local = 0;
  try {
    await eventually(
      async () => {
        await c.run(Buffer.concat([ext('select k from ryw_items where id = 0'), SYNC]));
        const r = await c.run(serializeQuery('show outpost.last_route'));
        return r.some((m) => m.type === 'D' && text(m).includes('local'));
      },
      60_000,
      'a local read',
    );
    for (let i = 0; i < pairs; i++) {
      const ins = await c.run(
        Buffer.concat([
          ext('insert into ryw_items (session, k) values (0, $1) returning id', [String(i)]),
          SYNC,
        ]),
      );
      const id = ins.find((m) => m.type === 'D')?.body.toString('latin1', 6);
      assert.ok(id, 'the insert returned its id');
      const tx = await c.run(
        Buffer.concat([
          ext('begin'),
          ext('select k from ryw_items where id = $1', [id]),
          ext('commit'),
          SYNC,
        ]),
      );
      const row = tx.find((m) => m.type === 'D');
      assert.equal(
        row?.body.toString('latin1', 6),
        String(i),
        `pair ${i}: the read in the transaction sees the write`,
      );
      const route = await c.run(serializeQuery('show outpost.last_route'));
      // COMMIT answered here: the transaction never went upstream.
      if (route.some((m) => m.type === 'D' && text(m).includes('local'))) local++;
    }
  } finally {
    c.close();
  }
  assert.ok(local >= pairs * 0.75, `only ${local} of ${pairs} transactions stayed local`);
});
