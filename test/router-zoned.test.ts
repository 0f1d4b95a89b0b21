/**
 * timestamptz constants without an offset (`created_at >= '2024-03-01'`):
 * Postgres reads them in the session's TimeZone. They are local under UTC
 * and fixed-offset zones (converted per run, from the session), and
 * forwarded under zones with daylight rules — every local answer equal to
 * Postgres's under each zone.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Corpus, differ, startCorpus } from './corpus/harness.js';

let c: Corpus;

before(async () => {
  c = await startCorpus();
});

after(async () => {
  await c?.close();
});

const STATEMENTS = [
  "SELECT id, created_at FROM users WHERE created_at >= '2024-03-01' ORDER BY created_at, id",
  "SELECT id FROM users WHERE created_at < '2024-02-15 12:30' ORDER BY id",
  "SELECT id FROM orders WHERE placed_at BETWEEN '2024-01-10T06:00:00' AND '2024-01-20 18:45:30.5' ORDER BY id",
  "SELECT count(*) FROM orders WHERE placed_at > '2024-01-05 00:00:00.000001'",
  "SELECT id FROM users WHERE created_at = '2024-01-03 09:17:03.5' OR created_at IS NULL ORDER BY id",
];

const ZONES: [string, 'local' | 'forwarded'][] = [
  ["'UTC'", 'local'],
  ["INTERVAL '+05:30' HOUR TO MINUTE", 'local'],
  ['-3', 'local'],
  ["INTERVAL '-09:00' HOUR TO MINUTE", 'local'],
  ["'Europe/Paris'", 'forwarded'],
  ["'America/New_York'", 'forwarded'],
];

for (const [zone, expected] of ZONES) {
  test(`SET TIME ZONE ${zone}: ${expected}, and equal to Postgres when local`, async () => {
    await c.client.query(`SET TIME ZONE ${zone}`);
    try {
      for (const sql of STATEMENTS) {
        const outcome = await differ(c, sql, false);
        assert.equal(
          outcome.kind === 'local' ? 'local' : 'forwarded',
          expected,
          `${sql}: ${JSON.stringify(outcome)}`,
        );
        if (outcome.kind === 'forwarded') assert.match(outcome.reason, /TimeZone/);
      }
    } finally {
      await c.client.query('RESET TIME ZONE');
    }
  });
}

test('the same compiled statement follows each session zone (no zone baked into the cache)', async () => {
  const sql = "SELECT count(*) FROM orders WHERE placed_at >= '2024-01-12 08:00'";
  const counts: string[] = [];
  for (const zone of ["'UTC'", "INTERVAL '+08:00' HOUR TO MINUTE", "INTERVAL '-08:00' HOUR TO MINUTE"]) {
    await c.client.query(`SET TIME ZONE ${zone}`);
    const outcome = await differ(c, sql, false);
    assert.equal(outcome.kind, 'local', zone);
    const r = await c.client.query<{ count: string }>(sql);
    counts.push(r.rows[0]?.count as string);
  }
  await c.client.query('RESET TIME ZONE');
  assert.equal(new Set(counts).size, 3, `the zone changes the answer: ${counts.join(', ')}`);
});
