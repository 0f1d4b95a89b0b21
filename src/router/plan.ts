/**
 * Compiled plans of local statements and running them: the classification
 * the router caches per statement text, literal templates, READ ONLY
 * transaction snapshots, parameter binding and the run itself (inline or in
 * an executor process).
 */
import type Database from 'better-sqlite3';
import { NotLocal, type PgError } from '../errors.js';
import { OFFLOAD, Offload } from '../exec/inline.js';
import type { Job } from '../exec/pool.js';
import type { PlanJob } from '../exec/protocol.js';
import type { ReplicaTable } from '../replica/schema.js';
import type { SessionState } from '../session.js';
import type { CompiledSelect } from '../sql/compile.js';
import { dateOrderOf } from '../sql/datetime-input.js';
import type { Literal } from '../sql/literals.js';
import { dateInput, Oid, type Stored, timestampInput, timestamptzInputAt } from '../sql/pgtypes.js';
import { fixedOffsetSeconds, isUtcZone } from '../sql/render.js';
import type { BoundedPlan } from './inline-bounds.js';
import type { PlanCheck } from './plan-errors.js';
import type { TimeoutChange } from './timeouts.js';

/** One compiled statement, ready to run on the reader. */
export interface Plan {
  /** `Router.localeEpoch` when compiled: a plan of an older upstream text locale is not run. */
  localeEpoch: number;
  compiled: CompiledSelect;
  stmt: Database.Statement;
  /** Evaluates the compiled prechecks (constant expressions Postgres folds while planning). */
  precheck: Database.Statement | undefined;
  /** Named parameters of `stmt` and `precheck`, with their sources. */
  binds: [string, CompiledSelect['binds'][string]][];
  /** The bind object when no parameter feeds it (simple protocol). */
  staticBinds: Record<string, unknown> | undefined;
  /**
   * SQLite plans it (and its prechecks) as key lookups: cheap enough to run
   * inline, `unique` ones (one row at most) without a row budget (see src/exec/inline.ts);
   * `bounded`: inline while its worst case fits a budget (src/router/inline-bounds.ts).
   */
  inline: 'unique' | 'lookup' | 'bounded' | false;
  /** For `inline: 'bounded'`. */
  bounded?: BoundedPlan | undefined;
  /** `compiled.inputError` with its position in the query string: the statement's answer (simple protocol). */
  inputError?: PgError;
  /** `compiled.planChecks`, prepared (src/router/plan-errors.ts). */
  planChecks?: PlanCheck[];
}

export type Classified =
  | { kind: 'show-last-route' }
  | {
      kind: 'upstream';
      reason: string;
      disable?: string;
      tx?: TxEffect;
      readOnly?: boolean;
      /** A single statement of the simple protocol that changes a followed timeout (src/router/timeouts.ts). */
      timeout?: TimeoutChange;
      /** Why the statement may run user code (functions, triggers, views, ...), which may change session state. */
      userCode?: string;
      /** Replicated tables a forwarded SELECT reads (their row-level security policies run upstream). */
      tables?: ReplicaTable[];
      /** See `Route.endsIdle`. */
      endsIdle?: 'always' | 'from-idle';
    }
  | { kind: 'local'; plans: Plan[]; disable?: string };

/**
 * What a single statement does to an explicit transaction the local path
 * may serve: `begin-ro` (BEGIN/START TRANSACTION READ ONLY at READ COMMITTED),
 * `begin` (any other BEGIN), `set-ro` (SET TRANSACTION READ ONLY), `other`
 * (anything else that changes the transaction's mode: isolation, savepoints,
 * read-write, ...). Statements without a `tx` are ordinary.
 */
export type TxEffect = 'begin-ro' | 'begin' | 'set-ro' | 'other';

/**
 * A SQLite read transaction held for one client's READ ONLY transaction, on
 * its own connection, so that every local read of the transaction sees the
 * same replica state while the applier commits underneath (WAL keeps it).
 */
export class ReadSnapshot {
  private readonly statements = new Map<string, Database.Statement>();
  /** When the first read took the snapshot (ms since the epoch), 0 before. */
  firstReadAt = 0;
  constructor(readonly db: Database.Database) {}

  statement(source: string): Database.Statement {
    let st = this.statements.get(source);
    if (!st) {
      st = this.db.prepare(source);
      st.raw(true);
      st.safeIntegers(true);
      this.statements.set(source, st);
    }
    return st;
  }
}

/** A READ ONLY transaction's snapshot held by an executor process (see `ExecPool.beginSnapshot`). */
export class RemoteSnapshot {
  firstReadAt = 0;
  constructor(readonly id: number) {}
}

/** READ ONLY transactions served locally at once; beyond this they go upstream. */
export const MAX_SNAPSHOTS = 64;

/** Idle snapshot connections kept open for the next READ ONLY transaction. */
export const IDLE_SNAPSHOT_CONNECTIONS = 4;

export type LocalClassified = Extract<Classified, { kind: 'local' }>;

/**
 * A local classification shared by every statement text with the same
 * literal-normalised key: `slots` say which bound parameter of which plan
 * takes which lifted constant.
 */
export interface Template {
  classified: LocalClassified;
  slots: { plan: number; bind: string; literal: number }[];
}

/** Sentinel constants for template learning: two distinct sets, same kinds as the originals. */
export function sentinel(set: 0 | 1, index: number, literal: Literal): bigint | string {
  if (literal.kind === 'i') return BigInt((set === 0 ? 1_000_000_007 : 1_500_000_011) + index * 1009);
  return `outpostsentinel${set === 0 ? 'a' : 'b'}${index}z`;
}

export const NO_PARAMS: readonly Stored[] = [];

/** Same SQLite statements, outputs, tables and parameter names: only bound values may differ. */
export function samePlanShape(x: Plan, y: Plan): boolean {
  const cx = x.compiled;
  const cy = y.compiled;
  return (
    cx.sql === cy.sql &&
    cx.prechecks.join('\u0000') === cy.prechecks.join('\u0000') &&
    cx.unqualified === cy.unqualified &&
    cx.tables.length === cy.tables.length &&
    cx.tables.every((t, i) => t.oid === cy.tables[i]?.oid) &&
    JSON.stringify(cx.outputs) === JSON.stringify(cy.outputs) &&
    JSON.stringify(cx.paramTypes) === JSON.stringify(cy.paramTypes) &&
    x.binds.length === y.binds.length &&
    x.binds.every(([name, src], i) => name === y.binds[i]?.[0] && src.kind === y.binds[i]?.[1].kind)
  );
}

/** A template's classification with this statement's constants bound. */
export function instantiate(template: Template, literals: readonly Literal[]): Classified {
  const { classified, slots } = template;
  const binds = classified.plans.map((plan) => ({ ...plan.staticBinds }));
  for (const slot of slots) {
    (binds[slot.plan] as Record<string, unknown>)[slot.bind] = (literals[slot.literal] as Literal).value;
  }
  const plans = classified.plans.map((plan, i) => ({ ...plan, staticBinds: binds[i] }));
  return { ...classified, plans };
}

/** The named-parameter values of a plan for one execution. */
export function bindValues(
  plan: Plan,
  params: readonly Stored[],
  session: SessionState,
): Record<string, unknown> {
  if (plan.staticBinds) return plan.staticBinds;
  const out: Record<string, unknown> = {};
  for (const [name, src] of plan.binds) {
    switch (src.kind) {
      case 'value':
        out[name] = src.value;
        break;
      case 'param':
        out[name] = params[src.index] ?? null;
        break;
      case 'limit':
      case 'offset': {
        const v = params[src.index] ?? null;
        if (v === null) out[name] = src.kind === 'limit' ? -1n : 0n;
        else if (typeof v !== 'bigint' || v < 0n) {
          throw new NotLocal(`negative ${src.kind === 'limit' ? 'LIMIT' : 'OFFSET'}`);
        } else out[name] = v;
        break;
      }
      case 'datestyled':
        out[name] = datestyledValue(src.type, src.text, session);
        break;
      case 'intervalstyled':
        out[name] = intervalstyledValue(src.value, session);
        break;
      case 'tzoffset': {
        const offset = tzOffsetMinutes(session);
        if (typeof offset === 'string') throw new NotLocal(offset);
        out[name] = BigInt(offset * 60);
        break;
      }
      case 'zoned': {
        const offset = zoneOffsetMinutes(session);
        if (typeof offset === 'string') throw new NotLocal(offset);
        out[name] = timestamptzInputAt(src.text, offset, 'timestamptz constant');
        break;
      }
    }
  }
  return out;
}

/**
 * Minutes east of UTC of the session's TimeZone when it is a fixed offset
 * (UTC and its aliases, or a POSIX spec like `<+05:30>-05:30`), else why a
 * timestamptz constant without an offset cannot be read here.
 */
export function zoneOffsetMinutes(session: SessionState): number | string {
  const zone = session.params.get('TimeZone');
  if (zone === undefined) return 'TimeZone unknown';
  if (isUtcZone(zone)) return 0;
  const seconds = fixedOffsetSeconds(zone);
  if (seconds === undefined || seconds % 60 !== 0) {
    return `timestamptz constant without an offset under TimeZone ${zone}`;
  }
  return seconds / 60;
}

/** zoneOffsetMinutes for breaking a timestamptz down into fields (extract, date_part), with that reason. */
export function tzOffsetMinutes(session: SessionState): number | string {
  const offset = zoneOffsetMinutes(session);
  if (typeof offset !== 'string') return offset;
  const zone = session.params.get('TimeZone');
  return zone === undefined
    ? offset
    : `TimeZone ${zone}: timestamptz fields in a zone that is not a fixed offset`;
}

/** A DateStyle-dependent date/timestamp constant read under the session's DateStyle (NotLocal when it cannot be). */
export function datestyledValue(type: number, text: string, session: SessionState): string {
  const style = session.params.get('DateStyle');
  const order = style === undefined ? undefined : dateOrderOf(style);
  // Only the default order's readings were compared with Postgres (the differential corpus runs under MDY).
  if (order !== 'MDY') throw new NotLocal(`date input under DateStyle ${style ?? 'unknown'}`);
  const what = `${type === Oid.date ? 'date' : 'timestamp'} constant`;
  return type === Oid.date ? dateInput(text, what, order) : timestampInput(text, what, order);
}

/** A signed interval constant's value, read as under IntervalStyle postgres: only that style reads it so (NotLocal otherwise). */
export function intervalstyledValue(value: Stored, session: SessionState): Stored {
  const style = session.params.get('IntervalStyle');
  // sql_standard applies a leading sign to every field; the other styles read input as postgres does,
  // but only postgres's readings are compared with Postgres (the differential corpus).
  if (style !== 'postgres')
    throw new NotLocal(`interval input with a sign under IntervalStyle ${style ?? 'unknown'}`);
  return value;
}

/** The open READ ONLY transaction's snapshot the session's reads must use, if any. */
export function snapshotOf(session: SessionState): ReadSnapshot | RemoteSnapshot | undefined {
  const tx = session.readOnlyTx;
  return tx?.phase === 'open' ? (tx.snapshot as ReadSnapshot | RemoteSnapshot) : undefined;
}

/** A number per compiled plan (its SQL, prechecks and outputs never change), for the executors' plan caches. */
const planKeys = new WeakMap<Plan, number>();
let nextPlanKey = 1;

/** A fresh key for a plan the executors are to keep (shared numbering with compiled plans). */
export function newPlanKey(): number {
  return nextPlanKey++;
}

function planKey(plan: Plan): number {
  let key = planKeys.get(plan);
  if (key === undefined) {
    key = newPlanKey();
    planKeys.set(plan, key);
  }
  return key;
}

/** What an executor needs to run the plans for this session (values bound now, as inline). */
export function jobFor(plans: readonly Plan[], params: readonly Stored[], session: SessionState): Job {
  const snapshot = snapshotOf(session);
  if (snapshot && snapshot.firstReadAt === 0) snapshot.firstReadAt = Date.now();
  const jobs: PlanJob[] = plans.map((plan) => ({
    key: planKey(plan),
    sql: plan.stmt.source,
    precheck: plan.precheck?.source,
    values: plan.binds.length > 0 ? bindValues(plan, params, session) : undefined,
    outputs: plan.compiled.outputs,
  }));
  return {
    plans: jobs,
    params: [...session.params],
    snapshot: snapshot instanceof RemoteSnapshot ? snapshot.id : undefined,
  };
}

/** The prechecks and the statement, under the output row budget unless the plan finds one row at most. */
function execute(
  plan: Plan,
  stmt: Database.Statement,
  precheck: Database.Statement | undefined,
  values: Record<string, unknown> | undefined,
  budget: number | undefined,
): unknown[][] {
  if (precheck) {
    if (values) precheck.all(values);
    else precheck.all();
  }
  if (budget === undefined || plan.inline === 'unique') {
    return (values ? stmt.all(values) : stmt.all()) as unknown[][];
  }
  const rows: unknown[][] = [];
  for (const row of (values ? stmt.iterate(values) : stmt.iterate()) as IterableIterator<unknown[]>) {
    // Leaving the loop resets the statement.
    if (rows.length >= budget) throw OFFLOAD;
    rows.push(row);
  }
  return rows;
}

/** Run a plan's prechecks and statement; every failure is NotLocal (nothing has been sent). */
export function runPlan(
  plan: Plan,
  params: readonly Stored[],
  session: SessionState,
  snapshot?: ReadSnapshot,
  budget?: number,
): unknown[][] {
  try {
    const values = bindValues(plan, params, session);
    const has = plan.binds.length > 0;
    const precheck = plan.precheck && snapshot ? snapshot.statement(plan.precheck.source) : plan.precheck;
    const stmt = snapshot ? snapshot.statement(plan.stmt.source) : plan.stmt;
    if (snapshot && snapshot.firstReadAt === 0) snapshot.firstReadAt = Date.now();
    const bounded = plan.bounded;
    if (budget === undefined || plan.inline !== 'bounded' || !bounded) {
      return execute(plan, stmt, precheck, has ? values : undefined, budget);
    }
    const rows = bounded.keeper.run(bounded, plan.stmt.source, () =>
      execute(plan, stmt, precheck, has ? values : undefined, budget),
    );
    if (rows === undefined) throw OFFLOAD;
    return rows;
  } catch (err) {
    if (err instanceof NotLocal || err instanceof Offload) throw err;
    throw new NotLocal(`sqlite: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export function definedDisable(disable: string | undefined): { disable?: string } {
  return disable === undefined ? {} : { disable };
}
