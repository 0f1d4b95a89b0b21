/**
 * Local statements that are not key lookups run in executor processes: a
 * long local read holds up only its own session, and an executor that dies
 * mid-statement costs that statement its local answer only.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { after, before, test } from 'node:test';
import type pg from 'pg';
import { cancelRequest } from './helpers/cancel.js';
import { connectThrough, eventually, lastRoute, type OutpostProcess } from './helpers/outpost.js';
import type { PostgresInstance } from './helpers/postgres.js';
import { type Stack, startStack } from './helpers/stack.js';

let upstream: PostgresInstance;
let outpost: OutpostProcess;
let stack: Stack;

/** About 10^9 rows to count: many seconds in SQLite (and upstream). */
const HEAVY = 'select count(*) from big a cross join big b cross join big c';

before(async () => {
  stack = await startStack({
    name: 'exec',
    setup: `create table big (id int primary key, v int not null);
     insert into big select g, g % 97 from generate_series(1, 1000) g;
     create table pad (id int primary key, p text not null);
     insert into pad select g, repeat('x', 1000) from generate_series(1, 1000) g`,
    args: ['--workers', '2'],
  });
  ({ upstream, outpost } = stack);
});

after(() => stack?.stop());

/** Settles with the result or the error, and records whether it has. */
function track<T>(p: Promise<T>): { settled: () => boolean; result: Promise<T | Error> } {
  let settled = false;
  const result = p.then(
    (v) => {
      settled = true;
      return v;
    },
    (e: Error) => {
      settled = true;
      return e;
    },
  );
  return { settled: () => settled, result };
}

test('point reads of another session are answered while a long local read runs', async () => {
  const heavy = await connectThrough(outpost.port);
  const other = await connectThrough(outpost.port);
  try {
    const running = track(heavy.query(HEAVY));
    await new Promise((r) => setTimeout(r, 300));
    // (A read may still be forwarded now and then, e.g. while the role's privileges are looked up again.)
    let localPoints = 0;
    let localCounts = 0;
    for (let id = 1; id <= 20; id++) {
      const r = await other.query<{ v: number }>(`select v from big where id = ${id}`);
      assert.equal(r.rows[0]?.v, id % 97);
      if ((await lastRoute(other)) === 'local') localPoints++;
      // Also a local read that is not a key lookup (it runs in the other executor).
      const sql = `select count(*) as n from big where v = ${id}`;
      const n = await other.query<{ n: string }>(sql);
      assert.deepEqual(n.rows, (await upstream.query(sql)).rows);
      if ((await lastRoute(other)) === 'local') localCounts++;
    }
    assert.ok(
      localPoints >= 10 && localCounts >= 10,
      `local: ${localPoints} point reads, ${localCounts} counts`,
    );
    assert.equal(running.settled(), false, 'the long read is still running after the point reads');
    await cancelRequest(outpost.port, heavy);
    const err = (await running.result) as pg.DatabaseError;
    assert.equal(err.code, '57014');
    assert.equal(err.message, 'canceling statement due to user request');
    assert.equal(await lastRoute(heavy), 'local');
    assert.equal((await heavy.query('select v from big where id = 5')).rows[0]?.v, 5);
  } finally {
    await heavy.end();
    await other.end();
  }
});

/** The executor processes of the running Outpost (children of its process). */
function executors(): number[] {
  const pid = outpost.proc.pid as number;
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
    .trim()
    .split(/\s+/)
    .map(Number)
    .filter((n) => n > 0);
}

test('an executor killed mid-statement: the statement goes upstream and the proxy goes on', async () => {
  const c = await connectThrough(outpost.port);
  const probe = await connectThrough(outpost.port);
  try {
    const before = executors();
    assert.equal(before.length, 2);
    const running = track(c.query(HEAVY));
    await new Promise((r) => setTimeout(r, 300));
    for (const pid of before) process.kill(pid, 'SIGKILL');
    // Answered upstream now: wait until upstream runs it, then cancel it there.
    await eventually(
      async () =>
        Number(
          (
            await upstream.query(
              `select count(*) as n from pg_stat_activity where state = 'active' and query like 'select count(*) from big a%'`,
            )
          ).rows[0]?.n,
        ) === 1,
      20_000,
      'the statement running upstream',
    );
    assert.equal(running.settled(), false);
    await cancelRequest(outpost.port, c);
    const err = (await running.result) as pg.DatabaseError;
    assert.equal(err.code, '57014');
    assert.match(await lastRoute(c), /^upstream: local executor exited/);
    // Replacements serve local reads. Waited for until the killed ones are
    // reaped: a zombie still counts among the children, and until it is
    // reaped Outpost has not seen it exit (a statement handed to it goes upstream).
    await eventually(
      async () => {
        const now = executors();
        return now.length === 2 && !now.some((p) => before.includes(p));
      },
      10_000,
      'replacement executors',
    );
    const sql = 'select count(*) as n from big where v = 3';
    assert.deepEqual((await probe.query(sql)).rows, (await upstream.query(sql)).rows);
    assert.equal(await lastRoute(probe), 'local');
    assert.equal((await c.query('select v from big where id = 7')).rows[0]?.v, 7);
  } finally {
    await c.end();
    await probe.end();
  }
});

/** Statements forwarded because local execution could not answer (`outpost_forwarded_total{reason="local-error"}`). */
function localErrors(metrics: string): number {
  return Number(/^outpost_forwarded_total\{reason="local-error"\} (\d+)/m.exec(metrics)?.[1] ?? 0);
}

/** Resident memory of the Outpost process, in MiB. */
function rssMiB(): number {
  const status = readFileSync(`/proc/${outpost.proc.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) / 1024;
}

test('a result of about 1 GB to a client that stops reading: memory stays bounded, others go on', async () => {
  const slow = await connectThrough(outpost.port);
  const other = await connectThrough(outpost.port);
  const socket = (slow as unknown as { connection: { stream: Socket } }).connection.stream;
  try {
    const before = rssMiB();
    const errorsBefore = localErrors((await outpost.http('/metrics')).body);
    void slow.query('select a.id, b.p from big a cross join pad b').catch(() => {});
    await new Promise((r) => setTimeout(r, 100));
    socket.pause();
    let peak = 0;
    for (let i = 0; i < 20; i++) {
      peak = Math.max(peak, rssMiB());
      const r = await other.query<{ v: number }>(`select v from big where id = ${i + 1}`);
      assert.equal(r.rows[0]?.v, (i + 1) % 97);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(peak < 300, `Outpost RSS peaked at ${peak.toFixed(0)} MiB (from ${before.toFixed(0)} MiB)`);
    // Too big to hold, yet not forwarded (class local-error): streamed from the executor as the
    // client reads (test/exec-streaming.test.ts).
    assert.equal(localErrors((await outpost.http('/metrics')).body), errorsBefore);
  } finally {
    socket.destroy();
    await other.end();
  }
});
