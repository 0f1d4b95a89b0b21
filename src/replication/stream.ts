/**
 * The replication connection: a `pg` client in `replication=database` mode
 * (https://www.postgresql.org/docs/current/protocol-replication.html), used for
 * IDENTIFY_SYSTEM, CREATE_REPLICATION_SLOT and START_REPLICATION, then the
 * CopyBoth stream of XLogData / keepalive messages and our Standby Status
 * Updates.
 */
import { EventEmitter } from 'node:events';
import pg from 'pg';
import { formatLsn, type Lsn, parseLsn } from './lsn.js';

/**
 * Session settings for every upstream session whose text output Outpost
 * stores. pgoutput renders values with the walsender's settings, so they go in
 * the startup packet (a replication session with an exported snapshot cannot
 * run SET afterwards).
 */
export const SESSION_GUCS: Record<string, string> = {
  DateStyle: 'ISO',
  TimeZone: 'UTC',
  IntervalStyle: 'postgres',
  extra_float_digits: '3',
  bytea_output: 'hex',
  client_encoding: 'UTF8',
};

export const SESSION_OPTIONS = Object.entries(SESSION_GUCS)
  .map(([k, v]) => `-c ${k}=${v}`)
  .join(' ');

export const CONNECT_TIMEOUT_MS = 30_000;

/**
 * Read gathering. Node reads the socket as soon as anything arrives, and each
 * read makes the kernel acknowledge at once; on loopback (and any short path)
 * an acknowledged walsender then sends its next message as a segment of its
 * own, and every segment costs the walsender the whole TCP/IP path (on loopback
 * the receive side too, in its own context). While a big transaction or a
 * backlog streams, ~1M messages went as 50k-170k segments to a reader that kept
 * up, and the walsender's system time grew with them. So once a burst of reads
 * has drained the socket (a read shorter than Node's 64 KiB buffer) after at
 * least GATHER_MIN_BYTES, reading waits GATHER_MS: the walsender's sends pile up
 * unacknowledged and leave as few large segments (its sends stay one per
 * message: that is the walsender's own loop). A trickle of small transactions
 * never reaches GATHER_MIN_BYTES in one burst and is read at once, so
 * commit-to-applied latency is unchanged; a bulk stream waits at most GATHER_MS
 * between bursts (the socket's buffer holds far more than arrives meanwhile).
 * OUTPOST_REPL_GATHER_MS overrides it (0 turns it off; the bench compares).
 */
const GATHER_MS = gatherMsFromEnv(process.env.OUTPOST_REPL_GATHER_MS, 2);
const GATHER_MIN_BYTES = 16 * 1024;
/** Node's read size for a net.Socket: a read this long may have left more in the kernel. */
const NODE_READ_BYTES = 64 * 1024;

export function gatherMsFromEnv(v: string | undefined, dflt: number): number {
  if (v === undefined || v.trim() === '') return dflt;
  const n = Number(v);
  return Number.isFinite(n) && n >= 0 ? Math.min(n, 100) : dflt;
}

/** XLogData ('w'): one pgoutput message and the server's WAL position. */
export interface XLogData {
  kind: 'xlog';
  dataStart: Lsn;
  walEnd: Lsn;
  sendTime: bigint;
  data: Buffer;
}

/** Primary keepalive ('k'). */
export interface Keepalive {
  kind: 'keepalive';
  walEnd: Lsn;
  sendTime: bigint;
  replyRequested: boolean;
}

/**
 * Parses one CopyData payload of the replication stream
 * (https://www.postgresql.org/docs/current/protocol-replication.html#PROTOCOL-REPLICATION-XLOGDATA).
 * Returns undefined for message types we do not know (ignored).
 */
export function parseStreamMessage(buf: Buffer): XLogData | Keepalive | undefined {
  const tag = buf[0];
  if (tag === 0x77 /* 'w' */) return new XLogMessage(buf);
  if (tag === 0x6b /* 'k' */) {
    return {
      kind: 'keepalive',
      walEnd: buf.readBigUInt64BE(1),
      sendTime: buf.readBigInt64BE(9),
      replyRequested: buf[17] === 1,
    };
  }
  return undefined;
}

/**
 * XLogData read on demand: one arrives per pgoutput message, and only
 * `walEnd` and `data` are needed for each (a BigInt read costs).
 */
class XLogMessage implements XLogData {
  readonly kind = 'xlog' as const;
  readonly walEnd: Lsn;
  readonly data: Buffer;
  constructor(private readonly raw: Buffer) {
    this.walEnd = raw.readBigUInt64BE(9);
    this.data = raw.subarray(25);
  }
  get dataStart(): Lsn {
    return this.raw.readBigUInt64BE(1);
  }
  get sendTime(): bigint {
    return this.raw.readBigInt64BE(17);
  }
  /** A copy that owns its bytes (see `detachXLog`). */
  detach(): XLogMessage {
    return new XLogMessage(Buffer.from(this.raw));
  }
}

/**
 * XLogData whose bytes stay valid: the `pg` parser hands out CopyData as a
 * view of its read buffer and overwrites that buffer when it reads more (to
 * join a message split across reads), so a message kept past the event that
 * delivered it must be copied first.
 */
export function detachXLog(m: XLogData): XLogData {
  if (m instanceof XLogMessage) return m.detach();
  return { ...m, data: Buffer.from(m.data) };
}

/** Microseconds between the Unix epoch and the Postgres epoch (2000-01-01). */
const PG_EPOCH_US = 946_684_800_000_000n;

/**
 * Standby Status Update ('r'): write, flush and apply positions. Outpost
 * passes the LSN committed in SQLite for all three, never merely received
 * positions (https://www.postgresql.org/docs/current/protocol-replication.html#PROTOCOL-REPLICATION-STANDBY-STATUS-UPDATE).
 */
export function standbyStatusUpdate(lsn: Lsn, replyRequested = false): Buffer {
  const b = Buffer.alloc(34);
  b.write('r', 0, 'latin1');
  b.writeBigUInt64BE(lsn, 1);
  b.writeBigUInt64BE(lsn, 9);
  b.writeBigUInt64BE(lsn, 17);
  b.writeBigInt64BE(BigInt(Date.now()) * 1000n - PG_EPOCH_US, 25);
  b.writeUInt8(replyRequested ? 1 : 0, 33);
  return b;
}

export interface SystemIdentity {
  systemId: string;
  timeline: number;
  xlogpos: Lsn;
  dbname: string;
}

interface SocketLike {
  pause(): void;
  resume(): void;
  on(event: 'data', fn: (chunk: Buffer) => void): void;
}

interface RawConnection extends EventEmitter {
  sendCopyFromChunk(chunk: Buffer): void;
}

/**
 * Events: 'xlog' (XLogData), 'keepalive' (Keepalive), 'close' (Error | undefined)
 * once, when the connection is gone for whatever reason.
 */
export class ReplicationConnection extends EventEmitter {
  private closed = false;
  private streaming = false;
  /** Held by the engine's backpressure (pause/resume). */
  private held = false;
  /** Waiting GATHER_MS before the next read (see GATHER_MS). */
  private gathering: NodeJS.Timeout | undefined;
  /** Bytes read since reading last resumed after a wait (or since streaming began). */
  private burstBytes = 0;
  /** Reads that waited to gather (status / bench). */
  gatherWaits = 0;

  private constructor(private readonly client: pg.Client) {
    super();
    const onGone = (err?: Error) => {
      if (this.closed) return;
      this.closed = true;
      this.emit('close', err);
    };
    client.on('error', (err) => onGone(err));
    client.on('end', () => onGone(undefined));
  }

  static async connect(
    connectionString: string,
    applicationName = 'outpost',
  ): Promise<ReplicationConnection> {
    const config = {
      connectionString,
      replication: 'database',
      options: SESSION_OPTIONS,
      application_name: applicationName,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      keepAlive: true,
    } as pg.ClientConfig;
    const client = new pg.Client(config);
    try {
      await client.connect();
    } catch (err) {
      client.end().catch(() => {});
      throw err;
    }
    return new ReplicationConnection(client);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** https://www.postgresql.org/docs/current/protocol-replication.html (IDENTIFY_SYSTEM) */
  async identifySystem(): Promise<SystemIdentity> {
    const r = await this.client.query('IDENTIFY_SYSTEM');
    const row = r.rows[0] as { systemid: string; timeline: string | number; xlogpos: string; dbname: string };
    return {
      systemId: String(row.systemid),
      timeline: Number(row.timeline),
      xlogpos: parseLsn(row.xlogpos),
      dbname: row.dbname,
    };
  }

  /**
   * CREATE_REPLICATION_SLOT ... LOGICAL pgoutput with an exported snapshot.
   * The snapshot stays valid until this connection runs its next command, so
   * the caller copies under it before calling anything else here.
   */
  async createSlot(
    slot: string,
    serverVersionNum: number,
    opts: { temporary?: boolean } = {},
  ): Promise<{ consistentPoint: Lsn; snapshotName: string }> {
    const ident = pg.escapeIdentifier(slot);
    // A temporary slot is dropped when this connection ends (or on error).
    const temp = opts.temporary ? ' TEMPORARY' : '';
    const sql =
      serverVersionNum >= 150000
        ? `CREATE_REPLICATION_SLOT ${ident}${temp} LOGICAL pgoutput (SNAPSHOT 'export')`
        : `CREATE_REPLICATION_SLOT ${ident}${temp} LOGICAL pgoutput EXPORT_SNAPSHOT`;
    const r = await this.client.query(sql);
    const row = r.rows[0] as { consistent_point: string; snapshot_name: string };
    return { consistentPoint: parseLsn(row.consistent_point), snapshotName: row.snapshot_name };
  }

  /**
   * START_REPLICATION SLOT ... LOGICAL; resolves once the server answered with
   * CopyBothResponse (streaming has begun), rejects if it answered an error.
   */
  start(slot: string, lsn: Lsn, publication: string): Promise<void> {
    const conn = (this.client as unknown as { connection: RawConnection }).connection;
    const sql =
      `START_REPLICATION SLOT ${pg.escapeIdentifier(slot)} LOGICAL ${formatLsn(lsn)} ` +
      `(proto_version '1', publication_names ${pg.escapeLiteral(publication)}, messages 'true')`;
    return new Promise<void>((resolve, reject) => {
      let started = false;
      conn.once('replicationStart', () => {
        started = true;
        this.streaming = true;
        this.startGathering();
        resolve();
      });
      conn.on('copyData', (msg: { chunk: Buffer }) => {
        const m = parseStreamMessage(msg.chunk);
        if (!m) return;
        this.emit(m.kind, m);
      });
      // The query only completes when streaming ends (CopyDone or error).
      this.client.query(sql).then(
        () => {
          if (!started) reject(new Error('START_REPLICATION ended before streaming began'));
          else this.client.end().catch(() => {});
        },
        (err: Error) => {
          if (!started) reject(err);
          else if (!this.closed) {
            this.closed = true;
            this.emit('close', err);
            this.client.end().catch(() => {});
          }
        },
      );
    });
  }

  /**
   * Stops reading the socket (backpressure while the engine cannot apply):
   * the walsender then blocks on sending, and still reads our status updates.
   */
  pause(): void {
    this.held = true;
    this.socket()?.pause();
  }

  resume(): void {
    this.held = false;
    // A gathering wait in progress resumes reading when it ends.
    if (!this.gathering) this.socket()?.resume();
  }

  private socket(): SocketLike | undefined {
    const conn = (this.client as unknown as { connection?: { stream?: SocketLike } }).connection;
    return conn?.stream;
  }

  /** Watches read sizes once streaming (the startup exchange is read at once). */
  private startGathering(): void {
    const sock = this.socket();
    if (!sock || GATHER_MS <= 0) return;
    sock.on('data', (chunk: Buffer) => {
      this.burstBytes += chunk.length;
      if (this.gathering || chunk.length >= NODE_READ_BYTES) return;
      if (this.burstBytes < GATHER_MIN_BYTES) {
        this.burstBytes = 0;
        return;
      }
      this.burstBytes = 0;
      this.gatherWaits++;
      sock.pause();
      this.gathering = setTimeout(() => {
        this.gathering = undefined;
        if (!this.held && !this.closed) sock.resume();
      }, GATHER_MS);
    });
  }

  sendStatus(lsn: Lsn, replyRequested = false): void {
    if (this.closed || !this.streaming) return;
    const conn = (this.client as unknown as { connection: RawConnection }).connection;
    conn.sendCopyFromChunk(standbyStatusUpdate(lsn, replyRequested));
  }

  /** Closes the connection (no CopyDone handshake: the walsender handles a Terminate). */
  async close(): Promise<void> {
    if (this.gathering) clearTimeout(this.gathering);
    this.gathering = undefined;
    if (this.closed) return;
    this.closed = true;
    const client = this.client;
    await Promise.race([client.end().catch(() => {}), new Promise((r) => setTimeout(r, 2000))]);
  }
}
