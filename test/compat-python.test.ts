/**
 * Compatibility matrix, Python drivers (Debian's packages, run with
 * /usr/bin/python3: the `python3` on PATH may be another installation):
 * psycopg2 (simple protocol), psycopg 3 (extended protocol, text, binary and
 * named prepared statements) and asyncpg (binary, named statements). Each
 * script in test/compat/ prints JSON; it runs directly against Postgres and
 * then through Outpost, and the two documents must be equal.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type CompatEnv, startCompat } from './compat/fixture.js';

const execFileP = promisify(execFile);
const PYTHON = '/usr/bin/python3';

let c: CompatEnv;

before(async () => {
  c = await startCompat();
});

after(async () => {
  await c?.stop();
});

interface Doc {
  results: Record<string, unknown>;
  routes: Record<string, string>;
  /** Statements whose route through Outpost must be 'local'. */
  local: string[];
}

async function runScript(script: string, port: number, mode: 'direct' | 'outpost'): Promise<Doc> {
  const path = fileURLToPath(new URL(`./compat/${script}`, import.meta.url));
  // Scripts that cannot ask SHOW outpost.last_route read Outpost's counters.
  const metrics = mode === 'outpost' ? [`http://127.0.0.1:${c.outpost.httpPort}/metrics`] : [];
  try {
    const { stdout } = await execFileP(PYTHON, [path, String(port), mode, ...metrics], {
      timeout: 30_000,
      // No __pycache__ in the source tree.
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
    });
    return JSON.parse(stdout) as Doc;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${script} (${mode}) failed: ${e.stderr ?? e.message}`);
  }
}

async function compare(script: string, module: string): Promise<Doc> {
  assert.ok(existsSync(PYTHON), `${PYTHON} is missing (.ci/run installs it)`);
  await execFileP(PYTHON, ['-c', `import ${module}`]).catch(() => {
    throw new Error(`python module ${module} is missing: apt-get install python3-${module} (.ci/run does)`);
  });
  const direct = await runScript(script, c.directPort, 'direct');
  await c.sync();
  const local0 = await c.statements('local');
  const via = await runScript(script, c.outpostPort, 'outpost');
  assert.deepEqual(via.results, direct.results);
  const notLocal = via.local.filter((name) => via.routes[name] !== 'local');
  assert.deepEqual(
    notLocal.map((name) => [name, via.routes[name]]),
    [],
    `${script}: statements expected to be served locally`,
  );
  // Each script asserts its own routes where it can ask; the counter shows
  // that reads were served by the replica in any case.
  const served = (await c.statements('local')) - local0;
  assert.ok(served >= Math.max(3, via.local.length), `${script}: ${served} statements served locally`);
  return via;
}

test('psycopg2: same results through Outpost, reads local in autocommit', async () => {
  const via = await compare('psycopg2_compat.py', 'psycopg2');
  assert.ok(via.local.includes('read_back'));
  // psycopg2's implicit BEGIN starts the transaction locally: its read is local, its write upstream.
  assert.equal(via.routes.tx_read, 'local');
  assert.match(via.routes.tx_update ?? '', /^upstream: /);
  assert.deepEqual(via.results.error, {
    pgcode: '42P01',
    message: 'relation "no_such_table" does not exist',
  });
});

test('psycopg 3: text, binary and prepared statements through Outpost', async () => {
  const via = await compare('psycopg3_compat.py', 'psycopg');
  assert.ok(via.local.includes('prepared_2') && via.local.includes('binary_types'));
  assert.match(via.routes.tx_read ?? '', /^upstream: /);
  assert.deepEqual(via.results.error, { sqlstate: '22012', message: 'division by zero' });
});

test('asyncpg: binary protocol with named statements through Outpost', async () => {
  const via = await compare('asyncpg_compat.py', 'asyncpg');
  assert.deepEqual((via.results.error as { sqlstate: string }).sqlstate, '42P01');
  assert.ok(via.local.includes('join_where_order_limit'));
});
