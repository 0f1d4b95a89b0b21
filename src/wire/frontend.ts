/**
 * Messages a client (frontend) sends: parsers for the ones Outpost acts on,
 * serialisers for the ones it sends itself (to upstream, and in tests).
 * https://www.postgresql.org/docs/current/protocol-message-formats.html
 */
import { isUtf8 } from 'node:buffer';
import { PgError, SqlState } from '../errors.js';
import { MAX_MESSAGE_LENGTH, MAX_STARTUP_PACKET_LENGTH, protocolViolation } from './frames.js';

/** Type bytes of frontend messages. */
export const FrontendType = {
  Bind: 0x42, // B
  Close: 0x43, // C
  Describe: 0x44, // D
  Execute: 0x45, // E
  FunctionCall: 0x46, // F
  Flush: 0x48, // H
  Parse: 0x50, // P
  Query: 0x51, // Q
  Sync: 0x53, // S
  Terminate: 0x58, // X
  CopyDone: 0x63, // c
  CopyData: 0x64, // d
  CopyFail: 0x66, // f
  /** PasswordMessage, SASLInitialResponse, SASLResponse, GSSResponse: all 'p'. */
  Password: 0x70, // p
} as const;

/**
 * Postgres's limits on a frontend message's length word
 * (src/include/libpq/libpq.h, src/include/libpq/auth.h); a message over its
 * limit is refused as soon as its header is read.
 */
export const PQ_SMALL_MESSAGE_LIMIT = 10_000;
export const PQ_LARGE_MESSAGE_LIMIT = MAX_MESSAGE_LENGTH;
/** Password, SASL and GSS responses: PG_MAX_AUTH_TOKEN_LENGTH. */
export const PG_MAX_AUTH_TOKEN_LENGTH = 65_535;

/**
 * Largest length word Postgres accepts for a message of this type once the
 * session is established, as `SocketBackend` (src/backend/tcop/postgres.c)
 * and COPY FROM STDIN (src/backend/commands/copyfromparse.c) assign them:
 * statements and data may be large, control messages are small. Types
 * Postgres does not know get the small limit: a short one is relayed for
 * upstream to refuse with its own error, a long one is refused here.
 */
export function sessionMessageLimit(type: number): number {
  switch (type) {
    case FrontendType.Query:
    case FrontendType.FunctionCall:
    case FrontendType.Parse:
    case FrontendType.Bind:
    case FrontendType.CopyData:
      return PQ_LARGE_MESSAGE_LIMIT;
    default:
      return PQ_SMALL_MESSAGE_LIMIT;
  }
}

/**
 * Before authentication completes only password/SASL/GSS responses are
 * expected (Postgres reads them with PG_MAX_AUTH_TOKEN_LENGTH); anything
 * else is either an error or, with trust auth, a message sent ahead of the
 * outcome, which is held (unread) until then and may be as long as its type allows.
 */
export function authMessageLimit(type: number): number {
  return type === FrontendType.Password ? PG_MAX_AUTH_TOKEN_LENGTH : sessionMessageLimit(type);
}

/** Request codes in place of a protocol version in startup-phase packets. */
export const CANCEL_REQUEST_CODE = 80877102; // 1234 << 16 | 5678
export const SSL_REQUEST_CODE = 80877103; // 1234 << 16 | 5679
export const GSSENC_REQUEST_CODE = 80877104; // 1234 << 16 | 5680
export const PROTOCOL_3_0 = 3 << 16;

/** Protocol 3.0 keys are 4 bytes; 3.2 allows up to 256. */
const MAX_CANCEL_KEY_LENGTH = 256;

export type StartupPacket =
  | { kind: 'ssl-request' }
  | { kind: 'gssenc-request' }
  | { kind: 'cancel-request'; processId: number; secretKey: Buffer }
  | { kind: 'startup'; major: number; minor: number; params: Map<string, string> };

/**
 * Parse an untyped startup-phase packet, given its body (everything after the
 * length word, starting with the Int32 code). Throws FATAL 08P01 on a
 * malformed packet.
 * https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-START-UP
 */
export function parseStartupPacket(body: Buffer): StartupPacket {
  if (body.length < 4) throw protocolViolation('invalid length of startup packet');
  const code = body.readInt32BE(0);
  if (code === SSL_REQUEST_CODE || code === GSSENC_REQUEST_CODE) {
    if (body.length !== 4) throw protocolViolation('invalid length of startup packet');
    return { kind: code === SSL_REQUEST_CODE ? 'ssl-request' : 'gssenc-request' };
  }
  if (code === CANCEL_REQUEST_CODE) {
    const keyLength = body.length - 8;
    if (keyLength < 4 || keyLength > MAX_CANCEL_KEY_LENGTH) {
      throw protocolViolation('invalid length of cancel request packet');
    }
    return {
      kind: 'cancel-request',
      processId: body.readInt32BE(4),
      secretKey: Buffer.from(body.subarray(8)),
    };
  }
  const params = new Map<string, string>();
  let off = 4;
  for (;;) {
    if (off >= body.length) {
      throw protocolViolation('invalid startup packet layout: expected terminator as last byte');
    }
    const nameEnd = body.indexOf(0, off);
    if (nameEnd < 0) throw protocolViolation('invalid startup packet layout: unterminated string');
    if (nameEnd === off) {
      // The empty name is the list terminator and must be the last byte.
      if (off !== body.length - 1) {
        throw protocolViolation('invalid startup packet layout: expected terminator as last byte');
      }
      break;
    }
    const valueEnd = body.indexOf(0, nameEnd + 1);
    if (valueEnd < 0) throw protocolViolation('invalid startup packet layout: unterminated string');
    params.set(body.toString('utf8', off, nameEnd), body.toString('utf8', nameEnd + 1, valueEnd));
    off = valueEnd + 1;
  }
  return { kind: 'startup', major: code >>> 16, minor: code & 0xffff, params };
}

/**
 * The query string of a Query ('Q') message body. Throws FATAL 08P01 if the
 * body is not exactly one NUL-terminated string.
 */
export function parseQuery(body: Buffer): string {
  const nul = body.indexOf(0);
  if (nul !== body.length - 1) throw protocolViolation('invalid message format: malformed Query message');
  return body.toString('utf8', 0, nul);
}

/**
 * The query string of a Parse ('P') message body: statement name, then the
 * query, both NUL-terminated, then parameter types. Throws FATAL 08P01 when
 * malformed.
 */
export function parseParseQuery(body: Buffer): string {
  const nameEnd = body.indexOf(0);
  const queryEnd = nameEnd < 0 ? -1 : body.indexOf(0, nameEnd + 1);
  if (queryEnd < 0) throw protocolViolation('invalid message format: malformed Parse message');
  return body.toString('utf8', nameEnd + 1, queryEnd);
}

function cstringLength(s: string): number {
  return Buffer.byteLength(s, 'utf8') + 1;
}

/** A StartupMessage with the given parameters (order kept). */
export function serializeStartupMessage(params: Iterable<[string, string]>, version = PROTOCOL_3_0): Buffer {
  const pairs = [...params];
  let len = 4 + 4 + 1;
  for (const [k, v] of pairs) len += cstringLength(k) + cstringLength(v);
  if (len > MAX_STARTUP_PACKET_LENGTH) {
    throw new PgError({ code: SqlState.protocolViolation, message: 'startup packet too long' });
  }
  const buf = Buffer.alloc(len);
  buf.writeInt32BE(len, 0);
  buf.writeInt32BE(version, 4);
  let off = 8;
  for (const [k, v] of pairs) {
    off += buf.write(k, off, 'utf8') + 1;
    off += buf.write(v, off, 'utf8') + 1;
  }
  return buf;
}

/** A CancelRequest for the given key (4 bytes in protocol 3.0, longer in 3.2). */
export function serializeCancelRequest(processId: number, secretKey: Buffer): Buffer {
  const buf = Buffer.alloc(12 + secretKey.length);
  buf.writeInt32BE(buf.length, 0);
  buf.writeInt32BE(CANCEL_REQUEST_CODE, 4);
  buf.writeInt32BE(processId, 8);
  secretKey.copy(buf, 12);
  return buf;
}

function codeOnlyPacket(code: number): Buffer {
  const buf = Buffer.alloc(8);
  buf.writeInt32BE(8, 0);
  buf.writeInt32BE(code, 4);
  return buf;
}

export const SSL_REQUEST: Buffer = codeOnlyPacket(SSL_REQUEST_CODE);
export const GSSENC_REQUEST: Buffer = codeOnlyPacket(GSSENC_REQUEST_CODE);

/** A simple Query message. */
export function serializeQuery(sql: string): Buffer {
  const n = Buffer.byteLength(sql, 'utf8');
  const buf = Buffer.alloc(1 + 4 + n + 1);
  buf[0] = FrontendType.Query;
  buf.writeInt32BE(4 + n + 1, 1);
  buf.write(sql, 5, 'utf8');
  return buf;
}

/** Terminate: sent upstream when a session ends. */
export const TERMINATE: Buffer = Buffer.from([FrontendType.Terminate, 0, 0, 0, 4]);

// ---- extended query protocol ------------------------------------------------
// https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-EXT-QUERY

/**
 * Content of an extended-protocol message Postgres would reject (ERROR 08P01
 * "invalid message format", "insufficient data left in message", or an
 * encoding error). Thrown by the parsers below; the session then lets
 * upstream judge the message, so the client gets Postgres's own error.
 */
export class MalformedMessage extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedMessage';
  }
}

/** Reads the fields of one message body in order. */
class BodyReader {
  off = 0;
  constructor(private readonly body: Buffer) {}

  /** A NUL-terminated string that must be valid UTF-8 (Postgres verifies the encoding). */
  cstring(): string {
    const end = this.body.indexOf(0, this.off);
    if (end < 0) throw new MalformedMessage('invalid string in message');
    const bytes = this.body.subarray(this.off, end);
    if (!isUtf8(bytes)) throw new MalformedMessage('invalid byte sequence for encoding "UTF8"');
    this.off = end + 1;
    return bytes.toString('utf8');
  }

  byte(): number {
    if (this.off + 1 > this.body.length) throw new MalformedMessage('insufficient data left in message');
    return this.body[this.off++] ?? 0;
  }

  int16(): number {
    if (this.off + 2 > this.body.length) throw new MalformedMessage('insufficient data left in message');
    const v = this.body.readInt16BE(this.off);
    this.off += 2;
    return v;
  }

  int32(): number {
    if (this.off + 4 > this.body.length) throw new MalformedMessage('insufficient data left in message');
    const v = this.body.readInt32BE(this.off);
    this.off += 4;
    return v;
  }

  uint32(): number {
    if (this.off + 4 > this.body.length) throw new MalformedMessage('insufficient data left in message');
    const v = this.body.readUInt32BE(this.off);
    this.off += 4;
    return v;
  }

  bytes(n: number): Buffer {
    if (n < 0 || this.off + n > this.body.length) {
      throw new MalformedMessage('insufficient data left in message');
    }
    const v = this.body.subarray(this.off, this.off + n);
    this.off += n;
    return v;
  }

  end(): void {
    if (this.off !== this.body.length) throw new MalformedMessage('invalid message format');
  }
}

export interface ParseMessage {
  /** Prepared statement name; '' is the unnamed statement. */
  name: string;
  query: string;
  /** Declared parameter type OIDs; 0 leaves a type unspecified. */
  paramTypes: number[];
}

/** Parse ('P'). Throws `MalformedMessage`. */
export function parseParse(body: Buffer): ParseMessage {
  const r = new BodyReader(body);
  const name = r.cstring();
  const query = r.cstring();
  const n = r.int16();
  if (n < 0) throw new MalformedMessage('invalid message format');
  const paramTypes: number[] = new Array(n);
  for (let i = 0; i < n; i++) paramTypes[i] = r.uint32();
  r.end();
  return { name, query, paramTypes };
}

export interface BindMessage {
  portal: string;
  statement: string;
  /** 0 entries: all text; 1: applies to every parameter; n: one per parameter. */
  paramFormats: number[];
  /** Parameter values as sent (views into the message body); null is NULL. */
  params: (Buffer | null)[];
  /** 0 entries: all text; 1: applies to every column; n: one per column. */
  resultFormats: number[];
}

/** Bind ('B'). Parameter values are views into `body`. Throws `MalformedMessage`. */
export function parseBind(body: Buffer): BindMessage {
  const r = new BodyReader(body);
  const portal = r.cstring();
  const statement = r.cstring();
  const nf = r.int16();
  if (nf < 0) throw new MalformedMessage('invalid message format');
  const paramFormats: number[] = new Array(nf);
  for (let i = 0; i < nf; i++) paramFormats[i] = r.int16();
  const np = r.int16();
  if (np < 0) throw new MalformedMessage('invalid message format');
  const params: (Buffer | null)[] = new Array(np);
  for (let i = 0; i < np; i++) {
    const len = r.int32();
    params[i] = len === -1 ? null : r.bytes(len);
  }
  const nr = r.int16();
  if (nr < 0) throw new MalformedMessage('invalid message format');
  const resultFormats: number[] = new Array(nr);
  for (let i = 0; i < nr; i++) resultFormats[i] = r.int16();
  r.end();
  return { portal, statement, paramFormats, params, resultFormats };
}

/** Describe ('D') and Close ('C'): 'S' a prepared statement, 'P' a portal. */
export interface TargetMessage {
  kind: 'S' | 'P';
  name: string;
}

/** Describe or Close. Throws `MalformedMessage` (Postgres: "invalid DESCRIBE/CLOSE message subtype"). */
export function parseTarget(body: Buffer): TargetMessage {
  const r = new BodyReader(body);
  const kind = r.byte();
  const name = r.cstring();
  r.end();
  if (kind === 0x53) return { kind: 'S', name };
  if (kind === 0x50) return { kind: 'P', name };
  throw new MalformedMessage('invalid message subtype');
}

export interface ExecuteMessage {
  portal: string;
  /** Maximum rows to return; 0 means no limit. */
  maxRows: number;
}

/** Execute ('E'). Throws `MalformedMessage`. */
export function parseExecute(body: Buffer): ExecuteMessage {
  const r = new BodyReader(body);
  const portal = r.cstring();
  const maxRows = r.int32();
  r.end();
  return { portal, maxRows };
}

function typedMessage(type: number, bodyLength: number): { buf: Buffer; off: number } {
  const buf = Buffer.allocUnsafe(5 + bodyLength);
  buf[0] = type;
  buf.writeInt32BE(4 + bodyLength, 1);
  return { buf, off: 5 };
}

export function serializeParse(name: string, query: string, paramTypes: readonly number[] = []): Buffer {
  const { buf, off: start } = typedMessage(
    FrontendType.Parse,
    cstringLength(name) + cstringLength(query) + 2 + 4 * paramTypes.length,
  );
  let off = start + buf.write(name, start, 'utf8');
  buf[off++] = 0;
  off += buf.write(query, off, 'utf8');
  buf[off++] = 0;
  off = buf.writeInt16BE(paramTypes.length, off);
  for (const t of paramTypes) off = buf.writeUInt32BE(t >>> 0, off);
  return buf;
}

export function serializeBind(m: BindMessage): Buffer {
  let len = cstringLength(m.portal) + cstringLength(m.statement) + 2 + 2 * m.paramFormats.length + 2;
  for (const p of m.params) len += 4 + (p ? p.length : 0);
  len += 2 + 2 * m.resultFormats.length;
  const { buf, off: start } = typedMessage(FrontendType.Bind, len);
  let off = start + buf.write(m.portal, start, 'utf8');
  buf[off++] = 0;
  off += buf.write(m.statement, off, 'utf8');
  buf[off++] = 0;
  off = buf.writeInt16BE(m.paramFormats.length, off);
  for (const f of m.paramFormats) off = buf.writeInt16BE(f, off);
  off = buf.writeInt16BE(m.params.length, off);
  for (const p of m.params) {
    if (p === null) {
      off = buf.writeInt32BE(-1, off);
    } else {
      off = buf.writeInt32BE(p.length, off);
      off += p.copy(buf, off);
    }
  }
  off = buf.writeInt16BE(m.resultFormats.length, off);
  for (const f of m.resultFormats) off = buf.writeInt16BE(f, off);
  return buf;
}

function serializeTarget(type: number, kind: 'S' | 'P', name: string): Buffer {
  const { buf, off } = typedMessage(type, 1 + cstringLength(name));
  buf[off] = kind.charCodeAt(0);
  const end = off + 1 + buf.write(name, off + 1, 'utf8');
  buf[end] = 0;
  return buf;
}

export function serializeDescribe(kind: 'S' | 'P', name: string): Buffer {
  return serializeTarget(FrontendType.Describe, kind, name);
}

export function serializeClose(kind: 'S' | 'P', name: string): Buffer {
  return serializeTarget(FrontendType.Close, kind, name);
}

export function serializeExecute(portal: string, maxRows = 0): Buffer {
  const { buf, off } = typedMessage(FrontendType.Execute, cstringLength(portal) + 4);
  const end = off + buf.write(portal, off, 'utf8');
  buf[end] = 0;
  buf.writeInt32BE(maxRows, end + 1);
  return buf;
}

export const SYNC: Buffer = Buffer.from([FrontendType.Sync, 0, 0, 0, 4]);
export const FLUSH: Buffer = Buffer.from([FrontendType.Flush, 0, 0, 0, 4]);
