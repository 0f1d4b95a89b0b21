/**
 * Decides, per simple-protocol query string, whether Outpost answers from the
 * SQLite replica or forwards upstream — and for local answers, produces the
 * complete result (RowDescription fields and rendered rows) before anything
 * is sent. The rule: local only when the answer is certainly identical to
 * upstream's; every doubt forwards, with a reason for `SHOW outpost.last_route`.
 *
 * Files: classify.ts (per-text classification and its caches), plan.ts
 * (compiled plans, snapshots, running them), statement-effects.ts (what a
 * statement does to the session); this one applies them to a session.
 */
import Database from 'better-sqlite3';
import { LocalError, NotLocal } from '../errors.js';
import { INLINE_ROW_BUDGET, OFFLOAD, Offload } from '../exec/inline.js';
import type { ExecPool } from '../exec/pool.js';
import type { ReplicaTable } from '../replica/schema.js';
import type { SessionState } from '../session.js';
import type { CaseMap } from '../sql/case-map.js';
import { registerSqlFunctions } from '../sql/functions.js';
import { loadParser } from '../sql/parse.js';
import { inputValue, type Stored } from '../sql/pgtypes.js';
import { type Renderer, rendererFor, sessionSettingsProblem } from '../sql/render.js';
import { Classifier } from './classify.js';
import {
  datestyledValue,
  IDLE_SNAPSHOT_CONNECTIONS,
  intervalstyledValue,
  jobFor,
  MAX_SNAPSHOTS,
  NO_PARAMS,
  type Plan,
  ReadSnapshot,
  RemoteSnapshot,
  runPlan,
  snapshotOf,
  type TxEffect,
  tzOffsetMinutes,
  zoneOffsetMinutes,
} from './plan.js';
import { planError } from './plan-errors.js';
import { DEFAULT_SEARCH_PATH, startupProblem } from './settings.js';
import { stateCheckReason } from './statement-effects.js';
import { startupTimeouts, startupTimeoutValues, type TimeoutChange } from './timeouts.js';
import type {
  FieldDescription,
  LocalOffload,
  LocalResult,
  PreparedLocal,
  PreparedRoute,
  QueryRouter,
  Route,
} from './types.js';

export interface RouterCatalog {
  findTable(schema: string, name: string): ReplicaTable | undefined;
  tables(): ReplicaTable[];
  snapshotComplete(): boolean;
  /** Changes whenever the replicated tables (or their columns) change. */
  readonly catalogVersion: number;
}

export interface RouterOptions {
  catalog: RouterCatalog;
  /** Read-only better-sqlite3 connection to the replica file. */
  reader: Database.Database;
  /** Name of the replicated upstream database; other databases always go upstream. */
  database: string;
  /** Upstream's database collation (datcollate) is C or POSIX, so text compares bytewise. */
  textCollationIsC: boolean;
  /**
   * Upstream's database character classification (datctype, or the builtin
   * provider's locale `C`) folds ASCII letters only, so lower(), upper() and
   * ILIKE on default-collation text are local. Default false.
   */
  textCtypeIsC?: boolean;
  /**
   * What src/upstream-locale.ts learned about upstream's text handling; it
   * supersedes `textCollationIsC`/`textCtypeIsC` when given (and can change:
   * `setTextLocale`).
   */
  textLocale?: RouterTextLocale;
  /**
   * Upstream's `server_version_num`: the parser knows Postgres 18's grammar,
   * so constructs and functions newer than upstream are forwarded (see
   * src/sql/version-gates.ts). Unknown (tests only; `src/app.ts` always
   * passes it) gates every version-dependent construct.
   */
  serverVersionNum?: number;
  /**
   * All schema names upstream, if known. An unqualified table name goes
   * upstream when a schema named like the session user exists (Postgres's
   * default search_path `"$user", public` would look there first). Without
   * this, only the schemas of replicated tables are known.
   */
  upstreamSchemas?: () => ReadonlySet<string>;
  /**
   * Whether the session's role may read a table with the same result as
   * upstream (SELECT privilege, no row-level security): `check` returns why
   * not, and the statement is forwarded so upstream answers or raises its own
   * error. `prepare` warms the role's facts when a session starts. Without
   * it every replicated table is readable (tests only: `src/app.ts` always
   * passes `AccessControl`).
   */
  /**
   * How long a READ ONLY transaction may keep reading its snapshot (`--max-lag`,
   * default 10 s): past that its reads would be staler than the bound, so
   * they go upstream for the rest of the transaction (which also lets SQLite
   * checkpoint past the snapshot).
   */
  maxSnapshotAgeMs?: number;
  /** Bounded staleness: why the replica is too far behind to answer (`--max-lag`), if it is. */
  freshness?: { staleness(): string | undefined };
  /**
   * Executor processes for local statements that are not key lookups (and
   * for every read of a READ ONLY transaction, whose snapshot lives there).
   * Without it everything runs inline (tests of the router alone).
   */
  pool?: ExecPool;
  /** A bounded plan's inline run took too long (`ms`): it runs in the executors from now on. */
  onInlineDemoted?: (ms: number, sql: string) => void;
  access?: {
    check(session: SessionState, table: ReplicaTable): string | undefined;
    prepare?(session: SessionState): Promise<void>;
    schemas?(): ReadonlySet<string>;
    /** Whether row-level security may be enabled on the table (its policies may call user functions). */
    rowSecurity?(oid: number): boolean;
  };
}

/** How upstream orders and case-maps text (src/upstream-locale.ts). */
export interface RouterTextLocale {
  /** Collations (pg_catalog names, or `default`) whose order is UTF-8 byte order, like SQLite's BINARY. */
  codePointCollations: readonly string[];
  /** Collations whose lower()/upper()/ILIKE fold ASCII letters only. */
  asciiCtypeCollations: readonly string[];
  /** The default collation's exact lower()/upper(), learned from upstream. */
  caseMap?: CaseMap | undefined;
  /** The server's lc_numeric and lc_monetary are C/POSIX (src/upstream-locale.ts). */
  numericLocaleC?: boolean | undefined;
  /** The database's server encoding; undefined when not probed (tests of the router alone). */
  encoding?: string | undefined;
}

/** The one column of `SHOW outpost.last_route` (text, like any SHOW). */
const LAST_ROUTE_FIELD: FieldDescription = {
  name: 'last_route',
  tableOid: 0,
  columnAttr: 0,
  typeOid: 25,
  typeSize: -1,
  typeModifier: -1,
  format: 0,
};

/** A local statement that answers `SHOW outpost.last_route`: running it leaves the session's last route as it was. */
export function answersLastRoute(prepared: PreparedLocal): boolean {
  return prepared.fields[0] === LAST_ROUTE_FIELD;
}

export class Router extends Classifier implements QueryRouter {
  private schemaVersion = -1;
  private replicaSchemas = new Set<string>();
  private readonly idleSnapshots: ReadSnapshot[] = [];
  private openSnapshots = 0;

  private constructor(opts: RouterOptions) {
    super(opts);
  }

  static async create(opts: RouterOptions): Promise<Router> {
    await loadParser();
    // The functions compiled SQL calls; they abort a local run (NotLocal) when
    // Postgres would raise an error or a stored value cannot be treated
    // exactly like Postgres (e.g. a BC date in a comparison).
    registerSqlFunctions(opts.reader, opts.textLocale?.caseMap);
    return new Router(opts);
  }

  /**
   * Upstream's text locale changed (src/upstream-locale.ts noticed): from now
   * on compile against `locale`, which may only drop facts (the executors
   * keep the case map they started with, so a new map is never adopted).
   */
  numericLocaleC(): boolean {
    return this.textLocale.numericLocaleC === true;
  }

  setTextLocale(locale: RouterTextLocale): void {
    const caseMap = locale.caseMap === this.textLocale.caseMap ? locale.caseMap : undefined;
    this.textLocale = { ...locale, caseMap };
    this.localeEpoch++;
    this.cache.clear();
    this.templates.clear();
  }

  route(sql: string, session: SessionState): Route {
    let route: Route;
    try {
      route = this.routeUnsafe(sql, session);
    } catch (err) {
      route = {
        kind: 'upstream',
        reason:
          err instanceof NotLocal
            ? err.reason
            : `internal: ${err instanceof Error ? err.message : String(err)}`,
      };
    }
    if (route.kind === 'upstream') session.lastRoute = `upstream: ${route.reason}`;
    else if (route.kind === 'local') session.lastRoute = 'local';
    return route;
  }

  timeoutChange(sql: string): TimeoutChange | undefined {
    try {
      const classified = this.classify(sql);
      return classified.kind === 'upstream' ? classified.timeout : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * A statement the client sent through the extended protocol (Parse): it is
   * forwarded as is, but may change session state the local path relies on.
   */
  observe(sql: string, session: SessionState): void {
    try {
      const classified = this.classify(sql);
      if (classified.kind !== 'show-last-route' && classified.disable !== undefined) {
        session.localDisabled ??= classified.disable;
      }
      // A timeout SET is followed when it is executed (`timeoutChange`, src/server/extended-upstream.ts).
      this.followTransaction(session, classified.kind === 'upstream' ? classified.tx : 'other');
    } catch {
      session.localDisabled ??= 'unclassifiable extended-protocol statement';
      this.followTransaction(session, 'other');
    }
  }

  /**
   * A statement of the session was routed: follow what it does to a READ
   * ONLY transaction the local path may serve. Only `BEGIN READ ONLY`, or
   * `SET TRANSACTION READ ONLY` right after a plain BEGIN, qualify; anything
   * that may change the transaction's mode ends local service for it.
   */
  private followTransaction(session: SessionState, tx: TxEffect | undefined): void {
    const current = session.readOnlyTx;
    if (tx === 'begin-ro' || tx === 'begin') {
      // A BEGIN inside a transaction is only a warning upstream: nothing changes.
      if (session.txStatus === 'I' && current === undefined) {
        session.readOnlyTx = { phase: tx === 'begin-ro' ? 'await-ro' : 'await-begin' };
      }
      return;
    }
    if (current === undefined) return;
    if (tx === 'set-ro' && current.phase === 'fresh') {
      current.phase = 'await-ro';
      return;
    }
    // Ordinary statements keep an open READ ONLY transaction local (they
    // cannot write in it); anything else ends local service for it.
    if ((current.phase === 'open' || current.phase === 'expired') && tx === undefined) return;
    this.releaseSnapshot(session);
  }

  /** See `QueryRouter.transactionStatus`. */
  transactionStatus(session: SessionState, status: 'I' | 'T' | 'E'): void {
    const current = session.readOnlyTx;
    if (current === undefined) return;
    if (status !== 'T') {
      this.releaseSnapshot(session);
      return;
    }
    if (current.phase === 'await-begin') current.phase = 'fresh';
    else if (current.phase === 'await-ro') {
      const snapshot = this.acquireSnapshot();
      if (snapshot) session.readOnlyTx = { phase: 'open', snapshot };
      else session.readOnlyTx = undefined;
    }
  }

  /**
   * A connection in a deferred SQLite transaction: its snapshot is taken by
   * the first read, i.e. by the transaction's first local statement, after
   * any read-your-writes wait of the session.
   */
  private acquireSnapshot(): ReadSnapshot | RemoteSnapshot | undefined {
    if (this.openSnapshots >= MAX_SNAPSHOTS) return undefined;
    const pool = this.opts.pool;
    if (pool) {
      const id = pool.beginSnapshot();
      if (id === undefined) return undefined;
      this.openSnapshots++;
      return new RemoteSnapshot(id);
    }
    let snapshot = this.idleSnapshots.pop();
    try {
      if (!snapshot) {
        const db = new Database(this.opts.reader.name, { readonly: true, fileMustExist: true });
        registerSqlFunctions(db, this.textLocale.caseMap);
        snapshot = new ReadSnapshot(db);
      }
      snapshot.db.exec('BEGIN');
    } catch {
      snapshot?.db.close();
      return undefined;
    }
    this.openSnapshots++;
    return snapshot;
  }

  private releaseSnapshot(session: SessionState): void {
    const snapshot = session.readOnlyTx?.snapshot as ReadSnapshot | RemoteSnapshot | undefined;
    session.readOnlyTx = undefined;
    if (!snapshot) return;
    this.openSnapshots--;
    if (snapshot instanceof RemoteSnapshot) {
      this.opts.pool?.endSnapshot(snapshot.id);
      return;
    }
    try {
      if (snapshot.db.inTransaction) snapshot.db.exec('ROLLBACK');
      if (
        this.idleSnapshots.length < IDLE_SNAPSHOT_CONNECTIONS &&
        this.cacheVersion === this.opts.catalog.catalogVersion
      ) {
        this.idleSnapshots.push(snapshot);
      } else snapshot.db.close();
    } catch {
      snapshot.db.close();
    }
  }

  /** Startup parameters may set what the local path cannot honour; also warm the role's privileges. */
  sessionStarting(
    session: SessionState,
    startupParams: ReadonlyMap<string, string>,
  ): Promise<void> | undefined {
    const problem = startupProblem(startupParams);
    if (problem !== undefined) session.localDisabled ??= problem;
    const timeouts = startupTimeoutValues(startupParams);
    if (timeouts === 'unknown') session.localDisabled ??= 'startup timeout setting not understood';
    else startupTimeouts(session, timeouts);
    return this.opts.access?.prepare?.(session);
  }

  /**
   * Route one extended-protocol statement for one execution (see
   * `QueryRouter.prepare`). Never throws; sets `session.lastRoute`.
   */
  prepare(sql: string, declaredParamTypes: readonly number[], session: SessionState): PreparedRoute {
    let route: PreparedRoute;
    try {
      route = this.prepareUnsafe(sql, declaredParamTypes, session);
    } catch (err) {
      route = {
        kind: 'upstream',
        reason:
          err instanceof NotLocal
            ? err.reason
            : `internal: ${err instanceof Error ? err.message : String(err)}`,
      };
    }
    // SHOW outpost.last_route itself leaves the answer it gives unchanged.
    if (route.kind === 'local' && route.prepared.fields[0] === LAST_ROUTE_FIELD) return route;
    session.lastRoute = route.kind === 'local' ? 'local' : `upstream: ${route.reason}`;
    return route;
  }

  private prepareUnsafe(sql: string, declared: readonly number[], session: SessionState): PreparedRoute {
    const classified = this.classify(sql, declared);
    if (classified.kind === 'show-last-route') {
      // Answered from the session's own state, as through the simple protocol
      // (drivers that prepare everything send it this way).
      if (declared.some((t) => t !== 0)) {
        return { kind: 'upstream', reason: 'SHOW outpost.last_route with declared parameter types' };
      }
      const value = session.lastRoute;
      return {
        kind: 'local',
        prepared: {
          paramTypes: [],
          fields: [LAST_ROUTE_FIELD],
          run: (params) => {
            if (params.length > 0) throw new NotLocal('SHOW outpost.last_route with parameters');
            return { fields: [LAST_ROUTE_FIELD], rows: [[value]], commandTag: 'SHOW' };
          },
        },
      };
    }
    this.followTransaction(session, classified.kind === 'upstream' ? classified.tx : undefined);
    if (classified.disable !== undefined && session.localDisabled === undefined) {
      session.localDisabled = classified.disable;
    }
    if (classified.kind === 'upstream') return { kind: 'upstream', reason: classified.reason };
    const problem = this.sessionProblem(session);
    if (problem !== undefined) return { kind: 'upstream', reason: problem };
    const plan = classified.plans[0] as Plan;
    // Postgres raises it at Parse; the extended path answers at Execute.
    if (plan.compiled.inputError) return { kind: 'upstream', reason: plan.compiled.inputError.error.reason };
    const ready = this.ready(plan, session);
    if (typeof ready === 'string') return { kind: 'upstream', reason: ready };
    // (The session holds read batches until a pending check is answered.)
    if (session.stateCheck) return { kind: 'upstream', reason: stateCheckReason(session.stateCheck.reason) };
    const { renderers, fields } = ready;
    const current = () => plan.localeEpoch === this.localeEpoch;
    const paramTypes = plan.compiled.paramTypes;
    const enumLabels = plan.compiled.paramEnumLabels;
    const pool = this.opts.pool;
    const convert = (params: readonly (string | null)[]): Stored[] => {
      if (params.length !== paramTypes.length) {
        throw new NotLocal(
          `bind message supplies ${params.length} parameters, statement needs ${paramTypes.length}`,
        );
      }
      // Each parameter through its type's input function (invalid input: Postgres raises 22P02).
      return params.map((p, i) => {
        if (p === null) return null;
        const labels = enumLabels?.[i];
        if (labels === undefined) return inputValue(paramTypes[i] as number, p, `parameter $${i + 1}`);
        // enum_in: exactly a label (case and blanks included), stored as its text.
        if (!labels.includes(p)) throw new NotLocal(`parameter $${i + 1}: invalid input value for enum`);
        return p;
      });
    };
    return {
      kind: 'local',
      prepared: {
        paramTypes,
        fields,
        run(params: readonly (string | null)[]): LocalResult {
          try {
            if (!current()) throw new NotLocal('upstream text locale changed since prepared');
            const snapshot = snapshotOf(session);
            if (snapshot instanceof RemoteSnapshot) throw OFFLOAD;
            const budget = pool ? INLINE_ROW_BUDGET : undefined;
            if (budget !== undefined && !plan.inline) throw OFFLOAD;
            const raw = runPlan(plan, convert(params), session, snapshot, budget);
            const rows = raw.map((row) => row.map((v, i) => (renderers[i] as Renderer)(v)));
            return { fields, rows, commandTag: `SELECT ${rows.length}` };
          } catch (err) {
            // The contract: run() fails only with NotLocal (nothing was sent yet) or Offload.
            if (err instanceof NotLocal || err instanceof Offload) throw err;
            throw new NotLocal(`internal: ${err instanceof Error ? err.message : String(err)}`);
          }
        },
        ...(pool
          ? {
              offload: (params: readonly (string | null)[]): LocalOffload => {
                try {
                  const converted = convert(params);
                  const job = jobFor([plan], converted, session);
                  return {
                    start: (stream) => pool.run(stream ? { ...job, stream } : job),
                    results: (rows) => {
                      const r = rows[0] ?? [];
                      return [{ fields, rows: r, commandTag: `SELECT ${r.length}` }];
                    },
                  };
                } catch (err) {
                  if (err instanceof NotLocal) throw err;
                  throw new NotLocal(`internal: ${err instanceof Error ? err.message : String(err)}`);
                }
              },
            }
          : {}),
      },
    };
  }

  /** Session-level reasons to forward any statement. */
  private sessionProblem(session: SessionState, simple = false): string | undefined {
    if (!this.opts.catalog.snapshotComplete()) return 'replica snapshot not complete';
    if (session.database !== this.opts.database) return `database ${session.database} not replicated`;
    if (
      session.txStatus !== 'I' &&
      !(session.txStatus === 'T' && (session.readOnlyTx?.phase === 'open' || session.localTx !== undefined))
    ) {
      return session.readOnlyTx?.phase === 'expired'
        ? 'READ ONLY transaction older than --max-lag'
        : 'inside a transaction';
    }
    const snapshot = snapshotOf(session);
    if (snapshot instanceof RemoteSnapshot && !this.opts.pool?.snapshotAlive(snapshot.id)) {
      // Its executor was stopped (a cancelled statement): the rest of the transaction goes upstream.
      this.releaseSnapshot(session);
      session.readOnlyTx = { phase: 'expired' };
      return 'READ ONLY transaction snapshot lost';
    }
    if (
      snapshot &&
      snapshot.firstReadAt > 0 &&
      Date.now() - snapshot.firstReadAt > (this.opts.maxSnapshotAgeMs ?? 10_000)
    ) {
      this.releaseSnapshot(session);
      session.readOnlyTx = { phase: 'expired' };
      return 'READ ONLY transaction older than --max-lag';
    }
    if (session.localDisabled !== undefined) return session.localDisabled;
    if (session.settingDrift !== undefined) return session.settingDrift;
    // Upstream enforces it only on transactions it sees from their start: a
    // transaction block, or an extended batch (its implicit transaction lasts
    // until the Sync). A lone simple Query is its own transaction, run within
    // the timeout (src/router/timeouts.ts `localBudgetMs`).
    if ((session.transactionTimeoutMs ?? 0) !== 0 && (!simple || session.txStatus !== 'I')) {
      return 'transaction_timeout in force';
    }
    if (session.freshnessBlock !== undefined) return session.freshnessBlock;
    const stale = this.opts.freshness?.staleness();
    if (stale !== undefined) return stale;
    const settings = sessionSettingsProblem(session.params);
    if (settings !== undefined) return settings;
    // With standard_conforming_strings off, backslashes in '...' are escapes
    // and the parser (which assumes on) would read literals differently.
    if (session.params.get('standard_conforming_strings') === 'off') return 'standard_conforming_strings off';
    return undefined;
  }

  /** Per-session checks of one plan (names, privileges, renderable output), or a reason to forward. */
  private ready(
    plan: Plan,
    session: SessionState,
  ): string | { renderers: Renderer[]; fields: FieldDescription[] } {
    if (plan.localeEpoch !== this.localeEpoch) return 'upstream text locale changed since compiled';
    const { tables, outputs, unqualified } = plan.compiled;
    if (unqualified) {
      const problem = this.searchPathProblem(session);
      if (problem !== undefined) return problem;
    }
    for (const table of tables) {
      const denied = this.opts.access?.check(session, table);
      if (denied !== undefined) return denied;
    }
    for (const [, src] of plan.binds) {
      if (src.kind !== 'datestyled' && src.kind !== 'intervalstyled') continue;
      try {
        if (src.kind === 'datestyled') datestyledValue(src.type, src.text, session);
        else intervalstyledValue(src.value, session);
      } catch (err) {
        if (err instanceof NotLocal) return err.message;
        throw err;
      }
    }
    if (plan.binds.some(([, src]) => src.kind === 'tzoffset')) {
      const offset = tzOffsetMinutes(session);
      if (typeof offset === 'string') return offset;
    }
    if (plan.binds.some(([, src]) => src.kind === 'zoned')) {
      const offset = zoneOffsetMinutes(session);
      if (typeof offset === 'string') return offset;
    }
    const renderers = outputs.map((o) => rendererFor(o, session.params));
    const fields: FieldDescription[] = outputs.map((o) => ({
      name: o.name,
      tableOid: o.tableOid,
      columnAttr: o.attnum,
      typeOid: o.typeOid,
      typeSize: o.typlen,
      typeModifier: o.typmod,
      format: 0,
    }));
    return { renderers, fields };
  }

  private routeUnsafe(sql: string, session: SessionState): Route {
    const classified = this.classify(sql);
    if (classified.kind === 'show-last-route') return classified;
    this.followTransaction(session, classified.kind === 'upstream' ? classified.tx : undefined);
    // Statements that change what the local path depends on disable it for
    // the rest of the session, whether or not they succeed upstream.
    if (classified.disable !== undefined && session.localDisabled === undefined) {
      session.localDisabled = classified.disable;
    }
    if (classified.kind === 'upstream') {
      this.noteUserCode(session, classified.userCode ?? this.policyCode(classified.tables));
      return {
        kind: 'upstream',
        reason: classified.reason,
        ...(classified.readOnly ? { readOnly: true } : {}),
        ...(classified.timeout ? { timeout: classified.timeout } : {}),
        ...(classified.endsIdle ? { endsIdle: classified.endsIdle } : {}),
      };
    }
    // A compiled SELECT reads only (the compiler knows no function that writes).
    const forward = (reason: string): Route => {
      this.noteUserCode(session, this.policyCode(classified.plans.flatMap((p) => p.compiled.tables)));
      return { kind: 'upstream', reason, readOnly: true, endsIdle: 'from-idle' };
    };
    const problem = this.sessionProblem(session, true);
    if (problem !== undefined) return forward(problem);

    const prepared: { plan: Plan; renderers: Renderer[]; fields: FieldDescription[] }[] = [];
    for (const plan of classified.plans) {
      const ready = this.ready(plan, session);
      if (typeof ready === 'string') return forward(ready);
      prepared.push({ plan, ...ready });
    }
    const check = session.stateCheck;
    if (check) {
      // Answerable here once the session's upstream state is known again.
      return {
        kind: 'upstream',
        reason: stateCheckReason(check.reason),
        readOnly: true,
        endsIdle: 'from-idle',
        awaitStateCheck: true,
      };
    }
    const failed = prepared[0]?.plan;
    if (failed?.inputError) {
      const error = failed.inputError;
      const reason = failed.compiled.inputError?.error.reason ?? error.message;
      return {
        kind: 'local',
        run(): LocalResult[] {
          // In a transaction block the error would abort upstream's transaction too: upstream raises it.
          if (session.txStatus !== 'I') throw new NotLocal(reason);
          throw new LocalError(error);
        },
      };
    }
    // Postgres's error while planning (a folded constant expression), after analysis found none.
    const planned = prepared.length === 1 && failed ? planError(failed, session) : undefined;
    if (planned) {
      return {
        kind: 'local',
        run(): LocalResult[] {
          // As for an input error: in a transaction block upstream raises it (and aborts its transaction).
          if (session.txStatus !== 'I') throw new NotLocal(planned.message);
          throw new LocalError(planned);
        },
      };
    }
    const reader = this.opts.reader;
    const snapshot = snapshotOf(session);
    const pool = this.opts.pool;
    // With executors, only key lookups outside a READ ONLY transaction (whose snapshot lives in an executor) run here.
    const inline = !pool || (!(snapshot instanceof RemoteSnapshot) && prepared.every((p) => p.plan.inline));
    const budget = pool ? INLINE_ROW_BUDGET : undefined;
    const offload: LocalOffload | undefined = pool
      ? {
          start: (stream) => {
            const job = jobFor(
              prepared.map((p) => p.plan),
              NO_PARAMS,
              session,
            );
            return pool.run(stream ? { ...job, stream } : job);
          },
          results: (rows) =>
            prepared.map(({ fields }, i) => {
              const r = rows[i] ?? [];
              return { fields, rows: r, commandTag: `SELECT ${r.length}` };
            }),
        }
      : undefined;
    return {
      kind: 'local',
      ...(offload ? { offload } : {}),
      run(): LocalResult[] {
        if (!inline) throw OFFLOAD;
        const local = snapshot instanceof RemoteSnapshot ? undefined : snapshot;
        const runAll = (): LocalResult[] =>
          prepared.map(({ plan, renderers, fields }) => {
            const raw = runPlan(plan, NO_PARAMS, session, local, budget);
            const rows = raw.map((row) => row.map((v, i) => (renderers[i] as Renderer)(v)));
            return { fields, rows, commandTag: `SELECT ${rows.length}` };
          });
        try {
          // Several statements in one query string run in one implicit
          // transaction upstream; read them from one SQLite snapshot too.
          // (A READ ONLY transaction's snapshot already is one.)
          return prepared.length > 1 && !snapshot ? reader.transaction(runAll)() : runAll();
        } catch (err) {
          // The contract: run() fails only with NotLocal (nothing was sent yet) or Offload.
          if (err instanceof NotLocal || err instanceof Offload) throw err;
          throw new NotLocal(`internal: ${err instanceof Error ? err.message : String(err)}`);
        }
      },
    };
  }

  /**
   * The session ran something upstream that may run user code (which can
   * change any session state: settings, role, temporary tables): its state
   * is verified upstream before the next local read (see `session.stateCheck`).
   * Pointless once local answers are off for the session anyway.
   */
  private noteUserCode(session: SessionState, reason: string | undefined): void {
    if (reason === undefined || session.localDisabled !== undefined) return;
    const check = session.stateCheck;
    if (!check) session.stateCheck = { reason, inFlight: false, dirty: false };
    else if (check.inFlight) {
      // Its effects come after the check in flight: check again after it.
      check.dirty = true;
      check.reason = reason;
    }
  }

  /** Why reading these replicated tables upstream may run user code: their row-level security policies. */
  private policyCode(tables: readonly ReplicaTable[] | undefined): string | undefined {
    const rls = this.opts.access?.rowSecurity;
    if (!tables || !rls) return undefined;
    const t = tables.find((x) => rls.call(this.opts.access, x.oid));
    return t ? `row-level security policies on ${t.schema}.${t.name}` : undefined;
  }

  /** See `QueryRouter.executed`. */
  executed(
    sql: string | undefined,
    session: SessionState,
  ): 'stays-in-transaction' | 'may-control-transaction' | 'reads-only' {
    if (sql === undefined) {
      this.noteUserCode(session, 'statement not known to Outpost');
      return 'may-control-transaction';
    }
    try {
      const c = this.classify(sql);
      if (c.kind === 'upstream') {
        this.noteUserCode(session, c.userCode ?? this.policyCode(c.tables));
        if (c.endsIdle !== 'from-idle') return 'may-control-transaction';
        return c.readOnly ? 'reads-only' : 'stays-in-transaction';
      }
      if (c.kind === 'local') {
        // A SELECT the compiler understood: it cannot write.
        this.noteUserCode(session, this.policyCode(c.plans.flatMap((p) => p.compiled.tables)));
        return 'reads-only';
      }
      return 'stays-in-transaction';
    } catch {
      this.noteUserCode(session, 'unclassifiable statement');
      return 'may-control-transaction';
    }
  }

  /** Unqualified names resolve to public.* only under the default search_path with no `$user` schema. */
  private searchPathProblem(session: SessionState): string | undefined {
    const path = session.params.get('search_path');
    if (path !== undefined && path.replace(/\s+/g, '') !== DEFAULT_SEARCH_PATH) {
      return `search_path ${path}`;
    }
    if (this.schemaVersion !== this.opts.catalog.catalogVersion) {
      this.replicaSchemas = new Set(this.opts.catalog.tables().map((t) => t.schema));
      this.schemaVersion = this.opts.catalog.catalogVersion;
    }
    if (
      this.replicaSchemas.has(session.user) ||
      this.opts.upstreamSchemas?.().has(session.user) ||
      this.opts.access?.schemas?.().has(session.user)
    ) {
      return `schema "${session.user}" may shadow unqualified names`;
    }
    return undefined;
  }
}

export { stateCheckReason };
