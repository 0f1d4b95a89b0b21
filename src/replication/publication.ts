/**
 * Outpost's own publication (`outpost`, or `outpost_<hash>` for a filter) and
 * why it is never `FOR ALL TABLES`: once a publication publishes UPDATE and
 * DELETE of a table, Postgres refuses those statements on that table unless
 * it has a replica identity (`ERROR 55000: cannot update table ... because it
 * does not have a replica identity and publishes updates`), so a FOR ALL
 * TABLES publication breaks the application's writes to every table without
 * a primary key, including tables created later.
 *
 * So the publication lists the tables the filter selects that have a replica
 * identity (a primary key, REPLICA IDENTITY FULL, or USING INDEX), and
 * `sync()` keeps that list current as tables are created, altered or dropped
 * (on every DDL message, or every catalog poll without the event trigger).
 * A table that lost its identity is dropped from the publication at once; one
 * that gained it is added, and the engine then copies it (a table new to the
 * replica is resynchronised, docs/architecture.md "Schema changes"). Tables
 * left out are forwarded; each is logged once with the fix and recorded for
 * `outpost status`. Adding a table needs its ownership (or a superuser): a
 * table the role does not own is forwarded the same way.
 *
 * Membership is per table (`ONLY`): adding an inheritance parent must not add
 * children without an identity. Partitions are listed as the leaves they are
 * (a partitioned table itself is never added), as FOR ALL TABLES publishes them.
 *
 * An `outpost` publication made FOR ALL TABLES (or FOR TABLES IN SCHEMA) by an
 * earlier version is replaced, when the role may, by the list in one
 * transaction (DROP and CREATE under the same name): a slot decoding across
 * that commit finds a publication of that name on both sides of it. One the
 * role does not own is used as it is, like a `--publication`, with a warning.
 */
import pg from 'pg';
import { errorMessage, StartupError } from '../errors.js';
import type { Logger } from '../log.js';
import { OUTPOST_SCHEMA } from './ddl.js';
import { describeFilter, type TableFilter } from './filter.js';

/** A table Outpost does not replicate, and why (with the fix). */
export interface ForwardedTable {
  oid: number;
  /** `schema.name` */
  table: string;
  reason: string;
}

/**
 * SQL: table `c` has a replica identity, so UPDATE/DELETE of it may be
 * published. Postgres takes as identity only a valid, unique, immediate
 * (not DEFERRABLE), non-partial index: a deferrable primary key is none.
 */
export const HAS_REPLICA_IDENTITY = `(c.relreplident = 'f'
  OR (c.relreplident IN ('d', 'i') AND EXISTS (
        SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisvalid AND i.indimmediate
           AND i.indisunique AND i.indpred IS NULL
           AND CASE WHEN c.relreplident = 'd' THEN i.indisprimary ELSE i.indisreplident END)))`;

/** The fix for a table without a replica identity, as the log and `outpost status` say it. */
export function noIdentityReason(table: string): string {
  return `no primary key or replica identity; to replicate it: ALTER TABLE ${table} REPLICA IDENTITY FULL (or add a primary key)`;
}

/** Regular, permanent tables outside the system schemas (what FOR ALL TABLES would publish). */
const PUBLISHABLE = `c.relkind = 'r' AND c.relpersistence = 'p'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', '${OUTPOST_SCHEMA}')
  AND n.nspname !~ '^pg_(toast|temp)'`;

interface Candidate {
  oid: string;
  nspname: string;
  relname: string;
  qname: string;
  identity: boolean;
  owned: boolean;
  member: boolean;
}

interface PublicationRow {
  oid: string;
  alltables: boolean;
  schemas: boolean;
  mine: boolean;
  owner: string;
}

class OwnPublication {
  /** Whether Outpost manages the membership (false: someone else's, used as it is). */
  managed = true;
  /** Set when a sync changed the membership (the caller then compares catalogs). */
  changed = false;

  constructor(
    readonly name: string,
    private readonly filter: TableFilter | undefined,
    private readonly logger: Logger,
  ) {}

  private get ident(): string {
    return pg.escapeIdentifier(this.name);
  }

  /**
   * Makes sure the publication exists and lists the replicable tables
   * (creating it, or replacing an old FOR ALL TABLES one). Returns whether
   * Outpost created it (its COMMENT says so; `outpost uninstall` drops it).
   */
  async ensure(client: pg.Client, version: number, user: string): Promise<void> {
    const row = await this.lookup(client, version);
    if (row && !row.mine) {
      this.managed = false;
      if (row.alltables || row.schemas) {
        this.logger.warn(
          { publication: this.name, owner: row.owner },
          `replication: publication ${this.name} publishes ${row.alltables ? 'all tables' : 'whole schemas'} and role "${user}" does not own it, so it is used as it is: tables without a replica identity in it refuse UPDATE and DELETE upstream. To let Outpost list only the tables it can replicate, its owner runs, in one transaction: BEGIN; DROP PUBLICATION ${this.ident}; CREATE PUBLICATION ${this.ident}; ALTER PUBLICATION ${this.ident} OWNER TO ${pg.escapeIdentifier(user)}; COMMIT;`,
        );
      }
      return;
    }
    if (row && !row.alltables && !row.schemas) return;
    const plan = await this.plan(client);
    const add = plan.filter((c) => c.identity && c.owned);
    if (this.filter && this.filter.tables.length > 0) {
      const exists = await client.query<{ nspname: string; relname: string }>(
        `SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r', 'p') AND c.relpersistence = 'p'
            AND (n.nspname, c.relname) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
        [this.filter.tables.map((t) => t[0]), this.filter.tables.map((t) => t[1])],
      );
      const missing = this.filter.tables.filter(
        ([s, t]) => !exists.rows.some((c) => c.nspname === s && c.relname === t),
      );
      const first = missing[0];
      if (first) {
        throw new StartupError(
          `cannot replicate ${describeFilter(this.filter)}: table ${first[0]}.${first[1]} does not exist upstream (or is not a permanent table); check --tables`,
        );
      }
    }
    const hint = `grant role "${user}" CREATE on the database, or create a publication for your tables yourself and pass --publication`;
    try {
      await client.query('BEGIN');
      await client.query(`SET LOCAL lock_timeout = '10s'`);
      if (row) await client.query(`DROP PUBLICATION ${this.ident}`);
      await client.query(`CREATE PUBLICATION ${this.ident}`);
      await client.query(
        `COMMENT ON PUBLICATION ${this.ident} IS ${pg.escapeLiteral('created by Outpost; removed by outpost uninstall')}`,
      );
      if (add.length > 0) {
        await client.query(
          `ALTER PUBLICATION ${this.ident} ADD TABLE ${add.map((c) => `ONLY ${c.qname}`).join(', ')}`,
        );
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      const e = err as { code?: string };
      // Created at the same moment by another instance: theirs is as good.
      if (!row && (e.code === '42710' || e.code === '23505')) return;
      if (e.code === '42501') {
        throw new StartupError(
          `cannot create publication "${this.name}": ${oneLine(errorMessage(err))}; ${hint}`,
        );
      }
      throw err;
    }
    if (row) {
      this.logger.warn(
        { publication: this.name, tables: add.length },
        `replication: replaced publication ${this.name} (${row.alltables ? 'FOR ALL TABLES' : 'FOR TABLES IN SCHEMA'}, which breaks UPDATE and DELETE of tables without a replica identity) by one listing the tables Outpost can replicate`,
      );
    } else {
      this.logger.info(
        { publication: this.name, tables: add.length, filter: describeFilter(this.filter) },
        'replication: created publication listing the tables with a replica identity',
      );
    }
  }

  private async lookup(client: pg.Client, version: number): Promise<PublicationRow | undefined> {
    const r = await client.query<PublicationRow>(
      `SELECT p.oid::int8::text AS oid, p.puballtables AS alltables,
              ${version >= 150000 ? 'EXISTS (SELECT 1 FROM pg_publication_namespace pn WHERE pn.pnpubid = p.oid)' : 'false'} AS schemas,
              pg_has_role(p.pubowner, 'USAGE') AS mine, pg_get_userbyid(p.pubowner) AS owner
         FROM pg_publication p WHERE p.pubname = $1`,
      [this.name],
    );
    return r.rows[0];
  }

  /** Every table the filter selects, with what decides its membership. */
  private async plan(client: pg.Client): Promise<Candidate[]> {
    const f = this.filter;
    // A partitioned table named by --tables stands for its leaf partitions
    // (pg_partition_ancestors lists none for a table that is no partition).
    const where = f
      ? `AND (n.nspname = ANY($4::text[])
           OR (n.nspname, c.relname) IN (SELECT * FROM unnest($2::text[], $3::text[]))
           OR EXISTS (
           SELECT 1 FROM pg_partition_ancestors(c.oid) anc JOIN pg_class ac ON ac.oid = anc.relid
             JOIN pg_namespace an ON an.oid = ac.relnamespace
            WHERE (an.nspname, ac.relname) IN (SELECT * FROM unnest($2::text[], $3::text[]))))`
      : '';
    const params: unknown[] = [this.name];
    if (f)
      params.push(
        f.tables.map((t) => t[0]),
        f.tables.map((t) => t[1]),
        f.schemas,
      );
    const r = await client.query<Candidate>(
      `SELECT c.oid::int8::text AS oid, n.nspname, c.relname,
              quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS qname,
              ${HAS_REPLICA_IDENTITY} AS identity, pg_has_role(c.relowner, 'USAGE') AS owned,
              EXISTS (SELECT 1 FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid
                       WHERE p.pubname = $1 AND pr.prrelid = c.oid) AS member
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE ${PUBLISHABLE} ${where}
        ORDER BY 2`,
      params,
    );
    return r.rows;
  }

  /**
   * Brings the membership in line with the tables (drops first: a member
   * that lost its identity is breaking writes now) and returns the tables
   * left out. A failure (a lock not granted within 2 s, a table dropped
   * meanwhile) is logged and retried at the next check.
   */
  async sync(client: pg.Client): Promise<ForwardedTable[]> {
    if (!this.managed) return [];
    const plan = await this.plan(client);
    const wanted = new Set(plan.filter((c) => c.identity && c.owned).map((c) => c.oid));
    const members = await client.query<{ oid: string; qname: string }>(
      `SELECT c.oid::int8::text AS oid, quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS qname
         FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid
         JOIN pg_class c ON c.oid = pr.prrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE p.pubname = $1`,
      [this.name],
    );
    const drop = members.rows.filter((m) => !wanted.has(m.oid));
    const add = plan.filter((c) => wanted.has(c.oid) && !c.member);
    if (drop.length > 0) {
      await this.alter(
        'DROP',
        drop,
        client,
        'replication: removed from the publication (no replica identity any more, or no longer selected)',
      );
    }
    if (add.length > 0) {
      await this.alter('ADD', add, client, 'replication: added to the publication (copied next)');
    }
    const forwarded: ForwardedTable[] = [];
    for (const c of plan) {
      const table = c.qname;
      if (!c.identity) forwarded.push({ oid: Number(c.oid), table, reason: noIdentityReason(table) });
      else if (!c.owned) {
        forwarded.push({
          oid: Number(c.oid),
          table,
          reason: `the replication role does not own it (adding a table to a publication needs its owner or a superuser); to replicate it, have its owner run ALTER PUBLICATION ${this.ident} ADD TABLE ONLY ${table}`,
        });
      }
    }
    return forwarded;
  }

  private async alter(
    op: 'ADD' | 'DROP',
    tables: Array<{ qname: string }>,
    client: pg.Client,
    msg: string,
  ): Promise<void> {
    const run = async (list: Array<{ qname: string }>) => {
      await client.query('BEGIN');
      try {
        // Never queue the application's statements behind ours for long.
        await client.query(`SET LOCAL lock_timeout = '2s'`);
        await client.query(
          `ALTER PUBLICATION ${this.ident} ${op} TABLE ${list.map((t) => `ONLY ${t.qname}`).join(', ')}`,
        );
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      }
    };
    try {
      await run(tables);
      this.changed = true;
      this.logger.info({ publication: this.name, tables: tables.map((t) => t.qname) }, msg);
      return;
    } catch {
      // One at a time below, so one table cannot hold back the others.
    }
    for (const t of tables) {
      try {
        await run([t]);
        this.changed = true;
        this.logger.info({ publication: this.name, tables: [t.qname] }, msg);
      } catch (err) {
        this.logger.warn(
          { publication: this.name, table: t.qname, err: oneLine(errorMessage(err)) },
          `replication: cannot ${op === 'ADD' ? 'add the table to' : 'remove the table from'} the publication; retried at the next check`,
        );
      }
    }
  }
}

/**
 * Tables of a publication Outpost does not manage (`--publication`, or one
 * it does not own) that publish UPDATE or DELETE without a replica identity:
 * Postgres refuses those statements on them. Outpost replicates them all the
 * same (their rows can then only be inserted, truncated and copied).
 */
export async function tablesBreakingWrites(client: pg.Client, publication: string): Promise<string[]> {
  const r = await client.query<{ qname: string }>(
    `SELECT DISTINCT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS qname
       FROM pg_publication p, pg_publication_tables pt
       JOIN pg_namespace n ON n.nspname = pt.schemaname
       JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename
      WHERE p.pubname = $1 AND pt.pubname = $1 AND (p.pubupdate OR p.pubdelete)
        AND NOT ${HAS_REPLICA_IDENTITY}
      ORDER BY 1`,
    [publication],
  );
  return r.rows.map((x) => x.qname);
}

/**
 * What the engine asks of its publication: prepared before the slot exists,
 * refreshed at every catalog check, and the tables Outpost forwards because
 * they are left out of it, each logged once.
 */
export class PublicationKeeper {
  private readonly own: OwnPublication | undefined;
  private left: ForwardedTable[] = [];
  private readonly logged = new Set<string>();

  constructor(
    readonly name: string,
    opts: { own: boolean; filter: TableFilter | undefined },
    private readonly logger: Logger,
  ) {
    this.own = opts.own ? new OwnPublication(name, opts.filter, logger) : undefined;
  }

  /** Whether Outpost manages the membership (and created the publication). */
  get managed(): boolean {
    return this.own?.managed === true;
  }

  /** Before the slot exists (or before resuming): create, migrate or check it. */
  async prepare(client: pg.Client, version: number, user: string): Promise<void> {
    if (this.own) await this.own.ensure(client, version, user);
    await this.refresh(client);
  }

  /**
   * At every catalog check: the membership in line with the tables. Says
   * whether it changed (the catalogs must then be compared).
   */
  async refresh(client: pg.Client): Promise<boolean> {
    if (this.own?.managed) {
      this.own.changed = false;
      this.left = await this.own.sync(client);
      this.note(this.left);
      return this.own.changed;
    }
    for (const table of await tablesBreakingWrites(client, this.name)) {
      const key = `breaks\u0000${table}`;
      if (this.logged.has(key)) continue;
      this.logged.add(key);
      this.logger.warn(
        { publication: this.name, table },
        `replication: publication ${this.name} publishes UPDATE and DELETE of ${table}, which has no replica identity, so upstream refuses those statements on it; fix: ALTER TABLE ${table} REPLICA IDENTITY FULL (or add a primary key), or leave it out of the publication`,
      );
    }
    return false;
  }

  /** Every table forwarded, by name. */
  forwarded(): ForwardedTable[] {
    return [...this.left].sort((a, b) => (a.table < b.table ? -1 : 1));
  }

  /** The forwarded list as the replica's `forwarded_tables` stores it (for `outpost status`). */
  forwardedJson(): string {
    return JSON.stringify(this.forwarded().map((f) => ({ table: f.table, reason: f.reason })));
  }

  private note(list: ForwardedTable[]): void {
    for (const f of list) {
      const key = `${f.oid}\u0000${f.reason}`;
      if (this.logged.has(key)) continue;
      this.logged.add(key);
      this.logger.warn(
        { table: f.table, reason: f.reason },
        'replication: table not replicated; its queries go upstream',
      );
    }
  }
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}
