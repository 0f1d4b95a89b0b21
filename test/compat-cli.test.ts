/**
 * Compatibility matrix, command-line clients: psql (meta-commands, reads,
 * writes: output byte-identical through Outpost and directly) and pgbench in
 * its three query modes (simple, extended, prepared), select-only and
 * tpcb-like.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type CompatEnv, startCompat } from './compat/fixture.js';

const execFileP = promisify(execFile);
const PSQL_SCRIPT = fileURLToPath(new URL('./compat/psql-script.sql', import.meta.url));
const env = { ...process.env, PGPASSWORD: 'postgres', PGCONNECT_TIMEOUT: '10', PGSSLMODE: 'disable' };

let c: CompatEnv;

before(async () => {
  c = await startCompat();
});

after(async () => {
  await c?.stop();
});

function conn(port: number): string[] {
  return ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres'];
}

async function psqlScript(port: number, isOutpost: boolean) {
  return execFileP(
    'psql',
    [
      '-X',
      ...conn(port),
      '-d',
      'postgres',
      '-v',
      'ON_ERROR_STOP=1',
      '-v',
      `is_outpost=${isOutpost}`,
      '-f',
      PSQL_SCRIPT,
    ],
    { env },
  );
}

test('psql: meta-commands, reads and writes print the same through Outpost', async () => {
  const direct = await psqlScript(c.directPort, false);
  await c.sync();
  const local0 = await c.statements('local');
  const via = await psqlScript(c.outpostPort, true);
  assert.equal(via.stdout, direct.stdout);
  // Sanity: the script really described the schema and ran the writes.
  assert.match(direct.stdout, /public \| orders +\| table/);
  assert.match(direct.stdout, /public \| order_total +\| numeric +\| order_id integer/);
  assert.match(direct.stdout, /Table "public\.products"/);
  assert.match(direct.stdout, / 900 \| +5 \| psql updated \| Ada\n/);
  assert.match(direct.stdout, /INSERT 0 1\n/);
  // Routes: the plain read, the join with aggregates and the read after the
  // session's own write were served from the replica.
  const routes = via.stderr.match(/^ (local|upstream: .*)$/gm)?.map((s) => s.trim());
  assert.deepEqual(routes, ['local', 'local', 'local'], via.stderr);
  assert.ok((await c.statements('local')) - local0 >= 3);
});

test('psql: \\d, \\dt, \\df one by one through Outpost equal direct', async () => {
  await c.sync();
  for (const cmd of ['\\d', '\\dt', '\\df', '\\d customers', '\\dv', '\\du']) {
    const a = await execFileP('psql', ['-X', ...conn(c.directPort), '-d', 'postgres', '-c', cmd], { env });
    const b = await execFileP('psql', ['-X', ...conn(c.outpostPort), '-d', 'postgres', '-c', cmd], { env });
    assert.equal(b.stdout, a.stdout, cmd);
    assert.ok(a.stdout.length > 0, cmd);
  }
});

const MODES = ['simple', 'extended', 'prepared'] as const;

test('pgbench: init through Outpost, select-only and tpcb-like in every query mode', async () => {
  const init = await execFileP('pgbench', ['-i', '-s', '1', '-q', ...conn(c.outpostPort), 'postgres'], {
    env,
  });
  assert.match(init.stderr, /done in/);
  await c.sync();

  for (const mode of MODES) {
    const local0 = await c.statements('local');
    const sel = await execFileP(
      'pgbench',
      ['-n', '-S', '-M', mode, '-t', '50', '-c', '2', ...conn(c.outpostPort), 'postgres'],
      { env },
    );
    assert.match(sel.stdout, /number of transactions actually processed: 100\/100/, `${mode}\n${sel.stdout}`);
    assert.match(sel.stdout, /number of failed transactions: 0 /, mode);
    assert.doesNotMatch(sel.stderr, /error/i, mode);
    // Every one of those point reads was served by the replica.
    assert.ok((await c.statements('local')) - local0 >= 100, `select-only ${mode} ran locally`);

    const tpcb = await execFileP(
      'pgbench',
      ['-n', '-M', mode, '-t', '50', '-c', '2', ...conn(c.outpostPort), 'postgres'],
      { env },
    );
    assert.match(
      tpcb.stdout,
      /number of transactions actually processed: 100\/100/,
      `${mode}\n${tpcb.stdout}`,
    );
    assert.match(tpcb.stdout, /number of failed transactions: 0 /, mode);
    assert.doesNotMatch(tpcb.stderr, /error/i, mode);
  }

  await c.sync();
  const checks = [
    'select count(*) from pgbench_history',
    'select count(*) from pgbench_accounts',
    'select sum(abalance) from pgbench_accounts',
    'select sum(delta) from pgbench_history',
    'select sum(tbalance) from pgbench_tellers',
    'select sum(bbalance) from pgbench_branches',
    'select aid, abalance from pgbench_accounts where abalance <> 0 order by aid limit 20',
  ];
  const args = (port: number) => [
    '-X',
    '-At',
    ...conn(port),
    '-d',
    'postgres',
    ...checks.flatMap((q) => ['-c', q]),
  ];
  const direct = await execFileP('psql', args(c.directPort), { env });
  const via = await execFileP('psql', [...args(c.outpostPort), '-c', 'show outpost.last_route'], { env });
  const lines = direct.stdout.split('\n');
  assert.equal(lines[0], '300', 'one history row per tpcb transaction');
  assert.equal(lines[1], '100000');
  assert.equal(lines[2], lines[3], 'account balances add up to the history');
  assert.equal(via.stdout, `${direct.stdout}local\n`);
});
