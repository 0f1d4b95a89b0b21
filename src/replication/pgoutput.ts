/**
 * Pure decoder of the pgoutput logical replication messages, protocol version 1
 * (https://www.postgresql.org/docs/current/protocol-logicalrep-message-formats.html).
 * Column values stay Postgres text (as the walsender rendered them); no
 * conversion happens here.
 */
import type { Lsn } from './lsn.js';

/** TupleData 'u': an unchanged TOASTed value that was not sent; keep the stored one. */
export const UNCHANGED_TOAST: unique symbol = Symbol('unchanged-toast');
export type ColumnValue = string | null | typeof UNCHANGED_TOAST;

export interface RelationColumn {
  /** Flag 1: part of the replica identity (for REPLICA IDENTITY FULL, every column). */
  isKey: boolean;
  name: string;
  typeOid: number;
  typmod: number;
}

export interface BeginMessage {
  tag: 'begin';
  /** LSN of the commit record (the transaction's final LSN). */
  finalLsn: Lsn;
  /** Microseconds since 2000-01-01 UTC. */
  commitTime: bigint;
  xid: number;
}
export interface CommitMessage {
  tag: 'commit';
  flags: number;
  commitLsn: Lsn;
  /** End of the commit record: the position to resume after this transaction. */
  endLsn: Lsn;
  commitTime: bigint;
}
export interface OriginMessage {
  tag: 'origin';
  commitLsn: Lsn;
  name: string;
}
export interface RelationMessage {
  tag: 'relation';
  oid: number;
  /** Empty string for pg_catalog, as the protocol sends it. */
  schema: string;
  name: string;
  /** relreplident: 'd' default, 'n' nothing, 'f' full, 'i' index. */
  replicaIdentity: string;
  columns: RelationColumn[];
}
export interface TypeMessage {
  tag: 'type';
  oid: number;
  schema: string;
  name: string;
}
export interface InsertMessage {
  tag: 'insert';
  relationOid: number;
  newTuple: ColumnValue[];
}
export interface UpdateMessage {
  tag: 'update';
  relationOid: number;
  /** 'K': the old key (only key columns set) when the key changed; 'O': the whole old row (REPLICA IDENTITY FULL). */
  oldKind: 'K' | 'O' | null;
  oldTuple: ColumnValue[] | null;
  newTuple: ColumnValue[];
}
export interface DeleteMessage {
  tag: 'delete';
  relationOid: number;
  oldKind: 'K' | 'O';
  oldTuple: ColumnValue[];
}
export interface TruncateMessage {
  tag: 'truncate';
  cascade: boolean;
  restartIdentity: boolean;
  relationOids: number[];
}
export interface LogicalMessage {
  tag: 'message';
  transactional: boolean;
  lsn: Lsn;
  prefix: string;
  content: Buffer;
}

export type PgOutputMessage =
  | BeginMessage
  | CommitMessage
  | OriginMessage
  | RelationMessage
  | TypeMessage
  | InsertMessage
  | UpdateMessage
  | DeleteMessage
  | TruncateMessage
  | LogicalMessage;

class Reader {
  pos = 0;
  constructor(private readonly buf: Buffer) {}
  u8(): number {
    this.need(1);
    return this.buf.readUInt8(this.pos++);
  }
  i16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  i32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  u64(): bigint {
    this.need(8);
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return v;
  }
  i64(): bigint {
    this.need(8);
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }
  /** A NUL-terminated string. */
  cstring(): string {
    const end = this.buf.indexOf(0, this.pos);
    if (end < 0) throw new Error('pgoutput: unterminated string');
    const s = this.buf.toString('utf8', this.pos, end);
    this.pos = end + 1;
    return s;
  }
  /** n bytes of UTF-8 (no intermediate Buffer: this runs for every value). */
  text(n: number): string {
    this.need(n);
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new Error('pgoutput: message truncated');
  }
}

/** TupleData: Int16 column count, then per column 'n' | 'u' | 't' Int32 len, bytes. */
function readTuple(r: Reader): ColumnValue[] {
  const n = r.i16();
  const values: ColumnValue[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const kind = r.u8();
    switch (kind) {
      case 0x6e: // 'n'
        values[i] = null;
        break;
      case 0x75: // 'u'
        values[i] = UNCHANGED_TOAST;
        break;
      case 0x74: // 't'
        values[i] = r.text(r.i32());
        break;
      case 0x62: // 'b' only with the `binary` option, which Outpost never requests
        throw new Error('pgoutput: binary tuple data not supported');
      default:
        throw new Error(`pgoutput: unknown tuple data kind 0x${kind.toString(16)}`);
    }
  }
  return values;
}

function expectByte(r: Reader, want: string): void {
  const got = r.u8();
  if (got !== want.charCodeAt(0)) {
    throw new Error(`pgoutput: expected '${want}', got 0x${got.toString(16)}`);
  }
}

/** Decodes one pgoutput message (the payload of an XLogData 'w' message). */
export function decodePgOutput(buf: Buffer): PgOutputMessage {
  const r = new Reader(buf);
  const tag = String.fromCharCode(r.u8());
  switch (tag) {
    case 'B':
      return { tag: 'begin', finalLsn: r.u64(), commitTime: r.i64(), xid: r.u32() };
    case 'C':
      return { tag: 'commit', flags: r.u8(), commitLsn: r.u64(), endLsn: r.u64(), commitTime: r.i64() };
    case 'O':
      return { tag: 'origin', commitLsn: r.u64(), name: r.cstring() };
    case 'R': {
      const oid = r.u32();
      const schema = r.cstring();
      const name = r.cstring();
      const replicaIdentity = String.fromCharCode(r.u8());
      const n = r.i16();
      const columns: RelationColumn[] = [];
      for (let i = 0; i < n; i++) {
        const flags = r.u8();
        columns.push({ isKey: (flags & 1) === 1, name: r.cstring(), typeOid: r.u32(), typmod: r.i32() });
      }
      return { tag: 'relation', oid, schema, name, replicaIdentity, columns };
    }
    case 'Y':
      return { tag: 'type', oid: r.u32(), schema: r.cstring(), name: r.cstring() };
    case 'I': {
      const relationOid = r.u32();
      expectByte(r, 'N');
      return { tag: 'insert', relationOid, newTuple: readTuple(r) };
    }
    case 'U': {
      const relationOid = r.u32();
      let kind = String.fromCharCode(r.u8());
      let oldKind: 'K' | 'O' | null = null;
      let oldTuple: ColumnValue[] | null = null;
      if (kind === 'K' || kind === 'O') {
        oldKind = kind;
        oldTuple = readTuple(r);
        kind = String.fromCharCode(r.u8());
      }
      if (kind !== 'N') throw new Error(`pgoutput: expected 'N' in Update, got ${JSON.stringify(kind)}`);
      return { tag: 'update', relationOid, oldKind, oldTuple, newTuple: readTuple(r) };
    }
    case 'D': {
      const relationOid = r.u32();
      const kind = String.fromCharCode(r.u8());
      if (kind !== 'K' && kind !== 'O') {
        throw new Error(`pgoutput: expected 'K' or 'O' in Delete, got ${JSON.stringify(kind)}`);
      }
      return { tag: 'delete', relationOid, oldKind: kind, oldTuple: readTuple(r) };
    }
    case 'T': {
      const n = r.i32();
      const options = r.u8();
      const relationOids: number[] = [];
      for (let i = 0; i < n; i++) relationOids.push(r.u32());
      return {
        tag: 'truncate',
        cascade: (options & 1) !== 0,
        restartIdentity: (options & 2) !== 0,
        relationOids,
      };
    }
    case 'M': {
      const flags = r.u8();
      const lsn = r.u64();
      const prefix = r.cstring();
      const len = r.i32();
      return {
        tag: 'message',
        transactional: (flags & 1) !== 0,
        lsn,
        prefix,
        content: Buffer.from(r.bytes(len)),
      };
    }
    default:
      throw new Error(`pgoutput: unknown message type ${JSON.stringify(tag)}`);
  }
}
