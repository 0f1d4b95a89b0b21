/**
 * Session-independent classification of statement texts (local plan,
 * forwarded with a reason, SHOW outpost.last_route) and its caches: by text,
 * by literal-normalised template, by write shape, SQLite statements by
 * compiled text. Every cache is emptied when the catalog version changes.
 */
import type Database from 'better-sqlite3';
import { NotLocal, PgError } from '../errors.js';
import { keyLookupKind } from '../exec/inline.js';
import { compileSelect } from '../sql/compile.js';
import { type Literal, normalizeLiterals, replaceLiterals, writeShapeKey } from '../sql/literals.js';
import { hasOverlongIdentifier, Lru, type Node, nodeKind, parseSql } from '../sql/parse.js';
import { NUMERIC_LITERAL_FORMS, syntaxTooNew, UNKNOWN_VERSION_NUM } from '../sql/version-gates.js';
import { InlineBounds } from './inline-bounds.js';
import {
  type Classified,
  definedDisable,
  instantiate,
  type LocalClassified,
  newPlanKey,
  type Plan,
  samePlanShape,
  sentinel,
  type Template,
} from './plan.js';
import type { RouterOptions, RouterTextLocale } from './router.js';
import { mayWrite, statementFacts } from './side-effects.js';
import { idleEnding, STATEMENT_REASONS, sessionEffect, transactionEffect } from './statement-effects.js';
import { timeoutEffect } from './timeouts.js';

/** The facts the two older booleans state, for callers that pass only them. */
function localeFromFlags(collateC: boolean, ctypeC: boolean): RouterTextLocale {
  return {
    codePointCollations: ['C', 'POSIX', 'ucs_basic', ...(collateC ? ['default'] : [])],
    asciiCtypeCollations: ['C', 'POSIX', 'ucs_basic', ...(ctypeC ? ['default'] : [])],
  };
}

export abstract class Classifier {
  protected readonly cache = new Lru<Classified>(2000);
  /** Plan templates by literal-normalised text; `null`: this shape cannot be templated. */
  protected readonly templates = new Lru<Template | null>(2000);
  /** Forwarded writes by constant-free shape (see `writeShapeKey`). */
  protected readonly writeShapes = new Lru<Classified>(2000);
  /** Statements classified from a template instead of a parse (tests, metrics). */
  templateHits = 0;
  /** SQLite statements by compiled SQL text, shared by every query string that compiles to it. */
  protected readonly statements = new Lru<Database.Statement>(1000);
  /** Whether SQLite plans a compiled text as key lookups (see src/exec/inline.ts). */
  protected readonly keyLookups = new Lru<Pick<Plan, 'inline' | 'bounded'>>(1000);
  /** Plans inline under a worst-case bound (with executors only). */
  readonly inlineBounds: InlineBounds | undefined;
  protected cacheVersion: number;
  protected textLocale: RouterTextLocale;
  /** Bumped by `setTextLocale`: plans compiled before it are not run. */
  protected localeEpoch = 0;

  constructor(protected readonly opts: RouterOptions) {
    this.cacheVersion = opts.catalog.catalogVersion;
    this.textLocale = opts.textLocale ?? localeFromFlags(opts.textCollationIsC, opts.textCtypeIsC ?? false);
    this.inlineBounds = opts.pool
      ? new InlineBounds(opts.reader, opts.pool, newPlanKey, opts.onInlineDemoted)
      : undefined;
  }

  /**
   * Session-independent classification of a query string, cached by its
   * text (and, for the extended protocol, the declared parameter types).
   */
  protected classify(sql: string, declared?: readonly number[]): Classified {
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
    if (
      normalized &&
      c.kind === 'local' &&
      c.plans.every((p) => p.inputError === undefined) &&
      this.templates.get(normalized.key) === undefined
    ) {
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
  protected learnTemplate(
    sql: string,
    literals: readonly Literal[],
    actual: LocalClassified,
  ): Template | null {
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
    // A sentinel that fails an input function reads as NULL: no template.
    if ([...a.plans, ...b.plans].some((p) => p.compiled.inputError !== undefined)) return null;
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

  protected classifyUncached(sql: string, declared?: readonly number[]): Classified {
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
    // Timeouts are followed only from a statement that changes nothing else
    // (src/router/timeouts.ts): a simple Query, or an extended-protocol one
    // when it is executed (src/server/extended-upstream.ts).
    const timeout = stmts.length === 1 ? timeoutEffect(stmts[0] as Node) : undefined;
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
    const failing = plans.find((p) => p.compiled.inputError !== undefined);
    if (failing?.compiled.inputError) {
      const { error, location } = failing.compiled.inputError;
      // After earlier statements' results (not modelled): upstream answers.
      if (plans.length > 1) return { kind: 'upstream', reason: error.reason, readOnly: true };
      // Postgres's position counts characters, from 1; the parser's location is a byte offset.
      const before = Buffer.from(sql, 'utf8').subarray(0, location).toString('utf8');
      failing.inputError = new PgError({ ...error.error, position: [...before].length + 1 });
    }
    return { kind: 'local', plans, ...definedDisable(disable) };
  }

  protected plan(stmt: Node, declared?: readonly number[]): Plan {
    // Local answers are computed on UTF-8 text: octet_length, md5, encode,
    // identifier case folding and chr()'s range all read the server's
    // encoding, and the replica holds what the UTF8 replication connection
    // sent. Another database encoding gives other bytes and other errors.
    const encoding = this.textLocale.encoding;
    if (encoding !== undefined && encoding !== 'UTF8') {
      throw new NotLocal(`database encoding ${encoding}: local answers assume UTF8`);
    }
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
        // What upstream was seen to do (src/upstream-locale.ts); a few names, built per compile.
        codePointCollations: new Set(this.textLocale.codePointCollations),
        asciiCtypeCollations: new Set(this.textLocale.asciiCtypeCollations),
        caseMapped: this.textLocale.caseMap !== undefined,
        serverVersionNum: this.opts.serverVersionNum ?? UNKNOWN_VERSION_NUM,
        numericLocaleC: this.textLocale.numericLocaleC === true,
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
    const planChecks = compiled.planChecks?.map((p) => ({
      stmt: prepare(`SELECT ${p.sql}`),
      exact: p.exact,
      certain: p.certain,
    }));
    return {
      localeEpoch: this.localeEpoch,
      compiled,
      stmt: statement,
      precheck,
      ...(planChecks ? { planChecks } : {}),
      binds,
      staticBinds,
      ...(this.opts.pool === undefined ? { inline: false } : this.inlineKind(stmtSql, precheckSql)),
    };
  }

  /**
   * See `keyLookupKind`, once per SQLite text; a precheck is a constant
   * expression. A plan that is not key lookups may still be bounded
   * (src/router/inline-bounds.ts) when its precheck is a constant row.
   */
  protected inlineKind(sql: string, precheck: string | undefined): Pick<Plan, 'inline' | 'bounded'> {
    const key = precheck === undefined ? sql : `${sql}\u0000${precheck}`;
    let known = this.keyLookups.get(key);
    if (known === undefined) {
      const main = keyLookupKind(this.opts.reader, sql);
      const pre = precheck === undefined ? 'unique' : keyLookupKind(this.opts.reader, precheck);
      const kind =
        main === false || pre === false ? false : main === 'unique' && pre === 'unique' ? 'unique' : 'lookup';
      const bounded = kind === false && pre === 'unique' ? this.inlineBounds?.plan(sql) : undefined;
      known = bounded ? { inline: 'bounded', bounded } : { inline: kind };
      this.keyLookups.set(key, known);
    }
    return known;
  }
}
