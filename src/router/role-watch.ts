/**
 * Watches what decides privileges but is not in logical decoding: roles and
 * their attributes (SUPERUSER, BYPASSRLS, INHERIT), memberships, role and
 * database settings (`ALTER ROLE/DATABASE … SET`), schema privileges and
 * owners, and the replicated tables' owners, ACLs and row-level security
 * switches (also covered by the DDL trigger's message when it is installed).
 *
 * One cheap query hashes all of it, on a short timer; the access control
 * compares fingerprints (`AccessControl.confirm`) and looks every role up
 * again when one changes. A change upstream is seen within one interval plus
 * one query, and role facts are never used when the latest successful
 * fingerprint is older than `--max-lag`: like a hot standby, privileges are
 * at most that stale.
 */
import type { CatalogQuery } from './access.js';

/**
 * Every part is ordered, so equal catalogs hash equally. Temporary schemas
 * (made at a session's first temporary table) do not count: no role is
 * named like them (`pg_` is reserved) and their privileges never matter
 * here. `to_jsonb` of a
 * whole row keeps columns added in later versions (pg_auth_members'
 * inherit_option and set_option in 16) without naming them.
 */
export const ROLE_CATALOG_FINGERPRINT = `
select md5(concat_ws('|',
  (select string_agg(concat_ws(',', r.oid, r.rolname, r.rolsuper, r.rolinherit, r.rolbypassrls, r.rolcanlogin),
                     ';' order by r.oid) from pg_catalog.pg_roles r),
  (select string_agg(to_jsonb(m)::text, ';' order by m.roleid, m.member, m.grantor)
     from pg_catalog.pg_auth_members m),
  (select string_agg(concat_ws(',', s.setdatabase, s.setrole, s.setconfig::text), ';'
                     order by s.setdatabase, s.setrole) from pg_catalog.pg_db_role_setting s),
  (select string_agg(concat_ws(',', n.oid, n.nspname, n.nspowner, n.nspacl::text), ';' order by n.oid)
     from pg_catalog.pg_namespace n where n.nspname !~ '^pg_(toast_)?temp_'),
  (select string_agg(concat_ws(',', c.oid, c.relowner, c.relacl::text, c.relrowsecurity, c.relforcerowsecurity),
                     ';' order by c.oid) from pg_catalog.pg_class c where c.oid = any($1::oid[]))
)) as fp`;

/** How often the role catalog is read: at most every second, four times within `--max-lag`. */
export function roleWatchIntervalMs(maxLagMs: number): number {
  return Math.max(50, Math.min(1000, Math.floor(maxLagMs / 4)));
}

export class RoleCatalogWatch {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  /** The latest poll failed (errors are reported once per outage). */
  private failing = false;

  constructor(
    private readonly opts: {
      query: CatalogQuery;
      /** OIDs of the replicated tables (their owners, ACLs and RLS switches count). */
      tableOids: () => number[];
      confirm: (fingerprint: string, startedAt: number) => void;
      intervalMs: number;
      onError?: (err: unknown) => void;
    },
  ) {}

  /** Reads the fingerprint once now, then on the timer. */
  start(): void {
    if (this.timer) return;
    void this.poll();
    this.timer = setInterval(() => void this.poll(), this.opts.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The role catalog's fingerprint now (also read before each role lookup: `AccessControl` option `fingerprint`). */
  async read(): Promise<string> {
    const oids = this.opts.tableOids().map(String);
    const rows = await this.opts.query<{ fp: string | null }>(ROLE_CATALOG_FINGERPRINT, [oids]);
    return rows[0]?.fp ?? '';
  }

  /** One fingerprint read (skipped while one is in flight); never rejects. */
  async poll(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const startedAt = Date.now();
    try {
      this.opts.confirm(await this.read(), startedAt);
      this.failing = false;
    } catch (err) {
      // Not confirmed: role facts age out after --max-lag and reads forward.
      if (!this.failing) this.opts.onError?.(err);
      this.failing = true;
    } finally {
      this.running = false;
    }
  }
}
