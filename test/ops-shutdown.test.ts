/**
 * Graceful shutdown and restart through the real `outpost` command: SIGTERM
 * while upstream writes continuously lets an in-flight forwarded statement
 * finish, refuses new clients, leaves only whole upstream transactions in the
 * replica, acknowledges exactly the replica's position to the slot and exits
 * 0; a restart on the same file catches up to an exact copy. SIGINT the same.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { parseLsn } from '../src/replication/lsn.js';
import { eventually, type OutpostProcess, startOutpost } from './helpers/outpost.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';
import { byPgNames } from './helpers/replica-views.js';

const ROWS_PER_TX = 20;

let upstream: PostgresInstance;
let dir: string;
let replicaPath: string;

before(async () => {
  upstream = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'outpost-ops-shutdown-'));
  replicaPath = join(dir, 'replica.db');
  await upstream.query(`
    create table w (id bigserial primary key, batch int not null, v int not null, note text);
    create table counter (id int primary key, n int not null);
    insert into counter values (1, 0);
  `);
});

after(async () => {
  await upstream?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/**
 * Writes upstream until stopped: each transaction inserts ROWS_PER_TX rows
 * tagged with its batch number, bumps the counter once, and now and then
 * updates and deletes older rows, so a replica holding half a transaction
 * shows.
 */
function startWriter(): { stop: () => Promise<number> } {
  let running = true;
  let batches = 0;
  const done = (async () => {
    const c = await upstream.connect();
    try {
      while (running) {
        const b = ++batches;
        const extra =
          b % 7 === 0
            ? `update w set v = v + 1000, note = note || '*' where batch = ${b - 3};
               delete from w where batch = ${b - 5} and v % 4 = 0;`
            : '';
        await c.query(
          `begin;
           insert into w (batch, v, note) select ${b}, g, md5((${b} * 100 + g)::text) from generate_series(1, ${ROWS_PER_TX}) g;
           ${extra}
           update counter set n = n + 1 where id = 1;
           commit;`,
        );
      }
    } finally {
      await c.end();
    }
    return batches;
  })();
  return {
    stop: async () => {
      running = false;
      return done;
    },
  };
}

/** The replica file, read directly (WAL mode: fine while Outpost runs). */
function readReplica<T>(fn: (db: Database.Database) => T): T {
  const db = new Database(replicaPath, { readonly: true, fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

function replicaMeta(key: string): string | undefined {
  return readReplica(
    (db) =>
      (db.prepare('select value from _outpost_meta where key = ?').get(key) as { value: string } | undefined)
        ?.value,
  );
}

/** Every row of w and the counter, as comparable text, from the replica. */
function replicaContents(): { rows: string[]; counter: number } {
  return readReplica((db) => {
    const rows = (
      byPgNames(db).prepare('select id, batch, v, note from "public.w" order by id').all() as Array<{
        id: number;
        batch: number;
        v: number;
        note: string;
      }>
    ).map((r) => `${r.id}|${r.batch}|${r.v}|${r.note}`);
    const counter = (
      byPgNames(db).prepare('select n from "public.counter" where id = 1').get() as { n: number }
    ).n;
    return { rows, counter };
  });
}

async function upstreamContents(): Promise<{ rows: string[]; counter: number }> {
  const r = await upstream.query<{ id: string; batch: number; v: number; note: string }>(
    'select id, batch, v, note from w order by id',
  );
  const n = await upstream.query<{ n: number }>('select n from counter where id = 1');
  return {
    rows: r.rows.map((x) => `${x.id}|${x.batch}|${x.v}|${x.note}`),
    counter: n.rows[0]?.n as number,
  };
}

/** No transaction is in the replica by halves: every batch's inserts, and one counter bump per batch. */
function assertWholeTransactions(): void {
  readReplica((db) => {
    const batches = byPgNames(db).prepare('select count(distinct batch) as n from "public.w"').get() as {
      n: number;
    };
    const counter = (
      byPgNames(db).prepare('select n from "public.counter" where id = 1').get() as { n: number }
    ).n;
    // Deletes remove rows, never whole batches (v % 4 = 0 is 5 of 20), so
    // every batch committed so far is present.
    assert.equal(batches.n, counter, 'one counter bump per batch present');
    const maxBatch = (
      byPgNames(db).prepare('select coalesce(max(batch), 0) as m from "public.w"').get() as { m: number }
    ).m;
    assert.equal(maxBatch, counter, 'batches are 1..counter');
    const partial = byPgNames(db)
      .prepare(
        `select batch, count(*) as n from "public.w" group by batch
          having count(*) not in (${ROWS_PER_TX}, ${ROWS_PER_TX - 5})`,
      )
      .all();
    assert.deepEqual(partial, [], 'batches with a partial set of rows');
  });
}

/** The slot's confirmed_flush_lsn once its walsender has gone, and the replica's applied_lsn. */
async function positions(): Promise<{ confirmed: bigint; applied: bigint }> {
  const slot = replicaMeta('slot') as string;
  let confirmed = '';
  await eventually(
    async () => {
      const r = await upstream.query<{ active: boolean; confirmed: string }>(
        'select active, confirmed_flush_lsn::text as confirmed from pg_replication_slots where slot_name = $1',
        [slot],
      );
      confirmed = r.rows[0]?.confirmed ?? '';
      return r.rows[0]?.active === false;
    },
    10_000,
    'the slot to be released',
  );
  return { confirmed: parseLsn(confirmed), applied: parseLsn(replicaMeta('applied_lsn') as string) };
}

async function proxyClient(port: number): Promise<pg.Client> {
  const c = new pg.Client({
    host: '127.0.0.1',
    port,
    user: 'postgres',
    password: 'postgres',
    database: 'postgres',
  });
  c.on('error', () => {});
  await c.connect();
  return c;
}

test('SIGTERM mid-stream: in-flight statement answered, whole transactions, slot = replica position; restart catches up exactly', async (t) => {
  let outpost: OutpostProcess | undefined = await startOutpost({
    upstream: upstream.url(),
    replica: replicaPath,
  });
  const writer = startWriter();
  try {
    await outpost.ready();
    // Replication is busy applying the writer's transactions.
    await eventually(async () => replicaContents().counter >= 50, 30_000, 'the replica to follow the writer');

    const client = await proxyClient(outpost.port);
    const started = Date.now();
    const slow = client.query<{ answer: number }>('select pg_sleep(1), 42 as answer');
    await new Promise((r) => setTimeout(r, 300));
    const signalledAt = Date.now();
    const exit = outpost.stop('SIGTERM');
    // Not accepting new clients any more (the listener closes at once).
    await new Promise((r) => setTimeout(r, 150));
    await assert.rejects(proxyClient(outpost.port), 'a new client during shutdown is refused');
    const result = await slow;
    assert.equal(result.rows[0]?.answer, 42, 'the in-flight statement got its result');
    assert.ok(Date.now() - started >= 1000);
    assert.equal(await exit, 0, `exit code 0:\n${outpost.output()}`);
    t.diagnostic(`SIGTERM to exit: ${Date.now() - signalledAt} ms`);
    outpost = undefined;
    await client.end().catch(() => {});

    assertWholeTransactions();
    const first = await positions();
    assert.equal(first.confirmed, first.applied, "slot's confirmed_flush_lsn = replica's applied_lsn");
    const stoppedAt = replicaContents().counter;
    assert.ok(stoppedAt >= 50);

    // Upstream moves on while Outpost is down; then a restart on the same file.
    await new Promise((r) => setTimeout(r, 500));
    outpost = await startOutpost({ upstream: upstream.url(), replica: replicaPath });
    await outpost.ready();
    await new Promise((r) => setTimeout(r, 1000));
    const batches = await writer.stop();
    t.diagnostic(`writer transactions: ${batches}, at the first stop: ${stoppedAt}`);
    assert.ok(batches > stoppedAt, 'the writer went on after the first stop');

    const expected = await upstreamContents();
    assert.equal(expected.counter, batches);
    await eventually(async () => replicaContents().counter === batches, 30_000, 'the replica to catch up');
    // Later transactions may still be applying the deletes/updates of the last batch: compare once equal.
    await eventually(
      async () => {
        const got = replicaContents();
        return got.rows.length === expected.rows.length && got.counter === expected.counter;
      },
      10_000,
      'row counts to match',
    );
    const got = replicaContents();
    assert.equal(got.rows.length, expected.rows.length, 'row count');
    assert.deepEqual(got, expected, 'replica equals upstream, row by row');

    // SIGINT is a graceful stop too.
    const code = await outpost.stop('SIGINT');
    assert.equal(code, 0, outpost.output());
    const out = outpost.output();
    outpost = undefined;
    assert.match(out, /"signal":"SIGINT".*"msg":"shutting down"/);
    assert.match(out, /"msg":"replication stopped"/);
    const second = await positions();
    assert.equal(
      second.confirmed,
      second.applied,
      "after SIGINT too, slot's confirmed_flush_lsn = applied_lsn",
    );
    assert.ok(second.applied > first.applied);
  } finally {
    await writer.stop().catch(() => {});
    await outpost?.stop('SIGKILL');
  }
});

test('SIGTERM during the initial snapshot: exits 0 at once; the restart copies everything', async (t) => {
  const ROWS = 400_000;
  await upstream.query('create database snapstop');
  await upstream.query(
    `create table big (id int primary key, a text, b text);
     insert into big select g, md5(g::text), md5((g * 7)::text) from generate_series(1, ${ROWS}) g;`,
    [],
    'snapstop',
  );
  const path = join(dir, 'snapstop.db');
  let outpost: OutpostProcess | undefined = await startOutpost({
    upstream: upstream.url({ database: 'snapstop' }),
    replica: path,
  });
  try {
    let copying: Record<string, unknown> | undefined;
    await eventually(
      async () => {
        const s = await outpost?.status().catch(() => undefined);
        const snap = s?.snapshot as Record<string, unknown> | undefined;
        if (snap?.state === 'copying' && (snap.rows as number) > 0) copying = snap;
        return copying !== undefined || snap?.state === 'complete';
      },
      60_000,
      'the snapshot to be copying',
    );
    assert.ok(copying, 'seen copying');
    assert.ok((copying.rows as number) < ROWS);
    const signalledAt = Date.now();
    assert.equal(await outpost.stop('SIGTERM'), 0, outpost.output());
    t.diagnostic(`SIGTERM to exit mid-snapshot: ${Date.now() - signalledAt} ms`);
    assert.ok(Date.now() - signalledAt < 5_000, 'the copy is abandoned, not finished');
    outpost = undefined;
    const state = new Database(path, { readonly: true });
    try {
      const row = state.prepare("select value from _outpost_meta where key = 'snapshot_state'").get() as
        | { value: string }
        | undefined;
      assert.equal(row?.value, 'copying', 'the interrupted snapshot is recorded as such');
    } finally {
      state.close();
    }

    outpost = await startOutpost({ upstream: upstream.url({ database: 'snapstop' }), replica: path });
    await outpost.ready(120_000);
    const s = await outpost.status();
    assert.deepEqual(
      [(s.snapshot as Record<string, unknown>).state, (s.snapshot as Record<string, unknown>).rows],
      ['complete', ROWS],
    );
    assert.equal(await outpost.stop('SIGTERM'), 0);
    outpost = undefined;
    // One slot: the interrupted snapshot's was dropped.
    const slots = await upstream.query<{ n: string }>(
      "select count(*)::text as n from pg_replication_slots where database = 'snapstop'",
    );
    assert.equal(slots.rows[0]?.n, '1');
  } finally {
    await outpost?.stop('SIGKILL');
  }
});
