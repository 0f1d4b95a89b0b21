/**
 * Scenario 7: the cost of routing, in-process. For every statement of the
 * differential corpus (test/corpus) that the router answers locally: the
 * median time of a repeated `route()` (classification from the cache plus
 * the session's checks) and of `route()` + `run()`, and pgbench's point
 * select as a new text every time (constants inlined: plan templates) and as
 * a prepared statement. No sockets: what Outpost spends per statement
 * before and after SQLite.
 */
import { startCorpus } from '../../test/corpus/harness.js';
import { CORPUS } from '../../test/corpus/statements.js';
import type { Ctx, Scenario } from '../lib/context.js';

const REPEAT = 40;

function microseconds(fn: () => void, n: number): number {
  for (let i = 0; i < Math.min(n, 50); i++) fn();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) fn();
  return ((performance.now() - t0) * 1000) / n;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

export const routing: Scenario = {
  name: 'routing',
  title: 'Routing cost per statement (in-process, corpus)',
  async run(ctx: Ctx) {
    const corpus = await startCorpus();
    try {
      const { router, session, client } = corpus;
      const routeOnly: number[] = [];
      const withRun: number[] = [];
      for (const raw of CORPUS) {
        const sql = raw.replace(/^[~!]+/, '');
        const first = router.route(sql, session);
        if (first.kind !== 'local') continue;
        try {
          first.run();
        } catch {
          continue; // forwarded at run time
        }
        routeOnly.push(microseconds(() => router.route(sql, session), REPEAT));
        withRun.push(
          microseconds(() => {
            const r = router.route(sql, session);
            if (r.kind === 'local') r.run();
          }, REPEAT),
        );
      }
      await client.query(
        'CREATE TABLE bench_accounts (aid int PRIMARY KEY, bid int, abalance int, filler char(84)); ' +
          'INSERT INTO bench_accounts SELECT g, 1, 0, NULL FROM generate_series(1, 100000) g',
      );
      await corpus.fixture.load(client, [{ schema: 'public', name: 'bench_accounts' }]);
      // The test fixture copies rows only; Outpost's replica has the key index.
      // aid is attnum 1.
      const accounts = corpus.fixture.catalog.findTable('public', 'bench_accounts');
      corpus.fixture.db.exec(`CREATE INDEX bench_accounts_key ON "${accounts?.sqliteName}" (a1)`);
      let aid = 0;
      const next = () => (aid = (aid % 100000) + 1);
      const simple = microseconds(() => {
        const r = router.route(`SELECT abalance FROM bench_accounts WHERE aid = ${next()};`, session);
        if (r.kind !== 'local') throw new Error(r.kind === 'upstream' ? r.reason : r.kind);
        r.run();
      }, 5_000);
      const prepared = microseconds(() => {
        const r = router.prepare?.('SELECT abalance FROM bench_accounts WHERE aid = $1', [], session);
        if (r?.kind !== 'local') throw new Error('not local');
        r.prepared.run([String(next())]);
      }, 5_000);
      const rows: [string, number, string][] = [
        [`repeated corpus statement: route (median of ${routeOnly.length})`, median(routeOnly), 'µs'],
        [`repeated corpus statement: route + run (median of ${withRun.length})`, median(withRun), 'µs'],
        ['point select, new constant each time (template): route + run', simple, 'µs'],
        ['point select, prepared: prepare + run', prepared, 'µs'],
      ];
      for (const [metric, value, unit] of rows) {
        ctx.log(`  ${metric.padEnd(66)} ${value.toFixed(1)} ${unit}`);
        ctx.rows.push({
          scenario: 'Routing (in-process)',
          metric,
          unit,
          better: 'lower',
          values: { outpost: value },
          ...(metric.startsWith('repeated corpus statement: route (')
            ? { target: { text: 'under 20 µs', met: value < 20 } }
            : {}),
          command: 'npm run bench -- routing',
        });
      }
    } finally {
      await corpus.close();
    }
  },
};
