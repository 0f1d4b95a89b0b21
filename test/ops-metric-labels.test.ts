/**
 * Metric labels come from fixed sets: `outpost_forwarded_total{reason}` is a
 * reason class (src/forward-reasons.ts), never the reason's text, which can
 * quote the client's SQL; `outpost_client_errors_total{class}` is a SQLSTATE
 * class. Checked on the real `outpost` command after many distinct bad,
 * unreplicated and unsupported statements (simple and extended protocol);
 * the detail stays in `SHOW outpost.last_route`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { FORWARD_REASON_CLASSES, forwardReasonClass } from '../src/forward-reasons.js';
import { createMetrics } from '../src/metrics.js';
import { RYW_EXPIRED, RYW_WAITING } from '../src/router/read-your-writes.js';
import { PIPELINED } from '../src/server/extended.js';
import { connectThrough, lastRoute, type OutpostProcess, startOutpost } from './helpers/outpost.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';

/** Every label value of every series in a scrape, by metric name. */
function labelValues(scrape: string): Map<string, Map<string, Set<string>>> {
  const out = new Map<string, Map<string, Set<string>>>();
  for (const line of scrape.split('\n')) {
    const m = /^([a-z_]+)\{(.*)\} \S+$/.exec(line);
    if (!m) continue;
    const [, name, body] = m as unknown as [string, string, string];
    const labels = out.get(name) ?? new Map<string, Set<string>>();
    out.set(name, labels);
    for (const l of body.matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)) {
      const [, key, value] = l as unknown as [string, string, string];
      const set = labels.get(key) ?? new Set<string>();
      set.add(value);
      labels.set(key, set);
    }
  }
  return out;
}

describe('forward reason classes', () => {
  test('reasons of every kind map to their class; anything else is "unsupported"', () => {
    const cases: [string, string][] = [
      ['write (INSERT)', 'write'],
      ['write (MERGE)', 'write'],
      ['transaction control', 'transaction'],
      ['inside a transaction', 'transaction'],
      ['READ ONLY transaction older than --max-lag', 'transaction'],
      ['SET', 'statement'],
      ['COPY', 'statement'],
      ['statement CreateStmt', 'statement'],
      ['several statements in a prepared statement', 'statement'],
      ['setting work_mem=64MB', 'session'],
      ['session changed search_path', 'session'],
      ['search_path "$user", public', 'session'],
      ['startup options', 'session'],
      ['session state being verified upstream (after statement CopyStmt)', 'session'],
      ['TimeZone Mars/Olympus not verified', 'session'],
      ['temporary table may shadow replicated tables', 'session'],
      ['schema "alice" may shadow unqualified names', 'session'],
      ['table nosuchtable not in replica', 'not-replicated'],
      ['table public.x not in replica', 'not-replicated'],
      ['database other not replicated', 'not-replicated'],
      ['privileges of role alice not yet known', 'privileges'],
      ['replica snapshot not complete', 'freshness'],
      ['replica lag 12.3 s exceeds --max-lag 5.0 s', 'freshness'],
      ['replication reconnecting', 'freshness'],
      [RYW_EXPIRED, 'freshness'],
      [RYW_WAITING, 'freshness'],
      [PIPELINED, 'pipelined'],
      ['simple Query inside an extended-protocol batch', 'pipelined'],
      ['function call', 'protocol'],
      ['message type "d"', 'protocol'],
      ['parse error: syntax error at or near "selec"', 'parse'],
      ['empty query', 'parse'],
      ['local error: something broke', 'local-error'],
      ['router error: boom', 'local-error'],
      ['sqlite: no such column', 'local-error'],
      ['local executor exited', 'local-error'],
      ['result larger than 8 MiB', 'local-error'],
      ['statement_timeout set inside a transaction block (a rollback undoes it)', 'session'],
      ['idle_in_transaction_session_timeout changed in a way Outpost does not follow', 'session'],
      ['a timeout setting changed in a way Outpost does not follow', 'session'],
      ['division by zero', 'unsupported'],
      ['operator ~ on text and text', 'unsupported'],
      ['anything else at all', 'unsupported'],
    ];
    for (const [reason, cls] of cases) assert.equal(forwardReasonClass(reason), cls, reason);
    for (const cls of FORWARD_REASON_CLASSES) assert.equal(forwardReasonClass(cls), cls);
  });

  test('the counter keeps only classes, however many distinct reasons it is given', () => {
    const m = createMetrics();
    for (let i = 0; i < 5000; i++) {
      m.forwarded.inc({ reason: `parse error: syntax error at or near "selec${i}"` });
      m.forwarded.inc({ reason: `table t${i} not in replica` });
      m.clientErrors.inc({ class: `${i}`.padStart(5, 'Z') });
    }
    assert.equal(m.forwarded.get({ reason: 'parse' }), 5000);
    assert.equal(m.forwarded.get({ reason: 'not-replicated' }), 5000);
    const values = labelValues(m.forwarded.render()).get('outpost_forwarded_total')?.get('reason');
    assert.deepEqual([...(values ?? [])].sort(), ['not-replicated', 'parse']);
    const classes = labelValues(m.clientErrors.render()).get('outpost_client_errors_total')?.get('class');
    assert.ok((classes?.size ?? 0) <= 40, `client error classes: ${[...(classes ?? [])].join(', ')}`);
  });
});

describe('labels on the running outpost', () => {
  let upstream: PostgresInstance;
  let dir: string;
  let outpost: OutpostProcess;
  let client: pg.Client;

  before(async () => {
    upstream = await startPostgres();
    await upstream.query('create table items (id int primary key, name text)');
    await upstream.query("insert into items values (1, 'one'), (2, 'two')");
    dir = mkdtempSync(join(tmpdir(), 'outpost-metric-labels-'));
    outpost = await startOutpost({ upstream: upstream.url(), replica: join(dir, 'r.db') });
    await outpost.ready();
    client = await connectThrough(outpost.port);
  });

  after(async () => {
    await client?.end().catch(() => {});
    await outpost?.stop();
    await upstream?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('after many distinct bad, unreplicated and unsupported statements, every label is from a fixed set', async () => {
    const N = 60;
    for (let i = 0; i < N; i++) {
      await assert.rejects(client.query(`selec sentinel_${i} from items`), { code: '42601' });
      await assert.rejects(client.query(`select * from sentinel_missing_${i}`), { code: '42P01' });
      await assert.rejects(client.query(`select * from sentinel_missing_x${i} where id = $1`, [i]), {
        code: '42P01',
      });
      await client.query(`select name, now() as sentinel_${i} from items where id = 1`);
      await client.query(`set application_name = 'sentinel_${i}'`);
      await client.query(`insert into items values (${100 + i}, 'sentinel_${i}')`);
      await assert.rejects(client.query(`select ${i} / 0 as sentinel_${i}`), { code: '22012' });
    }
    // The detail is still there for the asking.
    await assert.rejects(client.query('select * from sentinel_last'), { code: '42P01' });
    assert.match(await lastRoute(client), /^upstream: table sentinel_last not in replica$/);

    const scrape = (await outpost.http('/metrics')).body;
    assert.doesNotMatch(scrape, /sentinel/, 'no statement text in any label');
    const labels = labelValues(scrape);
    const reasons = [...(labels.get('outpost_forwarded_total')?.get('reason') ?? [])];
    const allowed = new Set<string>(FORWARD_REASON_CLASSES);
    for (const r of reasons) assert.ok(allowed.has(r), `reason label ${r} is a class`);
    for (const cls of ['parse', 'not-replicated', 'write', 'statement', 'unsupported']) {
      assert.ok(reasons.includes(cls), `${cls} among ${reasons.join(', ')}`);
    }
    const forwarded = /^outpost_forwarded_total\{reason="not-replicated"\} (\d+)$/m.exec(scrape);
    assert.ok(Number(forwarded?.[1]) >= 2 * N, 'simple and extended statements on missing tables counted');
    for (const c of labels.get('outpost_client_errors_total')?.get('class') ?? []) {
      assert.match(c, /^[0-9A-Z]{2}$/);
    }
    // No metric has more series than its labels' fixed sets allow.
    for (const [name, byKey] of labels) {
      for (const [key, values] of byKey) {
        if (key === 'le') continue;
        assert.ok(values.size <= FORWARD_REASON_CLASSES.length, `${name}{${key}}: ${values.size} values`);
      }
    }
  });
});
