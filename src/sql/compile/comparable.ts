/** Comparison classes, collations, and the `comparable()` form through which every comparison and sort goes. */
import type { SortBy } from 'libpg-query';
import { NotLocal } from '../../errors.js';
import { DtFn } from '../datetime-functions.js';
import { SqlFn } from '../functions.js';
import { MoneyFn } from '../money.js';
import { isIntType, Oid } from '../pgtypes.js';
import type { CmpClass, CompileContext, Expr } from './types.js';
import { colName, isTextType } from './values.js';

/** Why money is not local: every money answer assumes lc_monetary C (src/sql/money.ts). */
export const MONEY_LOCALE_UNKNOWN = 'type money: lc_monetary not known to be C';

/** The comparison class of a typed value: its type's, or 'enum' for a value of an enum type. */
export function cmpClassOfExpr(e: Expr): CmpClass | undefined {
  if (e.pathKey) return 'pathkey';
  return cmpClassOf(e.type) ?? (e.enumLabels !== undefined ? 'enum' : undefined);
}

export function cmpClassOf(type: number): CmpClass | undefined {
  switch (type) {
    case Oid.int2:
    case Oid.int4:
    case Oid.int8:
      return 'int';
    case Oid.bool:
      return 'bool';
    case Oid.float8:
      return 'float8';
    case Oid.float4:
      return 'float4';
    case Oid.numeric:
      return 'numeric';
    case Oid.text:
    case Oid.varchar:
    // namecmp and the name/text cross-type operators compare like text under
    // the resolved collation (a name's own is C).
    case Oid.name:
      return 'text';
    case Oid.bpchar:
      return 'bpchar';
    case Oid.date:
      return 'date';
    case Oid.timestamptz:
      return 'tstz';
    case Oid.interval:
      return 'interval';
    case Oid.timestamp:
      return 'ts';
    case Oid.time:
      return 'time';
    case Oid.uuid:
      return 'uuid';
    case Oid.bytea:
      // The stored hex text orders like byteacmp (src/sql/bytea.ts).
      return 'bytea';
    case Oid.bit:
    case Oid.varbit:
      // bit_out's text under BINARY orders like bit_cmp (src/sql/bit-strings.ts).
      return 'bits';
    case Oid.money:
      return 'money';
    default:
      return undefined;
  }
}

/** The type an unknown operand takes opposite `type` in a comparison (ParameterDescription). */
export function operatorInputType(type: number): number {
  return type === Oid.varchar ? Oid.text : type;
}

/** Whether text under `coll` orders by code point (UTF-8 bytes), as SQLite's BINARY compares. */
export function isCCollation(coll: string, ctx: CompileContext): boolean {
  if (coll === 'C' || coll === 'POSIX') return true;
  if (ctx.codePointCollations) return ctx.codePointCollations.has(coll);
  return coll === 'default' && ctx.textCollationIsC;
}

/** The collation Postgres would use for a comparison of two collatable operands, or undefined (unknown/conflict). */
export function resolveCollation(l: Expr, r: Expr): string | undefined {
  if (l.explicitColl && r.explicitColl) return l.coll === r.coll ? l.coll : undefined;
  if (l.explicitColl) return l.coll;
  if (r.explicitColl) return r.coll;
  return mergeCollNames(l.coll, r.coll);
}

export function mergeCollNames(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined || b === undefined) return undefined;
  if (a === b) return a;
  // A non-default implicit collation beats the default one; two different ones conflict.
  if (a === 'default') return b;
  if (b === 'default') return a;
  return undefined;
}

export function mergeColl(l: Expr, r: Expr): string | undefined {
  const lc = isTextType(l.type) ? l.coll : 'default';
  const rc = isTextType(r.type) ? r.coll : 'default';
  return resolveCollation({ ...l, coll: lc }, { ...r, coll: rc });
}

/** The SQLite expression that compares and sorts like the Postgres value, in class `cls`. */
export function comparable(e: Expr, cls: CmpClass): string {
  const x = e.sql;
  switch (cls) {
    case 'float8':
      if (isIntType(e.type)) return `CAST(${x} AS REAL)`;
      // The replica stores a float4 as the double nearest its shortest text,
      // not the float4 itself: round it back to float4 precision.
      if (e.type === Oid.float4) return `${SqlFn.float4Value}(${x})`;
      return `(CASE WHEN typeof(${x}) = 'text' AND ${x} = '-0' THEN 0.0 ELSE ${x} END)`;
    case 'float4':
      return `(CASE WHEN typeof(${x}) = 'text' AND ${x} = '-0' THEN 0.0 ELSE ${x} END)`;
    case 'numeric':
      return `${SqlFn.numericKey}(${x})`;
    case 'tstz':
      return `${SqlFn.timestamptzKey}(${x})`;
    case 'interval':
      // interval_cmp: '1 day' = '24 hours'; the key is the span in microseconds.
      return `${DtFn.intervalKey}(${x})`;
    case 'bpchar':
      return `rtrim(${x}, ' ')`;
    case 'money':
      return `${MoneyFn.cents}(${x})`;
    case 'enum':
      return enumPosition(e);
    case 'date':
      // ISO text orders like dates for 4-digit AD years and ±infinity (the
      // plain case, kept as is so that indexes apply); BC and 5-digit years
      // go through the key, which orders them around the plain forms.
      return `(CASE WHEN ${x} IS NULL OR length(${x}) = 10 OR ${x} IN ('infinity', '-infinity') THEN ${x} ELSE ${DtFn.dateKey}(${x}) END)`;
    case 'ts':
      return `${DtFn.timestampKey}(${x})`;
    default:
      return x;
  }
}

/**
 * An enum value's position in its type's sort order (enumsortorder), from the
 * stored label. A label the replica's catalog does not know (added upstream
 * since the catalog was read) aborts the run.
 */
export function enumPosition(e: Expr): string {
  const x = e.sql;
  const labels = e.enumLabels ?? [];
  const whens = labels.map((l, i) => ` WHEN '${l.replace(/'/g, "''")}' THEN ${i}`).join('');
  return `(CASE ${x}${whens} ELSE (CASE WHEN ${x} IS NULL THEN NULL ELSE ${SqlFn.notLocal}('enum label unknown to the replica') END) END)`;
}

export function sortClass(e: Expr, ctx: CompileContext): CmpClass {
  const cls = cmpClassOfExpr(e);
  if (cls === undefined) throw new NotLocal(`comparison on type ${e.typeName}`);
  if (cls === 'money' && !ctx.numericLocaleC) throw new NotLocal(MONEY_LOCALE_UNKNOWN);
  if (cls === 'text' || cls === 'bpchar') {
    if (e.coll === undefined) throw new NotLocal(`collation of ${colName(e)} unknown`);
    if (!isCCollation(e.coll, ctx)) throw new NotLocal(`non-C collation ${e.coll} on ${colName(e)}`);
  }
  return cls;
}

/** A sort key split into its comparable expression and direction (`ASC NULLS LAST`, ...). */
export function sortParts(e: Expr, k: { sb: SortBy }, ctx: CompileContext): { key: string; dir: string } {
  const full = sortKey(e, k, ctx);
  const m = / (ASC|DESC) NULLS (FIRST|LAST)$/.exec(full) as RegExpExecArray;
  return { key: full.slice(0, m.index), dir: m[0].trim() };
}

export function sortKey(e: Expr, k: { sb: SortBy }, ctx: CompileContext): string {
  const cls = sortClass(e, ctx);
  const desc = k.sb.sortby_dir === 'SORTBY_DESC';
  const nullsFirst =
    k.sb.sortby_nulls === 'SORTBY_NULLS_FIRST'
      ? true
      : k.sb.sortby_nulls === 'SORTBY_NULLS_LAST'
        ? false
        : desc;
  return `${comparable(e, cls)} ${desc ? 'DESC' : 'ASC'} NULLS ${nullsFirst ? 'FIRST' : 'LAST'}`;
}
