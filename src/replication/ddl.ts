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
 * delay. To remove: DROP FUNCTION public.outpost_ddl_notify() CASCADE.
 */
import type pg from 'pg';

export const DDL_MESSAGE_PREFIX = 'outpost.ddl';
export const DDL_FUNCTION = 'public.outpost_ddl_notify';
export const DDL_TRIGGERS = {
  outpost_ddl_command_end: 'ddl_command_end',
  outpost_ddl_sql_drop: 'sql_drop',
} as const;

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

/** Everything a superuser runs once per database (what `installDdlTrigger` does). */
export const DDL_TRIGGER_SQL = [
  FUNCTION_SQL,
  ...Object.entries(DDL_TRIGGERS).map(
    ([name, event]) => `CREATE EVENT TRIGGER ${name} ON ${event} EXECUTE PROCEDURE ${DDL_FUNCTION}()`,
  ),
];

/** Whether both event triggers exist and are enabled. Readable by any role. */
export async function ddlTriggerActive(client: pg.Client): Promise<boolean> {
  const r = await client.query<{ n: string }>(
    `SELECT count(*)::text AS n FROM pg_event_trigger
      WHERE evtname = ANY($1::text[]) AND evtenabled <> 'D'`,
    [Object.keys(DDL_TRIGGERS)],
  );
  return Number(r.rows[0]?.n) === Object.keys(DDL_TRIGGERS).length;
}

/**
 * Installs (or updates) the function and creates the triggers that are
 * missing, in one transaction. Needs a superuser; throws otherwise.
 */
export async function installDdlTrigger(client: pg.Client): Promise<void> {
  // Instances starting at the same moment race on the same catalog rows:
  // the loser sees a unique violation or "tuple concurrently updated"; by
  // the next attempt the winner's objects exist.
  for (let attempt = 1; ; attempt++) {
    try {
      await installOnce(client);
      return;
    } catch (err) {
      const e = err as { code?: string; message?: string };
      const race = e.code === '23505' || (e.code === 'XX000' && /concurrently/.test(e.message ?? ''));
      if (!race || attempt >= 5) throw err;
      await new Promise((r) => setTimeout(r, 50 * attempt));
    }
  }
}

async function installOnce(client: pg.Client): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query(FUNCTION_SQL);
    const existing = await client.query<{ evtname: string }>(
      'SELECT evtname FROM pg_event_trigger WHERE evtname = ANY($1::text[])',
      [Object.keys(DDL_TRIGGERS)],
    );
    const have = new Set(existing.rows.map((r) => r.evtname));
    for (const [name, event] of Object.entries(DDL_TRIGGERS)) {
      if (have.has(name)) continue;
      await client.query(`CREATE EVENT TRIGGER ${name} ON ${event} EXECUTE PROCEDURE ${DDL_FUNCTION}()`);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    // Another Outpost created it at the same time.
    if ((err as { code?: string }).code === '42710') return;
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
