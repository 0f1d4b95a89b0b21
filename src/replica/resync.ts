/**
 * Resynchronisation after upstream schema changes: under a snapshot exported
 * by a temporary replication slot, copy every table whose replica copy may be
 * wrong into a staging table; the engine then swaps them in with
 * `ReplicaStore.replaceTables` in one SQLite transaction.
 *
 * The set of tables is decided under that same snapshot, so after the swap
 * the replica's catalog equals upstream's at the slot's consistent point:
 * renames, drops and creations land together and table names never clash.
 */
import type pg from 'pg';
import type { Logger } from '../log.js';
import type { MatviewScope } from '../replication/matviews.js';
import { quoteIdent, type ReplicaTable } from './schema.js';
import {
  COPY_SESSION_SQL,
  copyTable,
  fetchCatalog,
  notCopied,
  quoteLiteral,
  replicatedOids,
  stripUpstream,
  type UpstreamTable,
} from './snapshot.js';
import { type ReplicaStore, STAGING_PREFIX } from './store.js';

/** Same columns, names, keys and servability: rows copied for one fit the other. */
export function sameShape(a: ReplicaTable, b: ReplicaTable): boolean {
  return (
    a.oid === b.oid &&
    a.schema === b.schema &&
    a.name === b.name &&
    a.sqliteName === b.sqliteName &&
    a.unservable === b.unservable &&
    a.relkind === b.relkind &&
    // A child created, attached (INHERIT) or detached changes what a plain
    // reference to the parent reads.
    JSON.stringify(a.inheritors ?? null) === JSON.stringify(b.inheritors ?? null) &&
    columnsKey(a, pkKnown(a) && pkKnown(b)) === columnsKey(b, pkKnown(a) && pkKnown(b))
  );
}

/**
 * The catalog records which columns form the primary key (catalogs written
 * before it did not: comparing those without it spares a copy of every table
 * on upgrade; such a replica never assumes the dependency).
 */
function pkKnown(t: ReplicaTable): boolean {
  return t.columns.every((c) => c.primaryKey !== undefined);
}

function columnsKey(t: ReplicaTable, withPrimaryKey: boolean): string {
  return JSON.stringify(
    t.columns.map((c) => [
      c.name,
      c.attnum,
      c.typeOid,
      c.typmod,
      c.typlen,
      c.typeName,
      c.keyPosition,
      withPrimaryKey ? c.primaryKey : null,
      c.collation ?? null,
      // ALTER TYPE ... ADD VALUE changes the order the read path compares in.
      c.enumLabels ?? null,
    ]),
  );
}

/**
 * OIDs of tables where the replica differs from `upstream` (the publication's
 * tables now): created, dropped or unpublished, or changed in shape. Also,
 * for the tables in `storageOf` (every table for 'all'), a different storage
 * identity: rows rewritten by DDL. Only where asked, because TRUNCATE changes
 * it too, and that is already in the stream.
 */
export function catalogDifferences(
  replica: ReplicaTable[],
  upstream: ReplicaTable[],
  storageOf: 'all' | ReadonlySet<number>,
): Set<number> {
  const out = new Set<number>();
  const mine = new Map(replica.map((t) => [t.oid, t]));
  for (const up of upstream) {
    const r = mine.get(up.oid);
    mine.delete(up.oid);
    if (!r || !sameShape(r, up)) out.add(up.oid);
    else if ((storageOf === 'all' || storageOf.has(up.oid)) && r.storage !== up.storage) out.add(up.oid);
  }
  for (const oid of mine.keys()) out.add(oid);
  return out;
}

export interface ResyncCopy {
  /** Every table to drop or replace: the stale ones and any that differ from upstream at the snapshot. */
  targets: Set<number>;
  /** The published ones among them, copied into staging tables. */
  fresh: Array<{ table: ReplicaTable; staging: string }>;
  rows: number;
}

export interface ResyncOptions {
  /** A normal connection, not in a transaction. Left open; the caller ends it. */
  client: pg.Client;
  store: ReplicaStore;
  publication: string;
  /** Exported by CREATE_REPLICATION_SLOT ... TEMPORARY ... (SNAPSHOT 'export'). */
  snapshotName: string;
  /** Tables that must be copied whatever the catalog says (their stream changes were skipped). */
  stale: Iterable<number>;
  logger: Logger;
  isCancelled?: () => boolean;
  batchRows?: number;
  /** Materialized views are replicated too (matviews.ts). */
  matviews?: MatviewScope;
}

export function stagingName(oid: number): string {
  return `${STAGING_PREFIX}${oid}`;
}

export async function copyForResync(opts: ResyncOptions): Promise<ResyncCopy> {
  const { client, store, logger } = opts;
  const batchRows = opts.batchRows ?? 20_000;
  await client.query(COPY_SESSION_SQL);
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  const fresh: ResyncCopy['fresh'] = [];
  try {
    await client.query(`SET TRANSACTION SNAPSHOT ${quoteLiteral(opts.snapshotName)}`);
    const upstream = await fetchCatalog(
      client,
      await replicatedOids(client, opts.publication, opts.matviews),
    );
    const targets = catalogDifferences(store.allTables(), upstream.map(stripUpstream), new Set());
    for (const oid of opts.stale) targets.add(oid);
    const byOid = new Map<number, UpstreamTable>(upstream.map((t) => [t.oid, t]));
    let rows = 0;
    for (const oid of targets) {
      const up = byOid.get(oid);
      if (!up) continue;
      const staging = stagingName(oid);
      const table = stripUpstream(up);
      store.createShape(staging, table);
      fresh.push({ table, staging });
      if (notCopied(up)) {
        // Copying would fail (or miss rows) and abort the whole resync: keep it hidden, empty.
        logger.warn(
          { table: `${up.schema}.${up.name}` },
          `resync: not copied, never served: ${up.unservable}`,
        );
        continue;
      }
      const started = performance.now();
      const n = await copyTable(client, store, up, staging, batchRows, () => {}, opts.isCancelled);
      rows += n;
      const secs = (performance.now() - started) / 1000;
      logger.info(
        {
          table: `${up.schema}.${up.name}`,
          rows: n,
          rowsPerSecond: Math.round(n / Math.max(secs, 1e-3)),
        },
        'resync: table copied',
      );
    }
    await client.query('COMMIT');
    return { targets, fresh, rows };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    for (const f of fresh) {
      try {
        store.db.exec(`DROP TABLE IF EXISTS ${quoteIdent(f.staging)}`);
      } catch {
        // The store may be closed already (engine stopping); the next open drops leftovers.
      }
    }
    throw err;
  }
}
