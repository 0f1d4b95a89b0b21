/**
 * `SHOW outpost.last_route` through the extended protocol (drivers that
 * prepare every statement: pgJDBC, asyncpg, psycopg 3 after a few runs) is
 * answered by Outpost like the simple-protocol form, and leaves the route it
 * reports unchanged.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { connectThrough, type OutpostProcess, startOutpost } from './helpers/outpost.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';

let upstream: PostgresInstance;
let outpost: OutpostProcess;
let dir: string;

before(async () => {
  upstream = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'outpost-last-route-'));
  await upstream.query('create table t (id int primary key); insert into t values (1)');
  outpost = await startOutpost({ upstream: upstream.url(), replica: join(dir, 'r.db') });
  await outpost.ready();
});

after(async () => {
  await outpost?.stop();
  await upstream?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('SHOW outpost.last_route as a prepared statement', async () => {
  const c = await connectThrough(outpost.port);
  try {
    const show = async () => {
      const r = await c.query<{ last_route: string }>({
        name: 'lr',
        text: 'SHOW outpost.last_route',
        values: [],
      });
      assert.deepEqual(
        r.fields.map((f) => [f.name, f.dataTypeID]),
        [['last_route', 25]],
      );
      return r.rows[0]?.last_route;
    };
    await c.query({ text: 'select id from t where id = $1', values: [1] });
    assert.equal(await show(), 'local');
    assert.equal(await show(), 'local', 'asking does not change the answer');
    await c.query({ text: 'select count(*) from pg_class where relname = $1', values: ['t'] });
    assert.match((await show()) ?? '', /^upstream: /);
  } finally {
    await c.end();
  }
});
