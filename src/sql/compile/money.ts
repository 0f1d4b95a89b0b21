/**
 * money: constants, casts from and to int4/int8/numeric/text, + - between
 * money values, * / by integers and floats, money / money, comparisons, sum,
 * min and max (values and SQLite functions: src/sql/money.ts). Anything
 * that reads or makes a money value follows lc_monetary, so it is local only
 * when upstream's is C or POSIX (`numericLocaleC`: lc_numeric's too),
 * outputs, comparisons and groups of stored values included (they assume its format). Overflow and
 * division by zero abort the local run, so upstream raises them.
 */
import { NotLocal } from '../../errors.js';
import { SqlFn } from '../functions.js';
import { MoneyFn } from '../money.js';
import { isIntType, Oid } from '../pgtypes.js';
import { MONEY_LOCALE_UNKNOWN } from './comparable.js';
import type { StatementCompiler } from './compiler.js';
import type { Expr, ExprCtx } from './types.js';
import { aggExpr, derived } from './values.js';

export function requireMoneyLocale(this: StatementCompiler): void {
  if (!this.ctx.numericLocaleC) throw new NotLocal(MONEY_LOCALE_UNKNOWN);
}

const isMoney = (e: Expr): boolean => !e.unknown && e.type === Oid.money;
const isFloat = (e: Expr): boolean => !e.unknown && (e.type === Oid.float8 || e.type === Oid.float4);

/** A cast to money (int4_cash, int8_cash, numeric_cash, cash_in), or from money (cash_numeric); undefined if neither. */
export function moneyCast(this: StatementCompiler, arg: Expr, type: number, c: ExprCtx): Expr | undefined {
  if (type === Oid.money) {
    this.requireMoneyLocale();
    if (arg.unknown) return this.resolveUnknown(arg, Oid.money);
    if (arg.type === Oid.money) return arg;
    if (arg.type === Oid.int4 || arg.type === Oid.int8) {
      return this.errorCapable(derived(`${MoneyFn.fromInt}(${arg.sql})`, Oid.money, -1, [arg]), c);
    }
    if (arg.type === Oid.numeric) {
      return this.errorCapable(derived(`${MoneyFn.fromNumeric}(${arg.sql})`, Oid.money, -1, [arg]), c);
    }
    throw new NotLocal(`cast from ${arg.typeName} to money`);
  }
  if (!isMoney(arg)) return undefined;
  if (type === Oid.numeric) {
    this.requireMoneyLocale();
    return derived(`${MoneyFn.toNumeric}(${arg.sql})`, Oid.numeric, -1, [arg]);
  }
  if (type === Oid.text || type === Oid.varchar) {
    // cash_out: the stored text.
    const e = derived(arg.sql, type, -1, [arg]);
    e.coll = 'default';
    return e;
  }
  throw new NotLocal(`cast from money to ${type}`);
}

/** Arithmetic with a money operand (cash_pl, cash_mi, cash_mul_*, cash_div_*, cash_div_cash); undefined without one. */
export function moneyArith(
  this: StatementCompiler,
  op: string,
  left: Expr,
  right: Expr,
  c: ExprCtx,
): Expr | undefined {
  if (!isMoney(left) && !isMoney(right)) return undefined;
  this.requireMoneyLocale();
  let l = left;
  let r = right;
  if (op === '+' || op === '-') {
    if (l.unknown) l = this.resolveUnknown(l, Oid.money);
    if (r.unknown) r = this.resolveUnknown(r, Oid.money);
    if (!isMoney(l) || !isMoney(r)) throw new NotLocal(`operator ${op} on ${l.typeName} and ${r.typeName}`);
    return this.errorCapable(
      derived(`${MoneyFn.arith}('${op}', ${l.sql}, ${r.sql})`, Oid.money, -1, [l, r]),
      c,
    );
  }
  if (op !== '*' && op !== '/') throw new NotLocal(`operator ${op} on money`);
  if (op === '/' && isMoney(l) && r.unknown) r = this.resolveUnknown(r, Oid.money);
  if (op === '/' && isMoney(l) && isMoney(r)) {
    return this.errorCapable(derived(`${MoneyFn.ratio}(${l.sql}, ${r.sql})`, Oid.float8, -1, [l, r]), c);
  }
  // money * factor, factor * money, money / factor.
  const [m, f] = isMoney(l) ? [l, r] : [r, l];
  if (op === '/' && !isMoney(l)) throw new NotLocal(`operator / on ${l.typeName} and money`);
  if (!f.unknown && isIntType(f.type)) {
    return this.errorCapable(
      derived(`${MoneyFn.intArith}('${op}', ${m.sql}, ${f.sql})`, Oid.money, -1, [l, r]),
      c,
    );
  }
  if (isFloat(f)) {
    const bits = f.type === Oid.float4 ? 4 : 8;
    return this.errorCapable(
      derived(`${MoneyFn.floatArith}('${op}', ${m.sql}, ${f.sql}, ${bits})`, Oid.money, -1, [l, r]),
      c,
    );
  }
  throw new NotLocal(`operator ${op} on ${l.typeName} and ${r.typeName}`);
}

/** sum/min/max of money (cash_pl; cashsmaller/cashlarger by the cents). */
export function moneyAggregate(this: StatementCompiler, name: string, a: Expr): Expr | undefined {
  if (!isMoney(a)) return undefined;
  this.requireMoneyLocale();
  if (name === 'sum') return aggExpr(`${MoneyFn.sum}(${a.sql})`, Oid.money);
  if (name === 'min' || name === 'max') {
    return aggExpr(
      `${SqlFn.extreme}(${name === 'min' ? -1 : 1}, ${MoneyFn.cents}(${a.sql}), ${a.sql})`,
      Oid.money,
    );
  }
  return undefined;
}

/** cashlarger(money, money) / cashsmaller(money, money). */
export function moneyFunction(this: StatementCompiler, name: string, args: Expr[]): Expr | undefined {
  if (name !== 'cashlarger' && name !== 'cashsmaller') return undefined;
  if (args.length !== 2) return undefined;
  this.requireMoneyLocale();
  const [a, b] = args.map((e) => this.resolveUnknown(e, Oid.money)) as [Expr, Expr];
  if (!isMoney(a) || !isMoney(b)) throw new NotLocal(`${name}() of other than money`);
  // Ties keep the first argument (cashlarger: c1 > c2 ? c1 : c2).
  const cmp = name === 'cashlarger' ? '>' : '<';
  const sql = `(CASE WHEN ${a.sql} IS NULL OR ${b.sql} IS NULL THEN NULL WHEN ${MoneyFn.cents}(${a.sql}) ${cmp} ${MoneyFn.cents}(${b.sql}) THEN ${a.sql} ELSE ${b.sql} END)`;
  return derived(sql, Oid.money, -1, [a, b]);
}
