/**
 * /metrics: the statement latency histogram (local and forwarded), snapshot
 * progress gauges, and the existing series (statements by route, forward
 * reasons, lag, applied LSN, clients, errors by SQLSTATE class), scraped
 * from the real `outpost` command after real statements.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import {
  createMetrics,
  Histogram,
  LATENCY_BUCKETS,
  observeStatement,
  renderMetrics,
  statementTimer,
  timeUntilReady,
  timeUntilSettled,
} from '../src/metrics.js';
import { eventually, type OutpostProcess, startOutpost } from './helpers/outpost.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';

/** `name{labels} value` lines of a scrape, keyed by `name{labels}`. */
function parseScrape(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

function value(scrape: Map<string, number>, series: string): number {
  const v = scrape.get(series);
  assert.notEqual(v, undefined, `series ${series} missing`);
  return v as number;
}

describe('histogram and statement timing API', () => {
  test('cumulative buckets, +Inf, _sum and _count per label set', () => {
    const h = new Histogram('x_seconds', 'test', [0.001, 0.01, 0.1]);
    h.observe(0.0005, { route: 'local' });
    h.observe(0.001, { route: 'local' }); // on the bound: le="0.001" includes it
    h.observe(0.05, { route: 'local' });
    h.observe(3, { route: 'local' });
    h.observe(0.02, { route: 'upstream' });
    const s = parseScrape(h.render());
    assert.equal(value(s, 'x_seconds_bucket{le="0.001",route="local"}'), 2);
    assert.equal(value(s, 'x_seconds_bucket{le="0.01",route="local"}'), 2);
    assert.equal(value(s, 'x_seconds_bucket{le="0.1",route="local"}'), 3);
    assert.equal(value(s, 'x_seconds_bucket{le="+Inf",route="local"}'), 4);
    assert.equal(value(s, 'x_seconds_count{route="local"}'), 4);
    assert.ok(Math.abs(value(s, 'x_seconds_sum{route="local"}') - 3.0515) < 1e-9);
    assert.equal(value(s, 'x_seconds_bucket{le="0.01",route="upstream"}'), 0);
    assert.equal(value(s, 'x_seconds_bucket{le="0.1",route="upstream"}'), 1);
    assert.equal(h.get({ route: 'upstream' }), 1);
    assert.match(h.render(), /^# HELP x_seconds test\n# TYPE x_seconds histogram\n/);
  });

  test('default buckets span 50 µs to 10 s', () => {
    assert.equal(LATENCY_BUCKETS[0], 0.00005);
    assert.equal(LATENCY_BUCKETS[LATENCY_BUCKETS.length - 1], 10);
    for (let i = 1; i < LATENCY_BUCKETS.length; i++) {
      assert.ok((LATENCY_BUCKETS[i] as number) > (LATENCY_BUCKETS[i - 1] as number));
    }
  });

  test('observeStatement, statementTimer (once), timeUntilReady and timeUntilSettled feed outpost_statement_duration_seconds', async () => {
    const m = createMetrics();
    observeStatement(m, 'local', 0.0002);
    const done = statementTimer(m, 'local');
    done();
    done();
    assert.equal(m.statementDuration.get({ route: 'local' }), 2, 'a timer records once');

    const seen: number[] = [];
    const expectation = { kind: 'query', ready: (status: number) => seen.push(status) };
    assert.equal(timeUntilReady(m, expectation), expectation);
    await new Promise((r) => setTimeout(r, 30));
    expectation.ready(0x49);
    assert.deepEqual(seen, [0x49], 'the original ready callback still runs');
    assert.equal(m.statementDuration.get({ route: 'upstream' }), 1);
    assert.ok(m.statementDuration.sum({ route: 'upstream' }) >= 0.025, 'timed from the call to ready');

    // An expectation without a ready callback gets one.
    const bare: { ready?: (s: number) => void } = {};
    timeUntilReady(m, bare).ready?.(0x54);
    assert.equal(m.statementDuration.get({ route: 'upstream' }), 2);

    // Execute (extended protocol): until settled; a skipped one is not a statement upstream ran.
    const outcomes: string[] = [];
    const exec = timeUntilSettled(m, {
      kind: 'execute',
      settle: (o: 'ok' | 'error' | 'skipped') => outcomes.push(o),
    });
    exec.settle('ok');
    timeUntilSettled(m, {} as { settle?: (o: 'ok' | 'error' | 'skipped') => void }).settle?.('error');
    timeUntilSettled(m, {} as { settle?: (o: 'ok' | 'error' | 'skipped') => void }).settle?.('skipped');
    assert.deepEqual(outcomes, ['ok']);
    assert.equal(m.statementDuration.get({ route: 'upstream' }), 4);

    const text = renderMetrics(m);
    assert.match(text, /outpost_statement_duration_seconds_bucket\{le="0.00005",route="local"\} \d+/);
    assert.match(text, /outpost_statement_duration_seconds_count\{route="upstream"\} 4/);
  });
});

describe('/metrics end to end', () => {
  let upstream: PostgresInstance;
  let dir: string;
  let outpost: OutpostProcess;
  let client: pg.Client;
  let before1: Map<string, number>;

  before(async () => {
    upstream = await startPostgres();
    dir = mkdtempSync(join(tmpdir(), 'outpost-ops-metrics-'));
    await upstream.query(`
      create table items (id int primary key, name text);
      insert into items select g, 'item ' || g from generate_series(1, 500) g;
      create table other (id int primary key);
      insert into other values (1), (2);
    `);
    outpost = await startOutpost({ upstream: upstream.url(), replica: join(dir, 'r.db') });
    await outpost.ready();
    client = new pg.Client({
      host: '127.0.0.1',
      port: outpost.port,
      user: 'postgres',
      password: 'postgres',
      database: 'postgres',
    });
    client.on('error', () => {});
    await client.connect();
    before1 = parseScrape((await outpost.http('/metrics')).body);
    // Local reads (the replica is caught up and the session has not written).
    for (let i = 1; i <= 20; i++) {
      await client.query('select name from items where id = $1', [i]);
      await client.query(`select count(*) from items where id <= ${i}`);
    }
    const r = await client.query('show outpost.last_route');
    assert.equal(r.rows[0]?.last_route, 'local', 'reads were served locally');
    // Forwarded: a write, a volatile function, a slow statement, an error.
    await client.query("insert into items values (1000, 'new')");
    // Through the extended protocol too (Parse/Bind/Execute/Sync).
    await client.query('insert into items values ($1, $2)', [1001, 'newer']);
    await client.query('select pg_sleep($1)', [0.15]);
    await client.query('select now()');
    await client.query('select pg_sleep(0.2)');
    await assert.rejects(client.query('select 1/0'), { code: '22012' });
    // node-postgres rejects on the ErrorResponse, which Postgres flushes ahead of
    // its ReadyForQuery: the statement is timed at the latter. One more round
    // trip makes sure it has been, before the tests below scrape.
    await client.query('select 1');
  });

  after(async () => {
    await client?.end().catch(() => {});
    await outpost?.stop();
    await upstream?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('existing series: statements by route, forward reasons, lag, LSN, clients, errors by class', async () => {
    const s = parseScrape((await outpost.http('/metrics')).body);
    assert.ok(value(s, 'outpost_statements_total{route="local"}') >= 40);
    // Five forwarded: `select 1/0` is answered locally (a planning-time error, src/router/plan-errors.ts).
    assert.ok(value(s, 'outpost_statements_total{route="upstream"}') >= 5);
    const reasons = [...s.keys()].filter((k) => k.startsWith('outpost_forwarded_total{reason='));
    assert.ok(reasons.length >= 2, `forward reasons: ${reasons.join(', ')}`);
    assert.ok(
      value(s, 'outpost_client_errors_total{class="22"}') >= 1,
      'division by zero counted as class 22',
    );
    assert.equal(value(s, 'outpost_clients_connected'), 1);
    assert.ok(value(s, 'outpost_replication_applied_lsn') > 0);
    assert.ok(value(s, 'outpost_replication_lag_bytes') >= 0);
    assert.ok(value(s, 'outpost_replication_lag_seconds') >= 0);
    assert.equal(value(s, 'outpost_replication_streaming'), 1);
    assert.equal(value(s, 'outpost_build_info{version="0.1.0"}'), 1);
    // The insert came back through replication.
    await eventually(async () => {
      const t = parseScrape((await outpost.http('/metrics')).body);
      return (t.get('outpost_replication_changes_total{kind="insert"}') ?? 0) >= 1;
    });
  });

  test('snapshot gauges: tables done = tables total, rows copied', async () => {
    const s = parseScrape((await outpost.http('/metrics')).body);
    assert.equal(value(s, 'outpost_snapshot_tables_total'), 2);
    assert.equal(value(s, 'outpost_snapshot_tables_done'), 2);
    assert.equal(value(s, 'outpost_snapshot_rows_copied'), 502);
  });

  // The two histogram tests below need the session to time statements
  // (statementTimer / timeUntilReady / timeUntilSettled in src/server): see the ops report.
  test('latency histogram: local statements are counted', async () => {
    const s = parseScrape((await outpost.http('/metrics')).body);
    const count = value(s, 'outpost_statement_duration_seconds_count{route="local"}');
    const was = before1.get('outpost_statement_duration_seconds_count{route="local"}') ?? 0;
    assert.ok(count - was >= 40, `local histogram count moved by ${count - was}`);
    assert.equal(value(s, 'outpost_statement_duration_seconds_bucket{le="+Inf",route="local"}'), count);
    assert.ok(value(s, 'outpost_statement_duration_seconds_sum{route="local"}') > 0);
  });

  test('latency histogram: forwarded statements (simple and extended) are counted, sleeps in slow buckets', async () => {
    const s = parseScrape((await outpost.http('/metrics')).body);
    const count = value(s, 'outpost_statement_duration_seconds_count{route="upstream"}');
    const was = before1.get('outpost_statement_duration_seconds_count{route="upstream"}') ?? 0;
    assert.ok(count - was >= 5, `upstream histogram count moved by ${count - was}`);
    const fast = value(s, 'outpost_statement_duration_seconds_bucket{le="0.1",route="upstream"}');
    assert.ok(count - fast >= 2, 'the 0.2 s and 0.15 s sleeps lie above the 0.1 s bucket');
    assert.ok(value(s, 'outpost_statement_duration_seconds_sum{route="upstream"}') >= 0.35);
  });
});
