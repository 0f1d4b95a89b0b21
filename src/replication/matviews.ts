/**
 * Materialized views. Logical replication never carries them (they cannot
 * be published, and REFRESH writes no decodable row changes), yet apps read
 * them, so the replica copies each one like a table and copies it again
 * after every refresh:
 *
 * - **What.** The matviews of the tables Outpost replicates: every one when
 *   it replicates all tables (its own `FOR ALL TABLES` publication, or a
 *   `--publication` that is FOR ALL TABLES), else those in `--schemas`
 *   (`--tables` cannot name one: a publication cannot hold it). They are rows of `_outpost_tables` like
 *   tables, so the catalog comparison, the resync copy and swap, the router
 *   and the privilege checks treat them alike. One not populated (`WITH NO
 *   DATA`) is recorded unservable (reading it is error 55000 upstream) and
 *   never copied; one the replication role cannot read likewise.
 * - **Copies** are taken under a snapshot exported by a slot (the initial
 *   one, or a resync's temporary one) and swapped in with the rest of that
 *   resync in one SQLite transaction; the stream has nothing for them, so a
 *   copy at consistent point S simply is the matview from S on.
 * - **Refreshes with the event trigger**: `REFRESH MATERIALIZED VIEW` (also
 *   CONCURRENTLY, Postgres 15-17 checked) fires ddl_command_end with the
 *   matview as its object, so its `outpost.ddl` message arrives inside the
 *   refresh's transaction: the matview is hidden then (reads forward) and
 *   recopied after that transaction, unless the copy it has was taken after
 *   that transaction committed.
 * - **Refreshes without the trigger** are polled every `--matview-refresh`
 *   seconds, by the matview's tuple counters (`pg_stat_get_tuples_inserted`
 *   / `_updated` / `_deleted`): a plain REFRESH inserts every row into a new
 *   relfilenode, CONCURRENTLY inserts and deletes the rows that differ; a
 *   refresh that changes no row changes no counter and needs no copy. The
 *   relfilenode is also compared by the 5 s catalog check, so a plain
 *   REFRESH is usually seen sooner. Limits: counters are flushed by the
 *   refreshing backend at the end of its transaction, at most once a second
 *   (up to 60 s when the stats are contended); with `track_counts = off`
 *   there are no counters and every matview is recopied at every poll.
 *   A stats reset (or an upstream crash) changes the counters: one extra copy.
 */
import type pg from 'pg';
import type { ReplicaStore } from '../replica/store.js';
import type { TableFilter } from './filter.js';

/** Which matviews a replica holds: those of what it replicates (see above). */
export interface MatviewScope {
  publication: string;
  filter: TableFilter | undefined;
  /**
   * Outpost's own publication without a filter: it replicates every table it
   * can (it lists them rather than being FOR ALL TABLES, publication.ts), so
   * every matview too.
   */
  everything?: boolean;
}

/** Meta key: JSON object, matview OID → its counters read before the snapshot its copy came from. */
const BASELINE_KEY = 'matview_counters';

/** Why a matview is recorded but never served nor copied. */
export const NOT_POPULATED =
  'materialized view not populated (WITH NO DATA): reading it is an error upstream';

/**
 * OIDs of the matviews in scope, as the current snapshot sees them.
 * Temporary ones are never replicated.
 */
export async function matviewOids(client: pg.Client, scope: MatviewScope): Promise<number[]> {
  const f = scope.filter;
  const r = await client.query<{ oid: string }>(
    `SELECT c.oid::int8::text AS oid
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'm'
        AND n.nspname NOT IN ('pg_catalog', 'information_schema')
        AND n.nspname !~ '^pg_(toast_)?temp(_|$)'
        AND (($1::bool AND ($4::bool OR EXISTS (SELECT 1 FROM pg_publication p WHERE p.pubname = $2 AND p.puballtables)))
             OR n.nspname = ANY($3::text[]))`,
    [f === undefined, scope.publication, f?.schemas ?? [], scope.everything === true],
  );
  return r.rows.map((x) => Number(x.oid));
}

/** Tuple counters of matviews by OID (`ins/upd/del`), and whether upstream counts at all. */
async function readCounters(
  client: pg.Client,
  oids: number[] | 'scope',
  scope: MatviewScope,
): Promise<{ counters: Map<number, string>; counting: boolean }> {
  const list = oids === 'scope' ? await matviewOids(client, scope) : oids;
  const r = await client.query<{ oid: string; counters: string; counting: boolean }>(
    `SELECT c.oid::int8::text AS oid,
            concat_ws('/', pg_stat_get_tuples_inserted(c.oid), pg_stat_get_tuples_updated(c.oid),
                      pg_stat_get_tuples_deleted(c.oid)) AS counters,
            current_setting('track_counts')::bool AS counting
       FROM pg_class c WHERE c.relkind = 'm' AND c.oid = ANY($1::oid[])`,
    [list],
  );
  const counters = new Map(r.rows.map((row) => [Number(row.oid), row.counters]));
  let counting = r.rows[0]?.counting;
  if (counting === undefined) {
    const s = await client.query<{ on: boolean }>(`SELECT current_setting('track_counts')::bool AS on`);
    counting = s.rows[0]?.on ?? false;
  }
  return { counters, counting };
}

/**
 * Refresh detection without the event trigger: each copied matview's
 * counters as read *before* the snapshot its copy was taken under. Read
 * before, so any refresh they miss committed after they were read and shows
 * as a difference later (one read after the snapshot could already include a
 * refresh the copy does not, and hide it for good).
 */
export class MatviewWatcher {
  private pending = new Map<number, string>();

  constructor(
    private readonly store: ReplicaStore,
    private readonly scope: () => MatviewScope,
  ) {}

  /**
   * As committed in the replica file (not kept in memory: a swap rolled
   * back must not leave baselines of copies that never landed).
   */
  private baseline(): Map<number, string> {
    try {
      const raw = this.store.getMeta(BASELINE_KEY);
      return new Map(
        Object.entries(raw ? (JSON.parse(raw) as Record<string, string>) : {}).map(([k, v]) => [
          Number(k),
          v,
        ]),
      );
    } catch {
      // Unreadable: every matview is recopied at the next poll.
      return new Map();
    }
  }

  /** Call right before creating the slot whose snapshot the copies will be taken under. */
  async beforeSnapshot(client: pg.Client): Promise<void> {
    this.pending = (await readCounters(client, 'scope', this.scope())).counters;
  }

  /**
   * The copies of `copied` are being swapped in (call inside that SQLite
   * transaction): their baselines become the counters read before their
   * snapshot. Baselines of matviews no longer in the replica go.
   */
  recordCopies(copied: Iterable<number>): void {
    const baseline = this.baseline();
    for (const oid of copied) {
      const c = this.pending.get(oid);
      // Created after the counters were read: unknown, recopied at the next poll.
      if (c === undefined) baseline.delete(oid);
      else baseline.set(oid, c);
    }
    const present = new Set(this.store.allTables().map((t) => t.oid));
    for (const oid of baseline.keys()) if (!present.has(oid)) baseline.delete(oid);
    if (baseline.size === 0) this.store.deleteMeta(BASELINE_KEY);
    else this.store.setMeta(BASELINE_KEY, JSON.stringify(Object.fromEntries(baseline)));
  }

  /**
   * Matviews of the replica that may have been refreshed since their copy:
   * counters differ from the baseline, or no baseline, or upstream does not
   * count (track_counts off). Drops and creations are the catalog check's.
   */
  async changed(client: pg.Client): Promise<number[]> {
    const replica = this.store.allTables().map((t) => t.oid);
    if (replica.length === 0) return [];
    const { counters, counting } = await readCounters(client, replica, this.scope());
    const baseline = this.baseline();
    const out: number[] = [];
    for (const [oid, c] of counters) {
      if (!counting || baseline.get(oid) !== c) out.push(oid);
    }
    return out;
  }
}

/** OIDs of matviews a DDL notice says were refreshed (its objects, for tag REFRESH MATERIALIZED VIEW). */
export function refreshedMatviews(tag: string, objects: ReadonlySet<number>): number[] {
  return tag === 'REFRESH MATERIALIZED VIEW' ? [...objects] : [];
}
