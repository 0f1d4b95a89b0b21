/**
 * All of Postgres's regression SELECTs (test/corpus/regress.ts) through
 * Outpost against one Postgres: `npm run regress` (embedded 17), or
 * `OUTPOST_PG_BIN=/usr/lib/postgresql/15/bin npm run regress`.
 * OUTPOST_REGRESS_STRIDE=n runs every n-th statement of each file (CI: 3),
 * OUTPOST_REGRESS_FILE=name one file's. Prints the local share per file, the
 * forwarded reasons by count and every difference; exits 1 on a difference.
 */
import { loadRegress, printReport, runRegress, startRegress, subset } from '../test/corpus/regress.js';

const corpus = loadRegress();
const stride = Number(process.env.OUTPOST_REGRESS_STRIDE ?? 1);
const file = process.env.OUTPOST_REGRESS_FILE;
const started = Date.now();
const env = await startRegress(corpus);
const ready = Date.now();
const statements = subset(corpus.statements, stride).filter((s) => file === undefined || s.cat === file);
try {
  const report = await runRegress(env, statements);
  const done = Date.now();
  console.log(
    `Postgres ${env.pgi.version}: setup and snapshot ${((ready - started) / 1000).toFixed(1)} s, ${statements.length} statements in ${((done - ready) / 1000).toFixed(1)} s`,
  );
  process.env.OUTPOST_REGRESS_REASONS ??= '60';
  printReport('regress', report);
  for (const d of report.differences.slice(50)) console.log(`  DIFFERENCE ${d}`);
  process.exitCode = report.differences.length > 0 ? 1 : 0;
} finally {
  await env.close();
}
