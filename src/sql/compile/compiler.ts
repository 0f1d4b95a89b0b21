/**
 * The compiler of one statement: its state (binds, aliases, parameter
 * types, tables read) and the construct families installed on it. Each
 * family module holds the cases of one kind of construct; its functions are
 * methods of StatementCompiler (`this` is the compiler), so any case can
 * recurse into any other.
 */
import type { Node, SelectStmt } from 'libpg-query';
import { InputError, NotLocal } from '../../errors.js';
import type { ReplicaTable } from '../../replica/schema.js';
import { nodeKind } from '../parse.js';
import { Oid, type Stored, TYPES } from '../pgtypes.js';
import { SearchCycleFn } from '../search-cycle-keys.js';
import * as aggregates from './aggregates.js';
import * as arrayFill from './array-fill.js';
import * as arraySearch from './array-search.js';
import * as arrays from './arrays.js';
import * as bitStrings from './bit-strings.js';
import * as buckets from './buckets.js';
import * as bytea from './bytea.js';
import * as casts from './casts.js';
import * as comparisons from './comparisons.js';
import * as conditionals from './conditionals.js';
import * as ctes from './ctes.js';
import * as dateBin from './date-bin.js';
import * as dateParts from './date-parts.js';
import * as expressions from './expressions.js';
import * as floats from './floats.js';
import * as formatting from './formatting.js';
import * as fromItems from './from-items.js';
import * as functions from './functions.js';
import * as groupingSets from './grouping-sets.js';
import * as jsonCalls from './json-calls.js';
import * as jsonOps from './json-ops.js';
import * as lateral from './lateral.js';
import * as makeInterval from './make-interval.js';
import * as money from './money.js';
import * as names from './names.js';
import * as numericCalls from './numeric-calls.js';
import * as operators from './operators.js';
import * as orderWindows from './order-windows.js';
import * as rows from './rows.js';
import * as setOperations from './set-operations.js';
import * as srfs from './srfs.js';
import * as statement from './statement.js';
import * as strings from './strings.js';
import { unsupported } from './support.js';
import * as textCalls from './text-calls.js';
import type { BindSource, CompileContext, CompiledSelect, CompileOptions, CteScope, Expr } from './types.js';
import * as variadic from './variadic.js';

/** Every construct family's cases, installed as methods of StatementCompiler. */
const families = {
  ...statement,
  groupingSetsSelect: groupingSets.groupingSetsSelect,
  groupingNull: groupingSets.groupingNull,
  groupingFunc: groupingSets.groupingFunc,
  groupingSetsPlannerCheck: groupingSets.groupingSetsPlannerCheck,
  ...ctes,
  ...setOperations,
  ...fromItems,
  ...lateral,
  ...srfs,
  ...orderWindows,
  ...expressions,
  ...comparisons,
  ...operators,
  rowValue: rows.rowValue,
  rowComparison: rows.rowComparison,
  rowSubLink: rows.rowSubLink,
  rowNullTest: rows.rowNullTest,
  rowField: rows.rowField,
  ...conditionals,
  ...casts,
  nameCoercion: names.nameCoercion,
  nameCast: names.nameCast,
  ...floats,
  bitConstant: bitStrings.bitConstant,
  bitCastTo: bitStrings.bitCastTo,
  bitToInt: bitStrings.bitToInt,
  bitOperator: bitStrings.bitOperator,
  bitNot: bitStrings.bitNot,
  bitConcat: bitStrings.bitConcat,
  bitFunction: bitStrings.bitFunction,
  ...money,
  ...numericCalls,
  ...functions,
  ...formatting,
  ...strings,
  textCall: textCalls.textCall,
  datePartCall: dateParts.datePartCall,
  variadicCall: variadic.variadicCall,
  bpcharTypmodCast: textCalls.bpcharTypmodCast,
  ...buckets,
  ...bytea,
  ...makeInterval,
  dateBinCall: dateBin.dateBinCall,
  ...aggregates,
  ...arrays,
  arraySearchCall: arraySearch.arraySearchCall,
  arrayFill: arrayFill.arrayFill,
  ...jsonOps,
  jsonCall: jsonCalls.jsonCall,
};
type Families = typeof families;

/** Compile one parsed statement (a `SelectStmt` node) or throw NotLocal. */
export function compileSelect(stmt: Node, ctx: CompileContext, opts: CompileOptions = {}): CompiledSelect {
  return new StatementCompiler(ctx, opts).compile(stmt);
}

// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface below declares the family modules' functions, which are installed on the prototype right after it, so every declared member exists.
export class StatementCompiler {
  readonly binds: Record<string, BindSource> = {};
  bindCount = 0;
  readonly constBinds = new Map<string, string>();
  aliasCount = 0;
  readonly paramTypes: number[] | undefined;
  readonly tables = new Map<number, ReplicaTable>();
  unqualified = false;
  /** References to recursive WITH queries whose terms may raise an error (ctes.ts, `CteDef.mayRaise`). */
  raisingRefs = 0;
  readonly prechecks: string[] = [];
  /** Compiling the array operand of `= ANY`: array values (bound as JSON) are allowed. */
  jsonArrays = false;
  /** Enum types of the columns read so far (type OID → an Expr of it: labels, name, size). */
  readonly enums = new Map<number, Expr>();
  /** Parameters typed as an enum (index → an Expr of the enum type): enum_in accepts exactly its labels. */
  readonly paramEnums = new Map<number, Expr>();
  /** See `CompiledSelect.planChecks`. */
  readonly planChecks: { sql: string; exact: boolean; certain: boolean }[] = [];
  /** Node kinds from the clause's root expression to the one compiling (see `foldCertain`). */
  readonly exprPath: string[] = [];
  /** Input errors of constants (see `CompiledSelect.inputError`), in the order met. */
  readonly inputErrors: { error: InputError; location: number }[] = [];

  constructor(
    readonly ctx: CompileContext,
    opts: CompileOptions,
  ) {
    this.paramTypes = opts.declaredParamTypes ? [...opts.declaredParamTypes] : undefined;
  }

  compile(stmt: Node): CompiledSelect {
    const [kind, body] = nodeKind(stmt);
    if (kind !== 'SelectStmt') throw unsupported(`statement ${kind}`);
    const root: CteScope = { defs: new Map(), parent: undefined };
    const result = this.selectStmt(body as SelectStmt, undefined, root, true, false);
    // SEARCH/CYCLE keys are printed here, as outputs only.
    const finals = result.outs.map((o) => {
      const e = this.resolveToText(o.expr);
      const k = e.pathKey;
      return k ? { ...e, sql: `${SearchCycleFn.out}(${e.sql}, ${k.fields}, ${k.array ? 1 : 0})` } : e;
    });
    if (finals.some((e) => e.type === Oid.money)) this.requireMoneyLocale();
    const sql = result.build(finals);
    const paramTypes = this.paramTypes ?? [];
    for (const [i, t] of paramTypes.entries()) {
      if (t === 0) throw new NotLocal(`could not determine data type of parameter $${i + 1}`);
      this.paramInputCheck(t, i);
    }
    // Which of two failing constants Postgres meets first is not modelled.
    const [inputError, second] = this.inputErrors;
    if (second !== undefined) throw new NotLocal(inputError?.error.reason ?? second.error.reason);
    return {
      ...(inputError !== undefined ? { inputError } : {}),
      sql,
      binds: this.binds,
      outputs: result.outs.map((o, i) => {
        const e = finals[i] as Expr;
        return {
          name: o.name,
          typeOid: e.type,
          typmod: e.typmod,
          typlen: e.typlen,
          typeName: e.typeName,
          tableOid: e.origin?.tableOid ?? 0,
          attnum: e.origin?.attnum ?? 0,
          ...(e.enumLabels !== undefined ? { isEnum: true } : {}),
        };
      }),
      tables: [...this.tables.values()],
      paramTypes,
      ...(this.paramEnums.size > 0
        ? {
            paramEnumLabels: paramTypes.map((_, i) => this.paramEnums.get(i)?.enumLabels),
          }
        : {}),
      prechecks: this.prechecks,
      unqualified: this.unqualified,
      ...(this.planChecks.length > 0 ? { planChecks: this.planChecks } : {}),
    };
  }

  /**
   * Remember an enum type for constants and NULLs coerced to it. Two tables
   * copied at different times could hold different label lists for one type
   * (a resync in progress): such a statement is not local.
   */
  registerEnum(e: Expr): void {
    const known = this.enums.get(e.type);
    if (known === undefined) this.enums.set(e.type, e);
    else if (JSON.stringify(known.enumLabels) !== JSON.stringify(e.enumLabels)) {
      throw new NotLocal(`labels of enum ${e.typeName} differ between replicated tables`);
    }
  }

  /** Parameters of a type whose input function we do not reproduce are not local. */
  paramInputCheck(type: number, index: number): void {
    if (this.paramEnums.get(index)?.type === type) return;
    const info = TYPES.get(type);
    if (
      !info ||
      type === Oid.unknown ||
      type === Oid.float4 ||
      type === Oid.jsonb ||
      type === Oid.json ||
      type === Oid.interval ||
      // money follows lc_monetary; bit parameters' binary form is not decoded here.
      type === Oid.money ||
      type === Oid.bit ||
      type === Oid.varbit
    ) {
      throw new NotLocal(`parameter $${index + 1} of type ${info?.name ?? type}`);
    }
  }

  /**
   * A constant's input function failed: rethrow unless it is an error
   * Postgres raises exactly so at a literal whose position is known, which
   * is remembered (the constant reads as NULL meanwhile).
   */
  inputFailed(err: unknown, location: number | undefined): null {
    if (!(err instanceof InputError) || location === undefined) throw err;
    this.inputErrors.push({ error: err, location });
    return null;
  }

  /** Bind a constant; equal constants share one name, so equal expressions compile to equal SQL. */
  bindValue(value: Stored): string {
    if (value === null) return 'NULL';
    const key = `${typeof value}:${String(value)}`;
    let name = this.constBinds.get(key);
    if (name === undefined) {
      this.bindCount++;
      name = `p${this.bindCount}`;
      this.binds[name] = { kind: 'value', value };
      this.constBinds.set(key, name);
    }
    return `@${name}`;
  }

  /** Never `a<n>` (data columns) or, for a WITH query, `t<n>` (data tables): see replica/schema.ts. */
  alias(prefix = 't'): string {
    return `${prefix}${this.aliasCount++}`;
  }
}

export interface StatementCompiler extends Families {}
Object.assign(StatementCompiler.prototype, families);
