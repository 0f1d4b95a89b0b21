/**
 * The applier without Postgres: several upstream transactions share one
 * SQLite transaction, committed with the last one's end LSN, and a stale
 * table is hidden from the read path.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Applier } from '../src/replica/applier.js';
import type { ReplicaTable } from '../src/replica/schema.js';
import { ReplicaStore } from '../src/replica/store.js';

const dir = mkdtempSync(join(tmpdir(), 'outpost-applier-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const table: ReplicaTable = {
  oid: 1000,
  schema: 'public',
  name: 't',
  sqliteName: 't1000',
  columns: [
    { name: 'id', attnum: 1, typeOid: 23, typmod: -1, typlen: 4, typeName: 'int4', keyPosition: 1 },
    { name: 'v', attnum: 2, typeOid: 25, typmod: -1, typlen: -1, typeName: 'text', keyPosition: null },
  ],
};
const rel = { table, identity: [0] };

function rows(store: ReplicaStore): unknown[][] {
  return store.reader.prepare('SELECT a1, a2 FROM t1000 ORDER BY a1').raw().all() as unknown[][];
}

test('upstream transactions share a SQLite transaction; applied_lsn is the last end LSN', () => {
  const store = ReplicaStore.open(join(dir, 'group.db'));
  try {
    store.createDataTable(table);
    const applier = new Applier(store);
    applier.begin();
    applier.insert(rel, ['1', 'a']);
    applier.commit(100n);
    applier.begin();
    applier.insert(rel, ['2', 'b']);
    applier.update(rel, null, null, ['1', 'a2']);
    applier.commit(200n);
    assert.equal(applier.groupSize, 2);
    assert.deepEqual(rows(store), [], 'nothing visible before the flush');
    // An upstream transaction in progress is never committed halfway.
    applier.begin();
    applier.insert(rel, ['3', 'c']);
    assert.equal(applier.flush(), undefined);
    applier.commit(300n);
    assert.equal(applier.flush(), 300n);
    assert.equal(store.appliedLsn(), 300n);
    assert.deepEqual(rows(store), [
      [1, 'a2'],
      [2, 'b'],
      [3, 'c'],
    ]);
    assert.equal(applier.flush(), undefined, 'nothing pending');

    // A rollback drops every transaction not yet flushed, complete or not.
    applier.begin();
    applier.delete(rel, 'K', ['1', null]);
    applier.commit(400n);
    applier.begin();
    applier.insert(rel, ['4', 'd']);
    applier.rollback();
    assert.equal(store.appliedLsn(), 300n);
    assert.equal(rows(store).length, 3);
  } finally {
    store.close();
  }
});

test('a stale table is hidden from findTable and tables(), persistently, until replaced', () => {
  const path = join(dir, 'stale.db');
  let store = ReplicaStore.open(path);
  try {
    store.createDataTable(table);
    assert.ok(store.findTable('public', 't'));
    const v = store.catalogVersion;
    store.markStale(table.oid);
    assert.ok(store.catalogVersion > v);
    assert.equal(store.findTable('public', 't'), undefined);
    assert.deepEqual(store.tables(), []);
    assert.equal(store.tableByOid(table.oid)?.name, 't');
    store.close();
    store = ReplicaStore.open(path);
    assert.equal(store.findTable('public', 't'), undefined, 'still stale after reopening');
    // A stale mark in a rolled-back transaction goes with it.
    store.db.exec('BEGIN');
    store.markStale(2000);
    store.db.exec('ROLLBACK');
    store.reloadStale();
    assert.deepEqual(store.staleOids(), [table.oid]);
    // Swapped in: visible again, with the new shape.
    const renamed = { ...table, name: 't2' };
    store.createShape('_outpost_resync_1000', renamed);
    store.db.prepare(`INSERT INTO "_outpost_resync_1000" VALUES (1, 'x')`).run();
    store.db.transaction(() =>
      store.replaceTables([table.oid], [{ table: renamed, staging: '_outpost_resync_1000' }]),
    )();
    assert.equal(store.findTable('public', 't'), undefined);
    assert.deepEqual(store.findTable('public', 't2')?.columns, table.columns);
    assert.deepEqual(store.reader.prepare('SELECT * FROM t1000').raw().all(), [[1, 'x']]);
    assert.equal(
      store.reader
        .prepare(
          `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '_outpost_%' ESCAPE '\\'`,
        )
        .pluck()
        .get(),
      1,
    );
    assert.deepEqual(store.staleOids(), []);
  } finally {
    store.close();
  }
});

test('a table with generated columns is never served', () => {
  const store = ReplicaStore.open(join(dir, 'unservable.db'));
  try {
    store.createDataTable({ ...table, unservable: 'generated columns ("g") are not replicated' });
    assert.equal(store.findTable('public', 't'), undefined);
    assert.equal(store.allTables().length, 1);
  } finally {
    store.close();
  }
});
