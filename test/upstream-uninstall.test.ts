/**
 * `outpost uninstall` removes every object Outpost created upstream (slot,
 * publication, event triggers, function, schema), as a superuser and as a
 * plain replication role; refuses while a slot is streamed from unless
 * `--force`; leaves what is not Outpost's; and is idempotent.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ReplicationConnection } from '../src/replication/stream.js';
import { runCli, startOutpost } from './helpers/outpost.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';

let pg: PostgresInstance;
let dir: string;

before(async () => {
  pg = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'outpost-uninstall-'));
});

after(async () => {
  await pg?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Every kind of object Outpost may create, as found in `database`. */
async function leftovers(database: string): Promise<string[]> {
  const r = await pg.query<{ o: string }>(
    `SELECT 'slot ' || slot_name AS o FROM pg_replication_slots WHERE database = current_database()
     UNION ALL SELECT 'publication ' || pubname FROM pg_publication
     UNION ALL SELECT 'event trigger ' || evtname FROM pg_event_trigger
     UNION ALL SELECT 'function ' || p.oid::regprocedure::text FROM pg_proc p
                JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname IN ('outpost', 'public')
     UNION ALL SELECT 'schema ' || nspname FROM pg_namespace WHERE nspname = 'outpost'
     ORDER BY 1`,
    [],
    database,
  );
  return r.rows.map((x) => x.o);
}

async function runOutpostOnce(url: string, replica: string): Promise<string> {
  const outpost = await startOutpost({ upstream: url, replica });
  try {
    await outpost.ready();
    return String((await outpost.status()).replication.slot);
  } finally {
    assert.equal(await outpost.stop(), 0);
  }
}

test('superuser: refuses while streaming, --force ends it, removes it all, then has nothing left to do', async () => {
  await pg.query('CREATE DATABASE su');
  await pg.query('CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)', [], 'su');
  // Not Outpost's (nor named like it): never touched.
  await pg.query('CREATE PUBLICATION theirs FOR TABLE t', [], 'su');
  const url = pg.url({ database: 'su' });
  const replica = join(dir, 'su.db');
  const slot = await runOutpostOnce(url, replica);
  assert.deepEqual(await leftovers('su'), [
    'event trigger outpost_ddl_command_end',
    'event trigger outpost_ddl_sql_drop',
    'function outpost.ddl_notify()',
    'publication outpost',
    'publication theirs',
    'schema outpost',
    `slot ${slot}`,
  ]);

  // Something streaming from the slot (as a running Outpost would).
  const holder = await ReplicationConnection.connect(url, 'holder');
  try {
    const ident = await holder.identifySystem();
    assert.ok(ident.systemId);
    await holder.start(slot, 0n, 'outpost');
    const refused = await runCli(['uninstall', '--upstream', url, '--replica', replica]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`still streaming from slot ${slot} \\(pid \\d+\\).*--force`));
    assert.equal((await leftovers('su')).length, 7, 'nothing removed when refusing');

    const forced = await runCli(['uninstall', '--upstream', url, '--replica', replica, '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(
      forced.stdout,
      [
        `dropped slot ${slot}`,
        'dropped publication outpost',
        'dropped event trigger outpost_ddl_command_end',
        'dropped event trigger outpost_ddl_sql_drop',
        'dropped function outpost.ddl_notify()',
        'dropped schema outpost',
        '',
      ].join('\n'),
    );
  } finally {
    await holder.close();
  }
  assert.deepEqual(await leftovers('su'), ['publication theirs']);
  // DDL still works upstream (no dangling trigger).
  await pg.query('CREATE TABLE after_uninstall (id int)', [], 'su');

  const again = await runCli(['uninstall', '--upstream', url]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout, "nothing of Outpost's left upstream in database su\n");
  // A publication named like Outpost's that Outpost did not create is named, and kept.
  await pg.query('CREATE PUBLICATION outpost FOR TABLE t', [], 'su');
  const named = await runCli(['uninstall', '--upstream', url]);
  assert.equal(named.code, 0, named.stderr);
  assert.match(named.stdout, /^kept publication outpost: not created by Outpost/);
  await pg.query('DROP PUBLICATION outpost', [], 'su');
  // drop-slot on the same replica still works: nothing left to drop.
  const drop = await runCli(['drop-slot', '--upstream', url, '--replica', replica]);
  assert.equal(drop.code, 0, drop.stderr);
  assert.match(drop.stdout, /did not exist upstream/);
});

test('without a superuser: slot and publication only, both removed by the same role', async () => {
  await pg.query(`CREATE ROLE plainrepl LOGIN REPLICATION PASSWORD 'pw'`);
  await pg.query('CREATE DATABASE nosu OWNER plainrepl');
  const c = await pg.connect({ user: 'plainrepl', password: 'pw', database: 'nosu' });
  await c.query('CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1); CREATE TABLE nopk (v text)');
  await c.end();
  const url = pg.url({ user: 'plainrepl', password: 'pw', database: 'nosu' });
  const slot = await runOutpostOnce(url, join(dir, 'nosu.db'));
  assert.deepEqual(await leftovers('nosu'), ['publication outpost', `slot ${slot}`]);
  const r = await runCli(['uninstall', '--upstream', url]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `dropped slot ${slot}\ndropped publication outpost\n`);
  assert.deepEqual(await leftovers('nosu'), []);
  assert.doesNotMatch(r.stdout + r.stderr, /pw@/, 'no password printed');
});
