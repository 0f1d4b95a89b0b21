/**
 * Talking to upstream before and around replication: connections with their
 * failures said in one line, the role and wal_level checks, the publication
 * check and slot creation. Free functions of their arguments (engine.ts and
 * the parts split from it call them).
 */
import pg from 'pg';
import { errorMessage, StartupError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Preflight } from './engine-types.js';
import type { Lsn } from './lsn.js';
import { CONNECT_TIMEOUT_MS, type ReplicationConnection, SESSION_OPTIONS } from './stream.js';

/** A normal (non-replication) connection to upstream, failures explained in one line. */
export async function connectUpstream(url: string, logger: Logger): Promise<pg.Client> {
  const c = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    options: SESSION_OPTIONS,
    application_name: 'outpost',
    keepAlive: true,
  });
  // An idle lookup connection may drop; it is re-opened on next use.
  c.on('error', (err) => logger.debug({ err: errorMessage(err) }, 'replication: lookup connection error'));
  try {
    await c.connect();
  } catch (err) {
    c.end().catch(() => {});
    throw connectError(url, err, 'normal');
  }
  return c;
}

/** One clear line for why we could not connect. */
export function connectError(url: string, err: unknown, kind: 'normal' | 'replication'): StartupError {
  const e = err as { code?: string; message?: string };
  const where = describeUpstream(url);
  const msg = oneLine(errorMessage(err));
  switch (e.code) {
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ETIMEDOUT':
    case 'EAI_AGAIN':
      return new StartupError(`cannot reach upstream Postgres at ${where}: ${msg}`);
    case '28P01':
      return new StartupError(`authentication to upstream Postgres at ${where} failed: ${msg}`);
    case '28000':
      return new StartupError(
        kind === 'replication'
          ? `upstream Postgres at ${where} refused the replication connection: ${msg} (pg_hba.conf needs a "replication" entry for this user)`
          : `upstream Postgres at ${where} refused the connection: ${msg}`,
      );
    case '3D000':
      return new StartupError(`upstream database does not exist: ${msg}`);
    case '42501':
      return new StartupError(
        `upstream role lacks the REPLICATION attribute needed for logical replication: ${msg} (run ALTER ROLE <user> REPLICATION as a superuser)`,
      );
  }
  if (/timeout/i.test(msg)) {
    return new StartupError(
      `cannot reach upstream Postgres at ${where}: no connection within ${CONNECT_TIMEOUT_MS / 1000} s`,
    );
  }
  return new StartupError(`cannot connect to upstream Postgres at ${where}: ${msg}`);
}

/** Upstream version, wal_level and role: what logical replication needs. */
export async function preflight(client: pg.Client): Promise<Preflight> {
  const r = await client.query<{
    version: string;
    wal_level: string;
    usr: string;
    db: string;
    rolsuper: boolean;
    rolreplication: boolean;
  }>(
    `SELECT current_setting('server_version_num') AS version, current_setting('wal_level') AS wal_level,
            current_user AS usr, current_database() AS db, r.rolsuper, r.rolreplication
       FROM pg_roles r WHERE r.rolname = current_user`,
  );
  const row = r.rows[0];
  if (!row) throw new StartupError('cannot read the upstream role (pg_roles has no row for current_user)');
  if (row.wal_level !== 'logical') {
    throw new StartupError(
      `wal_level is '${row.wal_level}' on the upstream; logical replication needs wal_level=logical: run ALTER SYSTEM SET wal_level = logical; then restart Postgres`,
    );
  }
  if (!row.rolsuper && !row.rolreplication) {
    throw new StartupError(
      `upstream role "${row.usr}" lacks the REPLICATION attribute needed to create and use a replication slot: run ALTER ROLE ${pg.escapeIdentifier(row.usr)} REPLICATION; as a superuser`,
    );
  }
  return { version: Number(row.version), user: row.usr, database: row.db, superuser: row.rolsuper };
}

/**
 * The publication must publish every change of every row and column, or
 * the replica would silently differ from upstream.
 */
export async function checkPublication(client: pg.Client, pre: Preflight, name: string): Promise<boolean> {
  const p = await client.query<{ ins: boolean; upd: boolean; del: boolean; trunc: boolean }>(
    'SELECT pubinsert AS ins, pubupdate AS upd, pubdelete AS del, pubtruncate AS trunc FROM pg_publication WHERE pubname = $1',
    [name],
  );
  const row = p.rows[0];
  if (!row) return false;
  if (!row.ins || !row.upd || !row.del || !row.trunc) {
    throw new StartupError(
      `publication "${name}" does not publish every operation; Outpost needs insert, update, delete and truncate: ALTER PUBLICATION ${pg.escapeIdentifier(name)} SET (publish = 'insert, update, delete, truncate')`,
    );
  }
  if (pre.version >= 150000) {
    const f = await client.query<{ rel: string; filtered: boolean }>(
      `SELECT pr.prrelid::regclass::text AS rel, pr.prqual IS NOT NULL AS filtered
         FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid
        WHERE p.pubname = $1 AND (pr.prqual IS NOT NULL OR pr.prattrs IS NOT NULL) LIMIT 1`,
      [name],
    );
    const bad = f.rows[0];
    if (bad) {
      throw new StartupError(
        `publication "${name}" has a ${bad.filtered ? 'row filter' : 'column list'} on ${bad.rel}; Outpost replicates whole tables: remove it or use another publication`,
      );
    }
  }
  return true;
}

/** CREATE_REPLICATION_SLOT for `slot`, failures explained in one line. */
export async function createSlot(
  repl: ReplicationConnection,
  slot: string,
  pre: Preflight,
): Promise<{ consistentPoint: Lsn; snapshotName: string }> {
  try {
    return await repl.createSlot(slot, pre.version);
  } catch (err) {
    const e = err as { code?: string };
    const msg = oneLine(errorMessage(err));
    if (e.code === '42710') {
      throw new StartupError(
        `replication slot "${slot}" already exists upstream (another replica?): drop it with SELECT pg_drop_replication_slot('${slot}') or pass another --slot`,
      );
    }
    if (e.code === '42501') {
      throw new StartupError(
        `cannot create replication slot: ${msg} (the role needs the REPLICATION attribute: ALTER ROLE ${pg.escapeIdentifier(pre.user)} REPLICATION)`,
      );
    }
    if (e.code === '53400') {
      throw new StartupError(
        `cannot create replication slot: ${msg} (raise max_replication_slots upstream or drop unused slots)`,
      );
    }
    throw err;
  }
}

/** A copy that could not read a published table, said in one line; anything else as is. */
export function snapshotReadError(err: unknown): unknown {
  if ((err as { code?: string }).code !== '42501') return err;
  return new StartupError(`cannot read a published table for the snapshot: ${oneLine(errorMessage(err))}`);
}

export function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

/** host:port/db of a connection string, never its password. */
function describeUpstream(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '5432'}${u.pathname && u.pathname !== '/' ? u.pathname : ''}`;
  } catch {
    return 'the configured address';
  }
}
