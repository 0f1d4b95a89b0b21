/**
 * The initial copy: every table of the publication, read under the snapshot
 * exported by CREATE_REPLICATION_SLOT, so the copy plus the changes streamed
 * after the slot's consistent point are exactly upstream's contents.
 */
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { Logger } from '../log.js';
import { quoteIdent, type ReplicaColumn, type ReplicaTable, sqliteTableName } from './schema.js';
import type { ReplicaStore } from './store.js';
import { type StoredValue, toStored } from './type-storage.js';

/** Settings whose text output the replica stores (see docs/architecture.md). */
export const COPY_SESSION_SQL =
  "SET DateStyle='ISO'; SET TimeZone='UTC'; SET IntervalStyle='postgres'; SET extra_float_digits=3; SET bytea_output='hex'";

export interface UpstreamTable extends ReplicaTable {
  /** pg_class.relkind: 'r' table, 'p' partitioned table. */
  relkind: string;
  /** pg_class.relreplident. */
  replicaIdentity: string;
}

interface CatalogQueryRow {
  oid: string;
  nspname: string;
  relname: string;
  relkind: string;
  relreplident: string;
  columns: Array<Omit<ReplicaColumn, 'keyPosition' | 'collation'> & { collation: string | null }>;
  key: number[] | null;
}

/**
 * Catalog of upstream tables by OID: columns (attnum order, dropped and
 * generated columns omitted, as pgoutput v1 omits them), collations and key positions
 * (1-based position in the primary key, or in the replica identity index when
 * REPLICA IDENTITY USING INDEX).
 */
export async function fetchCatalog(client: pg.Client, oids: number[]): Promise<UpstreamTable[]> {
  if (oids.length === 0) return [];
  const r = await client.query<CatalogQueryRow>(
    `SELECT c.oid::int8::text AS oid, n.nspname, c.relname, c.relkind::text AS relkind,
            c.relreplident::text AS relreplident,
            coalesce((SELECT json_agg(json_build_object(
                        'name', a.attname, 'attnum', a.attnum, 'typeOid', a.atttypid::int8,
                        'typmod', a.atttypmod, 'typlen', t.typlen, 'typeName', t.typname,
                        'collation', co.collname) ORDER BY a.attnum)
                      FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
                      LEFT JOIN pg_collation co ON co.oid = a.attcollation
                      WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                        AND a.attgenerated = ''), '[]'::json) AS columns,
            (SELECT i.indkey::int2[] FROM pg_index i
              WHERE i.indrelid = c.oid
                AND CASE WHEN c.relreplident = 'i' THEN i.indisreplident ELSE i.indisprimary END
              LIMIT 1) AS key
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.oid = ANY($1::oid[])
      ORDER BY n.nspname, c.relname`,
    [oids],
  );
  return r.rows.map((row) => {
    const key = row.key ?? [];
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
        // Collatable columns only; absent means "not collatable / unknown" to the read path.
        ...(c.collation !== null ? { collation: c.collation } : {}),
      };
    });
    return {
      oid: Number(row.oid),
      schema: row.nspname,
      name: row.relname,
      sqliteName: sqliteTableName(row.nspname, row.relname),
      columns,
      relkind: row.relkind,
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

export interface SnapshotProgress {
  tables: number;
  tablesDone: number;
  rows: number;
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
}

/**
 * Copies every published table under the exported snapshot into fresh data
 * tables. Commits in batches (an interrupted copy is detected by
 * `snapshot_state = copying` and redone from scratch); the caller marks the
 * snapshot complete together with its LSN.
 */
export async function copySnapshot(opts: CopyOptions): Promise<SnapshotProgress> {
  const { client, store, logger } = opts;
  const batchRows = opts.batchRows ?? 20_000;
  await client.query(COPY_SESSION_SQL);
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    await client.query(`SET TRANSACTION SNAPSHOT ${quoteLiteral(opts.snapshotName)}`);
    const oids = await publicationTableOids(client, opts.publication);
    const tables = await fetchCatalog(client, oids);
    const progress: SnapshotProgress = { tables: tables.length, tablesDone: 0, rows: 0 };
    opts.onProgress?.(progress);
    for (const table of tables) {
      store.db.transaction(() => store.createDataTable(stripUpstream(table)))();
      const started = performance.now();
      const rows = await copyTable(client, store, table, batchRows, (n) => {
        progress.rows += n;
        opts.onProgress?.(progress);
      });
      progress.tablesDone++;
      opts.onProgress?.(progress);
      const secs = (performance.now() - started) / 1000;
      logger.info(
        {
          table: `${table.schema}.${table.name}`,
          rows,
          rowsPerSecond: Math.round(rows / Math.max(secs, 1e-3)),
        },
        'snapshot: table copied',
      );
    }
    await client.query('COMMIT');
    return progress;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

function stripUpstream(t: UpstreamTable): ReplicaTable {
  return { oid: t.oid, schema: t.schema, name: t.name, sqliteName: t.sqliteName, columns: t.columns };
}

async function copyTable(
  client: pg.Client,
  store: ReplicaStore,
  table: UpstreamTable,
  batchRows: number,
  onRows: (n: number) => void,
): Promise<number> {
  const cols = table.columns.map((c) => quoteIdent(c.name));
  const source = `${quoteIdent(table.schema)}.${quoteIdent(table.name)}`;
  // A partitioned table cannot be the target of COPY TO; its rows come through
  // a query (with publish_via_partition_root, only the root is published).
  const sql =
    table.relkind === 'p'
      ? `COPY (SELECT ${cols.join(', ') || 'NULL'} FROM ${source}) TO STDOUT`
      : `COPY ${source} (${cols.join(', ')}) TO STDOUT`;
  const insert = store.db.prepare(
    `INSERT INTO ${quoteIdent(table.sqliteName)} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`,
  );
  const typeOids = table.columns.map((c) => c.typeOid);
  const insertBatch = store.db.transaction((rows: StoredValue[][]) => {
    for (const row of rows) insert.run(row);
  });
  let batch: StoredValue[][] = [];
  let total = 0;
  const parser = new CopyTextParser((fields) => {
    if (fields.length !== typeOids.length) {
      throw new Error(
        `COPY of ${table.schema}.${table.name}: ${fields.length} fields, expected ${typeOids.length}`,
      );
    }
    const row: StoredValue[] = new Array(fields.length);
    for (let i = 0; i < fields.length; i++) row[i] = toStored(fields[i] ?? null, typeOids[i]!);
    batch.push(row);
  });
  if (cols.length === 0) {
    // COPY of a table without columns produces empty lines, one per row: keep the rows.
    const r = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${source}`);
    const n = Number(r.rows[0]?.n ?? 0);
    const ins = store.db.prepare(`INSERT INTO ${quoteIdent(table.sqliteName)} DEFAULT VALUES`);
    store.db.transaction(() => {
      for (let i = 0; i < n; i++) ins.run();
    })();
    onRows(n);
    return n;
  }
  const stream = client.query(copyTo(sql));
  for await (const chunk of stream) {
    parser.push(chunk as Buffer);
    if (batch.length >= batchRows) {
      insertBatch(batch);
      total += batch.length;
      onRows(batch.length);
      batch = [];
    }
  }
  parser.end();
  if (batch.length > 0) {
    insertBatch(batch);
    total += batch.length;
    onRows(batch.length);
  }
  return total;
}

function quoteLiteral(s: string): string {
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
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(0x0a, start);
      if (nl < 0) break;
      this.onRow(parseCopyLine(buf.toString('utf8', start, nl)));
      start = nl + 1;
    }
    this.rest = start < buf.length ? Buffer.from(buf.subarray(start)) : undefined;
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
