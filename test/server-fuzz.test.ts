/**
 * Fuzzing the proxy in front of a real Postgres: hundreds of connections
 * sending valid sessions with bytes flipped, truncated streams, oversized
 * length words (up to and beyond 1 GiB), unknown message types and messages
 * out of order, in random chunks. Throughout, a well-behaved client keeps
 * getting right answers (local and upstream, simple and extended); every bad
 * client gets well-formed replies and, when it is cut off, a FATAL (08P01 for
 * framing) or a plain close; sessions and memory return to where they were.
 * Bounded: a fixed seed, a fixed number of connections, a time budget.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import pg from 'pg';
import { NotLocal } from '../src/errors.js';
import { silentLogger } from '../src/log.js';
import { createMetrics } from '../src/metrics.js';
import type { FieldDescription, PreparedRoute, QueryRouter, Route } from '../src/router/types.js';
import { ProxyServer } from '../src/server/proxy-server.js';
import type { SessionState } from '../src/session.js';
import { parseErrorFields } from '../src/wire/backend.js';
import { FrameReader } from '../src/wire/frames.js';
import { serializeQuery, serializeStartupMessage } from '../src/wire/frontend.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';
import { prng } from './helpers/prng.js';
import {
  bindMsg,
  closeMsg,
  describeMsg,
  executeMsg,
  FLUSH,
  msg,
  parseMsg,
  SYNC,
} from './helpers/wire-client.js';

const SEED = Number(process.env.OUTPOST_FUZZ_SEED ?? 20240531);
const CONNECTIONS = Number(process.env.OUTPOST_FUZZ_CONNECTIONS ?? 400);
const CONCURRENCY = 8;
const BUDGET_MS = 60_000;

const INT4: FieldDescription = {
  name: 'int4',
  tableOid: 0,
  columnAttr: 0,
  typeOid: 23,
  typeSize: 4,
  typeModifier: -1,
  format: 0,
};
const LOCAL_42: FieldDescription = { ...INT4, name: 'local_answer' };

/** Local answers for a couple of statements, so the fuzz reaches the local paths too. */
const router: QueryRouter = {
  route(sql: string): Route {
    const s = sql.trim().toLowerCase();
    if (s === 'show outpost.last_route') return { kind: 'show-last-route' };
    if (s === 'select 42') {
      return { kind: 'local', run: () => [{ fields: [LOCAL_42], rows: [['42']], commandTag: 'SELECT 1' }] };
    }
    return { kind: 'upstream', reason: 'fuzz' };
  },
  prepare(sql: string, _declared: readonly number[], session: SessionState): PreparedRoute {
    if (sql !== 'select $1::int4' || session.txStatus !== 'I') return { kind: 'upstream', reason: 'fuzz' };
    session.lastRoute = 'local';
    return {
      kind: 'local',
      prepared: {
        paramTypes: [23],
        fields: [INT4],
        run(params) {
          const p = params[0] ?? null;
          if (p !== null && !/^-?\d{1,9}$/.test(p)) throw new NotLocal('fuzz: not an int4');
          return { fields: [INT4], rows: [[p === null ? null : String(Number(p))]], commandTag: 'SELECT 1' };
        },
      },
    };
  },
};

let upstream: PostgresInstance;
let proxy: ProxyServer;
let port: number;

before(async () => {
  upstream = await startPostgres();
  const hba = `${upstream.dataDir}/pg_hba.conf`;
  writeFileSync(hba, `host all fuzzer 127.0.0.1/32 trust\n${readFileSync(hba, 'utf8')}`);
  await upstream.query('create role fuzzer login');
  await upstream.query('select pg_reload_conf()');
  await new Promise((r) => setTimeout(r, 300));
  proxy = new ProxyServer({
    listen: { host: '127.0.0.1', port: 0 },
    upstream: { host: upstream.host, port: upstream.port },
    router,
    logger: silentLogger(),
    metrics: createMetrics(),
  });
  await proxy.start();
  port = proxy.address().port;
});

after(async () => {
  await proxy?.close(1000);
  await upstream?.stop();
});

type Kind =
  | 'valid'
  | 'flipped'
  | 'truncated'
  | 'oversized'
  | 'huge'
  | 'unknown-type'
  | 'out-of-order'
  | 'garbage'
  | 'startup-garbage';
const KINDS: Kind[] = [
  'valid',
  'flipped',
  'truncated',
  'oversized',
  'huge',
  'unknown-type',
  'out-of-order',
  'garbage',
  'startup-garbage',
];

function startup(): Buffer {
  return serializeStartupMessage([
    ['user', 'fuzzer'],
    ['database', 'postgres'],
  ]);
}

/** A random valid conversation after startup (frames kept separate for mutation). */
function conversation(rand: () => number): Buffer[] {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const frames: Buffer[] = [];
  const n = 1 + Math.floor(rand() * 6);
  for (let i = 0; i < n; i++) {
    switch (Math.floor(rand() * 6)) {
      case 0:
        frames.push(
          serializeQuery(pick(['select 42', 'select 1', 'show outpost.last_route', 'select pg_sleep(0.01)'])),
        );
        break;
      case 1:
        frames.push(parseMsg('', 'select $1::int4'), bindMsg('', '', [String(Math.floor(rand() * 100))]));
        frames.push(describeMsg('P', ''), executeMsg(''), SYNC);
        break;
      case 2:
        frames.push(parseMsg('s', 'select $1::int4'), bindMsg('p', 's', ['7']), executeMsg('p', 1), FLUSH);
        frames.push(executeMsg('p', 1), closeMsg('P', 'p'), closeMsg('S', 's'), SYNC);
        break;
      case 3:
        frames.push(parseMsg('', "select 'x' || $1", [25]), bindMsg('', '', ['y']), executeMsg(''), SYNC);
        break;
      case 4:
        frames.push(serializeQuery('begin'), serializeQuery('select 1'), serializeQuery('commit'));
        break;
      default:
        frames.push(parseMsg('', 'selec'), bindMsg('', ''), executeMsg(''), SYNC);
    }
  }
  if (rand() < 0.3) frames.push(msg('X'));
  return frames;
}

function mutate(kind: Kind, rand: () => number): Buffer {
  const frames = conversation(rand);
  const body = Buffer.concat(frames);
  switch (kind) {
    case 'valid':
      return Buffer.concat([startup(), body]);
    case 'flipped': {
      const all = Buffer.concat([startup(), body]);
      const flips = 1 + Math.floor(rand() * 4);
      for (let i = 0; i < flips; i++) {
        const at = Math.floor(rand() * all.length);
        all[at] = (all[at] ?? 0) ^ (1 << Math.floor(rand() * 8));
      }
      return all;
    }
    case 'truncated': {
      const all = Buffer.concat([startup(), body]);
      return all.subarray(0, Math.floor(rand() * all.length));
    }
    case 'oversized': {
      // A plausible type with a length word up to 1 GiB - 1, and only a little data.
      const head = Buffer.alloc(5);
      head[0] = 'QPBEDS'.charCodeAt(Math.floor(rand() * 6));
      head.writeInt32BE(5 + Math.floor(rand() * (0x3fff_ffff - 5)), 1);
      return Buffer.concat([
        startup(),
        frames[0] ?? Buffer.alloc(0),
        head,
        Buffer.alloc(Math.floor(rand() * 4096), 0x61),
      ]);
    }
    case 'huge': {
      const head = Buffer.alloc(5);
      head[0] = 0x51;
      head.writeInt32BE(0x4000_0000 + Math.floor(rand() * 0x3fff_ffff), 1);
      return Buffer.concat([startup(), head]);
    }
    case 'unknown-type': {
      const types = [0x00, 0x01, 0x41, 0x5a, 0x7e, 0xff, 0x71];
      return Buffer.concat([
        startup(),
        frames[0] ?? Buffer.alloc(0),
        msg(String.fromCharCode(types[Math.floor(rand() * types.length)] ?? 0), 'junk'),
      ]);
    }
    case 'out-of-order': {
      const wrong = [
        bindMsg('', 'never-parsed'),
        executeMsg('no-portal'),
        msg('p', 'password-after-ready'),
        startup(),
        msg('d', 'copy data outside copy'),
        msg('c'),
        msg('f', 'copy fail'),
        describeMsg('S', 'nope'),
        msg('F', Buffer.from([0, 0, 0, 1])),
      ];
      const pre = rand() < 0.3 ? [] : [startup()];
      return Buffer.concat([...pre, wrong[Math.floor(rand() * wrong.length)] as Buffer, ...frames]);
    }
    case 'garbage': {
      const junk = Buffer.alloc(1 + Math.floor(rand() * 300));
      for (let i = 0; i < junk.length; i++) junk[i] = Math.floor(rand() * 256);
      return Buffer.concat([startup(), junk]);
    }
    case 'startup-garbage': {
      const junk = Buffer.alloc(1 + Math.floor(rand() * 64));
      for (let i = 0; i < junk.length; i++) junk[i] = Math.floor(rand() * 256);
      return junk;
    }
  }
}

interface Outcome {
  kind: Kind;
  closedByServer: boolean;
  fatal: Map<string, string> | undefined;
  malformedReply: string | undefined;
}

/** One bad client: send in random chunks, read everything back, give up after a while. */
function runOne(kind: Kind, bytes: Buffer, rand: () => number): Promise<Outcome> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    const reader = new FrameReader();
    let fatal: Map<string, string> | undefined;
    let malformedReply: string | undefined;
    let closedByServer = false;
    let answeredSsl = false;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ kind, closedByServer, fatal, malformedReply });
    };
    const timer = setTimeout(finish, 300 + Math.floor(rand() * 300));
    s.on('error', () => {});
    s.on('data', (chunk: Buffer) => {
      try {
        // A single 'N'/'S' can only answer an SSLRequest/GSSENCRequest a mutation produced.
        if (!answeredSsl && chunk.length === 1 && (chunk[0] === 0x4e || chunk[0] === 0x53)) {
          answeredSsl = true;
          return;
        }
        reader.push(chunk);
        for (let f = reader.next(); f; f = reader.next()) {
          if (f.type === 0x45) {
            const fields = parseErrorFields(f.body);
            if (fields.get('S') === 'FATAL') fatal = fields;
          }
        }
      } catch (err) {
        malformedReply = (err as Error).message;
      }
    });
    s.on('end', () => {
      closedByServer = true;
      finish();
    });
    s.on('close', finish);
    s.on('connect', () => {
      let off = 0;
      const sendSome = () => {
        if (done || s.destroyed) return;
        if (off >= bytes.length) {
          if (rand() < 0.3) s.end();
          return;
        }
        const n = 1 + Math.floor(rand() * Math.min(512, bytes.length - off));
        s.write(bytes.subarray(off, off + n));
        off += n;
        if (rand() < 0.5) sendSome();
        else setTimeout(sendSome, Math.floor(rand() * 5));
      };
      sendSome();
    });
  });
}

function getGc(): (() => void) | undefined {
  try {
    v8.setFlagsFromString('--expose-gc');
    return vm.runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}

async function heapAfterGc(gc: (() => void) | undefined): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().heapUsed;
}

test('fuzzed clients never disturb a well-behaved one; every bad client gets FATAL or a close', async (t) => {
  const started = Date.now();
  t.diagnostic(`seed ${SEED}, ${CONNECTIONS} connections`);

  // The well-behaved client, running throughout.
  const good = new pg.Client({ host: '127.0.0.1', port, user: 'fuzzer', database: 'postgres' });
  await good.connect();
  let goodRounds = 0;
  let stop = false;
  const goodLoop = (async () => {
    while (!stop) {
      const local = await good.query('select 42');
      assert.deepEqual(local.rows, [{ local_answer: 42 }]);
      const up = await good.query('select $1::int4 + 1 as n', [goodRounds]);
      assert.deepEqual(up.rows, [{ n: goodRounds + 1 }]);
      const prepared = await good.query({ name: 'echo', text: 'select $1::int4', values: [goodRounds] });
      assert.deepEqual(prepared.rows, [{ int4: goodRounds }]);
      goodRounds++;
      await new Promise((r) => setTimeout(r, 5));
    }
  })();

  const gc = getGc();
  const outcomes: Outcome[] = [];
  let heapWarm = 0;
  let next = 0;
  const worker = async () => {
    while (next < CONNECTIONS && Date.now() - started < BUDGET_MS) {
      const i = next++;
      const kind = KINDS[i % KINDS.length] as Kind;
      const r = prng(SEED + i);
      outcomes.push(await runOne(kind, mutate(kind, r), r));
      if (i === Math.floor(CONNECTIONS / 4)) heapWarm = await heapAfterGc(gc);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  stop = true;
  await goodLoop;
  await good.end();

  t.diagnostic(
    `${outcomes.length} bad connections in ${Date.now() - started} ms; good client did ${goodRounds} rounds`,
  );
  assert.ok(goodRounds > 10, 'the good client kept going');
  for (const o of outcomes) {
    assert.equal(o.malformedReply, undefined, `${o.kind}: malformed reply ${o.malformedReply}`);
    if (o.fatal) assert.match(o.fatal.get('C') ?? '', /^[0-9A-Z]{5}$/, `${o.kind}: FATAL has a SQLSTATE`);
  }
  // Framing violations: FATAL 08P01 (or just a close).
  for (const o of outcomes.filter((x) => x.kind === 'huge')) {
    assert.ok(o.closedByServer, 'huge: closed');
    assert.equal(o.fatal?.get('C'), '08P01', 'huge: FATAL 08P01');
  }
  for (const o of outcomes.filter((x) => x.kind === 'startup-garbage' || x.kind === 'unknown-type')) {
    if (o.fatal) assert.equal(o.fatal.get('C'), '08P01', `${o.kind}: ${o.fatal.get('M')}`);
  }
  const closed = outcomes.filter((o) => o.closedByServer).length;
  t.diagnostic(`${closed} closed by the server, ${outcomes.filter((o) => o.fatal).length} with FATAL`);

  // Every session is released, and memory does not grow with the number of clients.
  const deadline = Date.now() + 10_000;
  while (proxy.clientCount() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal(proxy.clientCount(), 0, 'all sessions closed');
  const heapEnd = await heapAfterGc(gc);
  t.diagnostic(
    `heap after GC: ${(heapWarm / 1e6).toFixed(1)} MB at 1/4, ${(heapEnd / 1e6).toFixed(1)} MB at the end`,
  );
  if (gc) assert.ok(heapEnd - heapWarm < 32e6, 'heap does not grow with the number of bad clients');

  // And the proxy still serves.
  const after = new pg.Client({ host: '127.0.0.1', port, user: 'fuzzer', database: 'postgres' });
  await after.connect();
  assert.deepEqual((await after.query('select $1::int4', [5])).rows, [{ int4: 5 }]);
  await after.end();
});
