/**
 * The parser is Postgres 18's grammar; the upstream may be older. Constructs
 * and input forms Postgres 15 rejects (subqueries in FROM without an alias,
 * '+infinity' dates, 0x1F / 1_000 literals, newer functions) must fail
 * through the Router exactly as upstream fails: never answered locally on
 * Debian's Postgres 15, while the embedded Postgres 17 may answer them
 * (locally only when identical).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Corpus, differ, startCorpus } from './corpus/harness.js';
import { PG15_BIN } from './helpers/postgres.js';

/** Each accepted by Postgres 17, rejected by Postgres 15. */
const NEWER_THAN_15 = [
  'SELECT count FROM (SELECT count(DISTINCT name) FROM users)',
  'SELECT * FROM ((SELECT 1 AS x)), ((SELECT 2 AS y))',
  'SELECT * FROM (VALUES (1), (2)) ORDER BY 1',
  'SELECT id FROM (SELECT id FROM users WHERE id < 3) ORDER BY id',
  "SELECT 'infinity'::date = '+infinity'::date",
  "SELECT '+infinity'::timestamptz",
  "SELECT id FROM users WHERE created_at < '+infinity' ORDER BY id",
  'SELECT any_value(id) FROM users WHERE id = 1',
  'SELECT 0x1F',
  'SELECT 1_000 AS n',
  "SELECT JSON_OBJECT('a': 1)",
  "SELECT '1' IS JSON",
];

let pg15: Corpus;
let pg17: Corpus;

before(async () => {
  [pg15, pg17] = await Promise.all([startCorpus(PG15_BIN), startCorpus()]);
});

after(async () => {
  await Promise.all([pg15?.close(), pg17?.close()]);
});

describe('constructs newer than the upstream', () => {
  test('Postgres 15 rejects them and the Router does not answer them', async () => {
    assert.equal(pg15.pgi.version, 15);
    for (const sql of NEWER_THAN_15) {
      const out = await differ(pg15, sql, true);
      assert.equal(out.kind, 'pg-error', `Postgres 15 accepts ${sql}`);
    }
  });

  test('Postgres 17 accepts them; local answers are identical', async () => {
    assert.equal(pg17.pgi.version, 17);
    let local = 0;
    for (const sql of NEWER_THAN_15) {
      const out = await differ(pg17, sql, true);
      assert.notEqual(out.kind, 'pg-error', `Postgres 17 rejects ${sql}`);
      if (out.kind === 'local') local++;
    }
    // Subqueries without an alias are local on 16+.
    assert.ok(local >= 3, `only ${local} local on Postgres 17`);
  });
});
