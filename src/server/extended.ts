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
 *
 * Files: this one answers batches locally; extended-upstream.ts holds the
 * state, the entry points and the upstream side; extended-defs.ts the records.
 */

import { isUtf8 } from 'node:buffer';
import { errorMessage, NotLocal, PgError, SqlState } from '../errors.js';
import { Offload } from '../exec/inline.js';
import { statementTimer } from '../metrics.js';
import { answersLastRoute } from '../router/router.js';
import type { LocalOffload, LocalResult, PreparedLocal, PreparedRoute } from '../router/types.js';
import {
  BIND_COMPLETE,
  CLOSE_COMPLETE,
  errorResponse,
  NO_DATA,
  PARSE_COMPLETE,
  PORTAL_SUSPENDED,
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
  parseTarget,
  serializeQuery,
} from '../wire/frontend.js';
import { formatsFor, type LocalPortal, type Statement, tagWithCount } from './extended-defs.js';
import { ExtendedUpstream } from './extended-upstream.js';
import { runInline } from './local-exec.js';
import { type LocalTxControl, localTxControl } from './local-transaction.js';

export { type ExtendedHost, PIPELINED } from './extended-defs.js';

export class ExtendedProtocol extends ExtendedUpstream {
  // ---- local ---------------------------------------------------------------------

  /** Turns the batch upstream at this message, which is then forwarded. */
  protected toUpstream(frame: Frame, reason: string): void {
    this.batch = { mode: 'upstream', reason };
    this.host.log.debug({ reason }, 'extended-protocol batch continues upstream');
    this.handleUpstream(frame, reason);
  }

  protected prepare(query: string, paramTypes: readonly number[]): PreparedRoute {
    const { router, state } = this.host;
    try {
      return router.prepare?.(query, paramTypes, state) ?? { kind: 'upstream', reason: 'not routed' };
    } catch (err) {
      this.host.log.warn({ error: err instanceof Error ? err.name : typeof err }, 'router failed');
      this.host.log.debug({ err }, 'router failure');
      return { kind: 'upstream', reason: 'router error' };
    }
  }

  protected override handleLocal(frame: Frame): void {
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

  protected bindLocal(frame: Frame): void {
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
      result = runInline(this.host.state.statementTimeoutMs, () => prepared.run(params));
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
    // As through a simple Query, SHOW outpost.last_route keeps reporting the statement before it.
    if (!answersLastRoute(prepared)) state.lastRoute = 'local';
    metrics.statements.inc({ route: 'local' });
    localTimer();
  }

  /**
   * Bind of BEGIN/COMMIT/ROLLBACK a transaction started locally may answer
   * (src/server/local-transaction.ts); the state changes at Execute, as in Postgres.
   */
  protected bindTxControl(
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
  protected setLocalPortal(
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
      // Every field spelled out: one object shape for every portal (no spread per Bind).
      local: {
        result: local.result,
        formats: local.formats,
        binary: local.binary,
        anyBinary: local.anyBinary,
        settings: local.settings,
        cursor: 0,
        done: false,
        stopped: local.stopped,
        control: local.control,
      },
    });
    this.host.reply.raw(BIND_COMPLETE);
  }

  /** Bind of a statement that runs in an executor: the portal exists once it has answered. */
  protected bindOffloaded(
    frame: Frame,
    msg: ReturnType<typeof parseBind>,
    stmt: Statement,
    prepared: PreparedLocal,
    params: readonly (string | null)[],
    formats: Pick<LocalPortal, 'formats' | 'binary' | 'anyBinary' | 'settings'>,
  ): void {
    const { state, metrics } = this.host;
    metrics.offloaded.inc();
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
  protected override syncAfterError(frame: Frame): void {
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

  protected executeLocal(frame: Frame): void {
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
}
