/**
 * Who may read what locally. A statement is answered from the replica only
 * when the session's role could run it upstream with the same result:
 * SELECT privilege on the table, and no row-level security that applies to
 * the role. Everything else is forwarded, so upstream answers with its own
 * rows or its own `permission denied` (42501).
 *
 * Facts are looked up upstream per role (one query for all replicated
 * tables), cached, and refreshed after `ttlMs` or when the replica's catalog
 * changes. Until a role has been looked up, its statements are forwarded.
 */
import type { ReplicaTable } from '../replica/schema.js';
import type { SessionState } from '../session.js';
import { settingProblem } from './settings.js';

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
  fetchedAt: number;
  catalogVersion: number;
  /** `AccessControl.generation` when looked up. */
  generation: number;
}

const ROLE_QUERY = `
select c.oid::int8::text as oid,
       has_table_privilege($1, c.oid, 'SELECT') as can_select,
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
  and s.setdatabase in (0, (select oid from pg_database where datname = current_database()))`;

const SCHEMAS_QUERY = 'select nspname from pg_namespace';

interface RoleRow {
  oid: string;
  can_select: boolean;
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
      onError?: (err: unknown) => void;
    },
  ) {}

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
   * database and are seen by the TTL.)
   */
  invalidate(): void {
    this.generation++;
  }

  /** Why the session may not read `table` locally, or undefined when it may. Never waits. */
  check(session: SessionState, table: ReplicaTable): string | undefined {
    const facts = this.roles.get(session.user);
    if (!facts) {
      void this.refresh(session.user);
      return `privileges of role ${session.user} not yet known`;
    }
    if (facts.generation !== this.generation) {
      void this.refresh(session.user);
      return `privileges of role ${session.user} changed upstream, being looked up`;
    }
    if (this.isStale(facts)) void this.refresh(session.user);
    if (facts.settingsProblem) return facts.settingsProblem;
    if (!facts.tables.has(table.oid)) {
      void this.refresh(session.user);
      return `privileges of role ${session.user} on ${table.schema}.${table.name} not yet known`;
    }
    return facts.tables.get(table.oid);
  }

  private isStale(facts: RoleFacts): boolean {
    return (
      facts.generation !== this.generation ||
      facts.catalogVersion !== this.opts.catalog.catalogVersion ||
      Date.now() - facts.fetchedAt > (this.opts.ttlMs ?? 30_000)
    );
  }

  private refresh(role: string): Promise<void> {
    let p = this.inflight.get(role);
    if (p) return p;
    p = this.fetch(role)
      .catch((err) => this.opts.onError?.(err))
      .finally(() => this.inflight.delete(role));
    this.inflight.set(role, p);
    return p;
  }

  private async fetch(role: string): Promise<void> {
    const catalogVersion = this.opts.catalog.catalogVersion;
    const generation = this.generation;
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
      fetchedAt: Date.now(),
      catalogVersion,
      generation,
    };
    for (const t of tables) {
      const r = byOid.get(t.oid);
      const name = `${t.schema}.${t.name}`;
      if (!r) facts.tables.set(t.oid, `table ${name} not found upstream`);
      else if (!r.can_select) facts.tables.set(t.oid, `role ${role} lacks SELECT on ${name}`);
      else if (r.rls && !r.superuser && !r.bypass_rls && !(r.is_owner && !r.force_rls)) {
        facts.tables.set(t.oid, `row-level security on ${name}`);
      } else facts.tables.set(t.oid, undefined);
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
    this.roles.set(role, facts);
  }
}
