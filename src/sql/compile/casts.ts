/** Casts (`::type`, CAST(... AS type)) between the supported types. */
import type { RowExpr, TypeCast } from 'libpg-query';
import { NotLocal } from '../../errors.js';
import { DtFn } from '../datetime-functions.js';
import { SqlFn } from '../functions.js';
import { adjustForTypmod, type IntervalValue, parseInterval } from '../interval.js';
import { storeInterval } from '../interval-ops.js';
import { nodeKind } from '../parse.js';
import { INT_BITS, isIntType, Oid, TYPES } from '../pgtypes.js';
import { settingFreeArray } from './arrays.js';
import { isBitType } from './bit-strings.js';
import { resolveTypeName } from './common-type.js';
import type { StatementCompiler } from './compiler.js';
import { nameAsText } from './names.js';
import { isRowExpr } from './rows.js';
import { typeName, unsupported } from './support.js';
import type { Expr, ExprCtx } from './types.js';
import { constExpr, derived, isTextType, textForm } from './values.js';

export function typeCast(this: StatementCompiler, t: TypeCast, c: ExprCtx): Expr {
  if (!t.arg || !t.typeName) throw unsupported('cast');
  const target = resolveTypeName(t.typeName);
  const elem = TYPES.get(target.oid)?.elem;
  if (elem !== undefined && !this.jsonArrays && 'A_ArrayExpr' in t.arg) {
    return this.arrayConstructor(t.arg.A_ArrayExpr.elements ?? [], c, elem);
  }
  if (isRowExpr(t.arg) && target.oid === Oid.text && target.typmod === -1) {
    // record → text is record_out's text: a plain text value wherever it goes.
    const r = this.rowValue(nodeKind(t.arg)[1] as RowExpr, c);
    const e = derived(r.sql, Oid.text, -1, [r]);
    e.coll = 'default';
    return e;
  }
  const arg = this.expr(t.arg, c);
  const e = this.castTo(arg, target.oid, target.typmod, c);
  return e;
}

/** Types a text value is cast to locally by their input function (SqlFn.textIn). */
const TEXT_INPUT_TYPES: ReadonlySet<number> = new Set([Oid.bool, Oid.float4, Oid.float8, Oid.numeric]);

export function castTo(this: StatementCompiler, arg: Expr, type: number, typmod: number, c: ExprCtx): Expr {
  const what = `cast from ${arg.typeName} to ${typeName(type)}`;
  if (isBitType(type)) return this.bitCastTo(arg, type, typmod, c);
  if (typmod === -1) {
    const money = this.moneyCast(arg, type, c);
    if (money) return money;
  }
  if (isBitType(arg.type) && !arg.unknown && isIntType(type) && typmod === -1)
    return this.bitToInt(arg, type, c);
  if (type === Oid.interval && typmod !== -1) return this.intervalTypmodCast(arg, typmod, c);
  // name_bpchar then bpchar(n): as from text (the name's collation kept).
  if (type === Oid.bpchar && typmod !== -1) return this.bpcharTypmodCast(nameAsText(arg), typmod);
  if (arg.unknown) {
    if (typmod !== -1) throw unsupported(`${what} with a type modifier`);
    return this.resolveUnknown(arg, type);
  }
  if (arg.type === type) {
    if (typmod === arg.typmod) return arg;
    if (typmod === -1) return { ...arg, origin: undefined, typmod: -1 };
    throw unsupported(`${what} with a type modifier`);
  }
  if (typmod !== -1) throw unsupported(`${what} with a type modifier`);
  const json = this.jsonCast(arg, type, c);
  if (json) return json;
  const bytea = this.byteaCast(arg, type, c);
  if (bytea) return bytea;
  const name = this.nameCast(arg, type);
  if (name) return name;
  if (isIntType(arg.type) && isIntType(type)) {
    if ((INT_BITS[type] as number) >= (INT_BITS[arg.type] as number)) {
      // int48, int24, ...: immutable and error-free, so a constant stays foldable.
      const e = derived(arg.sql, type, -1, [arg]);
      return arg.foldable === true ? { ...e, foldable: true } : e;
    }
    return this.errorCapable(
      derived(`${SqlFn.intNarrow}(${arg.sql}, ${INT_BITS[type]})`, type, -1, [arg]),
      c,
      true,
    );
  }
  if (isTextType(type) && type !== Oid.bpchar) {
    let sql: string | undefined;
    if (
      isIntType(arg.type) ||
      arg.type === Oid.text ||
      arg.type === Oid.varchar ||
      arg.type === Oid.numeric ||
      arg.type === Oid.uuid
    ) {
      sql = textForm(arg);
    } else if (arg.type === Oid.bool) {
      sql = `(CASE ${arg.sql} WHEN 1 THEN 'true' WHEN 0 THEN 'false' END)`;
    } else if (settingFreeArray(arg.type)) {
      // array_out: the stored text.
      sql = arg.sql;
    } else if (isBitType(arg.type)) {
      // bit_out: the stored text.
      sql = arg.sql;
    } else if (arg.enumLabels !== undefined) {
      // enum_out: the label, as stored.
      sql = arg.sql;
    }
    if (sql !== undefined) {
      const e = derived(sql, type, -1, [arg]);
      e.coll = isTextType(arg.type) ? arg.coll : 'default';
      return e;
    }
  }
  if ((arg.type === Oid.text || arg.type === Oid.varchar) && type === Oid.interval) {
    // interval_in of each value; text it does not read exactly aborts the run (forwarded).
    return this.errorCapable(derived(`${DtFn.intervalIn}(${arg.sql})`, type, -1, [arg]), c);
  }
  if ((arg.type === Oid.text || arg.type === Oid.varchar) && isIntType(type)) {
    return this.errorCapable(derived(`${SqlFn.intIn}(${arg.sql}, ${INT_BITS[type]})`, type, -1, [arg]), c);
  }
  if ((arg.type === Oid.text || arg.type === Oid.varchar) && TEXT_INPUT_TYPES.has(type)) {
    // The type's input function at run time (the same one constants go through).
    const ver = this.ctx.serverVersionNum ?? 0;
    return this.errorCapable(derived(`${SqlFn.textIn}(${type}, ${arg.sql}, ${ver})`, type, -1, [arg]), c);
  }
  if (isIntType(arg.type) && (type === Oid.numeric || type === Oid.float8)) return this.coerce(arg, type);
  if (arg.type === Oid.numeric && isIntType(type)) return this.numericToIntCast(arg, type, c);
  const float = this.floatCast(arg, type, c);
  if (float) return float;
  throw unsupported(what);
}

/**
 * A cast to interval with a typmod: a literal is read under the range
 * (interval_in: a bare rightmost number takes the range's last field, two
 * fields are mm:ss under MINUTE TO SECOND) then truncated and rounded
 * (AdjustIntervalForTypmod); an interval value goes through interval_scale
 * at run time.
 */
export function intervalTypmodCast(this: StatementCompiler, arg: Expr, typmod: number, c: ExprCtx): Expr {
  const u = arg.unknown;
  if (u?.kind === 'literal') {
    if (/^\s*[+-]?infinity\s*$/i.test(u.text)) throw new NotLocal('infinite interval with a typmod');
    const what = 'interval constant';
    let parsed: IntervalValue;
    try {
      parsed = parseInterval(u.text, what, (typmod >> 16) & 0x7fff);
    } catch (err) {
      this.inputFailed(err, u.location);
      return { ...constExpr('NULL', Oid.interval), typmod };
    }
    const v = adjustForTypmod(parsed, typmod, what);
    return { ...constExpr(this.bindValue(storeInterval(v)), Oid.interval), typmod };
  }
  if (u?.kind === 'null') return { ...constExpr('NULL', Oid.interval), typmod };
  if (u) throw new NotLocal('interval parameter with a typmod');
  if (arg.type !== Oid.interval)
    throw unsupported(`cast from ${arg.typeName} to interval with a type modifier`);
  if (arg.typmod === typmod) return arg;
  return this.errorCapable(
    derived(`${DtFn.intervalScale}(${arg.sql}, ${typmod})`, Oid.interval, typmod, [arg]),
    c,
  );
}
