/**
 * The hidden queries Outpost pipelines behind a forwarded write (the session
 * state check, upstream's WAL position) against a real Postgres, through a
 * relay that can hold upstream's replies back:
 * - a write sent while the previous write's check is still unanswered gets
 *   its own check and position in the same write upstream (not later, on
 *   their own, with the position looked up on another connection);
 * - Postgres drops the unnamed prepared statement at every simple Query,
 *   hidden ones included: a client reusing its unnamed statement after a
 *   forwarded write, or after a simple Query of its own, gets what Postgres
 *   gives it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { serializeQuery } from '../src/wire/frontend.js';
import { eventually, type OutpostProcess, startOutpost } from './helpers/outpost.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';
import {
  bindMsg,
  describeMessages,
  errorOf,
  executeMsg,
  type Message,
  parseMsg,
  RawClient,
  SYNC,
} from './helpers/wire-client.js';

const ROLE = 'hiddenraw';
const UPDATE_A = 'update items set v = v where id = $1';
const UPDATE_B = 'update items set v = v + 0 where id = $1';
const READ = 'select v from items where id = $1';

/**
 * A TCP relay in front of Postgres that records every chunk Outpost sends
 * and, once armed, holds back upstream's replies on a connection from the
 * first RowDescription of the session state check (its column
 * `current_user`) until released.
 */
class GateRelay {
  readonly sent: Buffer[] = [];
  private armed = false;
  private readonly held: { to: Socket; chunk: Buffer }[] = [];
  private readonly holding = new Set<Socket>();
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  async start(target: number): Promise<number> {
    const server = createServer({ noDelay: true }, (inbound) => {
      const outbound = connect({ host: '127.0.0.1', port: target, noDelay: true });
      this.sockets.add(inbound).add(outbound);
      inbound.on('data', (chunk: Buffer) => {
        this.sent.push(Buffer.from(chunk));
        outbound.write(chunk);
      });
      let pending = Buffer.alloc(0);
      let first = true;
      outbound.on('data', (chunk: Buffer) => {
        // The answer to an SSLRequest is one untyped byte.
        if (first && chunk.length === 1 && chunk[0] === 0x4e) {
          first = false;
          inbound.write(chunk);
          return;
        }
        first = false;
        if (this.holding.has(inbound)) {
          this.held.push({ to: inbound, chunk: Buffer.from(chunk) });
          return;
        }
        pending = Buffer.concat([pending, chunk]);
        let off = 0;
        while (pending.length - off >= 5) {
          const len = pending.readInt32BE(off + 1);
          if (pending.length - off < 1 + len) break;
          const type = pending[off];
          if (
            this.armed &&
            type === 0x54 &&
            pending.subarray(off, off + 1 + len).includes(Buffer.from('current_user\0'))
          ) {
            inbound.write(pending.subarray(0, off));
            this.holding.add(inbound);
            this.held.push({ to: inbound, chunk: Buffer.from(pending.subarray(off)) });
            pending = Buffer.alloc(0);
            return;
          }
          off += 1 + len;
        }
        inbound.write(pending.subarray(0, off));
        pending = Buffer.from(pending.subarray(off));
      });
      inbound.on('close', () => outbound.destroy());
      outbound.on('close', () => inbound.destroy());
      inbound.on('error', () => {});
      outbound.on('error', () => {});
    });
    this.server = server;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return (server.address() as { port: number }).port;
  }

  arm(): void {
    this.armed = true;
  }

  /** Sends what was held, in order, and stops holding. */
  release(): void {
    this.armed = false;
    this.holding.clear();
    for (const { to, chunk } of this.held.splice(0)) to.write(chunk);
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server?.close(r));
  }
}

let upstream: PostgresInstance;
let relay: GateRelay;
let outpost: OutpostProcess;
let dir: string;

before(async () => {
  upstream = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'outpost-hidden-'));
  await upstream.query(
    `create table items (id int primary key, v int not null);
     insert into items select g, g from generate_series(1, 10) g`,
  );
  const hba = `${upstream.dataDir}/pg_hba.conf`;
  writeFileSync(hba, `host all ${ROLE} 127.0.0.1/32 trust\n${readFileSync(hba, 'utf8')}`);
  await upstream.query(`create role ${ROLE} login; grant select, update on items to ${ROLE}`);
  await upstream.query('select pg_reload_conf()');
  relay = new GateRelay();
  const port = await relay.start(upstream.port);
  outpost = await startOutpost({
    upstream: upstream.url().replace(`:${upstream.port}/`, `:${port}/`),
    replica: join(dir, 'r.db'),
  });
  await outpost.ready();
  // The role's privileges are looked up once: until then reads are forwarded.
  const warm = await RawClient.session(outpost.port, ROLE);
  await eventually(async () => {
    await warm.run(serializeQuery('select v from items where id = 1'));
    return (await lastRoute(warm)) === 'local';
  });
  warm.close();
});

after(async () => {
  await outpost?.stop();
  await relay?.stop();
  await upstream?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function lastRoute(c: RawClient): Promise<string> {
  const row = (await c.run(serializeQuery('show outpost.last_route'))).find((m) => m.type === 'D');
  return row ? row.body.subarray(6).toString() : '';
}

const write = (sql: string, id: number) =>
  Buffer.concat([parseMsg('', sql), bindMsg('', '', [String(id)]), executeMsg(''), SYNC]);
const rebind = (id: number) => Buffer.concat([bindMsg('', '', [String(id)]), executeMsg(''), SYNC]);
const types = (msgs: Message[]) => msgs.map((m) => m.type).join('');

test('a write sent while the previous write is still being checked gets its check and position in the same write', async () => {
  const c = await RawClient.session(outpost.port, ROLE);
  try {
    await c.run(write(UPDATE_A, 1));
    await new Promise((r) => setTimeout(r, 200));
    relay.arm();
    // Its reply comes; the check behind it stays unanswered (held by the relay).
    assert.equal(types(await c.run(write(UPDATE_A, 2))), '12CZ');
    const mark = relay.sent.length;
    c.send(write(UPDATE_B, 3));
    const marker = Buffer.from(UPDATE_B);
    await eventually(async () => relay.sent.slice(mark).some((b) => b.includes(marker)), 10_000, 'the write');
    await new Promise((r) => setTimeout(r, 200));
    const chunk = relay.sent.slice(mark).find((b) => b.includes(marker)) as Buffer;
    const after = chunk.subarray(chunk.indexOf(marker));
    assert.ok(after.includes(Buffer.from('current_user')), 'the state check goes right behind the write');
    assert.ok(
      after.includes(Buffer.from('pg_current_wal_insert_lsn')),
      'the position is read in the same write',
    );
    relay.release();
    assert.equal(types(await c.untilReady()), '12CZ');
    // The hidden checks were simple Queries: the unnamed statement is Parsed upstream again.
    assert.equal(types(await c.run(rebind(4))), '2CZ');
  } finally {
    relay.release();
    c.close();
  }
});

test('the unnamed statement outlives the hidden queries behind a forwarded write, as in Postgres', async () => {
  const o = await RawClient.session(outpost.port, ROLE);
  const d = await RawClient.session(upstream.port, ROLE);
  try {
    for (const c of [o, d]) {
      assert.equal(types(await c.run(write(UPDATE_A, 5))), '12CZ');
      // Let the hidden queries behind it (Outpost's) reach upstream first.
      await new Promise((r) => setTimeout(r, 100));
    }
    for (let i = 0; i < 3; i++) {
      const [viaOutpost, direct] = [await o.run(rebind(6 + i)), await d.run(rebind(6 + i))];
      assert.deepEqual(describeMessages(viaOutpost), describeMessages(direct), `re-Bind ${i}`);
      assert.equal(types(viaOutpost), '2CZ');
    }
  } finally {
    o.close();
    d.close();
  }
});

test("a client's simple Query ends its unnamed statement, whether it runs locally or upstream", async () => {
  const o = await RawClient.session(outpost.port, ROLE);
  const d = await RawClient.session(upstream.port, ROLE);
  try {
    const read = Buffer.concat([parseMsg('', READ), bindMsg('', '', ['1']), executeMsg(''), SYNC]);
    for (const query of ['show outpost.last_route', 'select 1', 'update items set v = v where id = 9']) {
      await eventually(
        async () => {
          await o.run(read);
          return (await lastRoute(o)) === 'local';
        },
        20_000,
        'a local read',
      );
      await o.run(read);
      const local = await o.run(serializeQuery(query));
      assert.equal(local.at(-1)?.type, 'Z');
      const viaOutpost = await o.run(rebind(1));
      assert.equal(errorOf(viaOutpost)?.get('C'), '26000', `after ${query}: ${types(viaOutpost)}`);
      await d.run(read);
      await d.run(serializeQuery(query === 'show outpost.last_route' ? 'select 1' : query));
      assert.deepEqual(describeMessages(viaOutpost), describeMessages(await d.run(rebind(1))), query);
    }
  } finally {
    o.close();
    d.close();
  }
});
