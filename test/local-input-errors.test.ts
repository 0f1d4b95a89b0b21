/**
 * A constant's input error (int4in, interval_in), or a planning error of a
 * folded constant expression (1/0, integer overflow), raised locally through the
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

// Errors Postgres raises while planning: an immutable operation over constants (src/router/plan-errors.ts).
const PLANNED = [
  'SELECT id, 1/0 FROM t WHERE id < 0',
  'SELECT 2147483647 + 1',
  "SELECT id FROM t WHERE id = '9223372036854775807'::int8 * 2",
  "SELECT 'NaN'::numeric::int4, 1",
];

test('a planning error of a folded constant: raised locally exactly as upstream raises it, with no row read', async () => {
  for (const sql of PLANNED) {
    const got = await failure(through, sql);
    assert.equal(await lastRoute(through), 'local', sql);
    assert.deepEqual(got, await failure(direct, sql), sql);
    assert.equal(got.position, undefined, sql);
    const r = await through.query('SELECT id FROM t');
    assert.deepEqual(r.rows, [{ id: 1 }]);
  }
});

test('a planning error in a transaction block, prepared, beside another error or after an input error: upstream', async () => {
  await through.query('BEGIN READ ONLY');
  assert.equal((await failure(through, 'SELECT 1/0')).code, '22012');
  assert.match(await lastRoute(through), /^upstream: division by zero/);
  assert.equal((await failure(through, 'SELECT id FROM t')).code, '25P02');
  await through.query('ROLLBACK');

  // Extended protocol: Postgres plans at Bind; upstream raises it there.
  const prepared = 'SELECT 1/0 FROM t WHERE id = $1::int4';
  const got = await failure(through, prepared, [1]);
  assert.match(await lastRoute(through), /^upstream: /);
  assert.deepEqual(got, await failure(direct, prepared, [1]));

  // Two different errors: which one Postgres folds first is upstream's to say.
  assert.equal((await failure(through, 'SELECT 2147483647 + 1, 1/0')).code, '22003');
  assert.match(await lastRoute(through), /^upstream: /);
  // Under CASE the constant may be pruned: upstream decides.
  assert.equal((await failure(through, 'SELECT CASE WHEN id > 0 THEN 1/0 END FROM t')).code, '22012');
  assert.match(await lastRoute(through), /^upstream: /);

  // Analysis comes first: the input error is the answer (locally, with its position).
  const sql = "SELECT 1/0, '12x'::int4";
  const input = await failure(through, sql);
  assert.equal(await lastRoute(through), 'local');
  assert.deepEqual(input, await failure(direct, sql));
  assert.equal(input.code, '22P02');
});

test('a malformed json constant: raised locally with upstream DETAIL and CONTEXT (the JSON line)', async () => {
  const where = async (c: pg.Client, sql: string): Promise<Record<string, unknown>> => {
    try {
      await c.query(sql);
    } catch (err) {
      return { ...errorFields(err), where: (err as { where?: string }).where };
    }
    assert.fail(`no error for ${sql}`);
  };
  for (const sql of [
    `SELECT id FROM t WHERE '{"a":1,}'::jsonb IS NULL`,
    `SELECT E'[1,\\n  2,\\n  "averyveryveryveryveryveryveryverylongvalue" x]'::json`,
  ]) {
    const got = await where(through, sql);
    assert.equal(await lastRoute(through), 'local', sql);
    assert.deepEqual(got, await where(direct, sql), sql);
    assert.match(String(got.where), /^JSON data, line \d+: /);
  }
});
