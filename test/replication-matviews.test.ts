/**
 * Materialized views through the built CLI against real Postgres: copied at
 * the snapshot and after every REFRESH (with the event trigger, and by
 * polling without a superuser), served locally exactly as upstream answers
 * (rows, column names, type OIDs, table OIDs), forwarded when not populated
 * or when the role lacks SELECT, and gone once dropped.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import type { Client } from 'pg';
import {
  connectThrough,
  eventually,
  lastRoute,
  type OutpostProcess,
  startOutpost,
} from './helpers/outpost.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';
import { rawTypes } from './helpers/replica-fixture.js';

let pg: PostgresInstance;
let dir: string;

before(async () => {
  pg = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'outpost-matviews-'));
  await pg.query(`CREATE ROLE reader LOGIN PASSWORD 'reader-pw'`);
});

after(async () => {
  await pg?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Answer {
  fields: unknown[];
  rows: unknown[][];
}

async function run(c: Client, sql: string): Promise<Answer> {
  const r = await c.query({ text: sql, rowMode: 'array', types: rawTypes });
  return {
    fields: r.fields.map((f) => ({
      name: f.name,
      tableOid: f.tableID,
      attnum: f.columnID,
      typeOid: f.dataTypeID,
      typeSize: f.dataTypeSize,
      typmod: f.dataTypeModifier,
    })),
    rows: r.rows as unknown[][],
  };
}

/** SQLSTATE of running `sql`, or 'ok'. */
async function sqlState(c: Client, sql: string): Promise<string> {
  try {
    await c.query(sql);
    return 'ok';
  } catch (err) {
    return (err as { code?: string }).code ?? 'no code';
  }
}

/**
 * Waits until `sql` through Outpost is answered locally with upstream's
 * answer (a read may lag behind upstream before: replication is asynchronous).
 */
async function servedLocallyAsUpstream(through: Client, up: Client, sql: string): Promise<void> {
  let last = '';
  let mine: Answer | undefined;
  let theirs: Answer | undefined;
  await eventually(
    async () => {
      mine = await run(through, sql);
      last = await lastRoute(through);
      theirs = await run(up, sql);
      return last === 'local' && JSON.stringify(mine) === JSON.stringify(theirs);
    },
    30_000,
    sql,
  ).catch((err: Error) => {
    throw new Error(
      `${err.message}; last route: ${last}; local ${JSON.stringify(mine)} upstream ${JSON.stringify(theirs)}`,
    );
  });
  assert.deepEqual(mine, theirs);
}

function replicaCatalog(path: string): string[] {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return db
      .prepare('SELECT schema || $dot || name FROM _outpost_tables ORDER BY 1')
      .pluck()
      .all({ dot: '.' }) as string[];
  } finally {
    db.close();
  }
}

const SUMMARY = 'SELECT * FROM summary ORDER BY grp';

async function scenario(opts: {
  database: string;
  /** The role Outpost replicates as (a superuser installs the event trigger). */
  user: { user: string; password: string };
  expectDetection: 'event-trigger' | 'polling';
}): Promise<void> {
  const { database } = opts;
  const up = await pg.connect({ database, ...opts.user });
  await up.query(`
    CREATE TABLE items (id int PRIMARY KEY, grp text NOT NULL, price numeric(10,2), at timestamptz);
    INSERT INTO items SELECT g, 'g' || (g % 4), g * 1.25, '2024-01-01 00:00:00+00'::timestamptz + g * interval '1 hour'
      FROM generate_series(1, 40) g;
    CREATE MATERIALIZED VIEW summary AS
      SELECT grp, count(*) AS n, sum(price) AS total, max(at) AS latest FROM items GROUP BY grp;
    CREATE UNIQUE INDEX summary_grp ON summary (grp);
    CREATE MATERIALIZED VIEW pending AS SELECT id FROM items WITH NO DATA;
    CREATE SCHEMA other;
    CREATE MATERIALIZED VIEW other."Mixed Case" AS SELECT id, price * 2 AS "Double" FROM items WHERE id <= 5;
    GRANT USAGE ON SCHEMA other TO reader;
    GRANT SELECT ON items, other."Mixed Case" TO reader;
  `);
  const replica = join(dir, `${database}.db`);
  const outpost: OutpostProcess = await startOutpost({
    upstream: pg.url({ database, ...opts.user }),
    replica,
    args: ['--matview-refresh', '0.5'],
  });
  let through: Client | undefined;
  let reader: Client | undefined;
  try {
    await outpost.ready();
    const status = await outpost.status();
    assert.equal(status.replication.ddlDetection, opts.expectDetection);
    through = await connectThrough(outpost.port, { database });

    // Created before the start: in the snapshot.
    await servedLocallyAsUpstream(through, up, SUMMARY);
    await servedLocallyAsUpstream(through, up, 'SELECT "Double", id FROM other."Mixed Case" ORDER BY id');
    assert.deepEqual(replicaCatalog(replica), [
      'other.Mixed Case',
      'public.items',
      'public.pending',
      'public.summary',
    ]);

    // Not populated: upstream's error, never an empty local answer.
    assert.equal(await sqlState(through, 'SELECT * FROM pending'), '55000');
    assert.match(await lastRoute(through), /^upstream/);

    // A plain REFRESH after changes, then a concurrent one (same relfilenode, rows changed in place).
    await up.query(`UPDATE items SET price = price + 1 WHERE grp = 'g1'`);
    await up.query('REFRESH MATERIALIZED VIEW summary');
    await servedLocallyAsUpstream(through, up, SUMMARY);
    const storage = await up.query<{ f: string }>(
      `SELECT relfilenode::text AS f FROM pg_class WHERE relname = 'summary'`,
    );
    await up.query(
      `INSERT INTO items VALUES (100, 'g9', 9.99, '2025-06-01 12:00:00+00'), (101, 'g2', 1, NULL)`,
    );
    await up.query('REFRESH MATERIALIZED VIEW CONCURRENTLY summary');
    const after = await up.query<{ f: string }>(
      `SELECT relfilenode::text AS f FROM pg_class WHERE relname = 'summary'`,
    );
    assert.equal(after.rows[0]?.f, storage.rows[0]?.f, 'CONCURRENTLY keeps the relfilenode');
    await servedLocallyAsUpstream(through, up, SUMMARY);
    assert.equal((await run(through, SUMMARY)).rows.length, 5);

    // Populated later: served from then on.
    await up.query('REFRESH MATERIALIZED VIEW pending');
    await servedLocallyAsUpstream(through, up, 'SELECT id FROM pending ORDER BY id');

    // Created after the start.
    await up.query(`CREATE MATERIALIZED VIEW later AS SELECT grp, min(id) AS first FROM items GROUP BY grp`);
    await servedLocallyAsUpstream(through, up, 'SELECT * FROM later ORDER BY grp');
    await up.query('GRANT SELECT ON later TO reader');

    // Privileges: like upstream, per role.
    reader = await connectThrough(outpost.port, { database, user: 'reader', password: 'reader-pw' });
    await servedLocallyAsUpstream(reader, up, 'SELECT * FROM other."Mixed Case" ORDER BY id');
    await servedLocallyAsUpstream(reader, up, 'SELECT * FROM later ORDER BY grp');
    assert.equal(await sqlState(reader, SUMMARY), '42501');
    assert.match(await lastRoute(reader), /^upstream/);
    if (opts.expectDetection === 'event-trigger') {
      // The REVOKE's DDL message invalidates the role's privileges at once
      // (without the trigger they are looked up again within 30 s).
      await up.query('REVOKE SELECT ON later FROM reader');
      await eventually(async () => (await sqlState(reader as Client, 'SELECT * FROM later')) === '42501');
      assert.match(await lastRoute(reader), /^upstream/);
    }

    // Dropped: gone from the replica, upstream's error through Outpost.
    await up.query('DROP MATERIALIZED VIEW later');
    await eventually(async () => !replicaCatalog(replica).includes('public.later'), 30_000, 'later dropped');
    assert.equal(await sqlState(through, 'SELECT * FROM later'), '42P01');
    await servedLocallyAsUpstream(through, up, SUMMARY);
  } finally {
    await reader?.end().catch(() => {});
    await through?.end().catch(() => {});
    await outpost.stop();
    await up.end();
  }
}

test('materialized views with the event trigger (superuser)', async () => {
  await pg.query('CREATE DATABASE mv_trigger');
  await scenario({
    database: 'mv_trigger',
    user: { user: 'postgres', password: 'postgres' },
    expectDetection: 'event-trigger',
  });
});

test('materialized views without a superuser: refreshes found by polling', async () => {
  await pg.query(`CREATE ROLE app LOGIN REPLICATION PASSWORD 'app-pw'`);
  await pg.query('CREATE DATABASE mv_poll OWNER app');
  await pg.query('CREATE PUBLICATION outpost FOR ALL TABLES', [], 'mv_poll');
  await scenario({
    database: 'mv_poll',
    user: { user: 'app', password: 'app-pw' },
    expectDetection: 'polling',
  });
});

test('with the event trigger, a session reads its own REFRESH at once', async () => {
  await pg.query('CREATE DATABASE mv_ryw');
  const up = await pg.connect({ database: 'mv_ryw' });
  await up.query(`
    CREATE TABLE t (id int PRIMARY KEY, v int);
    INSERT INTO t SELECT g, g FROM generate_series(1, 20) g;
    CREATE MATERIALIZED VIEW s AS SELECT sum(v) AS total, count(*) AS n FROM t;
    CREATE UNIQUE INDEX ON s (n);
  `);
  const outpost = await startOutpost({
    upstream: pg.url({ database: 'mv_ryw' }),
    replica: join(dir, 'ryw.db'),
  });
  let through: Client | undefined;
  try {
    await outpost.ready();
    through = await connectThrough(outpost.port, { database: 'mv_ryw' });
    await servedLocallyAsUpstream(through, up, 'SELECT * FROM s');
    for (let i = 1; i <= 5; i++) {
      // Written and refreshed through Outpost: the next read waits for the
      // replica to pass the refresh, where the matview is hidden until recopied.
      // (Plain REFRESH: CONCURRENTLY gives the session a temporary schema, and
      // the router then forwards that session's reads, which proves nothing.)
      await through.query(`UPDATE t SET v = v + ${i}`);
      await through.query('REFRESH MATERIALIZED VIEW s');
      const expected = await run(up, 'SELECT * FROM s');
      // Every read equals upstream's, forwarded while the copy is made, then local.
      for (let reads = 1; ; reads++) {
        assert.deepEqual(await run(through, 'SELECT * FROM s'), expected, `read ${reads} after refresh ${i}`);
        if ((await lastRoute(through)) === 'local') break;
        assert.ok(reads < 400, `served locally again after refresh ${i}: ${await lastRoute(through)}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    }
    await servedLocallyAsUpstream(through, up, 'SELECT * FROM s');
  } finally {
    await through?.end().catch(() => {});
    await outpost.stop();
    await up.end();
  }
});

test('with --schemas, the matviews of those schemas only', async () => {
  await pg.query('CREATE DATABASE mv_schemas');
  const up = await pg.connect({ database: 'mv_schemas' });
  await up.query(`
    CREATE SCHEMA kept;
    CREATE TABLE kept.t (id int PRIMARY KEY);
    INSERT INTO kept.t SELECT generate_series(1, 5);
    CREATE MATERIALIZED VIEW kept.m AS SELECT id * 10 AS x FROM kept.t;
    CREATE MATERIALIZED VIEW public.elsewhere AS SELECT id FROM kept.t;
  `);
  const replica = join(dir, 'schemas.db');
  const outpost = await startOutpost({
    upstream: pg.url({ database: 'mv_schemas' }),
    replica,
    args: ['--schemas', 'kept'],
  });
  let through: Client | undefined;
  try {
    await outpost.ready();
    through = await connectThrough(outpost.port, { database: 'mv_schemas' });
    await servedLocallyAsUpstream(through, up, 'SELECT x FROM kept.m ORDER BY x');
    assert.deepEqual(replicaCatalog(replica), ['kept.m', 'kept.t']);
    await through.query('SELECT id FROM public.elsewhere ORDER BY id');
    assert.match(await lastRoute(through), /^upstream/);
    // Created after the start, in and out of scope.
    await up.query('CREATE MATERIALIZED VIEW kept.later AS SELECT count(*) AS n FROM kept.t');
    await up.query('CREATE MATERIALIZED VIEW public.later AS SELECT count(*) AS n FROM kept.t');
    await servedLocallyAsUpstream(through, up, 'SELECT n FROM kept.later');
    assert.deepEqual(replicaCatalog(replica), ['kept.later', 'kept.m', 'kept.t']);
  } finally {
    await through?.end().catch(() => {});
    await outpost.stop();
    await up.end();
  }
});

test('without a superuser: a concurrent refresh while Outpost was stopped is seen after the restart', async () => {
  await pg.query(`CREATE ROLE app2 LOGIN REPLICATION PASSWORD 'app2-pw'`);
  await pg.query('CREATE DATABASE mv_restart OWNER app2');
  await pg.query('CREATE PUBLICATION outpost FOR ALL TABLES', [], 'mv_restart');
  const url = pg.url({ database: 'mv_restart', user: 'app2', password: 'app2-pw' });
  const up = await pg.connect({ database: 'mv_restart', user: 'app2', password: 'app2-pw' });
  await up.query(`
    CREATE TABLE t (id int PRIMARY KEY, v int);
    INSERT INTO t SELECT g, g FROM generate_series(1, 10) g;
    CREATE MATERIALIZED VIEW m AS SELECT id, v FROM t;
    CREATE UNIQUE INDEX ON m (id);
  `);
  const replica = join(dir, 'restart.db');
  const args = ['--matview-refresh', '0.3'];
  const sql = 'SELECT * FROM m ORDER BY id';
  let outpost = await startOutpost({ upstream: url, replica, args });
  let through: Client | undefined;
  try {
    await outpost.ready();
    through = await connectThrough(outpost.port, { database: 'mv_restart' });
    await servedLocallyAsUpstream(through, up, sql);
    await through.end();
    through = undefined;
    await outpost.stop();

    await up.query('UPDATE t SET v = -v WHERE id <= 3');
    await up.query('REFRESH MATERIALIZED VIEW CONCURRENTLY m');
    outpost = await startOutpost({ upstream: url, replica, args });
    await outpost.ready();
    through = await connectThrough(outpost.port, { database: 'mv_restart' });
    await servedLocallyAsUpstream(through, up, sql);
    assert.equal((await run(through, sql)).rows[0]?.[1], '-1');
  } finally {
    await through?.end().catch(() => {});
    await outpost.stop();
    await up.end();
  }
});

test('a matview the replication role cannot read is never served, and holds up neither the snapshot nor a resync', async () => {
  await pg.query(`CREATE ROLE app3 LOGIN REPLICATION PASSWORD 'app3-pw'`);
  await pg.query('CREATE DATABASE mv_private OWNER app3');
  await pg.query('CREATE PUBLICATION outpost FOR ALL TABLES', [], 'mv_private');
  // SELECT on the matview but no USAGE on its schema: reading it is 42501.
  await pg.query(
    `CREATE SCHEMA priv;
     CREATE MATERIALIZED VIEW priv.m AS SELECT 1 AS x;
     CREATE MATERIALIZED VIEW public.theirs AS SELECT 2 AS y;
     GRANT SELECT ON priv.m TO app3;`,
    [],
    'mv_private',
  );
  const up = await pg.connect({ database: 'mv_private', user: 'app3', password: 'app3-pw' });
  await up.query('CREATE MATERIALIZED VIEW mine AS SELECT 3 AS z');
  const replica = join(dir, 'private.db');
  const outpost = await startOutpost({
    upstream: pg.url({ database: 'mv_private', user: 'app3', password: 'app3-pw' }),
    replica,
    args: ['--matview-refresh', '0.3'],
  });
  let through: Client | undefined;
  const su = await pg.connect({ database: 'mv_private' });
  try {
    await outpost.ready();
    through = await connectThrough(outpost.port, { database: 'mv_private' });
    await servedLocallyAsUpstream(through, up, 'SELECT * FROM mine');
    for (const sql of ['SELECT * FROM priv.m', 'SELECT * FROM public.theirs']) {
      assert.deepEqual(await run(through, sql), await run(su, sql));
      assert.match(await lastRoute(through), /^upstream/, sql);
    }
    await su.query('REFRESH MATERIALIZED VIEW priv.m');
    await up.query('CREATE MATERIALIZED VIEW later AS SELECT 4 AS w');
    await servedLocallyAsUpstream(through, up, 'SELECT * FROM later');
    await servedLocallyAsUpstream(through, up, 'SELECT * FROM mine');
    await through.query('SELECT * FROM priv.m');
    assert.match(await lastRoute(through), /^upstream/);
  } finally {
    await through?.end().catch(() => {});
    await outpost.stop();
    await su.end();
    await up.end();
  }
});
