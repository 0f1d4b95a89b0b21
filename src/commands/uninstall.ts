/**
 * `outpost uninstall`: removes everything Outpost created in the upstream
 * database, idempotently, saying what it removed: its replication slots, the
 * publication it created, the DDL event triggers, their function and the
 * `outpost` schema (README "What Outpost changes on your upstream"). What is
 * not Outpost's is left alone and said so: a publication it did not create
 * (no COMMENT of Outpost's, not recorded as its own in the replica file), a
 * schema or function another role owns.
 *
 * A slot that a running Outpost streams from (an active walsender) makes it
 * refuse, unless `--force`, which terminates that connection first. The
 * Outpost process itself is not stopped by that: stop it, or it reconnects
 * (and, its slot gone, starts over with a new snapshot).
 */
import { existsSync } from 'node:fs';
import pg from 'pg';
import { StartupError } from '../errors.js';
import { CREATED_BY_OUTPOST, DDL_MESSAGE_PREFIX, DDL_TRIGGERS, OUTPOST_SCHEMA } from '../replication/ddl.js';
import { readReplicaMeta } from './admin.js';

export interface UninstallTarget {
  upstream: string;
  /** A replica file whose recorded slot and publication count as Outpost's too. */
  replica?: string | undefined;
  /** `--slot`: a slot of Outpost's not named `outpost_…`. */
  slot?: string | undefined;
  force: boolean;
}

export interface UninstallReport {
  database: string;
  removed: string[];
  /** Left in place: what and why. */
  kept: string[];
  /** Some of Outpost's objects could not be removed (privileges): the command fails. */
  incomplete: boolean;
}

const RELEASE_WAIT_MS = 10_000;

export async function uninstallCommand(target: UninstallTarget): Promise<UninstallReport> {
  if (target.replica !== undefined && !existsSync(target.replica)) {
    throw new StartupError(`--replica ${target.replica}: no such file`);
  }
  const meta = target.replica !== undefined ? readReplicaMeta(target.replica) : undefined;
  const client = new pg.Client({ connectionString: target.upstream, connectionTimeoutMillis: 30_000 });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    throw new StartupError(`cannot connect to upstream: ${(err as Error).message}`);
  }
  try {
    const who = await client.query<{ db: string; su: boolean; usr: string }>(
      `SELECT current_database() AS db, r.rolsuper AS su, current_user AS usr FROM pg_roles r WHERE r.rolname = current_user`,
    );
    const database = who.rows[0]?.db ?? '';
    const superuser = who.rows[0]?.su === true;
    const recorded = meta && (meta as { database?: string }).database === database ? meta : undefined;
    if (meta && !recorded) {
      throw new StartupError(
        `replica file ${target.replica} was made from another upstream database, not "${database}": pass the right --upstream or --replica`,
      );
    }
    const report: UninstallReport = { database, removed: [], kept: [], incomplete: false };
    const failed = (what: string, err: unknown, fix: string) => {
      report.incomplete = true;
      report.kept.push(`${what}: ${(err as Error).message}${superuser ? '' : ` (as a superuser: ${fix})`}`);
    };

    // Slots first: nothing of Outpost's streams once they are gone.
    const named = [
      recorded?.slot,
      (recorded as { next_slot?: string } | undefined)?.next_slot,
      target.slot,
    ].filter((s): s is string => !!s);
    const slots = await client.query<{ slot_name: string; active_pid: number | null }>(
      `SELECT slot_name, active_pid FROM pg_replication_slots
        WHERE database = current_database() AND plugin = 'pgoutput'
          AND (slot_name LIKE 'outpost\\_%' OR slot_name = ANY($1::text[]))
        ORDER BY slot_name`,
      [named],
    );
    const active = slots.rows.filter((s) => s.active_pid !== null);
    if (active.length > 0 && !target.force) {
      throw new StartupError(
        `an Outpost is still streaming from ${active.map((s) => `slot ${s.slot_name} (pid ${s.active_pid})`).join(', ')}: stop it first, or pass --force to terminate its connection`,
      );
    }
    for (const s of slots.rows) {
      try {
        await dropSlot(client, s.slot_name, target.force);
        report.removed.push(`slot ${s.slot_name}`);
      } catch (err) {
        failed(`slot ${s.slot_name}`, err, `SELECT pg_drop_replication_slot('${s.slot_name}')`);
      }
    }

    const pubs = await client.query<{ pubname: string; comment: string | null }>(
      `SELECT pubname, obj_description(oid, 'pg_publication') AS comment FROM pg_publication
        WHERE pubname = 'outpost' OR pubname ~ '^outpost_[0-9a-f]{12}$' OR pubname = $1
        ORDER BY pubname`,
      [recorded?.publication ?? ''],
    );
    for (const p of pubs.rows) {
      const ours =
        p.comment === CREATED_BY_OUTPOST ||
        (p.pubname === recorded?.publication && recorded.publication_owned === 'true');
      if (!ours) {
        report.kept.push(
          `publication ${p.pubname}: not created by Outpost (drop it yourself if it is unused)`,
        );
        continue;
      }
      try {
        await client.query(`DROP PUBLICATION ${pg.escapeIdentifier(p.pubname)}`);
        report.removed.push(`publication ${p.pubname}`);
      } catch (err) {
        failed(`publication ${p.pubname}`, err, `DROP PUBLICATION ${pg.escapeIdentifier(p.pubname)}`);
      }
    }

    const triggers = await client.query<{ evtname: string }>(
      'SELECT evtname FROM pg_event_trigger WHERE evtname = ANY($1::text[]) ORDER BY evtname',
      [Object.keys(DDL_TRIGGERS)],
    );
    for (const t of triggers.rows) {
      try {
        await client.query(`DROP EVENT TRIGGER ${t.evtname}`);
        report.removed.push(`event trigger ${t.evtname}`);
      } catch (err) {
        failed(`event trigger ${t.evtname}`, err, `DROP EVENT TRIGGER ${t.evtname}`);
      }
    }

    // Functions: Outpost's own (a superuser owns them, or it would never have used them).
    const fns = await client.query<{ sig: string; trusted: boolean; owner: string }>(
      `SELECT p.oid::regprocedure::text AS sig, r.rolname AS owner,
              r.rolsuper AND (n.nspname = $1 OR p.prosrc LIKE '%${DDL_MESSAGE_PREFIX}%') AS trusted
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_roles r ON r.oid = p.proowner
        WHERE (n.nspname = $1 AND p.proname = 'ddl_notify')
           OR (n.nspname = 'public' AND p.proname = 'outpost_ddl_notify' AND p.pronargs = 0)
        ORDER BY 1`,
      [OUTPOST_SCHEMA],
    );
    for (const f of fns.rows) {
      if (!f.trusted) {
        report.kept.push(
          `function ${f.sig}: owned by role "${f.owner}", not created by Outpost (inspect it; Outpost never runs it)`,
        );
        continue;
      }
      try {
        await client.query(`DROP FUNCTION ${f.sig}`);
        report.removed.push(`function ${f.sig}`);
      } catch (err) {
        failed(`function ${f.sig}`, err, `DROP FUNCTION ${f.sig}`);
      }
    }

    const schema = await client.query<{
      owner: string;
      su: boolean;
      comment: string | null;
      objects: string;
    }>(
      `SELECT r.rolname AS owner, r.rolsuper AS su, obj_description(n.oid, 'pg_namespace') AS comment,
              (SELECT count(*) FROM pg_depend d WHERE d.refclassid = 'pg_namespace'::regclass
                  AND d.refobjid = n.oid AND d.deptype = 'n')::text AS objects
         FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner WHERE n.nspname = $1`,
      [OUTPOST_SCHEMA],
    );
    const s = schema.rows[0];
    if (s) {
      if (!s.su || s.comment !== CREATED_BY_OUTPOST) {
        report.kept.push(
          `schema ${OUTPOST_SCHEMA}: ${s.su ? 'not created by Outpost' : `owned by role "${s.owner}", not created by Outpost`}`,
        );
      } else if (Number(s.objects) > 0) {
        report.kept.push(`schema ${OUTPOST_SCHEMA}: holds ${s.objects} object(s) that are not Outpost's`);
      } else {
        try {
          await client.query(`DROP SCHEMA ${OUTPOST_SCHEMA}`);
          report.removed.push(`schema ${OUTPOST_SCHEMA}`);
        } catch (err) {
          failed(`schema ${OUTPOST_SCHEMA}`, err, `DROP SCHEMA ${OUTPOST_SCHEMA}`);
        }
      }
    }
    return report;
  } finally {
    await client.end().catch(() => {});
  }
}

/** Drops a slot, first ending the walsender holding it when `force` (it may reconnect: retried). */
async function dropSlot(client: pg.Client, slot: string, force: boolean): Promise<void> {
  const deadline = Date.now() + RELEASE_WAIT_MS;
  for (;;) {
    if (force) {
      await client.query(
        'SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL',
        [slot],
      );
    }
    try {
      await client.query(
        'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1',
        [slot],
      );
      return;
    } catch (err) {
      // 55006: still active (the terminated walsender has not released it yet, or it reconnected).
      if ((err as { code?: string }).code !== '55006' || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export function formatUninstall(r: UninstallReport): string {
  const lines = r.removed.map((x) => `dropped ${x}`);
  for (const k of r.kept) lines.push(`kept ${k}`);
  if (r.removed.length === 0 && r.kept.length === 0) {
    lines.push(`nothing of Outpost's left upstream in database ${r.database}`);
  }
  return lines.join('\n');
}
