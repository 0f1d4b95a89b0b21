/**
 * The fixed set of classes `outpost_forwarded_total{reason}` is labelled
 * with. A forward reason is free text (it can quote the client's SQL, a
 * setting's value, a table name, a lag in seconds), which as a Prometheus
 * label would make a new series for every distinct statement; the full
 * reason stays in `SHOW outpost.last_route` and the debug log.
 */

/** Every class, in the order the README documents them. */
export const FORWARD_REASON_CLASSES = [
  /** INSERT, UPDATE, DELETE, MERGE. */
  'write',
  /** Transaction control, or a statement inside a transaction that is not a local READ ONLY one. */
  'transaction',
  /** A statement other than a plain SELECT: SET, SHOW, COPY, EXPLAIN, cursors, PREPARE, CALL, DO, DDL. */
  'statement',
  /**
   * Session state local answers do not follow (settings, startup options,
   * temporary objects, search_path), or being verified upstream after user code ran.
   */
  'session',
  /** A table or database that is not in the replica (or a system catalog). */
  'not-replicated',
  /** The role's privileges are not yet known or are being looked up again. */
  'privileges',
  /** The replica is not fresh enough: snapshot not complete, lag over --max-lag, read-your-writes. */
  'freshness',
  /** Sent behind work still owed by upstream, or inside an extended-protocol batch already upstream. */
  'pipelined',
  /** Messages Outpost relays without routing: FunctionCall, COPY data, unknown message types. */
  'protocol',
  /** Text the parser rejects (upstream reports the error) or reads differently from Postgres. */
  'parse',
  /** Routing or local execution failed; upstream answers instead. */
  'local-error',
  /** The SQL uses something local answers do not reproduce exactly (a type, function, operator, collation, ...). */
  'unsupported',
] as const;

export type ForwardReasonClass = (typeof FORWARD_REASON_CLASSES)[number];

/** First match wins; anything unmatched is `unsupported` (the compiler's reasons). */
const RULES: readonly [ForwardReasonClass, RegExp][] = [
  ['write', /^write \(/],
  ['local-error', /^(local error|router error|sqlite|sqlite prepare|internal)(:|$)/],
  // Local execution in an executor process (src/exec) could not answer: lost, or a result over the cap.
  [
    'local-error',
    /^(local executor exited|executors unavailable|executors stopped|result larger than \d+ MiB)$/,
  ],
  [
    'parse',
    /^(parse error:|empty query$|identifier longer than 63 bytes$|non-decimal or underscored number$)/,
  ],
  [
    'transaction',
    /^(transaction control$|inside a transaction$|READ ONLY transaction |session changed transaction characteristics$)/,
  ],
  ['pipelined', /^(pipelined behind upstream work$|simple Query inside an extended-protocol batch$)/],
  ['protocol', /^(function call$|message type "|extended protocol not routed$|not routed$)/],
  ['freshness', /^(replica snapshot not complete$|replica lag |replication |read-your-writes: )/],
  ['privileges', /^privileges of role /],
  [
    'not-replicated',
    /^(table .* not in replica$|database .* not replicated$|relation .* may be a system catalog$)/,
  ],
  [
    'session',
    /^(session state being verified upstream |search_path |setting |session changed |startup |TimeZone |DateStyle|IntervalStyle|standard_conforming_strings |set_config\(\) called$|schema created|schema ".*" may shadow|temporary .* may shadow|CALL may change|DO block may change|(statement_timeout|idle_in_transaction_session_timeout|transaction_timeout|a timeout setting) (changed|set inside|in force)|timestamptz constant without an offset under TimeZone )/,
  ],
  [
    'statement',
    /^(SET|SHOW|EXPLAIN|COPY|cursor|PREPARE|EXECUTE|CALL|DO)$|^(statement |several statements in a prepared statement$|SHOW outpost\.last_route with )/,
  ],
];

const CLASSES = new Set<string>(FORWARD_REASON_CLASSES);

/** The class of a forward reason; a class name maps to itself. */
export function forwardReasonClass(reason: string): ForwardReasonClass {
  if (CLASSES.has(reason)) return reason as ForwardReasonClass;
  for (const [cls, re] of RULES) if (re.test(reason)) return cls;
  return 'unsupported';
}

/** A SQLSTATE's class (its first two characters) when well formed, else `XX` (internal error). */
export function sqlStateClass(code: string): string {
  return /^[0-9A-Z]{2}/.test(code) ? code.slice(0, 2) : 'XX';
}
