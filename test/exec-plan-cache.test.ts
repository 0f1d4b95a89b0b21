/**
 * The executors keep each plan's definition (sent once per executor, by
 * key) and the session settings of their last run (sent only when they
 * change): answers must follow every change of settings, a plan must be
 * found again after the proxy had its executor forget them, and one
 * executor's knowledge must not be assumed of another.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { ExecPool, type JobOutcome } from '../src/exec/pool.js';
import { EXECUTOR_PLANS, type PlanJob } from '../src/exec/protocol.js';
import { silentLogger } from '../src/log.js';

let dir: string;
let pool: ExecPool;

const INTERVAL = 1186;
const TEXT = 25;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'outpost-plan-cache-'));
  const db = new Database(join(dir, 'r.db'));
  db.exec(`create table t (a, b); insert into t values (1, '1 day'), (2, '02:00:00');`);
  db.close();
  pool = new ExecPool({ path: join(dir, 'r.db'), size: 2, logger: silentLogger() });
  await pool.ready();
});

after(async () => {
  await pool?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Interval output renders only under IntervalStyle postgres: a setting the renderer reads. */
const intervals: PlanJob = {
  key: 1,
  sql: 'SELECT b FROM t WHERE a >= @p ORDER BY a',
  precheck: undefined,
  values: { p: 1 },
  outputs: [{ typeOid: INTERVAL, typeName: 'interval' }],
};

function run(plans: PlanJob[], style: string): Promise<JobOutcome> {
  return pool.run({ plans, params: [['IntervalStyle', style]], snapshot: undefined }).done;
}

test('settings changed between runs of one kept plan reach its renderers', async () => {
  // Four runs per style, so both executors see each plan and each change.
  for (const style of ['postgres', 'iso_8601', 'postgres', 'postgres', 'sql_standard', 'postgres']) {
    for (let i = 0; i < 4; i++) {
      const out = await run([{ ...intervals, values: { p: 1 + (i % 2) } }], style);
      if (style === 'postgres') {
        const want = i % 2 === 0 ? [['1 day'], ['02:00:00']] : [['02:00:00']];
        assert.deepEqual(out, { kind: 'ok', rows: [want] }, `${style} run ${i}`);
      } else {
        assert.equal(out.kind, 'not-local', `${style} run ${i}`);
      }
    }
  }
});

test('a job runs its own plans whatever the executors kept, after they were made to forget', async () => {
  const text = (key: number): PlanJob => ({
    key,
    sql: `SELECT '${key}' || b FROM t WHERE a = @p`,
    precheck: undefined,
    values: { p: 1 },
    outputs: [{ typeOid: TEXT, typeName: 'text' }],
  });
  // More distinct plans than an executor keeps, several per job, in parallel jobs.
  for (let base = 100; base < 100 + EXECUTOR_PLANS + 300; base += 60) {
    const jobs = [0, 20, 40].map((off) => {
      const plans = Array.from({ length: 20 }, (_, i) => text(base + off + i));
      return run(plans, 'postgres').then((out) => ({ out, plans }));
    });
    for (const { out, plans } of await Promise.all(jobs)) {
      assert.deepEqual(out, { kind: 'ok', rows: plans.map((p) => [[`${p.key}1 day`]]) });
    }
  }
  // The first ones again, and the interval plan, on both executors.
  for (let i = 0; i < 4; i++) {
    const out = await run([text(100), intervals, text(101)], 'postgres');
    assert.deepEqual(out, { kind: 'ok', rows: [[['1001 day']], [['1 day'], ['02:00:00']], [['1011 day']]] });
  }
});
