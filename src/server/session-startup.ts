/**
 * A client session until upstream's first ReadyForQuery: SSLRequest,
 * GSSENCRequest, CancelRequest and StartupMessage; authentication relayed
 * byte for byte (SCRAM's -PLUS mechanisms removed when Outpost terminates
 * TLS); BackendKeyData replaced with Outpost's; the router warming per-role
 * facts before the first ReadyForQuery.
 * https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-START-UP
 */
import { TLSSocket } from 'node:tls';
import { errorMessage, PgError, SqlState } from '../errors.js';
import { newSessionState, type SessionState } from '../session.js';
import {
  AuthCode,
  authenticationSasl,
  BackendType,
  backendKeyData,
  parseAuthentication,
  parseBackendKeyData,
  parseSaslMechanisms,
  SSL_ACCEPTED,
  SSL_REFUSED,
} from '../wire/backend.js';
import { type Frame, type FrameReader, protocolViolation } from '../wire/frames.js';
import { parseStartupPacket, type StartupPacket } from '../wire/frontend.js';
import { sendCancel } from './cancel.js';
import { type ClientTls, SessionCore } from './session-core.js';
import { UpstreamConnection } from './upstream-connection.js';

/** Longest a new session waits for the router to warm per-role facts before its first ReadyForQuery. */
const WARMING_TIMEOUT_MS = 2_000;
function isFalse(v: string): boolean {
  return ['false', 'off', 'no', '0'].includes(v.trim().toLowerCase());
}

export abstract class StartupPhase extends SessionCore {
  protected override handleStartupPacket(frame: Frame): void {
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
  protected upgradeToTls(tls: ClientTls): void {
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

  protected handleStartupMessage(packet: Extract<StartupPacket, { kind: 'startup' }>, frame: Frame): void {
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
  protected handleCancel(packet: Extract<StartupPacket, { kind: 'cancel-request' }>): void {
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
   * Let the router warm per-role facts (privileges, role settings) while
   * upstream finishes its startup, so the session's first statement can be
   * answered locally. Bounded: a slow lookup only costs local answers.
   */
  protected startWarming(state: SessionState): void {
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

  protected releaseStartup(): void {
    const held = this.heldStartup;
    this.heldStartup = undefined;
    this.warming = undefined;
    if (!held || this.phase === 'closed') return;
    const rest = Buffer.concat(held);
    this.sessionReady();
    this.relay(rest);
  }

  /** Upstream's first ReadyForQuery is going to the client. */
  protected sessionReady(): void {
    clearTimeout(this.startupTimer);
    const idleMs = this.opts.idleTimeoutMs ?? 0;
    if (idleMs > 0) {
      // Any traffic either way restarts the clock; only an idle session outside a
      // transaction is closed. (A callback given to setTimeout would run only once.)
      this.socket.on('timeout', () => this.guard(() => this.onIdleTimeout()));
      this.socket.setTimeout(idleMs);
    }
  }

  protected onIdleTimeout(): void {
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
  protected onUpstreamStartupData(reader: FrameReader, chunk: Buffer): void {
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

  protected handleUpstreamStartupFrame(frame: Frame, out: Buffer[]): void {
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
  protected saslOffer(frame: Frame, data: Buffer): Buffer {
    const mechanisms = parseSaslMechanisms(data);
    if (!mechanisms.some((m) => m.endsWith('-PLUS'))) return frame.raw;
    const ours = this.opts.tls?.certificate;
    const theirs = this.upstream?.peerCertificate();
    if (ours && theirs?.equals(ours)) return frame.raw;
    this.log.debug('SCRAM channel binding not offered (client TLS ends at Outpost)');
    return authenticationSasl(mechanisms.filter((m) => !m.endsWith('-PLUS')));
  }
}
