/**
 * Detecting upstream schema changes. DDL is not part of the pgoutput stream,
 * and the Relation message describing a changed table only comes with that
 * table's next row change, so Outpost installs an event trigger upstream that
 * writes a transactional logical decoding message (prefix `outpost.ddl`) in
 * every DDL transaction; it reaches the stream inside that transaction.
 *
 * Privileges: CREATE EVENT TRIGGER needs a superuser (database ownership is
 * not enough, up to at least Postgres 17). The function is SECURITY DEFINER so
 * DDL by any role can emit the message. Without a superuser, and unless a
 * superuser installed the trigger beforehand (run the statements of
 * `DDL_TRIGGER_SQL` once), Outpost compares the upstream catalog with the
 * replica's every few seconds instead, so schema changes are seen with a
 * delay. `outpost uninstall` removes it all.
 *
 * Safety: an event trigger runs its function on every DDL, a superuser's
 * included, so whoever owns (and so can redefine) that function can become
 * superuser. Everything therefore lives in a schema Outpost creates and owns
 * (`outpost`), the function has a pinned search_path, and an existing schema,
 * function or trigger of that name owned by a role that is not a superuser is
 * refused, never reused (`installDdlTrigger`). Earlier versions put
 * the function in `public` (where any role with CREATE there could have made
 * it first): such a function is dropped when a superuser owns it and it is
 * Outpost's (its body emits `outpost.ddl`); the triggers that ran it are
 * replaced either way.
 */
import pg from 'pg';
import { StartupError } from '../errors.js';

export const DDL_MESSAGE_PREFIX = 'outpost.ddl';
/** The schema Outpost creates and owns upstream (superuser mode only). */
export const OUTPOST_SCHEMA = 'outpost';
export const DDL_FUNCTION = `${OUTPOST_SCHEMA}.ddl_notify`;
/** Where earlier versions put it (see the header). */
export const LEGACY_DDL_FUNCTION = 'public.outpost_ddl_notify';
export const DDL_TRIGGERS = {
  outpost_ddl_command_end: 'ddl_command_end',
  outpost_ddl_sql_drop: 'sql_drop',
} as const;
/** COMMENT on what Outpost created, so `outpost uninstall` knows it is Outpost's. */
export const CREATED_BY_OUTPOST = 'created by Outpost; removed by outpost uninstall';

/**
 * The trigger function. No EXCEPTION block, deliberately: it would run the
 * message in a subtransaction, and logical decoding orders a subtransaction's
 * message after the next change of the transaction (it keys messages by their
 * end LSN, which ties with the next record's start). Nothing here can fail
 * short of running out of memory: pg_logical_emit_message has no privilege or
 * wal_level check, and the function runs as its (superuser) owner.
 */
const FUNCTION_SQL = `
CREATE OR REPLACE FUNCTION ${DDL_FUNCTION}() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $outpost$
DECLARE
  objs jsonb;
  total int;
BEGIN
  -- Temporary objects are never replicated: DDL touching only them says
  -- nothing. Drops are reported by sql_drop, with the objects.
  IF TG_EVENT = 'ddl_command_end' AND TG_TAG LIKE 'DROP %' THEN
    RETURN;
  END IF;
  IF TG_EVENT = 'sql_drop' THEN
    SELECT count(*), coalesce(jsonb_agg(jsonb_build_object('oid', objid::int8, 'sub', objsubid,
             'type', object_type, 'identity', object_identity)) FILTER (WHERE NOT is_temporary), '[]'::jsonb)
      INTO total, objs FROM pg_event_trigger_dropped_objects();
  ELSE
    SELECT count(*), coalesce(jsonb_agg(jsonb_build_object('oid', objid::int8, 'sub', objsubid,
             'type', object_type, 'identity', object_identity))
               FILTER (WHERE schema_name IS NULL OR schema_name !~ '^pg_(toast_)?temp(_|$)'), '[]'::jsonb)
      INTO total, objs FROM pg_event_trigger_ddl_commands();
  END IF;
  IF total > 0 AND objs = '[]'::jsonb THEN
    RETURN;
  END IF;
  PERFORM pg_logical_emit_message(true, '${DDL_MESSAGE_PREFIX}',
    jsonb_build_object('event', TG_EVENT, 'tag', TG_TAG, 'objects', objs)::text);
END
$outpost$`;

const createTrigger = (name: string, event: string) =>
  `CREATE EVENT TRIGGER ${name} ON ${event} EXECUTE PROCEDURE ${DDL_FUNCTION}()`;

/** Everything a superuser runs once per database (what `installDdlTrigger` does, less its checks). */
export const DDL_TRIGGER_SQL = [
  `CREATE SCHEMA ${OUTPOST_SCHEMA}`,
  FUNCTION_SQL,
  `REVOKE ALL ON FUNCTION ${DDL_FUNCTION}() FROM PUBLIC`,
  ...Object.entries(DDL_TRIGGERS).map(([name, event]) => createTrigger(name, event)),
];

/**
 * The OIDs of the trigger functions Outpost may rely on: its own (and the
 * legacy one in `public`) when a superuser owns both it and its schema, so
 * that no other role can redefine what the triggers run.
 */
const TRUSTED_FUNCTIONS_SQL = `
  SELECT p.oid FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    JOIN pg_roles fo ON fo.oid = p.proowner JOIN pg_roles so ON so.oid = n.nspowner
   WHERE ((n.nspname = '${OUTPOST_SCHEMA}' AND p.proname = 'ddl_notify')
          OR (n.nspname = 'public' AND p.proname = 'outpost_ddl_notify' AND p.prosrc LIKE '%${DDL_MESSAGE_PREFIX}%'))
     AND p.pronargs = 0 AND fo.rolsuper AND (so.rolsuper OR n.nspname = 'public')`;

/**
 * Whether both event triggers exist, are enabled and run a function no role
 * but a superuser can redefine. Readable by any role.
 */
export async function ddlTriggerActive(client: pg.Client): Promise<boolean> {
  const r = await client.query<{ n: string }>(
    `SELECT count(*)::text AS n FROM pg_event_trigger
      WHERE evtname = ANY($1::text[]) AND evtenabled <> 'D' AND evtfoid IN (${TRUSTED_FUNCTIONS_SQL})`,
    [Object.keys(DDL_TRIGGERS)],
  );
  return Number(r.rows[0]?.n) === Object.keys(DDL_TRIGGERS).length;
}

/** What installing did besides making sure the hook exists (logged by the engine). */
export interface DdlInstallReport {
  /** Things created or replaced, e.g. `schema outpost`. */
  created: string[];
  /** Problems that did not stop the install (an untrusted legacy function left in place). */
  warnings: string[];
}

/**
 * Creates the schema, the function and the triggers that are missing, in one
 * transaction, refusing (StartupError naming it) any existing object of
 * those names that a role other than a superuser owns. Needs a superuser.
 */
export async function installDdlTrigger(client: pg.Client): Promise<DdlInstallReport> {
  // Instances starting at the same moment race on the same catalog rows:
  // the loser sees a unique violation or "tuple concurrently updated"; by
  // the next attempt the winner's objects exist.
  for (let attempt = 1; ; attempt++) {
    try {
      return await installOnce(client);
    } catch (err) {
      const e = err as { code?: string; message?: string };
      const race =
        e.code === '23505' ||
        e.code === '42710' ||
        e.code === '42P06' ||
        (e.code === 'XX000' && /concurrently/.test(e.message ?? ''));
      if (!race || attempt >= 5) throw err;
      await new Promise((r) => setTimeout(r, 50 * attempt));
    }
  }
}

interface Owned {
  oid: number;
  owner: string;
  superuser: boolean;
}

function untrusted(what: string, o: Owned): StartupError {
  return new StartupError(
    `${what} already exists upstream and is owned by role "${o.owner}", which is not a superuser: Outpost will not use it (its owner could run code as any role doing DDL). Drop it, or make a superuser its owner, then start Outpost again`,
  );
}

async function installOnce(client: pg.Client): Promise<DdlInstallReport> {
  const report: DdlInstallReport = { created: [], warnings: [] };
  await client.query('BEGIN');
  try {
    // Never wait long behind the application's locks.
    await client.query(`SET LOCAL lock_timeout = '5s'`);
    const schema = await client.query<Owned>(
      `SELECT n.oid::int8 AS oid, r.rolname AS owner, r.rolsuper AS superuser
         FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner WHERE n.nspname = $1`,
      [OUTPOST_SCHEMA],
    );
    const s = schema.rows[0];
    if (s && !s.superuser) throw untrusted(`schema ${OUTPOST_SCHEMA}`, s);
    if (!s) {
      await client.query(`CREATE SCHEMA ${OUTPOST_SCHEMA}`);
      await client.query(`COMMENT ON SCHEMA ${OUTPOST_SCHEMA} IS ${pg.escapeLiteral(CREATED_BY_OUTPOST)}`);
      report.created.push(`schema ${OUTPOST_SCHEMA}`);
    }
    // Any function of that name (whatever its arguments) another role owns.
    const fns = await client.query<Owned & { sig: string }>(
      `SELECT p.oid::int8 AS oid, r.rolname AS owner, r.rolsuper AS superuser, p.oid::regprocedure::text AS sig
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_roles r ON r.oid = p.proowner
        WHERE n.nspname = $1 AND p.proname = 'ddl_notify'`,
      [OUTPOST_SCHEMA],
    );
    const bad = fns.rows.find((f) => !f.superuser);
    if (bad) throw untrusted(`function ${bad.sig}`, bad);
    if (fns.rows.length === 0) report.created.push(`function ${DDL_FUNCTION}()`);
    await client.query(FUNCTION_SQL);
    await client.query(`REVOKE ALL ON FUNCTION ${DDL_FUNCTION}() FROM PUBLIC`);
    const fn = await client.query<{ oid: string }>(
      `SELECT '${DDL_FUNCTION}()'::regprocedure::oid::int8 AS oid`,
    );
    const fnOid = Number(fn.rows[0]?.oid);
    const legacy = await client.query<Owned & { ours: boolean }>(
      `SELECT p.oid::int8 AS oid, r.rolname AS owner, r.rolsuper AS superuser,
              p.prosrc LIKE '%${DDL_MESSAGE_PREFIX}%' AS ours
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_roles r ON r.oid = p.proowner
        WHERE n.nspname = 'public' AND p.proname = 'outpost_ddl_notify' AND p.pronargs = 0`,
    );
    const old = legacy.rows[0];
    const existing = await client.query<{ evtname: string; evtfoid: string; fn: string }>(
      `SELECT evtname, evtfoid::int8::text AS evtfoid, evtfoid::regproc::text AS fn
         FROM pg_event_trigger WHERE evtname = ANY($1::text[])`,
      [Object.keys(DDL_TRIGGERS)],
    );
    const have = new Map(existing.rows.map((r) => [r.evtname, r]));
    for (const [name, event] of Object.entries(DDL_TRIGGERS)) {
      const t = have.get(name);
      if (t && Number(t.evtfoid) === fnOid) continue;
      if (t) {
        // The legacy function (whoever owns it: a trigger of ours running a
        // function another role can redefine must go); anything else is not ours.
        if (!old || Number(t.evtfoid) !== Number(old.oid)) {
          throw new StartupError(
            `event trigger ${name} already exists upstream and runs ${t.fn}(), not ${DDL_FUNCTION}(): Outpost will not use or replace it; drop it (DROP EVENT TRIGGER ${name}) and start Outpost again`,
          );
        }
        await client.query(`DROP EVENT TRIGGER ${name}`);
      }
      await client.query(createTrigger(name, event));
      report.created.push(`event trigger ${name}`);
    }
    if (old) {
      if (old.superuser && old.ours) {
        const users = await client.query('SELECT 1 FROM pg_event_trigger WHERE evtfoid = $1', [old.oid]);
        if (users.rowCount === 0) {
          await client.query(`DROP FUNCTION ${LEGACY_DDL_FUNCTION}()`);
          report.created.push(`(dropped the earlier ${LEGACY_DDL_FUNCTION}())`);
        }
      } else {
        report.warnings.push(
          `${LEGACY_DDL_FUNCTION}() is owned by role "${old.owner}"${old.superuser ? '' : ', not a superuser'}${old.ours ? '' : ', and is not the function Outpost installed'}: Outpost no longer uses it and left it in place; inspect it and drop it (DROP FUNCTION ${LEGACY_DDL_FUNCTION}())`,
        );
      }
    }
    await client.query('COMMIT');
    return report;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

/** What a DDL message names: objects changed or dropped. */
export interface DdlNotice {
  tag: string;
  /** OIDs of tables and materialized views named (the relation or one of its columns). */
  tables: Set<number>;
  /** OIDs of types named (e.g. ALTER TYPE ... RENAME VALUE changes stored text without touching tables). */
  types: Set<number>;
  /** The content was not understood: compare everything. */
  unknown: boolean;
}

const TABLE_OBJECT_TYPES = new Set([
  'table',
  'table column',
  'materialized view',
  'materialized view column',
]);

export function parseDdlMessage(content: Buffer): DdlNotice {
  const notice: DdlNotice = { tag: '', tables: new Set(), types: new Set(), unknown: false };
  try {
    const j = JSON.parse(content.toString('utf8')) as {
      tag?: unknown;
      objects?: Array<{ oid?: unknown; type?: unknown }>;
    };
    notice.tag = typeof j.tag === 'string' ? j.tag : '';
    if (!Array.isArray(j.objects)) throw new Error('no objects');
    for (const o of j.objects) {
      const oid = Number(o.oid);
      if (!Number.isInteger(oid)) continue;
      // Materialized views are replicated like tables (matviews.ts).
      if (TABLE_OBJECT_TYPES.has(String(o.type))) notice.tables.add(oid);
      else if (o.type === 'type') notice.types.add(oid);
    }
  } catch {
    notice.unknown = true;
  }
  return notice;
}
