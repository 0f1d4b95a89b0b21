import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { silentLogger } from '../src/log.js';
import { createMetrics } from '../src/metrics.js';
import { ReplicaStore } from '../src/replica/store.js';
import { ReplicationEngine } from '../src/replication/engine.js';
import { formatLsn, parseLsn } from '../src/replication/lsn.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';
import { byPgNames } from './helpers/replica-views.js';
import { waitFor } from './helpers/wait.js';

let pg: PostgresInstance;
let dir: string;

before(async () => {
  pg = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'outpost-repl-'));
});

after(async () => {
  await pg?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function engineFor(store: ReplicaStore, db: string, extra: { slot?: string } = {}) {
  const metrics = createMetrics();
  const engine = new ReplicationEngine({
    upstreamUrl: pg.url({ database: db }),
    store,
    logger: silentLogger(),
    metrics,
    ...extra,
  });
  return { engine, metrics };
}

async function newDatabase(name: string): Promise<void> {
  await pg.query(`CREATE DATABASE ${name}`);
}

/** Rows of a replica table, int8 as BigInt. */
function replicaRows(store: ReplicaStore, table: string, order = 'id'): Record<string, unknown>[] {
  return byPgNames(store.reader)
    .prepare(`SELECT * FROM "${table}" ORDER BY ${order}`)
    .safeIntegers(true)
    .all() as Record<string, unknown>[];
}

test('snapshot then streaming: values follow the storage table, changes and transactions apply', async () => {
  await newDatabase('e2e');
  await pg.query(
    `CREATE TABLE public.t (
       id int4 PRIMARY KEY, s int2, b int8, txt text, vc varchar(20), flag bool,
       f float8, n numeric, d date, ts timestamptz
     );
     -- Without a key: replicated only with a replica identity (else forwarded, publication.ts).
     CREATE TABLE public.nokey (a int, b text);
     ALTER TABLE public.nokey REPLICA IDENTITY FULL;
     INSERT INTO t VALUES
       (1, -32768, 9223372036854775807, 'hello', 'v', true, 1.5, 123.4500, '2024-01-31', '2024-01-31 12:34:56.789012+00'),
       (2, 32767, -9223372036854775808, 'tab\there', 'x', false, 0.1, 1e-20, '0044-03-15 BC', '2000-01-01 00:00:00+00'),
       (3, 0, -1, '', '', null, 1e300, 'NaN', 'infinity', '1999-12-31 23:59:59.5+00'),
       (4, null, null, null, null, null, '-0', null, null, null),
       (5, 1, 1, 'ünïcødé ✓', 'y', true, 'NaN', '-0.000', '2024-02-29', '2024-06-01 10:00:00+02'),
       (6, 1, 1, 'a', 'b', true, 'Infinity', 'Infinity', null, null),
       (7, 1, 1, 'a', 'b', true, '-Infinity', '-1.5', null, null);
     INSERT INTO nokey VALUES (1, 'x'), (1, 'x');`,
    [],
    'e2e',
  );
  const path = join(dir, 'e2e.db');
  const store = ReplicaStore.open(path);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  const { engine, metrics } = engineFor(store, 'e2e');
  const applied: bigint[] = [];
  engine.on('applied', (lsn) => applied.push(lsn));
  try {
    await engine.start();
    const st = engine.status();
    assert.equal(st.state, 'streaming');
    assert.match(st.slot, /^outpost_[0-9a-f]{12}$/);
    assert.equal(st.publication, 'outpost');
    const snap = st.snapshot;
    assert.deepEqual(
      {
        tables: snap?.tables,
        tablesDone: snap?.tablesDone,
        rows: snap?.rows,
        estimatedRows: snap?.estimatedRows,
      },
      { tables: 2, tablesDone: 2, rows: 9, estimatedRows: 9 },
    );
    assert.equal(store.snapshotComplete(), true);
    assert.equal(metrics.snapshotRows.get(), 9);

    // Catalog.
    const t = store.findTable('public', 't');
    assert.ok(t);
    assert.equal(t.sqliteName, `t${t.oid}`);
    assert.deepEqual(
      t.columns.map((c) => [c.name, c.attnum, c.typeName, c.typlen, c.keyPosition, c.primaryKey]),
      [
        ['id', 1, 'int4', 4, 1, true],
        ['s', 2, 'int2', 2, null, false],
        ['b', 3, 'int8', 8, null, false],
        ['txt', 4, 'text', -1, null, false],
        ['vc', 5, 'varchar', -1, null, false],
        ['flag', 6, 'bool', 1, null, false],
        ['f', 7, 'float8', 8, null, false],
        ['n', 8, 'numeric', -1, null, false],
        ['d', 9, 'date', 4, null, false],
        ['ts', 10, 'timestamptz', 8, null, false],
      ],
    );
    assert.equal(t.columns[4]?.typmod, 24);
    assert.deepEqual(
      t.columns.map((c) => c.collation),
      [
        undefined,
        undefined,
        undefined,
        'default',
        'default',
        undefined,
        undefined,
        undefined,
        undefined,
        undefined,
      ],
    );
    const decl = store.reader.prepare(`SELECT name, type FROM pragma_table_info(?)`).all(t.sqliteName);
    assert.deepEqual(
      decl.map((r) => (r as { name: string }).name),
      t.columns.map((c) => `a${c.attnum}`),
    );
    assert.deepEqual(
      decl.map((r) => (r as { type: string }).type),
      ['INTEGER', 'INTEGER', 'INTEGER', 'TEXT', 'TEXT', 'INTEGER', 'BLOB', 'TEXT', 'TEXT', 'TEXT'],
    );

    // Stored values from the snapshot.
    const rows = replicaRows(store, 'public.t');
    assert.deepEqual(rows[0], {
      id: 1n,
      s: -32768n,
      b: 9223372036854775807n,
      txt: 'hello',
      vc: 'v',
      flag: 1n,
      f: 1.5,
      n: '123.4500',
      d: '2024-01-31',
      ts: '2024-01-31 12:34:56.789012+00',
    });
    assert.equal(rows[1]?.b, -9223372036854775808n);
    assert.equal(rows[1]?.txt, 'tab\there');
    assert.equal(rows[1]?.flag, 0n);
    assert.equal(rows[1]?.f, 0.1);
    assert.equal(rows[1]?.n, '0.00000000000000000001');
    assert.equal(rows[1]?.d, '0044-03-15 BC');
    assert.equal(rows[2]?.f, 1e300);
    assert.equal(rows[2]?.n, 'NaN');
    assert.equal(rows[2]?.d, 'infinity');
    assert.equal(rows[2]?.ts, '1999-12-31 23:59:59.5+00');
    assert.equal(rows[2]?.flag, null);
    assert.equal(rows[3]?.f, '-0'); // TEXT: a REAL column would turn -0 into 0 (see type-storage.ts)
    assert.equal(rows[3]?.s, null);
    assert.equal(rows[4]?.txt, 'ünïcødé ✓');
    assert.equal(rows[4]?.f, 'NaN');
    assert.equal(rows[4]?.n, '0.000');
    assert.equal(rows[4]?.ts, '2024-06-01 08:00:00+00');
    assert.equal(rows[5]?.f, Number.POSITIVE_INFINITY);
    assert.equal(rows[5]?.n, 'Infinity');
    assert.equal(rows[6]?.f, Number.NEGATIVE_INFINITY);
    assert.equal(replicaRows(store, 'public.nokey', 'a').length, 2);

    // Streaming: the same values through pgoutput must be stored identically.
    const c = await pg.connect({ database: 'e2e' });
    try {
      await c.query(`CREATE TABLE t_copy (LIKE t INCLUDING ALL)`);
      await c.query(`INSERT INTO t_copy SELECT * FROM t`);
      await waitFor(
        't_copy',
        () => store.findTable('public', 't_copy') && replicaRows(store, 'public.t_copy').length === 7,
      );
      const streamed = replicaRows(store, 'public.t_copy');
      assert.deepEqual(streamed, replicaRows(store, 'public.t'));
      const tc = store.findTable('public', 't_copy');
      assert.deepEqual(
        tc?.columns.map((col) => [
          col.name,
          col.attnum,
          col.typeName,
          col.typlen,
          col.typmod,
          col.keyPosition,
        ]),
        t.columns.map((col) => [col.name, col.attnum, col.typeName, col.typlen, col.typmod, col.keyPosition]),
      );

      // One multi-statement transaction, applied atomically with its LSN.
      // Insert positions: pg_current_wal_lsn() is the write position, which may lag the commit record
      // when synchronous_commit is off.
      const before = parseLsn((await c.query('SELECT pg_current_wal_insert_lsn()::text AS l')).rows[0].l);
      const seen: Array<{ lsn: bigint; count: number; stored: bigint }> = [];
      const listener = (lsn: bigint) => {
        const count = (
          byPgNames(store.reader).prepare('SELECT count(*) AS n FROM "public.t" WHERE id >= 100').get() as {
            n: number;
          }
        ).n;
        seen.push({ lsn, count, stored: store.appliedLsn() });
      };
      engine.on('applied', listener);
      await c.query('BEGIN');
      await c.query(`INSERT INTO t (id, txt) VALUES (100, 'a'), (101, 'b')`);
      await c.query(`UPDATE t SET txt = 'changed', f = 2.25 WHERE id = 1`);
      await c.query(`DELETE FROM t WHERE id = 2`);
      await c.query(`INSERT INTO t (id, txt) VALUES (102, 'c')`);
      await c.query('COMMIT');
      const afterCommit = parseLsn(
        (await c.query('SELECT pg_current_wal_insert_lsn()::text AS l')).rows[0].l,
      );
      await waitFor('transaction', () => seen.some((s) => s.count > 0));
      engine.removeListener('applied', listener);
      for (const s of seen)
        assert.ok(s.count === 0 || s.count === 3, `partial transaction visible: ${s.count}`);
      const first = seen.find((s) => s.count === 3)!;
      assert.equal(first.stored, first.lsn, 'applied_lsn stored with the transaction');
      assert.ok(first.lsn > before && first.lsn <= afterCommit, `${formatLsn(first.lsn)} within the commit`);
      const after = replicaRows(store, 'public.t');
      assert.deepEqual(
        after.map((r) => r.id),
        [1n, 3n, 4n, 5n, 6n, 7n, 100n, 101n, 102n],
      );
      assert.equal(after[0]?.txt, 'changed');
      assert.equal(after[0]?.f, 2.25);
      assert.equal(after[0]?.b, 9223372036854775807n, 'untouched columns kept');

      // Primary key change: located by the old key.
      await c.query(`UPDATE t SET id = 200 WHERE id = 100`);
      // REPLICA IDENTITY FULL without a key: duplicates, NULLs.
      await c.query(`INSERT INTO nokey VALUES (null, 'n')`);
      await c.query(`UPDATE nokey SET b = 'y' WHERE ctid = (SELECT min(ctid) FROM nokey WHERE a = 1)`);
      await c.query(`DELETE FROM nokey WHERE a IS NULL`);
      // TOAST: a large out-of-line value not touched by an update stays.
      const big = 'z'.repeat(100_000);
      await c.query(`ALTER TABLE t ALTER COLUMN txt SET STORAGE EXTERNAL`);
      await c.query(`INSERT INTO t (id, txt, s) VALUES (300, $1, 1)`, [big]);
      await c.query(`UPDATE t SET s = 2 WHERE id = 300`);
      await c.query(`TRUNCATE t_copy`);
      await waitFor('changes', async () => {
        const r = byPgNames(store.reader).prepare(`SELECT s FROM "public.t" WHERE id = 300`).get() as
          | { s: number }
          | undefined;
        return r?.s === 2 && replicaRows(store, 'public.t_copy').length === 0;
      });
      const r300 = byPgNames(store.reader).prepare(`SELECT txt FROM "public.t" WHERE id = 300`).get() as {
        txt: string;
      };
      assert.equal(r300.txt, big);
      assert.ok(byPgNames(store.reader).prepare(`SELECT 1 FROM "public.t" WHERE id = 200`).get());
      assert.ok(!byPgNames(store.reader).prepare(`SELECT 1 FROM "public.t" WHERE id = 100`).get());
      assert.deepEqual(
        byPgNames(store.reader).prepare(`SELECT a, b FROM "public.nokey" ORDER BY b`).raw().all(),
        [
          [1, 'x'],
          [1, 'y'],
        ],
      );
      assert.ok(metrics.transactionsApplied.get() > 0);
      // t_copy's rows may come with its resync copy (a new table) rather than as inserts.
      assert.ok(metrics.changesApplied.get({ kind: 'insert' }) >= 5);
      assert.equal(metrics.changesApplied.get({ kind: 'truncate' }), 1);

      // Schema change: a new column.
      await c.query(`ALTER TABLE t ADD COLUMN extra text`);
      await c.query(`UPDATE t SET extra = 'e' WHERE id = 1`);
      await waitFor('extra', () => {
        const tt = store.findTable('public', 't');
        if (!tt?.columns.some((col) => col.name === 'extra')) return false;
        const r = byPgNames(store.reader).prepare(`SELECT extra FROM "public.t" WHERE id = 1`).get() as {
          extra: string;
        };
        return r.extra === 'e';
      });
      assert.equal(replicaRows(store, 'public.t').length, 10);

      // Idle: lag reaches 0 and the slot's confirmed position never passes the replica's.
      await waitFor(
        'zero lag',
        () => engine.status().lagBytes === 0 && engine.status().upstreamLsn !== '0/0',
      );
      const slot = await c.query(
        `SELECT confirmed_flush_lsn::text AS l FROM pg_replication_slots WHERE slot_name = $1`,
        [engine.status().slot],
      );
      assert.ok(parseLsn(slot.rows[0].l) <= store.appliedLsn());
    } finally {
      await c.end();
    }
    assert.ok(applied.length > 0);
  } finally {
    await engine.stop();
    assert.equal(engine.status().state, 'stopped');
    store.close();
  }
});

test('restart resumes from the stored LSN: nothing lost, nothing repeated; confirmed LSN never ahead', async () => {
  await newDatabase('restart');
  await pg.query(
    `CREATE TABLE items (id serial PRIMARY KEY, v int NOT NULL);
     INSERT INTO items (v) SELECT g FROM generate_series(1, 1000) g;`,
    [],
    'restart',
  );
  const path = join(dir, 'restart.db');
  let store = ReplicaStore.open(path);
  let { engine } = engineFor(store, 'restart');
  const c = await pg.connect({ database: 'restart' });
  // Watch the slot while changes stream: its confirmed LSN must never pass the replica's.
  const violations: string[] = [];
  let checks = 0;
  let watching = true;
  let watchStore = store;
  const watch = (async () => {
    const w = await pg.connect({ database: 'restart' });
    try {
      while (watching) {
        const r = await w.query(
          `SELECT confirmed_flush_lsn::text AS l FROM pg_replication_slots WHERE database = 'restart'`,
        );
        const stored = (() => {
          try {
            // Before the snapshot completes the replica has no position yet.
            return watchStore.snapshotComplete() ? watchStore.appliedLsn() : undefined;
          } catch {
            return undefined;
          }
        })();
        const l = r.rows[0]?.l as string | undefined;
        if (l && stored !== undefined) {
          checks++;
          if (parseLsn(l) > stored) violations.push(`${l} > ${formatLsn(stored)}`);
        }
        await new Promise((res) => setTimeout(res, 5));
      }
    } finally {
      await w.end();
    }
  })();
  try {
    await engine.start();
    for (let i = 0; i < 50; i++) {
      await c.query(`INSERT INTO items (v) VALUES ($1)`, [i]);
      if (i % 5 === 0) await c.query(`UPDATE items SET v = v + 1 WHERE id = $1`, [i + 1]);
      if (i % 7 === 0) await c.query(`DELETE FROM items WHERE id = $1`, [i + 500]);
    }
    await waitFor('caught up', async () => {
      const n = (await c.query('SELECT count(*)::int AS n FROM items')).rows[0].n;
      return replicaRows(store, 'public.items').length === n;
    });
    await engine.stop();
    store.close();

    // Changes while stopped.
    await c.query(`INSERT INTO items (v) SELECT g FROM generate_series(1, 100) g`);
    await c.query(`UPDATE items SET v = -v WHERE id % 3 = 0`);
    await c.query(`DELETE FROM items WHERE id % 10 = 0`);

    store = ReplicaStore.open(path);
    watchStore = store;
    const stoppedAt = store.appliedLsn();
    ({ engine } = engineFor(store, 'restart'));
    let tx = 0;
    engine.on('applied', () => tx++);
    await engine.start();
    assert.equal(engine.status().snapshot, undefined, 'no new snapshot');
    await c.query(`INSERT INTO items (v) VALUES (424242)`);
    const upstream = async () =>
      (await c.query('SELECT id, v FROM items ORDER BY id')).rows.map((r) => [BigInt(r.id), BigInt(r.v)]);
    const want = await upstream();
    await waitFor('resumed', () => {
      const got = byPgNames(store.reader)
        .prepare('SELECT id, v FROM "public.items" ORDER BY id')
        .safeIntegers(true)
        .raw()
        .all();
      return JSON.stringify(got, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)) ===
        JSON.stringify(want, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))
        ? got
        : undefined;
    });
    assert.ok(store.appliedLsn() > stoppedAt);
    assert.ok(tx > 0);

    // The walsender goes away: the engine reconnects by itself and catches up.
    await c.query(`SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1`, [
      engine.status().slot,
    ]);
    await waitFor('reconnecting', () => engine.status().state === 'reconnecting');
    await c.query(`INSERT INTO items (v) VALUES (515151)`);
    await waitFor('streaming again', () => engine.status().state === 'streaming', 20_000);
    await waitFor('change after reconnect', () =>
      byPgNames(store.reader).prepare('SELECT 1 FROM "public.items" WHERE v = 515151').get(),
    );
    assert.match(engine.status().lastError ?? '', /terminat/i);
  } finally {
    watching = false;
    await watch;
    await engine.stop();
    store.close();
    await c.end();
  }
  assert.ok(checks > 10, `slot checked ${checks} times`);
  assert.deepEqual(violations, [], 'confirmed_flush_lsn exceeded the stored applied_lsn');
});

test('an interrupted snapshot is redone from scratch with a new slot', async () => {
  await newDatabase('interrupted');
  await pg.query(
    `CREATE TABLE a (id int PRIMARY KEY, v text); INSERT INTO a VALUES (1, 'one'), (2, 'two');`,
    [],
    'interrupted',
  );
  const path = join(dir, 'interrupted.db');
  let store = ReplicaStore.open(path);
  let { engine } = engineFor(store, 'interrupted');
  await engine.start();
  const oldSlot = engine.status().slot;
  await engine.stop();
  // Simulate a crash in the middle of the copy: state still 'copying', slot left behind.
  store.setMeta('snapshot_state', 'copying');
  const a = store.findTable('public', 'a');
  assert.ok(a);
  // id is attnum 1.
  store.db.prepare(`DELETE FROM "${a.sqliteName}" WHERE a1 = 1`).run();
  store.close();
  await pg.query(`INSERT INTO a VALUES (3, 'three')`, [], 'interrupted');

  store = ReplicaStore.open(path);
  ({ engine } = engineFor(store, 'interrupted'));
  try {
    await engine.start();
    assert.notEqual(engine.status().slot, oldSlot);
    assert.equal(store.getMeta('slot'), engine.status().slot);
    const slots = await pg.query(`SELECT slot_name FROM pg_replication_slots WHERE database = 'interrupted'`);
    assert.deepEqual(
      slots.rows.map((r) => r.slot_name),
      [engine.status().slot],
    );
    assert.deepEqual(
      byPgNames(store.reader).prepare('SELECT id, v FROM "public.a" ORDER BY id').raw().all(),
      [
        [1, 'one'],
        [2, 'two'],
        [3, 'three'],
      ],
    );
    assert.equal(store.snapshotComplete(), true);
  } finally {
    await engine.stop();
    store.close();
  }
});

test('a replica file from another database is refused', async () => {
  await newDatabase('other');
  const store = ReplicaStore.open(join(dir, 'interrupted.db'));
  const { engine } = engineFor(store, 'other');
  try {
    await assert.rejects(engine.start(), (err: Error) => {
      assert.equal(err.name, 'StartupError');
      assert.match(err.message, /different upstream/);
      return true;
    });
  } finally {
    store.close();
  }
});
