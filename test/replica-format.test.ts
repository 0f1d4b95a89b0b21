/**
 * The replica file's layout version (meta `format`): a new file gets the
 * current one; a file of layout 1 (no `format`) is marked incomplete so it
 * is never read and is copied afresh; a newer layout is refused, untouched.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { REPLICA_FORMAT } from '../src/replica/schema.js';
import { ReplicaStore } from '../src/replica/store.js';

const dir = mkdtempSync(join(tmpdir(), 'outpost-format-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a new file is written in the current layout', () => {
  const store = ReplicaStore.open(join(dir, 'new.db'));
  try {
    assert.equal(store.getMeta('format'), String(REPLICA_FORMAT));
    assert.equal(store.formatReplaced, undefined);
    assert.equal(store.getMeta('snapshot_state'), undefined);
  } finally {
    store.close();
  }
  const again = ReplicaStore.open(join(dir, 'new.db'));
  try {
    assert.equal(again.formatReplaced, undefined);
  } finally {
    again.close();
  }
});

test('a complete replica of layout 1 is marked incomplete, never served', () => {
  const path = join(dir, 'old.db');
  const db = new Database(path);
  db.exec(`
    CREATE TABLE _outpost_meta (key TEXT PRIMARY KEY, value TEXT);
    CREATE TABLE _outpost_tables (oid INTEGER PRIMARY KEY, schema TEXT NOT NULL, name TEXT NOT NULL,
      sqlite_name TEXT NOT NULL, columns TEXT NOT NULL, storage TEXT, unservable TEXT);
    INSERT INTO _outpost_meta VALUES ('snapshot_state', 'complete'), ('slot', 's');
    INSERT INTO _outpost_tables VALUES (16384, 'public', 't', 'public.t', '[]', NULL, NULL);
    CREATE TABLE "public.t" (x);
  `);
  db.close();
  const store = ReplicaStore.open(path);
  try {
    assert.equal(store.formatReplaced, 1);
    assert.equal(store.snapshotComplete(), false);
    assert.equal(store.getMeta('snapshot_state'), 'copying');
    assert.equal(store.getMeta('format'), String(REPLICA_FORMAT));
    // The fresh snapshot's clearData drops the old table by its catalog name.
    store.clearData();
    assert.equal(
      store.db.prepare(`SELECT count(*) FROM sqlite_master WHERE name = 'public.t'`).pluck().get(),
      0,
    );
  } finally {
    store.close();
  }
});

test('a newer layout is refused and left as it is', () => {
  const path = join(dir, 'newer.db');
  const first = ReplicaStore.open(path);
  first.setMeta('format', String(REPLICA_FORMAT + 1));
  first.setMeta('snapshot_state', 'complete');
  first.close();
  assert.throws(() => ReplicaStore.open(path), /newer than this Outpost reads/);
  const db = new Database(path, { readonly: true });
  try {
    assert.equal(
      db.prepare(`SELECT value FROM _outpost_meta WHERE key = 'snapshot_state'`).pluck().get(),
      'complete',
    );
  } finally {
    db.close();
  }
});
