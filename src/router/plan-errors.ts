/**
 * A statement whose answer is an error Postgres raises while planning:
 * eval_const_expressions folds every immutable operation over constants
 * (docs: "Expression Evaluation Rules"), so `SELECT 1/0 FROM t` fails on an
 * empty table too, before any row is read and with no position. The
 * compiler lists the constant expressions that may raise an error
 * (`CompiledSelect.planChecks`); each is evaluated here on its own. The
 * error is the answer only when every failing one is `exact` and fails with
 * the same ExecError (then Postgres's folding order does not matter) and at
 * least one of them Postgres surely folds; any other failure (a NotLocal, or
 * a constant not reproduced exactly) leaves the statement to its normal
 * run, which forwards it. Parse analysis comes first: a constant's input
 * error wins (classify.ts).
 */
import type Database from 'better-sqlite3';
import { ExecError, PgError } from '../errors.js';
import type { SessionState } from '../session.js';
import { bindValues, type Plan } from './plan.js';

export interface PlanCheck {
  stmt: Database.Statement;
  exact: boolean;
  certain: boolean;
}

/** How evaluating one check ends: fine, an ExecError, or not known. */
function evaluate(check: PlanCheck, values: Record<string, unknown>): 'ok' | ExecError | 'unknown' {
  try {
    check.stmt.get(values);
    return 'ok';
  } catch (err) {
    return err instanceof ExecError ? err : 'unknown';
  }
}

const same = (a: ExecError['error'], b: ExecError['error']): boolean =>
  a.code === b.code && a.message === b.message;

/** Postgres's error for planning the statement, or undefined (no error, or not certain which). */
export function planError(plan: Plan, session: SessionState): PgError | undefined {
  const checks = plan.planChecks;
  if (checks === undefined || !checks.some((c) => c.exact)) return undefined;
  let values: Record<string, unknown>;
  try {
    values = bindValues(plan, [], session);
  } catch {
    return undefined;
  }
  let error: ExecError['error'] | undefined;
  let certain = false;
  const failed: string[] = [];
  // The exact ones first: when none fails (the usual case) the rest need not run.
  for (const check of checks) {
    if (!check.exact) continue;
    const r = evaluate(check, values);
    if (r === 'ok') continue;
    if (r === 'unknown') return undefined;
    if (error !== undefined && !same(error, r.error)) return undefined;
    error = r.error;
    certain ||= check.certain;
    failed.push(check.stmt.source.slice('SELECT '.length));
  }
  if (error === undefined || !certain) return undefined;
  // The others must not fail, or contain a failing exact one and fail with
  // its error: Postgres folds the arguments first, so it raises that one
  // (make_interval(years := 'inf'::float8::int4)).
  for (const check of checks) {
    if (check.exact) continue;
    const r = evaluate(check, values);
    if (r === 'ok') continue;
    if (r === 'unknown' || !same(error, r.error) || !failed.some((f) => check.stmt.source.includes(f)))
      return undefined;
  }
  return new PgError({ code: error.code, message: error.message });
}
