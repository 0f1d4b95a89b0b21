/**
 * statement_timeout, idle_in_transaction_session_timeout and (Postgres 17)
 * transaction_timeout as the session has them. Postgres does not report
 * them (ParameterStatus), so Outpost follows what sets them: startup
 * parameters and `-c` options, SET, SET LOCAL, RESET, SET ... TO DEFAULT,
 * RESET ALL and DISCARD ALL, as a simple Query or as the first Execute of
 * an extended-protocol batch (src/server/extended-upstream.ts). What it
 * cannot follow exactly (a change in a multi-statement string or later in
 * a batch, set_config(), a session-level SET inside a transaction block,
 * which a rollback would undo) turns local answers off for the session
 * instead. Role, database and server defaults are not in the startup
 * packet: when one may set statement_timeout or
 * idle_in_transaction_session_timeout (src/router/access.ts), the
 * session's reset values are read on its own upstream session before its
 * next local answer (`adoptResetTimeouts`, src/server/state-check.ts), for
 * transaction_timeout too.
 *
 * statement_timeout stops local statements run in an executor, with
 * Postgres's 57014. idle_in_transaction_session_timeout is enforced by
 * upstream, which sees a READ ONLY transaction served locally as idle: the
 * session keeps upstream's clock from running out while the client is busy
 * locally (`idleInTransactionMs`, src/server/client-session.ts).
 * transaction_timeout is enforced by upstream, on transactions it sees from
 * their start: while it is in force transaction blocks (BEGIN, READ ONLY
 * ones too) and extended-protocol batches (whose implicit transaction lasts
 * until the client's Sync) go upstream whole; a lone simple Query outside a
 * block is its own transaction and stays local when it runs on the proxy's
 * thread within the timeout (`localBudgetMs`, src/server/client-session.ts),
 * else it goes upstream, which decides (`SessionState.transactionTimeoutMs`,
 * src/router/router.ts).
 */

import type { SessionState } from '../session.js';
import { type Node, nodeKind } from '../sql/parse.js';
import { parseOptions } from './settings.js';

export type TimeoutSetting =
  | 'statement_timeout'
  | 'idle_in_transaction_session_timeout'
  | 'transaction_timeout';

const ALL_TIMEOUTS: readonly TimeoutSetting[] = [
  'statement_timeout',
  'idle_in_transaction_session_timeout',
  'transaction_timeout',
];

export const TIMEOUT_SETTINGS: ReadonlySet<string> = new Set<TimeoutSetting>(ALL_TIMEOUTS);

/** What one statement does to a timeout; `unknown` when Outpost cannot tell the value. */
export interface TimeoutChange {
  /** Undefined: every timeout (RESET ALL, DISCARD ALL). */
  setting: TimeoutSetting | undefined;
  scope: 'session' | 'local';
  ms: number | 'default' | 'unknown';
}

/** A followed value, or the session's reset value (RESET, SET ... TO DEFAULT, never set). */
type Value = number | 'default';

interface Followed {
  /**
   * The reset value: from the startup packet, or else 0 until the session's
   * own value is read upstream (`adoptResetTimeouts`) when a role, database
   * or server default may set one.
   */
  startup: number;
  session: Value;
  /** SET LOCAL in the current transaction block. */
  local: Value | undefined;
  /** A session-level SET inside the current transaction block: its fate is known only upstream. */
  setInBlock: boolean;
}

type Timeouts = Record<TimeoutSetting, Followed> & {
  /** The reset values were read upstream (`adoptResetTimeouts`). */
  resetsRead: boolean;
};

const state = new WeakMap<SessionState, Timeouts>();

function fresh(): Followed {
  return { startup: 0, session: 'default', local: undefined, setInBlock: false };
}

function current(f: Followed): number {
  const v = f.local ?? f.session;
  return v === 'default' ? f.startup : v;
}

function timeoutsOf(session: SessionState): Timeouts {
  let t = state.get(session);
  if (!t) {
    t = {
      statement_timeout: fresh(),
      idle_in_transaction_session_timeout: fresh(),
      transaction_timeout: fresh(),
      resetsRead: false,
    };
    state.set(session, t);
  }
  return t;
}

function publish(session: SessionState, t: Timeouts): void {
  session.statementTimeoutMs = current(t.statement_timeout);
  session.transactionTimeoutMs = current(t.transaction_timeout);
}

/**
 * How long a local statement may run on the proxy's thread (0: no limit):
 * the smaller of statement_timeout and, outside a transaction block (where
 * the statement is its own transaction), transaction_timeout. One that took
 * as long is forwarded, for upstream to decide.
 */
export function localBudgetMs(session: SessionState): number {
  const statement = session.statementTimeoutMs ?? 0;
  const transaction = session.transactionTimeoutMs ?? 0;
  if (transaction === 0) return statement;
  return statement === 0 ? transaction : Math.min(statement, transaction);
}

/** The session's idle_in_transaction_session_timeout in ms (0: none). */
export function idleInTransactionMs(session: SessionState): number {
  const f = state.get(session)?.idle_in_transaction_session_timeout;
  return f ? current(f) : 0;
}

/**
 * The session's reset values as upstream reports them (pg_settings.reset_val
 * read on the client's own session): what role, database and server
 * defaults made of them, under any startup value. SET, SET LOCAL and RESET
 * followed meanwhile keep their meaning (a RESET now means these values).
 */
export function adoptResetTimeouts(session: SessionState, values: Record<TimeoutSetting, number>): void {
  const t = timeoutsOf(session);
  t.statement_timeout.startup = values.statement_timeout;
  t.idle_in_transaction_session_timeout.startup = values.idle_in_transaction_session_timeout;
  t.transaction_timeout.startup = values.transaction_timeout;
  t.resetsRead = true;
  publish(session, t);
}

/**
 * A role, database or server default may set a timeout for this session
 * (src/router/access.ts): unless they were read already, its next state
 * check reads the reset values too, and local answers wait for it.
 */
export function needResetTimeouts(session: SessionState): void {
  if (timeoutsOf(session).resetsRead) return;
  const check = session.stateCheck;
  if (!check) {
    session.stateCheck = {
      reason: 'role/database/server default timeouts',
      inFlight: false,
      dirty: false,
      resets: true,
    };
  } else if (!check.resets) {
    check.resets = true;
    // The check in flight reads no reset values: another one follows it.
    if (check.inFlight) check.dirty = true;
  }
}

const UNITS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 };
const INT_MAX = 2_147_483_647;

/**
 * A timeout value in ms, or undefined for anything Outpost does not read
 * exactly like Postgres (hex, octal or exponent forms, a value that needs
 * rounding, out of range).
 */
export function parseTimeout(value: string | number): number | undefined {
  const m = /^\s*(0|[1-9]\d*)(\.\d+)?\s*(us|ms|s|min|h|d)?\s*$/.exec(String(value));
  if (!m) return undefined;
  const ms = Number(`${m[1]}${m[2] ?? ''}`) * (UNITS[m[3] ?? 'ms'] as number);
  if (!Number.isInteger(ms) || ms > INT_MAX) return undefined;
  return ms;
}

/** What `stmt` does to the followed timeouts, if anything. */
export function timeoutEffect(stmt: Node): TimeoutChange | undefined {
  const [kind, body] = nodeKind(stmt);
  if (kind === 'DiscardStmt') {
    return (body as { target?: string }).target === 'DISCARD_ALL'
      ? { setting: undefined, scope: 'session', ms: 'default' }
      : undefined;
  }
  if (kind !== 'VariableSetStmt') return undefined;
  const s = body as { kind?: string; name?: string; args?: Node[]; is_local?: boolean };
  const scope = s.is_local ? 'local' : 'session';
  if (s.kind === 'VAR_RESET_ALL') return { setting: undefined, scope: 'session', ms: 'default' };
  const name = (s.name ?? '').toLowerCase();
  if (!TIMEOUT_SETTINGS.has(name)) return undefined;
  const setting = name as TimeoutSetting;
  if (s.kind === 'VAR_RESET' || s.kind === 'VAR_SET_DEFAULT') return { setting, scope, ms: 'default' };
  if (s.kind !== 'VAR_SET_VALUE' || s.args?.length !== 1) return { setting, scope, ms: 'unknown' };
  const [argKind, arg] = nodeKind(s.args[0] as Node);
  if (argKind !== 'A_Const') return { setting, scope, ms: 'unknown' };
  const c = arg as { ival?: { ival?: number }; sval?: { sval?: string }; fval?: { fval?: string } };
  const raw = c.ival ? (c.ival.ival ?? 0) : (c.sval?.sval ?? c.fval?.fval);
  const ms = raw === undefined ? undefined : parseTimeout(raw);
  return { setting, scope, ms: ms ?? 'unknown' };
}

/**
 * The followed timeouts from the startup packet (a parameter or `-c` in
 * options): absent ones are 0, 'unknown' when one is unreadable.
 */
export function startupTimeoutValues(
  params: ReadonlyMap<string, string>,
): Partial<Record<TimeoutSetting, number>> | 'unknown' {
  const found: Partial<Record<TimeoutSetting, number>> = {};
  const take = (name: string, value: string): boolean => {
    const n = name.toLowerCase();
    if (!TIMEOUT_SETTINGS.has(n)) return true;
    const ms = parseTimeout(value);
    if (ms === undefined) return false;
    found[n as TimeoutSetting] = ms;
    return true;
  };
  for (const [name, value] of params) {
    if (name === 'options') {
      for (const [opt, v] of parseOptions(value)) if (!take(opt, v)) return 'unknown';
    } else if (!take(name, value)) return 'unknown';
  }
  return found;
}

/** The session starts with these timeouts (absent: 0, none). */
export function startupTimeouts(
  session: SessionState,
  values: Partial<Record<TimeoutSetting, number>>,
): void {
  const t = timeoutsOf(session);
  for (const setting of TIMEOUT_SETTINGS as ReadonlySet<TimeoutSetting>) {
    const f = t[setting];
    f.startup = values[setting] ?? 0;
    f.session = 'default';
  }
  publish(session, t);
}

/**
 * A single-statement simple Query that changes a followed timeout is being
 * sent upstream. `idle`: nothing else is in flight, so the session's
 * transaction status is the one the statement runs in. Returns why local
 * answers must stop, if the change cannot be followed.
 */
export function followTimeout(
  session: SessionState,
  change: TimeoutChange,
  idle: boolean,
): string | undefined {
  const what = change.setting ?? 'a timeout';
  if (!idle || change.ms === 'unknown') return `${what} changed in a way Outpost does not follow`;
  const t = timeoutsOf(session);
  // In a failed transaction block the SET fails too (25P02).
  if (session.txStatus === 'E') return undefined;
  const settings = change.setting ? [change.setting] : ALL_TIMEOUTS;
  for (const setting of settings) {
    const f = t[setting];
    const ms = change.ms;
    if (change.scope === 'local') {
      // Outside a transaction block SET LOCAL only warns.
      if (session.txStatus === 'T') f.local = ms;
    } else {
      f.session = ms;
      // Inside a block it replaces any SET LOCAL value, and lasts only if the block commits.
      if (session.txStatus === 'T') {
        f.setInBlock = true;
        f.local = undefined;
      }
    }
  }
  publish(session, t);
  return undefined;
}

/** ReadyForQuery: a transaction block ended (`I`), so SET LOCAL values are gone. Returns a reason to stop local answers. */
export function timeoutsAtReady(session: SessionState, status: 'I' | 'T' | 'E'): string | undefined {
  if (status !== 'I') return undefined;
  const t = state.get(session);
  if (!t) return undefined;
  let uncertain: string | undefined;
  for (const setting of TIMEOUT_SETTINGS as ReadonlySet<TimeoutSetting>) {
    const f = t[setting];
    f.local = undefined;
    if (f.setInBlock) uncertain ??= `${setting} set inside a transaction block (a rollback undoes it)`;
    f.setInBlock = false;
  }
  publish(session, t);
  return uncertain;
}
