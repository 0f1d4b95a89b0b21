/**
 * The extended query protocol answered locally, against a real Postgres:
 * every local answer is compared byte for byte with what Postgres itself
 * sends for the same messages, and upstream's prepared statements are
 * inspected (pg_prepared_statements) to check lazy preparation.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { NotLocal } from '../src/errors.js';
import { silentLogger } from '../src/log.js';
import { createMetrics, type Metrics } from '../src/metrics.js';
import type {
  FieldDescription,
  LocalResult,
  PreparedLocal,
  PreparedRoute,
  QueryRouter,
  Route,
} from '../src/router/types.js';
import { ProxyServer } from '../src/server/proxy-server.js';
import type { SessionState } from '../src/session.js';
import { binarySettings, encodeBinary } from '../src/wire/binary.js';
import { FrameReader } from '../src/wire/frames.js';
import { parseParse, parseTarget, serializeCancelRequest, serializeQuery } from '../src/wire/frontend.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';
import {
  bindMsg,
  closeMsg,
  describeMessages,
  describeMsg,
  errorOf,
  executeMsg,
  FLUSH,
  type Message,
  parseMsg,
  RawClient,
  SYNC,
} from './helpers/wire-client.js';

const ROWS: [string, string][] = [
  ['1', 'one'],
  ['2', 'two'],
  ['3', 'three'],
  ['4', 'four'],
  ['5', 'five'],
];

const BY_ID = 'select * from local_table where id = $1';
const ALL = 'select * from local_table order by id';
const ECHO = 'select $1::int4';
const GHOST = 'select * from ghost_table where id = $1';
const TYPED =
  'select $1::int8 as a, $2::float8 as b, $3::numeric as c, $4::text as d, $5::bool as e, $6::date as f, $7::timestamptz as g, $8::uuid as h, $9::int4[] as i, $10::interval as j, $11::bytea as k, $12::jsonb as l';
const TYPED_OIDS = [20, 701, 1700, 25, 16, 1082, 1184, 2950, 1007, 1186, 17, 3802];
const TYPED_SIZES = [8, 8, -1, -1, 1, 4, 8, 16, -1, 16, -1, -1];
const TYPED_NAMES = 'abcdefghijkl'.split('');

function field(
  name: string,
  typeOid: number,
  typeSize: number,
  tableOid = 0,
  columnAttr = 0,
): FieldDescription {
  return { name, tableOid, columnAttr, typeOid, typeSize, typeModifier: -1, format: 0 };
}

/**
 * Stands in for the real router: a few statements are local, answering
 * exactly what Postgres answers for the test's data; everything else goes
 * upstream. `select ... where id = $1` with 999 is "not local" for that
 * execution (NotLocal from run), like a value the real router cannot handle.
 */
class ExtRouter implements QueryRouter {
  tableOid = 0;
  localEnabled = true;
  runs = 0;
  prepares = 0;
  route(sql: string, _session: SessionState): Route {
    const s = sql.trim().replace(/;$/, '').toLowerCase();
    if (s === 'show outpost.last_route') return { kind: 'show-last-route' };
    return { kind: 'upstream', reason: 'simple query' };
  }

  prepare(sql: string, _declared: readonly number[], session: SessionState): PreparedRoute {
    this.prepares++;
    const route = this.prepareInner(sql, session);
    session.lastRoute = route.kind === 'local' ? 'local' : `upstream: ${route.reason}`;
    return route;
  }

  private prepareInner(sql: string, session: SessionState): PreparedRoute {
    if (!this.localEnabled) return { kind: 'upstream', reason: 'test: local off' };
    if (session.txStatus !== 'I') return { kind: 'upstream', reason: 'inside a transaction' };
    const local = (prepared: PreparedLocal): PreparedRoute => ({ kind: 'local', prepared });
    const count = () => this.runs++;
    switch (sql) {
      case ECHO: {
        const fields = [field('int4', 23, 4)];
        return local({
          paramTypes: [23],
          fields,
          run(params) {
            count();
            const p = params[0] ?? null;
            if (p !== null && !/^\s*-?\d+\s*$/.test(p)) throw new NotLocal('test: not an int4');
            return { fields, rows: [[p === null ? null : String(Number(p))]], commandTag: 'SELECT 1' };
          },
        });
      }
      case BY_ID:
      case GHOST: {
        const fields = [field('id', 23, 4, this.tableOid, 1), field('name', 25, -1, this.tableOid, 2)];
        return local({
          paramTypes: [23],
          fields,
          run(params) {
            count();
            if (params[0] === '999') throw new NotLocal('test: 999 is upstream');
            const rows = ROWS.filter(([id]) => id === String(Number(params[0])));
            return { fields, rows, commandTag: `SELECT ${rows.length}` };
          },
        });
      }
      case ALL: {
        const fields = [field('id', 23, 4, this.tableOid, 1), field('name', 25, -1, this.tableOid, 2)];
        return local({
          paramTypes: [],
          fields,
          run() {
            count();
            return { fields, rows: ROWS, commandTag: `SELECT ${ROWS.length}` };
          },
        });
      }
      case TYPED: {
        const fields = TYPED_OIDS.map((oid, i) =>
          field(TYPED_NAMES[i] as string, oid, TYPED_SIZES[i] as number),
        );
        return local({
          paramTypes: TYPED_OIDS,
          fields,
          run(params): LocalResult {
            count();
            // The parameters arrive as Postgres's own output text: echo them.
            return { fields, rows: [[...params]], commandTag: 'SELECT 1' };
          },
        });
      }
    }
    return { kind: 'upstream', reason: 'test: not local' };
  }
}

/**
 * A transparent TCP relay between the proxy and Postgres that records the
 * named statements the proxy Parses and Closes upstream, so tests can see
 * what was prepared there (and what was not).
 */
class CountingRelay {
  /** `P name` / `C name` for every named Parse / Close statement sent upstream. */
  readonly log: string[] = [];
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  async start(target: number): Promise<number> {
    const server = createServer((inbound) => {
      const outbound = connect({ host: '127.0.0.1', port: target });
      this.sockets.add(inbound).add(outbound);
      const reader = new FrameReader({ startup: true });
      inbound.on('data', (chunk: Buffer) => {
        reader.push(chunk);
        for (let f = reader.next(); f; f = reader.next()) {
          if (f.type === 0) {
            reader.expectStartup = false;
          } else if (f.type === 0x50) {
            const name = parseParse(f.body).name;
            if (name !== '') this.log.push(`P ${name}`);
          } else if (f.type === 0x43) {
            const t = parseTarget(f.body);
            if (t.kind === 'S' && t.name !== '') this.log.push(`C ${t.name}`);
          }
        }
        outbound.write(chunk);
      });
      outbound.pipe(inbound);
      inbound.on('close', () => outbound.destroy());
      outbound.on('close', () => inbound.destroy());
      inbound.on('error', () => {});
      outbound.on('error', () => {});
    });
    this.server = server;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return (server.address() as { port: number }).port;
  }

  /** Entries logged since `mark` (a length of `log`). */
  since(mark: number): string[] {
    return this.log.slice(mark);
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server?.close(r));
  }
}

const relay = new CountingRelay();
let upstream: PostgresInstance;
let proxy: ProxyServer;
let metrics: Metrics;
const router = new ExtRouter();
let port: number;

before(async () => {
  upstream = await startPostgres();
  const hba = `${upstream.dataDir}/pg_hba.conf`;
  writeFileSync(hba, `host all rawuser 127.0.0.1/32 trust\n${readFileSync(hba, 'utf8')}`);
  await upstream.query('create role rawuser login superuser');
  await upstream.query('create table local_table (id int4 primary key, name text)');
  await upstream.query(
    `insert into local_table values ${ROWS.map(([id, n]) => `(${id}, '${n}')`).join(', ')}`,
  );
  await upstream.query('select pg_reload_conf()');
  router.tableOid = Number((await upstream.query("select 'local_table'::regclass::oid as o")).rows[0]?.o);
  await new Promise((r) => setTimeout(r, 300));
  metrics = createMetrics();
  proxy = new ProxyServer({
    listen: { host: '127.0.0.1', port: 0 },
    upstream: { host: '127.0.0.1', port: await relay.start(upstream.port) },
    router,
    logger: silentLogger(),
    metrics,
  });
  await proxy.start();
  port = proxy.address().port;
});

after(async () => {
  await proxy?.close();
  await relay.stop();
  await upstream?.stop();
});

/** Runs the same bytes through Outpost and directly against Postgres; returns both replies. */
async function both(
  batches: Buffer[],
  syncs: number[] = batches.map(() => 1),
): Promise<{
  outpost: Message[][];
  direct: Message[][];
  runs: number;
}> {
  const o = await RawClient.session(port);
  const d = await RawClient.session(upstream.port);
  try {
    const before = router.runs;
    const outpost: Message[][] = [];
    for (const [i, b] of batches.entries()) outpost.push(await o.run(b, syncs[i]));
    const runs = router.runs - before;
    const direct: Message[][] = [];
    for (const [i, b] of batches.entries()) direct.push(await d.run(b, syncs[i]));
    return { outpost, direct, runs };
  } finally {
    o.close();
    d.close();
  }
}

function assertSame(r: { outpost: Message[][]; direct: Message[][] }): void {
  assert.deepEqual(r.outpost.map(describeMessages), r.direct.map(describeMessages));
}

async function lastRoute(c: RawClient): Promise<string> {
  const msgs = await c.run(serializeQuery('show outpost.last_route'));
  const row = msgs.find((m) => m.type === 'D');
  return row ? row.body.subarray(6).toString() : '';
}

describe('extended protocol answered locally', () => {
  test('unnamed statement: Parse, Bind, Describe (statement and portal), Execute, Sync — identical to Postgres', async () => {
    const r = await both([
      Buffer.concat([
        parseMsg('', BY_ID),
        describeMsg('S', ''),
        bindMsg('', '', ['2']),
        describeMsg('P', ''),
        executeMsg(''),
        SYNC,
      ]),
      Buffer.concat([parseMsg('', ECHO, [23]), bindMsg('', '', ['007']), executeMsg(''), SYNC]),
      Buffer.concat([bindMsg('', '', [null]), executeMsg(''), SYNC]),
    ]);
    assertSame(r);
    assert.equal(r.runs, 2 + 0 + 0 + 1, 'every execution ran locally');
    assert.deepEqual(
      r.outpost[0]?.map((m) => m.type),
      ['1', 't', 'T', '2', 'T', 'D', 'C', 'Z'],
    );
  });

  test('a named statement is prepared upstream only when an execution goes there; Close closes both sides', async () => {
    const c = await RawClient.session(port);
    try {
      const runs0 = router.runs;
      const mark = relay.log.length;
      const ok = await c.run(
        Buffer.concat([parseMsg('s1', BY_ID), bindMsg('', 's1', ['3']), executeMsg(''), SYNC]),
      );
      assert.deepEqual(
        ok.map((m) => m.type),
        ['1', '2', 'D', 'C', 'Z'],
      );
      assert.equal(router.runs, runs0 + 1);
      assert.equal(await lastRoute(c), 'local');
      assert.deepEqual(relay.since(mark), [], 'nothing prepared upstream yet');
      // This execution is not local: s1 is prepared upstream on the way.
      const up = await c.run(Buffer.concat([bindMsg('', 's1', ['999']), executeMsg(''), SYNC]));
      assert.deepEqual(
        up.map((m) => m.type),
        ['2', 'C', 'Z'],
        'the hidden ParseComplete never reaches the client',
      );
      assert.equal(await lastRoute(c), 'upstream: test: 999 is upstream');
      assert.deepEqual(relay.since(mark), ['P s1']);
      // Local again for the next execution.
      const again = await c.run(Buffer.concat([bindMsg('', 's1', ['4']), executeMsg(''), SYNC]));
      assert.match(again.find((m) => m.type === 'D')?.body.toString() ?? '', /four/);
      assert.equal(await lastRoute(c), 'local');
      // Close: upstream closes it too; then the name is free on both sides.
      const closed = await c.run(Buffer.concat([closeMsg('S', 's1'), SYNC]));
      assert.deepEqual(
        closed.map((m) => m.type),
        ['3', 'Z'],
      );
      assert.deepEqual(relay.since(mark), ['P s1', 'C s1']);
      const reparsed = await c.run(
        Buffer.concat([parseMsg('s1', ECHO), bindMsg('', 's1', ['5']), executeMsg(''), SYNC]),
      );
      assert.equal(errorOf(reparsed), undefined);
      // A statement only ever local closes locally.
      const closedLocal = await c.run(Buffer.concat([closeMsg('S', 's1'), closeMsg('S', 'never'), SYNC]));
      assert.deepEqual(
        closedLocal.map((m) => m.type),
        ['3', '3', 'Z'],
      );
      assert.deepEqual(relay.since(mark), ['P s1', 'C s1'], 'local-only statements close locally');
      // SQL that can see prepared statements gets them all prepared upstream first.
      await c.run(Buffer.concat([parseMsg('s2', ECHO), SYNC]));
      const listed = await c.run(serializeQuery('select name from pg_prepared_statements order by name'));
      assert.deepEqual(
        listed.filter((m) => m.type === 'D').map((m) => m.body.subarray(6).toString()),
        ['s2'],
      );
      assert.deepEqual(relay.since(mark), ['P s1', 'C s1', 'P s2']);
    } finally {
      c.close();
    }
  });

  test('row limits: PortalSuspended, resumption and completion match Postgres', async () => {
    const r = await both([
      Buffer.concat([
        parseMsg('', ALL),
        bindMsg('', ''),
        executeMsg('', 2),
        executeMsg('', 2),
        executeMsg('', 2),
        executeMsg('', 2),
        SYNC,
      ]),
      Buffer.concat([bindMsg('p1', ''), executeMsg('p1', 5), executeMsg('p1', 1), executeMsg('p1', 0), SYNC]),
      Buffer.concat([parseMsg('', BY_ID), bindMsg('', '', ['42']), executeMsg('', 1), SYNC]),
    ]);
    assertSame(r);
    assert.equal(r.runs, 3);
    assert.deepEqual(
      r.outpost[0]?.map((m) => m.type),
      ['1', '2', 'D', 'D', 's', 'D', 'D', 's', 'D', 'C', 'C', 'Z'],
    );
  });

  test('named portals and Flush: replies arrive before Sync; portals end at Sync', async () => {
    const c = await RawClient.session(port);
    try {
      c.send(Buffer.concat([parseMsg('', ALL), bindMsg('cur', ''), executeMsg('cur', 2), FLUSH]));
      assert.deepEqual(
        (await c.take(5)).map((m) => m.type),
        ['1', '2', 'D', 'D', 's'],
      );
      c.send(Buffer.concat([executeMsg('cur', 2), FLUSH]));
      assert.deepEqual(
        (await c.take(3)).map((m) => m.type),
        ['D', 'D', 's'],
      );
      const end = await c.run(Buffer.concat([closeMsg('P', 'cur'), SYNC]));
      assert.deepEqual(
        end.map((m) => m.type),
        ['3', 'Z'],
      );
      // After Sync the portal is gone, as upstream would say.
      const gone = await c.run(Buffer.concat([executeMsg('cur'), SYNC]));
      assert.equal(errorOf(gone)?.get('C'), '34000');
    } finally {
      c.close();
    }
  });

  test('a pipelined batch mixing local and upstream statements keeps every reply in order', async () => {
    const batch = Buffer.concat([
      parseMsg('a', BY_ID),
      bindMsg('', 'a', ['1']),
      executeMsg(''),
      parseMsg('b', "select 'upstream' as u, $1::int4 + 1 as n"),
      bindMsg('', 'b', ['41']),
      describeMsg('P', ''),
      executeMsg(''),
      bindMsg('', 'a', ['2']),
      executeMsg(''),
      describeMsg('S', 'a'),
      closeMsg('S', 'a'),
      closeMsg('S', 'b'),
      SYNC,
      parseMsg('', ECHO),
      bindMsg('', '', ['9']),
      executeMsg(''),
      SYNC,
    ]);
    const r = await both([batch], [2]);
    assertSame(r);
    assert.ok(r.runs >= 1, 'the first statement was local');
  });

  test('errors are upstream own, and the rest of the batch is discarded until Sync', async () => {
    const r = await both([
      // Unknown statement.
      Buffer.concat([bindMsg('', 'nope'), executeMsg(''), parseMsg('', ECHO), SYNC]),
      // Duplicate statement name (the first one only local so far).
      Buffer.concat([
        parseMsg('dup', ECHO),
        parseMsg('dup', ECHO),
        bindMsg('', 'dup', ['1']),
        executeMsg(''),
        SYNC,
      ]),
      // Still there after the failed duplicate: local again.
      Buffer.concat([bindMsg('', 'dup', ['2']), executeMsg(''), SYNC]),
      // Wrong parameter count, bad value, bad format code, result formats for too many columns.
      Buffer.concat([bindMsg('', 'dup', ['1', '2']), SYNC]),
      Buffer.concat([bindMsg('', 'dup', ['x']), executeMsg(''), SYNC]),
      Buffer.concat([bindMsg('', 'dup', ['1'], { paramFormats: [7] }), SYNC]),
      Buffer.concat([bindMsg('', 'dup', ['1'], { resultFormats: [0, 0] }), SYNC]),
      // Unknown portal; Describe of an unknown statement.
      Buffer.concat([executeMsg('nope'), SYNC]),
      Buffer.concat([describeMsg('S', 'nope'), SYNC]),
      // A syntax error, then a local statement in the same batch: discarded.
      Buffer.concat([parseMsg('', 'selec 1'), bindMsg('', 'dup', ['1']), executeMsg(''), SYNC]),
      // Works again after Sync.
      Buffer.concat([bindMsg('', 'dup', ['3']), executeMsg(''), SYNC]),
    ]);
    assertSame(r);
    const codes = r.outpost.map((m) => errorOf(m)?.get('C') ?? '-');
    assert.deepEqual(codes, [
      '26000',
      '42P05',
      '-',
      '08P01',
      '22P02',
      '22023',
      '08P01',
      '34000',
      '26000',
      '42601',
      '-',
    ]);
  });

  test('pipelined batches around errors and lazily prepared statements stay in step with Postgres', async () => {
    const r = await both(
      [
        // Two local statements.
        Buffer.concat([
          parseMsg('loc', BY_ID),
          parseMsg('loc2', BY_ID),
          bindMsg('', 'loc', ['1']),
          executeMsg(''),
          SYNC,
        ]),
        // All at once: an upstream execution of it (prepared upstream on the way),
        // a failing batch, then a batch whose preparation is skipped by upstream
        // because an earlier message of the batch failed, then uses of it again.
        Buffer.concat([
          bindMsg('', 'loc', ['999']),
          executeMsg(''),
          SYNC,
          parseMsg('', 'selec'),
          SYNC,
          closeMsg('S', 'loc'),
          parseMsg('loc', BY_ID),
          parseMsg('', 'select 1/0'),
          bindMsg('', ''),
          executeMsg(''),
          bindMsg('', 'loc', ['999']),
          executeMsg(''),
          bindMsg('', 'loc2', ['999']),
          executeMsg(''),
          SYNC,
          bindMsg('', 'loc2', ['999']),
          executeMsg(''),
          SYNC,
          bindMsg('', 'loc2', ['2']),
          executeMsg(''),
          FLUSH,
          SYNC,
          serializeQuery('select name from pg_prepared_statements order by name'),
        ]),
      ],
      [1, 6],
    );
    assertSame(r);
  });

  test('SQL PREPARE, DEALLOCATE and DISCARD ALL act on the same statements as the protocol', async () => {
    const q = (sql: string) => serializeQuery(sql);
    const r = await both(
      [
        Buffer.concat([
          q('PREPARE foo AS select $1::int4 + 1'),
          bindMsg('', 'foo', ['1']),
          executeMsg(''),
          SYNC,
        ]),
        Buffer.concat([parseMsg('foo', ECHO), SYNC]),
        Buffer.concat([describeMsg('S', 'foo'), closeMsg('S', 'nothing'), SYNC]),
        Buffer.concat([
          q('DEALLOCATE foo'),
          parseMsg('foo', ECHO),
          bindMsg('', 'foo', ['2']),
          executeMsg(''),
          SYNC,
        ]),
        Buffer.concat([parseMsg('Mixed', ECHO), parseMsg('mixed', ECHO), parseMsg('loc', BY_ID), SYNC]),
        Buffer.concat([
          q('DEALLOCATE "Mixed"; DEALLOCATE PREPARE MIXED'),
          bindMsg('', 'Mixed', ['3']),
          executeMsg(''),
          SYNC,
        ]),
        Buffer.concat([bindMsg('', 'mixed', ['3']), executeMsg(''), SYNC]),
        Buffer.concat([bindMsg('', 'loc', ['3']), executeMsg(''), SYNC]),
        Buffer.concat([q('DISCARD ALL'), bindMsg('', 'loc', ['3']), executeMsg(''), SYNC]),
        Buffer.concat([parseMsg('loc', ECHO), bindMsg('', 'loc', ['4']), executeMsg(''), SYNC]),
        // Through the extended protocol, pipelined ahead of the Parse it frees the name for.
        Buffer.concat([
          parseMsg('', 'DEALLOCATE ALL'),
          bindMsg('', ''),
          executeMsg(''),
          SYNC,
          parseMsg('loc', BY_ID),
          bindMsg('', 'loc', ['5']),
          executeMsg(''),
          SYNC,
        ]),
        Buffer.concat([bindMsg('', 'loc', ['1']), executeMsg(''), SYNC]),
        q('select name from pg_prepared_statements order by name'),
      ],
      [2, 1, 1, 2, 1, 2, 1, 1, 2, 1, 2, 1, 1],
    );
    assertSame(r);
  });

  test('a portal bound locally but executed after the batch went upstream is re-bound upstream at its position', async () => {
    const r = await both([
      Buffer.concat([
        parseMsg('s', ALL),
        bindMsg('p', 's'),
        executeMsg('p', 2),
        // Upstream from here on.
        parseMsg('', "select 'x'"),
        bindMsg('', ''),
        executeMsg(''),
        // The local portal continues, upstream.
        executeMsg('p', 2),
        describeMsg('P', 'p'),
        executeMsg('p'),
        SYNC,
      ]),
      // A portal whose statement was replaced before it ran.
      Buffer.concat([
        parseMsg('', BY_ID),
        bindMsg('q', '', ['5']),
        parseMsg('', ECHO),
        parseMsg('', "select 'y'"),
        bindMsg('', ''),
        executeMsg(''),
        executeMsg('q'),
        SYNC,
      ]),
    ]);
    assertSame(r);
  });

  test('binary parameters and results are exactly what Postgres sends', async () => {
    const settings = binarySettings(
      new Map([
        ['DateStyle', 'ISO, MDY'],
        ['IntervalStyle', 'postgres'],
      ]),
    );
    const texts = [
      '-9223372036854775808',
      '0.1',
      '-123.4500',
      'héllo',
      't',
      '2024-02-29',
      '2024-01-31 12:34:56.789+00',
      'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
      '{1,NULL,3}',
      '1 year 2 mons -3 days 04:05:06.5',
      '\\xdeadbeef',
      '{"a": [1, 2]}',
    ];
    const binaryParams = texts.map((t, i) => encodeBinary(TYPED_OIDS[i] as number, t, settings));
    const r = await both([
      Buffer.concat([
        parseMsg('', TYPED),
        bindMsg('', '', binaryParams, { paramFormats: [1], resultFormats: [1] }),
        describeMsg('P', ''),
        executeMsg(''),
        // Mixed: text parameters, per-column result formats.
        bindMsg('', '', texts, { resultFormats: TYPED_OIDS.map((_, i) => i % 2) }),
        describeMsg('P', ''),
        executeMsg(''),
        bindMsg('', '', binaryParams, { paramFormats: TYPED_OIDS.map(() => 1) }),
        executeMsg(''),
        SYNC,
      ]),
    ]);
    assertSame(r);
    assert.equal(r.runs, 3, 'all three executions local');
  });

  test('inside a transaction everything is forwarded, and ReadyForQuery always tells the truth', async () => {
    const c = await RawClient.session(port);
    try {
      const runs0 = router.runs;
      const begin = await c.run(serializeQuery('begin'));
      assert.equal(begin.at(-1)?.body.toString(), 'T');
      const inTx = await c.run(
        Buffer.concat([parseMsg('', BY_ID), bindMsg('', '', ['1']), executeMsg(''), SYNC]),
      );
      assert.equal(inTx.at(-1)?.body.toString(), 'T');
      assert.equal(router.runs, runs0, 'not local inside a transaction');
      assert.equal(await lastRoute(c), 'upstream: inside a transaction');
      const failed = await c.run(
        Buffer.concat([parseMsg('', 'select 1/0'), bindMsg('', ''), executeMsg(''), SYNC]),
      );
      assert.equal(errorOf(failed)?.get('C'), '22012');
      assert.equal(failed.at(-1)?.body.toString(), 'E');
      const rolled = await c.run(serializeQuery('rollback'));
      assert.equal(rolled.at(-1)?.body.toString(), 'I');
      const local = await c.run(
        Buffer.concat([parseMsg('', BY_ID), bindMsg('', '', ['1']), executeMsg(''), SYNC]),
      );
      assert.equal(local.at(-1)?.body.toString(), 'I');
      assert.equal(router.runs, runs0 + 1);
      // BEGIN through the extended protocol in the same batch as a local statement.
      const mixed = await c.run(
        Buffer.concat([
          parseMsg('', BY_ID),
          bindMsg('', '', ['2']),
          executeMsg(''),
          parseMsg('', 'begin'),
          bindMsg('', ''),
          executeMsg(''),
          SYNC,
        ]),
      );
      assert.equal(mixed.at(-1)?.body.toString(), 'T');
      const commit = await c.run(serializeQuery('commit'));
      assert.equal(commit.at(-1)?.body.toString(), 'I');
    } finally {
      c.close();
    }
  });

  test('a statement upstream cannot prepare: its error surfaces where the execution needed it', async () => {
    const c = await RawClient.session(port);
    try {
      // ghost_table exists only in the (test) replica.
      const local = await c.run(
        Buffer.concat([parseMsg('g', GHOST), bindMsg('', 'g', ['1']), executeMsg(''), SYNC]),
      );
      assert.deepEqual(
        local.map((m) => m.type),
        ['1', '2', 'D', 'C', 'Z'],
      );
      const up = await c.run(Buffer.concat([bindMsg('', 'g', ['999']), executeMsg(''), SYNC]));
      assert.deepEqual(
        up.map((m) => m.type),
        ['E', 'Z'],
      );
      assert.equal(errorOf(up)?.get('C'), '42P01');
      // A statement upstream cannot prepare is simply absent from pg_prepared_statements there.
      const listed = await c.run(serializeQuery('select count(*) from pg_prepared_statements'));
      assert.equal(errorOf(listed), undefined);
      assert.equal(
        listed
          .find((m) => m.type === 'D')
          ?.body.subarray(6)
          .toString(),
        '0',
      );
      // The client's statement still exists, and runs locally again.
      const again = await c.run(Buffer.concat([bindMsg('', 'g', ['2']), executeMsg(''), SYNC]));
      assert.deepEqual(
        again.map((m) => m.type),
        ['2', 'D', 'C', 'Z'],
      );
    } finally {
      c.close();
    }
  });

  test('node-postgres parameterised and prepared queries run locally', async () => {
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'rawuser', database: 'postgres' });
    await client.connect();
    try {
      const runs0 = router.runs;
      assert.deepEqual((await client.query(BY_ID, [3])).rows, [{ id: 3, name: 'three' }]);
      const named = { name: 'by-id', text: BY_ID };
      assert.deepEqual((await client.query({ ...named, values: [1] })).rows, [{ id: 1, name: 'one' }]);
      assert.deepEqual((await client.query({ ...named, values: [999] })).rows, []);
      assert.deepEqual((await client.query({ ...named, values: [2] })).rows, [{ id: 2, name: 'two' }]);
      assert.equal(router.runs, runs0 + 4);
      const err = (await client.query(ECHO, ['x']).catch((e: unknown) => e)) as pg.DatabaseError;
      assert.equal(err.code, '22P02');
      assert.deepEqual((await client.query(ECHO, [12])).rows, [{ int4: 12 }]);
      assert.deepEqual((await client.query("select 'up' as u")).rows, [{ u: 'up' }]);
    } finally {
      await client.end();
    }
  });

  test('a CancelRequest for a session with only local work is a harmless no-op', async () => {
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'rawuser', database: 'postgres' });
    await client.connect();
    try {
      const pid = (client as unknown as { processID: number }).processID;
      const secret = (client as unknown as { secretKey: number }).secretKey;
      const key = Buffer.alloc(4);
      key.writeInt32BE(secret);
      for (let i = 0; i < 5; i++) {
        const local = client.query(BY_ID, [1]);
        await new Promise<void>((resolve, reject) => {
          const s = connect({ host: '127.0.0.1', port }, () => s.end(serializeCancelRequest(pid, key)));
          s.on('error', reject);
          s.resume();
          s.on('close', () => resolve());
        });
        assert.deepEqual((await local).rows, [{ id: 1, name: 'one' }]);
      }
      // The upstream session was never disturbed.
      assert.deepEqual((await client.query("select 'still here' as s")).rows, [{ s: 'still here' }]);
      assert.deepEqual((await client.query(BY_ID, [2])).rows, [{ id: 2, name: 'two' }]);
    } finally {
      await client.end();
    }
  });

  test('local off for the session: the same statements forward, results unchanged', async () => {
    router.localEnabled = false;
    try {
      const r = await both([
        Buffer.concat([parseMsg('s', BY_ID), bindMsg('', 's', ['2']), executeMsg(''), SYNC]),
      ]);
      assertSame(r);
      assert.equal(r.runs, 0);
    } finally {
      router.localEnabled = true;
    }
    assert.ok(metrics.statements.get({ route: 'local' }) > 0);
  });
});
