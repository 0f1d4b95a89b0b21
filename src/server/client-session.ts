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
 *
 * The class is a chain, one file per phase (see session-core.ts): the state
 * and input loop, startup and auth, upstream's replies, local transaction
 * control, and here the ready phase's queries.
 */
import { errorMessage, LocalError, NotLocal, PgError, SqlState } from '../errors.js';
import { Offload } from '../exec/inline.js';
import type { JobOutcome, StreamSink } from '../exec/pool.js';
import { statementTimer, timeUntilReady } from '../metrics.js';
import { RYW_EXPIRED, RYW_WAITING, type SessionFence } from '../router/read-your-writes.js';
import { followTimeout, localBudgetMs } from '../router/timeouts.js';
import type { LocalOffload, Route } from '../router/types.js';
import type { SessionState } from '../session.js';
import { errorResponse, readyForQuery } from '../wire/backend.js';
import { type Frame, protocolViolation, typeName } from '../wire/frames.js';
import { FrontendType, parseQuery, SYNC, serializeQuery } from '../wire/frontend.js';
import { PIPELINED } from './extended.js';
import { runInline, startOffloaded, stopReason } from './local-exec.js';
import { ResultStream } from './local-stream.js';
import { TransactionPhase } from './session-transactions.js';

export type { ClientSessionOptions, ClientTls } from './session-core.js';

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

export class ClientSession extends TransactionPhase {
  /**
   * https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-SIMPLE-QUERY
   * https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-EXT-QUERY
   */
  protected override handleReadyFrame(frame: Frame): void {
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

  /** `frame` starts a batch with a BEGIN that a transaction may start locally with, outside one. */
  private startsLocalTx(frame: Frame): boolean {
    const state = this.state;
    return (
      state !== undefined &&
      state.txStatus === 'I' &&
      this.extended.startsTxControl(frame) &&
      this.mayStartLocalTx(state)
    );
  }

  protected extendedMessage(frame: Frame): void {
    if (!this.state) throw protocolViolation('extended-protocol message before startup');
    if (
      this.onlyHiddenOwed(false) &&
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
        (this.extended.startsReadBatch(frame) || this.startsLocalTx(frame))
      ) {
        // This session wrote: hold the whole batch until the replica has
        // applied that write (or --ryw-timeout passes), as for a simple
        // Query, so that its reads may still be answered locally (a batch
        // opening a transaction that may start locally too: its reads would
        // otherwise go upstream, and the transaction with them).
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
      (this.extended.startsReadBatch(frame) || this.extended.startsTxControl(frame))
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
  protected waitForFence(frame: Frame): void {
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

  protected handleQuery(frame: Frame): void {
    const localTimer = statementTimer(this.opts.metrics, 'local');
    const sql = parseQuery(frame.body);
    const state = this.state;
    if (!state) throw protocolViolation('query before startup');
    if (!this.extended.beforeQuery(sql)) {
      // It names prepared statements that earlier SQL may be changing: wait for that.
      this.defer(frame, () => this.extended.sqlChangesSettled());
      return;
    }
    this.extended.clientQuery();
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
      // Owing only position queries is as good as idle here (they run outside
      // a transaction and read no setting); a state check in flight is not:
      // its answer would be compared with the values this SET gives.
      const settled = idle || (this.onlyHiddenOwed(false) && state.stateCheck?.inFlight !== true);
      const problem = followTimeout(state, route.timeout, settled);
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
          if (this.onlyHiddenOwed(false)) {
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
            results = runInline(localBudgetMs(state), () => route.run());
          } catch (err) {
            if (err instanceof Offload && (state.transactionTimeoutMs ?? 0) !== 0) {
              // An executor's statement could outlive transaction_timeout, which
              // ends the session upstream (FATAL 25P04): upstream decides.
              throw new NotLocal('transaction_timeout in force (statement not run inline)');
            }
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
          if (err instanceof LocalError) {
            // Postgres's own error for the statement (a constant's input), outside a transaction block.
            this.reply.raw(errorResponse(err.error));
            this.reply.raw(readyForQuery(state.txStatus));
            this.extended.localQueryAnswered(state.txStatus);
            state.lastRoute = 'local';
            this.opts.metrics.statements.inc({ route: 'local' });
            this.opts.metrics.clientErrors.inc({ class: err.error.code.slice(0, 2) });
            localTimer();
            this.log.debug({ code: err.error.code }, 'answered locally with an error');
            return;
          }
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
    const endsIdle =
      route.kind === 'upstream' &&
      !this.extended.forwardedUnsynced() &&
      (route.endsIdle === 'always' ||
        (route.endsIdle === 'from-idle' &&
          state.txStatus === 'I' &&
          // Nothing owed before it but Outpost's own checks (run outside a transaction).
          this.tracker.size() === 1 + this.hiddenOwed));
    // It ends outside a transaction: right behind it, in the same write, one
    // hidden query checks the session's state (when user code may have run)
    // and reads its commit's position (when it may have written), so both
    // answers are there by the client's next statement.
    if (endsIdle) this.sendBehind(!readOnly);
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
  protected runOffloaded(
    frame: Frame,
    offload: LocalOffload,
    readOnly: boolean,
    sql: string,
    localTimer: () => void,
  ): void {
    const state = this.state as SessionState;
    this.opts.metrics.offloaded.inc();
    // The frame is a view into the reader's buffer, which is reused: keep a copy to forward later.
    const raw = Buffer.from(frame.raw);
    // A result too big to keep is streamed to the client as the executor reads it.
    const stream = new ResultStream(
      offload.results([]).map((r) => r.fields),
      {
        reply: this.reply,
        write: (buf, written) => {
          if (this.writeClient(buf)) written();
          else this.socket.once('drain', written);
        },
      },
    );
    const answered = (statements: number): void => {
      this.extended.localQueryAnswered(state.txStatus);
      if (state.localTx) state.localTx.reads++;
      state.lastRoute = 'local';
      this.opts.metrics.statements.inc({ route: 'local' });
      localTimer();
      this.log.debug({ statements, streamed: stream.started }, 'answered locally (executor)');
    };
    this.startLocal(
      offload,
      (outcome, stoppedBy) => {
        if (outcome.kind === 'ok') {
          const results = offload.results(outcome.rows);
          this.reply.localResults(results, state.txStatus);
          answered(results.length);
        } else if (outcome.kind === 'streamed') {
          stream.finish();
          this.reply.raw(readyForQuery(state.txStatus));
          answered(offload.results([]).length);
        } else if (outcome.kind === 'canceled') {
          this.localStopped(stoppedBy);
        } else if (outcome.kind === 'failed') {
          this.localFailed(outcome.reason);
        } else {
          this.forwardQuery(raw, sql, readOnly, outcome.reason);
        }
      },
      stream,
    );
  }

  /**
   * A streamed local result was lost after rows were sent (its executor
   * died): too late to forward, so the statement fails, as a statement
   * whose backend failed would. Inside a READ ONLY transaction the error
   * aborts it, so upstream's transaction is made to fail too (a hidden
   * failing statement) and a Sync has upstream report the aborted state.
   */
  protected localFailed(reason: string): void {
    const state = this.state as SessionState;
    state.lastRoute = 'local';
    this.log.warn({ reason }, 'local result lost mid-stream');
    this.reply.raw(
      errorResponse(
        new PgError({
          severity: 'ERROR',
          code: SqlState.internalError,
          message: 'local executor exited while sending the result',
        }),
      ),
    );
    this.opts.metrics.clientErrors.inc({ class: 'XX' });
    if (state.txStatus === 'I') {
      this.reply.raw(readyForQuery(state.txStatus));
      this.extended.localQueryAnswered(state.txStatus);
      return;
    }
    this.openUpstreamTx();
    this.forward.push(serializeQuery('SELECT 1/0'));
    this.tracker.push({ kind: 'query', hidden: true, hideErrors: true });
    this.forward.push(SYNC);
    this.tracker.push({ ...this.extended.readyExpectation('query'), kind: 'sync' });
  }

  /**
   * Starts a local statement in an executor; the client's next messages
   * wait until `done` has handled its outcome (and the round is flushed).
   */
  protected override startLocal(
    offload: LocalOffload,
    done: (outcome: JobOutcome, stoppedBy: 'user' | 'timeout') => void,
    stream?: StreamSink,
  ): void {
    const state = this.state as SessionState;
    const inFlight = startOffloaded(offload, state.statementTimeoutMs ?? 0, stream);
    this.local = inFlight;
    this.deferred = true;
    // Until it is answered, not until upstream owes nothing: a Bind sent
    // upstream after all (not-local) is answered only at the batch's Sync,
    // which is among the messages waiting here.
    this.deferredUntil = () => this.local !== inFlight;
    this.pauseClient('deferred');
    void inFlight.task.done.then((outcome) =>
      this.guard(() => {
        clearTimeout(inFlight.timer);
        if (this.local === inFlight) this.local = undefined;
        if (this.closing || this.phase === 'closed') return;
        done(outcome, stopReason(inFlight));
        // The messages that waited are handled at once, their replies and
        // this statement's in one write (processClient flushes the round).
        if (!this.resumeDeferred()) this.flushRound();
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
  protected localStopped(why: 'user' | 'timeout'): void {
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

  /** Sends a simple Query upstream after all (the local run could not answer it). */
  protected forwardQuery(raw: Buffer, sql: string, readOnly: boolean, reason: string): void {
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
}
