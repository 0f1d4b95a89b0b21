/**
 * The per-client state machine of the proxy.
 *
 *   startup ──StartupMessage──► auth ──AuthenticationOk──► ready ──► closed
 *
 * - startup: SSLRequest / GSSENCRequest are refused with 'N' (the client then
 *   continues in plain text), a CancelRequest is mapped and sent upstream, a
 *   StartupMessage opens the client's own upstream connection with the very
 *   same packet.
 *   https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-START-UP
 * - auth: upstream's Authentication* requests and the client's 'p' responses
 *   are relayed byte for byte (cleartext, md5, SASL/SCRAM alike); Outpost never
 *   looks inside them.
 * - ready: simple Queries are routed (answered locally from the replica when
 *   the router says so and nothing is outstanding upstream); everything else
 *   is forwarded unchanged. Upstream's bytes are relayed unchanged in the
 *   chunks they arrive in, observed only for ReadyForQuery, ParameterStatus and
 *   ErrorResponse. Until upstream's first ReadyForQuery its messages are
 *   re-emitted one by one so its BackendKeyData can be replaced with Outpost's.
 *
 * Nothing a client sends can throw out of here: every socket handler is
 * wrapped, and a framing or ordering violation ends this client only, with a
 * FATAL 08P01 as Postgres would send.
 */
import type { Socket } from 'node:net';
import { errorMessage, NotLocal, PgError, SqlState } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { QueryRouter, Route } from '../router/types.js';
import { newSessionState, type SessionState } from '../session.js';
import {
  AuthCode,
  BackendType,
  backendKeyData,
  encodeLocalResults,
  errorResponse,
  parseAuthentication,
  parseBackendKeyData,
  parseErrorFields,
  parseParameterStatus,
  parseReadyForQuery,
  SSL_REFUSED,
} from '../wire/backend.js';
import { type Frame, FrameReader, FrameScanner, protocolViolation, typeName } from '../wire/frames.js';
import {
  FrontendType,
  parseParseQuery,
  parseQuery,
  parseStartupPacket,
  type StartupPacket,
} from '../wire/frontend.js';
import { type BackendKey, type CancelRegistry, sendCancel } from './cancel.js';
import { UpstreamConnection, type UpstreamTarget } from './upstream-connection.js';

export interface ClientSessionOptions {
  socket: Socket;
  /** For logs only. */
  id: number;
  upstream: UpstreamTarget;
  router: QueryRouter;
  logger: Logger;
  metrics: Metrics;
  cancel: CancelRegistry;
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

const PIPELINED = 'pipelined behind upstream work';

/** How long a closing socket may take to say goodbye before it is destroyed. */
const CLOSE_GRACE_MS = 2_000;
/** Longest a new session waits for the router to warm per-role facts before its first ReadyForQuery. */
const WARMING_TIMEOUT_MS = 2_000;

/** Upstream messages observed while relaying. */
function observed(type: number): boolean {
  return (
    type === BackendType.ReadyForQuery ||
    type === BackendType.ParameterStatus ||
    type === BackendType.ErrorResponse ||
    type === BackendType.CopyInResponse
  );
}

function isFalse(v: string): boolean {
  return ['false', 'off', 'no', '0'].includes(v.trim().toLowerCase());
}

export class ClientSession {
  /** Set once the client's StartupMessage is accepted. */
  state: SessionState | undefined;

  private phase: Phase = 'startup';
  private readonly socket: Socket;
  private readonly log: Logger;
  private readonly reader = new FrameReader({ startup: true });
  private upstream: UpstreamConnection | undefined;
  /** Parses upstream frame by frame until its first ReadyForQuery, then undefined. */
  private upstreamReader: FrameReader | undefined = new FrameReader();
  private readonly scanner = new FrameScanner(observed);
  /**
   * ReadyForQuery messages upstream still owes us: one for the end of startup,
   * plus one per forwarded Query, Sync or FunctionCall.
   */
  private outstanding = 1;
  /** Extended-protocol messages forwarded since the last Sync. */
  private unsynced = false;
  /**
   * Syncs forwarded since the last message that can start a COPY (Query,
   * Execute, FunctionCall). A backend in copy-in mode ignores Sync (libpq sends
   * one right after an extended-protocol COPY FROM STDIN), so those Syncs never
   * get a ReadyForQuery and are discounted when the copy ends.
   */
  private syncsSinceStart = 0;
  /** Upstream sent CopyInResponse and the client has not ended the copy yet. */
  private copyIn = false;
  /**
   * A Query was sent in the middle of an unsynced extended-protocol batch: if
   * that batch fails, upstream discards the Query and `outstanding` stays one
   * too high. Over-counting only costs local answers, never reply order; but
   * from then on nothing is held waiting for `outstanding` to reach zero.
   */
  private countUncertain = false;
  /** A message is held in `reader` until upstream catches up. */
  private deferred = false;
  private readonly pauses = new Set<'client-drain' | 'upstream-drain' | 'deferred'>();
  private upstreamPausedForClient = false;
  private key: BackendKey | undefined;
  /** The client's startup parameters, for the router's session checks. */
  private startupParams: ReadonlyMap<string, string> = new Map();
  /** The router is warming per-role facts; upstream's first ReadyForQuery waits for it. */
  private warming: Promise<void> | undefined;
  /** Upstream bytes from its first ReadyForQuery on, held while `warming`. */
  private heldStartup: Buffer[] | undefined;
  private sslRefused = false;
  private gssRefused = false;
  /** Upstream sent a FATAL (or PANIC) ErrorResponse: it will close, the client has the reason. */
  private upstreamFatal = false;
  private closing = false;
  private finished = false;

  constructor(private readonly opts: ClientSessionOptions) {
    this.socket = opts.socket;
    this.log = opts.logger.child({ client: opts.id });
    opts.metrics.clients.inc();
    this.socket.setNoDelay(true);
    this.socket.setKeepAlive(true);
    this.socket.on('data', (chunk: Buffer) => this.guard(() => this.onClientData(chunk)));
    this.socket.on('drain', () => this.guard(() => this.onClientDrain()));
    this.socket.on('error', (err) => this.log.debug({ err: errorMessage(err) }, 'client socket error'));
    this.socket.once('close', () => this.guard(() => this.finish()));
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
    this.reader.push(chunk);
    this.processClient();
  }

  /** Handles every complete frame in `reader`, forwarding runs of frames in one write. */
  private processClient(): void {
    const forward: Buffer[] = [];
    try {
      while (!this.closing && !this.deferred) {
        const frame = this.reader.next();
        if (!frame) break;
        this.handleClientFrame(frame, forward);
      }
    } finally {
      // Frames are views into the reader's buffer: copy (concat) before it is reused.
      if (forward.length > 0) this.writeUpstream(Buffer.concat(forward));
    }
  }

  private handleClientFrame(frame: Frame, forward: Buffer[]): void {
    switch (this.phase) {
      case 'startup':
        this.handleStartupPacket(frame);
        return;
      case 'auth':
        // https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-START-UP
        if (frame.type === FrontendType.Password) forward.push(frame.raw);
        else if (frame.type === FrontendType.Terminate) this.terminate(forward, frame);
        else
          throw protocolViolation(`expected password response, got message type "${typeName(frame.type)}"`);
        return;
      case 'ready':
        this.handleReadyFrame(frame, forward);
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
        if (this.sslRefused) throw protocolViolation('duplicate SSLRequest');
        this.sslRefused = true;
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

  private handleStartupMessage(packet: Extract<StartupPacket, { kind: 'startup' }>, frame: Frame): void {
    if (packet.major !== 3) {
      throw protocolViolation(
        `unsupported frontend protocol ${packet.major}.${packet.minor}: server supports 3.0 to 3.2`,
      );
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
      { user, database, application_name: packet.params.get('application_name') },
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
    this.log.debug('relaying cancel request upstream');
    sendCancel(this.opts.upstream, target).catch((err: unknown) =>
      this.log.warn({ err: errorMessage(err) }, 'could not send cancel request upstream'),
    );
  }

  /** https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-SIMPLE-QUERY */
  private handleReadyFrame(frame: Frame, forward: Buffer[]): void {
    switch (frame.type) {
      case FrontendType.Query:
        this.handleQuery(frame, forward);
        return;
      case FrontendType.Terminate:
        this.terminate(forward, frame);
        return;
      // https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-EXT-QUERY
      case FrontendType.Sync:
        this.outstanding++;
        this.syncsSinceStart++;
        this.unsynced = false;
        forward.push(frame.raw);
        return;
      // https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-FUNCTION-CALL
      case FrontendType.FunctionCall:
        this.outstanding++;
        this.syncsSinceStart = 0;
        forward.push(frame.raw);
        return;
      case FrontendType.Execute:
        this.syncsSinceStart = 0;
        this.unsynced = true;
        forward.push(frame.raw);
        return;
      case FrontendType.Parse:
        if (this.state && this.opts.router.observe) {
          this.opts.router.observe(parseParseQuery(frame.body), this.state);
        }
        this.unsynced = true;
        forward.push(frame.raw);
        return;
      case FrontendType.Bind:
      case FrontendType.Describe:
      case FrontendType.Close:
      case FrontendType.Flush:
        this.unsynced = true;
        forward.push(frame.raw);
        return;
      // https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-COPY
      case FrontendType.CopyDone:
      case FrontendType.CopyFail:
        if (this.copyIn) {
          this.copyIn = false;
          this.outstanding -= Math.min(this.outstanding, this.syncsSinceStart);
        }
        this.syncsSinceStart = 0;
        forward.push(frame.raw);
        return;
      default:
        // CopyData / CopyDone / CopyFail and anything else: upstream judges.
        forward.push(frame.raw);
        return;
    }
  }

  /** True when a reply written now would come after every reply upstream owes. */
  private idle(): boolean {
    return (
      this.outstanding === 0 &&
      !this.unsynced &&
      this.upstreamReader === undefined &&
      this.scanner.atBoundary()
    );
  }

  private handleQuery(frame: Frame, forward: Buffer[]): void {
    const sql = parseQuery(frame.body);
    const state = this.state;
    if (!state) throw protocolViolation('query before startup');
    this.syncsSinceStart = 0;
    if (this.unsynced) this.countUncertain = true;
    // The router sees every simple query, even one that will be forwarded
    // anyway, so it can follow session changes (SET, temp tables, ...).
    let route: Route;
    try {
      route = this.opts.router.route(sql, state);
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'router failed');
      route = { kind: 'upstream', reason: `router error: ${errorMessage(err)}` };
    }
    const idle = this.idle();
    let reason: string;
    switch (route.kind) {
      case 'show-last-route':
        if (idle) {
          this.log.debug('answering SHOW outpost.last_route');
          this.writeLocal(
            encodeLocalResults(
              [{ fields: [LAST_ROUTE_FIELD], rows: [[state.lastRoute]], commandTag: 'SHOW' }],
              state.txStatus,
            ),
          );
          return;
        }
        if (!this.unsynced && !this.countUncertain && this.upstream) {
          // Upstream would not know the setting: hold the message until its
          // earlier work is answered (the next ReadyForQuery resumes us).
          this.reader.putBack(frame);
          this.deferred = true;
          this.pauseClient('deferred');
          return;
        }
        reason = PIPELINED;
        break;
      case 'local':
        if (!idle) {
          reason = PIPELINED;
          break;
        }
        try {
          const results = route.run();
          this.writeLocal(encodeLocalResults(results, state.txStatus));
          state.lastRoute = 'local';
          this.opts.metrics.statements.inc({ route: 'local' });
          this.log.debug({ statements: results.length }, 'answered locally');
          return;
        } catch (err) {
          if (err instanceof NotLocal) {
            reason = err.reason;
          } else {
            // Logged here; the client only ever sees upstream's answer.
            this.log.warn({ err }, 'local execution failed, forwarding');
            reason = `local error: ${errorMessage(err)}`;
          }
        }
        break;
      case 'upstream':
        reason = route.reason;
        break;
    }
    forward.push(frame.raw);
    this.outstanding++;
    state.lastRoute = `upstream: ${reason}`;
    this.opts.metrics.statements.inc({ route: 'upstream' });
    this.opts.metrics.forwarded.inc({ reason });
    this.log.debug({ reason }, 'forwarded upstream');
  }

  /** https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-TERMINATION */
  private terminate(forward: Buffer[], frame: Frame): void {
    forward.push(frame.raw);
    this.writeUpstream(Buffer.concat(forward));
    forward.length = 0;
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
    this.relay(Buffer.concat(held));
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
    if (rest && rest.length > 0) this.relay(rest);
    else if (rest) this.resumeDeferred();
  }

  private handleUpstreamStartupFrame(frame: Frame, out: Buffer[]): void {
    const state = this.state;
    switch (frame.type) {
      case BackendType.Authentication: {
        const { code } = parseAuthentication(frame.body);
        if (code === AuthCode.Ok) {
          this.phase = 'ready';
          this.log.debug('authenticated');
          if (state) this.startWarming(state);
        }
        out.push(frame.raw);
        return;
      }
      case BackendType.BackendKeyData: {
        const upstreamKey = parseBackendKeyData(frame.body);
        if (this.key) this.opts.cancel.unregister(this.key);
        this.key = this.opts.cancel.register(upstreamKey);
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

  /** After startup: relay the chunk unchanged, observing what passes. */
  private relay(chunk: Buffer): void {
    try {
      this.scanner.scan(chunk, (type, body) => this.observe(type, body));
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
    this.writeClientRelay(chunk);
    this.resumeDeferred();
  }

  private observe(type: number, body: Buffer): void {
    const state = this.state;
    switch (type) {
      case BackendType.ReadyForQuery:
        if (state) state.txStatus = parseReadyForQuery(body);
        if (this.outstanding > 0) this.outstanding--;
        return;
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
        return;
      }
    }
  }

  /** A held message may go now that upstream has answered everything before it. */
  private resumeDeferred(): void {
    if (!this.deferred || !this.idle() || this.closing) return;
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
    const midQuery = this.phase === 'auth' || this.upstreamReader !== undefined || this.outstanding > 0;
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

  private writeUpstream(buf: Buffer): void {
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
    const wasReady = this.phase === 'ready';
    this.phase = 'closed';
    this.closing = true;
    if (this.key) this.opts.cancel.unregister(this.key);
    this.upstream?.terminate(wasReady && !this.upstreamFatal);
    this.opts.metrics.clients.dec();
    this.log.debug('client closed');
    this.opts.onClose(this);
  }
}
