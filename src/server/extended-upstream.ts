/**
 * The state of a session's extended protocol (statements, portals, the open
 * batch) with its entry points, and the upstream side: forwarding batches,
 * preparing lazily upstream what was Parsed or Bound locally (hidden
 * messages), following SQL PREPARE/DEALLOCATE. The local side is
 * extended.ts; the whole design is described there.
 */

import { timeUntilSettled } from '../metrics.js';
import { followTimeout } from '../router/timeouts.js';
import type { TxStatus } from '../session.js';
import type { Frame } from '../wire/frames.js';
import {
  FrontendType,
  parseBind,
  parseExecute,
  parseParse,
  parseParseQuery,
  parseTarget,
  SYNC,
  serializeBind,
  serializeClose,
  serializeExecute,
  serializeParse,
} from '../wire/frontend.js';
import {
  type Batch,
  bindStatementName,
  deallocated,
  type ExtendedHost,
  PIPELINED,
  type Portal,
  PREPARED_REF,
  PREPARED_SQL,
  prepared,
  READ_START,
  type Statement,
  UNKNOWN,
} from './extended-defs.js';
import { endsTransaction, localTxControl } from './local-transaction.js';
import type { Expectation, Outcome } from './upstream-replies.js';

/** A Parse or Bind that may be `SHOW outpost.last_route` (the router decides; this only keeps the batch here). */
const LAST_ROUTE_SHOW = /^\s*show\s+outpost\.last_route\b/i;
export abstract class ExtendedUpstream {
  protected readonly statements = new Map<string, Statement>();

  protected readonly upstreamStatements = new Map<string, Statement>();

  protected readonly portals = new Map<string, Portal>();

  protected batch: Batch | undefined;

  /** Counts Sync/Query/FunctionCall: transactions (and their portals) end at one. */
  protected epoch = 0;

  /** Hidden messages sent whose outcome is not known yet. */
  protected unsettledHidden = 0;

  /** SQL sent upstream that may create or drop prepared statements, not yet answered. */
  protected pendingSqlChanges = 0;

  protected privateNames = 0;

  /** The current batch certainly ends outside a transaction block (see `ExtendedHost.afterSync`). */
  protected endsIdle = false;

  /** The current batch sent an Execute that may change replicated data. */
  protected batchMayWrite = false;

  /**
   * Following a timeout SET through the extended protocol: the batch began
   * with nothing owed (so the session's transaction status is known), how
   * many Executes it sent upstream, and whether one of them changed a timeout.
   */
  private batchTx: { known: boolean; status: TxStatus; executes: number; timeout: boolean } = {
    known: false,
    status: 'I',
    executes: 0,
    timeout: false,
  };

  constructor(protected readonly host: ExtendedHost) {}

  /** Extended-protocol messages have been forwarded since the last Sync. */
  forwardedUnsynced(): boolean {
    return this.batch?.mode === 'upstream';
  }

  /** Statements the client has (for tests and logs). */
  statementCount(): number {
    return this.statements.size;
  }

  /**
   * Something other than an extended-protocol message (Query, FunctionCall,
   * COPY data, an unknown type) is about to go upstream: a local batch in
   * progress continues upstream, to keep replies in order.
   */
  leaveLocal(reason: string): void {
    if (this.batch?.mode === 'local') this.batch = { mode: 'upstream', reason };
    this.endsIdle = false;
  }

  /**
   * The expectation for a forwarded Query or FunctionCall (each ends with
   * ReadyForQuery and, outside a transaction block, ends the transaction).
   */
  readyExpectation(kind: 'query' | 'function-call', sql?: string): Expectation {
    const epoch = this.epoch++;
    const e: Expectation = {
      kind,
      hidden: false,
      ready: (status) => this.transactionMayHaveEnded(status, epoch),
    };
    if (sql !== undefined) this.followSql(e, sql);
    // A COMMIT/ROLLBACK sent in the middle of a batch ends the transaction's
    // portals before the batch's next Execute reaches upstream, which would
    // otherwise bind one of them there afresh (Postgres: 34000).
    if (kind === 'query' && sql !== undefined && this.portals.size > 0 && endsTransaction(sql)) {
      this.portals.clear();
    }
    return e;
  }

  /**
   * A simple Query is about to go upstream: if it may name prepared
   * statements (EXECUTE, DEALLOCATE, pg_prepared_statements), upstream must
   * hold every statement the client has first. Returns false when it must
   * wait for earlier SQL that changes prepared statements.
   */
  beforeQuery(sql: string): boolean {
    if (!PREPARED_REF.test(sql)) return true;
    if (this.batch !== undefined) {
      this.ensureAllStatements(false);
      return true;
    }
    if (this.pendingSqlChanges > 0) return false;
    // Outside a batch a failed preparation must not make upstream discard the
    // Query (until a Sync): errors stay hidden and a hidden Sync ends them. A
    // statement upstream cannot prepare is then simply absent there.
    if (this.ensureAllStatements(true)) {
      this.sendHidden(SYNC, 'sync', () => {}, true);
    }
    return true;
  }

  /** Nothing sent upstream may still create or drop prepared statements. */
  sqlChangesSettled(): boolean {
    return this.pendingSqlChanges === 0;
  }

  /**
   * A simple Query goes upstream: Postgres drops the unnamed prepared
   * statement at every one (exec_simple_query), Outpost's own hidden ones
   * too (the state check, the position query behind a write), so upstream
   * no longer holds the client's. A later Bind of it Parses it there again,
   * hidden, from the client's own Parse bytes. (Were the Query discarded
   * after an error, that Parse only replaces the statement by itself.)
   */
  queryUpstream(): void {
    this.upstreamStatements.delete('');
  }

  /**
   * The client sent a simple Query: for Postgres that ends the client's
   * unnamed statement and unnamed portal, whether or not it runs locally
   * (a later Bind or Execute of them is upstream's error to report).
   */
  clientQuery(): void {
    this.statements.delete('');
    this.portals.delete('');
  }

  /** Follow SQL PREPARE/DEALLOCATE/DISCARD ALL run by expectation `e` (Query or Execute). */
  protected followSql(e: Expectation, sql: string): void {
    if (!PREPARED_SQL.test(sql)) return;
    this.pendingSqlChanges++;
    e.complete = (tag) => this.sqlCommand(tag, sql);
    const settle = e.settle;
    e.settle = (outcome) => {
      this.pendingSqlChanges--;
      settle?.(outcome);
    };
  }

  /**
   * An Execute going upstream: a timeout SET in it is followed as through a
   * simple Query (src/router/timeouts.ts) when it is the batch's first
   * Execute and the session's transaction status is known, and it succeeds.
   * Otherwise, or when a later Execute of the batch could fail and roll the
   * implicit transaction (and the SET) back, local answers stop.
   */
  private followTimeoutSet(e: Expectation, sql: string): void {
    const { host } = this;
    const state = host.state;
    const tx = this.batchTx;
    const unfollowed = (what: string) => {
      state.localDisabled ??= `${what} changed in a way Outpost does not follow`;
    };
    if (tx.timeout) unfollowed('a timeout setting');
    tx.executes++;
    const change = host.router.timeoutChange?.(sql);
    if (change === undefined) return;
    const what = change.setting ?? 'a timeout';
    if (!tx.known || tx.executes > 1 || state.txStatus !== tx.status) {
      unfollowed(what);
      return;
    }
    const problem = followTimeout(state, change, true);
    if (problem !== undefined) {
      state.localDisabled ??= problem;
      return;
    }
    tx.timeout = true;
    const settle = e.settle;
    e.settle = (outcome) => {
      // It failed (not in an aborted transaction, where Postgres refuses any SET too).
      if (outcome !== 'ok' && tx.status !== 'E') unfollowed(what);
      settle?.(outcome);
    };
  }

  /** Makes upstream hold every statement the client has; true when anything was sent. */
  protected ensureAllStatements(silent: boolean): boolean {
    const before = this.unsettledHidden;
    for (const name of new Set([...this.statements.keys(), ...this.upstreamStatements.keys()])) {
      this.ensureStatement(name, silent);
    }
    return this.unsettledHidden > before;
  }

  /**
   * SQL `PREPARE`, `DEALLOCATE` and `DISCARD ALL` act on the same prepared
   * statements as the protocol: follow them once upstream confirms (tag).
   * https://www.postgresql.org/docs/current/sql-deallocate.html
   */
  protected sqlCommand(tag: string, sql: string): void {
    if (tag === 'DEALLOCATE ALL' || tag === 'DISCARD ALL') {
      this.statements.clear();
      this.upstreamStatements.clear();
      if (tag === 'DISCARD ALL') this.portals.clear();
    } else if (tag === 'DEALLOCATE') {
      for (const name of deallocated(sql)) {
        this.statements.delete(name);
        this.upstreamStatements.delete(name);
      }
    } else if (tag === 'PREPARE') {
      for (const name of prepared(sql)) {
        const stmt: Statement = { name, query: '', paramTypes: [], parse: Buffer.alloc(0), opaque: true };
        this.statements.set(name, stmt);
        this.upstreamStatements.set(name, stmt);
      }
    } else {
      return;
    }
    this.host.log.debug({ tag }, 'prepared statements changed by SQL');
  }

  /**
   * No batch is open and `frame` would start one that reads (a Parse of a
   * SELECT, or a Bind of one): worth holding back whole for read-your-writes.
   * Writes are never held (they need not wait for the replica).
   */
  startsReadBatch(frame: Frame): boolean {
    if (this.batch !== undefined) return false;
    const query = this.batchQuery(frame);
    return query !== undefined && READ_START.test(query);
  }

  /** `frame` starts a batch with a BEGIN/COMMIT/ROLLBACK (src/server/local-transaction.ts). */
  startsTxControl(frame: Frame): boolean {
    if (this.batch !== undefined) return false;
    try {
      const query =
        frame.type === FrontendType.Parse
          ? parseParseQuery(frame.body)
          : frame.type === FrontendType.Bind
            ? this.statements.get(bindStatementName(frame.body))?.query
            : undefined;
      return query !== undefined && localTxControl(query) !== undefined;
    } catch {
      return false;
    }
  }

  /** A simple Query was answered locally, with ReadyForQuery `status` (its portals end outside a block). */
  localQueryAnswered(status: TxStatus): void {
    this.transactionMayHaveEnded(status.charCodeAt(0), this.epoch++);
  }

  /**
   * One extended-protocol message (Parse, Bind, Describe, Execute, Close,
   * Flush, Sync). Returns 'defer' when it must wait for upstream to answer
   * everything sent so far (the caller holds it and offers it again).
   */
  handle(frame: Frame): 'done' | 'defer' | 'defer-sql' {
    if (this.batch === undefined) {
      // The session's prepared statements may be changing upstream: start
      // the batch once that is known. (Never within a batch: upstream sends
      // nothing before the batch's Sync or Flush.)
      if (this.pendingSqlChanges > 0) return 'defer-sql';
      if (this.unsettledHidden > 0 && !this.host.tracker.isEmpty()) return 'defer';
      this.batchTx = {
        known: this.host.quiet(),
        status: this.host.state.txStatus,
        executes: 0,
        timeout: false,
      };
      // Started outside a transaction with nothing owed (but Outpost's own
      // checks, which run outside one too): it ends outside one unless a
      // statement in it controls the transaction. Judged before the batch
      // opens: an upstream batch counts as owing, and one started behind a
      // check still in flight (forwarded as pipelined) would never end idle,
      // its own check then going out only after its reply, on its own, with
      // the position looked up on another connection — and the client's next
      // statement arriving behind that check again, for good.
      this.endsIdle = this.host.quietButHidden() && this.host.state.txStatus === 'I';
      this.batch = this.startBatch(frame);
      this.batchMayWrite = false;
    }
    if (this.batch.mode === 'local') {
      if (!this.host.quiet()) return 'defer';
      this.handleLocal(frame);
    } else if (this.batch.mode === 'skip') {
      if (frame.type === FrontendType.Sync) this.syncAfterError(frame);
    } else {
      this.handleUpstream(frame, this.batch.reason);
    }
    return 'done';
  }

  protected startBatch(frame: Frame): Batch {
    const { router, state } = this.host;
    if (!router.prepare) return { mode: 'upstream', reason: 'extended protocol not routed' };
    if (!this.host.quiet()) return { mode: 'upstream', reason: PIPELINED };
    // Inside a transaction only a READ ONLY one with its replica snapshot open may be local.
    // (Or one that started locally and has not gone upstream: src/server/local-transaction.ts.)
    // SHOW outpost.last_route is the session's own state, answered here in
    // any transaction as through a simple Query; whatever follows it in the
    // batch is routed as usual (the router forwards it: inside a transaction).
    if (
      state.txStatus !== 'I' &&
      !(state.txStatus === 'T' && (state.readOnlyTx?.phase === 'open' || state.localTx !== undefined)) &&
      !LAST_ROUTE_SHOW.test(this.batchQuery(frame) ?? '')
    ) {
      return { mode: 'upstream', reason: 'inside a transaction' };
    }
    return { mode: 'local' };
  }

  /** The SQL a Parse carries, or that of the statement a Bind names. */
  private batchQuery(frame: Frame): string | undefined {
    try {
      if (frame.type === FrontendType.Parse) return parseParseQuery(frame.body);
      if (frame.type === FrontendType.Bind) return this.statements.get(bindStatementName(frame.body))?.query;
    } catch {
      return undefined;
    }
    return undefined;
  }

  // ---- upstream --------------------------------------------------------------------

  protected handleUpstream(frame: Frame, reason: string): void {
    const { host } = this;
    switch (frame.type) {
      case FrontendType.Parse:
        this.parseUpstream(frame);
        return;
      case FrontendType.Bind:
        this.bindUpstream(frame, reason);
        return;
      case FrontendType.Describe: {
        let target: ReturnType<typeof parseTarget> | undefined;
        try {
          target = parseTarget(frame.body);
        } catch {
          target = undefined;
        }
        if (target?.kind === 'S') this.ensureStatement(target.name);
        else if (target) this.ensurePortal(target.name);
        host.send(frame.raw, {
          kind: target?.kind === 'S' ? 'describe-statement' : 'describe-portal',
          hidden: false,
        });
        return;
      }
      case FrontendType.Execute: {
        let portal: string | undefined;
        try {
          portal = parseExecute(frame.body).portal;
        } catch {
          portal = undefined;
        }
        if (portal !== undefined) this.ensurePortal(portal);
        const e: Expectation = { kind: 'execute', hidden: false };
        const statement = portal === undefined ? undefined : this.portals.get(portal)?.statement;
        const sql = statement?.query;
        // It may run user code that changes the session's state (SQL PREPARE'd: unknown).
        const effect = host.router.executed?.(statement && !statement.opaque ? sql : undefined, host.state);
        const readsOnly = effect === 'reads-only';
        if (!readsOnly) this.batchMayWrite = true;
        if (effect !== 'stays-in-transaction' && !readsOnly) this.endsIdle = false;
        if (sql !== undefined) {
          if (PREPARED_REF.test(sql)) this.ensureAllStatements(false);
          this.followSql(e, sql);
          if (!statement?.opaque) this.followTimeoutSet(e, sql);
          // Upstream's COMMIT/ROLLBACK drops the transaction's portals, those bound
          // here too (Postgres: 34000 for a later Execute, not their rows): forget
          // them, so that one executed later is not bound upstream afresh.
          if (portal !== undefined && this.portals.size > 1 && !statement?.opaque && endsTransaction(sql))
            this.transactionEnded(portal);
        }
        host.send(frame.raw, timeUntilSettled(host.metrics, e), readsOnly);
        return;
      }
      case FrontendType.Close:
        this.closeUpstream(frame);
        return;
      case FrontendType.Flush:
        host.send(frame.raw, undefined);
        return;
      case FrontendType.Sync: {
        const epoch = this.epoch++;
        this.batch = undefined;
        host.send(frame.raw, {
          kind: 'sync',
          hidden: false,
          ready: (status) => this.transactionMayHaveEnded(status, epoch),
        });
        if (this.endsIdle) host.afterSync?.(this.batchMayWrite);
        this.endsIdle = false;
        return;
      }
      default:
        host.send(frame.raw, undefined);
    }
  }

  protected parseUpstream(frame: Frame): void {
    const { host } = this;
    let msg: ReturnType<typeof parseParse>;
    try {
      msg = parseParse(frame.body);
    } catch {
      // Upstream rejects it; nothing changes.
      host.send(frame.raw, { kind: 'parse', hidden: false });
      return;
    }
    host.router.observe?.(msg.query, host.state);
    if (PREPARED_REF.test(msg.query)) this.ensureAllStatements(false);
    const name = msg.name;
    const prev = this.statements.get(name);
    const stmt: Statement = {
      name,
      query: msg.query,
      paramTypes: msg.paramTypes,
      parse: Buffer.from(frame.raw),
    };
    if (name !== '' && prev) {
      // Upstream must hold the same statement to reject the duplicate as Postgres would.
      this.ensureStatement(name);
      host.send(frame.raw, {
        kind: 'parse',
        hidden: false,
        settle: (outcome) => {
          // Accepted after all: SQL (DEALLOCATE, DISCARD ALL) had freed the name.
          if (outcome !== 'ok') return;
          this.statements.set(name, stmt);
          this.upstreamStatements.set(name, stmt);
        },
      });
      return;
    }
    if (name !== '') this.ensureStatement(name); // closes a stale upstream one
    this.statements.set(name, stmt);
    this.upstreamStatements.set(name, stmt);
    host.send(frame.raw, {
      kind: 'parse',
      hidden: false,
      settle: (outcome) => {
        if (outcome === 'ok') return;
        if (this.statements.get(name) === stmt) {
          // A failed Parse leaves no statement (the unnamed one was dropped
          // first); a skipped one changed nothing.
          if (outcome === 'skipped' && prev) this.statements.set(name, prev);
          else this.statements.delete(name);
        }
        if (this.upstreamStatements.get(name) === stmt) {
          if (outcome === 'error') this.upstreamStatements.delete(name);
          else this.upstreamStatements.set(name, UNKNOWN);
        }
      },
    });
  }

  protected bindUpstream(frame: Frame, reason: string): void {
    const { host } = this;
    host.state.lastRoute = `upstream: ${reason}`;
    host.metrics.statements.inc({ route: 'upstream' });
    host.metrics.forwarded.inc({ reason });
    let msg: ReturnType<typeof parseBind> | undefined;
    try {
      msg = parseBind(frame.body);
    } catch {
      msg = undefined;
    }
    if (!msg) {
      host.send(frame.raw, { kind: 'bind', hidden: false });
      return;
    }
    const name = msg.portal;
    this.ensureStatement(msg.statement);
    const prev = this.portals.get(name);
    if (name !== '' && prev) {
      // A duplicate portal name: upstream must hold it to reject the Bind.
      this.ensurePortal(name);
      host.send(frame.raw, { kind: 'bind', hidden: false });
      return;
    }
    const statement = this.statements.get(msg.statement);
    const portal: Portal = {
      name,
      statementName: msg.statement,
      statement,
      bind: undefined,
      epoch: this.epoch,
      upstream: true,
      local: undefined,
    };
    if (statement) this.portals.set(name, portal);
    host.send(frame.raw, {
      kind: 'bind',
      hidden: false,
      settle: (outcome) => {
        if (outcome === 'ok' || this.portals.get(name) !== portal) return;
        if (outcome === 'skipped' && prev) this.portals.set(name, prev);
        else this.portals.delete(name);
      },
    });
  }

  protected closeUpstream(frame: Frame): void {
    const { host } = this;
    let target: ReturnType<typeof parseTarget>;
    try {
      target = parseTarget(frame.body);
    } catch {
      host.send(frame.raw, { kind: 'close', hidden: false });
      return;
    }
    const name = target.name;
    if (target.kind === 'S') {
      const prev = this.statements.get(name);
      const prevUpstream = this.upstreamStatements.get(name);
      this.statements.delete(name);
      this.upstreamStatements.delete(name);
      host.send(frame.raw, {
        kind: 'close',
        hidden: false,
        settle: (outcome) => {
          if (outcome === 'ok') return;
          if (prev && !this.statements.has(name)) this.statements.set(name, prev);
          if (prevUpstream && !this.upstreamStatements.has(name)) this.upstreamStatements.set(name, UNKNOWN);
        },
      });
      return;
    }
    const prev = this.portals.get(name);
    this.portals.delete(name);
    host.send(frame.raw, {
      kind: 'close',
      hidden: false,
      settle: (outcome) => {
        if (outcome !== 'ok' && prev && !this.portals.has(name)) this.portals.set(name, prev);
      },
    });
  }

  // ---- keeping upstream in step ---------------------------------------------------

  protected sendHidden(
    bytes: Buffer,
    kind: Expectation['kind'],
    settle: (outcome: Outcome) => void,
    hideErrors = false,
  ): void {
    this.unsettledHidden++;
    this.host.send(bytes, {
      kind,
      hidden: true,
      hideErrors,
      settle: (outcome) => {
        this.unsettledHidden--;
        if (outcome !== 'ok') this.host.log.debug({ kind, outcome }, 'upstream preparation failed');
        settle(outcome);
      },
    });
  }

  /** Makes upstream hold, under `name`, exactly the statement the client has (or none). */
  protected ensureStatement(name: string, silent = false): void {
    const want = this.statements.get(name);
    const have = this.upstreamStatements.get(name);
    if (want === have) return;
    // Parse replaces the unnamed statement; a named one must be closed first.
    if (have !== undefined && (name !== '' || want === undefined)) {
      this.upstreamStatements.delete(name);
      const onClose = (outcome: Outcome) => {
        if (outcome !== 'ok' && !this.upstreamStatements.has(name))
          this.upstreamStatements.set(name, UNKNOWN);
      };
      this.sendHidden(serializeClose('S', name), 'close', onClose, silent);
    }
    if (want && !want.opaque) {
      this.upstreamStatements.set(name, want);
      const onParse = (outcome: Outcome) => {
        if (outcome === 'ok' || this.upstreamStatements.get(name) !== want) return;
        if (outcome === 'error') this.upstreamStatements.delete(name);
        else this.upstreamStatements.set(name, UNKNOWN);
      };
      this.sendHidden(want.parse, 'parse', onParse, silent);
    }
  }

  /** Makes upstream hold a portal bound here, at the same position. */
  protected ensurePortal(name: string): void {
    const portal = this.portals.get(name);
    if (!portal || portal.upstream || !portal.bind || !portal.statement) return;
    const onBind = (outcome: Outcome) => {
      if (outcome !== 'ok' && this.portals.get(name) === portal) portal.upstream = false;
    };
    if (this.statements.get(portal.statementName) === portal.statement) {
      this.ensureStatement(portal.statementName);
      this.sendHidden(portal.bind, 'bind', onBind);
    } else {
      // The client has since replaced or closed the statement: bind through a private one.
      let tmp: string;
      do tmp = `outpost_portal_${++this.privateNames}`;
      while (this.statements.has(tmp) || this.upstreamStatements.has(tmp));
      const bind = parseBind(portal.bind.subarray(5));
      this.sendHidden(
        serializeParse(tmp, portal.statement.query, portal.statement.paramTypes),
        'parse',
        () => {},
      );
      this.sendHidden(serializeBind({ ...bind, statement: tmp }), 'bind', onBind);
      this.sendHidden(serializeClose('S', tmp), 'close', () => {});
    }
    const local = portal.local;
    if (local && (local.cursor > 0 || local.done)) {
      // Skip the rows the client already has from the local run.
      this.sendHidden(serializeExecute(name, local.done ? 0 : local.cursor), 'execute', () => {});
    }
    portal.upstream = true;
    portal.local = undefined;
  }

  /** A COMMIT/ROLLBACK answered here ran in portal `current`: every other portal ended with the transaction. */
  protected transactionEnded(current: string): void {
    for (const name of this.portals.keys()) if (name !== current) this.portals.delete(name);
  }

  /** ReadyForQuery `status` for work of `epoch`: outside a transaction block, its portals are gone. */
  protected transactionMayHaveEnded(status: number, epoch: number): void {
    if (status !== 0x49 /* I */ || this.portals.size === 0) return;
    for (const [name, portal] of this.portals) {
      if (portal.epoch <= epoch) this.portals.delete(name);
    }
  }

  // ---- implemented by the local side (extended.ts) ----

  protected abstract handleLocal(frame: Frame): void;
  protected abstract syncAfterError(frame: Frame): void;
}
