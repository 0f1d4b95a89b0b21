/**
 * Frame splitting for the Postgres wire protocol, with no sockets involved.
 *
 * Every message after the startup phase is `Byte1 type, Int32 length, body`
 * where the length counts itself but not the type byte; the packets a client
 * sends before it has a session (StartupMessage, SSLRequest, GSSENCRequest,
 * CancelRequest) have no type byte, just `Int32 length, Int32 code, ...`.
 * https://www.postgresql.org/docs/current/protocol-overview.html#PROTOCOL-MESSAGE-CONCEPTS
 *
 * Two readers:
 * - `FrameReader` keeps ONE growable receive buffer per connection and hands
 *   out whole frames as views into it (no per-message allocation). Used for
 *   everything a client sends, and for upstream until its first ReadyForQuery.
 * - `FrameScanner` only walks frame boundaries of a byte stream that is being
 *   relayed unchanged, copying nothing but the (small) bodies of the message
 *   types the caller wants to observe. Used for upstream → client after startup,
 *   where result sets can be large.
 */
import { PgError, SqlState } from '../errors.js';

/**
 * Largest length word accepted (1 GiB - 1). Postgres itself refuses anything
 * above PQ_LARGE_MESSAGE_LIMIT (MaxAllocSize - 1); refusing here means a bogus
 * length can never make us allocate more than that.
 */
export const MAX_MESSAGE_LENGTH = 0x3fff_ffff;

/** Postgres's MAX_STARTUP_PACKET_LENGTH (src/include/libpq/pqcomm.h). */
export const MAX_STARTUP_PACKET_LENGTH = 10_000;

/**
 * A message longer than this, of a type the reader may stream, is handed out
 * in pieces as its bytes arrive rather than buffered whole.
 */
export const STREAM_ABOVE = 64 * 1024;

/** `Frame.type` of an untyped startup-phase packet. */
export const STARTUP_PACKET = 0;

const INITIAL_BUFFER_SIZE = 16 * 1024;
/** An idle buffer larger than this (after one huge message) is given back. */
const SHRINK_ABOVE = 1024 * 1024;

/** A FATAL 08P01, what Postgres sends for any framing or ordering violation. */
export function protocolViolation(message: string): PgError {
  return new PgError({ severity: 'FATAL', code: SqlState.protocolViolation, message });
}

/** The message type byte as Postgres prints it in errors. */
export function typeName(type: number): string {
  return type >= 0x20 && type < 0x7f ? String.fromCharCode(type) : `\\x${type.toString(16).padStart(2, '0')}`;
}

export interface Frame {
  /** Message type byte, or `STARTUP_PACKET` (0) for an untyped startup-phase packet. */
  type: number;
  /** The bytes after the length word. A view, valid until the reader's next `push()`. */
  body: Buffer;
  /** The whole frame (type, length, body). A view, valid until the reader's next `push()`. */
  raw: Buffer;
  /**
   * Set when a streamed message is handed out in pieces: the first piece has
   * the type and length word (`raw`) and the body bytes received so far
   * (`body`); each later piece is just more body bytes (`raw` and `body` alike).
   */
  piece?: { first: boolean; last: boolean };
}

export interface FrameReaderOptions {
  /** Start by expecting an untyped startup packet (a server reading a client); default false. */
  startup?: boolean;
  /**
   * Largest length word accepted for a typed message, for every type or by
   * type (consulted as soon as a header is complete, so a message over its
   * limit is refused before its body is read); default `MAX_MESSAGE_LENGTH`.
   */
  maxLength?: number | ((type: number) => number);
  /**
   * Types whose messages longer than `STREAM_ABOVE` are handed out in pieces
   * (`Frame.piece`) as they arrive, so that one connection never holds a
   * whole large message it only relays. Default: none.
   */
  streamable?: (type: number) => boolean;
}

/**
 * Incremental splitter over one reusable receive buffer. `push()` each chunk
 * as it arrives, then call `next()` until it returns undefined. Frames are
 * views into the buffer: copy anything kept past the next `push()`.
 * Throws a FATAL 08P01 `PgError` on an impossible length; the reader is then
 * unusable and the connection must be closed.
 */
export class FrameReader {
  /** When true the next frame is an untyped startup packet. The caller flips it. */
  expectStartup: boolean;
  private readonly maxLength: (type: number) => number;
  private readonly streamable: (type: number) => boolean;
  /** Bytes (type and length word included) of the message being streamed still to come. */
  private streamLeft = 0;
  private streamType = 0;
  private buf: Buffer;
  /** First unread byte. */
  private start = 0;
  /** One past the last received byte. */
  private end = 0;

  constructor(opts: FrameReaderOptions = {}) {
    this.expectStartup = opts.startup ?? false;
    const max = opts.maxLength ?? MAX_MESSAGE_LENGTH;
    this.maxLength = typeof max === 'number' ? () => max : max;
    this.streamable = opts.streamable ?? (() => false);
    this.buf = Buffer.allocUnsafe(INITIAL_BUFFER_SIZE);
  }

  /** Bytes received and not yet returned as frames. */
  buffered(): number {
    return this.end - this.start;
  }

  /** True between the first and the last piece of a streamed message. */
  streaming(): boolean {
    return this.streamLeft > 0;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    const unread = this.end - this.start;
    if (unread === 0) {
      this.start = 0;
      this.end = 0;
      if (this.buf.length > SHRINK_ABOVE && chunk.length <= INITIAL_BUFFER_SIZE) {
        this.buf = Buffer.allocUnsafe(INITIAL_BUFFER_SIZE);
      }
    }
    if (this.end + chunk.length > this.buf.length) {
      const needed = unread + chunk.length;
      if (needed <= this.buf.length) {
        // Enough room once the consumed prefix is dropped.
        this.buf.copy(this.buf, 0, this.start, this.end);
      } else {
        // Grow by doubling so a large message arriving in many chunks costs
        // amortised O(n); sized by bytes actually received, never by a claimed length.
        let size = this.buf.length * 2;
        while (size < needed) size *= 2;
        const grown = Buffer.allocUnsafe(size);
        this.buf.copy(grown, 0, this.start, this.end);
        this.buf = grown;
      }
      this.start = 0;
      this.end = unread;
    }
    chunk.copy(this.buf, this.end);
    this.end += chunk.length;
  }

  next(): Frame | undefined {
    const avail = this.end - this.start;
    if (this.streamLeft > 0) {
      if (avail === 0) return undefined;
      const take = Math.min(avail, this.streamLeft);
      const raw = this.buf.subarray(this.start, this.start + take);
      this.start += take;
      this.streamLeft -= take;
      return { type: this.streamType, body: raw, raw, piece: { first: false, last: this.streamLeft === 0 } };
    }
    if (this.expectStartup) {
      if (avail < 4) return undefined;
      const len = this.buf.readInt32BE(this.start);
      // https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-STARTUPMESSAGE
      if (len < 8 || len > MAX_STARTUP_PACKET_LENGTH)
        throw protocolViolation('invalid length of startup packet');
      if (avail < len) return undefined;
      const raw = this.buf.subarray(this.start, this.start + len);
      this.start += len;
      return { type: STARTUP_PACKET, body: raw.subarray(4), raw };
    }
    if (avail < 5) return undefined;
    const type = this.buf[this.start] ?? 0;
    const len = this.buf.readInt32BE(this.start + 1);
    if (len < 4 || len > this.maxLength(type)) {
      throw protocolViolation(`invalid message length ${len} for message type "${typeName(type)}"`);
    }
    if (avail < len + 1) {
      if (len <= STREAM_ABOVE || !this.streamable(type)) return undefined;
      // Hand out what is here; the rest follows piece by piece, never buffered whole.
      const raw = this.buf.subarray(this.start, this.end);
      this.start = this.end;
      this.streamLeft = len + 1 - avail;
      this.streamType = type;
      return { type, body: raw.subarray(5), raw, piece: { first: true, last: false } };
    }
    const raw = this.buf.subarray(this.start, this.start + len + 1);
    this.start += len + 1;
    return { type, body: raw.subarray(5), raw };
  }

  /**
   * Un-read the frame `next()` just returned, so it is returned again later
   * (used to hold a message until upstream catches up). `push()` keeps unread
   * bytes intact, so this stays valid across pushes as long as nothing else
   * was read in between.
   */
  putBack(frame: Frame): void {
    if (frame.piece) throw new Error('a piece of a streamed message cannot be put back');
    this.start -= frame.raw.length;
  }

  /** A copy of every unread byte; the reader is left empty. */
  takeRemaining(): Buffer {
    const rest = Buffer.from(this.buf.subarray(this.start, this.end));
    this.start = 0;
    this.end = 0;
    return rest;
  }
}

/** `RelayVisitor.visit` flag: call `message()` with the complete body. */
export const SCAN_OBSERVE = 1;
/** `RelayVisitor.visit` flag: leave the whole message out of the relayed bytes. */
export const SCAN_DROP = 2;

export interface RelayVisitor {
  /**
   * Called at the first byte of every message (its type byte), before any of
   * it is relayed, so the answer may depend on every earlier message. Returns
   * `SCAN_OBSERVE` and/or `SCAN_DROP` flags.
   */
  visit(type: number): number;
  /** An observed message, complete; the body is a view valid during the call. */
  message(type: number, body: Buffer): void;
}

/**
 * Walks the frame boundaries of a stream relayed (almost) unchanged. For each
 * message, `visit` decides whether its body is wanted (`message` is then
 * called with it: a view into the chunk when the message lies within it, or a
 * private copy when it spans chunks) and whether it is dropped from the
 * relayed bytes. Nothing else is copied.
 */
export class FrameScanner {
  private readonly header = Buffer.alloc(5);
  /** Header bytes of the current message seen so far (0 at a boundary or in a body). */
  private headerFill = 0;
  /** In the body of the current message. */
  private inBody = false;
  private type = 0;
  /** Flags `visit` gave the current message. */
  private flags = 0;
  /** Body bytes of the current message still to come. */
  private remaining = 0;
  private capture: Buffer | undefined;
  private captureFill = 0;

  /** `observe` is the `visit` of `scan()`: which message types it reports. */
  constructor(
    private readonly observe: (type: number) => boolean = () => false,
    private readonly maxLength = MAX_MESSAGE_LENGTH,
  ) {}

  /** True when the bytes scanned so far end exactly at a message boundary. */
  atBoundary(): boolean {
    return this.headerFill === 0 && !this.inBody;
  }

  /** Observe-only walk: `onMessage` for each complete message `observe` accepts. */
  scan(chunk: Buffer, onMessage: (type: number, body: Buffer) => void): void {
    const visitor: RelayVisitor = {
      visit: (type) => (this.observe(type) ? SCAN_OBSERVE : 0),
      message: onMessage,
    };
    this.relay(chunk, visitor, undefined);
  }

  /**
   * Walks `chunk` and appends to `out` the parts of it to relay: the chunk
   * itself when nothing in it is dropped, else the slices between dropped
   * messages. Throws a FATAL 08P01 `PgError` on an impossible length.
   */
  relay(chunk: Buffer, visitor: RelayVisitor, out: Buffer[] | undefined): void {
    const n = chunk.length;
    let off = 0;
    /** Start of the bytes not yet appended to `out` (when not dropping). */
    let keepFrom = 0;
    let dropping = !this.atBoundary() && (this.flags & SCAN_DROP) !== 0;
    while (off < n) {
      if (!this.inBody) {
        if (this.headerFill === 0) {
          // A message starts here: decide before any of its bytes are relayed.
          const type = chunk[off] ?? 0;
          this.type = type;
          this.flags = visitor.visit(type);
          const drop = (this.flags & SCAN_DROP) !== 0;
          if (drop && !dropping) {
            if (out && off > keepFrom) out.push(chunk.subarray(keepFrom, off));
            dropping = true;
          } else if (!drop && dropping) {
            keepFrom = off;
            dropping = false;
          }
        }
        let len: number;
        if (this.headerFill === 0 && n - off >= 5) {
          len = chunk.readInt32BE(off + 1);
          off += 5;
        } else {
          const take = Math.min(5 - this.headerFill, n - off);
          chunk.copy(this.header, this.headerFill, off, off + take);
          this.headerFill += take;
          off += take;
          if (this.headerFill < 5) break;
          this.headerFill = 0;
          len = this.header.readInt32BE(1);
        }
        if (len < 4 || len > this.maxLength) {
          throw protocolViolation(`invalid message length ${len} for message type "${typeName(this.type)}"`);
        }
        const bodyLen = len - 4;
        if ((this.flags & SCAN_OBSERVE) !== 0) {
          if (n - off >= bodyLen) {
            const body = chunk.subarray(off, off + bodyLen);
            off += bodyLen;
            visitor.message(this.type, body);
            continue;
          }
          this.capture = Buffer.allocUnsafe(bodyLen);
          this.captureFill = 0;
        }
        this.remaining = bodyLen;
        this.inBody = bodyLen > 0;
        continue;
      }
      const take = Math.min(this.remaining, n - off);
      if (this.capture) {
        chunk.copy(this.capture, this.captureFill, off, off + take);
        this.captureFill += take;
      }
      off += take;
      this.remaining -= take;
      if (this.remaining === 0) {
        this.inBody = false;
        const body = this.capture;
        this.capture = undefined;
        if (body) visitor.message(this.type, body);
      }
    }
    if (out && !dropping && keepFrom < n) out.push(keepFrom === 0 ? chunk : chunk.subarray(keepFrom));
  }
}
