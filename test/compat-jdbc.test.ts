/**
 * Compatibility matrix, pgJDBC (Debian's libpostgresql-jdbc-java, run as a
 * single-file Java program): named server-side statements from the first
 * execution (prepareThreshold=1) with binary transfer, arrays, jsonb, bytea,
 * timestamptz parameters, writes and a rolled-back transaction; the output
 * through Outpost must equal the output directly against Postgres.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type CompatEnv, startCompat } from './compat/fixture.js';

const execFileP = promisify(execFile);
const JAR = '/usr/share/java/postgresql.jar';
const PROGRAM = fileURLToPath(new URL('./compat/JdbcCompat.java', import.meta.url));

let c: CompatEnv;

before(async () => {
  c = await startCompat();
});

after(async () => {
  await c?.stop();
});

interface Doc {
  results: Record<string, string>;
  routes: Record<string, string>;
}

async function run(port: number, metricsUrl?: string): Promise<Doc> {
  try {
    const { stdout } = await execFileP(
      'java',
      [
        '-cp',
        JAR,
        PROGRAM,
        String(port),
        metricsUrl ? 'outpost' : 'direct',
        ...(metricsUrl ? [metricsUrl] : []),
      ],
      { timeout: 60_000 },
    );
    return JSON.parse(stdout) as Doc;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`JdbcCompat failed: ${e.stderr || e.message}`);
  }
}

test('pgJDBC: prepared, binary transfer, writes: same results through Outpost', async () => {
  assert.ok(existsSync(JAR), `${JAR} is missing: apt-get install libpostgresql-jdbc-java (.ci/run does)`);
  const direct = await run(c.directPort);
  await c.sync();
  const via = await run(c.outpostPort, `http://127.0.0.1:${c.outpost.httpPort}/metrics`);
  assert.deepEqual(via.results, direct.results);

  // The program really exercised what it claims.
  assert.match(direct.results.types_2 ?? '', /"org\.postgresql\.jdbc\.PgArray","\[\\"small\\",\\"blue\\"\]"/);
  assert.match(direct.results.types_2 ?? '', /"\[B","deadbeef"/);
  assert.match(direct.results.insert ?? '', /"jdbc"/);
  assert.equal(direct.results.update, '1');
  assert.match(direct.results.read_back ?? '', /"16"/);
  assert.match(direct.results.tx ?? '', /in tx/);
  assert.equal(direct.results.delete, '1');
  assert.equal(direct.results.error, '42P01');

  // The first execution of a named statement is served locally; of the
  // reads, most are (some follow pgJDBC's own catalog lookups or its Close of
  // a statement prepared upstream, and those go upstream).
  assert.equal(via.routes.join_0, 'local', JSON.stringify(via.routes));
  const reads = Object.keys(via.routes).filter((k) => /^(join|types|timestamps)_\d$|^aggregate$/.test(k));
  assert.equal(reads.length, 10);
  const local = reads.filter((k) => via.routes[k] === 'local');
  assert.ok(local.length >= 5, JSON.stringify(via.routes));
  for (const w of ['insert', 'update', 'delete']) assert.equal(via.routes[w], 'not local', w);
  // pgJDBC pipelines BEGIN in front of the transaction's UPDATE: the BEGIN is
  // answered locally (src/server/local-transaction.ts) and the UPDATE opens
  // upstream's transaction; the results above are Postgres's.
  assert.equal(via.routes.tx, 'local', 'tx');
});
