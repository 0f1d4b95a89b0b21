/**
 * Enum columns on the read path: served from the labels the catalog records
 * (pg_enum in enumsortorder order), compared and sorted in declaration order,
 * and forwarded whenever the replica cannot know the labels (a catalog
 * written before they were recorded, label lists that disagree). The label
 * list follows upstream's ALTER TYPE through the replication engine.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { NotLocal } from '../src/errors.js';
import { silentLogger } from '../src/log.js';
import { createMetrics } from '../src/metrics.js';
import { ReplicaStore } from '../src/replica/store.js';
import { ReplicationEngine } from '../src/replication/engine.js';
import { parseLsn } from '../src/replication/lsn.js';
import { Router } from '../src/router/router.js';
import type { LocalResult } from '../src/router/types.js';
import type { SessionState } from '../src/session.js';
import { compareResult } from './corpus/harness.js';
import { samePrepared } from './helpers/differential.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';
import { connectTracked, createReplicaFixture, rawTypes } from './helpers/replica-fixture.js';
import { byPgNames } from './helpers/replica-views.js';
import { waitFor } from './helpers/wait.js';

let pgi: PostgresInstance;
let dir: string;

before(async () => {
  pgi = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'outpost-enums-'));
});

after(async () => {
  await pgi?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/**
 * Wait until the engine has applied everything upstream wrote so far and no
 * table awaits a resync (each ALTER TYPE marks the table stale, and the
 * resync of one may finish before the next is seen), and `check` holds.
 */
async function settled(
  client: pg.Client,
  engine: ReplicationEngine,
  what: string,
  check: () => boolean,
): Promise<void> {
  const r = await client.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
  const target = parseLsn(r.rows[0]?.lsn as string);
  await waitFor(what, () => {
    const s = engine.status();
    return parseLsn(s.appliedLsn) >= target && s.staleTables === 0 && check();
  });
}

async function remote(client: pg.Client, sql: string): Promise<pg.QueryResult<unknown[]>> {
  return (await client.query({ text: sql, rowMode: 'array', types: rawTypes })) as unknown as pg.QueryResult<
    unknown[]
  >;
}

/** Route `sql`: the local answer (which must equal Postgres's), or the reason it was forwarded. */
async function differ(
  router: Router,
  client: pg.Client,
  session: SessionState,
  sql: string,
): Promise<LocalResult | string> {
  const route = router.route(sql, session);
  if (route.kind !== 'local') return route.kind === 'upstream' ? route.reason : route.kind;
  let local: LocalResult;
  try {
    local = route.run()[0] as LocalResult;
  } catch (err) {
    if (err instanceof NotLocal) return `run: ${err.reason}`;
    throw err;
  }
  compareResult(sql, local, await remote(client, sql), false);
  return local;
}

/**
 * Route until answered locally: after an ALTER TYPE the table may be hidden
 * again for a moment (every DDL notice naming the type marks it for a
 * resync), and only that is waited out; any local answer must equal
 * Postgres's, and any other reason to forward fails.
 */
async function settledLocal(
  router: Router,
  client: pg.Client,
  session: SessionState,
  sql: string,
): Promise<LocalResult> {
  return waitFor(`a local answer to ${sql}`, async () => {
    const out = await differ(router, client, session, sql);
    if (typeof out !== 'string') return out;
    assert.match(out, /not in replica/, `${sql} forwarded`);
    return undefined;
  });
}

function assertLocal(out: LocalResult | string, sql: string): LocalResult {
  assert.notEqual(typeof out, 'string', `${sql} forwarded: ${String(out)}`);
  return out as LocalResult;
}

describe('enum labels follow upstream ALTER TYPE', () => {
  test('ADD VALUE (BEFORE/AFTER) and RENAME VALUE: the new order and labels are used locally', async () => {
    await pgi.query('CREATE DATABASE enums_engine');
    const { client, session } = await connectTracked(pgi, { database: 'enums_engine' });
    await client.query(
      `CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
       CREATE TABLE t (id int PRIMARY KEY, m mood, n mood);
       INSERT INTO t VALUES (1, 'happy', 'sad'), (2, 'sad', 'ok'), (3, 'ok', NULL), (4, NULL, 'happy');`,
    );
    const store = ReplicaStore.open(join(dir, 'enums.db'));
    const engine = new ReplicationEngine({
      upstreamUrl: pgi.url({ database: 'enums_engine' }),
      store,
      logger: silentLogger(),
      metrics: createMetrics(),
    });
    try {
      await engine.start();
      await waitFor('t replicated', () => store.findTable('public', 't'));
      const router = await Router.create({
        catalog: store,
        reader: store.reader,
        database: 'enums_engine',
        textCollationIsC: true,
        textCtypeIsC: true,
      });
      const ordered = 'SELECT id, m, n, m < n AS lt FROM t ORDER BY m, id';
      assert.deepEqual(store.findTable('public', 't')?.columns[1]?.enumLabels, ['sad', 'ok', 'happy']);
      let out = assertLocal(await differ(router, client, session, ordered), ordered);
      assert.deepEqual(
        out.rows.map((r) => r[1]),
        ['sad', 'ok', 'happy', null],
      );

      // A label added before an existing one: its sort order (enumsortorder
      // 1.5) puts it between 'sad' and 'ok', not after 'happy'.
      await client.query(`ALTER TYPE mood ADD VALUE 'meh' BEFORE 'ok'`);
      await client.query(`ALTER TYPE mood ADD VALUE 'ecstatic' AFTER 'happy'`);
      await client.query(`INSERT INTO t VALUES (5, 'meh', 'ecstatic'), (6, 'ecstatic', 'meh')`);
      await settled(client, engine, 'labels and rows refreshed', () => {
        const t = store.findTable('public', 't');
        if (
          JSON.stringify(t?.columns[1]?.enumLabels) !==
          JSON.stringify(['sad', 'meh', 'ok', 'happy', 'ecstatic'])
        )
          return false;
        return byPgNames(store.reader).prepare('SELECT count(*) FROM "public.t"').pluck().get() === 6;
      });
      out = await settledLocal(router, client, session, ordered);
      assert.deepEqual(
        out.rows.map((r) => r[1]),
        ['sad', 'meh', 'ok', 'happy', 'ecstatic', null],
      );
      for (const sql of [
        "SELECT id FROM t WHERE m = 'meh' ORDER BY id",
        "SELECT id, m FROM t WHERE m > 'meh' ORDER BY m DESC, id",
        'SELECT min(m), max(m), min(n), max(n) FROM t',
        'SELECT n, count(*) FROM t GROUP BY n ORDER BY n NULLS FIRST',
      ]) {
        await settledLocal(router, client, session, sql);
      }

      // A label renamed: stored text and catalog change together.
      await client.query(`ALTER TYPE mood RENAME VALUE 'sad' TO 'blue'`);
      await settled(client, engine, 'rename replicated', () => {
        const t = store.findTable('public', 't');
        return t?.columns[1]?.enumLabels?.[0] === 'blue';
      });
      out = await settledLocal(router, client, session, ordered);
      assert.equal(out.rows[0]?.[1], 'blue');
      const renamed = "SELECT id FROM t WHERE m = 'blue' OR n = 'blue' ORDER BY id";
      assert.equal((await settledLocal(router, client, session, renamed)).rows.length, 2);
      // The old label is no longer valid input: Postgres raises 22P02, so it is forwarded.
      const old = "SELECT id FROM t WHERE m = 'sad'";
      const reason = await waitFor('the table visible again', async () => {
        const out = String(await differ(router, client, session, old));
        return /not in replica/.test(out) ? undefined : out;
      });
      assert.match(reason, /invalid input value for enum mood/);
      await assert.rejects(remote(client, old), /invalid input value for enum mood/);
    } finally {
      await engine.stop();
      store.close();
      await client.end();
    }
  });
});

describe('enum columns the replica cannot compare are forwarded', () => {
  let client: pg.Client;
  let session: SessionState;
  const fixture = createReplicaFixture();

  before(async () => {
    await pgi.query('CREATE DATABASE enums_fixture');
    ({ client, session } = await connectTracked(pgi, { database: 'enums_fixture' }));
    await client.query(
      `CREATE TYPE color AS ENUM ('red', 'green', 'blue');
       CREATE TABLE a (id int PRIMARY KEY, c color);
       CREATE TABLE b (id int PRIMARY KEY, c color);
       INSERT INTO a VALUES (1, 'blue'), (2, 'red'), (3, NULL);
       INSERT INTO b VALUES (1, 'green'), (2, 'blue');`,
    );
    await fixture.load(client, [
      { schema: 'public', name: 'a' },
      { schema: 'public', name: 'b' },
    ]);
    await client.query('RESET ALL');
  });

  after(async () => {
    await client?.end();
    fixture.close();
  });

  async function routerWith(
    edit: (name: string, labels: string[] | undefined) => string[] | undefined,
  ): Promise<Router> {
    const tables = fixture.catalog.tables().map((t) => ({
      ...t,
      columns: t.columns.map((col) => {
        const { enumLabels, ...rest } = col;
        const labels = edit(t.name, enumLabels);
        return labels === undefined ? rest : { ...rest, enumLabels: labels };
      }),
    }));
    return Router.create({
      catalog: {
        catalogVersion: 1,
        findTable: (schema, name) => tables.find((t) => t.schema === schema && t.name === name),
        tables: () => tables,
        snapshotComplete: () => true,
      },
      reader: fixture.reader,
      database: 'enums_fixture',
      textCollationIsC: true,
      textCtypeIsC: true,
    });
  }

  test('with the labels: local and equal to Postgres', async () => {
    const router = await routerWith((_, labels) => labels);
    for (const sql of [
      'SELECT * FROM a ORDER BY c, id',
      "SELECT a.id, b.id FROM a JOIN b ON b.c > a.c WHERE a.c <> 'green' ORDER BY 1, 2",
      'SELECT c FROM a UNION SELECT c FROM b ORDER BY 1',
      "SELECT id, c::text FROM a WHERE c IN ('red', 'blue') ORDER BY c DESC",
    ]) {
      assertLocal(await differ(router, client, session, sql), sql);
    }
    // Shapes that differ only in their constants: each answered for its own label.
    const red = assertLocal(await differ(router, client, session, "SELECT id FROM a WHERE c = 'red'"), 'red');
    const blue = assertLocal(
      await differ(router, client, session, "SELECT id FROM a WHERE c = 'blue'"),
      'blue',
    );
    assert.deepEqual([red.rows, blue.rows], [[['2']], [['1']]]);
    assert.match(
      String(await differ(router, client, session, "SELECT id FROM a WHERE c = 'Red'")),
      /invalid input value for enum color/,
    );
  });

  test('parameters typed by an enum column: ParameterDescription, labels checked at Bind', async () => {
    const router = await routerWith((_, labels) => labels);
    const cases: [string, (string | null)[][]][] = [
      ['SELECT id, c FROM a WHERE c = $1 ORDER BY id', [['red'], ['blue'], [null]]],
      ['SELECT id FROM a WHERE c < $1 OR c = $1 ORDER BY id', [['green'], ['red']]],
      ['SELECT id FROM a WHERE c IN ($1, $2) ORDER BY id', [['red', 'blue']]],
      ['SELECT a.id FROM a JOIN b ON b.c = a.c WHERE b.c <> $1 ORDER BY 1', [['green']]],
    ];
    for (const [sql, executions] of cases) await samePrepared(router, client, session, sql, executions);
    // Not a label (case and blanks count): Postgres raises 22P02 at Bind, so the run is forwarded.
    const route = router.prepare('SELECT id FROM a WHERE c = $1', [], session);
    assert.equal(route.kind, 'local');
    if (route.kind !== 'local') return;
    for (const bad of ['Red', ' red', '']) {
      assert.throws(() => route.prepared.run([bad]), /invalid input value for enum/);
      await assert.rejects(
        client.query('SELECT id FROM a WHERE c = $1', [bad]),
        /invalid input value for enum color/,
      );
    }
  });

  test('a catalog without labels (a replica file from before they were recorded)', async () => {
    const router = await routerWith(() => undefined);
    assert.match(
      String(await differ(router, client, session, 'SELECT id, c FROM a ORDER BY id')),
      /type color .* not rendered locally/,
    );
    assert.match(
      String(await differ(router, client, session, "SELECT id FROM a WHERE c = 'red'")),
      /input of type \d+ not supported/,
    );
    assert.match(
      String(await differ(router, client, session, 'SELECT id FROM a ORDER BY c')),
      /comparison on type color/,
    );
    // Columns of other types of the same table are still served.
    assertLocal(await differ(router, client, session, 'SELECT id FROM a ORDER BY id'), 'ids');
  });

  test('tables whose label lists differ (one copied before an ALTER TYPE)', async () => {
    const router = await routerWith((name, labels) => (name === 'b' ? labels?.slice(0, 2) : labels));
    assert.match(
      String(await differ(router, client, session, 'SELECT a.id FROM a JOIN b ON b.c = a.c')),
      /labels of enum color differ/,
    );
    // A stored label missing from the list aborts the run rather than sorting it anywhere.
    assert.match(
      String(await differ(router, client, session, 'SELECT id FROM b ORDER BY c')),
      /run: enum label unknown to the replica/,
    );
  });
});
