/**
 * The hub's replica is committed without an fsync in each COMMIT
 * (synchronous=NORMAL) and fsynced off the event loop (src/replica/wal-sync.ts):
 * under a stream of writes, the slot is never confirmed past what a sync has
 * covered nor past what JetStream acknowledged, and it does get confirmed
 * (the gate releases). Real Postgres, real nats-server, the hub in process,
 * with its engine on the main thread (the default) and in a replication thread
 * (OUTPOST_HUB_APPLY_THREAD=1: the gate crosses threads, src/replication/tap-relay.ts).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Hub, parsePublishArgs } from '../src/commands/publish.js';
import { createLogger } from '../src/log.js';
import { EngineThread } from '../src/replication/engine-thread.js';
import { parseLsn } from '../src/replication/lsn.js';
import { type NatsInstance, startPostgresAndNats } from './helpers/nats.js';
import { freePort, type PostgresInstance } from './helpers/postgres.js';
import { byPgNames } from './helpers/replica-views.js';
import { waitFor } from './helpers/wait.js';

let pg: PostgresInstance;
let nats: NatsInstance;
let dir: string;

before(async () => {
  [pg, nats] = await startPostgresAndNats();
  dir = mkdtempSync(join(tmpdir(), 'outpost-nats-hub-sync-'));
});

after(async () => {
  await nats?.cleanup();
  await pg?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

for (const mode of ['main', 'thread'] as const) {
  test(`hub (engine on the ${mode === 'main' ? 'main' : 'replication'} thread): the slot is confirmed only up to what is both fsynced and acknowledged by JetStream, and it is confirmed`, () =>
    gate(mode));
}

async function gate(mode: 'main' | 'thread'): Promise<void> {
  const table = `sync_${mode}`;
  const slot = `outpost_sync_${mode}`;
  const confirmed = async (): Promise<bigint> => {
    const r = await pg.query<{ c: string | null }>(
      'SELECT confirmed_flush_lsn::text AS c FROM pg_replication_slots WHERE slot_name = $1',
      [slot],
    );
    return parseLsn(r.rows[0]?.c ?? '0/0');
  };
  await pg.query(`CREATE TABLE ${table} (id int PRIMARY KEY, v text)`);
  const http = await freePort();
  const parsed = parsePublishArgs(
    [
      '--upstream',
      pg.url(),
      '--nats',
      nats.url,
      '--stream',
      `SYNC_${mode}`,
      '--slot',
      slot,
      '--replica',
      join(dir, `hub-${mode}.db`),
      '--http',
      `127.0.0.1:${http}`,
      '--snapshot-interval',
      '0',
    ],
    mode === 'thread' ? { OUTPOST_HUB_APPLY_THREAD: '1' } : {},
  );
  if (parsed === 'help') throw new Error('help');
  const hub = await Hub.start(parsed, createLogger({ level: process.env.OUTPOST_TEST_LOG ?? 'silent' }));
  try {
    await hub.replicationStarted;
    assert.equal(hub.engine instanceof EngineThread, mode === 'thread');
    assert.equal(hub.walSync.synchronous, 1, 'the hub commits without fsync');

    // Many small transactions, sampling the slot as they go.
    let violations = 0;
    let samples = 0;
    let writing = true;
    // The slot starts at its consistent point, confirmed by Postgres itself when it was made: a
    // gate that has not moved yet (nothing published or synced since start) does not hold that back.
    const initial = await confirmed();
    const sampler = (async () => {
      while (writing) {
        // Read the gates before the slot: each only grows, so a slot past them was confirmed past them.
        const synced = hub.walSync.durableLsn();
        const acked = hub.publisher.durable();
        const c = await confirmed();
        samples++;
        if (c > initial && (c > synced || c > acked)) {
          // The slot may be read after a gate moved on; re-read the gates to tell.
          if (c > hub.walSync.durableLsn() || c > hub.publisher.durable()) violations++;
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    for (let i = 0; i < 300; i++) {
      await pg.query(`INSERT INTO ${table} VALUES ($1, $2)`, [i, `v${i}`]);
    }
    const target = parseLsn(
      (await pg.query<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l')).rows[0]?.l ?? '0/0',
    );
    await waitFor('slot confirmed up to the writes', async () => (await confirmed()) >= target, 30_000);
    writing = false;
    await sampler;
    assert.ok(samples > 10, `samples ${samples}`);
    assert.equal(violations, 0, 'the slot was confirmed past an fsync or a JetStream ack');
    assert.ok(hub.walSync.syncs > 0, 'the replica was fsynced');
    assert.ok(hub.walSync.durableLsn() >= target);

    const status = (await (await fetch(`http://127.0.0.1:${http}/status`)).json()) as {
      replica: { durableLsn: string };
    };
    assert.ok(parseLsn(status.replica.durableLsn) >= target, '/status shows the durable position');
    const rows = byPgNames(hub.store.reader).prepare(`SELECT count(*) AS n FROM "public.${table}"`).get() as
      | { n: number }
      | undefined;
    assert.equal(rows?.n, 300);
  } finally {
    await hub.stop();
  }
}
