/**
 * WalSync (src/replica/wal-sync.ts): the hub's replica is committed without
 * an fsync (synchronous=NORMAL) and fsynced in the thread pool; what it lets
 * be confirmed upstream never runs ahead of a sync that covered the commit.
 * Real files and a real SQLite replica; a sync that fails (the file cannot
 * be opened) holds everything back until one succeeds.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createLogger } from '../src/log.js';
import { ReplicaStore } from '../src/replica/store.js';
import { WalSync } from '../src/replica/wal-sync.js';
import { waitFor } from './helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'outpost-wal-sync-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const logger = createLogger({ level: 'silent' });

test('confirmable is what a finished sync covered; it asks for the rest and says when it is there', async () => {
  const path = join(dir, 'a.db');
  const store = ReplicaStore.open(path);
  store.relaxSync();
  assert.equal(store.db.pragma('synchronous', { simple: true }), 1, 'NORMAL on the writer');
  let told = 0;
  const sync = new WalSync(path, { logger, onDurable: () => told++ });
  try {
    store.setAppliedLsn(100n);
    // Nothing synced yet: nothing may be confirmed, but a sync starts.
    assert.equal(sync.confirmable(100n), 0n);
    await waitFor('first sync', () => sync.durableLsn() === 100n, 5_000);
    assert.equal(told, 1);
    assert.equal(sync.confirmable(100n), 100n);
    // Never more than the committed position asked about.
    assert.equal(sync.confirmable(50n), 50n);

    // Commits while a sync runs are covered by the next one, not by the one in flight.
    store.setAppliedLsn(200n);
    assert.equal(sync.confirmable(200n), 100n);
    store.setAppliedLsn(300n);
    assert.equal(sync.confirmable(300n), 100n);
    await waitFor('later syncs', () => sync.durableLsn() === 300n, 5_000);
    assert.ok(sync.syncs >= 2 && sync.syncs <= 3, `syncs ${sync.syncs}`);
    assert.ok(told >= 2);
  } finally {
    sync.close();
    store.close();
  }
});

test('syncNow makes what an earlier process committed durable at once', () => {
  const path = join(dir, 'b.db');
  const store = ReplicaStore.open(path);
  store.relaxSync();
  store.setAppliedLsn(42n);
  const sync = new WalSync(path, { logger });
  sync.syncNow(42n);
  assert.equal(sync.durableLsn(), 42n);
  assert.equal(sync.confirmable(42n), 42n);
  sync.close();
  store.close();
});

test('a sync that fails confirms nothing; once the file can be synced, everything asked for becomes durable', async () => {
  // The replica's directory does not exist yet: opening the WAL (and the database) fails.
  const sub = join(dir, 'later');
  const path = join(sub, 'c.db');
  let told = 0;
  const sync = new WalSync(path, { logger, onDurable: () => told++ });
  try {
    assert.equal(sync.confirmable(500n), 0n);
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(sync.durableLsn(), 0n, 'a failed sync made nothing durable');
    assert.equal(sync.confirmable(500n), 0n);
    assert.equal(told, 0);
    mkdirSync(sub);
    const store = ReplicaStore.open(path);
    store.relaxSync();
    store.setAppliedLsn(500n);
    // The retry (every 200 ms) succeeds now.
    await waitFor('retried sync', () => sync.durableLsn() === 500n, 5_000);
    assert.equal(told, 1);
    store.close();
  } finally {
    sync.close();
  }
});

test('closed: no sync starts and nothing more becomes durable', async () => {
  const path = join(dir, 'd.db');
  const store = ReplicaStore.open(path);
  const sync = new WalSync(path, { logger });
  sync.close();
  assert.equal(sync.confirmable(10n), 0n);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(sync.durableLsn(), 0n);
  assert.equal(sync.syncs, 0);
  store.close();
});
