/**
 * float4/float8 expressions: casts to and from the other numeric types,
 * + - * /, unary minus, abs/@, floor/ceil/trunc/round/sign/sqrt, and
 * power() / ^, exp, ln, log/log10 and cbrt/||/ where the result is exactly
 * specified (src/sql/float-ops.ts says which results are computed here and
 * why the rest is forwarded).
 *
 * Operator resolution follows Postgres: float4 op float4 is float4 (float4pl
 * ...), any other mix with a float is float8 (float48pl, float8pl with the
 * integer or numeric side cast implicitly to float8); power() and the
 * functions above exist for float8 only (float4 and integers are promoted).
 */
import { NotLocal } from '../../errors.js';
import { FloatFn } from '../float-ops.js';
import { INT_BITS, isIntType, Oid } from '../pgtypes.js';
import type { StatementCompiler } from './compiler.js';
import type { Expr, ExprCtx } from './types.js';
import { derived } from './values.js';

const isFloat = (t: number): boolean => t === Oid.float4 || t === Oid.float8;

/** A typed numeric value as float8, or undefined when that needs a cast this module does not do. */
export function asFloat8(this: StatementCompiler, e: Expr, c: ExprCtx): Expr {
  if (e.unknown) return this.resolveUnknown(e, Oid.float8);
  if (e.type === Oid.float8) return e;
  if (e.type === Oid.float4) return derived(`${FloatFn.float4To8}(${e.sql})`, Oid.float8, -1, [e]);
  if (isIntType(e.type)) return this.coerce(e, Oid.float8);
  if (e.type === Oid.numeric) {
    // numeric_float8 overflows (22003) beyond the double range.
    return this.errorCapable(derived(`${FloatFn.fromNumeric}(8, ${e.sql})`, Oid.float8, -1, [e]), c);
  }
  throw new NotLocal(`${e.typeName} to float8`);
}

/** Casts into or out of float4/float8; undefined for pairs handled elsewhere (or not at all). */
export function floatCast(this: StatementCompiler, arg: Expr, type: number, c: ExprCtx): Expr | undefined {
  if (type === Oid.float8 && (arg.type === Oid.numeric || arg.type === Oid.float4)) {
    return this.asFloat8(arg, c);
  }
  if (type === Oid.float4) {
    if (arg.type === Oid.float8) {
      return this.errorCapable(derived(`${FloatFn.float8To4}(${arg.sql})`, Oid.float4, -1, [arg]), c);
    }
    if (arg.type === Oid.numeric) {
      return this.errorCapable(derived(`${FloatFn.fromNumeric}(4, ${arg.sql})`, Oid.float4, -1, [arg]), c);
    }
    if (isIntType(arg.type)) return derived(`${FloatFn.intToFloat4}(${arg.sql})`, Oid.float4, -1, [arg]);
  }
  if (isFloat(arg.type) && isIntType(type)) {
    return this.errorCapable(
      derived(
        `${FloatFn.toInt}(${INT_BITS[type]}, ${arg.type === Oid.float4 ? 4 : 8}, ${arg.sql})`,
        type,
        -1,
        [arg],
      ),
      c,
      true,
    );
  }
  return undefined;
}

/** + - * / with a float operand (both already typed); undefined when neither side is a float. */
export function floatArith(
  this: StatementCompiler,
  op: string,
  l: Expr,
  r: Expr,
  c: ExprCtx,
): Expr | undefined {
  if (!isFloat(l.type) && !isFloat(r.type)) return undefined;
  if (op === '%') throw new NotLocal(`operator % on ${l.typeName} and ${r.typeName}`);
  const numeric = (e: Expr): boolean => isIntType(e.type) || e.type === Oid.numeric || isFloat(e.type);
  if (!numeric(l) || !numeric(r)) throw new NotLocal(`operator ${op} on ${l.typeName} and ${r.typeName}`);
  if (l.type === Oid.float4 && r.type === Oid.float4) {
    const e = derived(`${FloatFn.arith}('${op}', 4, ${l.sql}, ${r.sql})`, Oid.float4, -1, [l, r]);
    return this.errorCapable(e, c, true);
  }
  const a = this.asFloat8(l, c);
  const b = this.asFloat8(r, c);
  const e = derived(`${FloatFn.arith}('${op}', 8, ${a.sql}, ${b.sql})`, Oid.float8, -1, [a, b]);
  return this.errorCapable(e, c, true);
}

/** Unary minus of a float (float4um / float8um: no error). */
export function floatNegate(this: StatementCompiler, a: Expr): Expr | undefined {
  if (!isFloat(a.type)) return undefined;
  return derived(`${FloatFn.neg}(${a.type === Oid.float4 ? 4 : 8}, ${a.sql})`, a.type, -1, [a]);
}

/** `@ x` / abs(x) of a float (float4abs / float8abs). */
export function floatAbs(this: StatementCompiler, a: Expr): Expr | undefined {
  if (!isFloat(a.type)) return undefined;
  return derived(`${FloatFn.abs}(${a.type === Oid.float4 ? 4 : 8}, ${a.sql})`, a.type, -1, [a]);
}

/** power(x, y) / x ^ y on float8 (dpow); numeric operands make it numeric_power: not here. */
export function floatPower(this: StatementCompiler, x: Expr, y: Expr, c: ExprCtx): Expr {
  let l = x;
  let r = y;
  if (l.unknown && r.unknown) {
    l = this.resolveUnknown(l, Oid.float8);
    r = this.resolveUnknown(r, Oid.float8);
  }
  const ok = (e: Expr): boolean => !!e.unknown || isIntType(e.type) || isFloat(e.type);
  if (!ok(l) || !ok(r)) throw new NotLocal(`power() of ${l.typeName} and ${r.typeName}`);
  const a = this.asFloat8(l, c);
  const b = this.asFloat8(r, c);
  return this.errorCapable(derived(`${FloatFn.pow}(${a.sql}, ${b.sql})`, Oid.float8, -1, [a, b]), c);
}

const FLOAT8_UNARY = new Set(['floor', 'ceil', 'ceiling', 'trunc', 'round', 'sign', 'sqrt']);
/** float8 functions served for their special arguments only (src/sql/float-ops.ts). */
const FLOAT8_LIBM = new Set(['exp', 'ln', 'log', 'log10', 'cbrt']);

/**
 * The float8 functions above called with one float argument (an integer
 * argument resolves to the float8 variant too: float8 is the preferred
 * numeric type). Undefined for anything else, left to the other families.
 */
export function floatFunction(
  this: StatementCompiler,
  name: string,
  args: Expr[],
  c: ExprCtx,
): Expr | undefined {
  if (name === 'power' || name === 'pow') {
    if (args.length !== 2) return undefined;
    const [x, y] = args as [Expr, Expr];
    if (x.type === Oid.numeric || y.type === Oid.numeric) return undefined;
    return this.floatPower(x, y, c);
  }
  if (args.length !== 1) return undefined;
  const a = args[0] as Expr;
  if (a.unknown) return undefined;
  if (name === 'abs') return this.floatAbs(a);
  if (!FLOAT8_UNARY.has(name) && !FLOAT8_LIBM.has(name)) return undefined;
  if (!isFloat(a.type) && !isIntType(a.type)) return undefined;
  const f = this.asFloat8(a, c);
  const e = derived(`${FloatFn.unary}('${name}', ${f.sql})`, Oid.float8, -1, [f]);
  return name === 'sqrt' || FLOAT8_LIBM.has(name) ? this.errorCapable(e, c) : e;
}
