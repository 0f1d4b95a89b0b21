import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { CopyTextParser, parseCopyLine } from '../src/replica/snapshot.js';
import { affinityFor, toStored } from '../src/replica/type-storage.js';

test('affinity per the storage table', () => {
  assert.deepEqual(
    [21, 23, 20, 16, 700, 701, 1700, 25, 1043, 1042, 19, 1082, 1184, 3802, 17].map(affinityFor),
    [
      'INTEGER',
      'INTEGER',
      'INTEGER',
      'INTEGER',
      'BLOB',
      'BLOB',
      'TEXT',
      'TEXT',
      'TEXT',
      'TEXT',
      'TEXT',
      'TEXT',
      'TEXT',
      'TEXT',
      'TEXT',
    ],
  );
});

test('toStored converts Postgres text per the storage table', () => {
  assert.equal(toStored(null, 23), null);
  assert.equal(toStored('-32768', 21), -32768);
  assert.equal(toStored('2147483647', 23), 2147483647);
  assert.equal(toStored('9223372036854775807', 20), 9223372036854775807n);
  assert.equal(toStored('-9223372036854775808', 20), -9223372036854775808n);
  assert.equal(toStored('t', 16), 1);
  assert.equal(toStored('f', 16), 0);
  assert.equal(toStored('0.1', 701), 0.1);
  assert.equal(toStored('1e+300', 701), 1e300);
  assert.equal(toStored('-0', 701), '-0');
  assert.equal(toStored('-0', 700), '-0');
  assert.equal(toStored('-0.0', 701), '-0');
  assert.ok(Object.is(toStored('0', 701), 0));
  assert.equal(toStored('NaN', 701), 'NaN');
  assert.equal(toStored('NaN', 700), 'NaN');
  assert.equal(toStored('Infinity', 701), Number.POSITIVE_INFINITY);
  assert.equal(toStored('-Infinity', 700), Number.NEGATIVE_INFINITY);
  assert.equal(toStored('123.4500', 1700), '123.4500');
  assert.equal(toStored('NaN', 1700), 'NaN');
  assert.equal(toStored('2024-01-31 12:34:56.789+00', 1184), '2024-01-31 12:34:56.789+00');
  assert.equal(toStored('{1,2}', 1007), '{1,2}');
  assert.throws(() => toStored('x', 16), /bool/);
  assert.throws(() => toStored('1.5', 20), /int8/);
});

test('SQLite round trip of the awkward doubles (documented in type-storage.ts)', () => {
  const db = new Database(':memory:');
  db.exec(`CREATE TABLE t (id INTEGER, f ${affinityFor(701)})`);
  const ins = db.prepare('INSERT INTO t VALUES (?, ?)');
  const texts = ['1.5', 'Infinity', '-Infinity', '-0', 'NaN', '1e+300', '5e-324'];
  for (const [i, text] of texts.entries()) ins.run(i, toStored(text, 701));
  const rows = db.prepare('SELECT f, typeof(f) AS t FROM t ORDER BY id').all() as { f: unknown; t: string }[];
  assert.equal(rows[0]?.f, 1.5);
  assert.deepEqual(rows[1], { f: Number.POSITIVE_INFINITY, t: 'real' });
  assert.deepEqual(rows[2], { f: Number.NEGATIVE_INFINITY, t: 'real' });
  // -0 is stored as TEXT: a REAL column would keep -0.0 as the integer 0.
  assert.deepEqual(rows[3], { f: '-0', t: 'text' });
  // Why: a REAL column keeps -0.0 as the integer 0, and converts the text '-0' to it too.
  db.exec('CREATE TABLE z (id INTEGER, f REAL)');
  db.prepare('INSERT INTO z VALUES (1, ?), (2, ?)').run(-0, '-0');
  assert.deepEqual(db.prepare('SELECT f, typeof(f) AS t FROM z ORDER BY id').all(), [
    { f: 0, t: 'real' },
    { f: 0, t: 'real' },
  ]);
  // Every other value is a REAL, integral ones included.
  db.prepare('INSERT INTO t VALUES (7, ?)').run(toStored('3', 701));
  assert.equal(db.prepare('SELECT typeof(f) FROM t WHERE id = 7').pluck().get(), 'real');
  db.exec('DELETE FROM t WHERE id = 7');
  assert.deepEqual(rows[4], { f: 'NaN', t: 'text' });
  assert.equal(rows[5]?.f, 1e300);
  assert.equal(rows[6]?.f, 5e-324);
  // Ordering: -Infinity < numbers < Infinity < TEXT ('-0', 'NaN'); the compiler maps '-0' back to 0.0.
  assert.deepEqual(db.prepare('SELECT id FROM t ORDER BY f').pluck().all(), [2, 6, 0, 5, 1, 3, 4]);
  // int8 needs BigInt to stay exact.
  db.exec('CREATE TABLE i (v INTEGER)');
  db.prepare('INSERT INTO i VALUES (?)').run(toStored('9223372036854775807', 20));
  assert.equal(db.prepare('SELECT v FROM i').safeIntegers(true).pluck().get(), 9223372036854775807n);
  db.close();
});

test('COPY text format parsing, across chunk boundaries', () => {
  assert.deepEqual(parseCopyLine('1\t\\N\ta\\tb\\nc\\\\d\t'), ['1', null, 'a\tb\nc\\d', '']);
  assert.deepEqual(parseCopyLine('\\b\\f\\r\\v\\101\\x41'), ['\b\f\r\vAA']);
  const rows: (string | null)[][] = [];
  const p = new CopyTextParser((r) => rows.push(r));
  const data = Buffer.from('1\tünï\n2\t\\N\n3\tx\n');
  for (let i = 0; i < data.length; i++) p.push(data.subarray(i, i + 1));
  p.end();
  assert.deepEqual(rows, [
    ['1', 'ünï'],
    ['2', null],
    ['3', 'x'],
  ]);
  const q = new CopyTextParser(() => {});
  q.push(Buffer.from('1\t2'));
  assert.throws(() => q.end(), /middle of a row/);
});
