/**
 * Builds a replica file straight from upstream tables, without the
 * replication engine: reads each table's catalog entry and its rows as
 * Postgres text, and stores them per "Storage of values" in
 * docs/architecture.md. Router and render tests use it to compare local
 * answers with upstream's for the same data.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import {
  quoteIdent,
  type ReplicaColumn,
  type ReplicaTable,
  sqliteColumnName,
  sqliteTableName,
} from '../../src/replica/schema.js';
import type { RouterCatalog } from '../../src/router/router.js';
import { newSessionState, type SessionState } from '../../src/session.js';
import type { PostgresInstance } from './postgres.js';

/** pg type parsing off: every value stays the exact text Postgres sent. */
export const rawTypes = { getTypeParser: () => (v: string) => v };

export interface ReplicaFixture {
  path: string;
  /** Read-write connection (the fixture's writer). */
  db: Database.Database;
  /** Read-only connection, as the router gets it. */
  reader: Database.Database;
  catalog: RouterCatalog & { catalogVersion: number; complete: boolean };
  /** (Re)copy tables from upstream; bumps catalogVersion. */
  load(client: pg.Client, tables: { schema: string; name: string }[]): Promise<void>;
  close(): void;
}

function affinity(typeOid: number): string {
  switch (typeOid) {
    case 20:
    case 21:
    case 23:
    case 16:
      return 'INTEGER';
    case 700:
    case 701:
      // No affinity: REAL affinity would turn the text '-0' back into 0.
      return 'BLOB';
    default:
      return 'TEXT';
  }
}

function stored(text: string | null, typeOid: number): null | bigint | number | string {
  if (text === null) return null;
  switch (typeOid) {
    case 20:
    case 21:
    case 23:
      return BigInt(text);
    case 16:
      return text === 't' ? 1n : 0n;
    case 700:
    case 701:
      // NaN and -0 are TEXT; every other float a REAL.
      if (text === 'NaN' || text === '-0') return text;
      if (text === 'Infinity') return Number.POSITIVE_INFINITY;
      if (text === '-Infinity') return Number.NEGATIVE_INFINITY;
      return Number(text);
    default:
      return text;
  }
}

export function createReplicaFixture(): ReplicaFixture {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-replica-'));
  const path = join(dir, 'replica.db');
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  const tables = new Map<string, ReplicaTable>();
  const reader = new Database(path, { readonly: true, fileMustExist: true });
  const catalog = {
    catalogVersion: 1,
    complete: true,
    findTable: (schema: string, name: string) => tables.get(`${schema}\u0000${name}`),
    tables: () => [...tables.values()],
    snapshotComplete(): boolean {
      return this.complete;
    },
  };

  async function load(client: pg.Client, wanted: { schema: string; name: string }[]): Promise<void> {
    await client.query(
      "SET TimeZone = 'UTC'; SET DateStyle = 'ISO'; SET extra_float_digits = 3; SET IntervalStyle = 'postgres'; SET bytea_output = 'hex'",
    );
    for (const { schema, name } of wanted) {
      const cat = await client.query<{
        oid: string;
        attname: string;
        attnum: string;
        atttypid: string;
        atttypmod: string;
        typlen: string;
        typname: string;
        collname: string | null;
        enum_labels: string | null;
        relkind: string;
        inheritors: string;
        primary_key: boolean;
      }>({
        text: `SELECT c.oid, c.relkind, a.attname, a.attnum, a.atttypid, a.atttypmod, t.typlen, t.typname,
                      CASE WHEN co.collnamespace = 'pg_catalog'::regnamespace THEN co.collname
                           ELSE co.collnamespace::regnamespace::text || '.' || co.collname END AS collname,
                      CASE WHEN t.typtype = 'e' THEN (SELECT json_agg(e.enumlabel ORDER BY e.enumsortorder)
                                                        FROM pg_enum e WHERE e.enumtypid = t.oid) END AS enum_labels,
                      CASE WHEN c.relkind = 'p' THEN '[]' ELSE (SELECT coalesce(json_agg(i.inhrelid::int8 ORDER BY i.inhrelid::int8), '[]')
                                                   FROM pg_inherits i WHERE i.inhparent = c.oid)::text END AS inheritors,
                      EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary
                                 AND a.attnum = ANY(i.indkey::int2[])) AS primary_key
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                 JOIN pg_type t ON t.oid = a.atttypid
                 LEFT JOIN pg_collation co ON co.oid = a.attcollation
                WHERE n.nspname = $1 AND c.relname = $2 ORDER BY a.attnum`,
        values: [schema, name],
        types: rawTypes,
      });
      const first = cat.rows[0];
      if (!first) throw new Error(`no table ${schema}.${name}`);
      const columns: ReplicaColumn[] = cat.rows.map((r) => ({
        name: r.attname,
        attnum: Number(r.attnum),
        typeOid: Number(r.atttypid),
        typmod: Number(r.atttypmod),
        typlen: Number(r.typlen),
        typeName: r.typname,
        keyPosition: null,
        // As the snapshot records it (src/replica/snapshot.ts): GROUP BY the key selects the other columns.
        primaryKey: r.primary_key === true || String(r.primary_key) === 't',
        ...(r.collname !== null ? { collation: r.collname } : {}),
        ...(r.enum_labels !== null ? { enumLabels: JSON.parse(r.enum_labels) as string[] } : {}),
      }));
      const table: ReplicaTable = {
        oid: Number(first.oid),
        schema,
        name,
        sqliteName: sqliteTableName(Number(first.oid)),
        columns,
        relkind: first.relkind,
        inheritors: JSON.parse(first.inheritors) as number[],
      };
      const q = quoteIdent(table.sqliteName);
      db.exec(`DROP TABLE IF EXISTS ${q}`);
      db.exec(
        `CREATE TABLE ${q} (${columns.map((c) => `${sqliteColumnName(c)} ${affinity(c.typeOid)}`).join(', ')})`,
      );
      const data = await client.query<unknown[]>({
        // Each table's own rows, as the replica's copy holds them.
        text: `SELECT * FROM ONLY ${quoteIdent(schema)}.${quoteIdent(name)}`,
        rowMode: 'array',
        types: rawTypes,
      });
      const insert = db.prepare(`INSERT INTO ${q} VALUES (${columns.map(() => '?').join(', ')})`);
      db.transaction(() => {
        for (const row of data.rows) {
          insert.run(...columns.map((c, i) => stored(row[i] as string | null, c.typeOid)));
        }
      })();
      tables.set(`${schema}\u0000${name}`, table);
    }
    catalog.catalogVersion++;
  }

  return {
    path,
    db,
    reader,
    catalog,
    load,
    close() {
      reader.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A pg client whose ParameterStatus values are mirrored into a SessionState,
 * the way the proxy's session tracks them.
 */
export async function connectTracked(
  pgi: PostgresInstance,
  opts: { user?: string; password?: string; database?: string } = {},
): Promise<{ client: pg.Client; session: SessionState }> {
  const session = newSessionState(opts.user ?? pgi.user, opts.database ?? pgi.database);
  const client = new pg.Client({ connectionString: pgi.url(opts) });
  const connection = (client as unknown as { connection: NodeJS.EventEmitter }).connection;
  connection.on('parameterStatus', (msg: { parameterName: string; parameterValue: string }) => {
    session.params.set(msg.parameterName, msg.parameterValue);
  });
  await client.connect();
  return { client, session };
}
