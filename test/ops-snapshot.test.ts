/**
 * Snapshot progress: what the copy reports while it runs (table, rows,
 * rate, ETA), the log lines it writes, and `/status`'s `snapshot` document
 * from the real `outpost` command.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { createLogger } from '../src/log.js';
import {
  copySnapshot,
  progressRates,
  type SnapshotProgress,
  snapshotReport,
} from '../src/replica/snapshot.js';
import { ReplicaStore } from '../src/replica/store.js';
import { startOutpost } from './helpers/outpost.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';
import { byPgNames } from './helpers/replica-views.js';

let upstream: PostgresInstance;
let dir: string;

before(async () => {
  upstream = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'outpost-ops-snapshot-'));
});

after(async () => {
  await upstream?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('progress arithmetic', () => {
  test('rate and ETA from rows, estimate and start time', () => {
    const p: SnapshotProgress = { tables: 3, tablesDone: 1, rows: 1000, estimatedRows: 5000, startedAt: 0 };
    assert.deepEqual(progressRates(p, 2000), { rowsPerSecond: 500, etaSeconds: 8 });
    // Past the estimate: nothing left as far as we know.
    assert.equal(progressRates({ ...p, rows: 6000 }, 2000).etaSeconds, 0);
    // No estimate (a large table without statistics): unknown.
    assert.equal(progressRates({ ...p, estimatedRows: undefined }, 2000).etaSeconds, null);
    // Finished: the rate is frozen at the end time.
    assert.deepEqual(progressRates({ ...p, finishedAt: 4000 }, 60_000), {
      rowsPerSecond: 250,
      etaSeconds: 0,
    });
  });

  test('/status document: copying, complete, from an earlier run, pending', () => {
    const p: SnapshotProgress = {
      tables: 2,
      tablesDone: 1,
      rows: 300,
      estimatedRows: 600,
      startedAt: 1000,
      currentTable: 'public.b',
    };
    assert.deepEqual(snapshotReport(p, false, 2000), {
      state: 'copying',
      tablesDone: 1,
      tablesTotal: 2,
      currentTable: 'public.b',
      rows: 300,
      rowsPerSecond: 300,
      etaSeconds: 1,
    });
    const done = { ...p, tablesDone: 2, rows: 600, finishedAt: 3000, currentTable: undefined };
    assert.deepEqual(snapshotReport(done, true, 9000), {
      state: 'complete',
      tablesDone: 2,
      tablesTotal: 2,
      currentTable: null,
      rows: 600,
      rowsPerSecond: 300,
      etaSeconds: 0,
    });
    assert.deepEqual(snapshotReport(undefined, true), { state: 'complete' });
    assert.deepEqual(snapshotReport({ tables: 0, tablesDone: 0, rows: 0 }, false), {
      state: 'pending',
      tablesDone: 0,
      tablesTotal: 0,
      rows: 0,
    });
  });
});

describe('copySnapshot progress against Postgres', () => {
  const BIG = 60_000;
  const SMALL = 100;
  let db: string;

  before(async () => {
    db = 'progress';
    await upstream.query(`create database ${db}`);
    await upstream.query(
      `create table big (id int primary key, note text);
       insert into big select g, repeat('x', 20) || g from generate_series(1, ${BIG}) g;
       create table small (id int primary key);
       insert into small select generate_series(1, ${SMALL});
       analyze small;
       create publication p for table big, small;`,
      [],
      db,
    );
  });

  /** Runs copySnapshot under a snapshot exported by another session; returns what it reported. */
  async function copy(opts: { isCancelled?: () => boolean } = {}) {
    const exporter = await upstream.connect({ database: db });
    const copier = await upstream.connect({ database: db });
    const store = ReplicaStore.open(join(dir, `copy-${Math.random().toString(36).slice(2)}.db`));
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger({
      level: 'info',
      format: 'json',
      write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>),
    });
    const events: SnapshotProgress[] = [];
    try {
      await exporter.query('begin isolation level repeatable read');
      const name = (await exporter.query<{ s: string }>('select pg_export_snapshot() as s')).rows[0]?.s;
      // Not in the exported snapshot, so not in the copy (nor in its estimate).
      await upstream.query('insert into small values (100001)', [], db);
      const result = await copySnapshot({
        client: copier as pg.Client,
        store,
        publication: 'p',
        snapshotName: name as string,
        logger,
        batchRows: 2_000,
        progressLogMs: 20,
        onProgress: (p) => events.push(p),
        ...opts,
      }).then(
        (r) => ({ ok: true as const, r }),
        (err: Error) => ({ ok: false as const, err }),
      );
      const counts = result.ok
        ? {
            big: (
              byPgNames(store.reader).prepare('select count(*) as n from "public.big"').get() as { n: number }
            ).n,
            small: (
              byPgNames(store.reader).prepare('select count(*) as n from "public.small"').get() as {
                n: number;
              }
            ).n,
          }
        : undefined;
      return { result, events, lines, counts };
    } finally {
      await upstream.query('delete from small where id = 100001', [], db);
      await exporter.end();
      await copier.end();
      store.close();
    }
  }

  test('reports table, rows, estimate, rate and ETA while copying; logs per table and periodically', async () => {
    const { result, events, lines, counts } = await copy();
    assert.ok(result.ok, result.ok ? '' : result.err.message);
    assert.deepEqual(counts, { big: BIG, small: SMALL });
    const final = result.r;
    assert.equal(final.tables, 2);
    assert.equal(final.tablesDone, 2);
    assert.equal(final.rows, BIG + SMALL);
    // big was never analysed and is small enough to count; small has exact statistics.
    assert.equal(final.estimatedRows, BIG + SMALL);
    assert.ok(final.finishedAt !== undefined && final.startedAt !== undefined);

    const midBig = events.filter((e) => e.currentTable === 'public.big' && e.rows > 0);
    assert.ok(midBig.length >= 5, `progress after each batch (${midBig.length} events)`);
    for (let i = 1; i < events.length; i++) {
      assert.ok((events[i]?.rows ?? 0) >= (events[i - 1]?.rows ?? 0), 'rows never go back');
    }
    const mid = midBig[Math.floor(midBig.length / 2)] as SnapshotProgress;
    assert.ok(mid.rows > 0 && mid.rows < BIG);
    assert.equal(mid.tableRows, mid.rows, 'big is copied first (schema, name order)');
    const report = snapshotReport(mid, false, (mid.startedAt as number) + 1000);
    assert.equal(report.state, 'copying');
    assert.equal(report.currentTable, 'public.big');
    assert.equal(report.tablesDone, 0);
    assert.equal(report.tablesTotal, 2);
    assert.equal(report.rowsPerSecond, mid.rows);
    assert.equal(report.etaSeconds, Math.round(((BIG + SMALL - mid.rows) / mid.rows) * 10) / 10);

    const msgs = lines.map((l) => l.msg);
    const start = lines.find((l) => l.msg === 'snapshot: copying');
    assert.deepEqual([start?.tables, start?.estimatedRows], [2, BIG + SMALL]);
    const copied = lines.filter((l) => l.msg === 'snapshot: table copied');
    assert.deepEqual(
      copied.map((l) => [l.table, l.rows, l.tablesDone, l.tablesTotal]),
      [
        ['public.big', BIG, 1, 2],
        ['public.small', SMALL, 2, 2],
      ],
    );
    assert.ok(copied.every((l) => typeof l.rowsPerSecond === 'number' && typeof l.etaSeconds === 'number'));
    assert.equal(copied[1]?.etaSeconds, 0);
    const periodic = lines.filter((l) => l.msg === 'snapshot: progress');
    assert.ok(periodic.length >= 1, `periodic progress lines (messages: ${msgs.join(', ')})`);
    for (const l of periodic) {
      for (const k of [
        'table',
        'tableRows',
        'rows',
        'tablesDone',
        'tablesTotal',
        'rowsPerSecond',
        'etaSeconds',
      ]) {
        assert.ok(k in l, `progress line has ${k}`);
      }
    }
  });

  test('a cancelled copy stops between chunks', async () => {
    let calls = 0;
    const { result, events } = await copy({ isCancelled: () => ++calls > 3 });
    assert.equal(result.ok, false);
    assert.match(result.ok ? '' : result.err.message, /cancelled/);
    assert.ok((events.at(-1)?.rows ?? 0) < BIG, 'stopped before the end of big');
  });
});

test('/status reports the snapshot of the running outpost', async () => {
  const ROWS = 200_000;
  await upstream.query('create database statusdb');
  await upstream.query(
    `create table t (id int primary key, v text);
     insert into t select g, md5(g::text) from generate_series(1, ${ROWS}) g;`,
    [],
    'statusdb',
  );
  const outpost = await startOutpost({
    upstream: upstream.url({ database: 'statusdb' }),
    replica: join(dir, 'status.db'),
  });
  try {
    const seen: Record<string, unknown>[] = [];
    const deadline = Date.now() + 120_000;
    for (;;) {
      let s: Record<string, unknown> | undefined;
      try {
        s = await outpost.status();
      } catch {
        // not listening yet
      }
      const snap = s?.snapshot as Record<string, unknown> | undefined;
      if (snap) seen.push(snap);
      if (
        snap?.state === 'complete' &&
        (s?.replication as { state?: string } | undefined)?.state === 'streaming'
      )
        break;
      assert.ok(Date.now() < deadline, `snapshot not complete in time:\n${outpost.output()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    // Whatever was seen on the way is consistent.
    let lastRows = 0;
    for (const snap of seen) {
      if (snap.state !== 'copying') continue;
      assert.equal(snap.tablesTotal, 1);
      assert.ok((snap.rows as number) >= lastRows && (snap.rows as number) <= ROWS);
      assert.ok(snap.currentTable === 'public.t' || snap.currentTable === null);
      assert.ok(snap.etaSeconds === null || (snap.etaSeconds as number) >= 0);
      lastRows = snap.rows as number;
    }
    const final = seen.at(-1) as Record<string, unknown>;
    assert.equal(final.state, 'complete');
    assert.equal(final.tablesDone, 1);
    assert.equal(final.tablesTotal, 1);
    assert.equal(final.rows, ROWS);
    assert.equal(final.currentTable, null);
    assert.equal(final.etaSeconds, 0);
    assert.ok((final.rowsPerSecond as number) > 0);
    const logged = outpost
      .output()
      .split('\n')
      .filter((l) => l.includes('snapshot: table copied'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      logged.map((l) => [l.table, l.rows]),
      [['public.t', ROWS]],
    );
    const metrics = (await outpost.http('/metrics')).body;
    assert.match(metrics, new RegExp(`^outpost_snapshot_rows_copied ${ROWS}$`, 'm'));
    assert.match(metrics, /^outpost_snapshot_tables_done 1$/m);
    assert.match(metrics, /^outpost_snapshot_tables_total 1$/m);
  } finally {
    assert.equal(await outpost.stop(), 0);
  }
});
