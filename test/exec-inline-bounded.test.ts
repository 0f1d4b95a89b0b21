/**
 * Plans that are not key lookups run on the proxy's thread when their worst
 * case is small for the replica's current state (src/exec/inline-cost.ts,
 * src/router/inline-bounds.ts): the bound from the plan and the figures an
 * executor computed, rows changed since (counted by the applier) within the
 * plan's slack keep it inline, other changes make the figures stale, a plan
 * whose inline runs are slow goes back to the executors for good. Then end
 * to end: such a statement stops going to the executors (and answers as
 * Postgres does), a big scan keeps going there.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { costShape, type factorsOf, worstVisits } from '../src/exec/inline-cost.js';
import { ExecPool } from '../src/exec/pool.js';
import { silentLogger } from '../src/log.js';
import {
  DEMOTE_STRIKES,
  INLINE_DEMOTE_MS,
  INLINE_VISIT_BUDGET,
  InlineBounds,
} from '../src/router/inline-bounds.js';
import { connectThrough, eventually, lastRoute } from './helpers/outpost.js';
import { type Stack, startStack } from './helpers/stack.js';

const ORDER_LINES =
  'SELECT t0.a1, t1.a2, t2.a2 FROM ("o" AS t0 JOIN "l" AS t1 ON (t1.a1 = t0.a1)) JOIN "p" AS t2 ON (t2.a1 = t1.a3) WHERE t0.a1 = @p1 ORDER BY t1.a2';
const BIG_SCAN = 'SELECT count(*) FROM "l" AS t0 WHERE t0.a4 = @p1';
const CROSS = 'SELECT count(*) FROM "p" AS t0 CROSS JOIN "p" AS t1 CROSS JOIN "p" AS t2';

describe('the bound and its figures', () => {
  let dir: string;
  let db: Database.Database;
  let writer: Database.Database;
  let pool: ExecPool;
  let bounds: InlineBounds;
  let key = 1_000_000;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'outpost-inline-bounded-'));
    const path = join(dir, 'r.db');
    writer = new Database(path);
    writer.pragma('journal_mode = WAL');
    // Laid out like the replica: plain rowid tables, a key index, an index upstream has.
    writer.exec(`create table _outpost_meta (key text primary key, value text);
      insert into _outpost_meta values ('applied_lsn', '0/1');
      create table _outpost_changes (name text primary key, n integer not null) without rowid;
      create table o (a1, a2); create index o__outpost_key on o (a1);
      create table l (a1, a2, a3, a4); create index l__outpost_key on l (a1, a2); create index l__outpost_i0 on l (a3);
      create table p (a1, a2); create index p__outpost_key on p (a1);
      create table n (v);
      insert into n with recursive g(v) as (select 1 union all select v + 1 from g where v < 3000) select v from g;
      insert into o select v, 'order ' || v from n where v <= 1000;
      insert into l select o.v, k.v, 1 + (o.v * 7 + k.v) % 300, o.v % 5 from n o, n k where o.v <= 1000 and k.v <= 5;
      insert into p select v, 'product ' || v from n where v <= 300;`);
    db = new Database(path, { readonly: true });
    pool = new ExecPool({ path, size: 1, logger: silentLogger() });
    await pool.ready();
    bounds = new InlineBounds(db, pool, () => key++);
  });

  after(async () => {
    await pool?.close();
    db?.close();
    writer?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('worst case of a plan: lookups multiply by their largest group, scans by their table', () => {
    const figures = (f: ReturnType<typeof factorsOf>[number]) =>
      f.kind === 'rows' ? 3000 : f.kind === 'group' ? 3 : undefined;
    const lines = costShape(db, ORDER_LINES);
    assert.ok(lines, 'an order with its lines is bounded');
    // At most 3 lines of the order, each with its order and its product (in key order: no sort).
    const visits = worstVisits(lines, figures) ?? 0;
    assert.ok(visits >= 3 + 3 + 3 && visits <= 3 + 3 + 3 + 3, `visits ${visits}`);
    const scan = costShape(db, BIG_SCAN);
    assert.ok(scan);
    assert.equal(worstVisits(scan, figures), 3000);
    const cross = costShape(db, CROSS);
    assert.ok(cross);
    assert.ok((worstVisits(cross, () => 300) ?? 0) >= 300 ** 3);
    // Lookups of several values (an IN list, ORed equalities): bounded by the table.
    for (const sql of [
      'SELECT t0.a2 FROM "l" AS t0 WHERE t0.a3 IN (@p1, @p2, @p3)',
      'SELECT t0.a2 FROM "l" AS t0 WHERE t0.a3 = @p1 OR t0.a3 = @p2',
      'SELECT t0.a2 FROM "o" AS t0 WHERE t0.a1 IN (@p1, @p2)',
    ]) {
      const shape = costShape(db, sql);
      assert.ok(shape, sql);
      assert.equal(worstVisits(shape, figures), 3000, sql);
    }
    // A figure not known: no bound.
    assert.equal(
      worstVisits(lines, () => undefined),
      undefined,
    );
  });

  test('what cannot be bounded by counting rows', () => {
    assert.equal(
      costShape(
        db,
        'WITH RECURSIVE g(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM g WHERE v < @p1) SELECT count(*) FROM g',
      ),
      false,
    );
    assert.equal(costShape(db, 'SELECT outpost_repeat(t0.a2, @p1) FROM "o" AS t0 WHERE t0.a1 = 1'), false);
    // Values as long as an argument says: lpad/rpad, array_fill, char(n), bit(n); factorial's work grows with n, numeric ln/exp/power's with the digits asked.
    for (const fn of [
      'text_pad',
      'array_fill',
      'numeric_factorial',
      'numeric_math',
      'bpchar_explicit',
      'bit_resize',
    ]) {
      assert.equal(
        costShape(db, `SELECT outpost_${fn}(t0.a2, @p1) FROM "o" AS t0 WHERE t0.a1 = 1`),
        false,
        fn,
      );
    }
    assert.equal(costShape(db, 'SELECT t0.a1 FROM "o" AS t0 WHERE t0.a2 LIKE @p1'), false);
    assert.equal(costShape(db, 'SELECT group_concat(t0.a2) FROM "o" AS t0'), false);
    assert.equal(costShape(db, 'not sql'), false);
  });

  test('runs inline once an executor computed the figures for the state it reads; a big scan does not', async () => {
    const lines = bounds.plan(ORDER_LINES);
    const scan = bounds.plan(BIG_SCAN);
    assert.ok(lines && scan);
    const stmt = db.prepare(ORDER_LINES).raw(true);
    const run = (b: typeof lines) => bounds.run(b, ORDER_LINES, () => stmt.all({ p1: 7 }));
    // Figures not known yet: not inline; an executor computes them.
    assert.equal(run(lines), undefined);
    await eventually(async () => lines.state !== undefined, 10_000, 'figures');
    assert.ok(lines.admitted, `visits ${lines.visits}`);
    const before = bounds.stats.runs;
    assert.equal(run(lines)?.length, 5);
    assert.equal(bounds.stats.runs, before + 1);

    assert.equal(
      bounds.run(scan, BIG_SCAN, () => []),
      undefined,
    );
    await eventually(async () => scan.state !== undefined, 10_000, 'figures of the scan');
    assert.ok((scan.visits ?? 0) > INLINE_VISIT_BUDGET, `visits ${scan.visits}`);
    assert.equal(scan.admitted, false);
    assert.equal(
      bounds.run(scan, BIG_SCAN, () => []),
      undefined,
      'a scan of 5000 rows is not inline',
    );
  });

  test('rows changed within the slack keep the plan inline; half the slack starts a re-judge in the background', async () => {
    const lines = bounds.plan(ORDER_LINES);
    assert.ok(lines);
    const stmt = db.prepare(ORDER_LINES).raw(true);
    const run = () => bounds.run(lines, ORDER_LINES, () => stmt.all({ p1: 7 }));
    run();
    await eventually(async () => lines.admitted, 10_000, 'admitted');
    // An order, its product and at most 5 + d lines of it: d up to about 2000.
    assert.ok(lines.slack > 1000 && lines.slack < 2000, `slack ${lines.slack}`);
    assert.equal(lines.rejudgeAt, Math.floor(lines.slack / 2));
    // 100 lines of new orders, counted as the applier counts them, with a new position.
    writer.exec(`insert into l select 2000 + v, 1, 1, 0 from n where v <= 100;
      insert into _outpost_changes values ('l', 100) on conflict (name) do update set n = n + excluded.n;
      update _outpost_meta set value = '0/2' where key = 'applied_lsn'`);
    const refreshes = bounds.stats.refreshes;
    const runs = bounds.stats.runs;
    assert.equal(run()?.length, 5, 'still inline after 100 changes');
    assert.equal(bounds.stats.runs, runs + 1);
    assert.equal(bounds.stats.refreshes, refreshes, 'no re-judge yet');
    // Past half the slack: still inline, and the figures are computed again
    // meanwhile (once the least time between two computations has passed).
    await eventually(async () => Date.now() >= lines.nextRefreshAt, 10_000, 'refresh allowed');
    const more = lines.rejudgeAt;
    writer.exec(`insert into l select 3000 + v, 1, 1, 0 from n where v <= ${more};
      insert into _outpost_changes values ('l', ${more}) on conflict (name) do update set n = n + excluded.n;
      update _outpost_meta set value = '0/3' where key = 'applied_lsn'`);
    assert.equal(run()?.length, 5, 'inline past half the slack');
    assert.equal(bounds.stats.refreshes, refreshes + 1, 're-judged in the background');
    await eventually(async () => !lines.refreshing, 10_000, 're-judged');
    assert.equal(lines.counts[lines.tables.indexOf('l')], 100 + more, 'figures at the new count');
    assert.ok(lines.admitted);
    assert.equal(run()?.length, 5);
  });

  test('a change the counts do not cover (meta other than positions, the schema) makes the figures stale', async () => {
    const lines = bounds.plan(ORDER_LINES);
    assert.ok(lines);
    const stmt = db.prepare(ORDER_LINES).raw(true);
    const run = () => bounds.run(lines, ORDER_LINES, () => stmt.all({ p1: 7 }));
    run();
    await eventually(async () => lines.admitted, 10_000, 'admitted');
    assert.ok(run());
    writer.exec(`insert into _outpost_meta values ('stale_tables', '[]')`);
    assert.equal(run(), undefined, 'a new meta value: not inline');
    await eventually(async () => run() !== undefined, 10_000, 'inline again once computed again');
    writer.exec('create index o__outpost_i9 on o (a2)');
    assert.equal(run(), undefined, 'a schema change: not inline');
    await eventually(async () => run() !== undefined, 10_000, 'inline again after the schema change');
    writer.exec("drop index o__outpost_i9; delete from _outpost_meta where key = 'stale_tables'");
  });

  test('a table that changed by more than the slack goes to the executors until judged again', async () => {
    const lines = bounds.plan(ORDER_LINES);
    assert.ok(lines);
    const stmt = db.prepare(ORDER_LINES).raw(true);
    const run = () => bounds.run(lines, ORDER_LINES, () => stmt.all({ p1: 7 }));
    run();
    await eventually(async () => lines.admitted, 10_000, 'admitted');
    assert.ok(run());
    // Lines of 500 orders move to order 7: updates in place (no rowid changes), counted, with a new position.
    writer.exec(`update l set a1 = 7 where a1 between 100 and 599;
      insert into _outpost_changes values ('l', 2500) on conflict (name) do update set n = n + excluded.n;
      update _outpost_meta set value = '0/4' where key = 'applied_lsn'`);
    assert.equal(run(), undefined, 'more changes than the slack: not inline');
    // Runs ask for the figures again (at most every 250 ms).
    await eventually(
      async () => run() === undefined && !lines.refreshing && (lines.visits ?? 0) > INLINE_VISIT_BUDGET,
      10_000,
      'figures of the new state',
    );
    assert.equal(lines.admitted, false, `a group of 2505 lines: visits ${lines.visits}`);
    assert.equal(run(), undefined);
  });

  test('a plan whose inline runs are slow goes to the executors for good', async () => {
    let demoted = 0;
    const own = new InlineBounds(
      db,
      pool,
      () => key++,
      () => demoted++,
    );
    const b = own.plan('SELECT t0.a2 FROM "o" AS t0 WHERE t0.a2 = @p1');
    assert.ok(b);
    own.run(b, '', () => 0);
    await eventually(async () => b.state !== undefined, 10_000);
    assert.ok(b.admitted, `visits ${b.visits}`);
    // Slow in CPU time, not only descheduled (which is no strike).
    // Long in both: process CPU time counts every thread (an executor thread's
    // figures included), so CPU alone can pass the mark in less wall time.
    const slow = () => {
      const cpu = process.cpuUsage();
      const started = performance.now();
      while (
        process.cpuUsage(cpu).user < (INLINE_DEMOTE_MS + 1) * 1000 ||
        performance.now() - started < INLINE_DEMOTE_MS + 1
      );
      return 1;
    };
    // Long in wall time only (the thread waits, as when descheduled): no strike.
    const waits = () => {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, INLINE_DEMOTE_MS + 2);
      return 1;
    };
    for (let i = 0; i < DEMOTE_STRIKES + 2; i++) own.run(b, '', waits);
    assert.equal(b.demoted, false, 'waiting is not running long');
    for (let i = 0; i < DEMOTE_STRIKES; i++)
      assert.equal(own.run(b, '', slow), 1, `slow run ${i} still answered`);
    assert.equal(b.demoted, true);
    assert.equal(demoted, 1);
    assert.equal(
      own.run(b, '', () => 2),
      undefined,
      'demoted: no longer inline',
    );
  });
});

describe('end to end', () => {
  let stack: Stack;

  before(async () => {
    stack = await startStack({
      name: 'inline-bounded',
      setup: `create table orders (id int primary key, note text not null);
        insert into orders select g, 'order ' || g from generate_series(1, 500) g;
        create table lines (order_id int not null references orders, line int not null, qty int not null,
          primary key (order_id, line));
        insert into lines select o, l, (o * l) % 7 from generate_series(1, 500) o, generate_series(1, 3) l;
        create table wide (id int primary key, v int not null);
        insert into wide select g, g % 10 from generate_series(1, 20000) g;
        create table grow (id int primary key, v int not null);
        insert into grow select g, g % 10 from generate_series(1, 1000) g`,
      args: ['--workers', '2'],
    });
  });

  after(() => stack?.stop());

  /** A counter's value (summed over its labels). */
  async function metric(name: string): Promise<number> {
    const { body } = await stack.outpost.http('/metrics');
    let sum = 0;
    for (const l of body.split('\n')) {
      if (l.startsWith(`${name} `) || l.startsWith(`${name}{`))
        sum += Number(l.slice(l.lastIndexOf(' ') + 1));
    }
    return sum;
  }
  const offloaded = () => metric('outpost_local_offloaded_total');

  test('an order with its lines stops going to the executors; a scan of 20000 rows keeps going there', async () => {
    const c = await connectThrough(stack.outpost.port);
    try {
      const lines =
        'select o.note, l.line, l.qty from orders o join lines l on l.order_id = o.id where o.id = $1 order by l.line';
      const want = async (id: number) => (await stack.upstream.query(lines, [id])).rows;
      // The first runs go to an executor while one computes the figures.
      await eventually(
        async () => {
          const n = await offloaded();
          for (let id = 1; id <= 5; id++) assert.deepEqual((await c.query(lines, [id])).rows, await want(id));
          return (await offloaded()) === n;
        },
        20_000,
        'the order with its lines inline',
      );
      // Upstream's position may move without a change to these tables (the
      // replica stores it, which makes the figures stale for a moment): a
      // run of 31 orders without an executor must come within a few tries.
      let tries = 0;
      await eventually(
        async () => {
          tries++;
          const before = await offloaded();
          for (let id = 10; id <= 40; id++) {
            assert.deepEqual((await c.query(lines, [id])).rows, await want(id));
            assert.equal(await lastRoute(c), 'local');
          }
          return (await offloaded()) === before;
        },
        20_000,
        'no executor run for 31 orders with their lines',
      );
      assert.ok(tries <= 3, `${tries} tries`);

      const scan = 'select count(*) as n from wide where v = $1';
      const before = await offloaded();
      for (let v = 0; v < 10; v++) {
        assert.deepEqual((await c.query(scan, [v])).rows, (await stack.upstream.query(scan, [v])).rows);
      }
      assert.equal(await offloaded(), before + 10, 'each scan of 20000 rows ran in an executor');
    } finally {
      await c.end();
    }
  });

  test('an order with its lines stays inline while writes to its tables stream in', async () => {
    const c = await connectThrough(stack.outpost.port);
    const writer = await stack.upstream.connect();
    const lines =
      'select o.note, l.line, l.qty from orders o join lines l on l.order_id = o.id where o.id = $1 order by l.line';
    // Orders 1-100 are read, the writes go to new orders and to the lines of orders 400-500.
    const want = new Map<number, unknown>();
    for (let id = 1; id <= 100; id++) want.set(id, (await stack.upstream.query(lines, [id])).rows);
    let writing = true;
    let written = 0;
    const writes = (async () => {
      let id = 1000;
      while (writing) {
        id++;
        await writer.query(`begin;
          insert into orders values (${id}, 'new ${id}');
          insert into lines select ${id}, l, l from generate_series(1, 3) l;
          update lines set qty = qty + 1 where order_id = ${400 + (id % 100)};
          commit`);
        written++;
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    try {
      await eventually(
        async () => {
          const n = await offloaded();
          for (let id = 1; id <= 5; id++) assert.deepEqual((await c.query(lines, [id])).rows, want.get(id));
          return (await offloaded()) === n;
        },
        20_000,
        'the order with its lines inline',
      );
      // Three rounds of at least 100 orders, each lasting until changes were
      // applied meanwhile (the counter is posted every 250 ms or so).
      for (let round = 0; round < 3; round++) {
        const offloadedBefore = await offloaded();
        const appliedBefore = await metric('outpost_replication_changes_total');
        const deadline = Date.now() + 20_000;
        let applied = 0;
        for (let n = 0; n < 100 || applied === 0; n++) {
          const id = 1 + (n % 100);
          assert.deepEqual((await c.query(lines, [id])).rows, want.get(id));
          assert.equal(await lastRoute(c), 'local');
          if (n % 50 === 49) applied = (await metric('outpost_replication_changes_total')) - appliedBefore;
          assert.ok(Date.now() < deadline, `round ${round}: changes applied meanwhile`);
        }
        assert.equal(
          await offloaded(),
          offloadedBefore,
          `round ${round}: no executor run while ${applied} changes were applied`,
        );
      }
      assert.ok(written > 10, `${written} write transactions`);
    } finally {
      writing = false;
      await writes;
      await writer.end();
      await c.end();
    }
  });

  test("a table that grows past its plan's slack is judged again: to the executors, and back once it shrinks", async () => {
    const c = await connectThrough(stack.outpost.port);
    try {
      const scan = 'select count(*) as n from grow where v = $1';
      // Executor runs among 5 scans, or undefined while the replica has not caught up with upstream.
      const check = async () => {
        const before = await offloaded();
        for (let v = 0; v < 5; v++) {
          const got = (await c.query(scan, [v])).rows;
          if (JSON.stringify(got) !== JSON.stringify((await stack.upstream.query(scan, [v])).rows))
            return undefined;
        }
        return (await offloaded()) - before;
      };
      // A scan of 1000 rows fits the budget.
      await eventually(async () => (await check()) === 0, 20_000, 'the scan of 1000 rows inline');
      await stack.upstream.query('insert into grow select g, g % 10 from generate_series(1001, 6000) g');
      // Once replicated, 5000 more rows are past the slack: each scan runs in
      // an executor, and the figures computed again keep it there.
      await eventually(async () => (await check()) === 5, 20_000, 'the scan of 6000 rows in the executors');
      for (let i = 0; i < 3; i++) assert.equal(await check(), 5, 'judged again: stays in the executors');
      await stack.upstream.query('delete from grow where id > 1000');
      await eventually(async () => (await check()) === 0, 20_000, 'inline again once the table shrank');
    } finally {
      await c.end();
    }
  });
});
