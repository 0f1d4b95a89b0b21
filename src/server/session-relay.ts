/**
 * Upstream's replies after startup: relayed in the chunks they arrive in,
 * every message boundary observed (transaction status, COPY, errors,
 * ParameterStatus), replies to Outpost's hidden queries dropped; the hidden
 * session-state checks and WAL position queries themselves.
 */
import { errorMessage, PgError, SqlState } from '../errors.js';
import { parseLsn } from '../replication/lsn.js';
import { timeoutsAtReady } from '../router/timeouts.js';
import type { SessionState } from '../session.js';
import { BackendType, parseErrorFields, parseParameterStatus, parseReadyForQuery } from '../wire/backend.js';
import type { Frame } from '../wire/frames.js';
import { StartupPhase } from './session-startup.js';
import { dataRowValues, POSITION_QUERY, settingDrift, stateCheckQuery, stateProblem } from './state-check.js';
import type { Outcome } from './upstream-replies.js';

export abstract class RelayPhase extends StartupPhase {
  // ---- upstream → client ---------------------------------------------------

  protected override onUpstreamData(chunk: Buffer): void {
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

  /** After startup: relay the chunk, observing every message boundary and dropping hidden replies. */
  protected override relay(chunk: Buffer): void {
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

  protected override afterRelay(): void {
    if (this.drainIfIdle()) return;
    this.maybeSendStateCheck();
    this.resumeDeferred();
    this.watchIdleInTransaction();
  }

  // ---- session state checks (see state-check.ts) ----------------------------

  /** A pending check goes out as soon as the session is idle outside a transaction. */
  protected maybeSendStateCheck(): void {
    const state = this.state;
    const check = state?.stateCheck;
    if (!state || !check || check.inFlight || this.phase !== 'ready' || this.closing) return;
    if (state.txStatus !== 'I' || this.copyIn || !this.idle()) return;
    this.sendStateCheck(true);
  }

  /**
   * Right behind statements that certainly end outside a transaction (in
   * the same write): one hidden query, or none. It checks the session's
   * state when one is pending (user code may have run) and, with
   * `position` (they may have written), also reads upstream's WAL insert
   * position after their commit, which the fence takes at the ReadyForQuery
   * that ends them instead of a lookup on another connection (a round trip
   * more before the next read may run).
   */
  protected override sendBehind(position: boolean): void {
    const check = this.state?.stateCheck;
    const withPosition = position && this.fence !== undefined;
    // One in flight read the state before these statements' user code: a new one goes behind them.
    if (check && (!check.inFlight || check.dirty)) this.sendStateCheck(false, withPosition);
    else if (withPosition) this.sendPositionQuery();
  }

  /** The position alone (see `sendBehind`), hidden from the client. */
  protected sendPositionQuery(): void {
    this.forward.push(POSITION_QUERY);
    this.hiddenOwed++;
    this.tracker.push({
      kind: 'query',
      hidden: true,
      hideErrors: true,
      row: (body) => this.positionRead(dataRowValues(body)[0]),
      settle: () => {
        this.hiddenOwed--;
      },
    });
  }

  /** A position read behind the session's statements: the fence's, unless unreadable. */
  private positionRead(value: string | null | undefined): void {
    if (typeof value !== 'string') return;
    try {
      this.fence?.knownPosition(parseLsn(value));
    } catch {
      // Unreadable: the fence looks the position up itself.
    }
  }

  /**
   * Nothing is owed upstream but Outpost's own state checks and position
   * queries (answered within the round trip already under way; `orNothing`:
   * or nothing at all): a read waits for them rather than being forwarded as
   * pipelined, and a statement sent now runs outside a transaction.
   */
  protected override onlyHiddenOwed(orNothing: boolean): boolean {
    return (
      (orNothing || this.hiddenOwed > 0) &&
      this.tracker.size() === this.hiddenOwed &&
      this.local === undefined &&
      !this.extended.forwardedUnsynced() &&
      this.upstreamReader === undefined &&
      this.heldStartup === undefined
    );
  }

  /** Hold `frame` until the pending state check is answered (sending it when it can go now). */
  protected awaitStateCheck(frame: Frame): void {
    const check = this.state?.stateCheck;
    if (check && !check.inFlight && this.idle()) this.sendStateCheck(false);
    // Until idle: the check's answer has come, and `frame` is routed again.
    this.defer(frame);
  }

  /**
   * Queue the state query behind everything sent so far (`flush`: write it
   * now, outside a round of client input), with `position` reading the WAL
   * position as its last column (see `sendBehind`). Its replies are kept
   * from the client; errors too.
   */
  protected override sendStateCheck(flush: boolean, position = false): void {
    const state = this.state;
    const check = state?.stateCheck;
    if (!state || !check) return;
    check.inFlight = true;
    check.dirty = false;
    const seq = (check.sent ?? 0) + 1;
    check.sent = seq;
    let row: (string | null)[] | undefined;
    const resets = check.resets === true;
    this.forward.push(stateCheckQuery(resets, position));
    this.hiddenOwed++;
    this.tracker.push({
      kind: 'query',
      hidden: true,
      hideErrors: true,
      row: (body) => {
        row = dataRowValues(body);
        if (position) this.positionRead(row.pop());
      },
      settle: (outcome) => {
        this.hiddenOwed--;
        this.stateChecked(check, outcome, row, resets, seq === check.sent);
      },
    });
    this.log.debug({ after: check.reason, position }, 'checking session state upstream');
    if (flush) this.flushRound();
  }

  protected stateChecked(
    check: NonNullable<SessionState['stateCheck']>,
    outcome: Outcome,
    row: (string | null)[] | undefined,
    resets: boolean,
    latest: boolean,
  ): void {
    const state = this.state;
    if (!state || state.stateCheck !== check) return;
    if (outcome === 'skipped') {
      // Upstream discarded it (after an extended-protocol error): send it again later.
      if (latest) check.inFlight = false;
      return;
    }
    // An error answers no row: local answers stop (conservatively).
    const problem = stateProblem(
      state,
      outcome === 'ok' ? row : undefined,
      resets,
      this.opts.router.numericLocaleC?.() ?? true,
    );
    if (resets && check.resets) delete check.resets;
    if (problem !== undefined && !settingDrift(problem)) {
      state.localDisabled ??= problem;
      state.stateCheck = undefined;
      this.log.debug({ problem }, 'session state changed upstream');
      return;
    }
    // A later check, sent behind more user code, is on its way: it decides.
    if (!latest) return;
    // A setting away from what local answers reproduce: answered upstream
    // until a later check (after the next SET, RESET or user code) finds it back.
    state.settingDrift = problem;
    if (problem !== undefined) this.log.debug({ problem }, 'session setting changed upstream');
    if (check.dirty) check.inFlight = false;
    else state.stateCheck = undefined;
  }

  protected override observe(type: number, body: Buffer): void {
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
}
