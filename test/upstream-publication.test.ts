/**
 * Outpost's publication never breaks the application's writes: tables
 * without a replica identity (made before or after Outpost started) keep
 * accepting UPDATE and DELETE upstream and are forwarded; tables that gain or
 * lose one join or leave the publication (and the replica); zero-column
 * tables replicate while replication carries on; an old FOR ALL TABLES publication is
 * migrated under a running slot.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createLogger } from '../src/log.js';
import { createMetrics } from '../src/metrics.js';
import { ReplicaStore } from '../src/replica/store.js';
import { ReplicationEngine } from '../src/replication/engine.js';
import { parseFilter, publicationName } from '../src/replication/filter.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';

let pg: PostgresInstance;
let dir: string;

before(async () => {
  pg = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'outpost-pub-'));
});

after(async () => {
  await pg?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Logged {
  lines: Array<{ msg: string; table?: string; reason?: string; level: number }>;
}

function engineFor(
  store: ReplicaStore,
  url: string,
  opts: { catalogPollMs?: number; publication?: string } = {},
): { engine: ReplicationEngine; log: Logged } {
  const log: Logged = { lines: [] };
  const logger = createLogger({
    level: 'info',
    format: 'json',
    write: (line) => {
      log.lines.push(JSON.parse(line));
      if (process.env.TEST_LOG) process.stdout.write(line);
    },
  });
  const engine = new ReplicationEngine({
    upstreamUrl: url,
    store,
    logger,
    metrics: createMetrics(),
    ...opts,
  });
  return { engine, log };
}

async function waitFor<T>(
  what: string,
  fn: () => T | Promise<T>,
  timeoutMs = 20_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function members(database: string, pub = 'outpost'): Promise<string[]> {
  const r = await pg.query<{ t: string }>(
    `SELECT schemaname || '.' || tablename AS t FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1`,
    [pub],
    database,
  );
  return r.rows.map((x) => x.t);
}

function replicaRows(store: ReplicaStore, table: string): number | undefined {
  const t = store.findTable('public', table);
  if (!t) return undefined;
  return store.reader.prepare(`SELECT count(*) AS n FROM "${t.sqliteName}"`).pluck().get() as number;
}

/** UPDATE and DELETE upstream succeed on `table` (the error 55000 otherwise). */
async function writesWork(database: string, table: string): Promise<void> {
  await pg.query(`UPDATE ${table} SET v = v || '!'`, [], database);
  await pg.query(`DELETE FROM ${table} WHERE v LIKE 'gone%'`, [], database);
}

test('superuser: tables without a key keep their writes; zero-column tables replicate; membership follows DDL', async () => {
  await pg.query('CREATE DATABASE app1');
  await pg.query(
    `CREATE TABLE pk (id int PRIMARY KEY, v text);
     INSERT INTO pk SELECT g, 'v' || g FROM generate_series(1, 20) g;
     CREATE TABLE nopk (v text); INSERT INTO nopk VALUES ('a'), ('gone1');
     CREATE TABLE nocols (); ALTER TABLE nocols REPLICA IDENTITY FULL; INSERT INTO nocols DEFAULT VALUES;
     CREATE TABLE nocols_nokey (); INSERT INTO nocols_nokey DEFAULT VALUES;
     CREATE TABLE onlygen (g int GENERATED ALWAYS AS (1) STORED); ALTER TABLE onlygen REPLICA IDENTITY FULL;
     INSERT INTO onlygen DEFAULT VALUES;
     CREATE TABLE casey (id int PRIMARY KEY, "a" int, "A" int); INSERT INTO casey VALUES (1, 1, 2);
     CREATE TABLE deferred (id int PRIMARY KEY DEFERRABLE, v text); INSERT INTO deferred VALUES (1, 'd');`,
    [],
    'app1',
  );
  const store = ReplicaStore.open(join(dir, 'app1.db'));
  const { engine, log } = engineFor(store, pg.url({ database: 'app1' }));
  try {
    const ddlTags: string[] = [];
    engine.on('ddl', (tag) => ddlTags.push(tag));
    await engine.start();
    assert.equal(engine.status().state, 'streaming');
    const pub = await pg.query(
      `SELECT puballtables FROM pg_publication WHERE pubname = 'outpost'`,
      [],
      'app1',
    );
    assert.equal(pub.rows[0]?.puballtables, false);
    // A deferrable key is no replica identity (Postgres refuses it as one).
    assert.deepEqual(await members('app1'), ['public.casey', 'public.nocols', 'public.onlygen', 'public.pk']);
    await writesWork('app1', 'nopk');
    await writesWork('app1', 'deferred');
    await pg.query('DELETE FROM nocols_nokey', [], 'app1');
    assert.equal(replicaRows(store, 'pk'), 20);
    // Zero columns (CREATE TABLE t ()): replicated all the same, rows counted.
    assert.equal(replicaRows(store, 'nocols'), 1);
    // Column names differing only in case are two columns (SQLite names come from attnums).
    assert.equal(replicaRows(store, 'casey'), 1);
    // Generated columns only: in the replica's catalog, never served (pgoutput omits them).
    assert.ok(store.allTables().some((t) => t.name === 'onlygen'));
    for (const t of ['nopk', 'nocols_nokey', 'onlygen', 'deferred']) {
      assert.equal(store.findTable('public', t), undefined, t);
    }
    const forwarded = engine.status().forwardedTables.map((f) => f.table);
    assert.deepEqual(forwarded, ['public.deferred', 'public.nocols_nokey', 'public.nopk']);
    assert.match(
      engine.status().forwardedTables.find((f) => f.table === 'public.nopk')?.reason ?? '',
      /ALTER TABLE public\.nopk REPLICA IDENTITY FULL/,
    );
    // Logged once each, even after more checks.
    await pg.query('INSERT INTO nocols DEFAULT VALUES; INSERT INTO onlygen DEFAULT VALUES', [], 'app1');
    await pg.query(`INSERT INTO pk VALUES (21, 'v21')`, [], 'app1');
    await waitFor('pk row 21', () => replicaRows(store, 'pk') === 21);
    await pg.query('CREATE TABLE unrelated (id int PRIMARY KEY)', [], 'app1');
    await waitFor('unrelated replicated', () => store.findTable('public', 'unrelated'));
    const nopkLines = log.lines.filter((l) => l.table === 'public.nopk' && /not replicated/.test(l.msg));
    assert.equal(nopkLines.length, 1);
    assert.equal(engine.status().state, 'streaming');
    assert.equal(engine.status().staleTables, 0);
    const meta = JSON.parse(store.getMeta('forwarded_tables') ?? '[]') as Array<{ table: string }>;
    assert.deepEqual(
      meta.map((m) => m.table),
      forwarded,
    );

    // Created after Outpost started: without a key, writes work; with one, replicated.
    await pg.query(
      `CREATE TABLE later_nopk (v text); INSERT INTO later_nopk VALUES ('x'), ('gone2')`,
      [],
      'app1',
    );
    await writesWork('app1', 'later_nopk');
    await pg.query(
      `CREATE TABLE later_pk (id int PRIMARY KEY, v text); INSERT INTO later_pk VALUES (1, 'one'), (2, 'two')`,
      [],
      'app1',
    );
    await waitFor('later_pk replicated', () => replicaRows(store, 'later_pk') === 2);
    // Outpost's own ALTER PUBLICATION is DDL too, but changes no privilege: no invalidation for it.
    assert.ok(ddlTags.includes('CREATE TABLE'));
    assert.ok(!ddlTags.some((t) => t.endsWith('PUBLICATION')), ddlTags.join());
    await writesWork('app1', 'later_nopk');
    await waitFor('later_nopk forwarded', () =>
      engine.status().forwardedTables.some((f) => f.table === 'public.later_nopk'),
    );

    // Gains a key: joins the publication and is copied; its changes then stream.
    await pg.query('ALTER TABLE nopk ADD COLUMN id serial PRIMARY KEY', [], 'app1');
    await waitFor('nopk replicated', () => replicaRows(store, 'nopk') === 1);
    await pg.query(`INSERT INTO nopk (v) VALUES ('b')`, [], 'app1');
    await waitFor('nopk insert replicated', () => replicaRows(store, 'nopk') === 2);
    assert.ok(!engine.status().forwardedTables.some((f) => f.table === 'public.nopk'));

    // Loses its key: leaves the publication (writes work again) and the replica.
    await pg.query('ALTER TABLE later_pk DROP CONSTRAINT later_pk_pkey', [], 'app1');
    await waitFor('later_pk unpublished', async () => !(await members('app1')).includes('public.later_pk'));
    await pg.query(`UPDATE later_pk SET v = 'changed'`, [], 'app1');
    await waitFor('later_pk left the replica', () => store.findTable('public', 'later_pk') === undefined);

    // A zero-column table that gets a column, and one that loses its last: replication carries on.
    await waitFor('nocols insert replicated', () => replicaRows(store, 'nocols') === 2);
    await pg.query('ALTER TABLE nocols ADD COLUMN a int', [], 'app1');
    await waitFor('nocols resynchronised', () => store.findTable('public', 'nocols')?.columns.length === 1);
    assert.equal(replicaRows(store, 'nocols'), 2);
    await pg.query(
      'CREATE TABLE shrink (id int, PRIMARY KEY (id)); INSERT INTO shrink VALUES (1)',
      [],
      'app1',
    );
    await waitFor('shrink replicated', () => replicaRows(store, 'shrink') === 1);
    await pg.query('ALTER TABLE shrink REPLICA IDENTITY FULL; ALTER TABLE shrink DROP COLUMN id', [], 'app1');
    await waitFor('shrink resynchronised', () => store.findTable('public', 'shrink')?.columns.length === 0);
    assert.equal(replicaRows(store, 'shrink'), 1);
    await pg.query(`INSERT INTO pk VALUES (22, 'v22')`, [], 'app1');
    await waitFor('pk row 22', () => replicaRows(store, 'pk') === 22);
    assert.equal(engine.status().state, 'streaming');
  } finally {
    await engine.stop();
    store.close();
  }
});

test('without a superuser: Outpost creates the publication itself; tables it does not own are forwarded', async () => {
  await pg.query(`CREATE ROLE app LOGIN REPLICATION PASSWORD 'app-pw'`);
  await pg.query('CREATE DATABASE app2 OWNER app');
  await pg.query(
    `CREATE TABLE theirs (id int PRIMARY KEY); INSERT INTO theirs VALUES (1); GRANT SELECT ON theirs TO app`,
    [],
    'app2',
  );
  const app = { user: 'app', password: 'app-pw', database: 'app2' };
  const c = await pg.connect(app);
  await c.query(
    `CREATE TABLE mine (id int PRIMARY KEY, v text); INSERT INTO mine VALUES (1, 'a');
     CREATE TABLE nopk (v text); INSERT INTO nopk VALUES ('a'), ('gone');`,
  );
  const store = ReplicaStore.open(join(dir, 'app2.db'));
  const { engine } = engineFor(store, pg.url(app), { catalogPollMs: 500 });
  try {
    await engine.start();
    assert.equal(engine.status().ddlDetection, 'polling');
    assert.deepEqual(await members('app2'), ['public.mine']);
    assert.equal(replicaRows(store, 'mine'), 1);
    await writesWork('app2', 'nopk');
    const reasons = Object.fromEntries(engine.status().forwardedTables.map((f) => [f.table, f.reason]));
    assert.match(reasons['public.theirs'] ?? '', /does not own it/);
    assert.match(reasons['public.nopk'] ?? '', /REPLICA IDENTITY FULL/);
    await c.query(`CREATE TABLE later (id int PRIMARY KEY); INSERT INTO later VALUES (1), (2)`);
    await c.query(`CREATE TABLE later_nopk (v text); INSERT INTO later_nopk VALUES ('b'), ('gone')`);
    await writesWork('app2', 'later_nopk');
    await waitFor('later replicated (polling)', () => replicaRows(store, 'later') === 2);
    await writesWork('app2', 'later_nopk');
    const triggers = await pg.query('SELECT 1 FROM pg_event_trigger', [], 'app2');
    assert.equal(triggers.rowCount, 0);
    const schema = await pg.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'outpost'`, [], 'app2');
    assert.equal(schema.rowCount, 0, 'nothing but slot and publication without a superuser');
  } finally {
    await engine.stop();
    store.close();
    await c.end();
  }
});

test('a replica on an old FOR ALL TABLES publication is migrated safely at its next start', async () => {
  await pg.query('CREATE DATABASE app3');
  await pg.query(
    `CREATE TABLE pk (id int PRIMARY KEY, v text); INSERT INTO pk VALUES (1, 'a');
     CREATE TABLE nopk (v text); INSERT INTO nopk VALUES ('a');`,
    [],
    'app3',
  );
  const file = join(dir, 'app3.db');
  let store = ReplicaStore.open(file);
  let run = engineFor(store, pg.url({ database: 'app3' }));
  await run.engine.start();
  await run.engine.stop();
  store.close();
  // What an earlier version left: FOR ALL TABLES, which refuses UPDATE of nopk.
  await pg.query(
    'BEGIN; DROP PUBLICATION outpost; CREATE PUBLICATION outpost FOR ALL TABLES; COMMIT',
    [],
    'app3',
  );
  await assert.rejects(pg.query(`UPDATE nopk SET v = 'b'`, [], 'app3'), /does not have a replica identity/);
  // Changes while Outpost is away, before and after the migration point.
  await pg.query(`INSERT INTO pk VALUES (2, 'b'); INSERT INTO nopk VALUES ('c')`, [], 'app3');

  store = ReplicaStore.open(file);
  run = engineFor(store, pg.url({ database: 'app3' }));
  try {
    await run.engine.start();
    assert.ok(run.log.lines.some((l) => /replaced publication outpost \(FOR ALL TABLES/.test(l.msg)));
    const pub = await pg.query(
      `SELECT puballtables FROM pg_publication WHERE pubname = 'outpost'`,
      [],
      'app3',
    );
    assert.equal(pub.rows[0]?.puballtables, false);
    await pg.query(`UPDATE nopk SET v = 'b'`, [], 'app3');
    await pg.query(`INSERT INTO pk VALUES (3, 'c')`, [], 'app3');
    await waitFor('pk caught up', () => replicaRows(store, 'pk') === 3);
    await waitFor('nopk gone from the replica', () => store.findTable('public', 'nopk') === undefined);
    assert.equal(run.engine.status().state, 'streaming');
  } finally {
    await run.engine.stop();
    store.close();
  }
});

test('--publication is used as given, with a warning for tables whose writes it breaks', async () => {
  await pg.query('CREATE DATABASE app4');
  await pg.query(
    `CREATE TABLE pk (id int PRIMARY KEY); INSERT INTO pk VALUES (1);
     CREATE TABLE nopk (v text); INSERT INTO nopk VALUES ('a');
     CREATE PUBLICATION mine FOR TABLE pk, nopk;`,
    [],
    'app4',
  );
  const store = ReplicaStore.open(join(dir, 'app4.db'));
  const { engine, log } = engineFor(store, pg.url({ database: 'app4' }), { publication: 'mine' });
  try {
    await engine.start();
    assert.deepEqual(await members('app4', 'mine'), ['public.nopk', 'public.pk']);
    const warned = log.lines.filter((l) => /publishes UPDATE and DELETE of public\.nopk/.test(l.msg));
    assert.equal(warned.length, 1);
    // Its inserts are replicated all the same.
    assert.equal(replicaRows(store, 'nopk'), 1);
    const none = await pg.query(`SELECT 1 FROM pg_publication WHERE pubname = 'outpost'`, [], 'app4');
    assert.equal(none.rowCount, 0);
  } finally {
    await engine.stop();
    store.close();
  }
});

test('--tables/--schemas: the filter publication lists only the selected tables with an identity', async () => {
  await pg.query('CREATE DATABASE app5');
  await pg.query(
    `CREATE TABLE a (id int PRIMARY KEY); INSERT INTO a VALUES (1);
     CREATE TABLE b (v text); INSERT INTO b VALUES ('x'), ('gone');
     CREATE TABLE c (id int PRIMARY KEY);
     CREATE SCHEMA s; CREATE TABLE s.d (id int PRIMARY KEY); CREATE TABLE s.e (v text);
     INSERT INTO s.e VALUES ('y'), ('gone');
     CREATE TABLE m (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
     CREATE TABLE m_2024 PARTITION OF m FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
     INSERT INTO m VALUES (1, '2024-05-01');`,
    [],
    'app5',
  );
  // m is partitioned: it stands for its leaves.
  const filter = parseFilter('a, b, m', 's');
  const store = ReplicaStore.open(join(dir, 'app5.db'));
  const log: Logged = { lines: [] };
  const engine = new ReplicationEngine({
    upstreamUrl: pg.url({ database: 'app5' }),
    store,
    logger: createLogger({ level: 'info', format: 'json', write: (l) => log.lines.push(JSON.parse(l)) }),
    metrics: createMetrics(),
    ...(filter ? { filter } : {}),
  });
  try {
    await engine.start();
    const name = publicationName(filter);
    assert.deepEqual(await members('app5', name), ['public.a', 'public.m_2024', 's.d']);
    // A partition added later joins too.
    await pg.query(
      `CREATE TABLE m_2025 PARTITION OF m FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')`,
      [],
      'app5',
    );
    await waitFor('m_2025 published', async () => (await members('app5', name)).includes('public.m_2025'));
    await writesWork('app5', 'b');
    await writesWork('app5', 's.e');
    assert.deepEqual(
      engine.status().forwardedTables.map((f) => f.table),
      ['public.b', 's.e'],
    );
    // A table created later in a selected schema joins; one outside the filter does not.
    await pg.query(
      'CREATE TABLE s.f (id int PRIMARY KEY); CREATE TABLE other (id int PRIMARY KEY)',
      [],
      'app5',
    );
    await waitFor('s.f published', async () => (await members('app5', name)).includes('s.f'));
    assert.ok(!(await members('app5', name)).includes('public.other'));
    await waitFor('s.f copied', () => store.findTable('s', 'f'));
  } finally {
    await engine.stop();
    store.close();
  }
});
