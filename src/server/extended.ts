/**
 * The extended query protocol of one client session: prepared statements and
 * portals, answered locally when the router can, forwarded otherwise.
 * https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-EXT-QUERY
 *
 * Batches. The messages from one Sync to the next form a batch. A batch
 * starts *local* when upstream owes nothing and the session is not in a
 * transaction; local messages are answered here (ParseComplete, BindComplete,
 * ParameterDescription, RowDescription, DataRow, PortalSuspended,
 * CommandComplete, CloseComplete, ReadyForQuery). At the first message that
 * cannot be answered locally the batch turns *upstream*: that message and
 * every later one up to and including Sync go upstream, so replies can never
 * overtake each other. Nothing is ever answered with an error locally: any
 * message Postgres would reject (unknown statement, duplicate name, bad
 * parameter count or format, malformed content, ...) goes upstream, which
 * produces its own exact error and discards the rest of the batch.
 *
 * Lazy preparation upstream. A statement Parsed locally exists only here.
 * `statements` is what the client has (what Postgres would have);
 * `upstreamStatements` is what upstream holds under each name, by identity.
 * Before a message that uses statement N goes upstream, the two are made to
 * agree for N: a stale upstream N is closed, the client's N is Parsed upstream
 * from the client's own Parse bytes. Portals bound locally are likewise
 * re-bound upstream (and fast-forwarded by the rows already sent) when a later
 * message of an upstream batch needs them. These messages are *hidden*: their
 * replies are kept from the client, except an ErrorResponse, which takes the
 * place of the reply to the client's message — exactly where Postgres would
 * have reported, say, a table dropped since the statement was prepared.
 *
 * Every message sent upstream is tracked (`ReplyTracker`) with its effect on
 * the two maps, applied when sent and undone if upstream rejects or skips it.
 * A new batch waits for upstream while any hidden message of an earlier batch
 * is unsettled, so decisions are never taken on guesses about them.
 */

import { isUtf8 } from 'node:buffer';
import { errorMessage, NotLocal, PgError, SqlState } from '../errors.js';
import { Offload } from '../exec/inline.js';
import type { JobOutcome } from '../exec/pool.js';
import type { Logger } from '../log.js';
import { type Metrics, statementTimer, timeUntilSettled } from '../metrics.js';
import type {
  LocalOffload,
  LocalResult,
  PreparedLocal,
  PreparedRoute,
  QueryRouter,
} from '../router/types.js';
import type { SessionState, TxStatus } from '../session.js';
import {
  BIND_COMPLETE,
  CLOSE_COMPLETE,
  errorResponse,
  NO_DATA,
  PARSE_COMPLETE,
  PORTAL_SUSPENDED,
  type ReplyWriter,
  readyForQuery,
} from '../wire/backend.js';
import {
  type BinarySettings,
  BinaryUnsupported,
  binarySettings,
  canDecodeBinary,
  canEncodeBinary,
  decodeBinary,
  encodeBinary,
} from '../wire/binary.js';
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
  serializeQuery,
} from '../wire/frontend.js';
import { endsTransaction, type LocalTxControl, localTxControl } from './local-transaction.js';
import type { Expectation, Outcome, ReplyTracker } from './upstream-replies.js';

/** A prepared statement as the client created it. */
interface Statement {
  readonly name: string;
  readonly query: string;
  /** Declared parameter types from Parse (0 = unspecified). */
  readonly paramTypes: readonly number[];
  /** A copy of the client's Parse message, to prepare it upstream later. */
  readonly parse: Buffer;
  /** Created by SQL `PREPARE`: exists upstream only, never answered here. */
  readonly opaque?: true;
  /** BEGIN/COMMIT/ROLLBACK that a transaction started locally may answer here. */
  readonly control?: LocalTxControl;
}

/** Statement text that starts like a read (what the router may answer locally). */
const READ_START = /^[\s(]*(?:select|with|values|table)\b/i;

/** The statement name of a Bind message (after the portal name). */
function bindStatementName(body: Buffer): string {
  const portalEnd = body.indexOf(0);
  const nameEnd = portalEnd < 0 ? -1 : body.indexOf(0, portalEnd + 1);
  return nameEnd < 0 ? '' : body.toString('utf8', portalEnd + 1, nameEnd);
}

/** Stands for "upstream may or may not hold something under this name". */
const UNKNOWN: Statement = { name: '', query: '', paramTypes: [], parse: Buffer.alloc(0) };

interface LocalPortal {
  result: LocalResult;
  /** Result format per column (0 text, 1 binary), as Bind asked. */
  formats: (0 | 1)[];
  binary: boolean[];
  anyBinary: boolean;
  settings: BinarySettings | undefined;
  /** Rows already sent. */
  cursor: number;
  /** CommandComplete was sent. */
  done: boolean;
  /** The statement was stopped (CancelRequest, statement_timeout): Execute reports 57014. */
  stopped?: 'user' | 'timeout';
  /** Transaction control answered here: applied at Execute. */
  control?: LocalTxControl;
}

interface Portal {
  readonly name: string;
  readonly statementName: string;
  readonly statement: Statement | undefined;
  /** A copy of the client's Bind message. */
  readonly bind: Buffer | undefined;
  /** Z-epoch it was created in: it dies at the end of that transaction. */
  readonly epoch: number;
  /** Exists upstream. */
  upstream: boolean;
  /** The complete local result, while the portal is answered here. */
  local: LocalPortal | undefined;
}

/**
 * `skip`: a local Execute failed (a stopped statement); like Postgres,
 * every message up to the Sync is ignored.
 */
type Batch = { mode: 'local' } | { mode: 'skip' } | { mode: 'upstream'; reason: string };

export interface ExtendedHost {
  readonly state: SessionState;
  readonly router: QueryRouter;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly tracker: ReplyTracker;
  /** Local replies of the current round, written before anything it sends upstream. */
  readonly reply: ReplyWriter;
  /** Upstream owes nothing and nothing is half-relayed: a local reply now is in order. */
  quiet(): boolean;
  /** Queue bytes for upstream (in order), with what upstream will answer to them. */
  send(bytes: Buffer, expect: Expectation | undefined): void;
  /**
   * Runs a local statement in an executor process; the session holds the
   * client's next messages until `done` has run (then flushes the round).
   */
  runLocal(offload: LocalOffload, done: (outcome: JobOutcome, stoppedBy: 'user' | 'timeout') => void): void;
  /**
   * A forwarded batch's Sync was queued, and the batch certainly ends
   * outside a transaction block: Outpost's own query may follow it.
   */
  afterSync?(): void;
  /**
   * A transaction that starts locally (src/server/local-transaction.ts):
   * whether this BEGIN/COMMIT/ROLLBACK may be answered here now, and with
   * `apply`, the session's state as after it.
   */
  txControl?(control: LocalTxControl, apply: boolean): boolean;
}

export const PIPELINED = 'pipelined behind upstream work';

/** SQL that may create or drop prepared statements (checked once its CommandComplete confirms it). */
const PREPARED_SQL = /\b(prepare|deallocate|discard)\b/i;
/** SQL that may name the session's prepared statements: upstream must hold them all. */
const PREPARED_REF = /\b(execute|deallocate|pg_prepared_statements)\b/i;
const IDENT = '("(?:[^"]|"")+"|[A-Za-z_\\u0080-\\uffff][A-Za-z0-9_$\\u0080-\\uffff]*)';

/** A SQL identifier as Postgres reads it: quoted kept as is, unquoted folded to lower case. */
function identifier(token: string): string {
  return token.startsWith('"') ? token.slice(1, -1).replace(/""/g, '"') : token.toLowerCase();
}

/** Statement names after `DEALLOCATE [PREPARE]` in `sql` (`ALL` excluded). */
function deallocated(sql: string): string[] {
  const re = new RegExp(`\\bdeallocate\\s+(?:prepare\\s+)?${IDENT}`, 'gi');
  const out: string[] = [];
  for (const m of sql.matchAll(re)) {
    const token = m[1] ?? '';
    if (!/^all$/i.test(token)) out.push(identifier(token));
  }
  return out;
}

/** Statement names after `PREPARE` (not `DEALLOCATE PREPARE`, not `PREPARE TRANSACTION`). */
function prepared(sql: string): string[] {
  const re = new RegExp(`(?<!deallocate\\s+)\\bprepare\\s+(?!transaction\\b)${IDENT}`, 'gi');
  return [...sql.matchAll(re)].map((m) => identifier(m[1] ?? ''));
}

/** The count of a CommandComplete tag replaced, e.g. `SELECT 10` → `SELECT 2` for one Execute. */
function tagWithCount(tag: string, count: number): string {
  const m = /^(.*?)(\d+)$/.exec(tag);
  return m ? `${m[1]}${count}` : tag;
}

/** Bind's format codes for `n` values: none = all text, one = for all, else one each. */
function formatsFor(codes: readonly number[], n: number): (0 | 1)[] | undefined {
  if (codes.length !== 0 && codes.length !== 1 && codes.length !== n) return undefined;
  const out: (0 | 1)[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const c = codes.length === 0 ? 0 : codes.length === 1 ? codes[0] : codes[i];
    if (c !== 0 && c !== 1) return undefined;
    out[i] = c;
  }
  return out;
}

export class ExtendedProtocol {
  private readonly statements = new Map<string, Statement>();
  private readonly upstreamStatements = new Map<string, Statement>();
  private readonly portals = new Map<string, Portal>();
  private batch: Batch | undefined;
  /** Counts Sync/Query/FunctionCall: transactions (and their portals) end at one. */
  private epoch = 0;
  /** Hidden messages sent whose outcome is not known yet. */
  private unsettledHidden = 0;
  /** SQL sent upstream that may create or drop prepared statements, not yet answered. */
  private pendingSqlChanges = 0;
  private privateNames = 0;
  /** The current batch certainly ends outside a transaction block (see `ExtendedHost.afterSync`). */
  private endsIdle = false;

  constructor(private readonly host: ExtendedHost) {}

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

  /** Follow SQL PREPARE/DEALLOCATE/DISCARD ALL run by expectation `e` (Query or Execute). */
  private followSql(e: Expectation, sql: string): void {
    if (!PREPARED_SQL.test(sql)) return;
    this.pendingSqlChanges++;
    e.complete = (tag) => this.sqlCommand(tag, sql);
    const settle = e.settle;
    e.settle = (outcome) => {
      this.pendingSqlChanges--;
      settle?.(outcome);
    };
  }

  /** Makes upstream hold every statement the client has; true when anything was sent. */
  private ensureAllStatements(silent: boolean): boolean {
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
  private sqlCommand(tag: string, sql: string): void {
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
    let query: string | undefined;
    try {
      if (frame.type === FrontendType.Parse) query = parseParseQuery(frame.body);
      else if (frame.type === FrontendType.Bind)
        query = this.statements.get(bindStatementName(frame.body))?.query;
    } catch {
      return false;
    }
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
      this.batch = this.startBatch();
      // Started outside a transaction with nothing owed: it ends outside one
      // unless a statement in it controls the transaction.
      this.endsIdle = this.host.quiet() && this.host.state.txStatus === 'I';
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

  private startBatch(): Batch {
    const { router, state } = this.host;
    if (!router.prepare) return { mode: 'upstream', reason: 'extended protocol not routed' };
    if (!this.host.quiet()) return { mode: 'upstream', reason: PIPELINED };
    // Inside a transaction only a READ ONLY one with its replica snapshot open may be local.
    // (Or one that started locally and has not gone upstream: src/server/local-transaction.ts.)
    if (
      state.txStatus !== 'I' &&
      !(state.txStatus === 'T' && (state.readOnlyTx?.phase === 'open' || state.localTx !== undefined))
    ) {
      return { mode: 'upstream', reason: 'inside a transaction' };
    }
    return { mode: 'local' };
  }

  // ---- local ---------------------------------------------------------------------

  /** Turns the batch upstream at this message, which is then forwarded. */
  private toUpstream(frame: Frame, reason: string): void {
    this.batch = { mode: 'upstream', reason };
    this.host.log.debug({ reason }, 'extended-protocol batch continues upstream');
    this.handleUpstream(frame, reason);
  }

  private prepare(query: string, paramTypes: readonly number[]): PreparedRoute {
    const { router, state } = this.host;
    try {
      return router.prepare?.(query, paramTypes, state) ?? { kind: 'upstream', reason: 'not routed' };
    } catch (err) {
      this.host.log.warn({ error: err instanceof Error ? err.name : typeof err }, 'router failed');
      this.host.log.debug({ err }, 'router failure');
      return { kind: 'upstream', reason: 'router error' };
    }
  }

  private handleLocal(frame: Frame): void {
    const reply = this.host.reply;
    switch (frame.type) {
      case FrontendType.Parse: {
        let msg: ReturnType<typeof parseParse>;
        try {
          msg = parseParse(frame.body);
        } catch {
          this.toUpstream(frame, 'malformed Parse');
          return;
        }
        // An existing name is an error (42P05) that upstream reports.
        if (msg.name !== '' && this.statements.has(msg.name)) {
          this.toUpstream(frame, 'statement name in use');
          return;
        }
        const control = msg.paramTypes.length === 0 ? localTxControl(msg.query) : undefined;
        const route = control ? undefined : this.prepare(msg.query, msg.paramTypes);
        if (route && route.kind !== 'local') {
          this.toUpstream(frame, route.reason);
          return;
        }
        this.statements.set(msg.name, {
          name: msg.name,
          query: msg.query,
          paramTypes: msg.paramTypes,
          parse: Buffer.from(frame.raw),
          ...(control ? { control } : {}),
        });
        reply.raw(PARSE_COMPLETE);
        return;
      }
      case FrontendType.Bind:
        this.bindLocal(frame);
        return;
      case FrontendType.Describe: {
        let target: ReturnType<typeof parseTarget>;
        try {
          target = parseTarget(frame.body);
        } catch {
          this.toUpstream(frame, 'malformed Describe');
          return;
        }
        if (target.kind === 'S') {
          const stmt = this.statements.get(target.name);
          if (!stmt || stmt.opaque) {
            this.toUpstream(frame, stmt ? 'statement prepared by SQL PREPARE' : 'unknown statement');
            return;
          }
          if (stmt.control) {
            reply.parameterDescription([]);
            reply.raw(NO_DATA);
            return;
          }
          const route = this.prepare(stmt.query, stmt.paramTypes);
          if (route.kind !== 'local') {
            this.toUpstream(frame, route.reason);
            return;
          }
          // Before Bind the result formats are unknown: Postgres reports them all as text.
          reply.parameterDescription(route.prepared.paramTypes);
          reply.rowDescription(route.prepared.fields);
          return;
        }
        const local = this.portals.get(target.name)?.local;
        if (!local) {
          this.toUpstream(frame, 'portal not local');
          return;
        }
        if (local.control) reply.raw(NO_DATA);
        else reply.rowDescription(local.result.fields, local.formats);
        return;
      }
      case FrontendType.Execute:
        this.executeLocal(frame);
        return;
      case FrontendType.Close: {
        let target: ReturnType<typeof parseTarget>;
        try {
          target = parseTarget(frame.body);
        } catch {
          this.toUpstream(frame, 'malformed Close');
          return;
        }
        if (target.kind === 'S') {
          // Closing a statement upstream holds: close it there too, now.
          if (target.name !== '' && this.upstreamStatements.has(target.name)) {
            this.toUpstream(frame, 'statement prepared upstream');
            return;
          }
          this.statements.delete(target.name);
        } else {
          if (this.portals.get(target.name)?.upstream) {
            this.toUpstream(frame, 'portal upstream');
            return;
          }
          this.portals.delete(target.name);
        }
        // Closing a name that does not exist is not an error.
        reply.raw(CLOSE_COMPLETE);
        return;
      }
      case FrontendType.Flush:
        // Replies are written at the end of every round of client input.
        return;
      case FrontendType.Sync:
        reply.raw(readyForQuery(this.host.state.txStatus));
        this.batch = undefined;
        this.transactionMayHaveEnded(this.host.state.txStatus.charCodeAt(0), this.epoch++);
        return;
      default:
        this.toUpstream(frame, 'not an extended-protocol message');
    }
  }

  private bindLocal(frame: Frame): void {
    const { state, metrics } = this.host;
    const localTimer = statementTimer(metrics, 'local');
    let msg: ReturnType<typeof parseBind>;
    try {
      msg = parseBind(frame.body);
    } catch {
      this.toUpstream(frame, 'malformed Bind');
      return;
    }
    const stmt = this.statements.get(msg.statement);
    if (!stmt || stmt.opaque) {
      this.toUpstream(frame, stmt ? 'statement prepared by SQL PREPARE' : 'unknown statement');
      return;
    }
    if (msg.portal !== '' && this.portals.has(msg.portal)) {
      this.toUpstream(frame, 'portal name in use');
      return;
    }
    if (stmt.control) {
      this.bindTxControl(frame, msg, stmt, stmt.control);
      return;
    }
    const route = this.prepare(stmt.query, stmt.paramTypes);
    if (route.kind !== 'local') {
      this.toUpstream(frame, route.reason);
      return;
    }
    const prepared: PreparedLocal = route.prepared;
    const n = prepared.paramTypes.length;
    const paramFormats = formatsFor(msg.paramFormats, msg.params.length);
    const resultFormats = formatsFor(msg.resultFormats, prepared.fields.length);
    if (msg.params.length !== n || !paramFormats || !resultFormats) {
      this.toUpstream(frame, 'Bind does not match the statement');
      return;
    }
    const params: (string | null)[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const value = msg.params[i] ?? null;
      if (value === null) {
        params[i] = null;
        continue;
      }
      const type = prepared.paramTypes[i] ?? 0;
      if (paramFormats[i] === 1) {
        if (!canDecodeBinary(type)) {
          this.toUpstream(frame, `binary parameter of type ${type}`);
          return;
        }
        try {
          params[i] = decodeBinary(type, value);
        } catch {
          this.toUpstream(frame, `binary parameter of type ${type} not decodable`);
          return;
        }
      } else {
        // Postgres verifies the encoding; NUL is never valid in text.
        if (!isUtf8(value) || value.includes(0)) {
          this.toUpstream(frame, 'parameter not valid UTF-8 text');
          return;
        }
        params[i] = value.toString('utf8');
      }
    }
    const binary = resultFormats.map((f) => f === 1);
    const anyBinary = binary.includes(true);
    let settings: BinarySettings | undefined;
    if (anyBinary) {
      settings = binarySettings(state.params);
      for (let i = 0; i < binary.length; i++) {
        const type = prepared.fields[i]?.typeOid ?? 0;
        if (binary[i] && !canEncodeBinary(type, settings)) {
          this.toUpstream(frame, `binary result of type ${type}`);
          return;
        }
      }
    }
    // Run now: Postgres evaluates parameters and takes its snapshot at Bind,
    // and any failure must be upstream's to report.
    let result: LocalResult;
    try {
      result = prepared.run(params);
    } catch (err) {
      if (err instanceof Offload && prepared.offload) {
        this.bindOffloaded(frame, msg, stmt, prepared, params, {
          formats: resultFormats,
          binary,
          anyBinary,
          settings,
        });
        return;
      }
      const reason = err instanceof NotLocal ? err.reason : `local error: ${errorMessage(err)}`;
      if (!(err instanceof NotLocal)) {
        // The message may quote parameter values: only at debug.
        this.host.log.warn(
          { error: err instanceof Error ? err.name : typeof err },
          'local execution failed, forwarding',
        );
        this.host.log.debug({ err }, 'local execution failure');
      }
      this.toUpstream(frame, reason);
      return;
    }
    this.setLocalPortal(msg, stmt, Buffer.from(frame.raw), this.epoch, {
      result,
      formats: resultFormats,
      binary,
      anyBinary,
      settings,
    });
    state.lastRoute = 'local';
    metrics.statements.inc({ route: 'local' });
    localTimer();
  }

  /**
   * Bind of BEGIN/COMMIT/ROLLBACK a transaction started locally may answer
   * (src/server/local-transaction.ts); the state changes at Execute, as in Postgres.
   */
  private bindTxControl(
    frame: Frame,
    msg: ReturnType<typeof parseBind>,
    stmt: Statement,
    control: LocalTxControl,
  ): void {
    const resultFormats = formatsFor(msg.resultFormats, 0);
    if (msg.params.length !== 0 || !resultFormats || !this.host.txControl?.(control, false)) {
      this.toUpstream(frame, 'transaction control');
      return;
    }
    this.setLocalPortal(msg, stmt, Buffer.from(frame.raw), this.epoch, {
      result: { fields: [], rows: [], commandTag: control.tag },
      formats: [],
      binary: [],
      anyBinary: false,
      settings: undefined,
      control,
    });
  }

  /** A portal answered here from `local` (nothing sent yet), and its BindComplete. */
  private setLocalPortal(
    msg: ReturnType<typeof parseBind>,
    stmt: Statement,
    bind: Buffer,
    epoch: number,
    local: Omit<LocalPortal, 'cursor' | 'done'>,
  ): void {
    this.portals.set(msg.portal, {
      name: msg.portal,
      statementName: msg.statement,
      statement: stmt,
      bind,
      epoch,
      upstream: false,
      local: { ...local, cursor: 0, done: false },
    });
    this.host.reply.raw(BIND_COMPLETE);
  }

  /** Bind of a statement that runs in an executor: the portal exists once it has answered. */
  private bindOffloaded(
    frame: Frame,
    msg: ReturnType<typeof parseBind>,
    stmt: Statement,
    prepared: PreparedLocal,
    params: readonly (string | null)[],
    formats: Pick<LocalPortal, 'formats' | 'binary' | 'anyBinary' | 'settings'>,
  ): void {
    const { state, metrics } = this.host;
    const localTimer = statementTimer(metrics, 'local');
    let offload: LocalOffload;
    try {
      offload = (prepared.offload as (p: readonly (string | null)[]) => LocalOffload)(params);
    } catch (err) {
      this.toUpstream(frame, err instanceof NotLocal ? err.reason : `local error: ${errorMessage(err)}`);
      return;
    }
    // Frames are views into the reader's buffer, which is reused meanwhile.
    const raw = Buffer.from(frame.raw);
    const copy: Frame = { type: frame.type, raw, body: raw.subarray(raw.length - frame.body.length) };
    const epoch = this.epoch;
    this.host.runLocal(offload, (outcome, stoppedBy) => {
      if (outcome.kind === 'not-local') {
        this.toUpstream(copy, outcome.reason);
        return;
      }
      const result =
        outcome.kind === 'ok'
          ? (offload.results(outcome.rows)[0] as LocalResult)
          : { fields: prepared.fields, rows: [], commandTag: 'SELECT 0' };
      this.setLocalPortal(msg, stmt, raw, epoch, {
        result,
        ...formats,
        ...(outcome.kind === 'canceled' ? { stopped: stoppedBy } : {}),
      });
      state.lastRoute = 'local';
      metrics.statements.inc({ route: 'local' });
      localTimer();
    });
  }

  /**
   * The Sync ending a batch whose local Execute failed. Outside a
   * transaction block Postgres is back to idle; inside one (a READ ONLY
   * transaction) the error aborted it, so upstream's transaction is made to
   * fail too (a hidden statement that errors), and upstream answers the Sync.
   */
  private syncAfterError(frame: Frame): void {
    const status = this.host.state.txStatus;
    if (status === 'I') {
      this.host.reply.raw(readyForQuery(status));
      this.batch = undefined;
      this.transactionMayHaveEnded(status.charCodeAt(0), this.epoch++);
      return;
    }
    this.host.send(serializeQuery('SELECT 1/0'), { kind: 'query', hidden: true, hideErrors: true });
    this.toUpstream(frame, 'transaction aborted by a stopped local statement');
  }

  private executeLocal(frame: Frame): void {
    let msg: ReturnType<typeof parseExecute>;
    try {
      msg = parseExecute(frame.body);
    } catch {
      this.toUpstream(frame, 'malformed Execute');
      return;
    }
    const local = this.portals.get(msg.portal)?.local;
    if (!local) {
      this.toUpstream(frame, 'portal not local');
      return;
    }
    const reply = this.host.reply;
    if (local.stopped) {
      reply.raw(
        errorResponse(
          new PgError({
            severity: 'ERROR',
            code: SqlState.queryCanceled,
            message:
              local.stopped === 'user'
                ? 'canceling statement due to user request'
                : 'canceling statement due to statement timeout',
          }),
        ),
      );
      this.portals.delete(msg.portal);
      this.batch = { mode: 'skip' };
      return;
    }
    if (local.control) {
      // Run once; a second Execute of a completed utility portal completes again with no effect.
      if (!local.done) {
        if (!this.host.txControl?.(local.control, true)) {
          this.toUpstream(frame, 'transaction control');
          return;
        }
        local.done = true;
        // The batch now ends inside (or outside) a transaction Outpost answers for.
        this.endsIdle = false;
        // Postgres drops the transaction's portals at its COMMIT/ROLLBACK, not at
        // the Sync: a later Execute of one in this batch is 34000 (upstream says so).
        if (local.control.kind === 'end') this.transactionEnded(msg.portal);
      }
      reply.commandComplete(local.control.tag);
      return;
    }
    if (local.done) {
      // A completed portal returns no more rows.
      reply.commandComplete(tagWithCount(local.result.commandTag, 0));
      return;
    }
    const rows = local.result.rows;
    const start = local.cursor;
    const end = msg.maxRows > 0 ? Math.min(rows.length, start + msg.maxRows) : rows.length;
    const mark = reply.length;
    try {
      if (local.anyBinary) {
        const { binary, settings } = local;
        const fields = local.result.fields;
        const encode = (i: number, text: string) =>
          encodeBinary(fields[i]?.typeOid ?? 0, text, settings as BinarySettings);
        for (let i = start; i < end; i++) reply.dataRowMixed(rows[i] ?? [], binary, encode);
      } else {
        for (let i = start; i < end; i++) reply.dataRow(rows[i] ?? []);
      }
    } catch (err) {
      if (!(err instanceof BinaryUnsupported)) throw err;
      reply.truncate(mark);
      this.toUpstream(frame, `binary result: ${err.message}`);
      return;
    }
    // Upstream must learn that a query ran, should the transaction go there (local-transaction.ts).
    const localTx = this.host.state.localTx;
    if (localTx) localTx.reads++;
    local.cursor = end;
    // Reaching the row limit suspends the portal, even with no rows left.
    if (msg.maxRows > 0 && end - start === msg.maxRows) {
      reply.raw(PORTAL_SUSPENDED);
      return;
    }
    local.done = true;
    const count = end - start;
    reply.commandComplete(
      count === rows.length ? local.result.commandTag : tagWithCount(local.result.commandTag, count),
    );
  }

  // ---- upstream --------------------------------------------------------------------

  private handleUpstream(frame: Frame, reason: string): void {
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
        if (effect !== 'stays-in-transaction') this.endsIdle = false;
        if (sql !== undefined) {
          if (PREPARED_REF.test(sql)) this.ensureAllStatements(false);
          this.followSql(e, sql);
          // Upstream's COMMIT/ROLLBACK drops the transaction's portals, those bound
          // here too (Postgres: 34000 for a later Execute, not their rows): forget
          // them, so that one executed later is not bound upstream afresh.
          if (portal !== undefined && this.portals.size > 1 && !statement?.opaque && endsTransaction(sql))
            this.transactionEnded(portal);
        }
        host.send(frame.raw, timeUntilSettled(host.metrics, e));
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
        if (this.endsIdle) host.afterSync?.();
        this.endsIdle = false;
        return;
      }
      default:
        host.send(frame.raw, undefined);
    }
  }

  private parseUpstream(frame: Frame): void {
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

  private bindUpstream(frame: Frame, reason: string): void {
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

  private closeUpstream(frame: Frame): void {
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

  private sendHidden(
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
  private ensureStatement(name: string, silent = false): void {
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
  private ensurePortal(name: string): void {
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
  private transactionEnded(current: string): void {
    for (const name of this.portals.keys()) if (name !== current) this.portals.delete(name);
  }

  /** ReadyForQuery `status` for work of `epoch`: outside a transaction block, its portals are gone. */
  private transactionMayHaveEnded(status: number, epoch: number): void {
    if (status !== 0x49 /* I */ || this.portals.size === 0) return;
    for (const [name, portal] of this.portals) {
      if (portal.epoch <= epoch) this.portals.delete(name);
    }
  }
}
