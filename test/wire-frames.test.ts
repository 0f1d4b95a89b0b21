import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PgError } from '../src/errors.js';
import {
  type Frame,
  FrameReader,
  FrameScanner,
  MAX_MESSAGE_LENGTH,
  MAX_STARTUP_PACKET_LENGTH,
  STARTUP_PACKET,
  STREAM_ABOVE,
} from '../src/wire/frames.js';
import {
  authMessageLimit,
  PG_MAX_AUTH_TOKEN_LENGTH,
  PQ_LARGE_MESSAGE_LIMIT,
  PQ_SMALL_MESSAGE_LIMIT,
  SSL_REQUEST,
  serializeQuery,
  serializeStartupMessage,
  sessionMessageLimit,
  TERMINATE,
} from '../src/wire/frontend.js';

function typed(type: string, body: Buffer | string): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body) : body;
  const head = Buffer.alloc(5);
  head[0] = type.charCodeAt(0);
  head.writeInt32BE(b.length + 4, 1);
  return Buffer.concat([head, b]);
}

/** Copies what a frame holds, since frames are views valid only until the next push. */
function snapshot(f: Frame): { type: number; body: string; raw: string } {
  return { type: f.type, body: f.body.toString('hex'), raw: f.raw.toString('hex') };
}

function drain(reader: FrameReader): ReturnType<typeof snapshot>[] {
  const out = [];
  for (let f = reader.next(); f; f = reader.next()) out.push(snapshot(f));
  return out;
}

function assertProtocolViolation(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof PgError);
    assert.equal(err.code, '08P01');
    assert.equal(err.severity, 'FATAL');
    assert.match(err.message, pattern);
    return true;
  });
}

describe('FrameReader', () => {
  const startup = serializeStartupMessage([
    ['user', 'alice'],
    ['database', 'shop'],
  ]);
  const messages = [
    serializeQuery('select 1'),
    serializeQuery('select ünïcødé, 🚀'),
    typed('S', Buffer.alloc(0)),
    typed('d', Buffer.alloc(3000, 7)),
    TERMINATE,
  ];
  const stream = Buffer.concat([SSL_REQUEST, startup, ...messages]);

  /** Reads `stream` delivered in the given chunks, flipping to typed frames after the StartupMessage. */
  function readAll(chunks: Buffer[]): ReturnType<typeof snapshot>[] {
    const reader = new FrameReader({ startup: true });
    const out: ReturnType<typeof snapshot>[] = [];
    for (const chunk of chunks) {
      reader.push(chunk);
      for (let f = reader.next(); f; f = reader.next()) {
        out.push(snapshot(f));
        // SSLRequest is 8 bytes; the StartupMessage is the one after it.
        if (f.type === STARTUP_PACKET && f.raw.length > 8) reader.expectStartup = false;
      }
    }
    assert.equal(reader.buffered(), 0);
    return out;
  }

  const expected = readAll([stream]);

  test('several messages in one chunk', () => {
    assert.equal(expected.length, 2 + messages.length);
    assert.equal(expected[0]?.raw, SSL_REQUEST.toString('hex'));
    assert.equal(expected[1]?.raw, startup.toString('hex'));
    assert.equal(expected[1]?.type, STARTUP_PACKET);
    messages.forEach((m, i) => {
      assert.equal(expected[i + 2]?.raw, m.toString('hex'));
      assert.equal(expected[i + 2]?.type, m[0]);
      assert.equal(expected[i + 2]?.body, m.subarray(5).toString('hex'));
    });
  });

  test('split at every byte boundary', () => {
    for (let i = 1; i < stream.length; i++) {
      assert.deepEqual(readAll([stream.subarray(0, i), stream.subarray(i)]), expected, `split at ${i}`);
    }
  });

  test('one byte at a time', () => {
    const chunks = [];
    for (let i = 0; i < stream.length; i++) chunks.push(stream.subarray(i, i + 1));
    assert.deepEqual(readAll(chunks), expected);
  });

  test('three-way splits around message boundaries', () => {
    for (let i = 1; i < 60; i++) {
      for (let j = stream.length - 60; j < stream.length; j++) {
        assert.deepEqual(
          readAll([stream.subarray(0, i), stream.subarray(i, j), stream.subarray(j)]),
          expected,
        );
      }
    }
  });

  test('a message larger than the initial buffer, arriving in small chunks', () => {
    const big = typed('d', Buffer.alloc(200_000, 0xab));
    const reader = new FrameReader();
    for (let i = 0; i < big.length; i += 999) {
      reader.push(big.subarray(i, i + 999));
      if (i + 999 < big.length) assert.equal(reader.next(), undefined);
    }
    const f = reader.next();
    assert.ok(f);
    assert.equal(f.body.length, 200_000);
    assert.ok(f.body.every((b) => b === 0xab));
    // The buffer is reused (and shrunk) afterwards.
    reader.push(serializeQuery('x'));
    assert.equal(reader.next()?.body.toString(), 'x\0');
  });

  test('putBack returns the same frame again, even across a push', () => {
    const reader = new FrameReader();
    reader.push(Buffer.concat([serializeQuery('a'), serializeQuery('b')]));
    const a = reader.next();
    assert.ok(a);
    reader.putBack(a);
    reader.push(serializeQuery('c'));
    assert.deepEqual(
      drain(reader).map((f) => Buffer.from(f.body, 'hex').toString()),
      ['a\0', 'b\0', 'c\0'],
    );
  });

  test('typed message lengths below 4 or above 1 GiB are protocol violations', () => {
    for (const len of [0, 3, -1, MAX_MESSAGE_LENGTH + 1, 0x7fffffff]) {
      const reader = new FrameReader();
      const head = Buffer.alloc(5);
      head[0] = 0x51;
      head.writeInt32BE(len, 1);
      reader.push(head);
      assertProtocolViolation(() => reader.next(), /invalid message length/);
    }
    // Exactly 4 (empty body) is fine.
    const reader = new FrameReader();
    reader.push(typed('S', Buffer.alloc(0)));
    assert.equal(reader.next()?.body.length, 0);
  });

  test('startup packet lengths below 8 or above 10000 are protocol violations', () => {
    for (const len of [0, 4, 7, MAX_STARTUP_PACKET_LENGTH + 1, 1 << 30]) {
      const reader = new FrameReader({ startup: true });
      const b = Buffer.alloc(8);
      b.writeInt32BE(len, 0);
      reader.push(b);
      assertProtocolViolation(() => reader.next(), /invalid length of startup packet/);
    }
    // A Query sent before any startup packet reads as an absurd startup length.
    const reader = new FrameReader({ startup: true });
    reader.push(serializeQuery('select 1'));
    assertProtocolViolation(() => reader.next(), /startup packet/);
  });

  test('an oversized length is refused before its body arrives (nothing allocated)', () => {
    const reader = new FrameReader();
    const head = Buffer.alloc(5);
    head[0] = 0x64;
    head.writeInt32BE(MAX_MESSAGE_LENGTH + 1, 1);
    reader.push(head);
    assertProtocolViolation(() => reader.next(), /invalid message length/);
  });

  test('limits by type: Postgres SocketBackend limits, refused at the header', () => {
    const reader = (limit: (type: number) => number) => new FrameReader({ maxLength: limit });
    const cases: [string, number, boolean][] = [
      ['S', PQ_SMALL_MESSAGE_LIMIT, true],
      ['S', PQ_SMALL_MESSAGE_LIMIT + 1, false],
      ['E', PQ_SMALL_MESSAGE_LIMIT + 1, false],
      ['X', 1 << 30, false],
      ['c', PQ_SMALL_MESSAGE_LIMIT + 1, false],
      ['z', PQ_SMALL_MESSAGE_LIMIT + 1, false],
      ['Q', PQ_LARGE_MESSAGE_LIMIT, true],
      ['d', PQ_LARGE_MESSAGE_LIMIT, true],
      ['Q', PQ_LARGE_MESSAGE_LIMIT + 1, false],
    ];
    for (const [type, len, ok] of cases) {
      const head = Buffer.alloc(5);
      head[0] = type.charCodeAt(0);
      head.writeInt32BE(len, 1);
      const fresh = reader(sessionMessageLimit);
      fresh.push(head);
      if (ok) assert.equal(fresh.next(), undefined, `${type} ${len} waits for its body`);
      else assertProtocolViolation(() => fresh.next(), /invalid message length/);
    }
    // Before authentication a password message is limited to PG_MAX_AUTH_TOKEN_LENGTH.
    for (const [len, ok] of [
      [PG_MAX_AUTH_TOKEN_LENGTH, true],
      [PG_MAX_AUTH_TOKEN_LENGTH + 1, false],
    ] as const) {
      const r = reader(authMessageLimit);
      const head = Buffer.alloc(5);
      head[0] = 0x70;
      head.writeInt32BE(len, 1);
      r.push(head);
      if (ok) assert.equal(r.next(), undefined);
      else assertProtocolViolation(() => r.next(), /invalid message length/);
    }
  });

  test('a large streamable message is handed out in pieces as it arrives; small ones whole', () => {
    const streamable = (t: number) => t === 0x64;
    const body = Buffer.alloc(STREAM_ABOVE * 3, 0);
    for (let i = 0; i < body.length; i++) body[i] = i % 251;
    const big = typed('d', body);
    const after = serializeQuery('next');
    const stream = Buffer.concat([
      typed('d', 'small'),
      big,
      typed('Q', Buffer.alloc(STREAM_ABOVE * 2, 0x20)),
      after,
    ]);
    const reader = new FrameReader({ streamable });
    const got: { type: number; piece: Frame['piece']; raw: Buffer }[] = [];
    let held = 0;
    for (let i = 0; i < stream.length; i += 7_777) {
      reader.push(stream.subarray(i, i + 7_777));
      for (let f = reader.next(); f; f = reader.next())
        got.push({ type: f.type, piece: f.piece, raw: Buffer.from(f.raw) });
      held = Math.max(held, reader.buffered());
    }
    assert.equal(got[0]?.piece, undefined, 'a small CopyData comes whole');
    const pieces = got.filter((g) => g.piece);
    assert.ok(pieces.length > 3);
    assert.deepEqual(pieces[0]?.piece, { first: true, last: false });
    assert.deepEqual(pieces.at(-1)?.piece, { first: false, last: true });
    assert.ok(pieces.every((p) => p.type === 0x64));
    assert.deepEqual(Buffer.concat(pieces.map((p) => p.raw)), big, 'the pieces are the message, in order');
    // Not streamable: the large Query comes whole, then the rest.
    const rest = got.filter((g) => !g.piece).slice(1);
    assert.equal(rest[0]?.type, 0x51);
    assert.equal(rest[0]?.raw.length, STREAM_ABOVE * 2 + 5);
    assert.deepEqual(rest[1]?.raw, after);
    assert.ok(
      held <= STREAM_ABOVE * 2 + 5 + 7_777,
      `held at most one unstreamed message and a chunk (${held})`,
    );
    assert.throws(() => {
      const r = new FrameReader({ streamable });
      r.push(big.subarray(0, 100));
      const f = r.next();
      assert.ok(f?.piece);
      r.putBack(f);
    }, /cannot be put back/);
  });

  test('takeRemaining copies the unread bytes', () => {
    const reader = new FrameReader();
    reader.push(Buffer.concat([serializeQuery('a'), serializeQuery('b').subarray(0, 3)]));
    assert.ok(reader.next());
    const rest = reader.takeRemaining();
    assert.deepEqual(rest, serializeQuery('b').subarray(0, 3));
    assert.equal(reader.buffered(), 0);
  });
});

describe('FrameScanner', () => {
  const msgs = [
    typed('T', 'rowdesc'),
    typed('D', Buffer.alloc(5000, 1)),
    typed('S', 'TimeZone\0UTC\0'),
    typed('C', 'SELECT 1\0'),
    typed('E', 'SERROR\0C42601\0Mbad\0\0'),
    typed('Z', 'T'),
    typed('Z', 'I'),
  ];
  const stream = Buffer.concat(msgs);
  const wanted = new Set(['S', 'E', 'Z'].map((c) => c.charCodeAt(0)));

  function scanAll(chunks: Buffer[]): string[] {
    const scanner = new FrameScanner((t) => wanted.has(t));
    const seen: string[] = [];
    for (const c of chunks) {
      scanner.scan(c, (type, body) => seen.push(`${String.fromCharCode(type)}:${body.toString('latin1')}`));
    }
    assert.ok(scanner.atBoundary());
    return seen;
  }

  const expected = scanAll([stream]);

  test('observes only the wanted messages, with their bodies', () => {
    assert.deepEqual(expected, ['S:TimeZone\0UTC\0', 'E:SERROR\0C42601\0Mbad\0\0', 'Z:T', 'Z:I']);
  });

  test('split at every byte boundary', () => {
    for (let i = 1; i < stream.length; i++) {
      assert.deepEqual(scanAll([stream.subarray(0, i), stream.subarray(i)]), expected, `split at ${i}`);
    }
  });

  test('one byte at a time, tracking boundaries', () => {
    const scanner = new FrameScanner((t) => wanted.has(t));
    const seen: string[] = [];
    const ends = new Set<number>();
    let off = 0;
    for (const m of msgs) {
      off += m.length;
      ends.add(off);
    }
    for (let i = 0; i < stream.length; i++) {
      scanner.scan(stream.subarray(i, i + 1), (type, body) =>
        seen.push(`${String.fromCharCode(type)}:${body.toString('latin1')}`),
      );
      assert.equal(scanner.atBoundary(), ends.has(i + 1), `after byte ${i}`);
    }
    assert.deepEqual(seen, expected);
  });

  test('bad lengths are protocol violations', () => {
    const scanner = new FrameScanner(() => true);
    const head = Buffer.from([0x44, 0x7f, 0xff, 0xff, 0xff]);
    assertProtocolViolation(() => scanner.scan(head, () => {}), /invalid message length/);
    const scanner2 = new FrameScanner(() => true);
    assertProtocolViolation(
      () => scanner2.scan(Buffer.from([0x44, 0, 0, 0, 2]), () => {}),
      /invalid message length/,
    );
  });
});
