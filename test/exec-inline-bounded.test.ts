/**
 * Plans that are not key lookups run on the proxy's thread when their worst
 * case is small for the replica's current state (src/exec/inline-cost.ts,
 * src/router/inline-bounds.ts): the bound from the plan and the figures an
 * executor computed, a replica that changed makes the figures stale, a plan
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
    await eventually(async () => lines.fingerprint !== undefined, 10_000, 'figures');
    assert.ok(lines.admitted, `visits ${lines.visits}`);
    const before = bounds.stats.runs;
    assert.equal(run(lines)?.length, 5);
    assert.equal(bounds.stats.runs, before + 1);

    assert.equal(
      bounds.run(scan, BIG_SCAN, () => []),
      undefined,
    );
    await eventually(async () => scan.fingerprint !== undefined, 10_000, 'figures of the scan');
    assert.ok((scan.visits ?? 0) > INLINE_VISIT_BUDGET, `visits ${scan.visits}`);
    assert.equal(scan.admitted, false);
    assert.equal(
      bounds.run(scan, BIG_SCAN, () => []),
      undefined,
      'a scan of 5000 rows is not inline',
    );
  });

  test('a replica that changed makes the figures stale until they are computed again', async () => {
    const lines = bounds.plan(ORDER_LINES);
    assert.ok(lines);
    const stmt = db.prepare(ORDER_LINES).raw(true);
    const run = () => bounds.run(lines, ORDER_LINES, () => stmt.all({ p1: 7 }));
    run();
    await eventually(async () => lines.admitted, 10_000, 'admitted');
    assert.ok(run());
    // Lines of 500 orders move to order 7: an update in place (no rowid changes), with the position the writer stores.
    writer.exec(
      "update l set a1 = 7 where a1 between 100 and 599; update _outpost_meta set value = '0/2' where key = 'applied_lsn'",
    );
    assert.equal(run(), undefined, 'stale figures: not inline');
    // Runs ask for the figures again (at most every 250 ms).
    await eventually(
      async () => run() === undefined && !lines.refreshing && lines.fingerprint?.includes('0/2') === true,
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
    await eventually(async () => b.fingerprint !== undefined, 10_000);
    assert.ok(b.admitted, `visits ${b.visits}`);
    // Slow in CPU time, not only descheduled (which is no strike).
    const slow = () => {
      const cpu = process.cpuUsage();
      while (process.cpuUsage(cpu).user < (INLINE_DEMOTE_MS + 1) * 1000);
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
        insert into wide select g, g % 10 from generate_series(1, 20000) g`,
      args: ['--workers', '2'],
    });
  });

  after(() => stack?.stop());

  async function offloaded(): Promise<number> {
    const { body } = await stack.outpost.http('/metrics');
    const line = body.split('\n').find((l) => l.startsWith('outpost_local_offloaded_total'));
    return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
  }

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
});
