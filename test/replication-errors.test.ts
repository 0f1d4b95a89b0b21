import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { StartupError } from '../src/errors.js';
import { silentLogger } from '../src/log.js';
import { createMetrics } from '../src/metrics.js';
import { ReplicaStore } from '../src/replica/store.js';
import { ReplicationEngine } from '../src/replication/engine.js';
import { freePort, type PostgresInstance, startPostgres } from './helpers/postgres.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'outpost-repl-err-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function startError(
  url: string,
  file: string,
  opts: { publication?: string } = {},
): Promise<StartupError> {
  const store = ReplicaStore.open(join(dir, file));
  const engine = new ReplicationEngine({
    upstreamUrl: url,
    store,
    logger: silentLogger(),
    metrics: createMetrics(),
    ...opts,
  });
  try {
    await engine.start();
    await engine.stop();
    assert.fail('start() should have failed');
  } catch (err) {
    assert.ok(err instanceof StartupError, `expected StartupError, got ${String(err)}`);
    assert.doesNotMatch(err.message, /\n/);
    assert.doesNotMatch(err.message, /secret|:postgres@/, 'no password in the message');
    assert.equal(engine.status().state, 'error');
    return err;
  } finally {
    store.close();
  }
}

test('unreachable upstream fails fast with a StartupError', async () => {
  const port = await freePort();
  const started = Date.now();
  const err = await startError(`postgres://u:secret@127.0.0.1:${port}/db`, 'unreachable.db');
  assert.match(err.message, new RegExp(`cannot reach upstream Postgres at 127\\.0\\.0\\.1:${port}`));
  assert.ok(Date.now() - started < 5000);
});

test('wal_level=replica is reported with the fix', async () => {
  const pg = await startPostgres({ settings: { wal_level: 'replica' } });
  try {
    const err = await startError(pg.url(), 'wal.db');
    assert.equal(
      err.message,
      "wal_level is 'replica' on the upstream; logical replication needs wal_level=logical: run ALTER SYSTEM SET wal_level = logical; then restart Postgres",
    );
  } finally {
    await pg.stop();
  }
});

test('privileges, authentication and publication problems name the cause', async (t) => {
  let pg: PostgresInstance | undefined = await startPostgres();
  t.after(async () => {
    await pg?.stop();
    pg = undefined;
  });
  await pg.query(`CREATE ROLE plain LOGIN PASSWORD 'secret'`);
  await pg.query(`CREATE ROLE repl LOGIN REPLICATION PASSWORD 'secret'`);
  await pg.query(`CREATE TABLE t (id int PRIMARY KEY)`);
  await pg.query(`CREATE PUBLICATION filtered FOR TABLE t WHERE (id > 0)`);
  await pg.query(`CREATE PUBLICATION inserts_only FOR ALL TABLES WITH (publish = 'insert')`);

  const noRepl = await startError(pg.url({ user: 'plain', password: 'secret' }), 'plain.db');
  assert.match(noRepl.message, /role "plain" lacks the REPLICATION attribute/);
  assert.match(noRepl.message, /ALTER ROLE "plain" REPLICATION/);

  const noSuper = await startError(pg.url({ user: 'repl', password: 'secret' }), 'repl.db');
  // No superuser needed any more, but CREATE on the database is.
  assert.match(
    noSuper.message,
    /cannot create publication "outpost": permission denied for database postgres/,
  );
  assert.match(noSuper.message, /grant role "repl" CREATE on the database/);

  const auth = await startError(pg.url({ user: 'repl', password: 'wrong' }), 'auth.db');
  assert.match(auth.message, /authentication to upstream Postgres at 127\.0\.0\.1:\d+\/postgres failed/);

  const missing = await startError(pg.url(), 'missing.db', { publication: 'nope' });
  assert.match(missing.message, /publication "nope" does not exist/);

  const filtered = await startError(pg.url(), 'filtered.db', { publication: 'filtered' });
  assert.match(filtered.message, /row filter on t/);

  const partial = await startError(pg.url(), 'partial.db', { publication: 'inserts_only' });
  assert.match(partial.message, /does not publish every operation/);

  // None of the failures left a slot behind.
  const slots = await pg.query('SELECT slot_name FROM pg_replication_slots');
  assert.equal(slots.rowCount, 0);
});
