/**
 * Several instances (one per region) starting at the same moment on a fresh
 * upstream race to create the publication and the DDL event trigger: every
 * one of them must start, each with its own slot.
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

let upstream: PostgresInstance;
let dir: string;

before(async () => {
  upstream = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'outpost-race-'));
  await upstream.query('create table t (id int primary key); insert into t values (1), (2)');
});

after(async () => {
  await upstream?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('four instances starting at once on a fresh upstream all start', async () => {
  const stores = [0, 1, 2, 3].map((i) => ReplicaStore.open(join(dir, `r${i}.db`)));
  const engines = stores.map(
    (store) =>
      new ReplicationEngine({
        upstreamUrl: upstream.url(),
        store,
        logger: silentLogger(),
        metrics: createMetrics(),
      }),
  );
  try {
    const results = await Promise.allSettled(engines.map((e) => e.start()));
    assert.deepEqual(
      results.map((r) => (r.status === 'fulfilled' ? 'ok' : String(r.reason))),
      ['ok', 'ok', 'ok', 'ok'],
    );
    const slots = new Set(stores.map((s) => s.getMeta('slot')));
    assert.equal(slots.size, 4, 'each instance has its own slot');
    for (const s of stores) {
      assert.deepEqual(
        byPgNames(s.reader).prepare('select id from "public.t" order by id').pluck().all(),
        [1, 2],
      );
    }
  } finally {
    for (const e of engines) await e.stop();
    for (const s of stores) s.close();
  }
});
