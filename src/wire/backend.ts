/**
 * Messages the server (backend) sends: serialisers for what Outpost answers
 * itself, and parsers for the upstream messages a session must observe.
 * https://www.postgresql.org/docs/current/protocol-message-formats.html
 *
 * All strings are UTF-8 and every length is a byte length.
 */
import { type PgErrorFields, type Severity, SqlState } from '../errors.js';
import type { FieldDescription, LocalResult } from '../router/types.js';
import type { TxStatus } from '../session.js';
import { protocolViolation } from './frames.js';

/** Type bytes of backend messages. */
export const BackendType = {
  ParseComplete: 0x31, // 1
  BindComplete: 0x32, // 2
  CloseComplete: 0x33, // 3
  NotificationResponse: 0x41, // A
  CommandComplete: 0x43, // C
  DataRow: 0x44, // D
  ErrorResponse: 0x45, // E
  CopyInResponse: 0x47, // G
  CopyOutResponse: 0x48, // H
  EmptyQueryResponse: 0x49, // I
  BackendKeyData: 0x4b, // K
  NoticeResponse: 0x4e, // N
  Authentication: 0x52, // R
  ParameterStatus: 0x53, // S
  RowDescription: 0x54, // T
  ReadyForQuery: 0x5a, // Z
  NegotiateProtocolVersion: 0x76, // v
  CopyData: 0x64, // d
  CopyDone: 0x63, // c
  CopyBothResponse: 0x57, // W
  FunctionCallResponse: 0x56, // V
  NoData: 0x6e, // n
  ParameterDescription: 0x74, // t
  PortalSuspended: 0x73, // s
} as const;

/** Authentication request codes (the Int32 after the length of an 'R' message). */
export const AuthCode = {
  Ok: 0,
  KerberosV5: 2,
  CleartextPassword: 3,
  MD5Password: 5,
  GSS: 7,
  GSSContinue: 8,
  SSPI: 9,
  SASL: 10,
  SASLContinue: 11,
  SASLFinal: 12,
} as const;

/** Writes a message header and returns the body offset. */
function header(buf: Buffer, off: number, type: number, bodyLength: number): number {
  buf[off] = type;
  buf.writeInt32BE(bodyLength + 4, off + 1);
  return off + 5;
}

function byteLen(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

function fixed(type: number, body: number[] = []): Buffer {
  const buf = Buffer.alloc(5 + body.length);
  header(buf, 0, type, body.length);
  Buffer.from(body).copy(buf, 5);
  return buf;
}

/** The single-byte answer refusing SSLRequest / GSSENCRequest: continue in plain text. */
export const SSL_REFUSED: Buffer = Buffer.from('N');

/** The single-byte answer accepting SSLRequest: the TLS handshake follows. */
export const SSL_ACCEPTED: Buffer = Buffer.from('S');

export const AUTHENTICATION_OK: Buffer = fixed(BackendType.Authentication, [0, 0, 0, 0]);
export const EMPTY_QUERY_RESPONSE: Buffer = fixed(BackendType.EmptyQueryResponse);
export const PARSE_COMPLETE: Buffer = fixed(BackendType.ParseComplete);
export const BIND_COMPLETE: Buffer = fixed(BackendType.BindComplete);
export const CLOSE_COMPLETE: Buffer = fixed(BackendType.CloseComplete);
export const NO_DATA: Buffer = fixed(BackendType.NoData);
export const PORTAL_SUSPENDED: Buffer = fixed(BackendType.PortalSuspended);

const READY: Record<TxStatus, Buffer> = {
  I: fixed(BackendType.ReadyForQuery, [0x49]),
  T: fixed(BackendType.ReadyForQuery, [0x54]),
  E: fixed(BackendType.ReadyForQuery, [0x45]),
};

export function readyForQuery(status: TxStatus): Buffer {
  return READY[status];
}

export function parameterStatus(name: string, value: string): Buffer {
  const buf = Buffer.alloc(5 + byteLen(name) + 1 + byteLen(value) + 1);
  let off = header(buf, 0, BackendType.ParameterStatus, buf.length - 5);
  off += buf.write(name, off, 'utf8') + 1;
  buf.write(value, off, 'utf8');
  return buf;
}

/** BackendKeyData; the secret is 4 bytes in protocol 3.0 (up to 256 in 3.2). */
export function backendKeyData(processId: number, secretKey: Buffer): Buffer {
  const buf = Buffer.alloc(5 + 4 + secretKey.length);
  const off = header(buf, 0, BackendType.BackendKeyData, 4 + secretKey.length);
  buf.writeInt32BE(processId, off);
  secretKey.copy(buf, off + 4);
  return buf;
}

/** RowDescription of text-format fields. Built by `ReplyWriter`, the one serialiser of result messages. */
export function rowDescription(fields: readonly FieldDescription[]): Buffer {
  const w = new ReplyWriter(256);
  w.rowDescription(fields);
  return w.take() as Buffer;
}

/** DataRow with text-format values; null is SQL NULL (length -1). */
export function dataRow(values: readonly (string | null)[]): Buffer {
  const w = new ReplyWriter(256);
  w.dataRow(values);
  return w.take() as Buffer;
}

export function commandComplete(tag: string): Buffer {
  const w = new ReplyWriter(64);
  w.commandComplete(tag);
  return w.take() as Buffer;
}

/** Everything a simple Query answered locally sends, in one buffer (see `ReplyWriter.localResults`). */
export function encodeLocalResults(results: readonly LocalResult[], status: TxStatus): Buffer {
  const w = new ReplyWriter();
  w.localResults(results, status);
  return w.take() as Buffer;
}

/** Field codes of ErrorResponse / NoticeResponse. https://www.postgresql.org/docs/current/protocol-error-fields.html */
const FIELD_CODES: [keyof PgErrorFields, string][] = [
  ['code', 'C'],
  ['message', 'M'],
  ['detail', 'D'],
  ['hint', 'H'],
  ['position', 'P'],
  ['where', 'W'],
  ['schema', 's'],
  ['table', 't'],
  ['column', 'c'],
  ['dataType', 'd'],
  ['constraint', 'n'],
];

const OPTIONAL_TEXT_FIELDS: [
  'detail' | 'hint' | 'where' | 'schema' | 'table' | 'column' | 'dataType' | 'constraint',
  string,
][] = [
  ['detail', 'D'],
  ['hint', 'H'],
  ['where', 'W'],
  ['schema', 's'],
  ['table', 't'],
  ['column', 'c'],
  ['dataType', 'd'],
  ['constraint', 'n'],
];

function noticeLike(type: number, fields: PgErrorFields, defaultSeverity: Severity): Buffer {
  const severity = fields.severity ?? defaultSeverity;
  const parts: [string, string][] = [
    ['S', severity],
    ['V', severity],
  ];
  for (const [key, code] of FIELD_CODES) {
    const v = fields[key];
    if (v !== undefined) parts.push([code, String(v)]);
  }
  let bodyLen = 1;
  for (const [, v] of parts) bodyLen += 1 + byteLen(v) + 1;
  const buf = Buffer.alloc(5 + bodyLen);
  let off = header(buf, 0, type, bodyLen);
  for (const [code, v] of parts) {
    off += buf.write(code, off, 'latin1');
    off += buf.write(v, off, 'utf8') + 1;
  }
  return buf;
}

/** ErrorResponse from a `PgError` (or its fields); severity defaults to ERROR. */
export function errorResponse(err: { fields: PgErrorFields } | PgErrorFields): Buffer {
  const fields = 'fields' in err ? err.fields : err;
  return noticeLike(BackendType.ErrorResponse, fields, 'ERROR');
}

/** NoticeResponse; severity defaults to NOTICE. */
export function noticeResponse(fields: PgErrorFields): Buffer {
  return noticeLike(BackendType.NoticeResponse, fields, 'NOTICE');
}

/** Replies up to this size are copied out of the writer's buffer (Buffer.from pools them). */
const SMALL_REPLY = 2048;

/**
 * Builds many backend messages into one growing buffer, so a batch of local
 * replies goes to the socket in one write with no per-message allocation.
 * `take()` hands the bytes over (the socket keeps them until flushed) and
 * starts a new buffer.
 */
export class ReplyWriter {
  private buf: Buffer;
  private len = 0;
  /** End of the last ReadyForQuery written since the last `take` (0: none). */
  private readyEnd = 0;

  constructor(private readonly initialSize = 8 * 1024) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  /** Bytes written and not yet taken. */
  get length(): number {
    return this.len;
  }

  /** A ReadyForQuery is among the bytes not yet taken: they end a batch the client waits for. */
  get endsBatch(): boolean {
    return this.readyEnd > 0;
  }

  /** Forget everything written after `length` was `mark` (a failed partial reply). */
  truncate(mark: number): void {
    if (mark < this.len) this.len = mark;
    if (mark < this.readyEnd) this.readyEnd = 0;
  }

  /** The bytes written so far, without handing them over (valid until the next write or `truncate`). */
  view(): Buffer {
    return this.buf.subarray(0, this.len);
  }

  /** The bytes written so far, or undefined when none; the writer starts over. */
  take(): Buffer | undefined {
    const len = this.len;
    if (len === 0) return undefined;
    this.len = 0;
    this.readyEnd = 0;
    // Small replies (the usual point query) are copied into Node's pooled
    // slab and the buffer is kept; large ones are handed over whole.
    if (len <= SMALL_REPLY) return Buffer.from(this.buf.subarray(0, len));
    const out = this.buf.subarray(0, len);
    this.buf = Buffer.allocUnsafe(this.initialSize);
    return out;
  }

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const grown = Buffer.allocUnsafe(size);
    this.buf.copy(grown, 0, 0, this.len);
    this.buf = grown;
  }

  /** Appends a complete, prebuilt message. */
  raw(message: Buffer): void {
    this.reserve(message.length);
    message.copy(this.buf, this.len);
    this.len += message.length;
    if (message[0] === BackendType.ReadyForQuery) this.readyEnd = this.len;
  }

  /** RowDescription; `formats[i]` (0 text, 1 binary) overrides each field's format when given. */
  rowDescription(fields: readonly FieldDescription[], formats?: readonly (0 | 1)[]): void {
    let size = 7;
    for (const f of fields) size += f.name.length * 3 + 1 + 18;
    this.reserve(size);
    const buf = this.buf;
    const start = this.len;
    buf[start] = BackendType.RowDescription;
    let off = buf.writeInt16BE(fields.length, start + 5);
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i] as FieldDescription;
      off += buf.write(f.name, off, 'utf8');
      buf[off++] = 0;
      off = buf.writeUInt32BE(f.tableOid >>> 0, off);
      off = buf.writeInt16BE(f.columnAttr, off);
      off = buf.writeUInt32BE(f.typeOid >>> 0, off);
      off = buf.writeInt16BE(f.typeSize, off);
      off = buf.writeInt32BE(f.typeModifier, off);
      off = buf.writeInt16BE(formats ? (formats[i] ?? 0) : f.format, off);
    }
    buf.writeInt32BE(off - start - 1, start + 1);
    this.len = off;
  }

  /** DataRow of text values (null is SQL NULL). */
  dataRow(values: readonly (string | null)[]): void {
    let size = 7;
    for (const v of values) size += 4 + (v === null ? 0 : v.length * 3);
    this.reserve(size);
    const buf = this.buf;
    const start = this.len;
    buf[start] = BackendType.DataRow;
    let off = buf.writeInt16BE(values.length, start + 5);
    for (const v of values) {
      if (v === null) {
        off = buf.writeInt32BE(-1, off);
      } else {
        const n = buf.write(v, off + 4, 'utf8');
        buf.writeInt32BE(n, off);
        off += 4 + n;
      }
    }
    buf.writeInt32BE(off - start - 1, start + 1);
    this.len = off;
  }

  /**
   * DataRow where column i is sent in binary when `binary[i]` is set: `encode`
   * turns its text into Postgres's binary representation (and may throw,
   * leaving the writer to be `truncate`d).
   */
  dataRowMixed(
    values: readonly (string | null)[],
    binary: readonly boolean[],
    encode: (column: number, text: string) => Buffer,
  ): void {
    const parts: (Buffer | string | null)[] = new Array(values.length);
    let size = 7;
    for (let i = 0; i < values.length; i++) {
      const v = values[i] ?? null;
      if (v === null) {
        parts[i] = null;
        size += 4;
      } else if (binary[i]) {
        const b = encode(i, v);
        parts[i] = b;
        size += 4 + b.length;
      } else {
        parts[i] = v;
        size += 4 + v.length * 3;
      }
    }
    this.reserve(size);
    const buf = this.buf;
    const start = this.len;
    buf[start] = BackendType.DataRow;
    let off = buf.writeInt16BE(values.length, start + 5);
    for (const p of parts) {
      if (p === null) {
        off = buf.writeInt32BE(-1, off);
      } else if (typeof p === 'string') {
        const n = buf.write(p, off + 4, 'utf8');
        buf.writeInt32BE(n, off);
        off += 4 + n;
      } else {
        off = buf.writeInt32BE(p.length, off);
        off += p.copy(buf, off);
      }
    }
    buf.writeInt32BE(off - start - 1, start + 1);
    this.len = off;
  }

  commandComplete(tag: string): void {
    this.reserve(6 + tag.length * 3);
    const buf = this.buf;
    const start = this.len;
    buf[start] = BackendType.CommandComplete;
    let off = start + 5;
    off += buf.write(tag, off, 'utf8');
    buf[off++] = 0;
    buf.writeInt32BE(off - start - 1, start + 1);
    this.len = off;
  }

  /**
   * Everything a simple Query answered locally sends: per result
   * RowDescription, DataRow*, CommandComplete (EmptyQueryResponse when there
   * is no result, as for an empty string), then ReadyForQuery.
   * https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-SIMPLE-QUERY
   */
  localResults(results: readonly LocalResult[], status: TxStatus): void {
    if (results.length === 0) this.raw(EMPTY_QUERY_RESPONSE);
    for (const r of results) {
      this.rowDescription(r.fields);
      for (const row of r.rows) this.dataRow(row);
      this.commandComplete(r.commandTag);
    }
    this.raw(readyForQuery(status));
  }

  /** ParameterDescription: the parameter type OIDs of a statement. */
  parameterDescription(typeOids: readonly number[]): void {
    const size = 7 + 4 * typeOids.length;
    this.reserve(size);
    const buf = this.buf;
    buf[this.len] = BackendType.ParameterDescription;
    buf.writeInt32BE(size - 1, this.len + 1);
    let off = buf.writeInt16BE(typeOids.length, this.len + 5);
    for (const oid of typeOids) off = buf.writeUInt32BE(oid >>> 0, off);
    this.len = off;
  }
}

/**
 * The mechanism names of an AuthenticationSASL message's data (after the
 * request code): a list of strings ended by an empty one.
 */
export function parseSaslMechanisms(data: Buffer): string[] {
  const out: string[] = [];
  let off = 0;
  while (off < data.length && data[off] !== 0) {
    const [name, next] = cstring(data, off);
    out.push(name);
    off = next;
  }
  return out;
}

/** AuthenticationSASL offering `mechanisms`. */
export function authenticationSasl(mechanisms: readonly string[]): Buffer {
  let bodyLen = 4 + 1;
  for (const m of mechanisms) bodyLen += byteLen(m) + 1;
  const buf = Buffer.alloc(5 + bodyLen);
  let off = header(buf, 0, BackendType.Authentication, bodyLen);
  off = buf.writeInt32BE(AuthCode.SASL, off);
  for (const m of mechanisms) off += buf.write(m, off, 'utf8') + 1;
  return buf;
}

// ---- parsers for upstream messages the session observes -------------------

function cstring(body: Buffer, off: number): [string, number] {
  const end = body.indexOf(0, off);
  if (end < 0) throw protocolViolation('invalid message format: unterminated string');
  return [body.toString('utf8', off, end), end + 1];
}

export function parseReadyForQuery(body: Buffer): TxStatus {
  const s = body.length === 1 ? String.fromCharCode(body[0] ?? 0) : '';
  if (s !== 'I' && s !== 'T' && s !== 'E') throw protocolViolation('invalid ReadyForQuery message');
  return s;
}

export function parseParameterStatus(body: Buffer): { name: string; value: string } {
  const [name, off] = cstring(body, 0);
  const [value] = cstring(body, off);
  return { name, value };
}

export function parseBackendKeyData(body: Buffer): { processId: number; secretKey: Buffer } {
  if (body.length < 8) throw protocolViolation('invalid BackendKeyData message');
  return { processId: body.readInt32BE(0), secretKey: Buffer.from(body.subarray(4)) };
}

/** Authentication*: the request code and whatever data follows it (salt, SASL payload). */
export function parseAuthentication(body: Buffer): { code: number; data: Buffer } {
  if (body.length < 4) throw protocolViolation('invalid Authentication message');
  return { code: body.readInt32BE(0), data: body.subarray(4) };
}

/**
 * The fields of an ErrorResponse / NoticeResponse body, keyed by field code
 * ('S', 'V', 'C', 'M', ...), in order.
 */
export function parseErrorFields(body: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let off = 0;
  while (off < body.length) {
    const code = body[off] ?? 0;
    if (code === 0) break;
    const [value, next] = cstring(body, off + 1);
    out.set(String.fromCharCode(code), value);
    off = next;
  }
  return out;
}

/** An ErrorResponse / NoticeResponse body as `PgErrorFields`. */
export function parseErrorResponse(body: Buffer): PgErrorFields {
  const f = parseErrorFields(body);
  const fields: PgErrorFields = {
    severity: (f.get('V') ?? f.get('S') ?? 'ERROR') as Severity,
    code: f.get('C') ?? SqlState.internalError,
    message: f.get('M') ?? '',
  };
  const position = f.get('P');
  if (position !== undefined) fields.position = Number(position);
  for (const [key, code] of OPTIONAL_TEXT_FIELDS) {
    const v = f.get(code);
    if (v !== undefined) fields[key] = v;
  }
  return fields;
}
