/**
 * `--consistency session`: a session's reads after its own writes see them,
 * mostly served locally; `--consistency eventual` never waits.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { connectThrough, lastRoute, type OutpostProcess, startOutpost } from './helpers/outpost.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';

let upstream: PostgresInstance;
let outpost: OutpostProcess;
let dir: string;

before(async () => {
  upstream = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'outpost-ryw-'));
  await upstream.query(
    'create table counters (id int primary key, n int not null); insert into counters values (1, 0)',
  );
  outpost = await startOutpost({ upstream: upstream.url(), replica: join(dir, 'r.db') });
  await outpost.ready();
});

after(async () => {
  await outpost?.stop();
  await upstream?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A separate Outpost with `args` on its own replica file, and one client through it. */
async function withOutpost(file: string, args: string[], fn: (c: pg.Client) => Promise<void>): Promise<void> {
  const o = await startOutpost({ upstream: upstream.url(), replica: join(dir, file), args });
  try {
    await o.ready();
    const c = await connectThrough(o.port);
    try {
      await fn(c);
    } finally {
      await c.end();
    }
  } finally {
    await o.stop();
  }
}

test('100 write-then-read pairs each see their write, most reads served locally', async () => {
  const c = new pg.Client({ host: '127.0.0.1', port: outpost.port, user: 'postgres', password: 'postgres' });
  await c.connect();
  let local = 0;
  try {
    for (let i = 1; i <= 100; i++) {
      await c.query('update counters set n = n + 1 where id = 1');
      const r = await c.query<{ n: number }>('select n from counters where id = 1');
      assert.equal(r.rows[0]?.n, i, `read ${i} sees its write`);
      const route = await c.query<{ last_route: string }>('show outpost.last_route');
      if (route.rows[0]?.last_route === 'local') local++;
    }
    // Inside an explicit transaction as well: COMMIT fences the next read.
    await c.query('begin');
    await c.query('update counters set n = 1000 where id = 1');
    await c.query('commit');
    const r = await c.query<{ n: number }>('select n from counters where id = 1');
    assert.equal(r.rows[0]?.n, 1000);
  } finally {
    await c.end();
  }
  assert.ok(local >= 60, `only ${local} of 100 reads were local`);
});

test('a write through one session does not hold back reads of an idle session', async () => {
  const writer = new pg.Client({
    host: '127.0.0.1',
    port: outpost.port,
    user: 'postgres',
    password: 'postgres',
  });
  const reader = new pg.Client({
    host: '127.0.0.1',
    port: outpost.port,
    user: 'postgres',
    password: 'postgres',
  });
  await writer.connect();
  await reader.connect();
  try {
    await reader.query('select n from counters where id = 1');
    await writer.query('update counters set n = n + 1 where id = 1');
    await reader.query('select n from counters where id = 1');
    const route = await reader.query<{ last_route: string }>('show outpost.last_route');
    assert.equal(route.rows[0]?.last_route, 'local', 'the other session reads locally without waiting');
  } finally {
    await writer.end();
    await reader.end();
  }
});

test('a forwarded read does not fence the next local read; a forwarded write does', async () => {
  // --ryw-timeout 0: a fenced read goes upstream at once, so the fence is visible in last_route.
  await withOutpost('fence.db', ['--ryw-timeout', '0'], async (c) => {
    for (let i = 0; i < 5; i++) {
      // A SELECT the replica cannot answer (a system catalog): forwarded, and it cannot write.
      await c.query('select count(*) from pg_class where relname = $$counters$$');
      assert.match(await lastRoute(c), /^upstream: /);
      await c.query('select n from counters where id = 1');
      assert.equal(await lastRoute(c), 'local', 'no fence after a forwarded read');
      // The same through the extended protocol (no position query behind it either).
      await c.query({ text: 'select count(*) from pg_class where relname = $1', values: ['counters'] });
      assert.match(await lastRoute(c), /^upstream: /);
      await c.query('select n from counters where id = 1');
      assert.equal(await lastRoute(c), 'local', 'no fence after a forwarded extended-protocol read');
    }
    // The control: a forwarded write does fence. (The replica may apply it
    // before a slow client's next read arrives, so allow a few tries.)
    const routes: string[] = [];
    for (let i = 0; i < 10 && !routes.some((r) => /read-your-writes/.test(r)); i++) {
      await c.query('update counters set n = n where id = 1');
      await c.query('select n from counters where id = 1');
      routes.push(await lastRoute(c));
    }
    assert.ok(
      routes.some((r) => /read-your-writes/.test(r)),
      `a forwarded write fences: ${routes.join(' | ')}`,
    );
    const extended: string[] = [];
    for (let i = 0; i < 10 && !extended.some((r) => /read-your-writes/.test(r)); i++) {
      await c.query({ text: 'update counters set n = n where id = $1', values: [1] });
      await c.query('select n from counters where id = 1');
      extended.push(await lastRoute(c));
    }
    assert.ok(
      extended.some((r) => /read-your-writes/.test(r)),
      `a forwarded extended-protocol write fences: ${extended.join(' | ')}`,
    );
  });
});

test('after a ROLLBACK the next read is local without waiting out --ryw-timeout', async () => {
  // A rolled-back transaction leaves WAL that decodes to nothing: the replica
  // reflects that position as soon as upstream reports it, not a second later.
  await withOutpost('rollback.db', ['--ryw-timeout', '0.5'], async (c) => {
    let local = 0;
    for (let i = 0; i < 5; i++) {
      await c.query('begin');
      await c.query('update counters set n = n + 1000 where id = 1');
      await c.query('rollback');
      await c.query('select n from counters where id = 1');
      if ((await lastRoute(c)) === 'local') local++;
    }
    assert.equal(local, 5, 'every read after a ROLLBACK was local');
  });
});

test('extended protocol: write-then-read pairs see their write, reads mostly local', async () => {
  const c = await connectThrough(outpost.port);
  let local = 0;
  try {
    for (let i = 1; i <= 40; i++) {
      await c.query({ text: 'update counters set n = $1 where id = $2', values: [5000 + i, 1] });
      const r = await c.query<{ n: number }>({
        name: 'read-n',
        text: 'select n from counters where id = $1',
        values: [1],
      });
      assert.equal(r.rows[0]?.n, 5000 + i, `read ${i} sees its write`);
      if ((await lastRoute(c)) === 'local') local++;
    }
  } finally {
    await c.end();
  }
  assert.ok(local >= 24, `only ${local} of 40 extended-protocol reads were local`);
});

test('a write sent right after a statement with a pipelined state check is still fenced', async () => {
  // An UPDATE of a table with a trigger runs user code: Outpost pipelines a
  // hidden state query behind it. Its ReadyForQuery can arrive after the
  // next write was sent, and must not be taken for the end of that write.
  await upstream.query(`
    create table touched (id int primary key, n int not null);
    insert into touched values (1, 0);
    create function touched_noop() returns trigger language plpgsql as $$ begin return new; end $$;
    create trigger touched_noop before update on touched for each row execute function touched_noop();
    create table wide (id int primary key, v int not null);
    insert into wide select g, 0 from generate_series(1, 5000) g;
  `);
  const c = await connectThrough(outpost.port);
  try {
    for (let i = 1; i <= 40; i++) {
      await c.query('update touched set n = n + 1 where id = 1');
      await c.query('update wide set v = v + 1');
      const r = await c.query<{ lo: number; hi: number }>('select min(v) as lo, max(v) as hi from wide');
      assert.deepEqual(r.rows[0], { lo: i, hi: i }, `read ${i} sees its write (${await lastRoute(c)})`);
    }
  } finally {
    await c.end();
  }
});
