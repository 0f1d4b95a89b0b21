import type { RunningJob, StreamSink } from '../exec/pool.js';
import type { SessionState } from '../session.js';
import type { TimeoutChange } from './timeouts.js';

/** One column of a RowDescription (https://www.postgresql.org/docs/current/protocol-message-formats.html). */
export interface FieldDescription {
  name: string;
  /** pg_class OID when the column is a direct reference to a table column, else 0. */
  tableOid: number;
  /** attnum for direct column references, else 0. */
  columnAttr: number;
  typeOid: number;
  /** pg_type.typlen. */
  typeSize: number;
  typeModifier: number;
  /** 0 text, 1 binary. */
  format: 0 | 1;
}

/** The complete answer to one statement, computed before anything is sent. */
export interface LocalResult {
  fields: FieldDescription[];
  /** Values already rendered as Postgres text; null is SQL NULL. */
  rows: (string | null)[][];
  /** CommandComplete tag, e.g. `SELECT 3`. */
  commandTag: string;
}

/**
 * The same local answer computed in an executor process (src/exec): `start`
 * runs it there, `results` turns its rendered rows into the results `run()`
 * would have returned.
 */
export interface LocalOffload {
  /**
   * Hands the job to an executor; a result too big to keep goes to `stream`
   * (without one it is `not-local`).
   */
  start(stream?: StreamSink): RunningJob;
  results(rows: (string | null)[][][]): LocalResult[];
}

export type Route =
  /**
   * Every statement of the query string can be answered locally. `run()`
   * returns one result per statement, or throws `NotLocal` (nothing has been
   * sent yet), in which case the session forwards the whole string upstream.
   */
  | {
      kind: 'local';
      /**
       * Also throws `Offload` (src/exec/inline.ts) when the statement is not
       * cheap enough for the proxy's thread: run `offload` instead.
       */
      run(): LocalResult[];
      offload?: LocalOffload;
    }
  /**
   * `readOnly`: the statement cannot change replicated data (a SELECT without
   * data-modifying parts or user functions), so forwarding it does not make
   * the session wait for the replica before its next local read.
   */
  | {
      kind: 'upstream';
      reason: string;
      readOnly?: boolean;
      /** It changes statement_timeout: the session follows it (`followTimeout`, src/router/timeouts.ts). */
      timeout?: TimeoutChange;
      /**
       * Where the session stands after upstream answers: `always` outside a
       * transaction block (a lone COMMIT/ROLLBACK), `from-idle` outside one
       * when it was sent outside one (no transaction control in it). Only
       * then may Outpost send its own query right behind it.
       */
      endsIdle?: 'always' | 'from-idle';
      /**
       * The statement could be answered locally once the session's pending
       * state check (`SessionState.stateCheck`) is answered: hold it until then.
       */
      awaitStateCheck?: true;
    }
  /** `SHOW outpost.last_route`: the session answers from its own state. */
  | { kind: 'show-last-route' };

/**
 * A statement of the extended protocol that can be answered locally for this
 * execution. https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-EXT-QUERY
 */
export interface PreparedLocal {
  /**
   * Parameter type OIDs exactly as Postgres would report them in
   * ParameterDescription: the client's declared types from Parse where given
   * (non-zero), otherwise the types Postgres would infer.
   */
  paramTypes: number[];
  /** RowDescription fields, all with format 0; the session applies Bind's result formats. */
  fields: FieldDescription[];
  /**
   * Execute with parameter values as Postgres text (null is NULL); the session
   * converts binary-format parameters to text first. Returns the complete
   * result, or throws `NotLocal` (nothing has been sent yet) to forward.
   */
  run(params: readonly (string | null)[]): LocalResult;
  /** The same in an executor process (see `Route`'s `offload`); may throw `NotLocal`. */
  offload?(params: readonly (string | null)[]): LocalOffload;
}

export type PreparedRoute = { kind: 'local'; prepared: PreparedLocal } | { kind: 'upstream'; reason: string };

export interface QueryRouter {
  /** Classify a simple-protocol query string for this session. Never throws. */
  route(sql: string, session: SessionState): Route;
  /**
   * Route one extended-protocol statement (the query of a Parse message, with
   * the parameter types Parse declared, 0 for unspecified) for one execution
   * in this session. Called again for every Bind, since the same prepared
   * statement may be local for one execution and upstream for another (the
   * session changes, the replica catches up). Never throws; sets
   * `session.lastRoute` like `route`.
   */
  prepare?(sql: string, declaredParamTypes: readonly number[], session: SessionState): PreparedRoute;
  /**
   * Upstream reported the session's transaction status (ReadyForQuery), or
   * the session ended (`I`): open or release a READ ONLY transaction's snapshot.
   */
  transactionStatus?(session: SessionState, status: 'I' | 'T' | 'E'): void;
  /** Local answers read lc_numeric/lc_monetary as C (to_number's locale patterns): the state check then requires C. */
  numericLocaleC?(): boolean;
  /** The change a statement (sent upstream) makes to a timeout Outpost follows (src/router/timeouts.ts), if any. */
  timeoutChange?(sql: string): TimeoutChange | undefined;
  /** A statement forwarded through the extended protocol (Parse): note its side effects on the session. */
  observe?(sql: string, session: SessionState): void;
  /**
   * An extended-protocol Execute (or a FunctionCall) goes upstream with this
   * statement's SQL (undefined when unknown): it may run user code. Tells
   * whether the statement may begin or end a transaction block, and
   * `reads-only` when it does neither and cannot change replicated data
   * (what `Route.readOnly` says of a simple Query).
   */
  executed?(
    sql: string | undefined,
    session: SessionState,
  ): 'stays-in-transaction' | 'may-control-transaction' | 'reads-only';
  /**
   * The client's upstream session is authenticated. The session relays
   * upstream's first ReadyForQuery only after the returned promise settles
   * (bounded), so per-role facts are warm for the first statement.
   */
  sessionStarting?(
    session: SessionState,
    startupParams: ReadonlyMap<string, string>,
  ): Promise<void> | undefined;
}
