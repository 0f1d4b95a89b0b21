/** Arithmetic, date arithmetic, negation, json field access and ||: the operators whose errors (overflow, division by zero) abort a local run. */
import { NotLocal } from '../../errors.js';
import { DtFn } from '../datetime-functions.js';
import { SqlFn } from '../functions.js';
import { INT_BITS, isIntType, Oid, TYPES } from '../pgtypes.js';
import { mergeColl } from './comparable.js';
import type { StatementCompiler } from './compiler.js';
import { nameAsText } from './names.js';
import type { Expr, ExprCtx } from './types.js';
import { derived, textForm } from './values.js';

/**
 * Node kinds under which eval_const_expressions folds every argument before
 * anything can prune one: operators, function and aggregate calls, casts,
 * IS [NOT] NULL/TRUE/...; CASE, COALESCE, AND/OR (a constant arm or operand
 * drops the rest), IN and BETWEEN (rewritten to AND/OR) and sublinks are not.
 */
const FOLD_SAFE = new Set(['A_Const', 'A_Expr:AEXPR_OP', 'FuncCall', 'TypeCast', 'NullTest', 'BooleanTest']);

/** Postgres surely folds (so raises) a foldable expression compiled here while planning. */
function foldCertain(this: StatementCompiler, c: ExprCtx): boolean {
  return c.level.top && c.level.outermost === true && this.exprPath.every((k) => FOLD_SAFE.has(k));
}

/**
 * An operation that raises an error in Postgres for some inputs. `fold`:
 * the operation is immutable and its SQLite function computes exactly what
 * Postgres's does, so over foldable arguments the whole is foldable and
 * Postgres raises its error while planning (see `CompiledSelect.planChecks`).
 */
export function errorCapable(this: StatementCompiler, e: Expr, c: ExprCtx, fold = false): Expr {
  if (e.constant) {
    this.prechecks.push(e.sql);
    // Every constant one is listed: one this compiler does not reproduce
    // exactly may still be immutable, folded, and fail first upstream.
    const exact = fold && e.kids.length > 0 && e.kids.every((k) => k.foldable === true);
    this.planChecks.push({ sql: e.sql, exact, certain: exact && foldCertain.call(this, c) });
    return exact ? { ...e, foldable: true } : e;
  }
  if (!c.level.top) throw new NotLocal('expression that may raise an error in a subquery');
  return { ...e, errorProne: true };
}

export function arith(this: StatementCompiler, op: string, left: Expr, right: Expr, c: ExprCtx): Expr {
  if (op === '-' && left.type === Oid.jsonb && !left.unknown) return this.jsonbMinus(left, right, c);
  const money = this.moneyArith(op, left, right, c);
  if (money) return money;
  let l = left;
  let r = right;
  if (l.unknown && r.unknown) throw new NotLocal(`operator is not unique: unknown ${op} unknown`);
  if (l.unknown) l = this.resolveUnknown(l, r.type);
  if (r.unknown) r = this.resolveUnknown(r, l.type);
  const temporal = (t: number): boolean => t === Oid.timestamp || t === Oid.date;
  if (
    (temporal(l.type) && r.type === Oid.interval && (op === '+' || op === '-')) ||
    (l.type === Oid.interval && temporal(r.type) && op === '+')
  ) {
    // timestamp_pl_interval / timestamp_mi_interval; date_pl_interval and date_mi_interval return timestamp.
    const [t, iv] = l.type === Oid.interval ? [r, l] : [l, r];
    const e = derived(
      `${DtFn.timestampInterval}(${t.sql}, ${iv.sql}, ${op === '-' ? -1 : 1})`,
      Oid.timestamp,
      -1,
      [l, r],
    );
    return this.errorCapable(e, c);
  }
  if (
    (l.type === Oid.time && r.type === Oid.interval && (op === '+' || op === '-')) ||
    (l.type === Oid.interval && r.type === Oid.time && op === '+')
  ) {
    const [t, iv] = l.type === Oid.interval ? [r, l] : [l, r];
    const e = derived(`${DtFn.timeInterval}(${t.sql}, ${iv.sql}, ${op === '-' ? -1 : 1})`, Oid.time, -1, [
      l,
      r,
    ]);
    return this.errorCapable(e, c);
  }
  if (l.type === Oid.time && r.type === Oid.time && op === '-') {
    const e = derived(`${DtFn.timeDiff}(${l.sql}, ${r.sql})`, Oid.interval, -1, [l, r]);
    return this.errorCapable(e, c);
  }
  if (
    op === '+' &&
    ((l.type === Oid.date && r.type === Oid.time) || (l.type === Oid.time && r.type === Oid.date))
  ) {
    const [d, t] = l.type === Oid.date ? [l, r] : [r, l];
    const e = derived(`${DtFn.dateTime}(${d.sql}, ${t.sql})`, Oid.timestamp, -1, [l, r]);
    return this.errorCapable(e, c);
  }
  if (l.type === Oid.timestamptz && r.type === Oid.timestamptz && op === '-') {
    // An instant minus an instant: the session's zone plays no part.
    const e = derived(`${DtFn.timestamptzDiff}(${l.sql}, ${r.sql})`, Oid.interval, -1, [l, r]);
    return this.errorCapable(e, c);
  }
  if (l.type === Oid.timestamp && r.type === Oid.timestamp && op === '-') {
    const e = derived(`${DtFn.timestampDiff}(${l.sql}, ${r.sql})`, Oid.interval, -1, [l, r]);
    return this.errorCapable(e, c);
  }
  if (l.type === Oid.date || r.type === Oid.date) return this.dateArith(op, left, right, c);
  if (l.type === Oid.interval && r.type === Oid.interval && (op === '+' || op === '-')) {
    // interval_pl / interval_mi, field by field (overflow and ±infinity per timestamp.c).
    const e = derived(`${DtFn.intervalArith}('${op}', ${l.sql}, ${r.sql})`, Oid.interval, -1, [l, r]);
    return this.errorCapable(e, c);
  }
  // float4 factors are forwarded: the stored double need not be the float4's exact value.
  const factor = (e: Expr): boolean => isIntType(e.type) || e.type === Oid.numeric || e.type === Oid.float8;
  if (
    (l.type === Oid.interval && factor(r) && (op === '*' || op === '/')) ||
    (factor(l) && r.type === Oid.interval && op === '*')
  ) {
    // interval_mul / mul_d_interval / interval_div: the factor as float8 (the implicit cast).
    const [iv, f] = l.type === Oid.interval ? [l, r] : [r, l];
    const kind = f.type === Oid.float8 ? 'float8' : 'exact';
    const e = derived(`${DtFn.intervalScaleBy}('${op}', ${iv.sql}, ${f.sql}, '${kind}')`, Oid.interval, -1, [
      l,
      r,
    ]);
    return this.errorCapable(e, c);
  }
  const numericSide = (e: Expr): boolean => isIntType(e.type) || e.type === Oid.numeric;
  if (
    (l.type === Oid.numeric || r.type === Oid.numeric) &&
    numericSide(l) &&
    numericSide(r) &&
    (op === '+' || op === '-' || op === '*')
  ) {
    // numeric_add/sub/mul: exact, result scale max(s1, s2) or s1 + s2 (an
    // integer operand is cast to numeric with scale 0).
    const ln = this.coerce(l, Oid.numeric);
    const rn = this.coerce(r, Oid.numeric);
    const e = derived(`${SqlFn.numericArith}('${op}', ${ln.sql}, ${rn.sql})`, Oid.numeric, -1, [ln, rn]);
    return this.errorCapable(e, c, true);
  }
  if (op === '%') {
    const mod = this.numericModulo(l, r, c);
    if (mod) return mod;
  }
  const float = this.floatArith(op, l, r, c);
  if (float) return float;
  if (!isIntType(l.type) || !isIntType(r.type))
    throw new NotLocal(`operator ${op} on ${l.typeName} and ${r.typeName}`);
  const type = (INT_BITS[l.type] as number) >= (INT_BITS[r.type] as number) ? l.type : r.type;
  const e = derived(`${SqlFn.intArith}('${op}', ${l.sql}, ${r.sql}, ${INT_BITS[type]})`, type, -1, [l, r]);
  return this.errorCapable(e, c, true);
}

/** date + int4, int4 + date, date - int4 (date_pli, date_mii), date - date (date_mi, int4). */
export function dateArith(this: StatementCompiler, op: string, left: Expr, right: Expr, c: ExprCtx): Expr {
  const l = left;
  let r = right;
  // `date - 'literal'`: the unknown side takes the known side's type (date - date).
  if (op === '-' && l.type === Oid.date && r.unknown) r = this.resolveUnknown(r, Oid.date);
  if (l.unknown || r.unknown) throw new NotLocal(`operator ${op} on date and unknown`);
  const int4ish = (e: Expr): boolean => e.type === Oid.int4 || e.type === Oid.int2;
  let e: Expr;
  if (op === '+' && l.type === Oid.date && int4ish(r)) {
    e = derived(`${SqlFn.dateAdd}(${l.sql}, ${r.sql})`, Oid.date, -1, [l, r]);
  } else if (op === '+' && int4ish(l) && r.type === Oid.date) {
    e = derived(`${SqlFn.dateAdd}(${r.sql}, ${l.sql})`, Oid.date, -1, [l, r]);
  } else if (op === '-' && l.type === Oid.date && int4ish(r)) {
    e = derived(`${SqlFn.dateAdd}(${l.sql}, -(${r.sql}))`, Oid.date, -1, [l, r]);
  } else if (op === '-' && l.type === Oid.date && r.type === Oid.date) {
    e = derived(`${SqlFn.dateDiff}(${l.sql}, ${r.sql})`, Oid.int4, -1, [l, r]);
  } else throw new NotLocal(`operator ${op} on ${l.typeName} and ${r.typeName}`);
  return this.errorCapable(e, c);
}

export function negate(this: StatementCompiler, arg: Expr, c: ExprCtx): Expr {
  // `- 'x'`: the operator is not unique (numeric and interval candidates).
  if (arg.unknown) throw new NotLocal('operator is not unique: - unknown');
  const a = arg;
  if (a.type === Oid.numeric) {
    return derived(`${SqlFn.numericArith}('-', '0', ${a.sql})`, Oid.numeric, -1, [a]);
  }
  if (a.type === Oid.interval) {
    return this.errorCapable(derived(`${DtFn.intervalNeg}(${a.sql})`, Oid.interval, -1, [a]), c);
  }
  const float = this.floatNegate(a);
  if (float) return float;
  if (!isIntType(a.type)) throw new NotLocal(`operator - on ${a.typeName}`);
  return this.errorCapable(
    derived(`${SqlFn.intNeg}(${a.sql}, ${INT_BITS[a.type]})`, a.type, -1, [a]),
    c,
    true,
  );
}

/** `||`: text concatenation, or anynonarray || text via the type's text form. */
export function concat(this: StatementCompiler, left: Expr, right: Expr): Expr {
  const jsonb = this.jsonbConcat(left, right);
  if (jsonb) return jsonb;
  const bytea = this.byteaConcat(left, right);
  if (bytea) return bytea;
  const bits = this.bitConcat(left, right);
  if (bits) return bits;
  if ([left, right].some((e) => !e.unknown && TYPES.get(e.type)?.elem !== undefined)) {
    return this.arrayConcat(left, right);
  }
  let l = left;
  let r = right;
  if (l.unknown && r.unknown) {
    l = this.resolveUnknown(l, Oid.text);
    r = this.resolveUnknown(r, Oid.text);
  }
  const textLike = (e: Expr): boolean => e.type === Oid.text || e.type === Oid.varchar;
  if (l.unknown) l = this.resolveUnknown(l, Oid.text);
  if (r.unknown) r = this.resolveUnknown(r, Oid.text);
  // name || x is textcat (name → text is implicit), the name's collation kept.
  l = nameAsText(l);
  r = nameAsText(r);
  if (!textLike(l) && !textLike(r)) throw new NotLocal(`operator || on ${l.typeName} and ${r.typeName}`);
  const e = derived(`(${textForm(l)} || ${textForm(r)})`, Oid.text, -1, [l, r]);
  e.coll = mergeColl(l, r);
  return e;
}
