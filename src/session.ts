/**
 * Per-client session state, owned by the server's session state machine and
 * read by the router. Kept in one plain object so the router never needs to
 * know about sockets.
 */
export type TxStatus = 'I' | 'T' | 'E';

export interface SessionState {
  /** Role and database the client authenticated as (from its StartupMessage). */
  readonly user: string;
  readonly database: string;
  /**
   * Run-time parameters as last reported by upstream in ParameterStatus
   * (server_version, client_encoding, DateStyle, TimeZone, IntervalStyle,
   * standard_conforming_strings, integer_datetimes, ...), updated as they change.
   * https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-ASYNC
   */
  readonly params: Map<string, string>;
  /** Transaction status from the latest ReadyForQuery. */
  txStatus: TxStatus;
  /**
   * Set when the session did something the local path cannot follow (a SET of
   * a setting Postgres does not report, a temporary table that may shadow a
   * replicated one, ...). Every later statement goes upstream with this reason.
   */
  localDisabled: string | undefined;
  /**
   * Set while local answers would not yet reflect this session's own last
   * write (read-your-writes); cleared when the replica catches up.
   */
  freshnessBlock?: string | undefined;
  /**
   * An explicit transaction the local path may serve (`BEGIN READ ONLY`, or
   * `BEGIN` then `SET TRANSACTION READ ONLY`): `await-begin`/`await-ro` until
   * upstream's ReadyForQuery confirms the transaction, `fresh` for a plain
   * BEGIN with nothing run yet, `open` while its SQLite read snapshot
   * (`snapshot`, owned by the router) serves its reads; `expired` once that
   * snapshot is older than `--max-lag` (the rest of the transaction goes upstream).
   */
  readOnlyTx?:
    | { phase: 'await-begin' | 'await-ro' | 'fresh' | 'open' | 'expired'; snapshot?: unknown }
    | undefined;
  /**
   * The session ran something upstream that may have run user code (a
   * function, a trigger, DO, CALL, ...), which can change settings, the
   * role or temporary tables without Outpost seeing it. Until a state query
   * on the session's own upstream connection answers (`inFlight` while it
   * is on its way; `dirty` when more such statements were sent after it),
   * nothing is answered locally. `resets`: the check also reads the
   * session's reset values of the timeouts it follows (a role, database or
   * server default may set them; src/router/timeouts.ts). `sent`: checks
   * sent so far; only the latest one's answer may end the wait (an earlier
   * one read the state before later user code ran).
   */
  stateCheck?:
    | { reason: string; inFlight: boolean; dirty: boolean; resets?: true; sent?: number }
    | undefined;
  /**
   * A READ COMMITTED transaction the client began that upstream has not
   * heard of yet (src/server/local-transaction.ts): `txStatus` is 'T' while
   * upstream's connection is idle. `reads`: statements answered locally in it.
   */
  localTx?: { reads: number } | undefined;
  /** `local` or `upstream: <reason>`, answered by `SHOW outpost.last_route`. */
  lastRoute: string;
  /**
   * The session's statement_timeout in ms (0 = none) as Outpost follows it
   * (startup options, SET, SET LOCAL; src/router/timeouts.ts), applied to
   * local statements run in an executor.
   */
  statementTimeoutMs?: number;
  /**
   * The session's transaction_timeout in ms (Postgres 17; 0 = none) as
   * Outpost follows it (role, database and server defaults included). While
   * it is in force, upstream's clock must see every transaction from its
   * start: transaction blocks and extended-protocol batches go upstream; a
   * lone simple Query outside a block is local only when it runs on the
   * proxy's thread within the timeout (src/router/timeouts.ts).
   */
  transactionTimeoutMs?: number;
  /**
   * The latest session state check found a setting where local answers are
   * not exact (src/server/state-check.ts): reads go upstream until a later
   * check finds it back.
   */
  settingDrift?: string | undefined;
}

export function newSessionState(user: string, database: string): SessionState {
  return { user, database, params: new Map(), txStatus: 'I', localDisabled: undefined, lastRoute: 'none' };
}
