/**
 * A backlog streamed while the engine awaits (its startup catalog check, a
 * resync): queued messages must survive the connection reading more data
 * (pg reuses its parse buffer), and the replica must equal upstream.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { silentLogger } from '../src/log.js';
import { createMetrics } from '../src/metrics.js';
import { ReplicaStore } from '../src/replica/store.js';
import { ReplicationEngine } from '../src/replication/engine.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';
import { byPgNames } from './helpers/replica-views.js';

let pg: PostgresInstance;
let dir: string;

before(async () => {
  pg = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'outpost-backlog-'));
});

after(async () => {
  await pg?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function engineFor(store: ReplicaStore): ReplicationEngine {
  return new ReplicationEngine({
    upstreamUrl: pg.url(),
    store,
    logger: silentLogger(),
    metrics: createMetrics(),
  });
}

test('a backlog of many transactions, queued during awaits, is applied exactly', async () => {
  await pg.query(
    `CREATE TABLE acc (id int PRIMARY KEY, bal int NOT NULL, note text NOT NULL);
     INSERT INTO acc SELECT g, 0, repeat('x', g % 300) FROM generate_series(1, 2000) g;
     CREATE PROCEDURE churn(n int) LANGUAGE plpgsql AS $$
     BEGIN
       FOR i IN 1..n LOOP
         UPDATE acc SET bal = bal + i, note = repeat(chr(97 + i % 26), (i * 37) % 700) WHERE id = 1 + (i * 7919) % 2000;
         -- DDL now and then: the engine awaits a catalog lookup while the stream keeps coming.
         IF i % 200 = 0 THEN
           EXECUTE format('COMMENT ON TABLE acc IS %L', 'round ' || i);
         END IF;
         COMMIT;
       END LOOP;
     END $$;`,
  );
  const store = ReplicaStore.open(join(dir, 'backlog.db'));
  let engine = engineFor(store);
  try {
    await engine.start();
    await engine.stop();
    for (let round = 0; round < 3; round++) {
      await pg.query('CALL churn(20000)');
      const want = (
        await pg.query<{ id: number; bal: number; note: string }>('SELECT id, bal, note FROM acc ORDER BY id')
      ).rows.map((r) => [r.id, r.bal, r.note]);
      engine = engineFor(store);
      await engine.start();
      const deadline = Date.now() + 60_000;
      let got: unknown[] = [];
      for (;;) {
        got = byPgNames(store.reader)
          .prepare('SELECT id, bal, note FROM "public.acc" ORDER BY id')
          .raw()
          .all();
        if (JSON.stringify(got) === JSON.stringify(want) || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.deepEqual(got, want, `round ${round}`);
      await engine.stop();
    }
  } finally {
    await engine.stop();
    store.close();
  }
});
