/**
 * Which compiled statements run on the proxy's thread: only those SQLite
 * plans as a few key lookups (src/exec/inline.ts), judged on a real SQLite
 * database laid out like the replica (a data table, a plain key index).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { isKeyLookup, keyLookupKind } from '../src/exec/inline.js';

let dir: string;
let db: Database.Database;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'outpost-inline-'));
  db = new Database(join(dir, 'r.db'));
  db.exec(`create table t1 (a1, a2, a3);
           create index t1__outpost_key on t1 (a1);
           create index t1__outpost_i0 on t1 (a2);
           create table t2 (a1, a2, a3);
           create index t2__outpost_key on t2 (a1, a2);
           create table n (v);
           insert into n with recursive g(v) as (select 1 union all select v + 1 from g where v < 1000) select v from g;
           insert into t1 select v, v % 7, 'x' from n;
           insert into t2 select v, v % 3, 'y' from n;
           analyze;`);
});

after(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

test('key lookups with bound parameters are inline', () => {
  assert.equal(
    isKeyLookup(db, 'SELECT t0.a3 AS c0 FROM t1 AS t0 WHERE (t0.a1 = @p1) ORDER BY t0.rowid'),
    true,
  );
  assert.equal(isKeyLookup(db, 'SELECT t0.a3 FROM t2 AS t0 WHERE t0.a1 = @p1 AND t0.a2 = @p2'), true);
  assert.equal(
    isKeyLookup(
      db,
      'SELECT t0.a3, t1.a3 FROM t1 AS t0 JOIN t2 AS t1 ON t1.a1 = t0.a1 AND t1.a2 = @p2 WHERE t0.a1 = @p1',
    ),
    true,
  );
});

test('only lookups of a whole key find at most one row (inline without a row budget)', () => {
  assert.equal(keyLookupKind(db, 'SELECT t0.a3 FROM t1 AS t0 WHERE t0.a1 = @p1 ORDER BY t0.rowid'), 'unique');
  assert.equal(keyLookupKind(db, 'SELECT a3 FROM t2 WHERE a1 = @p1 AND a2 = @p2'), 'unique');
  assert.equal(keyLookupKind(db, 'SELECT a3 FROM t1 WHERE rowid = @p1'), 'unique');
  assert.equal(keyLookupKind(db, 'SELECT 1, @p1'), 'unique');
  // Part of a key, or another index: any number of rows.
  assert.equal(keyLookupKind(db, 'SELECT a3 FROM t2 WHERE a1 = @p1'), 'lookup');
  assert.equal(keyLookupKind(db, 'SELECT a3 FROM t1 WHERE a2 = @p1'), 'lookup');
});

test('scans, ranges, sorts and many lookups are not', () => {
  assert.equal(isKeyLookup(db, 'SELECT count(*) FROM t1'), false);
  assert.equal(isKeyLookup(db, 'SELECT a3 FROM t1 WHERE a3 = @p1'), false);
  assert.equal(isKeyLookup(db, 'SELECT a3 FROM t1 WHERE a1 > @p1'), false);
  assert.equal(isKeyLookup(db, 'SELECT a3 FROM t1 WHERE a1 = @p1 ORDER BY a3'), false);
  assert.equal(isKeyLookup(db, 'SELECT count(*) FROM t1 a CROSS JOIN t1 b'), false);
  assert.equal(isKeyLookup(db, 'SELECT a3 FROM t1 WHERE a1 IN (SELECT a1 FROM t2)'), false);
  assert.equal(isKeyLookup(db, 'not sql'), false);
});
