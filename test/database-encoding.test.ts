/**
 * A database whose encoding is not UTF8: every local answer is computed on
 * UTF-8 text (octet_length, md5, identifier folding, chr's range), so none is
 * served; a UTF8 database beside it, probed the same way, is served.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import type pg from 'pg';
import { Router } from '../src/router/router.js';
import type { SessionState } from '../src/session.js';
import { probeTextLocale, type Query } from '../src/upstream-locale.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';
import { connectTracked, createReplicaFixture, type ReplicaFixture } from './helpers/replica-fixture.js';

let pgi: PostgresInstance;
const clients: pg.Client[] = [];
const fixtures: ReplicaFixture[] = [];

const q =
  (c: pg.Client): Query =>
  async <R>(sql: string, params?: unknown[]) =>
    (await c.query(sql, params)).rows as R[];

async function routerFor(
  database: string,
): Promise<{ router: Router; session: SessionState; client: pg.Client }> {
  const { client, session } = await connectTracked(pgi, { database });
  clients.push(client);
  await client.query("CREATE TABLE t (id int8 PRIMARY KEY, name text); INSERT INTO t VALUES (1, 'é')");
  const fixture = createReplicaFixture();
  fixtures.push(fixture);
  await fixture.load(client, [{ schema: 'public', name: 't' }]);
  const textLocale = await probeTextLocale(q(client));
  const router = await Router.create({
    catalog: fixture.catalog,
    reader: fixture.reader,
    database,
    textCollationIsC: textLocale.codePointCollations.includes('default'),
    textLocale,
  });
  return { router, session, client };
}

before(async () => {
  pgi = await startPostgres();
  await pgi.query("CREATE DATABASE latin1 TEMPLATE template0 ENCODING 'LATIN1' LOCALE 'C'");
  await pgi.query("CREATE DATABASE utf8 TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C'");
});

after(async () => {
  for (const c of clients) await c.end().catch(() => {});
  for (const f of fixtures) f.close();
  await pgi?.stop();
});

const SQL = 'SELECT md5(name), id FROM t WHERE id = 1';

test('a LATIN1 database: statements go upstream, saying why', async () => {
  const { router, session, client } = await routerFor('latin1');
  const route = router.route(SQL, session);
  assert.equal(route.kind, 'upstream');
  assert.match(route.kind === 'upstream' ? route.reason : '', /database encoding LATIN1/);
  // Upstream hashes the LATIN1 byte of é, not the two UTF-8 bytes the replica holds.
  const { rows } = await client.query({ text: SQL, rowMode: 'array' });
  assert.equal(
    rows[0]?.[0],
    createHash('md5')
      .update(Buffer.from([0xe9]))
      .digest('hex'),
  );
});

test('a UTF8 database probed the same way is served locally', async () => {
  const { router, session } = await routerFor('utf8');
  const route = router.route(SQL, session);
  assert.equal(route.kind, 'local', route.kind === 'upstream' ? route.reason : '');
});
