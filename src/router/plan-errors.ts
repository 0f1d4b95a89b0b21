/**
 * A statement whose answer is an error Postgres raises while planning:
 * eval_const_expressions folds every immutable operation over constants
 * (docs: "Expression Evaluation Rules"), so `SELECT 1/0 FROM t` fails on an
 * empty table too, before any row is read and with no position. The
 * compiler lists those folded expressions (`CompiledSelect.planChecks`); each
 * is evaluated here on its own. The error is the answer only when every
 * failing one fails with the same ExecError (then the folding order does not
 * matter) and at least one of them Postgres surely folds; any other failure
 * (a NotLocal) leaves the statement to its normal run, which forwards it.
 * Parse analysis comes first: a constant's input error wins (classify.ts).
 */
import type Database from 'better-sqlite3';
import { ExecError, PgError } from '../errors.js';
import type { SessionState } from '../session.js';
import { bindValues, type Plan } from './plan.js';

export interface PlanCheck {
  stmt: Database.Statement;
  certain: boolean;
}

/** Postgres's error for planning the statement, or undefined (no error, or not certain which). */
export function planError(plan: Plan, session: SessionState): PgError | undefined {
  const checks = plan.planChecks;
  if (checks === undefined || checks.length === 0) return undefined;
  let values: Record<string, unknown>;
  try {
    values = bindValues(plan, [], session);
  } catch {
    return undefined;
  }
  let error: ExecError['error'] | undefined;
  let certain = false;
  for (const check of checks) {
    try {
      check.stmt.get(values);
    } catch (err) {
      if (!(err instanceof ExecError)) return undefined;
      if (error !== undefined && (error.code !== err.error.code || error.message !== err.error.message))
        return undefined;
      error = err.error;
      certain ||= check.certain;
    }
  }
  return error !== undefined && certain
    ? new PgError({ code: error.code, message: error.message })
    : undefined;
}
