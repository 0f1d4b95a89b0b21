/**
 * Shared setup of the differential corpus and the random generator: one real
 * Postgres loaded with test/corpus/schema.sql, a replica fixture copied from
 * it, and a Router over the fixture. `differ()` runs one statement both ways
 * and tells whether it was answered locally (and identically) or forwarded.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type pg from 'pg';
import { LocalError, NotLocal, type PgError } from '../../src/errors.js';
import { Router } from '../../src/router/router.js';
import type { LocalResult } from '../../src/router/types.js';
import type { SessionState } from '../../src/session.js';
import { probeTextLocale } from '../../src/upstream-locale.js';
import { compareResult } from '../helpers/differential.js';
import { type PostgresInstance, startPostgres } from '../helpers/postgres.js';
import {
  connectTracked,
  createReplicaFixture,
  type ReplicaFixture,
  rawTypes,
} from '../helpers/replica-fixture.js';

export const TABLES = [
  'categories',
  'users',
  'products',
  'orders',
  'order_items',
  'events',
  'tickets',
  'flags',
  'wallets',
  'idents',
];

export interface Corpus {
  pgi: PostgresInstance;
  client: pg.Client;
  session: SessionState;
  fixture: ReplicaFixture;
  router: Router;
  close(): Promise<void>;
}

export interface CorpusOptions {
  /** Creates and loads `database` (default: test/corpus/schema.sql into the default database). */
  setup?: (pgi: PostgresInstance) => Promise<void>;
  database?: string;
  /** Tables of the public schema copied to the replica; default TABLES. */
  tables?: string[];
}

/** `bin`: the Postgres binaries (see startPostgres); default OUTPOST_PG_BIN, else embedded 17. */
export async function startCorpus(bin?: string, opts: CorpusOptions = {}): Promise<Corpus> {
  const pgi = await startPostgres(bin ? { bin } : {});
  try {
    return await loadCorpus(pgi, opts);
  } catch (err) {
    // A failed setup must not leave its server running (the test process would never exit).
    await pgi.stop().catch(() => {});
    throw err;
  }
}

async function loadCorpus(pgi: PostgresInstance, opts: CorpusOptions): Promise<Corpus> {
  if (opts.setup) await opts.setup(pgi);
  const database = opts.database ?? pgi.database;
  const { client, session } = await connectTracked(pgi, { database });
  client.on('error', () => {});
  if (!opts.setup) await client.query(readFileSync(new URL('./schema.sql', import.meta.url), 'utf8'));
  const fixture = createReplicaFixture();
  await fixture.load(
    client,
    (opts.tables ?? TABLES).map((name) => ({ schema: 'public', name })),
  );
  // fixture.load set the replication session's settings on this client; the
  // corpus runs under Postgres's defaults for a new session.
  await client.query('RESET ALL');
  // What the proxy learns at start (src/app.ts): collations and case mapping, upstream's version.
  const locale = await probeTextLocale(async <R>(sql: string, params?: unknown[]) => {
    return (await client.query(sql, params)).rows as R[];
  });
  const router = await Router.create({
    catalog: fixture.catalog,
    reader: fixture.reader,
    database,
    textCollationIsC: locale.codePointCollations.includes('default'),
    textCtypeIsC: locale.asciiCtypeCollations.includes('default'),
    textLocale: locale,
    serverVersionNum: locale.versionNum,
  });
  return {
    pgi,
    client,
    session,
    fixture,
    router,
    async close() {
      await client.end().catch(() => {});
      fixture.close();
      await pgi.stop();
    },
  };
}

export { compareResult };

export type Outcome =
  | { kind: 'local' }
  | { kind: 'forwarded'; reason: string }
  /**
   * Postgres raised an error and the local path did not answer (forwarded or
   * failed too), or (`local`) raised the identical error itself.
   */
  | { kind: 'pg-error'; message: string; local?: true };

async function remoteQuery(
  client: pg.Client,
  sql: string,
  values?: (string | null)[],
  declared: readonly number[] = [],
): Promise<pg.QueryResult<unknown[]> | Error> {
  if (declared.some((t) => t !== 0)) return remoteDeclared(client, sql, values ?? [], declared);
  try {
    return (await client.query({
      text: sql,
      rowMode: 'array',
      types: rawTypes,
      ...(values ? { values } : {}),
    })) as unknown as pg.QueryResult<unknown[]>;
  } catch (err) {
    return err as Error;
  }
}

/**
 * Parameters of declared types (node-postgres cannot send them in a Parse):
 * PREPARE with the types, EXECUTE with the values as literals. The rows,
 * RowDescription and command tag are the statement's own.
 */
async function remoteDeclared(
  client: pg.Client,
  sql: string,
  values: (string | null)[],
  declared: readonly number[],
): Promise<pg.QueryResult<unknown[]> | Error> {
  const lit = (v: string | null) => (v === null ? 'NULL' : `'${v.replace(/'/g, "''")}'`);
  try {
    const types = await client.query<{ t: string }>(
      'select format_type(oid, NULL) as t from unnest($1::oid[]) with ordinality u(oid, n) order by n',
      [declared.map((t) => (t === 0 ? 25 : t))],
    );
    const names = declared.map((t, i) => (t === 0 ? 'unknown' : (types.rows[i]?.t ?? 'unknown')));
    await client.query(`PREPARE corpus_declared(${names.join(', ')}) AS ${sql}`);
    try {
      return (await client.query({
        text: `EXECUTE corpus_declared(${values.map(lit).join(', ')})`,
        rowMode: 'array',
        types: rawTypes,
      })) as unknown as pg.QueryResult<unknown[]>;
    } finally {
      await client.query('DEALLOCATE corpus_declared');
    }
  } catch (err) {
    return err as Error;
  }
}

/** What a client sees of an error (node-postgres's DatabaseError fields; position as a string). */
export function errorFields(err: unknown): Record<string, string | undefined> {
  const e = err as { code?: string; message?: string; detail?: string; hint?: string; position?: unknown };
  return {
    code: e.code,
    message: e.message,
    detail: e.detail,
    hint: e.hint,
    position: e.position === undefined ? undefined : String(e.position),
  };
}

/**
 * Simple protocol: route locally and run on Postgres. A local answer must equal
 * Postgres's; a local answer where Postgres errors is a failure.
 */
export async function differ(c: Corpus, sql: string, unordered: boolean): Promise<Outcome> {
  // The proxy verifies session state upstream after a statement that may
  // have run user code (or did not parse); these reads change none, so the
  // check always finds nothing: settle it, or every later read is forwarded.
  c.session.stateCheck = undefined;
  const route = c.router.route(sql, c.session);
  let local: LocalResult | undefined;
  let localError: PgError | undefined;
  let reason = '';
  if (route.kind === 'local') {
    try {
      const results = route.run();
      assert.equal(results.length, 1, `one result for ${sql}`);
      local = results[0];
    } catch (err) {
      if (err instanceof LocalError) localError = err.error;
      else if (!(err instanceof NotLocal)) throw err;
      else reason = `run: ${err.reason}`;
    }
  } else if (route.kind === 'upstream') reason = route.reason;
  else reason = route.kind;
  const remote = await remoteQuery(c.client, sql);
  if (remote instanceof Error) {
    assert.equal(local, undefined, `local answer where Postgres raised "${remote.message}": ${sql}`);
    if (localError) {
      assert.deepEqual(errorFields(localError), errorFields(remote), `local error differs: ${sql}`);
      return { kind: 'pg-error', message: remote.message, local: true };
    }
    return { kind: 'pg-error', message: remote.message };
  }
  assert.equal(localError, undefined, `local error "${localError?.message}" where Postgres answered: ${sql}`);
  if (!local) return { kind: 'forwarded', reason };
  compareResult(sql, local, remote, unordered);
  return { kind: 'local' };
}

/**
 * Extended protocol with parameters (node-postgres: Parse/Bind/Execute with
 * text parameters): the router's prepared statement must report the same
 * result for every execution. Returns whether every execution was local.
 */
export async function differPrepared(
  c: Corpus,
  sql: string,
  executions: (string | null)[][],
  declared: readonly number[] = [],
  unordered = false,
): Promise<Outcome> {
  c.session.stateCheck = undefined; // as in differ()
  const route = c.router.prepare(sql, declared, c.session);
  if (route.kind !== 'local') {
    for (const params of executions) {
      const remote = await remoteQuery(c.client, sql, params, declared);
      if (remote instanceof Error) return { kind: 'pg-error', message: remote.message };
    }
    return { kind: 'forwarded', reason: route.reason };
  }
  let forwarded = '';
  for (const params of executions) {
    let local: LocalResult | undefined;
    try {
      local = route.prepared.run(params);
    } catch (err) {
      if (!(err instanceof NotLocal)) throw err;
      forwarded = `run: ${err.reason}`;
    }
    const remote = await remoteQuery(c.client, sql, params, declared);
    const what = `${sql} with ${JSON.stringify(params)}`;
    if (remote instanceof Error) {
      assert.equal(local, undefined, `local answer where Postgres raised "${remote.message}": ${what}`);
      continue;
    }
    if (local) compareResult(what, local, remote, unordered);
  }
  return forwarded ? { kind: 'forwarded', reason: forwarded } : { kind: 'local' };
}
