/**
 * Checkpointer (src/replica/checkpointer.ts): the connection that applies
 * the stream never checkpoints inside a COMMIT; a thread of its own copies
 * committed WAL frames into the database file with PASSIVE checkpoints.
 * Real SQLite files, a real worker thread, a real SIGKILL.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { createLogger } from '../src/log.js';
import { Checkpointer } from '../src/replica/checkpointer.js';
import { ReplicaStore } from '../src/replica/store.js';
import { waitFor } from './helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'outpost-checkpointer-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const logger = createLogger({ level: 'silent' });

function fill(db: Database.Database, from: number, n: number): void {
  const ins = db.prepare('INSERT INTO t (id, v) VALUES (?, ?)');
  db.transaction(() => {
    for (let i = from; i < from + n; i++) ins.run(i, 'x'.repeat(200));
  })();
}

test('the writer never checkpoints; the thread copies every committed frame and the WAL starts over', async () => {
  const path = join(dir, 'a.db');
  const store = ReplicaStore.open(path);
  const ck = store.checkpointInBackground(logger);
  assert.equal(store.db.pragma('wal_autocheckpoint', { simple: true }), 0, 'no checkpoint inside a COMMIT');
  assert.equal(store.checkpointInBackground(logger), ck, 'one thread per store');
  store.db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
  // Well past SQLite's default threshold (1000 pages), in many commits.
  for (let i = 0; i < 40; i++) fill(store.db, i * 500, 500);
  await ck.checkpointNow();
  let s = ck.status();
  assert.ok(s.walFrames > 1000, `the WAL holds the commits (${s.walFrames} frames)`);
  assert.equal(s.checkpointedFrames, s.walFrames, 'every frame copied (no reader held any back)');
  // The next transaction starts the WAL over from its beginning.
  fill(store.db, 100_000, 1);
  await ck.checkpointNow();
  s = ck.status();
  assert.ok(s.walFrames < 10, `the WAL started over (${s.walFrames} frames)`);
  // The database file alone holds everything checkpointed: a copy of it without its WAL.
  const copy = join(dir, 'a-copy.db');
  copyFileSync(path, copy);
  const ro = new Database(copy, { readonly: true });
  assert.equal(ro.prepare('SELECT count(*) FROM t').pluck().get(), 20_001);
  ro.close();
  store.close();
  assert.equal(existsSync(`${path}-wal`), false, "the writer's close is the last and folds the WAL in");
  const again = new Database(path, { readonly: true });
  assert.equal(again.prepare('SELECT count(*) FROM t').pluck().get(), 20_001);
  again.close();
});

test('readers keep their snapshot and writers go on while checkpoints run; held frames are copied once the reader is done', async () => {
  const path = join(dir, 'b.db');
  const store = ReplicaStore.open(path);
  const ck = store.checkpointInBackground(logger);
  store.db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
  fill(store.db, 0, 1000);
  const reader = new Database(path, { readonly: true });
  reader.exec('BEGIN');
  assert.equal(reader.prepare('SELECT count(*) FROM t').pluck().get(), 1000);
  for (let i = 1; i < 20; i++) fill(store.db, i * 1000, 1000);
  await ck.checkpointNow();
  const held = ck.status();
  assert.ok(held.checkpointedFrames < held.walFrames, 'frames after the reader’s snapshot stay in the WAL');
  // The reader still sees its snapshot; new readers see everything.
  assert.equal(reader.prepare('SELECT count(*) FROM t').pluck().get(), 1000);
  assert.equal(store.reader.prepare('SELECT count(*) FROM t').pluck().get(), 20_000);
  reader.exec('COMMIT');
  reader.close();
  await ck.checkpointNow();
  const done = ck.status();
  assert.equal(done.checkpointedFrames, done.walFrames, 'all copied once no reader holds them');
  store.close();
});

test('a WAL file grown large is truncated once everything in it is copied', async () => {
  const path = join(dir, 'c.db');
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('wal_autocheckpoint = 0');
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
  const ck = new Checkpointer(path, { logger, intervalMs: 60_000, truncateBytes: 1024 * 1024 });
  ck.start();
  for (let i = 0; i < 20; i++) fill(db, i * 1000, 1000);
  assert.ok(statSync(`${path}-wal`).size > 1024 * 1024, 'the WAL grew past the limit');
  await ck.checkpointNow();
  assert.equal(ck.status().truncations, 1);
  assert.equal(statSync(`${path}-wal`).size, 0, 'truncated');
  fill(db, 100_000, 10);
  assert.equal(db.prepare('SELECT count(*) FROM t').pluck().get(), 20_010);
  ck.close();
  db.close();
});

test('a writer killed mid-stream with checkpoints running loses no commit and leaves a consistent file', async () => {
  const path = join(dir, 'd.db');
  const script = join(dir, 'writer.mts');
  const storeUrl = new URL('../src/replica/store.ts', import.meta.url).href;
  const logUrl = new URL('../src/log.ts', import.meta.url).href;
  writeFileSync(
    script,
    `import { ReplicaStore } from ${JSON.stringify(storeUrl)};
     import { createLogger } from ${JSON.stringify(logUrl)};
     const store = ReplicaStore.open(${JSON.stringify(path)});
     store.relaxSync();
     const ck = store.checkpointInBackground(createLogger({ level: 'silent' }));
     store.db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
     const ins = store.db.prepare('INSERT INTO t (id, v) VALUES (?, ?)');
     let id = 0;
     const step = async () => {
       store.db.transaction(() => { for (let i = 0; i < 200; i++) ins.run(++id, 'x'.repeat(300)); })();
       process.stdout.write(id + '\\n');
       if (id % 4000 === 0) await ck.checkpointNow();
       setImmediate(step);
     };
     step();`,
  );
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout?.on('data', (b: Buffer) => {
    out += b.toString();
  });
  const lastCommitted = () => Number(out.trim().split('\n').at(-1) ?? 0);
  // Several checkpoints and WAL restarts behind it, then killed at an arbitrary point.
  await waitFor('the writer commits', () => lastCommitted() >= 20_000, 60_000);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
  const seen = lastCommitted();
  const db = new Database(path);
  assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
  const n = db.prepare('SELECT count(*) FROM t').pluck().get() as number;
  const max = db.prepare('SELECT max(id) FROM t').pluck().get() as number;
  assert.ok(max >= seen, `every reported commit is there (${max} >= ${seen})`);
  assert.equal(n, max, 'whole transactions only, no gaps');
  assert.equal(n % 200, 0, 'no partial transaction');
  db.close();
});

test('a checkpoint starts on its own once enough frames wait, and after a while for a few', async () => {
  const path = join(dir, 'e.db');
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('wal_autocheckpoint = 0');
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
  const ck = new Checkpointer(path, { logger, intervalMs: 20, frames: 50, maxDelayMs: 60_000 });
  ck.start();
  try {
    fill(db, 0, 100);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(ck.status().checkpoints, 0, 'a few frames wait for more');
    for (let i = 1; i < 20; i++) fill(db, i * 100, 100);
    await waitFor('checkpoint past the threshold', () => ck.status().checkpointedFrames >= 50, 10_000);
  } finally {
    ck.close();
  }
  const quiet = new Checkpointer(path, { logger, intervalMs: 20, frames: 100_000, maxDelayMs: 300 });
  quiet.start();
  try {
    fill(db, 10_000, 1);
    await waitFor(
      'a few frames copied after the delay',
      () => quiet.status().checkpoints > 0 && quiet.status().checkpointedFrames === quiet.status().walFrames,
      10_000,
    );
  } finally {
    quiet.close();
    db.close();
  }
});
