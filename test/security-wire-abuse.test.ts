/**
 * Wire abuse against the real `outpost` command: connections whose length
 * words claim 1 GiB (startup packet, password message before authentication,
 * small message types after login) and then stream bytes, truncated and
 * random frames. Each is sent to upstream Postgres directly too, so the test
 * pins what Postgres does (it refuses an over-long message as soon as its
 * header is read: after login silently, logging "invalid message length";
 * a password message with 28P01; a wrong type with FATAL 08P01) next to what
 * Outpost does (refuses at the header too, always with a FATAL 08P01).
 * Throughout, Outpost's resident memory stays bounded and a normal client
 * keeps getting answers; a large legitimate CopyData passes through without
 * being held whole. Bounded: a few seconds of streaming per connection.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { parseErrorFields } from '../src/wire/backend.js';
import { FrameReader } from '../src/wire/frames.js';
import { serializeQuery, serializeStartupMessage } from '../src/wire/frontend.js';
import { eventually, type OutpostProcess, startOutpost } from './helpers/outpost.js';
import { type PostgresInstance, startPostgres } from './helpers/postgres.js';
import { prng } from './helpers/prng.js';

const GIB = 1 << 30;
/** Postgres's largest accepted message length (PQ_LARGE_MESSAGE_LIMIT). */
const LARGEST = GIB - 1;
const RSS_LIMIT_MB = 250;
/** Streaming per abusive connection, at most. */
const STREAM_MS = 2_000;
const CHUNK = Buffer.alloc(64 * 1024, 0x41);

let upstream: PostgresInstance;
let dir: string;
let outpost: OutpostProcess;

/** Resident memory of the outpost process, in MB (from /proc, as the kernel counts it). */
function rssMb(): number {
  const status = readFileSync(`/proc/${outpost.proc.pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
  assert.ok(m, 'VmRSS in /proc/<pid>/status');
  return Number(m[1]) / 1024;
}

/** Samples the RSS until stopped; returns the peak. */
function watchRss(): { stop(): number } {
  let peak = rssMb();
  const timer = setInterval(() => {
    peak = Math.max(peak, rssMb());
  }, 25);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, rssMb());
    },
  };
}

function header(type: string | undefined, length: number): Buffer {
  if (type === undefined) {
    const b = Buffer.alloc(4);
    b.writeInt32BE(length);
    return b;
  }
  const b = Buffer.alloc(5);
  b[0] = type.charCodeAt(0);
  b.writeInt32BE(length, 1);
  return b;
}

interface Outcome {
  /** Messages received: type letter, or `E <severity> <code>` for errors. */
  messages: string[];
  /** The server closed the connection within the streaming budget (plus a few seconds' grace). */
  closed: boolean;
  /** Bytes of the abusive message written (header excluded). */
  streamed: number;
}

/** A connection that stays open, reading the server's messages. */
class Conn {
  readonly messages: string[] = [];
  readonly errors: Map<string, string>[] = [];
  closed = false;
  private readonly reader = new FrameReader();
  private readonly closedP: Promise<void>;
  private wake: (() => void) | undefined;

  private constructor(
    readonly socket: Socket,
    /** Replies are Postgres messages (false: HTTP, read by the caller). */
    wire: boolean,
  ) {
    socket.on('data', (chunk: Buffer) => {
      if (!wire) return;
      this.reader.push(chunk);
      for (let f = this.reader.next(); f; f = this.reader.next()) {
        const t = String.fromCharCode(f.type);
        if (t === 'E') {
          const fields = parseErrorFields(f.body);
          this.errors.push(fields);
          this.messages.push(`E ${fields.get('S')} ${fields.get('C')}`);
        } else {
          this.messages.push(t);
        }
      }
      this.wake?.();
    });
    socket.on('error', () => {});
    this.closedP = new Promise((resolve) =>
      socket.once('close', () => {
        this.closed = true;
        this.wake?.();
        resolve();
      }),
    );
  }

  static open(port: number, wire = true): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port }, () => resolve(new Conn(s, wire)));
      s.once('error', reject);
    });
  }

  /** Waits until `type` has been received (or the connection closed). */
  async until(type: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.messages.includes(type) && !this.closed) {
      assert.ok(Date.now() < deadline, `timed out waiting for ${type}; got ${this.messages.join(' ')}`);
      await new Promise<void>((r) => {
        this.wake = r;
        setTimeout(r, 50);
      });
    }
  }

  /** Writes `head`, then streams filler until the server closes or the budget is spent. */
  async stream(head: Buffer, budgetBytes = Number.POSITIVE_INFINITY): Promise<number> {
    const started = Date.now();
    let sent = 0;
    this.socket.write(head);
    while (!this.closed && Date.now() - started < STREAM_MS && sent < budgetBytes) {
      const ok = this.socket.write(CHUNK);
      sent += CHUNK.length;
      if (!ok) {
        await new Promise<void>((r) => {
          const t = setTimeout(r, 50);
          this.socket.once('drain', () => {
            clearTimeout(t);
            r();
          });
        });
      } else if (sent % (1024 * 1024) === 0) {
        await new Promise((r) => setImmediate(r));
      }
    }
    return sent;
  }

  async waitClosed(ms: number): Promise<boolean> {
    await Promise.race([this.closedP, new Promise((r) => setTimeout(r, ms))]);
    return this.closed;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

type Abuse = {
  name: string;
  /** What to send before the abusive message: nothing, a startup as a SCRAM user, or a trusted login. */
  login: 'none' | 'scram' | 'scram-eager' | 'trust';
  head: Buffer;
  /**
   * What Postgres answers before closing: a SQLSTATE, or none at all. An
   * over-long password message fails the authentication (28P01). Postgres
   * closes with the client's input unread, so its error may be lost to the
   * reset that causes (Outpost keeps reading until its error is out).
   */
  postgres: (string | undefined)[];
  outpost: string;
};

const ABUSES: Abuse[] = [
  // Postgres: MAX_STARTUP_PACKET_LENGTH, refused silently ("invalid length of startup packet" in its log).
  {
    name: 'startup packet claiming 1 GiB',
    login: 'none',
    head: header(undefined, GIB),
    postgres: [undefined],
    outpost: '08P01',
  },
  // PG_MAX_AUTH_TOKEN_LENGTH: refused silently ("invalid message length" in its log).
  {
    name: 'SASL response claiming 1 GiB',
    login: 'scram',
    head: header('p', GIB),
    postgres: ['28P01', undefined],
    outpost: '08P01',
  },
  {
    name: 'password message at the largest length',
    login: 'scram',
    head: header('p', LARGEST),
    postgres: ['28P01', undefined],
    outpost: '08P01',
  },
  // Sent before the server has even asked: the limit is the same.
  {
    name: 'password message before the request',
    login: 'scram-eager',
    head: header('p', GIB),
    postgres: ['28P01', undefined],
    outpost: '08P01',
  },
  // A wrong type instead of the response: FATAL from the type byte on.
  {
    name: 'Query instead of the SASL response',
    login: 'scram',
    head: header('Q', LARGEST),
    postgres: ['08P01', undefined],
    outpost: '08P01',
  },
  // PQ_SMALL_MESSAGE_LIMIT after login.
  {
    name: 'Sync claiming 1 GiB',
    login: 'trust',
    head: header('S', GIB),
    postgres: [undefined],
    outpost: '08P01',
  },
  {
    name: 'Execute at the largest length',
    login: 'trust',
    head: header('E', LARGEST),
    postgres: [undefined],
    outpost: '08P01',
  },
  {
    name: 'CopyDone at 10001 bytes',
    login: 'trust',
    head: header('c', 10_001),
    postgres: [undefined],
    outpost: '08P01',
  },
  {
    name: 'Terminate claiming 1 GiB',
    login: 'trust',
    head: header('X', GIB),
    postgres: [undefined],
    outpost: '08P01',
  },
  // PQ_LARGE_MESSAGE_LIMIT: one over it.
  {
    name: 'Query claiming 1 GiB',
    login: 'trust',
    head: header('Q', GIB),
    postgres: [undefined],
    outpost: '08P01',
  },
  // Postgres: "invalid frontend message type 122", FATAL at the type byte.
  {
    name: 'unknown type claiming 1 GiB',
    login: 'trust',
    head: header('z', GIB),
    postgres: ['08P01', undefined],
    outpost: '08P01',
  },
];

async function login(c: Conn, mode: Abuse['login']): Promise<void> {
  if (mode === 'none') return;
  const user = mode === 'trust' ? 'abuser' : 'postgres';
  c.socket.write(
    serializeStartupMessage([
      ['user', user],
      ['database', 'postgres'],
    ]),
  );
  if (mode === 'scram') await c.until('R');
  if (mode === 'trust') await c.until('Z');
}

async function runAbuse(port: number, abuse: Abuse): Promise<Outcome> {
  const c = await Conn.open(port);
  try {
    await login(c, abuse.login);
    const before = c.messages.length;
    const streamed = await c.stream(abuse.head);
    const closed = await c.waitClosed(3_000);
    return { messages: c.messages.slice(before), closed, streamed };
  } finally {
    c.destroy();
  }
}

/** The SQLSTATE of the last message if it is an ErrorResponse. */
function lastError(o: Outcome): string | undefined {
  const last = o.messages.at(-1);
  return last?.startsWith('E ') ? last.split(' ')[2] : undefined;
}

/** A normal client, querying in a loop until stopped: every answer must be right. */
function normalClient(): { stop(): Promise<number>; cancel(): void } {
  let running = true;
  let served = 0;
  const done = (async () => {
    const c = new pg.Client({
      host: '127.0.0.1',
      port: outpost.port,
      user: 'postgres',
      password: 'postgres',
    });
    await c.connect();
    try {
      while (running) {
        const local = await c.query('select count(*)::int as n from items');
        assert.equal(local.rows[0]?.n, 100);
        const forwarded = await c.query('select pg_backend_pid() > 0 as ok');
        assert.equal(forwarded.rows[0]?.ok, true);
        served++;
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      await c.end();
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      return served;
    },
    /** Cleanup after a failed assertion: stop without waiting or rethrowing. */
    cancel() {
      running = false;
      done.catch(() => {});
    },
  };
}

before(async () => {
  upstream = await startPostgres();
  const hba = `${upstream.dataDir}/pg_hba.conf`;
  writeFileSync(hba, `host all abuser 127.0.0.1/32 trust\n${readFileSync(hba, 'utf8')}`);
  await upstream.query('create role abuser login');
  await upstream.query('create table items (id int primary key, payload text)');
  await upstream.query("insert into items select g, 'x' from generate_series(1, 100) g");
  await upstream.query('create table sink (payload text)');
  await upstream.query('grant insert on sink to abuser');
  await upstream.query('select pg_reload_conf()');
  dir = mkdtempSync(join(tmpdir(), 'outpost-wire-abuse-'));
  outpost = await startOutpost({ upstream: upstream.url(), replica: join(dir, 'r.db') });
  await outpost.ready();
});

after(async () => {
  await outpost?.stop();
  await upstream?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('over-long messages', () => {
  for (const abuse of ABUSES) {
    test(`${abuse.name}: refused at the header, as by Postgres`, async () => {
      const direct = await runAbuse(upstream.port, abuse);
      assert.ok(direct.closed, `Postgres closed (${direct.messages.join(' ')})`);
      assert.ok(abuse.postgres.includes(lastError(direct)), `Postgres: ${direct.messages.join(' ')}`);
      assert.ok(
        direct.streamed < 64 * 1024 * 1024,
        `Postgres read ${direct.streamed} bytes before the close`,
      );

      const proxied = await runAbuse(outpost.port, abuse);
      assert.ok(proxied.closed, `Outpost closed (${proxied.messages.join(' ')})`);
      assert.equal(lastError(proxied), abuse.outpost, `Outpost: ${proxied.messages.join(' ')}`);
      assert.match(proxied.messages.at(-1) ?? '', /^E FATAL /);
      // Refused from the header on: not after a gigabyte.
      assert.ok(proxied.streamed < 64 * 1024 * 1024, `streamed ${proxied.streamed} bytes before the close`);
    });
  }
});

describe('cancel requests and the HTTP endpoints', () => {
  test('a CancelRequest followed by a stream: nothing answered, closed at once, as by Postgres', async () => {
    const cancel = Buffer.alloc(16);
    cancel.writeInt32BE(16, 0);
    cancel.writeInt32BE(80877102, 4);
    cancel.writeInt32BE(12345, 8);
    cancel.writeInt32BE(67890, 12);
    for (const port of [upstream.port, outpost.port]) {
      const c = await Conn.open(port);
      try {
        const streamed = await c.stream(cancel);
        assert.ok(await c.waitClosed(3_000), `closed (${port === outpost.port ? 'Outpost' : 'Postgres'})`);
        assert.deepEqual(c.messages, []);
        assert.ok(streamed < 64 * 1024 * 1024, `read ${streamed} bytes after a CancelRequest`);
      } finally {
        c.destroy();
      }
    }
  });

  test('a CancelRequest of the wrong length: FATAL 08P01 from Outpost (Postgres closes silently)', async () => {
    for (const keyLength of [0, 2, 300]) {
      const packet = Buffer.alloc(12 + keyLength);
      packet.writeInt32BE(packet.length, 0);
      packet.writeInt32BE(80877102, 4);
      const c = await Conn.open(outpost.port);
      try {
        c.socket.write(packet);
        assert.ok(await c.waitClosed(3_000));
        assert.deepEqual(c.messages, ['E FATAL 08P01'], `key of ${keyLength} bytes`);
      } finally {
        c.destroy();
      }
    }
  });

  test('HTTP: a streamed request body is refused and the connection closed; long headers refused', async () => {
    const baseline = rssMb();
    for (const [method, path] of [
      ['POST', '/status'],
      ['GET', '/metrics'],
    ] as const) {
      const c = await Conn.open(outpost.httpPort, false);
      let reply = '';
      c.socket.on('data', (b: Buffer) => {
        reply += b.toString('latin1');
      });
      try {
        const head = `${method} ${path} HTTP/1.1\r\nhost: x\r\ncontent-length: ${GIB}\r\n\r\n`;
        const streamed = await c.stream(Buffer.from(head));
        assert.ok(await c.waitClosed(3_000), `${method} ${path} with a body: closed`);
        // (The reply itself may be lost to the reset of the unread stream.)
        assert.ok(reply === '' || /^HTTP\/1\.1 (405|413) /.test(reply), reply.slice(0, 100));
        assert.ok(streamed < 64 * 1024 * 1024, `${method} ${path}: ${streamed} bytes read before the close`);
      } finally {
        c.destroy();
      }
    }
    const small = await fetch(`http://127.0.0.1:${outpost.httpPort}/status`, {
      method: 'POST',
      body: 'hello',
    });
    assert.equal(small.status, 405);
    const withBody = await new Promise<string>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port: outpost.httpPort }, () =>
        s.write('GET /status HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\nhello'),
      );
      let text = '';
      s.on('data', (b: Buffer) => {
        text += b.toString('latin1');
      });
      s.on('close', () => resolve(text));
      s.on('error', reject);
    });
    assert.match(withBody, /^HTTP\/1\.1 413 /);
    assert.match(withBody, /connection: close/i);
    const long = await fetch(`http://127.0.0.1:${outpost.httpPort}/status`, {
      headers: { 'x-long': 'a'.repeat(16 * 1024) },
    }).catch((err: Error) => err);
    assert.ok(long instanceof Error || long.status === 431, 'headers over the limit refused');
    const ok = await outpost.http('/healthz');
    assert.equal(ok.status, 200);
    assert.ok(rssMb() - baseline < 64, 'nothing buffered');
  });
});

describe('under abuse', () => {
  test('20 connections per abuse at once, truncated and random frames: memory bounded, a normal client served', async (t) => {
    const baseline = rssMb();
    const rss = watchRss();
    const normal = normalClient();
    t.after(() => {
      normal.cancel();
      rss.stop();
    });
    const rand = prng(1313);
    const outcomes: { abuse: Abuse; outcome: Outcome }[] = [];
    // One abuse at a time (20 connections each), so that the trusted logins
    // stay within upstream's max_connections.
    for (const abuse of ABUSES) {
      const group = Array.from({ length: 20 }, () =>
        runAbuse(outpost.port, abuse).then((outcome) => outcomes.push({ abuse, outcome })),
      );
      await Promise.all(group);
    }
    // Truncated frames: a message cut short, then the client goes away.
    await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const c = await Conn.open(outpost.port);
        await login(c, i % 2 === 0 ? 'trust' : 'none');
        const whole =
          i % 2 === 0
            ? serializeQuery('select 1')
            : serializeStartupMessage([
                ['user', 'abuser'],
                ['database', 'postgres'],
              ]);
        c.socket.end(whole.subarray(0, 1 + Math.floor(rand() * (whole.length - 1))));
        assert.ok(await c.waitClosed(5_000), 'a truncated connection is closed');
      }),
    );
    // Random frames after login: cut off with a FATAL, or left waiting for
    // the rest of a message that looked plausible; never a crash.
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        const c = await Conn.open(outpost.port);
        await login(c, 'trust');
        const before = c.messages.length;
        const garbage = Buffer.alloc(256 + Math.floor(rand() * 4096));
        for (let j = 0; j < garbage.length; j++) garbage[j] = Math.floor(rand() * 256);
        c.socket.write(garbage);
        if (await c.waitClosed(1_000)) {
          const fatal = c.errors.some((e) => e.get('S') === 'FATAL');
          assert.ok(fatal || c.messages.length === before, `closed after ${c.messages.join(' ')}`);
        }
        c.destroy();
      }),
    );
    const served = await normal.stop();
    const peak = rss.stop();
    t.diagnostic(
      `RSS baseline ${baseline.toFixed(0)} MB, peak ${peak.toFixed(0)} MB; normal client served ${served}`,
    );
    assert.ok(served >= 5, `the normal client was served ${served} times during the abuse`);
    assert.ok(
      peak < RSS_LIMIT_MB,
      `outpost RSS peaked at ${peak.toFixed(0)} MB (baseline ${baseline.toFixed(0)} MB)`,
    );
    for (const { abuse, outcome } of outcomes) {
      assert.ok(outcome.closed, `${abuse.name}: closed`);
      assert.equal(lastError(outcome), abuse.outpost, `${abuse.name}: ${outcome.messages.join(' ')}`);
      assert.ok(outcome.streamed < 64 * 1024 * 1024, `${abuse.name}: streamed ${outcome.streamed} bytes`);
    }
    // Every abusive session is gone.
    await eventually(
      async () => {
        const m = await outpost.http('/metrics');
        return /^outpost_clients_connected 0$/m.test(m.body);
      },
      10_000,
      'no session left open',
    );
  });

  test('a large CopyData passes through piece by piece, not held whole', async (t) => {
    // Four sessions each stream 48 MiB of one 100 MiB CopyData message (of a
    // COPY FROM STDIN upstream accepts); held whole, that would be 192 MiB or more.
    const baseline = rssMb();
    const rss = watchRss();
    const normal = normalClient();
    t.after(() => {
      normal.cancel();
      rss.stop();
    });
    const runs = Array.from({ length: 4 }, async () => {
      const c = await Conn.open(outpost.port);
      try {
        await login(c, 'trust');
        c.socket.write(serializeQuery('copy sink from stdin'));
        await c.until('G');
        // (Postgres cannot take a CopyData near 1 GiB: it needs room for a terminating NUL too.)
        const sent = await c.stream(header('d', 100 * 1024 * 1024), 48 * 1024 * 1024);
        assert.ok(!c.closed, `the COPY is still going (${c.messages.join(' ')})`);
        return sent;
      } finally {
        c.destroy();
      }
    });
    const sent = await Promise.all(runs);
    const served = await normal.stop();
    const peak = rss.stop();
    assert.ok(served >= 1, 'the normal client was served during the copy');
    const total = sent.reduce((a, b) => a + b, 0);
    t.diagnostic(
      `${(total / 1024 / 1024).toFixed(0)} MB streamed; RSS baseline ${baseline.toFixed(0)} MB, peak ${peak.toFixed(0)} MB`,
    );
    assert.ok(total >= 16 * 1024 * 1024, `streamed ${total} bytes`);
    assert.ok(
      peak - baseline < 48,
      `outpost RSS grew by ${(peak - baseline).toFixed(0)} MB while ${(total / 1024 / 1024).toFixed(0)} MB of CopyData passed`,
    );
  });
});
