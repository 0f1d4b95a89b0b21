/**
 * An edge's first bootstrap before its replica is opened (src/nats/bootstrap.ts
 * `bootstrapBeforeOpen`, called by app.ts): the hub's object-store snapshot is
 * renamed into place whole, and the engine resumes from its stream position.
 * Real nats-server -js, real Postgres, the real hub in process, real SQLite files.
 * Covers: a missing replica, an interrupted one (its WAL folded in, never replayed
 * into the new file), a left-over partial download, a complete replica (never
 * replaced), and a snapshot of another database (refused; the file untouched).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { natsConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { createMetrics } from '../src/metrics.js';
import { bootstrapBeforeOpen } from '../src/nats/bootstrap.js';
import { ReplicaStore } from '../src/replica/store.js';
import { ReplicationEngine } from '../src/replication/engine.js';
import { EDGE_LAG_BASIS } from '../src/replication/engine-types.js';
import { parseLsn } from '../src/replication/lsn.js';
import { startHubInProcess } from './helpers/hub-in-process.js';
import { type NatsInstance, startPostgresAndNats } from './helpers/nats.js';
import type { PostgresInstance } from './helpers/postgres.js';
import { byPgNames } from './helpers/replica-views.js';
import { waitFor } from './helpers/wait.js';

let pg: PostgresInstance;
let nats: NatsInstance;
let dir: string;

before(async () => {
  [pg, nats] = await startPostgresAndNats();
  dir = mkdtempSync(join(tmpdir(), 'outpost-edge-boot-'));
});

after(async () => {
  await nats?.cleanup();
  await pg?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** An interrupted replica: meta says copying, and its last writes are only in the -wal (process killed). */
function interruptedReplica(path: string): void {
  const module = createRequire(import.meta.url).resolve('better-sqlite3');
  const code = `
    const Database = require(${JSON.stringify(module)});
    const db = new Database(${JSON.stringify(path)});
    db.pragma('journal_mode = WAL');
    db.pragma('wal_autocheckpoint = 0');
    db.exec("CREATE TABLE _outpost_meta (key TEXT PRIMARY KEY, value TEXT)");
    db.exec("INSERT INTO _outpost_meta VALUES ('snapshot_state', 'copying')");
    db.exec("CREATE TABLE half (x); INSERT INTO half VALUES (1), (2)");
    process.kill(process.pid, 'SIGKILL');`;
  try {
    execFileSync(process.execPath, ['-e', code], { stdio: 'ignore' });
  } catch {
    // Killed, as intended.
  }
  assert.equal(existsSync(`${path}-wal`), true, 'the interrupted replica has a WAL');
}

test('a new edge renames the object-store snapshot into place before opening its replica, then resumes from it', async () => {
  const db = 'edgeboot';
  await pg.query(`CREATE DATABASE ${db}`);
  await pg.query(
    `CREATE TABLE t (id int PRIMARY KEY, v text);
     INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 5000) g;`,
    [],
    db,
  );
  await pg.query(`CREATE DATABASE edgeboot_other`);
  const stream = 'BOOT';
  const { hub } = await startHubInProcess({
    upstream: pg.url({ database: db }),
    nats: nats.url,
    stream,
    replica: join(dir, 'hub.db'),
    snapshotInterval: 3600,
    started: false,
  });
  const upstreamT = async () =>
    (await pg.query<{ id: number; v: string }>('SELECT id, v FROM t ORDER BY id', [], db)).rows;
  const edgeT = (store: ReplicaStore) =>
    byPgNames(store.reader).prepare('SELECT id, v FROM "public.t" ORDER BY id').all();
  const boot = (path: string, database = db) => {
    const follow = natsConfig(nats.url, stream, `boot-${path.length}`, path);
    assert.ok(follow);
    const lines: string[] = [];
    return {
      lines,
      follow,
      run: () =>
        bootstrapBeforeOpen({
          replicaPath: path,
          upstreamUrl: pg.url({ database }),
          follow,
          publicationOwned: true,
          logger: createLogger({ level: 'info', format: 'json', write: (l) => lines.push(l) }),
        }),
    };
  };
  try {
    await hub.replicationStarted;
    const snap = await waitFor('a snapshot', () => hub.snapshots?.publishNow());
    await pg.query(`UPDATE t SET v = 'after the snapshot' WHERE id % 10 = 0`, [], db);

    // 1. No replica file yet.
    const fresh = join(dir, 'fresh.db');
    const b = boot(fresh);
    const label = await b.run();
    assert.ok(label);
    // The hub's schedule may have published again meanwhile (it publishes once when it starts).
    assert.ok(label.seq >= snap.seq);
    assert.equal(existsSync(`${fresh}.download`), false);
    assert.equal(statSync(fresh).mode & 0o777, 0o600);
    const store = ReplicaStore.open(fresh);
    assert.equal(store.snapshotComplete(), true);
    assert.equal(store.getMeta('source'), 'nats');
    assert.equal(store.getMeta('nats_seq'), String(label.seq));
    assert.equal(store.getMeta('publication_owned'), 'true');
    const lines: string[] = [];
    const engine = new ReplicationEngine({
      upstreamUrl: pg.url({ database: db }),
      store,
      logger: createLogger({ level: 'info', format: 'json', write: (l) => lines.push(l) }),
      metrics: createMetrics(),
      follow: b.follow,
    });
    try {
      await engine.start();
      assert.ok(
        lines.some((l) => l.includes('"follow: resuming"')),
        'the engine resumes from the renamed file (no copy of its own)',
      );
      assert.equal(
        lines.filter((l) => l.includes('installed from the object-store')).length,
        0,
        lines.join(''),
      );
      await waitFor(
        'edge caught up',
        async () => JSON.stringify(edgeT(store)) === JSON.stringify(await upstreamT()),
      );
      const slots = await pg.query<{ n: string }>(
        'SELECT count(*) AS n FROM pg_replication_slots WHERE database = $1',
        [db],
      );
      assert.equal(slots.rows[0]?.n, '1', "only the hub's slot");
      // Lag in bytes is measured from the newest upstream position the hub reported (the
      // stream's last message, read every second), and /status says so.
      const end = await waitFor('the stream end read', () => {
        const n = engine.status().nats;
        return n && parseLsn(n.streamEndLsn) >= label.lsn ? n : undefined;
      });
      assert.equal(end.lagBytesFrom, EDGE_LAG_BASIS);
      const st = engine.status();
      assert.ok(parseLsn(st.upstreamLsn) >= parseLsn(end.streamEndLsn));
    } finally {
      await engine.stop();
      store.close();
    }

    // 2. A complete replica is never replaced (it resumes from the stream instead).
    const before = readFileSync(fresh);
    assert.equal(await boot(fresh).run(), null);
    assert.deepEqual(readFileSync(fresh), before);

    // 3. An interrupted replica, with its WAL and a partial download left by a crash: replaced whole.
    const crashed = join(dir, 'crashed.db');
    interruptedReplica(crashed);
    writeFileSync(`${crashed}.download`, 'half a download');
    assert.ok(await boot(crashed).run());
    assert.equal(existsSync(`${crashed}-wal`), false, 'the old WAL was folded into the old file, not left');
    assert.equal(existsSync(`${crashed}.download`), false);
    const c = new Database(crashed, { readonly: true });
    try {
      assert.equal(c.pragma('integrity_check', { simple: true }), 'ok');
      assert.equal(
        c.prepare(`SELECT count(*) FROM sqlite_master WHERE name = 'half'`).pluck().get(),
        0,
        'nothing of the old file',
      );
      assert.equal(
        c.prepare(`SELECT value FROM _outpost_meta WHERE key = 'snapshot_state'`).pluck().get(),
        'complete',
      );
    } finally {
      c.close();
    }

    // 4. A snapshot of another upstream database: refused, the file as it was.
    const other = join(dir, 'other.db');
    interruptedReplica(other);
    const o = boot(other, 'edgeboot_other');
    assert.equal(await o.run(), null);
    assert.ok(o.lines.some((l) => l.includes('no object-store snapshot installed before start')));
    const od = new Database(other, { readonly: true });
    try {
      assert.equal(od.prepare('SELECT count(*) FROM half').pluck().get(), 2, 'the old file, whole');
    } finally {
      od.close();
    }
    assert.equal(existsSync(`${other}.download`), false);
  } finally {
    await hub.stop();
  }
});
