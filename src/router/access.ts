/**
 * Who may read what locally. A statement is answered from the replica only
 * when the session's role could run it upstream with the same result:
 * USAGE on the table's schema, SELECT privilege on the whole table (a role
 * with SELECT on some columns only is forwarded), and no row-level security
 * that applies to the role. Everything else is forwarded, so upstream
 * answers with its own rows or its own `permission denied` (42501).
 *
 * Facts are looked up upstream per role (one query for all replicated
 * tables), cached, and refreshed after `ttlMs` or when the replica's catalog
 * changes. Until a role has been looked up, its statements are forwarded.
 *
 * Roles, memberships, role and database settings and schema privileges are
 * not in logical decoding: `RoleCatalogWatch` (role-watch.ts) polls a
 * fingerprint of them and calls `confirm()`; a new fingerprint invalidates
 * every role's facts, and facts are used only while the latest confirmation
 * is younger than `maxUnconfirmedMs` (`--max-lag`).
 */
import type { ReplicaTable } from '../replica/schema.js';
import type { SessionState } from '../session.js';
import { settingProblem, timeoutDefault } from './settings.js';
import { needResetTimeouts } from './timeouts.js';

/** Runs a catalog query upstream (not as the client: these are lookups, never client statements). */
export type CatalogQuery = <R>(sql: string, params: unknown[]) => Promise<R[]>;

export interface AccessCatalog {
  tables(): ReplicaTable[];
  readonly catalogVersion: number;
}

interface RoleFacts {
  /** Problem per table OID; undefined means the role reads it locally like upstream. */
  tables: Map<number, string | undefined>;
  /** A role- or database-level setting the local path cannot honour, if any. */
  settingsProblem: string | undefined;
  /**
   * A role, database or server default may give the role's sessions a
   * statement or idle-in-transaction timeout: each session reads its own
   * values upstream before answering locally (src/router/timeouts.ts).
   */
  timeoutDefaults: boolean;
  fetchedAt: number;
  catalogVersion: number;
  /** `AccessControl.generation` when looked up. */
  generation: number;
  /**
   * The role catalog's fingerprint read just before these facts were looked
   * up (with a `fingerprint` source): they hold while the watch confirms it.
   */
  fingerprint: string | undefined;
  /** Last `check()` (ms since the epoch): roles used recently are looked up again at once on a change. */
  usedAt: number;
}

/** Roles checked within this long are refreshed eagerly when the catalog changes. */
const RECENT_ROLE_MS = 10 * 60_000;
/** At most this many of them. */
const EAGER_REFRESH_ROLES = 50;

const ROLE_QUERY = `
select c.oid::int8::text as oid,
       has_table_privilege($1, c.oid, 'SELECT') as can_select,
       has_schema_privilege($1, c.relnamespace, 'USAGE') as can_use_schema,
       c.relrowsecurity as rls,
       c.relforcerowsecurity as force_rls,
       pg_get_userbyid(c.relowner) = $1 as is_owner,
       r.rolsuper as superuser,
       r.rolbypassrls as bypass_rls
from pg_class c cross join pg_roles r
where c.oid = any($2::oid[]) and r.rolname = $1`;

const SETTINGS_QUERY = `
select cfg
from pg_db_role_setting s, unnest(s.setconfig) cfg
where s.setrole in (0, (select oid from pg_roles where rolname = $1))
  and s.setdatabase in (0, (select oid from pg_database where datname = current_database()))
union all
-- The server's own default (postgresql.conf, ALTER SYSTEM): a plain BEGIN starts a
-- transaction locally only at READ COMMITTED (src/server/local-transaction.ts).
select 'default_transaction_isolation=' || reset_val from pg_settings where name = 'default_transaction_isolation'
union all
-- Postgres 17's transaction_timeout (no row before): upstream enforces it on transactions it sees whole.
select 'transaction_timeout=' || reset_val from pg_settings where name = 'transaction_timeout'
union all
-- The timeouts' server defaults, as this connection has them (any role default of the
-- catalog role shows too: then every session reads its own values, which is only slower).
select name || '=' || reset_val from pg_settings
where name in ('statement_timeout', 'idle_in_transaction_session_timeout')`;

const SCHEMAS_QUERY = 'select nspname from pg_namespace';

interface RoleRow {
  oid: string;
  can_select: boolean;
  can_use_schema: boolean;
  rls: boolean;
  force_rls: boolean;
  is_owner: boolean;
  superuser: boolean;
  bypass_rls: boolean;
}

export class AccessControl {
  private readonly roles = new Map<string, RoleFacts>();
  private readonly inflight = new Map<string, Promise<void>>();
  private upstreamSchemas = new Set<string>();
  /** Bumped by `invalidate()`: facts of an older generation are never used. */
  private generation = 0;

  constructor(
    private readonly opts: {
      query: CatalogQuery;
      catalog: AccessCatalog;
      ttlMs?: number;
      /**
       * With a catalog watch: facts are used only while the latest
       * `confirm()` started less than this long ago (and not before the first).
       */
      maxUnconfirmedMs?: number;
      /**
       * Reads the role catalog's fingerprint (the watch's own query). Facts
       * are then tagged with the fingerprint read right before them, and a
       * confirmation of another one invalidates only facts tagged otherwise:
       * facts looked up before the watch's first reading, or between two
       * readings, are not thrown away when nothing changed.
       */
      fingerprint?: () => Promise<string>;
      onError?: (err: unknown) => void;
    },
  ) {}

  /** Fingerprint of the role catalog as of the latest `confirm()`. */
  private fingerprint: string | undefined;
  /** When the reading that gave `fingerprint` started. */
  private fingerprintReadAt = Number.NEGATIVE_INFINITY;
  /** When the latest successful fingerprint query started (ms since the epoch). */
  private confirmedAt: number | undefined;
  /** Table OIDs with row-level security enabled, as of the latest lookup (any role). */
  private rlsTables = new Set<number>();
  /** Table OIDs the latest lookup found upstream. */
  private knownTables = new Set<number>();

  /**
   * A fingerprint of roles, memberships, settings and privileges, read by a
   * query that started at `startedAt`. A different fingerprint than the last
   * one invalidates every role's facts; an equal one confirms them as of
   * `startedAt` (any change after the query's snapshot shows in a later one).
   */
  confirm(fingerprint: string, startedAt: number): void {
    // Readings finish out of order (the watch's, and those before role
    // lookups): one that started before the reading in force says nothing newer.
    if (startedAt < this.fingerprintReadAt) return;
    this.fingerprintReadAt = startedAt;
    if (fingerprint !== this.fingerprint) {
      this.fingerprint = fingerprint;
      if (this.opts.fingerprint) this.refreshRecent((facts) => facts.fingerprint !== fingerprint);
      else this.invalidate();
    }
    if (this.confirmedAt === undefined || startedAt > this.confirmedAt) this.confirmedAt = startedAt;
  }

  /** Whether row-level security is enabled on the table (as of the latest lookup; unknown counts as yes). */
  rowSecurity(oid: number): boolean {
    return this.rlsTables.has(oid) || !this.knownTables.has(oid);
  }

  /** Schemas upstream, as of the latest lookup (for `$user` shadowing of unqualified names). */
  schemas(): ReadonlySet<string> {
    return this.upstreamSchemas;
  }

  /** Make sure the role's facts are known and fresh; resolves when they are (never rejects). */
  prepare(session: SessionState): Promise<void> {
    const facts = this.roles.get(session.user);
    if (facts && !this.isStale(facts)) return Promise.resolve();
    return this.refresh(session.user);
  }

  /**
   * Upstream ran DDL (the replication stream carries the event trigger's
   * message, GRANT and REVOKE, policies, ownership and RLS switches among
   * them): every role's facts are looked up again before they are used, so
   * a revoked privilege never serves a local read once the replica has seen
   * the REVOKE. (Role attributes such as BYPASSRLS change outside any
   * database: the role catalog watch sees them, see `confirm`.)
   */
  invalidate(): void {
    this.generation++;
    this.refreshRecent(() => true);
  }

  /** Look the roles in use (whose facts `outdated` says are) up again now, so their next reads need not forward. */
  private refreshRecent(outdated: (facts: RoleFacts) => boolean): void {
    const cutoff = Date.now() - RECENT_ROLE_MS;
    const recent: [string, number][] = [];
    for (const [role, facts] of this.roles) {
      if (!outdated(facts)) continue;
      if (facts.usedAt >= cutoff) recent.push([role, facts.usedAt]);
      else this.roles.delete(role);
    }
    // The busiest first, and not so many that the catalog connections (shared
    // with read-your-writes lookups) queue for long; the rest on first use.
    recent.sort((a, b) => b[1] - a[1]);
    for (const [role] of recent.slice(0, EAGER_REFRESH_ROLES)) void this.refresh(role);
  }

  /** Why the session may not read `table` locally, or undefined when it may. Never waits. */
  check(session: SessionState, table: ReplicaTable): string | undefined {
    const bound = this.opts.maxUnconfirmedMs;
    if (bound !== undefined) {
      if (this.confirmedAt === undefined) return 'role catalog not yet read';
      const age = Date.now() - this.confirmedAt;
      if (age > bound) return `role catalog not confirmed for ${(age / 1000).toFixed(1)} s`;
    }
    const facts = this.roles.get(session.user);
    if (!facts) {
      void this.refresh(session.user);
      return `privileges of role ${session.user} not yet known`;
    }
    facts.usedAt = Date.now();
    if (facts.generation !== this.generation || this.fingerprintDiffers(facts)) {
      void this.refresh(session.user);
      return `privileges of role ${session.user} changed upstream, being looked up`;
    }
    if (this.isStale(facts)) void this.refresh(session.user);
    if (facts.settingsProblem) return facts.settingsProblem;
    if (facts.timeoutDefaults) needResetTimeouts(session);
    if (!facts.tables.has(table.oid)) {
      void this.refresh(session.user);
      return `privileges of role ${session.user} on ${table.schema}.${table.name} not yet known`;
    }
    return facts.tables.get(table.oid);
  }

  /** With a fingerprint source: the facts were looked up under another role catalog than the confirmed one. */
  private fingerprintDiffers(facts: RoleFacts): boolean {
    return (
      this.opts.fingerprint !== undefined &&
      this.fingerprint !== undefined &&
      facts.fingerprint !== this.fingerprint
    );
  }

  private isStale(facts: RoleFacts): boolean {
    return (
      facts.generation !== this.generation ||
      this.fingerprintDiffers(facts) ||
      facts.catalogVersion !== this.opts.catalog.catalogVersion ||
      Date.now() - facts.fetchedAt > (this.opts.ttlMs ?? 30_000)
    );
  }

  private refresh(role: string): Promise<void> {
    let p = this.inflight.get(role);
    if (p) return p;
    p = (async () => {
      // Invalidated while looking up: those facts are already old, look again.
      for (let attempt = 0; attempt < 3; attempt++) {
        const generation = this.generation;
        const facts = await this.fetch(role);
        if (this.generation === generation && !this.fingerprintDiffers(facts)) return;
      }
    })()
      .catch((err) => this.opts.onError?.(err))
      .finally(() => this.inflight.delete(role));
    this.inflight.set(role, p);
    return p;
  }

  private async fetch(role: string): Promise<RoleFacts> {
    const catalogVersion = this.opts.catalog.catalogVersion;
    const generation = this.generation;
    // Read before the facts, so a change after it shows as a new fingerprint.
    // The reading confirms the catalog like the watch's own: facts looked up
    // after a table joined the replica (which changes the fingerprint) are
    // not held back until the watch's next reading.
    let fingerprint: string | undefined;
    if (this.opts.fingerprint) {
      const startedAt = Date.now();
      fingerprint = await this.opts.fingerprint();
      this.confirm(fingerprint, startedAt);
    }
    const tables = this.opts.catalog.tables();
    const oids = tables.map((t) => String(t.oid));
    const [rows, settings, schemas] = await Promise.all([
      this.opts.query<RoleRow>(ROLE_QUERY, [role, oids]),
      this.opts.query<{ cfg: string }>(SETTINGS_QUERY, [role]),
      this.opts.query<{ nspname: string }>(SCHEMAS_QUERY, []),
    ]);
    const byOid = new Map(rows.map((r) => [Number(r.oid), r]));
    const facts: RoleFacts = {
      tables: new Map(),
      settingsProblem: undefined,
      timeoutDefaults: false,
      fetchedAt: Date.now(),
      catalogVersion,
      generation,
      fingerprint,
      usedAt: this.roles.get(role)?.usedAt ?? Date.now(),
    };
    for (const t of tables) {
      const r = byOid.get(t.oid);
      const name = `${t.schema}.${t.name}`;
      if (!r) facts.tables.set(t.oid, `table ${name} not found upstream`);
      else if (!r.can_use_schema) facts.tables.set(t.oid, `role ${role} lacks USAGE on schema ${t.schema}`);
      else if (!r.can_select) facts.tables.set(t.oid, `role ${role} lacks SELECT on ${name}`);
      else if (r.rls && !r.superuser && !r.bypass_rls && !(r.is_owner && !r.force_rls)) {
        facts.tables.set(t.oid, `row-level security on ${name}`);
      } else facts.tables.set(t.oid, undefined);
    }
    for (const { cfg } of settings) {
      const eq = cfg.indexOf('=');
      const [name, value] = eq < 0 ? [cfg, ''] : [cfg.slice(0, eq), cfg.slice(eq + 1)];
      if (timeoutDefault(name, value)) facts.timeoutDefaults = true;
    }
    for (const { cfg } of settings) {
      const eq = cfg.indexOf('=');
      const problem = settingProblem(eq < 0 ? cfg : cfg.slice(0, eq), eq < 0 ? '' : cfg.slice(eq + 1));
      if (problem) {
        facts.settingsProblem = `role/database default ${problem.replace(/^setting /, '')}`;
        break;
      }
    }
    this.upstreamSchemas = new Set(schemas.map((s) => s.nspname));
    this.knownTables = new Set(rows.map((r) => Number(r.oid)));
    this.rlsTables = new Set(rows.filter((r) => r.rls).map((r) => Number(r.oid)));
    this.roles.set(role, facts);
    return facts;
  }
}
