/**
 * Decides, per simple-protocol query string, whether Outpost answers from the
 * SQLite replica or forwards upstream — and for local answers, produces the
 * complete result (RowDescription fields and rendered rows) before anything
 * is sent. The rule: local only when the answer is certainly identical to
 * upstream's; every doubt forwards, with a reason for `SHOW outpost.last_route`.
 */
import Database from 'better-sqlite3';
import { NotLocal } from '../errors.js';
import { INLINE_ROW_BUDGET, keyLookupKind, Offload } from '../exec/inline.js';
import type { ExecPool, Job } from '../exec/pool.js';
import type { PlanJob } from '../exec/protocol.js';
import type { ReplicaTable } from '../replica/schema.js';
import type { SessionState } from '../session.js';
import type { CaseMap } from '../sql/case-map.js';
import { type CompiledSelect, compileSelect } from '../sql/compile.js';
import { registerSqlFunctions } from '../sql/functions.js';
import { type Literal, normalizeLiterals, replaceLiterals, writeShapeKey } from '../sql/literals.js';
import { hasOverlongIdentifier, Lru, loadParser, type Node, nodeKind, parseSql } from '../sql/parse.js';
import { inputValue, type Stored, timestamptzInputAt } from '../sql/pgtypes.js';
import {
  fixedOffsetSeconds,
  isUtcZone,
  type Renderer,
  rendererFor,
  sessionSettingsProblem,
} from '../sql/render.js';
import { NUMERIC_LITERAL_FORMS, syntaxTooNew, UNKNOWN_VERSION_NUM } from '../sql/version-gates.js';
import { DEFAULT_SEARCH_PATH, startupProblem, WATCHED_SETTINGS } from './settings.js';
import { mayWrite, statementFacts } from './side-effects.js';
import { startupTimeouts, startupTimeoutValues, type TimeoutChange, timeoutEffect } from './timeouts.js';
import type {
  FieldDescription,
  LocalOffload,
  LocalResult,
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
  access?: {
    check(session: SessionState, table: ReplicaTable): string | undefined;
    prepare?(session: SessionState): Promise<void>;
    schemas?(): ReadonlySet<string>;
    /** Whether row-level security may be enabled on the table (its policies may call user functions). */
    rowSecurity?(oid: number): boolean;
  };
}

/** One compiled statement, ready to run on the reader. */
/** How upstream orders and case-maps text (src/upstream-locale.ts). */
export interface RouterTextLocale {
  /** Collations (pg_catalog names, or `default`) whose order is UTF-8 byte order, like SQLite's BINARY. */
  codePointCollations: readonly string[];
  /** Collations whose lower()/upper()/ILIKE fold ASCII letters only. */
  asciiCtypeCollations: readonly string[];
  /** The default collation's exact lower()/upper(), learned from upstream. */
  caseMap?: CaseMap | undefined;
}

/** The facts the two older booleans state, for callers that pass only them. */
function localeFromFlags(collateC: boolean, ctypeC: boolean): RouterTextLocale {
  return {
    codePointCollations: ['C', 'POSIX', 'ucs_basic', ...(collateC ? ['default'] : [])],
    asciiCtypeCollations: ['C', 'POSIX', 'ucs_basic', ...(ctypeC ? ['default'] : [])],
  };
}

interface Plan {
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
   * inline, `unique` ones (one row at most) without a row budget (see src/exec/inline.ts).
   */
  inline: 'unique' | 'lookup' | false;
}

type Classified =
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
type TxEffect = 'begin-ro' | 'begin' | 'set-ro' | 'other';

/**
 * A SQLite read transaction held for one client's READ ONLY transaction, on
 * its own connection, so that every local read of the transaction sees the
 * same replica state while the applier commits underneath (WAL keeps it).
 */
class ReadSnapshot {
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
class RemoteSnapshot {
  firstReadAt = 0;
  constructor(readonly id: number) {}
}

/** READ ONLY transactions served locally at once; beyond this they go upstream. */
const MAX_SNAPSHOTS = 64;
/** Idle snapshot connections kept open for the next READ ONLY transaction. */
const IDLE_SNAPSHOT_CONNECTIONS = 4;

type LocalClassified = Extract<Classified, { kind: 'local' }>;

/**
 * A local classification shared by every statement text with the same
 * literal-normalised key: `slots` say which bound parameter of which plan
 * takes which lifted constant.
 */
interface Template {
  classified: LocalClassified;
  slots: { plan: number; bind: string; literal: number }[];
}

/** Sentinel constants for template learning: two distinct sets, same kinds as the originals. */
function sentinel(set: 0 | 1, index: number, literal: Literal): bigint | string {
  if (literal.kind === 'i') return BigInt((set === 0 ? 1_000_000_007 : 1_500_000_011) + index * 1009);
  return `outpostsentinel${set === 0 ? 'a' : 'b'}${index}z`;
}

const NO_PARAMS: readonly Stored[] = [];

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

/** Reasons for statement kinds that are never local. */
const STATEMENT_REASONS: Record<string, string> = {
  TransactionStmt: 'transaction control',
  VariableSetStmt: 'SET',
  VariableShowStmt: 'SHOW',
  InsertStmt: 'write (INSERT)',
  UpdateStmt: 'write (UPDATE)',
  DeleteStmt: 'write (DELETE)',
  MergeStmt: 'write (MERGE)',
  ExplainStmt: 'EXPLAIN',
  CopyStmt: 'COPY',
  DeclareCursorStmt: 'cursor',
  FetchStmt: 'cursor',
  PrepareStmt: 'PREPARE',
  ExecuteStmt: 'EXECUTE',
  CallStmt: 'CALL',
  DoStmt: 'DO',
};

export class Router implements QueryRouter {
  private readonly cache = new Lru<Classified>(2000);
  /** Plan templates by literal-normalised text; `null`: this shape cannot be templated. */
  private readonly templates = new Lru<Template | null>(2000);
  /** Forwarded writes by constant-free shape (see `writeShapeKey`). */
  private readonly writeShapes = new Lru<Classified>(2000);
  /** Statements classified from a template instead of a parse (tests, metrics). */
  templateHits = 0;
  /** SQLite statements by compiled SQL text, shared by every query string that compiles to it. */
  private readonly statements = new Lru<Database.Statement>(1000);
  /** Whether SQLite plans a compiled text as key lookups (see src/exec/inline.ts). */
  private readonly keyLookups = new Lru<Plan['inline']>(1000);
  private cacheVersion: number;
  private schemaVersion = -1;
  private replicaSchemas = new Set<string>();
  private readonly idleSnapshots: ReadSnapshot[] = [];
  private openSnapshots = 0;

  private textLocale: RouterTextLocale;
  /** Bumped by `setTextLocale`: plans compiled before it are not run. */
  private localeEpoch = 0;

  private constructor(private readonly opts: RouterOptions) {
    this.cacheVersion = opts.catalog.catalogVersion;
    this.textLocale = opts.textLocale ?? localeFromFlags(opts.textCollationIsC, opts.textCtypeIsC ?? false);
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
      // Followed only through the simple protocol (src/router/timeouts.ts).
      if (classified.kind === 'upstream' && classified.timeout) {
        session.localDisabled ??= `${classified.timeout.setting ?? 'a timeout'} changed in a way Outpost does not follow`;
      }
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
    const ready = this.ready(plan, session);
    if (typeof ready === 'string') return { kind: 'upstream', reason: ready };
    // (The session holds read batches until a pending check is answered.)
    if (session.stateCheck) return { kind: 'upstream', reason: stateCheckReason(session.stateCheck.reason) };
    const { renderers, fields } = ready;
    const current = () => plan.localeEpoch === this.localeEpoch;
    const paramTypes = plan.compiled.paramTypes;
    const pool = this.opts.pool;
    const convert = (params: readonly (string | null)[]): Stored[] => {
      if (params.length !== paramTypes.length) {
        throw new NotLocal(
          `bind message supplies ${params.length} parameters, statement needs ${paramTypes.length}`,
        );
      }
      // Each parameter through its type's input function (invalid input: Postgres raises 22P02).
      return params.map((p, i) =>
        p === null ? null : inputValue(paramTypes[i] as number, p, `parameter $${i + 1}`),
      );
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
            if (snapshot instanceof RemoteSnapshot) throw new Offload();
            const budget = pool ? INLINE_ROW_BUDGET : undefined;
            if (budget !== undefined && !plan.inline) throw new Offload();
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
                    start: () => pool.run(job),
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
  private sessionProblem(session: SessionState): string | undefined {
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
    const problem = this.sessionProblem(session);
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
    const reader = this.opts.reader;
    const snapshot = snapshotOf(session);
    const pool = this.opts.pool;
    // With executors, only key lookups outside a READ ONLY transaction (whose snapshot lives in an executor) run here.
    const inline = !pool || (!(snapshot instanceof RemoteSnapshot) && prepared.every((p) => p.plan.inline));
    const budget = pool ? INLINE_ROW_BUDGET : undefined;
    const offload: LocalOffload | undefined = pool
      ? {
          start: () =>
            pool.run(
              jobFor(
                prepared.map((p) => p.plan),
                NO_PARAMS,
                session,
              ),
            ),
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
        if (!inline) throw new Offload();
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
  ): 'stays-in-transaction' | 'may-control-transaction' {
    if (sql === undefined) {
      this.noteUserCode(session, 'statement not known to Outpost');
      return 'may-control-transaction';
    }
    try {
      const c = this.classify(sql);
      if (c.kind === 'upstream') {
        this.noteUserCode(session, c.userCode ?? this.policyCode(c.tables));
        return c.endsIdle === 'from-idle' ? 'stays-in-transaction' : 'may-control-transaction';
      }
      if (c.kind === 'local') {
        this.noteUserCode(session, this.policyCode(c.plans.flatMap((p) => p.compiled.tables)));
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

  /**
   * Session-independent classification of a query string, cached by its
   * text (and, for the extended protocol, the declared parameter types).
   */
  private classify(sql: string, declared?: readonly number[]): Classified {
    const version = this.opts.catalog.catalogVersion;
    if (version !== this.cacheVersion) {
      this.cache.clear();
      this.templates.clear();
      this.writeShapes.clear();
      this.statements.clear();
      this.keyLookups.clear();
      this.cacheVersion = version;
    }
    const key = declared ? `\u0001${declared.join(',')}\u0001${sql}` : sql;
    let c = this.cache.get(key);
    if (c) return c;
    // The simple protocol inlines constants: statements that differ only in
    // them share a template (not cached per text, so they do not evict).
    // A write is never local: its shape key, or else (a read) its template key.
    const writeKey = declared ? undefined : writeShapeKey(sql);
    if (writeKey !== undefined) {
      const w = this.writeShapes.get(writeKey);
      if (w) return w;
    }
    const normalized = declared || writeKey !== undefined ? undefined : normalizeLiterals(sql);
    if (normalized) {
      const template = this.templates.get(normalized.key);
      if (template) {
        this.templateHits++;
        return instantiate(template, normalized.literals);
      }
    }
    c = this.classifyUncached(sql, declared);
    if (
      writeKey !== undefined &&
      c.kind === 'upstream' &&
      c.disable === undefined &&
      c.tx === undefined &&
      c.reason.startsWith('write (')
    ) {
      this.writeShapes.set(writeKey, c);
    }
    if (normalized && c.kind === 'local' && this.templates.get(normalized.key) === undefined) {
      this.templates.set(normalized.key, this.learnTemplate(sql, normalized.literals, c));
    }
    this.cache.set(key, c);
    return c;
  }

  /**
   * Whether the lifted constants of `sql` are used by the compiled plans as
   * bound parameter values and for nothing else: compile the statement with
   * two different sets of sentinel constants and require identical SQLite
   * text, outputs and tables, with each sentinel appearing only as the value
   * of its own bound parameters. The real statement's compilation must then
   * be exactly the template filled with its own constants. Anything else
   * (a constant that changes a type, is converted, folded, or shares a
   * parameter with an equal constant) makes the shape non-templatable.
   */
  private learnTemplate(sql: string, literals: readonly Literal[], actual: LocalClassified): Template | null {
    const variants: Classified[] = [];
    for (const set of [0, 1] as const) {
      const text = replaceLiterals(sql, literals, (i, l) => {
        const v = sentinel(set, i, l);
        return typeof v === 'bigint' ? v.toString() : `'${v}'`;
      });
      variants.push(this.classifyUncached(text));
    }
    const [a, b] = variants as [Classified, Classified];
    if (a.kind !== 'local' || b.kind !== 'local') return null;
    if (a.plans.length !== actual.plans.length || b.plans.length !== actual.plans.length) return null;
    if (a.disable !== actual.disable || b.disable !== actual.disable) return null;
    const slots: Template['slots'] = [];
    const used = new Set<number>();
    for (let p = 0; p < actual.plans.length; p++) {
      const [pa, pb, px] = [a.plans[p], b.plans[p], actual.plans[p]] as [Plan, Plan, Plan];
      if (!samePlanShape(pa, pb) || !samePlanShape(pa, px)) return null;
      if (!pa.staticBinds || !pb.staticBinds || !px.staticBinds) return null;
      for (const [name] of pa.binds) {
        const va = pa.staticBinds[name];
        const vb = pb.staticBinds[name];
        const vx = px.staticBinds[name];
        if (va === vb) {
          if (vx !== va) return null;
          continue;
        }
        const index = literals.findIndex((l, i) => va === sentinel(0, i, l) && vb === sentinel(1, i, l));
        if (index < 0 || vx !== (literals[index] as Literal).value) return null;
        slots.push({ plan: p, bind: name, literal: index });
        used.add(index);
      }
    }
    if (used.size !== literals.length) return null;
    return { classified: a, slots };
  }

  private classifyUncached(sql: string, declared?: readonly number[]): Classified {
    const parsed = parseSql(sql);
    if (!parsed.ok) {
      if (parsed.error === 'Query cannot be empty') return { kind: 'upstream', reason: 'empty query' };
      // Upstream may read it otherwise: anything may run.
      return { kind: 'upstream', reason: `parse error: ${parsed.error}`, userCode: 'unparsed statement' };
    }
    const stmts = parsed.stmts.map((s) => s.stmt).filter((s): s is Node => s !== undefined);
    if (stmts.length === 0) return { kind: 'upstream', reason: 'empty query' };
    if (declared && stmts.length > 1) {
      return { kind: 'upstream', reason: 'several statements in a prepared statement' };
    }
    if (stmts.length === 1) {
      const [kind, body] = nodeKind(stmts[0] as Node);
      if (kind === 'VariableShowStmt' && (body as { name?: string }).name === 'outpost.last_route') {
        return { kind: 'show-last-route' };
      }
    }
    let disable: string | undefined;
    for (const stmt of stmts) disable ??= sessionEffect(stmt);
    // statement_timeout is followed only from a simple Query that changes nothing else (src/router/timeouts.ts).
    const timeout = stmts.length === 1 && !declared ? timeoutEffect(stmts[0] as Node) : undefined;
    if (timeout === undefined && stmts.some((s) => timeoutEffect(s) !== undefined)) {
      disable ??= 'a timeout setting changed in a way Outpost does not follow';
    }
    const facts = statementFacts(stmts, (schema, name) => this.opts.catalog.findTable(schema, name));
    const endsIdle = idleEnding(stmts);
    const extra = {
      ...definedDisable(disable),
      ...(facts.userCode !== undefined ? { userCode: facts.userCode } : {}),
      ...(endsIdle ? { endsIdle } : {}),
    };
    if (hasOverlongIdentifier(sql)) {
      return {
        kind: 'upstream',
        reason: 'identifier longer than 63 bytes',
        ...extra,
        ...(timeout ? { timeout } : {}),
      };
    }
    // The parser knows Postgres 16+ literals (0x1F, 0o17, 0b101, 1_000) that
    // an older upstream rejects or reads differently (`0x1F` is `0 AS x1F`
    // before 16); such text may also sit in a string, which merely forwards.
    if (
      (this.opts.serverVersionNum ?? UNKNOWN_VERSION_NUM) < NUMERIC_LITERAL_FORMS &&
      /(?<![\w$])(?:0[xXoObB][0-9a-fA-F_]|\d+_\d)/.test(sql)
    ) {
      return {
        kind: 'upstream',
        reason: 'non-decimal or underscored number',
        ...extra,
        ...(timeout ? { timeout } : {}),
      };
    }
    const plans: Plan[] = [];
    for (const stmt of stmts) {
      const [kind] = nodeKind(stmt);
      const tooNew =
        kind === 'SelectStmt'
          ? syntaxTooNew(stmt, this.opts.serverVersionNum ?? UNKNOWN_VERSION_NUM)
          : undefined;
      if (tooNew !== undefined) {
        const readOnly = stmts.every((s) => nodeKind(s)[0] === 'SelectStmt' && !mayWrite(s));
        return {
          kind: 'upstream',
          reason: tooNew,
          ...definedDisable(disable),
          ...(readOnly ? { readOnly } : {}),
        };
      }
      if (kind !== 'SelectStmt') {
        const tx =
          stmts.length === 1 ? transactionEffect(stmt) : stmts.some(transactionEffect) ? 'other' : undefined;
        return {
          kind: 'upstream',
          reason: STATEMENT_REASONS[kind] ?? `statement ${kind}`,
          ...extra,
          ...(tx ? { tx } : {}),
          ...(timeout ? { timeout } : {}),
        };
      }
      try {
        plans.push(this.plan(stmt, declared));
      } catch (err) {
        if (err instanceof NotLocal) {
          const readOnly = stmts.every((s) => nodeKind(s)[0] === 'SelectStmt' && !mayWrite(s));
          return {
            kind: 'upstream',
            reason: err.reason,
            ...extra,
            ...(readOnly ? { readOnly } : {}),
            ...(facts.userCode === undefined ? { tables: facts.tables } : {}),
          };
        }
        throw err;
      }
    }
    return { kind: 'local', plans, ...definedDisable(disable) };
  }

  private plan(stmt: Node, declared?: readonly number[]): Plan {
    const catalog = this.opts.catalog;
    const compiled = compileSelect(
      stmt,
      {
        findTable: (schema, name) => catalog.findTable(schema, name),
        resolveUnqualified: (name) => {
          // pg_catalog is searched before "$user" and public; its relations are all named pg_*.
          if (name.startsWith('pg_')) throw new NotLocal(`relation ${name} may be a system catalog`);
          const table = catalog.findTable('public', name);
          if (!table) throw new NotLocal(`table ${name} not in replica`);
          return table;
        },
        textCollationIsC: this.opts.textCollationIsC,
        textCtypeIsC: this.opts.textCtypeIsC ?? false,
      },
      declared ? { declaredParamTypes: declared } : {},
    );
    const prepare = (sql: string): Database.Statement => {
      // Statements that differ only in their constants compile to the same
      // SQLite text (constants are bound parameters): prepare it once.
      const cached = this.statements.get(sql);
      if (cached) return cached;
      let st: Database.Statement;
      try {
        st = this.opts.reader.prepare(sql);
      } catch (err) {
        throw new NotLocal(`sqlite prepare: ${err instanceof Error ? err.message : String(err)}`);
      }
      st.raw(true);
      st.safeIntegers(true);
      this.statements.set(sql, st);
      return st;
    };
    const stmtSql = compiled.sql;
    const precheckSql = compiled.prechecks.length > 0 ? `SELECT ${compiled.prechecks.join(', ')}` : undefined;
    const used = new Set<string>();
    for (const text of [stmtSql, precheckSql ?? '']) {
      for (const m of text.matchAll(/@([a-z]\d+)\b/g)) used.add(m[1] as string);
    }
    const binds = Object.entries(compiled.binds).filter(([name]) => used.has(name));
    const staticBinds = binds.every(([, src]) => src.kind === 'value')
      ? Object.fromEntries(binds.map(([name, src]) => [name, src.kind === 'value' ? src.value : null]))
      : undefined;
    const statement = prepare(stmtSql);
    const precheck = precheckSql !== undefined ? prepare(precheckSql) : undefined;
    return {
      localeEpoch: this.localeEpoch,
      compiled,
      stmt: statement,
      precheck,
      binds,
      staticBinds,
      inline: this.opts.pool === undefined ? false : this.inlineKind(stmtSql, precheckSql),
    };
  }

  /** See `keyLookupKind`, once per SQLite text; a precheck is a constant expression. */
  private inlineKind(sql: string, precheck: string | undefined): Plan['inline'] {
    const key = precheck === undefined ? sql : `${sql}\u0000${precheck}`;
    let known = this.keyLookups.get(key);
    if (known === undefined) {
      const main = keyLookupKind(this.opts.reader, sql);
      const pre = precheck === undefined ? 'unique' : keyLookupKind(this.opts.reader, precheck);
      known =
        main === false || pre === false ? false : main === 'unique' && pre === 'unique' ? 'unique' : 'lookup';
      this.keyLookups.set(key, known);
    }
    return known;
  }
}

/** Same SQLite statements, outputs, tables and parameter names: only bound values may differ. */
function samePlanShape(x: Plan, y: Plan): boolean {
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
function instantiate(template: Template, literals: readonly Literal[]): Classified {
  const { classified, slots } = template;
  const binds = classified.plans.map((plan) => ({ ...plan.staticBinds }));
  for (const slot of slots) {
    (binds[slot.plan] as Record<string, unknown>)[slot.bind] = (literals[slot.literal] as Literal).value;
  }
  const plans = classified.plans.map((plan, i) => ({ ...plan, staticBinds: binds[i] }));
  return { ...classified, plans };
}

/** The named-parameter values of a plan for one execution. */
function bindValues(plan: Plan, params: readonly Stored[], session: SessionState): Record<string, unknown> {
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
function zoneOffsetMinutes(session: SessionState): number | string {
  const zone = session.params.get('TimeZone');
  if (zone === undefined) return 'TimeZone unknown';
  if (isUtcZone(zone)) return 0;
  const seconds = fixedOffsetSeconds(zone);
  if (seconds === undefined || seconds % 60 !== 0) {
    return `timestamptz constant without an offset under TimeZone ${zone}`;
  }
  return seconds / 60;
}

/** The open READ ONLY transaction's snapshot the session's reads must use, if any. */
function snapshotOf(session: SessionState): ReadSnapshot | RemoteSnapshot | undefined {
  const tx = session.readOnlyTx;
  return tx?.phase === 'open' ? (tx.snapshot as ReadSnapshot | RemoteSnapshot) : undefined;
}

/** What an executor needs to run the plans for this session (values bound now, as inline). */
function jobFor(plans: readonly Plan[], params: readonly Stored[], session: SessionState): Job {
  const snapshot = snapshotOf(session);
  if (snapshot && snapshot.firstReadAt === 0) snapshot.firstReadAt = Date.now();
  const jobs: PlanJob[] = plans.map((plan) => ({
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

/** Run a plan's prechecks and statement; every failure is NotLocal (nothing has been sent). */
function runPlan(
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
    if (precheck) {
      if (has) precheck.all(values);
      else precheck.all();
    }
    if (budget === undefined || plan.inline === 'unique') {
      return (has ? stmt.all(values) : stmt.all()) as unknown[][];
    }
    const rows: unknown[][] = [];
    for (const row of (has ? stmt.iterate(values) : stmt.iterate()) as IterableIterator<unknown[]>) {
      // Leaving the loop resets the statement.
      if (rows.length >= budget) throw new Offload();
      rows.push(row);
    }
    return rows;
  } catch (err) {
    if (err instanceof NotLocal || err instanceof Offload) throw err;
    throw new NotLocal(`sqlite: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function definedDisable(disable: string | undefined): { disable?: string } {
  return disable === undefined ? {} : { disable };
}

/**
 * Whether a statement changes session state the local path depends on but
 * cannot observe (unreported settings, shadowing relations): returns the
 * reason to disable local answers for the rest of the session. Conservative:
 * the statement may still fail or be rolled back upstream.
 */
function sessionEffect(stmt: Node): string | undefined {
  const [kind, body] = nodeKind(stmt);
  switch (kind) {
    case 'VariableSetStmt': {
      const s = body as { kind?: string; name?: string; args?: Node[] };
      // SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL ...: see default_transaction_isolation.
      if ((s.name ?? '').toLowerCase() === 'session characteristics')
        return 'session changed transaction characteristics';
      if (s.kind !== 'VAR_SET_VALUE' && s.kind !== 'VAR_SET_DEFAULT' && s.kind !== 'VAR_SET_CURRENT') break;
      const name = (s.name ?? '').toLowerCase();
      if (!WATCHED_SETTINGS.has(name)) break;
      if (name === 'extra_float_digits' && s.kind === 'VAR_SET_VALUE' && positiveIntArg(s.args)) break;
      return `session changed ${name}`;
    }
    case 'CreateStmt':
    case 'CreateForeignTableStmt': {
      if (isTempRelation((body as { relation?: RelationLike }).relation)) return 'temporary table may shadow';
      break;
    }
    case 'ViewStmt':
      if (isTempRelation((body as { view?: RelationLike }).view)) return 'temporary view may shadow';
      break;
    case 'CreateSeqStmt':
      if (isTempRelation((body as { sequence?: RelationLike }).sequence))
        return 'temporary sequence may shadow';
      break;
    case 'CreateTableAsStmt':
      if (isTempRelation((body as { into?: { rel?: RelationLike } }).into?.rel))
        return 'temporary table may shadow';
      break;
    case 'SelectStmt':
      if (isTempRelation((body as { intoClause?: { rel?: RelationLike } }).intoClause?.rel)) {
        return 'temporary table may shadow';
      }
      break;
    case 'CreateSchemaStmt':
      return 'schema created (may shadow unqualified names)';
  }
  // DO, CALL, set_config() and any other user code are followed by a check
  // of the session's state upstream instead (see `statementFacts`).
  return undefined;
}

/**
 * `always`: the query string ends outside any transaction block whatever
 * came before (a lone COMMIT or ROLLBACK without AND CHAIN); `from-idle`: it
 * does when sent outside one (no transaction control in it). Never with a
 * COPY (see below): Outpost's own query then waits until the session is idle.
 */
function idleEnding(stmts: Node[]): 'always' | 'from-idle' | undefined {
  // A COPY may put upstream in copy-in mode, where any other message is an
  // error that ends the copy: nothing may follow it until it is done.
  if (stmts.some((s) => nodeKind(s)[0] === 'CopyStmt')) return undefined;
  if (stmts.length === 1) {
    const [kind, body] = nodeKind(stmts[0] as Node);
    if (kind === 'TransactionStmt') {
      const t = body as { kind?: string; chain?: boolean };
      return (t.kind === 'TRANS_STMT_COMMIT' || t.kind === 'TRANS_STMT_ROLLBACK') && !t.chain
        ? 'always'
        : undefined;
    }
  }
  return stmts.some((s) => transactionEffect(s) !== undefined || nodeKind(s)[0] === 'TransactionStmt')
    ? undefined
    : 'from-idle';
}

/** The reason a local read waits for (or, inside a transaction, forwards because of) a pending check. */
export function stateCheckReason(reason: string): string {
  return `session state being verified upstream (after ${reason})`;
}

/** See `TxEffect`. */
function transactionEffect(stmt: Node): TxEffect | undefined {
  const [kind, body] = nodeKind(stmt);
  if (kind === 'TransactionStmt') {
    const t = body as { kind?: string; options?: Node[] };
    if (t.kind !== 'TRANS_STMT_BEGIN' && t.kind !== 'TRANS_STMT_START') return 'other';
    return transactionModes(t.options) === 'read-only' ? 'begin-ro' : 'begin';
  }
  if (kind === 'VariableSetStmt') {
    const v = body as { name?: string; args?: Node[] };
    const name = (v.name ?? '').toLowerCase();
    if (name === 'transaction') return transactionModes(v.args) === 'read-only' ? 'set-ro' : 'other';
    if (name.startsWith('transaction_') || name === 'session characteristics') return 'other';
  }
  return undefined;
}

/**
 * Transaction modes of BEGIN / SET TRANSACTION: `read-only` when READ ONLY
 * is given and the isolation level (if any) is READ COMMITTED or READ
 * UNCOMMITTED (which Postgres runs as READ COMMITTED). REPEATABLE READ and
 * SERIALIZABLE go upstream: their snapshot is upstream's, not the replica's.
 */
function transactionModes(options: Node[] | undefined): 'read-only' | 'other' {
  let readOnly = false;
  for (const option of options ?? []) {
    const [kind, body] = nodeKind(option);
    if (kind !== 'DefElem') return 'other';
    const d = body as { defname?: string; arg?: Node };
    const [, arg] = d.arg ? nodeKind(d.arg) : ['', undefined];
    const c = arg as { ival?: { ival?: number }; sval?: { sval?: string } } | undefined;
    if (d.defname === 'transaction_read_only') readOnly = (c?.ival?.ival ?? 0) === 1;
    else if (d.defname === 'transaction_isolation') {
      const level = c?.sval?.sval;
      if (level !== 'read committed' && level !== 'read uncommitted') return 'other';
    } else if (d.defname !== 'transaction_deferrable') return 'other';
  }
  return readOnly ? 'read-only' : 'other';
}

interface RelationLike {
  schemaname?: string;
  relpersistence?: string;
}

function isTempRelation(rel: RelationLike | undefined): boolean {
  if (!rel) return false;
  return rel.relpersistence === 't' || (rel.schemaname ?? '').toLowerCase().startsWith('pg_temp');
}

function positiveIntArg(args: Node[] | undefined): boolean {
  const only = args?.length === 1 ? args[0] : undefined;
  if (!only) return false;
  const [kind, body] = nodeKind(only);
  if (kind !== 'A_Const') return false;
  const c = body as { ival?: { ival?: number }; sval?: { sval?: string } };
  const v = c.ival ? (c.ival.ival ?? 0) : c.sval ? Number(c.sval.sval) : Number.NaN;
  return Number.isInteger(v) && v > 0 && v <= 3;
}
