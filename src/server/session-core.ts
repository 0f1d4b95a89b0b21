/**
 * The state, input loop, writes and closing shared by every phase of a
 * client session (see client-session.ts for the state machine). The phases
 * build on it as a chain of classes, each in its own file:
 *
 *   SessionCore ◄─ StartupPhase (session-startup.ts: startup packets, auth)
 *               ◄─ RelayPhase (session-relay.ts: upstream's replies, state checks)
 *               ◄─ TransactionPhase (session-transactions.ts: local BEGIN/COMMIT)
 *               ◄─ ClientSession (client-session.ts: queries and extended batches)
 */
import type { Socket } from 'node:net';
import type { SecureContext } from 'node:tls';
import { errorMessage, PgError, SqlState } from '../errors.js';
import type { JobOutcome, StreamSink } from '../exec/pool.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { type ReadYourWritesSource, SessionFence } from '../router/read-your-writes.js';
import { idleInTransactionMs } from '../router/timeouts.js';
import type { LocalOffload, QueryRouter } from '../router/types.js';
import type { SessionState } from '../session.js';
import { errorResponse, ReplyWriter } from '../wire/backend.js';
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
  serializeQuery,
  sessionMessageLimit,
} from '../wire/frontend.js';
import type { BackendKey, CancelRegistry } from './cancel.js';
import type { ClientSession } from './client-session.js';
import { type ExtendedHost, ExtendedProtocol } from './extended.js';
import { IdleInTransaction, type InFlight } from './local-exec.js';
import { type LocalTxControl, upstreamBegin } from './local-transaction.js';
import type { UpstreamConnection, UpstreamTarget } from './upstream-connection.js';
import { ReplyTracker } from './upstream-replies.js';

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

export type Phase = 'startup' | 'auth' | 'ready' | 'closed';

/**
 * Extended-protocol messages that run nothing themselves (Parse, Bind,
 * Describe, Close, Flush, Sync): what an Execute runs decides whether a
 * batch may write.
 */
const NO_EFFECT_MESSAGES: ReadonlySet<number> = new Set([
  FrontendType.Parse,
  FrontendType.Bind,
  FrontendType.Describe,
  FrontendType.Close,
  FrontendType.Flush,
  FrontendType.Sync,
]);

/** How long a closing socket may take to say goodbye before it is destroyed. */
const CLOSE_GRACE_MS = 2_000;
/** Like Postgres's authentication_timeout: a connection must be ready within this. */
const STARTUP_TIMEOUT_MS = 60_000;

export abstract class SessionCore {
  /** Set once the client's StartupMessage is accepted. */
  state: SessionState | undefined;

  protected phase: Phase = 'startup';

  protected socket: Socket;

  protected readonly log: Logger;

  /**
   * The client's messages, each refused (08P01) as soon as its header shows
   * a length over Postgres's limit for its type in the current phase; a
   * large CopyData or FunctionCall is relayed piece by piece as it arrives.
   */
  protected readonly reader = new FrameReader({
    startup: true,
    maxLength: (type) => this.messageLimit(type),
    streamable: (type) =>
      this.phase === 'ready' && (type === FrontendType.CopyData || type === FrontendType.FunctionCall),
  });

  protected upstream: UpstreamConnection | undefined;

  /** Parses upstream frame by frame until its first ReadyForQuery, then undefined. */
  protected upstreamReader: FrameReader | undefined = new FrameReader();

  protected readonly scanner = new FrameScanner();

  /** What upstream owes, message by message. */
  protected readonly tracker = new ReplyTracker();

  /** Local replies of the current round of client input. */
  protected readonly reply = new ReplyWriter();

  protected readonly extended: ExtendedProtocol;

  protected readonly relayVisitor: RelayVisitor;

  /** Upstream bytes of the current round of client input, in order (frames are views until copied). */
  protected forward: Buffer[] = [];

  /** Something in `forward` may write (see `flushRound`). */
  protected roundMayWrite = false;

  /**
   * Hidden state checks and position queries owed (session-relay.ts): sent
   * only where the session ends outside a transaction, so a statement sent
   * behind them runs where it would with nothing owed.
   */
  protected hiddenOwed = 0;

  /** Upstream sent CopyInResponse and the client has not ended the copy yet. */
  protected copyIn = false;

  /** A message is held in `reader` until upstream catches up. */
  protected deferred = false;

  /** When the held message may go. */
  protected deferredUntil: () => boolean = () => this.idle();

  /** Read-your-writes fence, when the session consistency is on. */
  protected readonly fence: SessionFence | undefined;

  protected readonly pauses = new Set<'client-drain' | 'upstream-drain' | 'deferred'>();

  protected upstreamPausedForClient = false;

  protected key: BackendKey | undefined;

  /** The client's startup parameters, for the router's session checks. */
  protected startupParams: ReadonlyMap<string, string> = new Map();

  /** The router is warming per-role facts; upstream's first ReadyForQuery waits for it. */
  protected warming: Promise<void> | undefined;

  /** Upstream bytes from its first ReadyForQuery on, held while `warming`. */
  protected heldStartup: Buffer[] | undefined;

  /** Upstream asked for a password (or SASL message) the client has not sent yet. */
  protected authRequestPending = false;

  protected sslAnswered = false;

  protected gssRefused = false;

  /** The client's connection is TLS (terminated here). */
  protected clientTls = false;

  /** Upstream sent a FATAL (or PANIC) ErrorResponse: it will close, the client has the reason. */
  protected upstreamFatal = false;

  /** Server shutdown: end the session as soon as nothing is in flight. */
  protected draining = false;

  protected closing = false;

  protected finished = false;

  protected readonly startupTimer: NodeJS.Timeout;

  /** A local statement running in an executor process; the client's next messages wait for it. */
  protected local: InFlight | undefined;

  protected readonly idleInTx = new IdleInTransaction({
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

  constructor(protected readonly opts: ClientSessionOptions) {
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
      quietButHidden: () => this.onlyHiddenOwed(true),
      send: (bytes, expect, readsOnly) => {
        this.forwardBytes(bytes, readsOnly !== true && !NO_EFFECT_MESSAGES.has(bytes[0] ?? 0));
        if (expect) this.tracker.push(expect);
      },
      runLocal: (offload, done) => this.startLocal(offload, done),
      txControl: (control, apply) => {
        const state = session.state as SessionState;
        if (!session.txControlAllowed(control, state)) return false;
        if (apply) session.applyTxControl(control, state);
        return true;
      },
      afterSync: (mayHaveWritten) => {
        // Right behind the batch, in the same write: no round trip of its own.
        session.sendBehind(mayHaveWritten);
      },
    };
    this.extended = new ExtendedProtocol(host);
    this.tracker.onQuery = () => this.extended.queryUpstream();
    this.relayVisitor = {
      visit: (type) => this.tracker.visit(type),
      message: (type, body) => {
        this.observe(type, body);
        this.tracker.message(type, body);
      },
    };
  }

  protected attachClientSocket(socket: Socket): void {
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

  protected drainIfIdle(): boolean {
    if (!this.draining || this.closing) return false;
    if (this.phase === 'ready' && !this.idle()) return false;
    this.shutdown();
    return true;
  }

  /** Runs a handler; nothing escapes to the event loop. */
  protected guard(fn: () => void): void {
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

  protected onClientData(chunk: Buffer): void {
    if (this.closing) return; // drained and dropped until the socket closes
    this.idleInTx.clientBusy();
    this.reader.push(chunk);
    this.processClient();
  }

  /**
   * Handles every complete frame in `reader`. Local replies of the round go
   * out in one write, before the round's upstream bytes (also one write).
   */
  protected processClient(): void {
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
      this.flushRound(true);
      this.watchIdleInTransaction();
    }
  }

  /** A local statement is running in an executor and the client's next messages wait for it. */
  protected localInFlight(): boolean {
    return this.local !== undefined;
  }

  /** A READ ONLY transaction served locally is open (its snapshot in use). */
  protected localReadOnlyTx(): boolean {
    return this.state?.txStatus === 'T' && this.state.readOnlyTx?.phase === 'open';
  }

  /** After a round: is the session now waiting for the client inside a local READ ONLY transaction? */
  protected watchIdleInTransaction(): void {
    if (this.phase !== 'ready' || this.closing) return;
    if (!this.localReadOnlyTx()) this.idleInTx.stop();
    else if (!this.deferred && this.idle() && this.reader.buffered() === 0) this.idleInTx.clientIdle();
  }

  /**
   * Resets upstream's idle-in-transaction clock with a hidden statement
   * while the client is busy locally; the client's next messages wait for
   * its answer, so they are routed with nothing in flight.
   */
  protected keepUpstreamAwake(): void {
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
  protected messageLimit(type: number): number {
    if (this.phase !== 'auth') return sessionMessageLimit(type);
    if (this.authRequestPending && type !== FrontendType.Password && type !== FrontendType.Terminate) {
      throw protocolViolation(`expected password response, got message type "${typeName(type)}"`);
    }
    return authMessageLimit(type);
  }

  /**
   * Writes the round's local replies, then its upstream bytes. With `hold`,
   * replies that end no batch (a ParseComplete in front of a Bind now running
   * in an executor) stay in the buffer while that statement runs, so the
   * batch's replies go out in one write once it is answered (as Postgres
   * sends nothing before Sync or Flush); nothing is held when bytes go
   * upstream in this round (upstream's replies must come after them).
   */
  protected flushRound(hold = false): void {
    const forward = this.forward;
    const keep =
      hold && forward.length === 0 && !this.reply.endsBatch && this.deferred && this.localInFlight();
    const local = keep ? undefined : this.reply.take();
    if (local) this.writeLocal(local);
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

  /** Bytes for upstream in this round; `mayWrite`: they may change replicated data (fence the next reads). */
  protected forwardBytes(buf: Buffer, mayWrite = true): void {
    this.openUpstreamTx();
    this.forward.push(buf);
    if (mayWrite) this.roundMayWrite = true;
  }

  protected handleClientFrame(frame: Frame): void {
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

  /**
   * Hold `frame` (and everything after it) until `until` holds, by default
   * until upstream has answered everything sent so far.
   */
  protected defer(frame: Frame, until: () => boolean = () => this.idle()): void {
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
  protected idle(): boolean {
    return (
      this.local === undefined &&
      this.tracker.isEmpty() &&
      !this.extended.forwardedUnsynced() &&
      this.upstreamReader === undefined &&
      this.heldStartup === undefined &&
      this.scanner.atBoundary()
    );
  }

  /**
   * Something is going upstream inside a transaction that started locally:
   * upstream's transaction begins right in front of it, in the same write,
   * its replies kept from the client (local-transaction.ts).
   */
  protected openUpstreamTx(): void {
    const tx = this.state?.localTx;
    if (!tx || !this.state) return;
    this.state.localTx = undefined;
    this.forward.push(serializeQuery(upstreamBegin(tx.reads)));
    this.tracker.push({ kind: 'query', hidden: true, hideErrors: false });
    this.log.debug({ localReads: tx.reads }, 'transaction continues upstream');
  }

  /** A CancelRequest for this session: stops its local statement, if one is running. */
  protected cancelLocal(): boolean {
    const inFlight = this.local;
    if (!inFlight) return false;
    inFlight.stoppedBy ??= 'user';
    inFlight.task.cancel();
    return true;
  }

  /** https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-TERMINATION */
  protected terminate(frame: Frame): void {
    // Nothing of a transaction that never went upstream needs ending there.
    if (this.state) this.state.localTx = undefined;
    this.forwardBytes(frame.raw);
    this.flushRound();
    this.closing = true;
    this.upstream?.terminate(false);
    this.socket.end();
    this.destroyLater(this.socket);
  }

  /**
   * A held message may go now that upstream has answered everything before
   * it: handles the messages that waited; false when they still wait (nothing was flushed).
   */
  protected resumeDeferred(): boolean {
    if (!this.deferred || this.closing || !this.deferredUntil()) return false;
    this.deferred = false;
    this.resumeClient('deferred');
    this.processClient();
    return true;
  }

  protected onUpstreamClose(info: { error: Error | undefined; connected: boolean }): void {
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

  protected writeClient(buf: Buffer): boolean {
    if (this.socket.destroyed || !this.socket.writable) return true;
    return this.socket.write(buf);
  }

  /** Upstream bytes: when the client cannot keep up, stop reading upstream. */
  protected writeClientRelay(buf: Buffer): void {
    // Local replies held while an executor runs go first (not expected: a local batch starts with nothing owed).
    const held = this.reply.take();
    if (held) this.writeLocal(held);
    if (!this.writeClient(buf) && !this.upstreamPausedForClient) {
      this.upstreamPausedForClient = true;
      this.upstream?.pause();
    }
  }

  /** Local answers: when the client cannot keep up, stop reading the client. */
  protected writeLocal(buf: Buffer): void {
    if (!this.writeClient(buf)) this.pauseClient('client-drain');
  }

  protected writeUpstream(buf: Buffer, mayWrite = true): void {
    // Anything sent once the session is ready may write: fence the next reads.
    if (this.phase === 'ready' && mayWrite) this.fence?.markForwarded();
    if (this.upstream && !this.upstream.write(buf)) this.pauseClient('upstream-drain');
  }

  protected onClientDrain(): void {
    if (this.upstreamPausedForClient) {
      this.upstreamPausedForClient = false;
      this.upstream?.resume();
    }
    this.resumeClient('client-drain');
  }

  protected pauseClient(reason: 'client-drain' | 'upstream-drain' | 'deferred'): void {
    this.pauses.add(reason);
    this.socket.pause();
  }

  protected resumeClient(reason: 'client-drain' | 'upstream-drain' | 'deferred'): void {
    if (!this.pauses.delete(reason)) return;
    if (this.pauses.size === 0 && !this.socket.destroyed) this.socket.resume();
  }

  /**
   * Ends this client with an error: FATAL from a PgError, or a generic
   * internal error for anything else (logged, never sent with a stack).
   * The error is written only at a message boundary, so it can never land
   * inside a half-relayed upstream message.
   */
  protected fail(err: unknown): void {
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

  protected closeClient(): void {
    this.closing = true;
    if (!this.socket.destroyed) {
      this.socket.end();
      this.destroyLater(this.socket);
    }
  }

  protected destroyLater(socket: Socket): void {
    setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  /** Client socket closed: release everything. */
  protected finish(): void {
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
    // The chain's only concrete class is ClientSession.
    this.opts.onClose(this as unknown as ClientSession);
  }

  // ---- implemented by the phases above (session-startup.ts, session-relay.ts, ...) ----

  protected abstract handleStartupPacket(frame: Frame): void;
  protected abstract handleReadyFrame(frame: Frame): void;
  protected abstract onUpstreamData(chunk: Buffer): void;
  protected abstract relay(chunk: Buffer): void;
  protected abstract afterRelay(): void;
  protected abstract observe(type: number, body: Buffer): void;
  protected abstract sendStateCheck(flush: boolean, position?: boolean): void;
  protected abstract sendBehind(position: boolean): void;
  protected abstract onlyHiddenOwed(orNothing: boolean): boolean;
  protected abstract startLocal(
    offload: LocalOffload,
    done: (outcome: JobOutcome, stoppedBy: 'user' | 'timeout') => void,
    stream?: StreamSink,
  ): void;
  protected abstract txControlAllowed(control: LocalTxControl, state: SessionState): boolean;
  protected abstract applyTxControl(control: LocalTxControl, state: SessionState): void;
}
