/**
 * The initial copy: every table of the publication, read under the snapshot
 * exported by CREATE_REPLICATION_SLOT, so the copy plus the changes streamed
 * after the slot's consistent point are exactly upstream's contents.
 */
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { Logger } from '../log.js';
import { type MatviewScope, matviewOids, NOT_POPULATED } from '../replication/matviews.js';
import {
  quoteIdent,
  type ReplicaColumn,
  type ReplicaTable,
  sqliteColumnName,
  sqliteTableName,
} from './schema.js';
import type { ReplicaStore } from './store.js';
import { type StoredValue, toStored } from './type-storage.js';

/**
 * Settings whose text output the replica stores (see docs/architecture.md).
 * row_security=off: a query that row-level security would filter fails
 * instead of silently returning fewer rows.
 */
export const COPY_SESSION_SQL =
  "SET DateStyle='ISO'; SET TimeZone='UTC'; SET IntervalStyle='postgres'; SET extra_float_digits=3; SET bytea_output='hex'; SET row_security=off";

/** Why a table the replication role cannot fully read is never served (and not copied). */
export const UNREADABLE =
  'the replication role cannot read every row (no SELECT privilege, no USAGE on the schema, or row-level security)';

export interface UpstreamTable extends ReplicaTable {
  relkind: string;
  inheritors: number[];
  /** pg_class.relreplident. */
  replicaIdentity: string;
}

interface CatalogQueryRow {
  oid: string;
  nspname: string;
  relname: string;
  relkind: string;
  relreplident: string;
  columns: Array<
    Omit<ReplicaColumn, 'keyPosition' | 'collation' | 'enumLabels'> & {
      collation: string | null;
      enumLabels: string[] | null;
    }
  >;
  key: number[] | null;
  /** attnums of the primary key (not the replica identity index), or null. */
  pkey: number[] | null;
  /** attnums of each plain btree index (no expressions, no predicate) other than the primary key. */
  indexes: number[][] | null;
  /** attnums of each foreign key's referencing columns. */
  fkeys: number[][] | null;
  storage: string | null;
  generated: string | null;
  readable: boolean;
  inheritors: string[];
  populated: boolean;
}

/**
 * Catalog of upstream tables by OID: columns (attnum order, dropped and
 * generated columns omitted, as pgoutput v1 omits them), collations and key positions
 * (1-based position in the primary key, or in the replica identity index when
 * REPLICA IDENTITY USING INDEX), the storage identity (relfilenodes) and,
 * for a table with generated columns, why it is unservable.
 */
export async function fetchCatalog(client: pg.Client, oids: number[]): Promise<UpstreamTable[]> {
  if (oids.length === 0) return [];
  const r = await client.query<CatalogQueryRow>(
    `SELECT c.oid::int8::text AS oid, n.nspname, c.relname, c.relkind::text AS relkind,
            c.relreplident::text AS relreplident,
            coalesce((SELECT json_agg(json_build_object(
                        'name', a.attname, 'attnum', a.attnum, 'typeOid', a.atttypid::int8,
                        'typmod', a.atttypmod, 'typlen', t.typlen, 'typeName', t.typname,
                        -- Schema-qualified unless in pg_catalog: a user's public."C" is not C.
                        'collation', CASE WHEN co.collnamespace = 'pg_catalog'::regnamespace THEN co.collname
                                          ELSE co.collnamespace::regnamespace::text || '.' || co.collname END,
                        'enumLabels', CASE WHEN t.typtype = 'e' THEN
                          (SELECT json_agg(e.enumlabel ORDER BY e.enumsortorder)
                             FROM pg_enum e WHERE e.enumtypid = t.oid) END) ORDER BY a.attnum)
                      FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
                      LEFT JOIN pg_collation co ON co.oid = a.attcollation
                      WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                        AND a.attgenerated = ''), '[]'::json) AS columns,
            (SELECT i.indkey::int2[] FROM pg_index i
              WHERE i.indrelid = c.oid
                AND CASE WHEN c.relreplident = 'i' THEN i.indisreplident ELSE i.indisprimary END
              LIMIT 1) AS key,
            (SELECT i.indkey::int2[] FROM pg_index i
              WHERE i.indrelid = c.oid AND i.indisprimary LIMIT 1) AS pkey,
            (SELECT json_agg(i.indkey::int2[] ORDER BY i.indexrelid) FROM pg_index i
               JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam
              WHERE i.indrelid = c.oid AND am.amname = 'btree' AND NOT i.indisprimary
                AND i.indexprs IS NULL AND i.indpred IS NULL) AS indexes,
            (SELECT json_agg(k.conkey::int2[] ORDER BY k.oid) FROM pg_constraint k
              WHERE k.conrelid = c.oid AND k.contype = 'f') AS fkeys,
            CASE WHEN c.relkind = 'p'
              THEN (SELECT string_agg(pc.relfilenode::text, ',' ORDER BY pc.oid)
                      FROM pg_partition_tree(c.oid) pt JOIN pg_class pc ON pc.oid = pt.relid
                     WHERE pt.isleaf)
              ELSE c.relfilenode::text END AS storage,
            (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) FROM pg_attribute a
              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                AND a.attgenerated <> '') AS generated,
            CASE WHEN c.relkind = 'p' THEN ARRAY[]::text[]
              ELSE ARRAY(SELECT i.inhrelid::int8::text FROM pg_inherits i
                          WHERE i.inhparent = c.oid ORDER BY i.inhrelid::int8) END AS inheritors,
            -- Without USAGE on the schema, SELECT on the table is not enough to read it.
            has_schema_privilege(n.oid, 'USAGE') AND has_table_privilege(c.oid, 'SELECT')
              AND (NOT c.relrowsecurity
                   OR (SELECT r.rolsuper OR r.rolbypassrls FROM pg_roles r WHERE r.rolname = current_user)
                   OR (pg_has_role(c.relowner, 'USAGE') AND NOT c.relforcerowsecurity)) AS readable,
            c.relispopulated AS populated
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.oid = ANY($1::oid[])
      ORDER BY n.nspname, c.relname`,
    [oids],
  );
  return r.rows.map((row) => {
    const key = row.key ?? [];
    const pkey = row.pkey ?? [];
    const columns: ReplicaColumn[] = row.columns.map((c) => {
      const pos = key.indexOf(c.attnum);
      return {
        name: c.name,
        attnum: c.attnum,
        typeOid: Number(c.typeOid),
        typmod: c.typmod,
        typlen: c.typlen,
        typeName: c.typeName,
        keyPosition: pos >= 0 ? pos + 1 : null,
        primaryKey: pkey.includes(c.attnum),
        // Collatable columns only; absent means "not collatable / unknown" to the read path.
        ...(c.collation !== null ? { collation: c.collation } : {}),
        // An enum without labels yet (CREATE TYPE ... AS ENUM ()) has none to compare.
        ...(c.enumLabels !== null ? { enumLabels: c.enumLabels } : {}),
      };
    });
    // Upstream's plain indexes, on the same columns in SQLite: the read path
    // filters and joins on what the application indexed.
    const byAttnum = new Map(columns.map((c) => [c.attnum, sqliteColumnName(c)]));
    const indexes = (row.indexes ?? [])
      .map((attnums) => attnums.map((a) => byAttnum.get(a)))
      .filter((names): names is string[] => names.length > 0 && names.every((n) => n !== undefined));
    // And the referencing columns of each foreign key that no index leads
    // with: Postgres hash-joins on them without one, SQLite builds an
    // automatic index for every run of such a join (or scans the table per
    // filter on them). The replica's own, kept by SQLite like the others.
    const leading = [...indexes, key.map((a) => byAttnum.get(a))];
    for (const attnums of row.fkeys ?? []) {
      const names = attnums.map((a) => byAttnum.get(a));
      if (names.length === 0 || !names.every((n): n is string => n !== undefined)) continue;
      const covered = leading.some(
        (ix) => ix.length >= names.length && names.every((n) => ix.slice(0, names.length).includes(n)),
      );
      if (!covered) {
        indexes.push(names);
        leading.push(names);
      }
    }
    return {
      oid: Number(row.oid),
      schema: row.nspname,
      name: row.relname,
      sqliteName: sqliteTableName(Number(row.oid)),
      columns,
      ...(indexes.length > 0 ? { indexes } : {}),
      ...(row.storage !== null ? { storage: row.storage } : {}),
      // pgoutput (protocol 1) never sends generated columns, so the replica
      // cannot hold them: a SELECT * or a filter on one would differ.
      ...(!row.readable
        ? { unservable: UNREADABLE }
        : !row.populated
          ? { unservable: NOT_POPULATED }
          : row.generated !== null
            ? { unservable: `generated columns (${row.generated}) are not replicated` }
            : {}),
      relkind: row.relkind,
      inheritors: row.inheritors.map(Number),
      replicaIdentity: row.relreplident,
    };
  });
}

/** OIDs of the tables a publication publishes (as seen by the current snapshot). */
export async function publicationTableOids(client: pg.Client, publication: string): Promise<number[]> {
  const r = await client.query<{ oid: string }>(
    `SELECT DISTINCT c.oid::int8::text AS oid
       FROM pg_publication_tables pt
       JOIN pg_namespace n ON n.nspname = pt.schemaname
       JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename
      WHERE pt.pubname = $1`,
    [publication],
  );
  return r.rows.map((x) => Number(x.oid));
}

/**
 * Everything a replica holds: the publication's tables and, with `matviews`,
 * the materialized views in that scope (never published; copied like tables).
 */
export async function replicatedOids(
  client: pg.Client,
  publication: string,
  matviews: MatviewScope | undefined,
): Promise<number[]> {
  const tables = await publicationTableOids(client, publication);
  return matviews ? [...tables, ...(await matviewOids(client, matviews))] : tables;
}

/** Recorded in the catalog but never copied (so never served): copying would fail or miss rows. */
export function notCopied(t: UpstreamTable): boolean {
  return t.unservable === UNREADABLE || t.unservable === NOT_POPULATED;
}

export interface SnapshotProgress {
  tables: number;
  tablesDone: number;
  rows: number;
  /** `schema.name` of the table being copied (absent between tables). */
  currentTable?: string;
  /** Rows copied of the current table so far. */
  tableRows?: number;
  /**
   * Rows expected in all tables (planner statistics, or an exact count of a
   * small never-analysed table); absent when a large table has no statistics.
   */
  estimatedRows?: number;
  /** When the copy began (ms since the epoch). */
  startedAt?: number;
  /** When it ended. */
  finishedAt?: number;
}

/** The snapshot as `/status` reports it. */
export interface SnapshotReport {
  state: 'pending' | 'copying' | 'complete';
  tablesDone?: number;
  tablesTotal?: number;
  currentTable?: string | null;
  rows?: number;
  rowsPerSecond?: number;
  /** Seconds left at the current rate; null when unknown (no rate yet, or no estimate). */
  etaSeconds?: number | null;
}

/** Rate and time left of a copy in progress (or done). */
export function progressRates(
  p: SnapshotProgress,
  now = Date.now(),
): { rowsPerSecond: number; etaSeconds: number | null } {
  const end = p.finishedAt ?? now;
  const secs = p.startedAt !== undefined ? Math.max((end - p.startedAt) / 1000, 1e-3) : 0;
  const rowsPerSecond = secs > 0 ? Math.round(p.rows / secs) : 0;
  if (p.finishedAt !== undefined) return { rowsPerSecond, etaSeconds: 0 };
  if (p.estimatedRows === undefined || rowsPerSecond <= 0) return { rowsPerSecond, etaSeconds: null };
  const left = Math.max(0, p.estimatedRows - p.rows);
  return { rowsPerSecond, etaSeconds: Math.round((left / rowsPerSecond) * 10) / 10 };
}

/**
 * `/status`'s `snapshot`: the copy of this run when there is one, else just
 * whether the replica holds a complete snapshot (made by an earlier run).
 */
export function snapshotReport(
  p: SnapshotProgress | undefined,
  complete: boolean,
  now = Date.now(),
): SnapshotReport {
  if (!p || p.startedAt === undefined) {
    return complete
      ? { state: 'complete' }
      : { state: 'pending', tablesDone: 0, tablesTotal: p?.tables ?? 0, rows: 0 };
  }
  const rates = progressRates(p, now);
  return {
    state: complete ? 'complete' : 'copying',
    tablesDone: p.tablesDone,
    tablesTotal: p.tables,
    currentTable: p.currentTable ?? null,
    rows: p.rows,
    rowsPerSecond: rates.rowsPerSecond,
    etaSeconds: rates.etaSeconds,
  };
}

export interface CopyOptions {
  /** A normal connection, not yet in a transaction. Left open; the caller ends it. */
  client: pg.Client;
  store: ReplicaStore;
  publication: string;
  /** Snapshot name from CREATE_REPLICATION_SLOT ... (SNAPSHOT 'export'). */
  snapshotName: string;
  logger: Logger;
  onProgress?: (p: SnapshotProgress) => void;
  /** Rows per SQLite transaction. */
  batchRows?: number;
  /** A progress line is logged this often (ms) while copying; default 5 s. */
  progressLogMs?: number;
  /** Polled between chunks: true abandons the copy (Outpost is stopping). */
  isCancelled?: () => boolean;
  /** Materialized views to copy too (matviews.ts). */
  matviews?: MatviewScope;
}

/** Tables whose row count is never estimated by counting, above this size (bytes). */
const COUNT_LIMIT_BYTES = 64 * 1024 * 1024;

/**
 * Expected rows per table, for the ETA: planner statistics where the table
 * was analysed (or vacuumed); a small table never analysed is counted under
 * the snapshot (cheap); a large one stays unknown (undefined).
 */
async function estimateRows(client: pg.Client, tables: UpstreamTable[]): Promise<number | undefined> {
  if (tables.length === 0) return 0;
  const r = await client.query<{ oid: string; estimate: number; bytes: string }>(
    `SELECT c.oid::int8::text AS oid,
            (CASE WHEN c.relkind = 'p'
               THEN (SELECT CASE WHEN bool_or(pc.reltuples < 0) THEN -1 ELSE coalesce(sum(pc.reltuples), 0) END
                       FROM pg_partition_tree(c.oid) pt JOIN pg_class pc ON pc.oid = pt.relid WHERE pt.isleaf)
               ELSE c.reltuples END)::float8 AS estimate,
            (CASE WHEN c.relkind = 'p'
               THEN (SELECT coalesce(sum(pg_relation_size(pt.relid)), 0)
                       FROM pg_partition_tree(c.oid) pt WHERE pt.isleaf)
               ELSE pg_relation_size(c.oid) END)::int8::text AS bytes
       FROM pg_class c WHERE c.oid = ANY($1::oid[])`,
    [tables.map((t) => t.oid)],
  );
  const byOid = new Map(r.rows.map((row) => [Number(row.oid), row]));
  let total = 0;
  for (const t of tables) {
    const row = byOid.get(t.oid);
    if (!row) return undefined;
    if (row.estimate >= 0) {
      total += row.estimate;
      continue;
    }
    if (Number(row.bytes) > COUNT_LIMIT_BYTES) return undefined;
    const source = `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;
    const n = await client.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM ${t.relkind === 'r' ? 'ONLY ' : ''}${source}`,
    );
    total += Number(n.rows[0]?.n ?? 0);
  }
  return Math.round(total);
}

/**
 * Copies every published table under the exported snapshot into fresh data
 * tables. Commits in batches (an interrupted copy is detected by
 * `snapshot_state = copying` and redone from scratch); the caller marks the
 * snapshot complete together with its LSN.
 */
export async function copySnapshot(opts: CopyOptions): Promise<SnapshotProgress> {
  const { client, store, logger } = opts;
  const batchRows = opts.batchRows ?? 5_000;
  await client.query(COPY_SESSION_SQL);
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  let progressTimer: NodeJS.Timeout | undefined;
  try {
    await client.query(`SET TRANSACTION SNAPSHOT ${quoteLiteral(opts.snapshotName)}`);
    const oids = await replicatedOids(client, opts.publication, opts.matviews);
    const tables = await fetchCatalog(client, oids);
    const progress: SnapshotProgress = {
      tables: tables.length,
      tablesDone: 0,
      rows: 0,
      startedAt: Date.now(),
    };
    opts.onProgress?.({ ...progress });
    // A published table must be read whole; a matview the role cannot read is only never served.
    const unreadable = tables.find((t) => t.unservable === UNREADABLE && t.relkind !== 'm');
    if (unreadable) {
      throw Object.assign(
        new Error(
          `role cannot read every row of ${unreadable.schema}.${unreadable.name} (needs SELECT, USAGE on its schema, and no row-level security applying to it)`,
        ),
        { code: '42501' },
      );
    }
    const estimate = await estimateRows(
      client,
      tables.filter((t) => !notCopied(t)),
    );
    if (estimate !== undefined) progress.estimatedRows = estimate;
    logger.info({ tables: tables.length, estimatedRows: estimate ?? null }, 'snapshot: copying');
    opts.onProgress?.({ ...progress });
    // Every few seconds, so a long table shows it is moving (and how fast).
    progressTimer = setInterval(() => {
      const rates = progressRates(progress);
      logger.info(
        {
          table: progress.currentTable ?? null,
          tableRows: progress.tableRows ?? 0,
          rows: progress.rows,
          tablesDone: progress.tablesDone,
          tablesTotal: progress.tables,
          ...rates,
        },
        'snapshot: progress',
      );
    }, opts.progressLogMs ?? 5_000);
    progressTimer.unref();
    for (const table of tables) {
      if (opts.isCancelled?.()) throw new Error('snapshot copy cancelled');
      // The key index is built after the copy: faster than maintaining it row by row.
      store.db.transaction(() => store.createDataTable(stripUpstream(table), { index: false }))();
      const started = performance.now();
      progress.currentTable = `${table.schema}.${table.name}`;
      progress.tableRows = 0;
      opts.onProgress?.({ ...progress });
      const rows = notCopied(table)
        ? 0
        : await copyTable(
            client,
            store,
            table,
            table.sqliteName,
            batchRows,
            (n) => {
              progress.rows += n;
              progress.tableRows = (progress.tableRows ?? 0) + n;
              opts.onProgress?.({ ...progress });
            },
            opts.isCancelled,
          );
      store.createKeyIndex(table);
      progress.tablesDone++;
      delete progress.currentTable;
      delete progress.tableRows;
      if (progress.tablesDone === tables.length) progress.finishedAt = Date.now();
      opts.onProgress?.({ ...progress });
      const secs = (performance.now() - started) / 1000;
      logger.info(
        {
          table: `${table.schema}.${table.name}`,
          rows,
          rowsPerSecond: Math.round(rows / Math.max(secs, 1e-3)),
          tablesDone: progress.tablesDone,
          tablesTotal: progress.tables,
          totalRows: progress.rows,
          etaSeconds: progressRates(progress).etaSeconds,
        },
        'snapshot: table copied',
      );
    }
    await client.query('COMMIT');
    if (progress.finishedAt === undefined) {
      progress.finishedAt = Date.now();
      opts.onProgress?.({ ...progress });
    }
    return progress;
  } catch (err) {
    // A cancelled copy left COPY half-read on the connection: a ROLLBACK would
    // queue behind it forever. The caller ends the connection instead.
    if (!opts.isCancelled?.()) await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    clearInterval(progressTimer);
  }
}

export function stripUpstream(t: UpstreamTable): ReplicaTable {
  const { replicaIdentity: _r, ...table } = t;
  return table;
}

/**
 * Copies one upstream table (in the client's current transaction) into the
 * existing SQLite table `target`, in batches of `batchRows` per SQLite
 * transaction. `isCancelled` is polled between chunks.
 */
export async function copyTable(
  client: pg.Client,
  store: ReplicaStore,
  table: UpstreamTable,
  target: string,
  batchRows: number,
  onRows: (n: number) => void,
  isCancelled?: () => boolean,
): Promise<number> {
  const cols = table.columns.map((c) => quoteIdent(c.name));
  const targetCols = table.columns.map(sqliteColumnName);
  const source = `${quoteIdent(table.schema)}.${quoteIdent(table.name)}`;
  if (cols.length === 0) {
    // COPY of a table without columns produces empty lines, one per row: keep the rows.
    // ONLY: COPY reads a table's own rows, not its inheritance children's
    // (a partitioned table's rows are all in its partitions).
    const r = await client.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM ${table.relkind === 'r' ? 'ONLY ' : ''}${source}`,
    );
    const n = Number(r.rows[0]?.n ?? 0);
    const ins = store.db.prepare(`INSERT INTO ${quoteIdent(target)} DEFAULT VALUES`);
    store.db.transaction(() => {
      for (let i = 0; i < n; i++) ins.run();
    })();
    onRows(n);
    return n;
  }
  // A partitioned table or a materialized view cannot be the source of COPY
  // TO; their rows come through a query (with publish_via_partition_root,
  // only a partitioned table's root is published).
  const sql =
    table.relkind === 'p' || table.relkind === 'm'
      ? `COPY (SELECT ${cols.join(', ') || 'NULL'} FROM ${source}) TO STDOUT`
      : `COPY ${source} (${cols.join(', ')}) TO STDOUT`;
  const ncols = cols.length;
  // Several rows per INSERT: executing a statement per row costs more than
  // SQLite's own work for it (about twice the rate with 50 rows).
  const perStatement = Math.max(
    1,
    Math.min(ROWS_PER_INSERT, Math.floor(MAX_PARAMETERS / Math.max(ncols, 1))),
  );
  const tuple = `(${cols.map(() => '?').join(', ')})`;
  const head = `INSERT INTO ${quoteIdent(target)} (${targetCols.join(', ')}) VALUES `;
  const insertOne = store.db.prepare(head + tuple);
  const insertMany =
    perStatement > 1 ? store.db.prepare(head + new Array(perStatement).fill(tuple).join(', ')) : insertOne;
  const typeOids = table.columns.map((c) => c.typeOid);
  /** Values of whole rows, row after row. */
  const insertBatch = store.db.transaction((values: StoredValue[]) => {
    const many = perStatement * ncols;
    let at = 0;
    if (perStatement > 1) {
      const args: StoredValue[] = new Array(many);
      for (; at + many <= values.length; at += many) {
        for (let j = 0; j < many; j++) args[j] = values[at + j] as StoredValue;
        insertMany.run(args);
      }
    }
    const args: StoredValue[] = new Array(ncols);
    for (; at < values.length; at += ncols) {
      for (let j = 0; j < ncols; j++) args[j] = values[at + j] as StoredValue;
      insertOne.run(args);
    }
  });
  let batch: StoredValue[] = [];
  let batchCount = 0;
  let total = 0;
  const parser = new CopyTextParser((fields) => {
    if (fields.length !== ncols) {
      throw new Error(`COPY of ${table.schema}.${table.name}: ${fields.length} fields, expected ${ncols}`);
    }
    for (let i = 0; i < ncols; i++) batch.push(toStored(fields[i] ?? null, typeOids[i] as number));
    batchCount++;
  });
  const stream = client.query(copyTo(sql));
  for await (const chunk of stream) {
    if (isCancelled?.()) {
      stream.destroy();
      throw new Error(`copy of ${table.schema}.${table.name} cancelled`);
    }
    parser.push(chunk as Buffer);
    if (batchCount >= batchRows) {
      insertBatch(batch);
      total += batchCount;
      onRows(batchCount);
      batch = [];
      batchCount = 0;
    }
  }
  parser.end();
  if (batchCount > 0) {
    insertBatch(batch);
    total += batchCount;
    onRows(batchCount);
  }
  return total;
}

/** Rows per multi-row INSERT, within SQLite's limit on parameters per statement (32766 since 3.32). */
const ROWS_PER_INSERT = 50;
const MAX_PARAMETERS = 32_766;

export function quoteLiteral(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/**
 * Incremental parser of COPY text format
 * (https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.2):
 * rows end with newline, fields are tab separated, `\N` is NULL, and
 * backslash escapes stand for the special characters. Newlines and tabs in
 * data are always escaped, so splitting the raw bytes on them is safe even in
 * the middle of a multi-byte UTF-8 character.
 */
export class CopyTextParser {
  private rest: Buffer | undefined;

  constructor(private readonly onRow: (fields: (string | null)[]) => void) {}

  push(chunk: Buffer): void {
    const buf = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    // Decode every complete row of the chunk at once: one string, split.
    const last = buf.lastIndexOf(0x0a);
    if (last < 0) {
      this.rest = Buffer.from(buf);
      return;
    }
    this.rest = last + 1 < buf.length ? Buffer.from(buf.subarray(last + 1)) : undefined;
    const lines = buf.toString('utf8', 0, last).split('\n');
    for (const line of lines) this.onRow(parseCopyLine(line));
  }

  end(): void {
    if (this.rest && this.rest.length > 0) throw new Error('COPY data ended in the middle of a row');
  }
}

export function parseCopyLine(line: string): (string | null)[] {
  const raw = line.split('\t');
  const out: (string | null)[] = new Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const f = raw[i]!;
    if (f === '\\N') out[i] = null;
    else if (f.indexOf('\\') < 0) out[i] = f;
    else out[i] = unescapeCopy(f);
  }
  return out;
}

const SIMPLE_ESCAPES: Record<string, string> = {
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
};

function unescapeCopy(f: string): string {
  let out = '';
  for (let i = 0; i < f.length; i++) {
    const ch = f[i]!;
    if (ch !== '\\' || i + 1 >= f.length) {
      out += ch;
      continue;
    }
    const next = f[++i]!;
    const simple = SIMPLE_ESCAPES[next];
    if (simple !== undefined) out += simple;
    else if (next >= '0' && next <= '7') {
      let j = i;
      while (j < f.length && j < i + 3 && f[j]! >= '0' && f[j]! <= '7') j++;
      out += String.fromCharCode(Number.parseInt(f.slice(i, j), 8));
      i = j - 1;
    } else if (next === 'x' && /^[0-9A-Fa-f]/.test(f[i + 1] ?? '')) {
      let j = i + 1;
      while (j < f.length && j < i + 3 && /[0-9A-Fa-f]/.test(f[j]!)) j++;
      out += String.fromCharCode(Number.parseInt(f.slice(i + 1, j), 16));
      i = j - 1;
    } else out += next;
  }
  return out;
}
