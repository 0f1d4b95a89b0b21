/**
 * Upstream schema changes: after the DDL, with no further row change, the
 * replica's catalog and rows become equal to upstream's, and a table is
 * hidden from the read path (findTable) while it may be stale.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Client as PgClient } from 'pg';
import { createLogger, silentLogger } from '../src/log.js';
import { createMetrics } from '../src/metrics.js';
import { quoteIdent, type ReplicaTable } from '../src/replica/schema.js';
import { COPY_SESSION_SQL, fetchCatalog, stripUpstream } from '../src/replica/snapshot.js';
import { ReplicaStore } from '../src/replica/store.js';
import { toStored } from '../src/replica/type-storage.js';
import { ReplicationEngine } from '../src/replication/engine.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';
import { byPgNames } from './helpers/replica-views.js';

let pg: PostgresInstance;
let dir: string;

before(async () => {
  pg = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'outpost-schema-'));
});

after(async () => {
  await pg?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const rawTypes = { getTypeParser: () => (v: string) => v };

function engineFor(store: ReplicaStore, url: string, catalogPollMs?: number): ReplicationEngine {
  return new ReplicationEngine({
    upstreamUrl: url,
    store,
    logger: process.env.TEST_LOG ? createLogger() : silentLogger(),
    metrics: createMetrics(),
    ...(catalogPollMs !== undefined ? { catalogPollMs } : {}),
  });
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

/** A client with the session settings whose text output the replica stores. */
async function connect(database: string, user?: { user: string; password: string }): Promise<PgClient> {
  const c = await pg.connect({ database, ...user });
  await c.query(COPY_SESSION_SQL);
  return c;
}

async function upstreamTable(c: PgClient, schema: string, name: string): Promise<ReplicaTable | undefined> {
  const r = await c.query<{ oid: string }>(
    `SELECT c.oid::int8::text AS oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2`,
    [schema, name],
  );
  if (!r.rows[0]) return undefined;
  const [t] = await fetchCatalog(c, [Number(r.rows[0].oid)]);
  return t && stripUpstream(t);
}

/** Storage classes kept apart (numbers vs text), int4 5 and int8 5n alike. */
function canonical(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return `s:${v}`;
  if (typeof v === 'number' || typeof v === 'bigint') return `n:${String(v)}`;
  return `?:${String(v)}`;
}

/**
 * Upstream's rows (as Postgres text, stored per the storage table) and the
 * replica's, for the replicated columns, ordered by `order`.
 */
async function rowsOf(
  c: PgClient,
  store: ReplicaStore,
  table: ReplicaTable,
  order: string,
): Promise<{ upstream: (string | null)[][]; replica: (string | null)[][] }> {
  const cols = table.columns.map((col) => quoteIdent(col.name)).join(', ');
  const up = await c.query({
    text: `SELECT ${cols} FROM ${quoteIdent(table.schema)}.${quoteIdent(table.name)} ORDER BY ${order}`,
    rowMode: 'array',
    types: rawTypes,
  });
  const upstream = (up.rows as (string | null)[][]).map((row) =>
    row.map((v, i) => canonical(toStored(v, table.columns[i]!.typeOid))),
  );
  const mine = byPgNames(store.reader)
    .prepare(`SELECT ${cols} FROM ${quoteIdent(`${table.schema}.${table.name}`)} ORDER BY ${order}`)
    .safeIntegers(true)
    .raw(true)
    .all() as unknown[][];
  return { upstream, replica: mine.map((row) => row.map(canonical)) };
}

/**
 * Waits until the replica has `schema.name` exactly as upstream: catalog
 * entry (servable, same columns, keys, storage) and rows.
 */
async function converged(
  c: PgClient,
  store: ReplicaStore,
  schema: string,
  name: string,
  order = '1',
): Promise<ReplicaTable> {
  return waitFor(`${schema}.${name} to match upstream`, async () => {
    const up = await upstreamTable(c, schema, name);
    assert.ok(up, `${schema}.${name} exists upstream`);
    const mine = store.findTable(schema, name);
    if (!mine) return undefined;
    assert.deepEqual(mine, up);
    const rows = await rowsOf(c, store, mine, order);
    assert.deepEqual(rows.replica, rows.upstream);
    return mine;
  });
}

async function gone(store: ReplicaStore, schema: string, name: string): Promise<void> {
  await waitFor(`${schema}.${name} to leave the replica`, () => {
    if (store.allTables().some((t) => t.schema === schema && t.name === name)) return false;
    // And no data table is left without its catalog entry.
    const data = store.reader
      .prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name GLOB 't[0-9]*'`)
      .pluck()
      .all() as string[];
    const known = new Set(store.allTables().map((t) => t.sqliteName));
    return data.every((n) => known.has(n));
  });
}

test('event trigger: each schema change converges without a further row change', async () => {
  await pg.query('CREATE DATABASE ddl');
  const c = await connect('ddl');
  await c.query(
    `CREATE TABLE t (id int PRIMARY KEY, v int, note text);
     INSERT INTO t SELECT g, g * 10, 'row ' || g FROM generate_series(1, 50) g;`,
  );
  const store = ReplicaStore.open(join(dir, 'ddl.db'));
  const engine = engineFor(store, pg.url({ database: 'ddl' }));
  try {
    await engine.start();
    assert.equal(engine.status().ddlDetection, 'event-trigger');
    const installed = await c.query(
      `SELECT evtname, evtevent FROM pg_event_trigger WHERE evtname LIKE 'outpost%' ORDER BY 1`,
    );
    assert.deepEqual(
      installed.rows.map((r) => [r.evtname, r.evtevent]),
      [
        ['outpost_ddl_command_end', 'ddl_command_end'],
        ['outpost_ddl_sql_drop', 'sql_drop'],
      ],
    );
    await converged(c, store, 'public', 't');

    // ADD COLUMN without a default: NULL in old rows, upstream and here.
    await c.query('ALTER TABLE t ADD COLUMN a int');
    assert.ok((await converged(c, store, 'public', 't')).columns.some((col) => col.name === 'a'));

    // With a default: old rows get it (no rewrite upstream: a "missing" value).
    await c.query('ALTER TABLE t ADD COLUMN d int DEFAULT 5');
    await converged(c, store, 'public', 't');
    assert.equal(
      byPgNames(store.reader).prepare('SELECT count(*) FROM "public.t" WHERE d = 5').pluck().get(),
      50,
    );

    // A volatile default rewrites the table: every old row gets its own value.
    await c.query('ALTER TABLE t ADD COLUMN r float8 DEFAULT random()');
    await converged(c, store, 'public', 't');

    await c.query('ALTER TABLE t DROP COLUMN a');
    await converged(c, store, 'public', 't');

    await c.query('ALTER TABLE t RENAME COLUMN d TO d2');
    await converged(c, store, 'public', 't');

    // Type changes: to another type, and to the same type with new values.
    await c.query('ALTER TABLE t ALTER COLUMN v TYPE text');
    assert.equal(
      (await converged(c, store, 'public', 't')).columns.find((col) => col.name === 'v')?.typeName,
      'text',
    );
    await c.query('ALTER TABLE t ALTER COLUMN d2 TYPE int USING d2 + id');
    await converged(c, store, 'public', 't');
    assert.equal(byPgNames(store.reader).prepare('SELECT d2 FROM "public.t" WHERE id = 7').pluck().get(), 12);

    await c.query('ALTER TABLE t RENAME TO t2');
    await converged(c, store, 'public', 't2');
    assert.equal(store.findTable('public', 't'), undefined);
    await gone(store, 'public', 't');

    // Other schemas, and a table moving between schemas.
    await c.query(
      `CREATE SCHEMA s;
       CREATE TABLE s.x (k text PRIMARY KEY, n numeric(10,2));
       INSERT INTO s.x VALUES ('a', 1.5), ('b', null);`,
    );
    await converged(c, store, 's', 'x', 'k');
    await c.query('ALTER TABLE s.x ALTER COLUMN n TYPE numeric(10,4)');
    await converged(c, store, 's', 'x', 'k');
    assert.equal(store.reader.prepare(`SELECT n FROM "s.x" WHERE k = 'a'`).pluck().get(), '1.5000');
    await c.query('ALTER TABLE t2 SET SCHEMA s');
    await converged(c, store, 's', 't2');
    await c.query('ALTER SCHEMA s RENAME TO s2');
    await converged(c, store, 's2', 'x', 'k');
    await converged(c, store, 's2', 't2');
    await gone(store, 's', 'x');

    // CREATE TABLE with rows in the same transaction, and CREATE TABLE AS.
    await c.query('BEGIN');
    await c.query('CREATE TABLE n (id int PRIMARY KEY, v text)');
    await c.query(`INSERT INTO n SELECT g, 'v' || g FROM generate_series(1, 20) g`);
    await c.query('COMMIT');
    await converged(c, store, 'public', 'n');
    assert.equal(byPgNames(store.reader).prepare('SELECT count(*) FROM "public.n"').pluck().get(), 20);
    // Without a key it stays out of the publication (its UPDATEs must keep working upstream).
    await c.query('CREATE TABLE ctas AS SELECT g AS id, g::text AS label FROM generate_series(1, 7) g');
    await c.query(`UPDATE ctas SET label = label || '.' WHERE id = 1`);
    await waitFor('ctas forwarded', () =>
      engine.status().forwardedTables.some((f) => f.table === 'public.ctas'),
    );
    await c.query('ALTER TABLE ctas ADD PRIMARY KEY (id)');
    await converged(c, store, 'public', 'ctas');

    // DROP TABLE removes it.
    await c.query('DROP TABLE n');
    await gone(store, 'public', 'n');

    // Generated columns are not in the stream: such a table is never served.
    await c.query(
      `CREATE TABLE g (id int PRIMARY KEY, a int, b int GENERATED ALWAYS AS (a * 2) STORED);
       INSERT INTO g (id, a) VALUES (1, 1), (2, 2);`,
    );
    await waitFor('g replicated', () => store.allTables().find((t) => t.name === 'g'));
    assert.equal(store.findTable('public', 'g'), undefined);
    assert.match(store.allTables().find((t) => t.name === 'g')?.unservable ?? '', /generated/);
    await c.query('ALTER TABLE ctas ADD COLUMN twice int GENERATED ALWAYS AS (id * 2) STORED');
    await waitFor('ctas unservable', () => store.findTable('public', 'ctas') === undefined);
    await c.query('ALTER TABLE ctas DROP COLUMN twice');
    await converged(c, store, 'public', 'ctas');

    // An enum label renamed: stored text changes, no table DDL at all.
    await c.query(
      `CREATE TYPE mood AS ENUM ('sad', 'ok');
       CREATE TABLE m (id int PRIMARY KEY, mood mood, moods mood[]);
       INSERT INTO m VALUES (1, 'sad', '{sad,ok}'), (2, 'ok', null);`,
    );
    await converged(c, store, 'public', 'm');
    await c.query(`ALTER TYPE mood RENAME VALUE 'sad' TO 'happy'`);
    await converged(c, store, 'public', 'm');
    assert.equal(
      byPgNames(store.reader).prepare('SELECT moods FROM "public.m" WHERE id = 1').pluck().get(),
      '{happy,ok}',
    );

    // DDL and row changes in one transaction, then streaming goes on as usual.
    await c.query('BEGIN');
    await c.query(`INSERT INTO s2.t2 (id, v, note) VALUES (100, 'before', 'x')`);
    await c.query('ALTER TABLE s2.t2 ADD COLUMN late text');
    await c.query(`UPDATE s2.t2 SET late = 'l' || id WHERE id <= 3`);
    await c.query('COMMIT');
    await converged(c, store, 's2', 't2');
    await c.query(`UPDATE s2.t2 SET note = 'after' WHERE id = 1; DELETE FROM s2.t2 WHERE id = 2`);
    await c.query(`INSERT INTO s2.x VALUES ('c', 3)`);
    await converged(c, store, 's2', 't2');
    await converged(c, store, 's2', 'x', 'k');
    assert.equal(engine.status().staleTables, 0);
    assert.equal(engine.status().state, 'streaming');
  } finally {
    await engine.stop();
    store.close();
    await c.end();
  }
});

test('a stale table is hidden from findTable until its resync is swapped in, across a restart', async () => {
  await pg.query('CREATE DATABASE hidden');
  const c = await connect('hidden');
  await c.query(
    `CREATE TABLE h (id int PRIMARY KEY, v text);
     INSERT INTO h SELECT g, 'v' || g FROM generate_series(1, 10) g;
     CREATE TABLE other (id int PRIMARY KEY);`,
  );
  const path = join(dir, 'hidden.db');
  let store = ReplicaStore.open(path);
  let engine = engineFor(store, pg.url({ database: 'hidden' }));
  // A write transaction left open upstream: a new slot (the resync's) waits for it.
  const blocker = await connect('hidden');
  try {
    await engine.start();
    await converged(c, store, 'public', 'h');
    await blocker.query('BEGIN');
    await blocker.query('INSERT INTO other VALUES (1)');
    const version = store.catalogVersion;
    await c.query('ALTER TABLE h ADD COLUMN extra int DEFAULT 7');
    await waitFor('h hidden', () => store.findTable('public', 'h') === undefined);
    assert.ok(store.catalogVersion > version, 'catalogVersion bumped when hidden');
    assert.ok(store.tables().every((t) => t.name !== 'h'));
    assert.ok(store.allTables().some((t) => t.name === 'h'));
    assert.equal(engine.status().staleTables, 1);
    // Other tables are still served.
    assert.ok(store.findTable('public', 'other'));
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(store.findTable('public', 'h'), undefined, 'still hidden while the resync waits');

    // Stopped mid-resync: the file remembers the table is stale.
    await engine.stop();
    store.close();
    store = ReplicaStore.open(path);
    assert.equal(store.findTable('public', 'h'), undefined);
    assert.deepEqual(
      store.staleOids(),
      [store.allTables().find((t) => t.name === 'h')?.oid],
      'stale set persisted',
    );
    await blocker.query('COMMIT');
    engine = engineFor(store, pg.url({ database: 'hidden' }));
    await engine.start();
    const before = store.catalogVersion;
    const h = await converged(c, store, 'public', 'h');
    assert.ok(h.columns.some((col) => col.name === 'extra'));
    assert.ok(store.catalogVersion > before, 'catalogVersion bumped by the swap');
    assert.equal(store.staleOids().length, 0);
    // Changes streamed after the resync apply on top of the copy exactly once.
    await c.query(`INSERT INTO h (id, v) VALUES (11, 'new'); UPDATE h SET extra = 8 WHERE id = 1`);
    await converged(c, store, 'public', 'h');
    const slots = await c.query(`SELECT slot_name FROM pg_replication_slots WHERE database = 'hidden'`);
    assert.deepEqual(
      slots.rows.map((r) => r.slot_name),
      [engine.status().slot],
      'temporary resync slots are gone',
    );
  } finally {
    await blocker.query('ROLLBACK').catch(() => {});
    await blocker.end();
    await engine.stop();
    store.close();
    await c.end();
  }
});

test('without a superuser: periodic catalog comparison converges', async () => {
  await pg.query(`CREATE ROLE app LOGIN REPLICATION PASSWORD 'app-pw'`);
  await pg.query('CREATE DATABASE nosuper OWNER app');
  await pg.query('CREATE PUBLICATION outpost FOR ALL TABLES', [], 'nosuper');
  const app = { user: 'app', password: 'app-pw' };
  const c = await connect('nosuper', app);
  await c.query(
    `CREATE TABLE p (id int PRIMARY KEY, v text);
     INSERT INTO p SELECT g, 'v' || g FROM generate_series(1, 30) g;
     CREATE TABLE q (id int PRIMARY KEY);
     INSERT INTO q VALUES (1), (2);`,
  );
  const store = ReplicaStore.open(join(dir, 'nosuper.db'));
  // Compared every second rather than every 5 s, to keep the test short.
  const engine = engineFor(store, pg.url({ database: 'nosuper', ...app }), 1000);
  try {
    await engine.start();
    assert.equal(engine.status().ddlDetection, 'polling');
    const triggers = await c.query(`SELECT count(*)::int AS n FROM pg_event_trigger`);
    assert.equal(triggers.rows[0].n, 0);
    await converged(c, store, 'public', 'p');

    await c.query('ALTER TABLE p ADD COLUMN d int DEFAULT 5');
    await converged(c, store, 'public', 'p');
    await c.query('ALTER TABLE p ALTER COLUMN d TYPE int USING d * 3');
    await converged(c, store, 'public', 'p');
    assert.equal(byPgNames(store.reader).prepare('SELECT d FROM "public.p" WHERE id = 1').pluck().get(), 15);
    await c.query('ALTER TABLE p RENAME COLUMN v TO w');
    await converged(c, store, 'public', 'p');
    await c.query('ALTER TABLE q RENAME TO q2');
    await converged(c, store, 'public', 'q2');
    await c.query('BEGIN');
    await c.query('CREATE TABLE r (id int PRIMARY KEY, v text)');
    await c.query(`INSERT INTO r VALUES (1, 'one'), (2, 'two')`);
    await c.query('COMMIT');
    await converged(c, store, 'public', 'r');
    await c.query('DROP TABLE q2');
    await gone(store, 'public', 'q2');
    // A change arriving before the comparison notices: the Relation message tells.
    await c.query('ALTER TABLE r ADD COLUMN z int DEFAULT 1');
    await c.query(`INSERT INTO r VALUES (3, 'three', 3)`);
    await converged(c, store, 'public', 'r');
    await c.query(`UPDATE p SET w = 'changed' WHERE id = 1`);
    await converged(c, store, 'public', 'p');

    // A published table the role cannot read: hidden, and the others carry on.
    await pg.query(
      `CREATE TABLE secret (id int PRIMARY KEY); INSERT INTO secret VALUES (1), (2);`,
      [],
      'nosuper',
    );
    await waitFor('secret known', () => store.allTables().find((t) => t.name === 'secret'));
    assert.equal(store.findTable('public', 'secret'), undefined);
    await c.query(`INSERT INTO p (id, w) VALUES (31, 'x')`);
    await converged(c, store, 'public', 'p');
    // Readable once granted (no DDL event: the comparison notices).
    await pg.query('GRANT SELECT ON secret TO app', [], 'nosuper');
    await converged(c, store, 'public', 'secret');
    // Row-level security that would hide rows from the role: never served.
    await pg.query(
      `ALTER TABLE secret ENABLE ROW LEVEL SECURITY;
       CREATE POLICY only_one ON secret FOR SELECT USING (id = 1);`,
      [],
      'nosuper',
    );
    await waitFor('secret hidden by RLS', () => store.findTable('public', 'secret') === undefined);
  } finally {
    await engine.stop();
    store.close();
    await c.end();
  }
});
