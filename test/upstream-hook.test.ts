/**
 * The DDL hook Outpost installs upstream (superuser mode) cannot be hijacked:
 * a role that pre-creates Outpost's schema or function is refused, an old
 * install in `public` is migrated (or, when another role owns that function,
 * its triggers are replaced and the function left alone), and in no case does
 * that role become superuser through a later superuser's DDL.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { StartupError } from '../src/errors.js';
import { silentLogger } from '../src/log.js';
import { createMetrics } from '../src/metrics.js';
import { ReplicaStore } from '../src/replica/store.js';
import { ReplicationEngine } from '../src/replication/engine.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';

let pg: PostgresInstance;
let dir: string;

before(async () => {
  pg = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'outpost-hook-'));
  await pg.query(`CREATE ROLE mallory LOGIN PASSWORD 'm'`);
});

after(async () => {
  await pg?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function engineFor(store: ReplicaStore, database: string): ReplicationEngine {
  return new ReplicationEngine({
    upstreamUrl: pg.url({ database }),
    store,
    logger: silentLogger(),
    metrics: createMetrics(),
  });
}

/** The payload an attacker swaps in: runs as whoever fires the trigger. */
const ESCALATE = `
  CREATE OR REPLACE FUNCTION %FN%() RETURNS event_trigger LANGUAGE plpgsql SECURITY INVOKER AS $$
  BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
      EXECUTE 'ALTER ROLE mallory SUPERUSER';
    END IF;
  END $$`;

async function malloryIsSuperuser(): Promise<boolean> {
  const r = await pg.query<{ s: boolean }>(`SELECT rolsuper AS s FROM pg_roles WHERE rolname = 'mallory'`);
  return r.rows[0]?.s === true;
}

async function triggerFunctions(database: string): Promise<string[]> {
  const r = await pg.query<{ f: string }>(
    `SELECT evtname || ' -> ' || evtfoid::regproc::text AS f FROM pg_event_trigger ORDER BY evtname`,
    [],
    database,
  );
  return r.rows.map((x) => x.f);
}

test('a schema "outpost" pre-created by another role is refused by name; nothing is installed', async () => {
  await pg.query('CREATE DATABASE h1');
  await pg.query('GRANT CREATE ON DATABASE h1 TO mallory');
  const m = await pg.connect({ user: 'mallory', password: 'm', database: 'h1' });
  try {
    await m.query('CREATE SCHEMA outpost');
    await m.query(ESCALATE.replace('%FN%', 'outpost.ddl_notify'));
  } finally {
    await m.end();
  }
  const store = ReplicaStore.open(join(dir, 'h1.db'));
  const engine = engineFor(store, 'h1');
  try {
    await assert.rejects(engine.start(), (err: unknown) => {
      assert.ok(err instanceof StartupError);
      assert.match(err.message, /schema outpost already exists upstream and is owned by role "mallory"/);
      return true;
    });
  } finally {
    store.close();
  }
  assert.deepEqual(await triggerFunctions('h1'), []);
  await pg.query('CREATE TABLE x (id int PRIMARY KEY); DROP TABLE x', [], 'h1');
  assert.equal(await malloryIsSuperuser(), false);
  const slots = await pg.query('SELECT 1 FROM pg_replication_slots');
  assert.equal(slots.rowCount, 0, 'no slot left behind');
});

test('a function outpost.ddl_notify made by another role in a trusted schema is refused', async () => {
  await pg.query('CREATE DATABASE h2');
  // A careless grant on Outpost's own schema.
  await pg.query('CREATE SCHEMA outpost; GRANT CREATE ON SCHEMA outpost TO mallory', [], 'h2');
  const m = await pg.connect({ user: 'mallory', password: 'm', database: 'h2' });
  try {
    await m.query(ESCALATE.replace('%FN%', 'outpost.ddl_notify'));
  } finally {
    await m.end();
  }
  const store = ReplicaStore.open(join(dir, 'h2.db'));
  try {
    await assert.rejects(
      engineFor(store, 'h2').start(),
      /function outpost\.ddl_notify\(\) already exists .* role "mallory"/,
    );
  } finally {
    store.close();
  }
  assert.deepEqual(await triggerFunctions('h2'), []);
  await pg.query('CREATE TABLE x (id int PRIMARY KEY)', [], 'h2');
  assert.equal(await malloryIsSuperuser(), false);
});

test('an old install whose public.outpost_ddl_notify another role owns: triggers replaced, function never run', async () => {
  await pg.query('CREATE DATABASE h3');
  await pg.query('GRANT CREATE ON SCHEMA public TO mallory', [], 'h3');
  const m = await pg.connect({ user: 'mallory', password: 'm', database: 'h3' });
  // Mallory got there first (before the old Outpost's CREATE OR REPLACE).
  await m.query(
    `CREATE FUNCTION public.outpost_ddl_notify() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$`,
  );
  // What an earlier Outpost then did as superuser (body replaced, owner kept).
  await pg.query(
    `CREATE OR REPLACE FUNCTION public.outpost_ddl_notify() RETURNS event_trigger LANGUAGE plpgsql
       SECURITY DEFINER AS $$ BEGIN PERFORM pg_logical_emit_message(true, 'outpost.ddl', '{}'); END $$;
     CREATE EVENT TRIGGER outpost_ddl_command_end ON ddl_command_end EXECUTE PROCEDURE public.outpost_ddl_notify();
     CREATE EVENT TRIGGER outpost_ddl_sql_drop ON sql_drop EXECUTE PROCEDURE public.outpost_ddl_notify();`,
    [],
    'h3',
  );
  const store = ReplicaStore.open(join(dir, 'h3.db'));
  const engine = engineFor(store, 'h3');
  try {
    await engine.start();
    assert.equal(engine.status().ddlDetection, 'event-trigger');
    assert.deepEqual(await triggerFunctions('h3'), [
      'outpost_ddl_command_end -> outpost.ddl_notify',
      'outpost_ddl_sql_drop -> outpost.ddl_notify',
    ]);
    // Left in place (not Outpost's to drop), and no longer run by anything.
    const left = await pg.query(`SELECT 1 FROM pg_proc WHERE proname = 'outpost_ddl_notify'`, [], 'h3');
    assert.equal(left.rowCount, 1);
    await m.query(ESCALATE.replace('%FN%', 'public.outpost_ddl_notify'));
    await pg.query('CREATE TABLE y (id int PRIMARY KEY); DROP TABLE y', [], 'h3');
    assert.equal(await malloryIsSuperuser(), false);
    // Outpost's own function: superuser-owned, pinned search_path, not executable by PUBLIC.
    const fn = await pg.query<{ owner: string; config: string[]; secdef: boolean; pub: boolean }>(
      `SELECT r.rolname AS owner, p.proconfig AS config, p.prosecdef AS secdef,
              has_function_privilege('mallory', p.oid, 'EXECUTE') AS pub
         FROM pg_proc p JOIN pg_roles r ON r.oid = p.proowner WHERE p.oid = 'outpost.ddl_notify()'::regprocedure`,
      [],
      'h3',
    );
    assert.deepEqual(fn.rows[0], {
      owner: 'postgres',
      config: ['search_path=pg_catalog, pg_temp'],
      secdef: true,
      pub: false,
    });
  } finally {
    await engine.stop();
    store.close();
    await m.end();
  }
});

test('an old install by Outpost (superuser-owned public.outpost_ddl_notify) is migrated to schema outpost', async () => {
  await pg.query('CREATE DATABASE h4');
  await pg.query(
    `CREATE FUNCTION public.outpost_ddl_notify() RETURNS event_trigger LANGUAGE plpgsql
       SECURITY DEFINER AS $$ BEGIN PERFORM pg_logical_emit_message(true, 'outpost.ddl', '{}'); END $$;
     CREATE EVENT TRIGGER outpost_ddl_command_end ON ddl_command_end EXECUTE PROCEDURE public.outpost_ddl_notify();
     CREATE EVENT TRIGGER outpost_ddl_sql_drop ON sql_drop EXECUTE PROCEDURE public.outpost_ddl_notify();
     CREATE TABLE t (id int PRIMARY KEY);`,
    [],
    'h4',
  );
  const store = ReplicaStore.open(join(dir, 'h4.db'));
  const engine = engineFor(store, 'h4');
  try {
    await engine.start();
    assert.deepEqual(await triggerFunctions('h4'), [
      'outpost_ddl_command_end -> outpost.ddl_notify',
      'outpost_ddl_sql_drop -> outpost.ddl_notify',
    ]);
    const left = await pg.query(`SELECT 1 FROM pg_proc WHERE proname = 'outpost_ddl_notify'`, [], 'h4');
    assert.equal(left.rowCount, 0, 'the old function is dropped');
  } finally {
    await engine.stop();
    store.close();
  }
  // A second start finds everything in place and changes nothing.
  const again = ReplicaStore.open(join(dir, 'h4.db'));
  const e2 = engineFor(again, 'h4');
  try {
    await e2.start();
    assert.equal(e2.status().ddlDetection, 'event-trigger');
  } finally {
    await e2.stop();
    again.close();
  }
});
