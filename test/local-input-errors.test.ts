/**
 * A constant's input error (int4in, interval_in) raised locally through the
 * wire (src/server/client-session.ts, LocalError): the same ErrorResponse
 * fields as Postgres's and ReadyForQuery idle; inside a transaction block,
 * through the extended protocol and after another statement of the same
 * query string it is upstream's own (so upstream's transaction state follows).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type pg from 'pg';
import { errorFields } from './corpus/harness.js';
import { connectThrough, lastRoute, type OutpostProcess, startOutpost } from './helpers/outpost.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';

let upstream: PostgresInstance;
let outpost: OutpostProcess;
let dir: string;
let through: pg.Client;
let direct: pg.Client;

before(async () => {
  upstream = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'outpost-input-errors-'));
  await upstream.query('create table t (id int primary key, took interval); insert into t values (1, null)');
  outpost = await startOutpost({ upstream: upstream.url(), replica: join(dir, 'replica.db') });
  await outpost.ready();
  through = await connectThrough(outpost.port);
  direct = await upstream.connect();
});

after(async () => {
  await through?.end();
  await direct?.end();
  await outpost?.stop();
  await upstream?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function failure(c: pg.Client, sql: string, values?: unknown[]): Promise<Record<string, unknown>> {
  try {
    await c.query(sql, values);
  } catch (err) {
    return errorFields(err);
  }
  assert.fail(`no error for ${sql}`);
}

const LOCAL = [
  "SELECT '12x'::int4",
  "SELECT id FROM t WHERE id = ' 99999999999 '",
  "SELECT 'é', interval '2147483648 years'",
  "SELECT id, took FROM t WHERE took < '1 day 1 day'",
];

test('raised locally exactly as upstream raises it, then idle', async () => {
  for (const sql of LOCAL) {
    const got = await failure(through, sql);
    assert.equal(await lastRoute(through), 'local', sql);
    assert.deepEqual(got, await failure(direct, sql), sql);
    // The session is idle and usable.
    const r = await through.query('SELECT id FROM t');
    assert.deepEqual(r.rows, [{ id: 1 }]);
  }
});

test('in a transaction block, prepared, or after another statement: upstream raises it', async () => {
  await through.query('BEGIN READ ONLY');
  const got = await failure(through, LOCAL[0] as string);
  assert.match(await lastRoute(through), /^upstream: int4 constant: not a plain integer/);
  assert.equal(got.code, '22P02');
  // Upstream's transaction is aborted too.
  assert.equal((await failure(through, 'SELECT id FROM t')).code, '25P02');
  await through.query('ROLLBACK');

  assert.equal((await failure(through, "SELECT '12x'::int4 WHERE $1::int4 > 0", [1])).code, '22P02');
  assert.match(await lastRoute(through), /^upstream: /);

  assert.equal((await failure(through, "SELECT 1; SELECT '12x'::int4")).code, '22P02');
  assert.match(await lastRoute(through), /^upstream: /);
  // Two failing constants: which one Postgres reports first is upstream's to say.
  assert.equal(
    (await failure(through, "SELECT '1x'::int4, '2x'::int4")).message,
    'invalid input syntax for type integer: "1x"',
  );
  assert.match(await lastRoute(through), /^upstream: /);
});
