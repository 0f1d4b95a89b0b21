/**
 * Transaction control answered locally: a lone BEGIN that may start a
 * transaction without upstream, and the COMMIT or ROLLBACK of one that never
 * went upstream (local-transaction.ts).
 */
import { idleInTransactionMs, timeoutsAtReady } from '../router/timeouts.js';
import type { SessionState } from '../session.js';
import { commandComplete, readyForQuery } from '../wire/backend.js';
import type { Frame } from '../wire/frames.js';
import { type LocalTxControl, localTxControl } from './local-transaction.js';
import { RelayPhase } from './session-relay.js';

export abstract class TransactionPhase extends RelayPhase {
  /**
   * A lone BEGIN that may start a transaction locally, or the COMMIT or
   * ROLLBACK of one that never went upstream: answered here
   * (src/server/local-transaction.ts). False: route it as usual.
   */
  protected answerTxControl(frame: Frame, sql: string, state: SessionState): boolean {
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
      if (!this.onlyHiddenOwed(false)) return false;
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
  protected override txControlAllowed(control: LocalTxControl, state: SessionState): boolean {
    if (this.copyIn) return false;
    if (control.kind === 'begin') {
      return state.txStatus === 'I' && state.stateCheck === undefined && this.mayStartLocalTx(state);
    }
    return state.txStatus === 'T' && state.localTx !== undefined;
  }

  /** A BEGIN, COMMIT or ROLLBACK answered locally: the session's state as after it. */
  protected override applyTxControl(control: LocalTxControl, state: SessionState): void {
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
  protected mayStartLocalTx(state: SessionState): boolean {
    return (
      state.localDisabled === undefined &&
      state.settingDrift === undefined &&
      // The router has just followed this BEGIN (`await-begin`): nothing else of a READ ONLY one.
      (state.readOnlyTx === undefined || state.readOnlyTx.phase === 'await-begin') &&
      // Upstream's clock enforces it; it would not run for a transaction it has not seen.
      idleInTransactionMs(state) === 0 &&
      (state.transactionTimeoutMs ?? 0) === 0 &&
      !this.extended.forwardedUnsynced()
    );
  }
}
