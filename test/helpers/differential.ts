/**
 * Differential checks: a statement answered by the router locally must give
 * exactly what the real Postgres returns (RowDescription fields, text rows,
 * command tag; for the extended protocol also ParameterDescription).
 */
import assert from 'node:assert/strict';
import type pg from 'pg';
import type { Router } from '../../src/router/router.js';
import type { LocalResult } from '../../src/router/types.js';
import type { SessionState } from '../../src/session.js';
import { rawTypes } from './replica-fixture.js';

export interface SameOptions {
  /** Row order is unspecified (no ORDER BY, or ties): compare as multisets. */
  unordered?: boolean;
}

function sortRows(rows: (string | null)[][]): (string | null)[][] {
  return [...rows].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
}

function remoteFields(fields: pg.FieldDef[]): unknown[] {
  return fields.map((f) => ({
    name: f.name,
    tableOid: f.tableID,
    columnAttr: f.columnID,
    typeOid: f.dataTypeID,
    typeSize: f.dataTypeSize,
    typeModifier: f.dataTypeModifier,
    format: f.format === 'text' ? 0 : 1,
  }));
}

/** A local answer equals upstream's: RowDescription fields, text rows (as multisets when `unordered`), command tag. */
export function compareResult(
  what: string,
  local: LocalResult,
  remote: pg.QueryResult<unknown[]>,
  unordered: boolean,
): void {
  compare(what, local, remote, { unordered });
}

function compare(
  sql: string,
  local: LocalResult,
  remote: pg.QueryResult<unknown[]>,
  opts: SameOptions,
): void {
  assert.deepEqual(
    local.fields.map((f) => ({ ...f })),
    remoteFields(remote.fields),
    `fields of ${sql}`,
  );
  const remoteRows = remote.rows as (string | null)[][];
  if (opts.unordered) assert.deepEqual(sortRows(local.rows), sortRows(remoteRows), `rows of ${sql}`);
  else assert.deepEqual(local.rows, remoteRows, `rows of ${sql}`);
  assert.equal(local.commandTag, `${remote.command} ${remote.rowCount}`, `tag of ${sql}`);
}

/** Simple protocol: local answer equals upstream's. */
export async function sameSimple(
  router: Router,
  client: pg.Client,
  session: SessionState,
  sql: string,
  opts: SameOptions = {},
): Promise<void> {
  const route = router.route(sql, session);
  assert.equal(
    route.kind,
    'local',
    `expected local for ${sql}: ${route.kind === 'upstream' ? route.reason : ''}`,
  );
  if (route.kind !== 'local') return;
  const locals = route.run();
  const res = (await client.query({ text: sql, rowMode: 'array', types: rawTypes })) as unknown as
    | pg.QueryResult<unknown[]>
    | pg.QueryResult<unknown[]>[];
  const remotes = Array.isArray(res) ? res : [res];
  assert.equal(locals.length, remotes.length, `statement count for ${sql}`);
  for (const [i, local] of locals.entries())
    compare(sql, local, remotes[i] as pg.QueryResult<unknown[]>, opts);
}

/** ParameterDescription and RowDescription of an unnamed statement (Parse + Describe + Sync). */
export async function describeStatement(
  client: pg.Client,
  text: string,
  types: number[] = [],
): Promise<{ paramTypes: number[]; fields: unknown[] | null }> {
  type Connection = NodeJS.EventEmitter & {
    parse(q: { text: string; types: number[] }): void;
    describe(m: { type: 'S'; name: string }): void;
    sync(): void;
  };
  const connection = (client as unknown as { connection: Connection }).connection;
  return new Promise((resolve, reject) => {
    let paramTypes: number[] = [];
    let fields: unknown[] | null = null;
    const onParams = (msg: { dataTypeIDs: number[] }): void => {
      paramTypes = msg.dataTypeIDs;
    };
    const submittable = {
      submit(con: typeof connection): void {
        con.on('parameterDescription', onParams);
        con.parse({ text, types });
        con.describe({ type: 'S', name: '' });
        con.sync();
      },
      handleRowDescription(msg: { fields: pg.FieldDef[] }): void {
        fields = remoteFields(msg.fields);
      },
      handleError(err: unknown): void {
        // The client drops the active query on an error: ReadyForQuery will not reach us.
        connection.removeListener('parameterDescription', onParams);
        reject(err);
      },
      handleReadyForQuery(): void {
        connection.removeListener('parameterDescription', onParams);
        resolve({ paramTypes, fields });
      },
      handleDataRow(): void {},
      handleCommandComplete(): void {},
      handleEmptyQuery(): void {},
      handlePortalSuspended(): void {},
    };
    (client as unknown as { query(q: unknown): void }).query(submittable);
  });
}

/**
 * Extended protocol: the router's prepared statement reports the parameter
 * types and fields Postgres reports for Parse/Describe, and each execution
 * (node-postgres sends Parse/Bind/Execute with text parameters) equals
 * upstream's result.
 */
export async function samePrepared(
  router: Router,
  client: pg.Client,
  session: SessionState,
  sql: string,
  executions: (string | null)[][],
  opts: SameOptions & { declared?: number[] } = {},
): Promise<void> {
  const declared = opts.declared ?? [];
  const route = router.prepare(sql, declared, session);
  assert.equal(
    route.kind,
    'local',
    `expected local for ${sql}: ${route.kind === 'upstream' ? route.reason : ''}`,
  );
  if (route.kind !== 'local') return;
  const described = await describeStatement(client, sql, declared);
  assert.deepEqual(route.prepared.paramTypes, described.paramTypes, `parameter types of ${sql}`);
  assert.deepEqual(
    route.prepared.fields.map((f) => ({ ...f })),
    described.fields,
    `described fields of ${sql}`,
  );
  for (const params of executions) {
    const local = route.prepared.run(params);
    let remote: pg.QueryResult<unknown[]>;
    if (declared.some((t) => t !== 0)) {
      // node-postgres cannot declare parameter types: PREPARE/EXECUTE does.
      const types = declared.map((t) => TYPE_NAMES[t] ?? String(t));
      const literal = (p: string | null): string => (p === null ? 'NULL' : `'${p.replace(/'/g, "''")}'`);
      await client.query(`PREPARE outpost_declared(${types.join(', ')}) AS ${sql}`);
      try {
        remote = (await client.query({
          text: `EXECUTE outpost_declared(${params.map(literal).join(', ')})`,
          rowMode: 'array',
          types: rawTypes,
        })) as unknown as pg.QueryResult<unknown[]>;
        remote.command = 'SELECT';
      } finally {
        await client.query('DEALLOCATE outpost_declared');
      }
    } else {
      remote = (await client.query({
        text: sql,
        values: params,
        rowMode: 'array',
        types: rawTypes,
      })) as unknown as pg.QueryResult<unknown[]>;
    }
    compare(`${sql} with ${JSON.stringify(params)}`, local, remote, opts);
  }
}

const TYPE_NAMES: Record<number, string> = {
  0: 'unknown',
  16: 'bool',
  20: 'int8',
  21: 'int2',
  23: 'int4',
  25: 'text',
  701: 'float8',
  1016: 'int8[]',
  1043: 'varchar',
  1700: 'numeric',
};
