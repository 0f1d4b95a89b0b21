/**
 * One error type for everything Outpost reports to a client or an operator.
 * Fields mirror the ErrorResponse fields of the Postgres protocol
 * (https://www.postgresql.org/docs/current/protocol-error-fields.html), so an
 * error raised locally is rendered exactly like one Postgres would send.
 */
export type Severity = 'ERROR' | 'FATAL' | 'PANIC' | 'WARNING' | 'NOTICE' | 'DEBUG' | 'INFO' | 'LOG';

export interface PgErrorFields {
  severity?: Severity;
  /** SQLSTATE, five characters: https://www.postgresql.org/docs/current/errcodes-appendix.html */
  code: string;
  message: string;
  detail?: string;
  hint?: string;
  position?: number;
  where?: string;
  schema?: string;
  table?: string;
  column?: string;
  dataType?: string;
  constraint?: string;
}

export class PgError extends Error {
  readonly severity: Severity;
  readonly code: string;
  readonly detail: string | undefined;
  readonly hint: string | undefined;
  readonly position: number | undefined;
  readonly fields: PgErrorFields;

  constructor(fields: PgErrorFields) {
    super(fields.message);
    this.name = 'PgError';
    this.severity = fields.severity ?? 'ERROR';
    this.code = fields.code;
    this.detail = fields.detail;
    this.hint = fields.hint;
    this.position = fields.position;
    this.fields = { ...fields, severity: this.severity };
  }
}

/** Common SQLSTATEs used by Outpost itself. */
export const SqlState = {
  protocolViolation: '08P01',
  connectionFailure: '08006',
  connectionException: '08000',
  sqlclientUnableToEstablishConnection: '08001',
  tooManyConnections: '53300',
  featureNotSupported: '0A000',
  invalidParameterValue: '22023',
  divisionByZero: '22012',
  numericValueOutOfRange: '22003',
  invalidTextRepresentation: '22P02',
  syntaxError: '42601',
  undefinedObject: '42704',
  insufficientPrivilege: '42501',
  queryCanceled: '57014',
  adminShutdown: '57P01',
  internalError: 'XX000',
  objectNotInPrerequisiteState: '55000',
} as const;

/**
 * Thrown anywhere on the local read path when a statement cannot be answered
 * exactly as Postgres would. The session then forwards the statement upstream
 * and reports `reason` through `SHOW outpost.last_route`.
 */
export class NotLocal extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'NotLocal';
  }
}

/**
 * An input function's error for a constant's text, worded exactly as this
 * upstream's Postgres words it (SQLSTATE, message, detail, hint). Postgres
 * raises it while analysing the statement, before reading any row, so the
 * compiler may answer with it (src/sql/compile/expressions.ts); everywhere
 * else it is a NotLocal like any other and the statement is forwarded.
 */
export class InputError extends NotLocal {
  constructor(
    reason: string,
    readonly error: Omit<PgErrorFields, 'position' | 'severity'>,
  ) {
    super(reason);
    this.name = 'InputError';
  }
}

/**
 * An operation's error worded exactly as Postgres's function raises it
 * (SQLSTATE and message; an executor's error has no position): integer
 * overflow, division by zero, an out-of-range cast. Thrown from the SQLite
 * functions; anywhere it is a NotLocal like any other, except for the
 * constant expressions Postgres folds while planning (src/router/plan-errors.ts).
 */
export class ExecError extends NotLocal {
  constructor(readonly error: { code: string; message: string }) {
    super(error.message);
    this.name = 'ExecError';
  }
}

/**
 * Thrown by a local route's `run()`: the statement fails here with Postgres's
 * own error (an InputError with its position), as it would upstream.
 */
export class LocalError extends Error {
  constructor(readonly error: PgError) {
    super(error.message);
    this.name = 'LocalError';
  }
}

/**
 * A problem at startup the operator must fix (bad flag, unreachable upstream,
 * wal_level). The CLI prints only the message, one line, and exits 1.
 */
export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}

/** Message of any thrown value, without a stack trace. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
