/**
 * A wire tap for capturing what real clients send: a loopback TCP relay in
 * front of a server that decodes the frontend messages it passes on (simple
 * Query, and Parse + Bind of the extended protocol) and records each
 * statement with its declared parameter types and bound values. Used by
 * test/corpus/orm/capture.ts only; nothing is changed on the way through.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface Captured {
  /** The client library that sent it (set by the capture script around each scenario). */
  client: string;
  sql: string;
  /** Extended protocol: declared parameter type OIDs (0 = unspecified), and the values bound. */
  types?: number[];
  params?: (string | null)[];
}

interface Parsed {
  sql: string;
  types: number[];
}

/** Reads a NUL-terminated string at `at`; returns it and the offset after the NUL. */
function cstring(buf: Buffer, at: number): [string, number] {
  const end = buf.indexOf(0, at);
  return [buf.toString('utf8', at, end), end + 1];
}

class FrontendDecoder {
  private buf = Buffer.alloc(0);
  private startup = true;
  private readonly statements = new Map<string, Parsed>();

  constructor(
    private readonly record: (msg: { sql: string; types?: number[]; params?: (string | null)[] }) => void,
  ) {}

  push(chunk: Buffer): void {
    this.buf = Buffer.concat([this.buf, chunk]);
    for (;;) {
      if (this.startup) {
        if (this.buf.length < 8) return;
        const len = this.buf.readInt32BE(0);
        if (this.buf.length < len) return;
        const code = this.buf.readInt32BE(4);
        this.buf = this.buf.subarray(len);
        // SSLRequest / GSSENCRequest come before the startup message.
        if (code !== 80877103 && code !== 80877104) this.startup = false;
        continue;
      }
      if (this.buf.length < 5) return;
      const type = String.fromCharCode(this.buf[0] as number);
      const len = this.buf.readInt32BE(1);
      if (this.buf.length < 1 + len) return;
      const body = this.buf.subarray(5, 1 + len);
      this.buf = this.buf.subarray(1 + len);
      this.message(type, body);
    }
  }

  private message(type: string, body: Buffer): void {
    if (type === 'Q') {
      this.record({ sql: cstring(body, 0)[0] });
    } else if (type === 'P') {
      const [name, a] = cstring(body, 0);
      const [sql, b] = cstring(body, a);
      const n = body.readInt16BE(b);
      const types = Array.from({ length: n }, (_, i) => body.readUInt32BE(b + 2 + 4 * i));
      this.statements.set(name, { sql, types });
    } else if (type === 'B') {
      const [, a] = cstring(body, 0);
      const [stmt, b] = cstring(body, a);
      let at = b;
      const nFormats = body.readInt16BE(at);
      at += 2;
      const formats = Array.from({ length: nFormats }, (_, i) => body.readInt16BE(at + 2 * i));
      at += 2 * nFormats;
      const n = body.readInt16BE(at);
      at += 2;
      const params: (string | null)[] = [];
      let binary = false;
      for (let i = 0; i < n; i++) {
        const len = body.readInt32BE(at);
        at += 4;
        if (len < 0) params.push(null);
        else {
          const format = nFormats === 0 ? 0 : nFormats === 1 ? formats[0] : formats[i];
          if (format === 1) binary = true;
          params.push(body.toString('utf8', at, at + len));
          at += len;
        }
      }
      const parsed = this.statements.get(stmt);
      // Binary parameters are not replayable as text: such statements are left out.
      if (parsed && !binary) this.record({ sql: parsed.sql, types: parsed.types, params });
    }
  }
}

export interface Tap {
  port: number;
  captured: Captured[];
  /** Which client the next statements come from. */
  client: string;
  close(): Promise<void>;
}

export async function startTap(target: { host: string; port: number }): Promise<Tap> {
  const sockets = new Set<Socket>();
  const tap: Tap = {
    port: 0,
    captured: [],
    client: 'unknown',
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const server: Server = createServer((down) => {
    const up = connect(target.port, target.host);
    sockets.add(down);
    sockets.add(up);
    const decoder = new FrontendDecoder((m) => tap.captured.push({ client: tap.client, ...m }));
    down.on('data', (chunk: Buffer) => {
      decoder.push(chunk);
      up.write(chunk);
    });
    up.on('data', (chunk: Buffer) => down.write(chunk));
    const end = () => {
      down.destroy();
      up.destroy();
    };
    down.on('close', end);
    up.on('close', end);
    down.on('error', end);
    up.on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (addr && typeof addr === 'object') tap.port = addr.port;
  return tap;
}
