/**
 * The per-client state machine of the proxy.
 *
 *   startup ──StartupMessage──► auth ──AuthenticationOk──► ready ──► closed
 *
 * - startup: SSLRequest is answered 'S' and the connection upgraded to TLS
 *   when Outpost has a certificate, else 'N'; GSSENCRequest always gets 'N'
 *   (the client then continues in plain text); a CancelRequest is mapped and
 *   sent upstream; a StartupMessage opens the client's own upstream
 *   connection with the very same packet.
 *   https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-START-UP
 * - auth: upstream's Authentication* requests and the client's 'p' responses
 *   are relayed byte for byte (cleartext, md5, SASL/SCRAM alike); Outpost only
 *   removes SCRAM's channel-binding mechanisms when it terminates the client's
 *   TLS itself (the binding would name Outpost's certificate, not upstream's).
 * - ready: simple Queries are routed (answered locally from the replica when
 *   the router says so and nothing is outstanding upstream); extended-protocol
 *   messages go to `ExtendedProtocol`, which answers whole batches locally or
 *   forwards them; everything else is forwarded unchanged. Upstream's bytes
 *   are relayed in the chunks they arrive in, every message boundary tracked
 *   (`ReplyTracker`) so Outpost knows what upstream still owes and can keep
 *   the replies to its own lazily sent messages from the client. Until
 *   upstream's first ReadyForQuery its messages are re-emitted one by one so
 *   its BackendKeyData can be replaced with Outpost's.
 *
 * Nothing a client sends can throw out of here: every socket handler is
 * wrapped, and a framing or ordering violation ends this client only, with a
 * FATAL 08P01 as Postgres would send.
 */
import type { Socket } from 'node:net';
import { type SecureContext, TLSSocket } from 'node:tls';
import { errorMessage, NotLocal, PgError, SqlState } from '../errors.js';
import { Offload } from '../exec/inline.js';
import type { JobOutcome } from '../exec/pool.js';
import type { Logger } from '../log.js';
import { type Metrics, statementTimer, timeUntilReady } from '../metrics.js';
import { parseLsn } from '../replication/lsn.js';
import {
  type ReadYourWritesSource,
  RYW_EXPIRED,
  RYW_WAITING,
  SessionFence,
} from '../router/read-your-writes.js';
import { followTimeout, idleInTransactionMs, timeoutsAtReady } from '../router/timeouts.js';
import type { LocalOffload, QueryRouter, Route } from '../router/types.js';
import { newSessionState, type SessionState } from '../session.js';
import {
  AuthCode,
  authenticationSasl,
  BackendType,
  backendKeyData,
  commandComplete,
  errorResponse,
  parseAuthentication,
  parseBackendKeyData,
  parseErrorFields,
  parseParameterStatus,
  parseReadyForQuery,
  parseSaslMechanisms,
  ReplyWriter,
  readyForQuery,
  SSL_ACCEPTED,
  SSL_REFUSED,
} from '../wire/backend.js';
import {
  type Frame,
  FrameReader,
  FrameScanner,
  protocolViolation,
  type RelayVisitor,
  typeName,
} from '../wire/frames.js';
import {
  authMessageLimit,
  FrontendType,
  PG_MAX_AUTH_TOKEN_LENGTH,
  parseQuery,
  parseStartupPacket,
  type StartupPacket,
  serializeQuery,
  sessionMessageLimit,
} from '../wire/frontend.js';
import { type BackendKey, type CancelRegistry, sendCancel } from './cancel.js';
import { type ExtendedHost, ExtendedProtocol, PIPELINED } from './extended.js';
import { IdleInTransaction, type InFlight, startOffloaded, stopReason } from './local-exec.js';
import { type LocalTxControl, localTxControl, upstreamBegin } from './local-transaction.js';
import { dataRowValues, STATE_CHECK_QUERY, stateProblem } from './state-check.js';

/** Upstream's WAL insert position, read right behind a session's statements (read-your-writes). */
const POSITION_QUERY = serializeQuery('SELECT pg_catalog.pg_current_wal_insert_lsn()');

import { UpstreamConnection, type UpstreamTarget } from './upstream-connection.js';
import { type Outcome, ReplyTracker } from './upstream-replies.js';

/** TLS for clients (Outpost's own certificate). */
export interface ClientTls {
  context: SecureContext;
  /** Outpost's certificate, DER: channel binding works only when upstream presents the same one. */
  certificate: Buffer | undefined;
  /** Refuse plain-text sessions (like a `hostssl`-only pg_hba.conf). */
  required: boolean;
}

export interface ClientSessionOptions {
  socket: Socket;
  /** For logs only. */
  id: number;
  upstream: UpstreamTarget;
  router: QueryRouter;
  logger: Logger;
  metrics: Metrics;
  cancel: CancelRegistry;
  tls?: ClientTls | undefined;
  /** Close a session idle (outside a transaction) this long, like idle_session_timeout; 0 = never. */
  idleTimeoutMs?: number;
  /** Read-your-writes (`--consistency session`); absent for `eventual`. */
  readYourWrites?: ReadYourWritesSource | undefined;
  /** Refuse the session at its StartupMessage with this error (too many clients). */
  refuse?: PgError | undefined;
  /** Called once when both sockets are done with. */
  onClose(session: ClientSession): void;
}

type Phase = 'startup' | 'auth' | 'ready' | 'closed';

/** The only column of `SHOW outpost.last_route`: text, like any SHOW. */
const LAST_ROUTE_FIELD = {
  name: 'last_route',
  tableOid: 0,
  columnAttr: 0,
  typeOid: 25,
  typeSize: -1,
  typeModifier: -1,
  format: 0,
} as const;

/** How long a closing socket may take to say goodbye before it is destroyed. */
const CLOSE_GRACE_MS = 2_000;
/** Longest a new session waits for the router to warm per-role facts before its first ReadyForQuery. */
const WARMING_TIMEOUT_MS = 2_000;
/** Like Postgres's authentication_timeout: a connection must be ready within this. */
const STARTUP_TIMEOUT_MS = 60_000;

function isFalse(v: string): boolean {
  return ['false', 'off', 'no', '0'].includes(v.trim().toLowerCase());
}

export class ClientSession {
  /** Set once the client's StartupMessage is accepted. */
  state: SessionState | undefined;

  private phase: Phase = 'startup';
  private socket: Socket;
  private readonly log: Logger;
  /**
   * The client's messages, each refused (08P01) as soon as its header shows
   * a length over Postgres's limit for its type in the current phase; a
   * large CopyData or FunctionCall is relayed piece by piece as it arrives.
   */
  private readonly reader = new FrameReader({
    startup: true,
    maxLength: (type) => this.messageLimit(type),
    streamable: (type) =>
      this.phase === 'ready' && (type === FrontendType.CopyData || type === FrontendType.FunctionCall),
  });
  private upstream: UpstreamConnection | undefined;
  /** Parses upstream frame by frame until its first ReadyForQuery, then undefined. */
  private upstreamReader: FrameReader | undefined = new FrameReader();
  private readonly scanner = new FrameScanner();
  /** What upstream owes, message by message. */
  private readonly tracker = new ReplyTracker();
  /** Local replies of the current round of client input. */
  private readonly reply = new ReplyWriter();
  private readonly extended: ExtendedProtocol;
  private readonly relayVisitor: RelayVisitor;
  /** Upstream bytes of the current round of client input, in order (frames are views until copied). */
  private forward: Buffer[] = [];
  /** Something in `forward` may write (see `flushRound`). */
  private roundMayWrite = false;
  /** Hidden position queries owed (`sendPositionQuery`). */
  private positionQueries = 0;
  /** Upstream sent CopyInResponse and the client has not ended the copy yet. */
  private copyIn = false;
  /** A message is held in `reader` until upstream catches up. */
  private deferred = false;
  /** When the held message may go. */
  private deferredUntil: () => boolean = () => this.idle();
  /** Read-your-writes fence, when the session consistency is on. */
  private readonly fence: SessionFence | undefined;
  private readonly pauses = new Set<'client-drain' | 'upstream-drain' | 'deferred'>();
  private upstreamPausedForClient = false;
  private key: BackendKey | undefined;
  /** The client's startup parameters, for the router's session checks. */
  private startupParams: ReadonlyMap<string, string> = new Map();
  /** The router is warming per-role facts; upstream's first ReadyForQuery waits for it. */
  private warming: Promise<void> | undefined;
  /** Upstream bytes from its first ReadyForQuery on, held while `warming`. */
  private heldStartup: Buffer[] | undefined;
  /** Upstream asked for a password (or SASL message) the client has not sent yet. */
  private authRequestPending = false;
  private sslAnswered = false;
  private gssRefused = false;
  /** The client's connection is TLS (terminated here). */
  private clientTls = false;
  /** Upstream sent a FATAL (or PANIC) ErrorResponse: it will close, the client has the reason. */
  private upstreamFatal = false;
  /** Server shutdown: end the session as soon as nothing is in flight. */
  private draining = false;
  private closing = false;
  private finished = false;
  private readonly startupTimer: NodeJS.Timeout;
  /** A local statement running in an executor process; the client's next messages wait for it. */
  private local: InFlight | undefined;
  private readonly idleInTx = new IdleInTransaction({
    ms: () => (this.state && this.localReadOnlyTx() ? idleInTransactionMs(this.state) : 0),
    keepalive: () => this.guard(() => this.keepUpstreamAwake()),
    expire: () =>
      this.guard(() => {
        this.log.debug('idle-in-transaction timeout');
        this.fail(
          new PgError({
            severity: 'FATAL',
            code: '25P03',
            message: 'terminating connection due to idle-in-transaction timeout',
          }),
        );
      }),
  });

  constructor(private readonly opts: ClientSessionOptions) {
    this.socket = opts.socket;
    this.log = opts.logger.child({ client: opts.id });
    opts.metrics.clients.inc();
    this.socket.setNoDelay(true);
    this.fence = opts.readYourWrites ? new SessionFence(opts.readYourWrites) : undefined;
    this.socket.setKeepAlive(true);
    this.attachClientSocket(this.socket);
    this.socket.once('close', () => this.guard(() => this.finish()));
    this.startupTimer = setTimeout(() => {
      if (this.phase === 'ready' || this.phase === 'closed') return;
      this.log.debug('startup timed out');
      this.socket.destroy();
    }, STARTUP_TIMEOUT_MS);
    this.startupTimer.unref();

    const session = this;
    const host: ExtendedHost = {
      get state() {
        return session.state as SessionState;
      },
      router: opts.router,
      log: this.log,
      metrics: opts.metrics,
      tracker: this.tracker,
      reply: this.reply,
      quiet: () => this.idle(),
      send: (bytes, expect) => {
        this.forwardBytes(bytes);
        if (expect) this.tracker.push(expect);
      },
      runLocal: (offload, done) => this.startLocal(offload, done),
      txControl: (control, apply) => {
        const state = session.state as SessionState;
        if (!session.txControlAllowed(control, state)) return false;
        if (apply) session.applyTxControl(control, state);
        return true;
      },
      afterSync: () => {
        // Right behind the batch, in the same write: no round trip of its own.
        const check = session.state?.stateCheck;
        if (check && !check.inFlight) session.sendStateCheck(false);
        session.sendPositionQuery();
      },
    };
    this.extended = new ExtendedProtocol(host);
    this.relayVisitor = {
      visit: (type) => this.tracker.visit(type),
      message: (type, body) => {
        this.observe(type, body);
        this.tracker.message(type, body);
      },
    };
  }

  private attachClientSocket(socket: Socket): void {
    socket.on('data', (chunk: Buffer) => this.guard(() => this.onClientData(chunk)));
    socket.on('drain', () => this.guard(() => this.onClientDrain()));
    socket.on('error', (err) => this.log.debug({ err: errorMessage(err) }, 'client socket error'));
  }

  /** Ends the session from the server side (shutdown): a FATAL 57P01 when possible, then close. */
  shutdown(): void {
    this.guard(() =>
      this.fail(
        new PgError({
          severity: 'FATAL',
          code: SqlState.adminShutdown,
          message: 'terminating connection due to administrator command',
        }),
      ),
    );
  }

  /**
   * Server shutdown, politely: the session ends (FATAL 57P01) as soon as
   * nothing it started is in flight; `shutdown()` ends it regardless.
   */
  drain(): void {
    this.draining = true;
    this.guard(() => this.drainIfIdle());
  }

  private drainIfIdle(): boolean {
    if (!this.draining || this.closing) return false;
    if (this.phase === 'ready' && !this.idle()) return false;
    this.shutdown();
    return true;
  }

  /** Runs a handler; nothing escapes to the event loop. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      try {
        this.fail(err);
      } catch (inner) {
        this.log.error({ err: errorMessage(inner) }, 'failed to close client session');
        this.socket.destroy();
        this.upstream?.destroy();
      }
    }
  }

  // ---- client → Outpost --------------------------------------------------

  private onClientData(chunk: Buffer): void {
    if (this.closing) return; // drained and dropped until the socket closes
    this.idleInTx.clientBusy();
    this.reader.push(chunk);
    this.processClient();
  }

  /**
   * Handles every complete frame in `reader`. Local replies of the round go
   * out in one write, before the round's upstream bytes (also one write).
   */
  private processClient(): void {
    try {
      while (!this.closing && !this.deferred) {
        if (this.draining && this.drainIfIdle()) break;
        const frame = this.reader.next();
        if (!frame) break;
        this.handleClientFrame(frame);
      }
      if (
        this.phase === 'auth' &&
        !this.closing &&
        !this.deferred &&
        this.reader.buffered() > PG_MAX_AUTH_TOKEN_LENGTH
      ) {
        // A long message sent ahead of the authentication outcome: read no
        // further until upstream either asks for a password (then it is an
        // error, found by `messageLimit`) or lets the session in.
        this.deferred = true;
        this.deferredUntil = () => this.idle();
        this.pauseClient('deferred');
      }
    } finally {
      this.flushRound();
      this.watchIdleInTransaction();
    }
  }

  /** A READ ONLY transaction served locally is open (its snapshot in use). */
  private localReadOnlyTx(): boolean {
    return this.state?.txStatus === 'T' && this.state.readOnlyTx?.phase === 'open';
  }

  /** After a round: is the session now waiting for the client inside a local READ ONLY transaction? */
  private watchIdleInTransaction(): void {
    if (this.phase !== 'ready' || this.closing) return;
    if (!this.localReadOnlyTx()) this.idleInTx.stop();
    else if (!this.deferred && this.idle() && this.reader.buffered() === 0) this.idleInTx.clientIdle();
  }

  /**
   * Resets upstream's idle-in-transaction clock with a hidden statement
   * while the client is busy locally; the client's next messages wait for
   * its answer, so they are routed with nothing in flight.
   */
  private keepUpstreamAwake(): void {
    if (this.closing || this.phase !== 'ready' || !this.localReadOnlyTx()) return;
    this.forward.push(serializeQuery('SELECT 1'));
    this.tracker.push({ kind: 'query', hidden: true, hideErrors: true });
    if (!this.deferred) {
      this.deferred = true;
      this.deferredUntil = () => this.idle();
      this.pauseClient('deferred');
    }
    this.flushRound();
  }

  /**
   * Longest message of this type the client may send now: Postgres's limits
   * (`authMessageLimit`, `sessionMessageLimit`). While a password is asked
   * for, anything but a response is refused from its type byte on, as
   * Postgres does, without waiting for its body.
   */
  private messageLimit(type: number): number {
    if (this.phase !== 'auth') return sessionMessageLimit(type);
    if (this.authRequestPending && type !== FrontendType.Password && type !== FrontendType.Terminate) {
      throw protocolViolation(`expected password response, got message type "${typeName(type)}"`);
    }
    return authMessageLimit(type);
  }

  private flushRound(): void {
    const local = this.reply.take();
    if (local) this.writeLocal(local);
    const forward = this.forward;
    if (forward.length > 0) {
      this.forward = [];
      const mayWrite = this.roundMayWrite;
      this.roundMayWrite = false;
      // Frames are views into the reader's buffer: copy (concat) before it is reused.
      this.writeUpstream(
        forward.length === 1 ? Buffer.from(forward[0] as Buffer) : Buffer.concat(forward),
        mayWrite,
      );
    }
  }

  /** Bytes for upstream in this round that may write (anything but a read-only simple Query). */
  private forwardBytes(buf: Buffer): void {
    this.openUpstreamTx();
    this.forward.push(buf);
    this.roundMayWrite = true;
  }

  private handleClientFrame(frame: Frame): void {
    if (frame.piece && !frame.piece.first) {
      // More of a streamed message (CopyData, FunctionCall) whose head was handled.
      this.forwardBytes(frame.raw);
      return;
    }
    switch (this.phase) {
      case 'startup':
        this.handleStartupPacket(frame);
        return;
      case 'auth':
        // https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-START-UP
        if (frame.type === FrontendType.Password) {
          this.authRequestPending = false;
          this.forwardBytes(frame.raw);
        } else if (frame.type === FrontendType.Terminate) {
          this.terminate(frame);
        } else if (this.authRequestPending) {
          throw protocolViolation(`expected password response, got message type "${typeName(frame.type)}"`);
        } else {
          // Sent ahead of the authentication outcome (fine with trust auth, where
          // Postgres reads it after its ReadyForQuery): hold it until upstream
          // either asks for a password (then it is that error) or is ready.
          this.defer(frame);
        }
        return;
      case 'ready':
        this.handleReadyFrame(frame);
        return;
      case 'closed':
        return;
    }
  }

  private handleStartupPacket(frame: Frame): void {
    const packet = parseStartupPacket(frame.body);
    switch (packet.kind) {
      case 'ssl-request':
        // https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-SSL
        if (this.sslAnswered) throw protocolViolation('duplicate SSLRequest');
        this.sslAnswered = true;
        if (this.opts.tls) {
          // The client must wait for 'S' before its handshake: anything already
          // here was sent in the clear and could have been injected (CVE-2021-23214).
          if (this.reader.buffered() > 0)
            throw protocolViolation('received unencrypted data after SSL request');
          this.writeClient(SSL_ACCEPTED);
          this.upgradeToTls(this.opts.tls);
          return;
        }
        this.writeClient(SSL_REFUSED);
        return;
      case 'gssenc-request':
        // https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-GSSAPI
        if (this.gssRefused) throw protocolViolation('duplicate GSSENCRequest');
        this.gssRefused = true;
        this.writeClient(SSL_REFUSED);
        return;
      case 'cancel-request':
        this.handleCancel(packet);
        return;
      case 'startup':
        this.handleStartupMessage(packet, frame);
        return;
    }
  }

  /** Continue on TLS: the next bytes on the socket are the client's handshake. */
  private upgradeToTls(tls: ClientTls): void {
    const raw = this.socket;
    raw.removeAllListeners('data');
    raw.removeAllListeners('drain');
    const secure = new TLSSocket(raw, { isServer: true, secureContext: tls.context });
    this.socket = secure;
    this.clientTls = true;
    this.attachClientSocket(secure);
    secure.once('close', () => this.guard(() => this.finish()));
    this.log.debug('client connection upgraded to TLS');
  }

  private handleStartupMessage(packet: Extract<StartupPacket, { kind: 'startup' }>, frame: Frame): void {
    if (packet.major !== 3) {
      throw protocolViolation(
        `unsupported frontend protocol ${packet.major}.${packet.minor}: server supports 3.0 to 3.2`,
      );
    }
    if (this.opts.refuse) throw this.opts.refuse;
    if (this.opts.tls?.required && !this.clientTls) {
      throw new PgError({ severity: 'FATAL', code: '28000', message: 'TLS required' });
    }
    const user = packet.params.get('user');
    if (!user) {
      throw new PgError({
        severity: 'FATAL',
        code: '28000',
        message: 'no PostgreSQL user name specified in startup packet',
      });
    }
    const replication = packet.params.get('replication');
    if (replication !== undefined && !isFalse(replication)) {
      throw new PgError({
        severity: 'FATAL',
        code: SqlState.featureNotSupported,
        message: 'Outpost does not proxy replication connections',
        hint: 'Connect to the upstream server directly for replication.',
      });
    }
    const database = packet.params.get('database') || user;
    this.state = newSessionState(user, database);
    this.startupParams = packet.params;
    this.reader.expectStartup = false;
    this.phase = 'auth';
    this.log.debug(
      { user, database, application_name: packet.params.get('application_name'), tls: this.clientTls },
      'client startup',
    );
    // Minor versions above 0 (3.2) go upstream as they are: it answers with
    // NegotiateProtocolVersion if it wants, which is relayed.
    const startup = Buffer.from(frame.raw);
    this.upstream = new UpstreamConnection(this.opts.upstream, {
      data: (chunk) => this.guard(() => this.onUpstreamData(chunk)),
      drain: () => this.guard(() => this.resumeClient('upstream-drain')),
      close: (info) => this.guard(() => this.onUpstreamClose(info)),
    });
    this.upstream.write(startup);
  }

  /** https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-CANCELING-REQUESTS */
  private handleCancel(packet: Extract<StartupPacket, { kind: 'cancel-request' }>): void {
    // The connection carries nothing else: Postgres answers nothing and closes.
    this.closing = true;
    this.socket.end();
    this.destroyLater(this.socket);
    const target = this.opts.cancel.lookup(packet.processId, packet.secretKey);
    if (!target) {
      this.log.debug('cancel request with an unknown key ignored');
      return;
    }
    if (target.cancelLocal?.()) {
      this.log.debug('cancelled a local statement');
      return;
    }
    if (!target.busy()) {
      // Only local work (already finished) or none: nothing to cancel.
      this.log.debug('cancel request for a session with no upstream work ignored');
      return;
    }
    this.log.debug('relaying cancel request upstream');
    sendCancel(this.opts.upstream, target.upstream).catch((err: unknown) =>
      this.log.warn({ err: errorMessage(err) }, 'could not send cancel request upstream'),
    );
  }

  /**
   * https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-SIMPLE-QUERY
   * https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-EXT-QUERY
   */
  private handleReadyFrame(frame: Frame): void {
    switch (frame.type) {
      case FrontendType.Query:
        this.handleQuery(frame);
        return;
      case FrontendType.Terminate:
        this.terminate(frame);
        return;
      case FrontendType.Sync:
        if (this.copyIn) {
          // A backend in copy-in mode ignores Sync: it gets no ReadyForQuery.
          this.forwardBytes(frame.raw);
          return;
        }
        this.extendedMessage(frame);
        return;
      case FrontendType.Parse:
      case FrontendType.Bind:
      case FrontendType.Describe:
      case FrontendType.Execute:
      case FrontendType.Close:
      case FrontendType.Flush:
        this.extendedMessage(frame);
        return;
      // https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-FUNCTION-CALL
      case FrontendType.FunctionCall:
        this.extended.leaveLocal('function call');
        if (this.state) this.opts.router.executed?.(undefined, this.state);
        this.forwardBytes(frame.raw);
        this.tracker.push(this.extended.readyExpectation('function-call'));
        return;
      // https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-COPY
      case FrontendType.CopyDone:
      case FrontendType.CopyFail:
        this.copyIn = false;
        this.extended.leaveLocal('COPY');
        this.forwardBytes(frame.raw);
        return;
      default:
        // CopyData and anything else: upstream judges.
        this.extended.leaveLocal(`message type "${typeName(frame.type)}"`);
        this.forwardBytes(frame.raw);
        return;
    }
  }

  private extendedMessage(frame: Frame): void {
    if (!this.state) throw protocolViolation('extended-protocol message before startup');
    if (
      this.onlyPositionOwed() &&
      (this.extended.startsReadBatch(frame) || this.extended.startsTxControl(frame))
    ) {
      // The previous write's position is on its way: then the fence decides.
      this.defer(frame);
      return;
    }
    if (this.fence) {
      const fence = this.fence.check();
      const tx = this.state.txStatus;
      if (
        fence === 'wait' &&
        (tx === 'I' ||
          (tx === 'T' && (this.state.readOnlyTx?.phase === 'open' || this.state.localTx !== undefined))) &&
        this.idle() &&
        this.extended.startsReadBatch(frame)
      ) {
        // This session wrote: hold the whole batch until the replica has
        // applied that write (or --ryw-timeout passes), as for a simple
        // Query, so that its reads may still be answered locally.
        this.waitForFence(frame);
        return;
      }
      this.state.freshnessBlock = fence === 'ok' ? undefined : fence === 'wait' ? RYW_WAITING : RYW_EXPIRED;
    }
    if (
      this.state.stateCheck &&
      this.state.txStatus === 'I' &&
      !this.extended.forwardedUnsynced() &&
      !this.copyIn &&
      this.extended.startsReadBatch(frame)
    ) {
      // User code ran upstream: learn the session's state before a batch that may be local.
      this.awaitStateCheck(frame);
      return;
    }
    const verdict = this.extended.handle(frame);
    if (verdict === 'defer') this.defer(frame);
    else if (verdict === 'defer-sql') this.defer(frame, () => this.extended.sqlChangesSettled());
  }

  /** Hold `frame` (and everything after it) until the session's read-your-writes fence lifts or expires. */
  private waitForFence(frame: Frame): void {
    const f = this.fence as SessionFence;
    this.defer(frame, () => f.check() !== 'wait');
    const rearm = (): void => {
      void f.changed().then(() =>
        this.guard(() => {
          // Still waiting (e.g. the position arrived, the apply has not): wait again.
          if (this.deferred && f.check() === 'wait') rearm();
          else this.resumeDeferred();
        }),
      );
    };
    rearm();
  }

  /**
   * Hold `frame` (and everything after it) until `until` holds, by default
   * until upstream has answered everything sent so far.
   */
  private defer(frame: Frame, until: () => boolean = () => this.idle()): void {
    this.reader.putBack(frame);
    this.deferred = true;
    this.deferredUntil = until;
    this.pauseClient('deferred');
  }

  /**
   * True when a reply written now would come after every reply upstream owes:
   * nothing owed, no extended batch forwarded without its Sync, nothing
   * half-relayed.
   */
  private idle(): boolean {
    return (
      this.local === undefined &&
      this.tracker.isEmpty() &&
      !this.extended.forwardedUnsynced() &&
      this.upstreamReader === undefined &&
      this.heldStartup === undefined &&
      this.scanner.atBoundary()
    );
  }

  private handleQuery(frame: Frame): void {
    const localTimer = statementTimer(this.opts.metrics, 'local');
    const sql = parseQuery(frame.body);
    const state = this.state;
    if (!state) throw protocolViolation('query before startup');
    if (!this.extended.beforeQuery(sql)) {
      // It names prepared statements that earlier SQL may be changing: wait for that.
      this.defer(frame, () => this.extended.sqlChangesSettled());
      return;
    }
    // A Query in the middle of an extended batch runs after it: the batch continues upstream.
    this.extended.leaveLocal('simple Query inside an extended-protocol batch');
    // The extended path's verdict on the fence is for its own batches; this
    // path consults the fence itself below, once it knows the route.
    state.freshnessBlock = undefined;
    // The router sees every simple query, even one that will be forwarded
    // anyway, so it can follow session changes (SET, temp tables, ...).
    let route: Route;
    try {
      route = this.opts.router.route(sql, state);
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'router failed');
      route = { kind: 'upstream', reason: `router error: ${errorMessage(err)}` };
    }
    if (
      route.kind === 'upstream' &&
      route.awaitStateCheck &&
      state.txStatus === 'I' &&
      !this.extended.forwardedUnsynced() &&
      !this.copyIn
    ) {
      // Local once the session's state is known again (user code ran upstream).
      this.awaitStateCheck(frame);
      return;
    }
    if (route.kind === 'upstream' && this.answerTxControl(frame, sql, state)) return;
    const idle = this.idle();
    if (route.kind === 'upstream' && route.timeout) {
      const problem = followTimeout(state, route.timeout, idle);
      if (problem !== undefined) state.localDisabled ??= problem;
    }
    let reason: string;
    // Local candidates are SELECTs the compiler understood: they cannot write.
    const readOnly = route.kind === 'local' || (route.kind === 'upstream' && route.readOnly === true);
    switch (route.kind) {
      case 'show-last-route':
        if (idle) {
          this.log.debug('answering SHOW outpost.last_route');
          this.reply.localResults(
            [{ fields: [LAST_ROUTE_FIELD], rows: [[state.lastRoute]], commandTag: 'SHOW' }],
            state.txStatus,
          );
          this.extended.localQueryAnswered(state.txStatus);
          return;
        }
        if (!this.extended.forwardedUnsynced() && this.upstream) {
          // Upstream would not know the setting: hold the message until its
          // earlier work is answered (the next ReadyForQuery resumes us).
          this.defer(frame);
          return;
        }
        reason = PIPELINED;
        break;
      case 'local': {
        if (!idle) {
          if (this.onlyPositionOwed()) {
            this.defer(frame);
            return;
          }
          reason = PIPELINED;
          break;
        }
        const fence = this.fence?.check() ?? 'ok';
        if (fence === 'wait') {
          // This session wrote: answer once the replica has applied that write.
          this.waitForFence(frame);
          return;
        }
        if (fence === 'expired') {
          reason = RYW_EXPIRED;
          break;
        }
        try {
          let results: ReturnType<typeof route.run>;
          try {
            results = route.run();
          } catch (err) {
            if (err instanceof Offload && route.offload) {
              this.runOffloaded(frame, route.offload, readOnly, sql, localTimer);
              return;
            }
            throw err;
          }
          this.reply.localResults(results, state.txStatus);
          this.extended.localQueryAnswered(state.txStatus);
          if (state.localTx) state.localTx.reads++;
          state.lastRoute = 'local';
          this.opts.metrics.statements.inc({ route: 'local' });
          localTimer();
          this.log.debug({ statements: results.length }, 'answered locally');
          return;
        } catch (err) {
          if (err instanceof NotLocal) {
            reason = err.reason;
          } else {
            // Logged here; the client only ever sees upstream's answer. The
            // message may quote values from the query: only at debug.
            this.log.warn(
              { error: err instanceof Error ? err.name : typeof err },
              'local execution failed, forwarding',
            );
            this.log.debug({ err }, 'local execution failure');
            reason = `local error: ${errorMessage(err)}`;
          }
        }
        break;
      }
      case 'upstream':
        reason = route.reason;
        break;
    }
    this.openUpstreamTx();
    this.forward.push(frame.raw);
    // A statement that cannot write (a SELECT the replica could not answer)
    // does not make this session's next local reads wait for the replica.
    if (!readOnly) this.roundMayWrite = true;
    // Timed from here (sent upstream with this round) until its ReadyForQuery is relayed.
    this.tracker.push(timeUntilReady(this.opts.metrics, this.extended.readyExpectation('query', sql)));
    const check = state.stateCheck;
    const endsIdle =
      route.kind === 'upstream' &&
      !this.extended.forwardedUnsynced() &&
      (route.endsIdle === 'always' ||
        (route.endsIdle === 'from-idle' && state.txStatus === 'I' && this.tracker.size() === 1));
    if (check && !check.inFlight && endsIdle) {
      // It ends outside a transaction: check the state right behind it, in
      // the same write, so the answer is there by the client's next statement.
      this.sendStateCheck(false);
    }
    // Its commit's position, in the same round trip (read-your-writes).
    if (endsIdle && !readOnly) this.sendPositionQuery();
    state.lastRoute = `upstream: ${reason}`;
    this.opts.metrics.statements.inc({ route: 'upstream' });
    this.opts.metrics.forwarded.inc({ reason });
    this.log.debug({ reason }, 'forwarded upstream');
  }

  /**
   * Runs a local statement in an executor process. The client's later
   * messages wait (as for a deferred message) until it is answered, so
   * replies keep their order; other sessions go on meanwhile.
   */
  private runOffloaded(
    frame: Frame,
    offload: LocalOffload,
    readOnly: boolean,
    sql: string,
    localTimer: () => void,
  ): void {
    const state = this.state as SessionState;
    // The frame is a view into the reader's buffer, which is reused: keep a copy to forward later.
    const raw = Buffer.from(frame.raw);
    this.startLocal(offload, (outcome, stoppedBy) => {
      if (outcome.kind === 'ok') {
        const results = offload.results(outcome.rows);
        this.reply.localResults(results, state.txStatus);
        this.extended.localQueryAnswered(state.txStatus);
        if (state.localTx) state.localTx.reads++;
        state.lastRoute = 'local';
        this.opts.metrics.statements.inc({ route: 'local' });
        localTimer();
        this.log.debug({ statements: results.length }, 'answered locally (executor)');
      } else if (outcome.kind === 'canceled') {
        this.localStopped(stoppedBy);
      } else {
        this.forwardQuery(raw, sql, readOnly, outcome.reason);
      }
    });
  }

  /**
   * Starts a local statement in an executor; the client's next messages
   * wait until `done` has handled its outcome (and the round is flushed).
   */
  private startLocal(
    offload: LocalOffload,
    done: (outcome: JobOutcome, stoppedBy: 'user' | 'timeout') => void,
  ): void {
    const state = this.state as SessionState;
    const inFlight = startOffloaded(offload, state.statementTimeoutMs ?? 0);
    this.local = inFlight;
    this.deferred = true;
    this.deferredUntil = () => this.idle();
    this.pauseClient('deferred');
    void inFlight.task.done.then((outcome) =>
      this.guard(() => {
        clearTimeout(inFlight.timer);
        if (this.local === inFlight) this.local = undefined;
        if (this.closing || this.phase === 'closed') return;
        done(outcome, stopReason(inFlight));
        this.flushRound();
        this.resumeDeferred();
        this.watchIdleInTransaction();
      }),
    );
  }

  /**
   * A local statement was cancelled or timed out: the client gets Postgres's
   * 57014. Outside a transaction block Outpost answers it; inside (a READ
   * ONLY transaction) the error must also abort upstream's transaction, so
   * upstream is made to raise the very same error there.
   */
  private localStopped(why: 'user' | 'timeout'): void {
    const state = this.state as SessionState;
    state.lastRoute = 'local';
    if (state.txStatus === 'I') {
      this.reply.raw(
        errorResponse(
          new PgError({
            severity: 'ERROR',
            code: SqlState.queryCanceled,
            message:
              why === 'user'
                ? 'canceling statement due to user request'
                : 'canceling statement due to statement timeout',
          }),
        ),
      );
      this.reply.raw(readyForQuery(state.txStatus));
      this.extended.localQueryAnswered(state.txStatus);
      this.opts.metrics.clientErrors.inc({ class: '57' });
      return;
    }
    // A transaction that started locally: upstream's must exist to fail.
    this.openUpstreamTx();
    if (why === 'timeout') {
      // Its replies are hidden; rolled back with the transaction.
      this.forward.push(serializeQuery('SET LOCAL statement_timeout = 1'));
      this.tracker.push({ kind: 'query', hidden: true, hideErrors: false });
      this.forward.push(serializeQuery('SELECT pg_catalog.pg_sleep(10)'));
    } else {
      this.forward.push(
        serializeQuery(
          'SELECT pg_catalog.pg_cancel_backend(pg_catalog.pg_backend_pid()), pg_catalog.pg_sleep(10)',
        ),
      );
    }
    this.tracker.push(this.extended.readyExpectation('query'));
  }

  /**
   * A lone BEGIN that may start a transaction locally, or the COMMIT or
   * ROLLBACK of one that never went upstream: answered here
   * (src/server/local-transaction.ts). False: route it as usual.
   */
  private answerTxControl(frame: Frame, sql: string, state: SessionState): boolean {
    if (this.copyIn || this.extended.forwardedUnsynced()) return false;
    if (state.txStatus === 'I' ? !this.mayStartLocalTx(state) : state.localTx === undefined) return false;
    const control = localTxControl(sql);
    // A BEGIN inside it or a COMMIT outside one: upstream's WARNING.
    if (!control || (control.kind === 'begin') !== (state.txStatus === 'I')) return false;
    if (control.kind === 'begin' && state.stateCheck) {
      // User code ran upstream (a trigger of the previous write, ...): the
      // transaction may start locally once the session's state is known
      // again; the check is usually already on its way, right behind it.
      this.awaitStateCheck(frame);
      return true;
    }
    if (!this.idle()) {
      if (!this.onlyPositionOwed()) return false;
      // The previous write's position is on its way, within this round trip.
      this.defer(frame);
      return true;
    }
    this.applyTxControl(control, state);
    this.reply.raw(commandComplete(control.tag));
    this.reply.raw(readyForQuery(state.txStatus));
    this.extended.localQueryAnswered(state.txStatus);
    return true;
  }

  /**
   * Whether the extended protocol may answer this BEGIN/COMMIT/ROLLBACK
   * here now (a batch served locally, so nothing is owed upstream).
   */
  private txControlAllowed(control: LocalTxControl, state: SessionState): boolean {
    if (this.copyIn) return false;
    if (control.kind === 'begin') {
      return state.txStatus === 'I' && state.stateCheck === undefined && this.mayStartLocalTx(state);
    }
    return state.txStatus === 'T' && state.localTx !== undefined;
  }

  /** A BEGIN, COMMIT or ROLLBACK answered locally: the session's state as after it. */
  private applyTxControl(control: LocalTxControl, state: SessionState): void {
    if (control.kind === 'begin') {
      state.localTx = { reads: 0 };
      state.txStatus = 'T';
    } else {
      state.localTx = undefined;
      state.txStatus = 'I';
      const problem = timeoutsAtReady(state, 'I');
      if (problem !== undefined) state.localDisabled ??= problem;
    }
    // The router followed the statement (a plain BEGIN: a READ ONLY transaction may follow).
    this.opts.router.transactionStatus?.(state, state.txStatus);
    state.lastRoute = 'local';
    this.opts.metrics.statements.inc({ route: 'local' });
    this.log.debug({ tag: control.tag }, 'transaction control answered locally');
  }

  /** A plain BEGIN may start locally: nothing pending upstream, nothing the local path cannot follow. */
  private mayStartLocalTx(state: SessionState): boolean {
    return (
      state.localDisabled === undefined &&
      // The router has just followed this BEGIN (`await-begin`): nothing else of a READ ONLY one.
      (state.readOnlyTx === undefined || state.readOnlyTx.phase === 'await-begin') &&
      // Upstream's clock enforces it; it would not run for a transaction it has not seen.
      idleInTransactionMs(state) === 0 &&
      !this.extended.forwardedUnsynced()
    );
  }

  /**
   * Something is going upstream inside a transaction that started locally:
   * upstream's transaction begins right in front of it, in the same write,
   * its replies kept from the client (local-transaction.ts).
   */
  private openUpstreamTx(): void {
    const tx = this.state?.localTx;
    if (!tx || !this.state) return;
    this.state.localTx = undefined;
    this.forward.push(serializeQuery(upstreamBegin(tx.reads)));
    this.tracker.push({ kind: 'query', hidden: true, hideErrors: false });
    this.log.debug({ localReads: tx.reads }, 'transaction continues upstream');
  }

  /** Sends a simple Query upstream after all (the local run could not answer it). */
  private forwardQuery(raw: Buffer, sql: string, readOnly: boolean, reason: string): void {
    const state = this.state as SessionState;
    this.openUpstreamTx();
    this.forward.push(raw);
    if (!readOnly) this.roundMayWrite = true;
    this.tracker.push(timeUntilReady(this.opts.metrics, this.extended.readyExpectation('query', sql)));
    state.lastRoute = `upstream: ${reason}`;
    this.opts.metrics.statements.inc({ route: 'upstream' });
    this.opts.metrics.forwarded.inc({ reason });
    this.log.debug({ reason }, 'forwarded upstream');
  }

  /** A CancelRequest for this session: stops its local statement, if one is running. */
  private cancelLocal(): boolean {
    const inFlight = this.local;
    if (!inFlight) return false;
    inFlight.stoppedBy ??= 'user';
    inFlight.task.cancel();
    return true;
  }

  /** https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-TERMINATION */
  private terminate(frame: Frame): void {
    // Nothing of a transaction that never went upstream needs ending there.
    if (this.state) this.state.localTx = undefined;
    this.forwardBytes(frame.raw);
    this.flushRound();
    this.closing = true;
    this.upstream?.terminate(false);
    this.socket.end();
    this.destroyLater(this.socket);
  }

  // ---- upstream → client ---------------------------------------------------

  private onUpstreamData(chunk: Buffer): void {
    if (this.phase === 'closed') return;
    if (this.upstreamReader) {
      this.onUpstreamStartupData(this.upstreamReader, chunk);
      return;
    }
    if (this.heldStartup) {
      this.heldStartup.push(Buffer.from(chunk));
      return;
    }
    this.relay(chunk);
  }

  /**
   * Let the router warm per-role facts (privileges, role settings) while
   * upstream finishes its startup, so the session's first statement can be
   * answered locally. Bounded: a slow lookup only costs local answers.
   */
  private startWarming(state: SessionState): void {
    const pending = this.opts.router.sessionStarting?.(state, this.startupParams);
    if (!pending) return;
    this.warming = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, WARMING_TIMEOUT_MS);
      pending.then(
        () => {
          clearTimeout(timer);
          resolve();
        },
        () => {
          clearTimeout(timer);
          resolve();
        },
      );
    });
  }

  private releaseStartup(): void {
    const held = this.heldStartup;
    this.heldStartup = undefined;
    this.warming = undefined;
    if (!held || this.phase === 'closed') return;
    const rest = Buffer.concat(held);
    this.sessionReady();
    this.relay(rest);
  }

  /** Upstream's first ReadyForQuery is going to the client. */
  private sessionReady(): void {
    clearTimeout(this.startupTimer);
    const idleMs = this.opts.idleTimeoutMs ?? 0;
    if (idleMs > 0) {
      // Any traffic either way restarts the clock; only an idle session outside a
      // transaction is closed. (A callback given to setTimeout would run only once.)
      this.socket.on('timeout', () => this.guard(() => this.onIdleTimeout()));
      this.socket.setTimeout(idleMs);
    }
  }

  private onIdleTimeout(): void {
    if (this.phase !== 'ready' || this.closing || !this.idle() || this.state?.txStatus !== 'I') return;
    this.log.debug('idle session timeout');
    this.fail(
      new PgError({
        severity: 'FATAL',
        code: '57P05',
        message: 'terminating connection due to idle-session timeout',
      }),
    );
  }

  /**
   * Until upstream's first ReadyForQuery: frame by frame, so BackendKeyData can
   * be replaced. https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-START-UP
   */
  private onUpstreamStartupData(reader: FrameReader, chunk: Buffer): void {
    reader.push(chunk);
    const out: Buffer[] = [];
    let rest: Buffer | undefined;
    for (let frame = reader.next(); frame; frame = reader.next()) {
      if (frame.type === BackendType.ReadyForQuery && this.warming) {
        // Hold ReadyForQuery and everything after it until the router is warm.
        this.heldStartup = [Buffer.from(frame.raw), reader.takeRemaining()];
        this.upstreamReader = undefined;
        const warming = this.warming;
        warming.then(() => this.guard(() => this.releaseStartup()));
        break;
      }
      this.handleUpstreamStartupFrame(frame, out);
      if (frame.type === BackendType.ReadyForQuery) {
        rest = reader.takeRemaining();
        this.upstreamReader = undefined;
        break;
      }
    }
    if (out.length > 0) this.writeClientRelay(Buffer.concat(out));
    if (this.deferred && this.authRequestPending && !this.closing) {
      // A message held during authentication now meets a password request.
      this.deferred = false;
      this.resumeClient('deferred');
      this.processClient();
    }
    if (rest) {
      this.sessionReady();
      if (rest.length > 0) this.relay(rest);
      else this.afterRelay();
    }
  }

  private handleUpstreamStartupFrame(frame: Frame, out: Buffer[]): void {
    const state = this.state;
    switch (frame.type) {
      case BackendType.Authentication: {
        const { code, data } = parseAuthentication(frame.body);
        if (code === AuthCode.Ok) {
          this.phase = 'ready';
          this.authRequestPending = false;
          this.log.debug('authenticated');
          if (state) this.startWarming(state);
        } else {
          // Every request but SASLFinal wants a 'p' message back.
          this.authRequestPending = code !== AuthCode.SASLFinal;
          if (code === AuthCode.SASL && this.clientTls) {
            out.push(this.saslOffer(frame, data));
            return;
          }
        }
        out.push(frame.raw);
        return;
      }
      case BackendType.BackendKeyData: {
        const upstreamKey = parseBackendKeyData(frame.body);
        if (this.key) this.opts.cancel.unregister(this.key);
        if (this.state) this.opts.router.transactionStatus?.(this.state, 'I');
        this.key = this.opts.cancel.register(
          upstreamKey,
          () => !this.tracker.isEmpty(),
          () => this.cancelLocal(),
        );
        out.push(backendKeyData(this.key.processId, this.key.secretKey));
        return;
      }
      case BackendType.ParameterStatus:
      case BackendType.ReadyForQuery:
      case BackendType.ErrorResponse:
        this.observe(frame.type, frame.body);
        out.push(frame.raw);
        if (frame.type === BackendType.ReadyForQuery && state) this.log.debug('session ready');
        return;
      default:
        // NoticeResponse, NegotiateProtocolVersion, ...
        out.push(frame.raw);
        return;
    }
  }

  /**
   * The SASL mechanisms to offer a client whose TLS ends here. SCRAM channel
   * binding (`-PLUS`) binds the exchange to the server certificate the client
   * saw, which is Outpost's: upstream would compute it over its own and fail
   * the login. So `-PLUS` is offered only when upstream presents the very
   * same certificate. https://www.postgresql.org/docs/current/sasl-authentication.html
   */
  private saslOffer(frame: Frame, data: Buffer): Buffer {
    const mechanisms = parseSaslMechanisms(data);
    if (!mechanisms.some((m) => m.endsWith('-PLUS'))) return frame.raw;
    const ours = this.opts.tls?.certificate;
    const theirs = this.upstream?.peerCertificate();
    if (ours && theirs?.equals(ours)) return frame.raw;
    this.log.debug('SCRAM channel binding not offered (client TLS ends at Outpost)');
    return authenticationSasl(mechanisms.filter((m) => !m.endsWith('-PLUS')));
  }

  /** After startup: relay the chunk, observing every message boundary and dropping hidden replies. */
  private relay(chunk: Buffer): void {
    const parts: Buffer[] = [];
    try {
      this.scanner.relay(chunk, this.relayVisitor, parts);
    } catch (err) {
      // Upstream broke framing: nothing more can be relayed safely.
      this.log.error({ err: errorMessage(err) }, 'invalid message from upstream');
      this.fail(
        new PgError({
          severity: 'FATAL',
          code: SqlState.connectionFailure,
          message: 'invalid message from the upstream server',
        }),
      );
      return;
    }
    if (parts.length === 1) this.writeClientRelay(parts[0] as Buffer);
    else if (parts.length > 1) this.writeClientRelay(Buffer.concat(parts));
    if (this.tracker.unmatched > 0) {
      this.log.warn({ unmatched: this.tracker.unmatched }, 'upstream replies did not match what was sent');
      this.tracker.unmatched = 0;
    }
    this.afterRelay();
  }

  private afterRelay(): void {
    if (this.drainIfIdle()) return;
    this.maybeSendStateCheck();
    this.resumeDeferred();
    this.watchIdleInTransaction();
  }

  // ---- session state checks (see state-check.ts) ----------------------------

  /** A pending check goes out as soon as the session is idle outside a transaction. */
  private maybeSendStateCheck(): void {
    const state = this.state;
    const check = state?.stateCheck;
    if (!state || !check || check.inFlight || this.phase !== 'ready' || this.closing) return;
    if (state.txStatus !== 'I' || this.copyIn || !this.idle()) return;
    this.sendStateCheck(true);
  }

  /**
   * Right behind statements that end outside a transaction and may have
   * written: upstream's WAL insert position, read on the session's own
   * connection after their commit, hidden from the client. The fence takes
   * it at the ReadyForQuery that ends them, instead of a lookup on another
   * connection (a round trip more before the next read may run).
   */
  private sendPositionQuery(): void {
    const fence = this.fence;
    if (!fence) return;
    this.forward.push(POSITION_QUERY);
    this.positionQueries++;
    this.tracker.push({
      kind: 'query',
      hidden: true,
      hideErrors: true,
      row: (body) => {
        const value = dataRowValues(body)[0];
        if (typeof value !== 'string') return;
        try {
          fence.knownPosition(parseLsn(value));
        } catch {
          // Unreadable: the fence looks the position up itself.
        }
      },
      settle: () => {
        this.positionQueries--;
      },
    });
  }

  /**
   * Nothing is owed upstream but position queries (answered within the
   * round trip that is already under way): a read waits for them rather
   * than being forwarded as pipelined.
   */
  private onlyPositionOwed(): boolean {
    return (
      this.positionQueries > 0 &&
      this.tracker.size() === this.positionQueries &&
      this.local === undefined &&
      !this.extended.forwardedUnsynced() &&
      this.upstreamReader === undefined &&
      this.heldStartup === undefined
    );
  }

  /** Hold `frame` until the pending state check is answered (sending it when it can go now). */
  private awaitStateCheck(frame: Frame): void {
    const check = this.state?.stateCheck;
    if (check && !check.inFlight && this.idle()) this.sendStateCheck(false);
    // Until idle: the check's answer has come, and `frame` is routed again.
    this.defer(frame);
  }

  /**
   * Queue the state query behind everything sent so far (`flush`: write it
   * now, outside a round of client input). Its replies are kept from the
   * client; errors too.
   */
  private sendStateCheck(flush: boolean): void {
    const state = this.state;
    const check = state?.stateCheck;
    if (!state || !check) return;
    check.inFlight = true;
    check.dirty = false;
    let row: (string | null)[] | undefined;
    this.forward.push(STATE_CHECK_QUERY);
    this.tracker.push({
      kind: 'query',
      hidden: true,
      hideErrors: true,
      row: (body) => {
        row = dataRowValues(body);
      },
      settle: (outcome) => this.stateChecked(check, outcome, row),
    });
    this.log.debug({ after: check.reason }, 'checking session state upstream');
    if (flush) this.flushRound();
  }

  private stateChecked(
    check: NonNullable<SessionState['stateCheck']>,
    outcome: Outcome,
    row: (string | null)[] | undefined,
  ): void {
    const state = this.state;
    if (!state || state.stateCheck !== check) return;
    if (outcome === 'skipped') {
      // Upstream discarded it (after an extended-protocol error): send it again later.
      check.inFlight = false;
      return;
    }
    // An error answers no row: local answers stop (conservatively).
    const problem = stateProblem(state, outcome === 'ok' ? row : undefined);
    if (problem !== undefined) {
      state.localDisabled ??= problem;
      state.stateCheck = undefined;
      this.log.debug({ problem }, 'session state changed upstream');
      return;
    }
    if (check.dirty) check.inFlight = false;
    else state.stateCheck = undefined;
  }

  private observe(type: number, body: Buffer): void {
    const state = this.state;
    switch (type) {
      case BackendType.ReadyForQuery: {
        const status = parseReadyForQuery(body);
        this.idleInTx.upstreamReady();
        if (state) {
          state.txStatus = status;
          const problem = timeoutsAtReady(state, status);
          if (problem !== undefined) state.localDisabled ??= problem;
        }
        // A READ ONLY transaction upstream confirmed (or ended): its replica snapshot follows.
        if (state) this.opts.router.transactionStatus?.(state, status);
        this.copyIn = false;
        // Only the last ReadyForQuery owed ends what was forwarded: an earlier
        // one (a hidden query's, pipelined behind the previous statement) can
        // arrive after a write was sent, before that write has committed.
        if (this.tracker.owedReady() <= 1) this.fence?.onReadyForQuery(status);
        // A position read before statements still owed says nothing about them.
        else this.fence?.discardKnown();
        return;
      }
      case BackendType.CopyInResponse:
        this.copyIn = true;
        return;
      case BackendType.ParameterStatus: {
        const { name, value } = parseParameterStatus(body);
        state?.params.set(name, value);
        return;
      }
      case BackendType.ErrorResponse: {
        const fields = parseErrorFields(body);
        const code = fields.get('C') ?? SqlState.internalError;
        this.opts.metrics.clientErrors.inc({ class: code.slice(0, 2) });
        const severity = fields.get('V') ?? fields.get('S');
        if (severity === 'FATAL' || severity === 'PANIC') this.upstreamFatal = true;
        // An error ends copy-in mode upstream.
        this.copyIn = false;
        return;
      }
    }
  }

  /** A held message may go now that upstream has answered everything before it. */
  private resumeDeferred(): void {
    if (!this.deferred || this.closing || !this.deferredUntil()) return;
    this.deferred = false;
    this.resumeClient('deferred');
    this.processClient();
  }

  private onUpstreamClose(info: { error: Error | undefined; connected: boolean }): void {
    if (this.phase === 'closed' || this.closing) {
      this.closeClient();
      return;
    }
    if (!info.connected) {
      const cause = (info.error as NodeJS.ErrnoException | undefined)?.code ?? errorMessage(info.error);
      this.log.warn({ cause }, 'could not connect to upstream');
      this.fail(
        new PgError({
          severity: 'FATAL',
          code: SqlState.connectionFailure,
          message: `Outpost could not connect to the upstream server (${cause})`,
        }),
      );
      return;
    }
    const midQuery = this.phase === 'auth' || this.upstreamReader !== undefined || !this.tracker.isEmpty();
    if (this.upstreamFatal || !midQuery) {
      // Upstream already told the client why (or nothing was pending): just close.
      this.log.debug({ err: info.error && errorMessage(info.error) }, 'upstream closed');
      this.closing = true;
      this.closeClient();
      return;
    }
    this.log.warn({ err: info.error && errorMessage(info.error) }, 'upstream connection lost');
    this.fail(
      new PgError({
        severity: 'FATAL',
        code: SqlState.connectionFailure,
        message: 'the upstream server closed the connection unexpectedly',
      }),
    );
  }

  // ---- writes, backpressure, closing ----------------------------------------

  private writeClient(buf: Buffer): boolean {
    if (this.socket.destroyed || !this.socket.writable) return true;
    return this.socket.write(buf);
  }

  /** Upstream bytes: when the client cannot keep up, stop reading upstream. */
  private writeClientRelay(buf: Buffer): void {
    if (!this.writeClient(buf) && !this.upstreamPausedForClient) {
      this.upstreamPausedForClient = true;
      this.upstream?.pause();
    }
  }

  /** Local answers: when the client cannot keep up, stop reading the client. */
  private writeLocal(buf: Buffer): void {
    if (!this.writeClient(buf)) this.pauseClient('client-drain');
  }

  private writeUpstream(buf: Buffer, mayWrite = true): void {
    // Anything sent once the session is ready may write: fence the next reads.
    if (this.phase === 'ready' && mayWrite) this.fence?.markForwarded();
    if (this.upstream && !this.upstream.write(buf)) this.pauseClient('upstream-drain');
  }

  private onClientDrain(): void {
    if (this.upstreamPausedForClient) {
      this.upstreamPausedForClient = false;
      this.upstream?.resume();
    }
    this.resumeClient('client-drain');
  }

  private pauseClient(reason: 'client-drain' | 'upstream-drain' | 'deferred'): void {
    this.pauses.add(reason);
    this.socket.pause();
  }

  private resumeClient(reason: 'client-drain' | 'upstream-drain' | 'deferred'): void {
    if (!this.pauses.delete(reason)) return;
    if (this.pauses.size === 0 && !this.socket.destroyed) this.socket.resume();
  }

  /**
   * Ends this client with an error: FATAL from a PgError, or a generic
   * internal error for anything else (logged, never sent with a stack).
   * The error is written only at a message boundary, so it can never land
   * inside a half-relayed upstream message.
   */
  private fail(err: unknown): void {
    if (this.closing || this.phase === 'closed') {
      this.socket.destroy();
      return;
    }
    // Replies already produced this round come first.
    this.flushRound();
    this.closing = true;
    let pgErr: PgError;
    if (err instanceof PgError) {
      pgErr = err.severity === 'FATAL' ? err : new PgError({ ...err.fields, severity: 'FATAL' });
      this.log.debug({ code: pgErr.code, message: pgErr.message }, 'closing client session');
    } else {
      this.log.error({ err }, 'internal error in client session');
      pgErr = new PgError({
        severity: 'FATAL',
        code: SqlState.internalError,
        message: 'internal error in Outpost',
      });
    }
    const atBoundary = this.upstreamReader !== undefined || this.scanner.atBoundary();
    if (atBoundary && this.socket.writable) {
      this.writeClient(errorResponse(pgErr));
      this.opts.metrics.clientErrors.inc({ class: pgErr.code.slice(0, 2) });
    }
    // Keep reading (and dropping) the client's input so our error is not lost
    // to a reset caused by unread data.
    this.pauses.clear();
    this.socket.resume();
    this.closeClient();
    this.upstream?.terminate(this.phase === 'ready');
  }

  private closeClient(): void {
    this.closing = true;
    if (!this.socket.destroyed) {
      this.socket.end();
      this.destroyLater(this.socket);
    }
  }

  private destroyLater(socket: Socket): void {
    setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  /** Client socket closed: release everything. */
  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.startupTimer);
    const wasReady = this.phase === 'ready';
    this.phase = 'closed';
    this.closing = true;
    if (this.key) this.opts.cancel.unregister(this.key);
    // The client is gone: so is the point of its local statement.
    this.idleInTx.stop();
    this.local?.task.cancel();
    this.local = undefined;
    if (this.state) this.opts.router.transactionStatus?.(this.state, 'I');
    this.upstream?.terminate(wasReady && !this.upstreamFatal);
    this.opts.metrics.clients.dec();
    this.log.debug('client closed');
    this.opts.onClose(this);
  }
}
