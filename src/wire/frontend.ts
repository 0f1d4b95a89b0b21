/**
 * Messages a client (frontend) sends: parsers for the ones Outpost acts on,
 * serialisers for the ones it sends itself (to upstream, and in tests).
 * https://www.postgresql.org/docs/current/protocol-message-formats.html
 */
import { PgError, SqlState } from '../errors.js';
import { MAX_STARTUP_PACKET_LENGTH, protocolViolation } from './frames.js';

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
