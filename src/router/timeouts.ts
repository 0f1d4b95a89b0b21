/**
 * statement_timeout as the session has it, so local statements run in an
 * executor stop when Postgres's would, with its 57014. Postgres does not
 * report the setting (ParameterStatus), so Outpost follows what sets it:
 * startup parameters and `-c` options, SET, SET LOCAL, RESET, SET ... TO
 * DEFAULT, RESET ALL and DISCARD ALL. What it cannot follow exactly (a
 * change in a multi-statement string or through the extended protocol,
 * set_config(), a session-level SET inside a transaction block, which a
 * rollback would undo, a role or database default) turns local answers off
 * for the session instead (see `settingProblem`).
 */

import type { SessionState } from '../session.js';
import { type Node, nodeKind } from '../sql/parse.js';
import { parseOptions } from './settings.js';

/** What one statement does to statement_timeout; `unknown` when Outpost cannot tell the value. */
export type TimeoutChange =
  | { scope: 'session' | 'local'; ms: number | 'default' }
  | { scope: 'session' | 'local'; ms: 'unknown' };

interface Timeouts {
  /** From the startup packet (else 0: role defaults turn local answers off). */
  startup: number;
  session: number;
  /** SET LOCAL in the current transaction block. */
  local: number | undefined;
  /** A session-level SET inside the current transaction block: its fate is known only upstream. */
  setInBlock: boolean;
}

const state = new WeakMap<SessionState, Timeouts>();

function timeoutsOf(session: SessionState): Timeouts {
  let t = state.get(session);
  if (!t) {
    t = { startup: 0, session: 0, local: undefined, setInBlock: false };
    state.set(session, t);
  }
  return t;
}

function publish(session: SessionState, t: Timeouts): void {
  session.statementTimeoutMs = t.local ?? t.session;
}

const UNITS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 };
const INT_MAX = 2_147_483_647;

/**
 * A statement_timeout value in ms, or undefined for anything Outpost does
 * not read exactly like Postgres (hex, octal or exponent forms, a value
 * that needs rounding, out of range).
 */
export function parseTimeout(value: string | number): number | undefined {
  const m = /^\s*(0|[1-9]\d*)(\.\d+)?\s*(us|ms|s|min|h|d)?\s*$/.exec(String(value));
  if (!m) return undefined;
  const ms = Number(`${m[1]}${m[2] ?? ''}`) * (UNITS[m[3] ?? 'ms'] as number);
  if (!Number.isInteger(ms) || ms > INT_MAX) return undefined;
  return ms;
}

/** What `stmt` does to statement_timeout, if anything. */
export function timeoutEffect(stmt: Node): TimeoutChange | undefined {
  const [kind, body] = nodeKind(stmt);
  if (kind === 'DiscardStmt') {
    return (body as { target?: string }).target === 'DISCARD_ALL'
      ? { scope: 'session', ms: 'default' }
      : undefined;
  }
  if (kind !== 'VariableSetStmt') return undefined;
  const s = body as { kind?: string; name?: string; args?: Node[]; is_local?: boolean };
  const scope = s.is_local ? 'local' : 'session';
  if (s.kind === 'VAR_RESET_ALL') return { scope: 'session', ms: 'default' };
  if ((s.name ?? '').toLowerCase() !== 'statement_timeout') return undefined;
  if (s.kind === 'VAR_RESET' || s.kind === 'VAR_SET_DEFAULT') return { scope, ms: 'default' };
  if (s.kind !== 'VAR_SET_VALUE' || s.args?.length !== 1) return { scope, ms: 'unknown' };
  const [argKind, arg] = nodeKind(s.args[0] as Node);
  if (argKind !== 'A_Const') return { scope, ms: 'unknown' };
  const c = arg as { ival?: { ival?: number }; sval?: { sval?: string }; fval?: { fval?: string } };
  const raw = c.ival ? (c.ival.ival ?? 0) : (c.sval?.sval ?? c.fval?.fval);
  const ms = raw === undefined ? undefined : parseTimeout(raw);
  return { scope, ms: ms ?? 'unknown' };
}

/**
 * statement_timeout from the startup packet (a parameter or `-c` in
 * options): undefined when absent, 'unknown' when unreadable.
 */
export function startupTimeoutValue(params: ReadonlyMap<string, string>): number | 'unknown' | undefined {
  let found: number | 'unknown' | undefined;
  for (const [name, value] of params) {
    if (name.toLowerCase() === 'statement_timeout') found = parseTimeout(value) ?? 'unknown';
    if (name === 'options') {
      for (const [opt, v] of parseOptions(value)) {
        if (opt.toLowerCase() === 'statement_timeout') found = parseTimeout(v) ?? 'unknown';
      }
    }
  }
  return found;
}

/** The session starts with statement_timeout `startup` ms (0: none). */
export function startupTimeout(session: SessionState, startup: number | undefined): void {
  const t = timeoutsOf(session);
  t.startup = startup ?? 0;
  t.session = t.startup;
  publish(session, t);
}

/**
 * A single-statement simple Query that changes statement_timeout is being
 * sent upstream. `idle`: nothing else is in flight, so the session's
 * transaction status is the one the statement runs in. Returns why local
 * answers must stop, if the change cannot be followed.
 */
export function followTimeout(
  session: SessionState,
  change: TimeoutChange,
  idle: boolean,
): string | undefined {
  if (!idle || change.ms === 'unknown') return 'statement_timeout changed in a way Outpost does not follow';
  const t = timeoutsOf(session);
  // In a failed transaction block the SET fails too (25P02).
  if (session.txStatus === 'E') return undefined;
  const ms = change.ms === 'default' ? t.startup : change.ms;
  if (change.scope === 'local') {
    // Outside a transaction block SET LOCAL only warns.
    if (session.txStatus === 'T') t.local = ms;
  } else {
    t.session = ms;
    // Inside a block it replaces any SET LOCAL value, and lasts only if the block commits.
    if (session.txStatus === 'T') {
      t.setInBlock = true;
      t.local = undefined;
    }
  }
  publish(session, t);
  return undefined;
}

/** ReadyForQuery: a transaction block ended (`I`), so SET LOCAL values are gone. Returns a reason to stop local answers. */
export function timeoutsAtReady(session: SessionState, status: 'I' | 'T' | 'E'): string | undefined {
  if (status !== 'I') return undefined;
  const t = state.get(session);
  if (!t || (t.local === undefined && !t.setInBlock)) return undefined;
  t.local = undefined;
  const uncertain = t.setInBlock;
  t.setInBlock = false;
  publish(session, t);
  return uncertain ? 'statement_timeout set inside a transaction block (a rollback undoes it)' : undefined;
}
