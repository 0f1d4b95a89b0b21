import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startPostgres } from './helpers/postgres.js';

test('test helper starts a real Postgres with wal_level=logical and removes it', async () => {
  const pg = await startPostgres();
  try {
    const r = await pg.query<{ wal_level: string }>('show wal_level');
    assert.equal(r.rows[0]?.wal_level, 'logical');
    assert.ok(pg.version >= 15, `version ${pg.version}`);
    await assert.rejects(pg.connect({ password: 'wrong' }), /password authentication failed/);
  } finally {
    await pg.stop();
  }
});
