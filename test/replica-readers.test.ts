/**
 * The replica file is a SQLite database other programs can read while
 * Outpost streams into it: the `sqlite3` shell and libSQL's client open it
 * read-only, see the rows and then the newly replicated ones, cannot write,
 * and Outpost carries on.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { eventually, startOutpost } from './helpers/outpost.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';

let upstream: PostgresInstance;
let dir: string;

before(async () => {
  upstream = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'outpost-readers-'));
  await upstream.query(
    `create table items (id int primary key, label text);
     insert into items select g, 'item ' || g from generate_series(1, 50) g`,
  );
});

after(async () => {
  await upstream?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The subset of libsql's better-sqlite3-compatible API used here. */
interface LibsqlDatabase {
  prepare(sql: string): { raw(): { get(): unknown; all(): unknown[] }; run(): unknown };
  close(): void;
}

/**
 * libsql (a devDependency), loaded by a computed name so that type-checking
 * does not need it installed (a shared node_modules may predate it).
 */
async function libsql(): Promise<new (path: string) => LibsqlDatabase> {
  const name = 'libsql';
  return ((await import(name)) as { default: new (path: string) => LibsqlDatabase }).default;
}

function sqlite3(file: string, sql: string): string {
  return execFileSync('sqlite3', ['-readonly', '-batch', file, sql], { encoding: 'utf8' }).trim();
}

test('sqlite3 and libsql read the replica read-only while Outpost streams', async () => {
  const replica = join(dir, 'replica.db');
  const outpost = await startOutpost({ upstream: upstream.url(), replica });
  try {
    await outpost.ready();
    // Where the rows of public.items are: the catalog says (its naming is Outpost's business).
    const table = sqlite3(
      replica,
      `select sqlite_name from _outpost_tables where schema = 'public' and name = 'items'`,
    );
    assert.ok(table.length > 0, 'items is in the catalog');
    const quoted = `"${table.replace(/"/g, '""')}"`;
    assert.equal(sqlite3(replica, `select count(*) from ${quoted}`), '50');
    assert.equal(
      sqlite3(replica, `select value from _outpost_meta where key = 'snapshot_state'`),
      'complete',
    );

    // libsql (0.5) ignores `{ readonly: true }` and opens read-write: a URI with mode=ro is read-only.
    const db = new (await libsql())(`file:${replica}?mode=ro`);
    try {
      // (libsql's pluck() is a no-op: raw() gives the values.)
      const count = () => (db.prepare(`select count(*) from ${quoted}`).raw().get() as number[])[0];
      assert.equal(count(), 50);

      // New rows show up in both readers while they stay open (WAL mode).
      await upstream.query(`insert into items select g, 'item ' || g from generate_series(51, 60) g`);
      await eventually(async () => count() === 60, 20_000, 'libsql sees the replicated rows');
      assert.equal(sqlite3(replica, `select count(*) from ${quoted}`), '60');

      // Read-only means read-only.
      assert.throws(() => db.prepare(`delete from ${quoted}`).run(), /readonly database/);
      const write = spawnSync('sqlite3', ['-readonly', '-batch', replica, `delete from ${quoted}`], {
        encoding: 'utf8',
      });
      assert.notEqual(write.status, 0);
      assert.match(write.stderr, /readonly/i);

      // And Outpost carries on.
      await upstream.query(`update items set label = 'changed' where id = 1`);
      await eventually(
        async () =>
          (db.prepare(`select * from ${quoted}`).raw().all() as unknown[][]).flat().includes('changed'),
        20_000,
        'the update replicated',
      );
      assert.equal((await outpost.status()).replication.state, 'streaming');
    } finally {
      db.close();
    }
  } finally {
    assert.equal(await outpost.stop(), 0);
  }
});
