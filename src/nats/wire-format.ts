/**
 * The JetStream message format of the change stream (issue 18, docs/architecture.md):
 * one message is one *part* of one committed transaction, or one heartbeat.
 *
 * Body of a tx part: records `u32be length` + the pgoutput message bytes exactly as the
 * walsender sent them, in stream order. Headers say what the body is, so an edge can
 * route a message without decoding it. Everything here is pure (no NATS import): the
 * hub and the edges share it, and it is unit-tested on its own.
 */
import { formatLsn, type Lsn, parseLsn } from '../replication/lsn.js';

export const HDR_MSG_ID = 'Nats-Msg-Id';
export const HDR_KIND = 'Outpost-Kind';
export const HDR_LSN = 'Outpost-Lsn';
export const HDR_PART = 'Outpost-Part';
export const HDR_LAST = 'Outpost-Last';
export const HDR_TIME = 'Outpost-Time';
/** On a reset: `1` when the hub publishes an object-store snapshot covering it (snapshots enabled). */
export const HDR_SNAPSHOT = 'Outpost-Snapshot';

/** Parts are cut once they pass this size; NATS' default max_payload is 1 MiB. */
export const PART_TARGET_BYTES = 512 * 1024;

export const DEFAULT_STREAM = 'OUTPOST';

export function changesSubject(stream: string): string {
  return `${stream}.changes`;
}

/** Stream names become subjects and file names: keep them to what NATS accepts everywhere. */
export function validStreamName(name: string): boolean {
  return /^[A-Za-z0-9_-]{1,64}$/.test(name);
}

export function txMsgId(finalLsn: Lsn, part: number): string {
  return `${formatLsn(finalLsn)}#${part}`;
}

/**
 * `hb:<X/Y>`; a heartbeat repeated at the same position (liveness) adds `@<time>`, or the
 * stream's duplicate window would drop it and edges would see no heartbeat at all.
 */
export function heartbeatMsgId(lsn: Lsn, repeatAt?: number): string {
  return repeatAt === undefined ? `hb:${formatLsn(lsn)}` : `hb:${formatLsn(lsn)}@${repeatAt}`;
}

export interface TxPartHeader {
  kind: 'tx';
  /** The transaction's Begin final LSN (its commit record's LSN). */
  finalLsn: Lsn;
  part: number;
  /** True on the part that holds the Commit. */
  last: boolean;
  /** Hub's Date.now() when it published. */
  time: number;
}

export interface HeartbeatHeader {
  kind: 'hb';
  /** Upstream WAL end the hub had fully applied and published. */
  lsn: Lsn;
  time: number;
  /** Not the first heartbeat at this position (its msg id then carries the time). */
  repeat?: boolean;
}

/**
 * The hub's replica was remade from a snapshot at `lsn`, past what the stream
 * held: the changes between the stream's previous message and `lsn` are not in
 * the stream. An edge that reads it (with a replica before `lsn`) must stop
 * applying and re-bootstrap from a snapshot that covers this message.
 */
export interface ResetHeader {
  kind: 'reset';
  lsn: Lsn;
  time: number;
  /** The hub publishes an object-store snapshot covering this message (else edges take their own). */
  snapshot: boolean;
}

export type StreamHeader = TxPartHeader | HeartbeatHeader | ResetHeader;

export function resetMsgId(lsn: Lsn): string {
  return `reset:${formatLsn(lsn)}`;
}

/** The LSN a message stands at (tx: its final LSN). */
export function headerLsn(h: StreamHeader): Lsn {
  return h.kind === 'tx' ? h.finalLsn : h.lsn;
}

/** Header name/value pairs for a message (the caller copies them into the client's MsgHdrs). */
export function encodeHeader(h: StreamHeader): Array<[string, string]> {
  if (h.kind === 'tx') {
    const out: Array<[string, string]> = [
      [HDR_MSG_ID, txMsgId(h.finalLsn, h.part)],
      [HDR_KIND, 'tx'],
      [HDR_LSN, formatLsn(h.finalLsn)],
      [HDR_PART, String(h.part)],
    ];
    if (h.last) out.push([HDR_LAST, '1']);
    out.push([HDR_TIME, String(h.time)]);
    return out;
  }
  if (h.kind === 'reset') {
    return [
      [HDR_MSG_ID, resetMsgId(h.lsn)],
      [HDR_KIND, 'reset'],
      [HDR_LSN, formatLsn(h.lsn)],
      [HDR_SNAPSHOT, h.snapshot ? '1' : '0'],
      [HDR_TIME, String(h.time)],
    ];
  }
  return [
    [HDR_MSG_ID, heartbeatMsgId(h.lsn, h.repeat ? h.time : undefined)],
    [HDR_KIND, 'hb'],
    [HDR_LSN, formatLsn(h.lsn)],
    [HDR_TIME, String(h.time)],
  ];
}

/** The only thing decodeHeader needs from a message's headers (NATS' MsgHdrs fits: missing = ''). */
export interface HeaderReader {
  get(name: string): string;
}

/** Thrown for a message that is not of this format (a foreign publisher on the subject, a corrupt body). */
export class WireFormatError extends Error {}

export function decodeHeader(h: HeaderReader | undefined): StreamHeader {
  if (!h) throw new WireFormatError('stream message has no headers');
  const kind = h.get(HDR_KIND);
  const lsnText = h.get(HDR_LSN);
  let lsn: Lsn;
  try {
    lsn = parseLsn(lsnText);
  } catch {
    throw new WireFormatError(`stream message has an invalid ${HDR_LSN}: ${JSON.stringify(lsnText)}`);
  }
  const timeText = h.get(HDR_TIME);
  const time = timeText === '' ? 0 : Number(timeText);
  if (!Number.isFinite(time)) throw new WireFormatError(`stream message has an invalid ${HDR_TIME}`);
  if (kind === 'hb') return { kind: 'hb', lsn, time };
  if (kind === 'reset') return { kind: 'reset', lsn, time, snapshot: h.get(HDR_SNAPSHOT) === '1' };
  if (kind !== 'tx')
    throw new WireFormatError(`stream message has an unknown ${HDR_KIND}: ${JSON.stringify(kind)}`);
  const partText = h.get(HDR_PART);
  if (!/^[0-9]{1,9}$/.test(partText)) {
    throw new WireFormatError(`stream message has an invalid ${HDR_PART}: ${JSON.stringify(partText)}`);
  }
  return { kind: 'tx', finalLsn: lsn, part: Number(partText), last: h.get(HDR_LAST) === '1', time };
}

/** Concatenates records as `u32be length` + bytes. */
export function encodeRecords(records: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const r of records) size += 4 + r.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const r of records) {
    view.setUint32(at, r.length);
    out.set(r, at + 4);
    at += 4 + r.length;
  }
  return out;
}

/** Splits a tx part body into its pgoutput messages (views into `body`, not copies). */
export function decodeRecords(body: Uint8Array): Buffer[] {
  // Views, not copies, as Buffers (what the engine's decoder reads): one wrapper for the body.
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const out: Buffer[] = [];
  let at = 0;
  while (at < buf.length) {
    if (at + 4 > buf.length) throw new WireFormatError('truncated record length in a stream message');
    const len = buf.readUInt32BE(at);
    const end = at + 4 + len;
    if (end > buf.length) throw new WireFormatError('truncated record in a stream message');
    out.push(buf.subarray(at + 4, end));
    at = end;
  }
  return out;
}

/**
 * Accumulates one transaction's records and cuts them into parts of about
 * PART_TARGET_BYTES (a single record bigger than that becomes a part of its own: NATS
 * refuses it only past max_payload, which a pgoutput row of > 1 MiB would need).
 * Records are copied in as they come, so a caller may pass views of a buffer it reuses.
 */
export class PartCutter {
  private buf: Buffer;
  private used = 0;
  private count = 0;

  constructor(private readonly target = PART_TARGET_BYTES) {
    this.buf = Buffer.allocUnsafe(target + 64 * 1024);
  }

  /** Adds a record; returns a full part body when the target was reached, else null. */
  push(record: Uint8Array): Uint8Array | null {
    const need = this.used + 4 + record.length;
    if (need > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2));
      this.buf.copy(bigger, 0, 0, this.used);
      this.buf = bigger;
    }
    this.buf.writeUInt32BE(record.length, this.used);
    this.buf.set(record, this.used + 4);
    this.used = need;
    this.count++;
    return this.used >= this.target ? this.flush() : null;
  }

  get pendingBytes(): number {
    return this.used;
  }

  get empty(): boolean {
    return this.count === 0;
  }

  /** The records gathered since the last cut (possibly none) as one body (a copy: the buffer is reused). */
  flush(): Uint8Array {
    const body = Buffer.from(this.buf.subarray(0, this.used));
    this.used = 0;
    this.count = 0;
    // One oversized record grew the buffer: do not keep that much memory around.
    if (this.buf.length > 4 * (this.target + 64 * 1024))
      this.buf = Buffer.allocUnsafe(this.target + 64 * 1024);
    return body;
  }

  /** Drops what was gathered (a transaction abandoned mid-way). */
  reset(): void {
    this.used = 0;
    this.count = 0;
  }
}
