/**
 * A bare Postgres protocol client for tests: sends any bytes, returns every
 * message (type and body), for what node-postgres cannot show (status bytes,
 * exact replies, bad input).
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { parseErrorFields } from '../../src/wire/backend.js';
import { FrameReader } from '../../src/wire/frames.js';
import { SSL_REQUEST, serializeStartupMessage } from '../../src/wire/frontend.js';

export interface Message {
  type: string;
  body: Buffer;
}

export class RawClient {
  private readonly reader = new FrameReader();
  private readonly queue: Message[] = [];
  private waiter: (() => void) | undefined;
  ended = false;
  readonly closed: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.reader.push(chunk);
      for (let f = this.reader.next(); f; f = this.reader.next()) {
        this.queue.push({ type: String.fromCharCode(f.type), body: Buffer.from(f.body) });
      }
      this.wake();
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.ended = true;
        this.wake();
        resolve();
      }),
    );
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  static open(port: number, opts: { tls?: boolean } = {}): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port }, () => {
        if (!opts.tls) {
          resolve(new RawClient(s));
          return;
        }
        s.write(SSL_REQUEST);
        s.once('data', (answer: Buffer) => {
          if (answer.toString() !== 'S') {
            reject(new Error(`SSLRequest answered ${answer.toString()}`));
            return;
          }
          const secure = tlsConnect({ socket: s, rejectUnauthorized: false }, () =>
            resolve(new RawClient(secure)),
          );
          secure.once('error', reject);
        });
      });
      s.once('error', reject);
    });
  }

  send(buf: Buffer): void {
    this.socket.write(buf);
  }

  /** The next message, or undefined once the server has closed the connection. */
  async next(timeoutMs = 10_000): Promise<Message | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.queue.shift();
      if (m) return m;
      if (this.ended) return undefined;
      if (Date.now() > deadline) throw new Error('timed out waiting for a message');
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
        setTimeout(resolve, 100);
      });
    }
  }

  /** Messages up to and including the next `n` ReadyForQuery. */
  async untilReady(n = 1): Promise<Message[]> {
    const out: Message[] = [];
    let seen = 0;
    for (;;) {
      const m = await this.next();
      if (!m) throw new Error(`connection closed after ${out.map((x) => x.type).join('')}`);
      out.push(m);
      if (m.type === 'Z' && ++seen === n) return out;
    }
  }

  /** The next `n` messages. */
  async take(n: number): Promise<Message[]> {
    const out: Message[] = [];
    while (out.length < n) {
      const m = await this.next();
      if (!m) throw new Error(`connection closed after ${out.map((x) => x.type).join('')}`);
      out.push(m);
    }
    return out;
  }

  /** Everything until the server closes the connection. */
  async untilClosed(timeoutMs = 10_000): Promise<Message[]> {
    const out: Message[] = [];
    for (let m = await this.next(timeoutMs); m; m = await this.next(timeoutMs)) out.push(m);
    return out;
  }

  /** Starts a session as a role the test's pg_hba trusts. */
  static async session(
    port: number,
    user = 'rawuser',
    opts: { tls?: boolean; params?: [string, string][] } = {},
  ): Promise<RawClient> {
    const c = await RawClient.open(port, opts);
    c.send(serializeStartupMessage([['user', user], ['database', 'postgres'], ...(opts.params ?? [])]));
    const msgs = await c.untilReady();
    assert.equal(msgs[0]?.type, 'R', `startup: ${msgs.map((m) => m.type).join('')}`);
    return c;
  }

  /** Sends `bytes` and returns the replies up to the `syncs`-th ReadyForQuery. */
  async run(bytes: Buffer, syncs = 1): Promise<Message[]> {
    this.send(bytes);
    return this.untilReady(syncs);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A typed frontend message; strings are NUL-terminated, arrays are raw bytes. */
export function msg(type: string, ...parts: (string | number[] | Buffer)[]): Buffer {
  const body = Buffer.concat(
    parts.map((p) =>
      typeof p === 'string' ? Buffer.from(`${p}\0`) : Buffer.isBuffer(p) ? p : Buffer.from(p),
    ),
  );
  const head = Buffer.alloc(5);
  head[0] = type.charCodeAt(0);
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

export const int16 = (n: number) => [(n >> 8) & 0xff, n & 0xff];
export const int32 = (n: number) => [(n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];

/** Parse with declared parameter types. */
export function parseMsg(name: string, sql: string, types: number[] = []): Buffer {
  return msg('P', name, sql, int16(types.length), ...types.map(int32));
}

/** Bind; `params` are text unless Buffers with format 1 in `paramFormats`. */
export function bindMsg(
  portal: string,
  statement: string,
  params: (string | Buffer | null)[] = [],
  opts: { paramFormats?: number[]; resultFormats?: number[] } = {},
): Buffer {
  const pf = opts.paramFormats ?? [];
  const rf = opts.resultFormats ?? [];
  const values = params.map((p) => {
    if (p === null) return Buffer.from(int32(-1));
    const b = Buffer.isBuffer(p) ? p : Buffer.from(p);
    return Buffer.concat([Buffer.from(int32(b.length)), b]);
  });
  return msg(
    'B',
    portal,
    statement,
    int16(pf.length),
    ...pf.map(int16),
    int16(params.length),
    ...values,
    int16(rf.length),
    ...rf.map(int16),
  );
}

export const describeMsg = (kind: 'S' | 'P', name: string) => msg('D', Buffer.from(kind), name);
export const closeMsg = (kind: 'S' | 'P', name: string) => msg('C', Buffer.from(kind), name);
export const executeMsg = (portal: string, maxRows = 0) => msg('E', portal, int32(maxRows));
export const SYNC = msg('S');
export const FLUSH = msg('H');

export const errorOf = (msgs: Message[]) => {
  const e = msgs.find((m) => m.type === 'E');
  return e ? parseErrorFields(e.body) : undefined;
};

/** Messages as comparable strings; ErrorResponse reduced to severity, code and message. */
export function describeMessages(msgs: Message[]): string[] {
  return msgs
    .filter((m) => m.type !== 'N' && m.type !== 'S')
    .map((m) => {
      if (m.type === 'E') {
        const f = parseErrorFields(m.body);
        return `E ${f.get('S')} ${f.get('C')} ${f.get('M')}`;
      }
      return `${m.type} ${m.body.toString('hex')}`;
    });
}
