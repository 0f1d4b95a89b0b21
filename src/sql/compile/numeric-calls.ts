/**
 * numeric and integer functions (src/sql/numeric-functions.ts): scale,
 * min_scale, trim_scale, abs, floor/ceil/ceiling/sign/trunc of numeric,
 * div, mod, gcd, lcm, factorial; numeric `%` and numeric → integer casts.
 * Arguments resolve as Postgres picks the overload: integers stay integers
 * where an integer overload exists (abs, mod, gcd, lcm), widened to the
 * larger operand; any numeric operand makes the call numeric (an integer is
 * cast with scale 0). The integer arguments of floor, ceil, sign and trunc
 * take the float8 overload (src/sql/compile/floats.ts, tried first); an
 * untyped argument to a function with float8 and numeric overloads is
 * float8's too, so it is forwarded here.
 */
import { NotLocal } from '../../errors.js';
import { SqlFn } from '../functions.js';
import { NUMERIC_FUNCTIONS, NumFn } from '../numeric-functions.js';
import { NumMathFn } from '../numeric-math.js';
import { INT_BITS, isIntType, Oid } from '../pgtypes.js';
import type { StatementCompiler } from './compiler.js';
import type { Expr, ExprCtx } from './types.js';
import { derived } from './values.js';

/** Functions with integer overloads besides numeric; the smallest integer overload each has. */
const INT_OVERLOADS: ReadonlyMap<string, number> = new Map([
  ['abs', Oid.int2],
  ['mod', Oid.int2],
  ['gcd', Oid.int4],
  ['lcm', Oid.int4],
]);

/** Functions of numeric only: integers and untyped literals are cast to numeric. */
const NUMERIC_ONLY = new Set(['scale', 'min_scale', 'trim_scale', 'div']);

const widest = (a: number, b: number): number => ((INT_BITS[a] as number) >= (INT_BITS[b] as number) ? a : b);

function numericCall(this: StatementCompiler, name: string, args: Expr[], c: ExprCtx): Expr {
  const ns = args.map((a) => this.coerce(a, Oid.numeric));
  const sql = `${NumFn.numeric}('${name}', ${ns.map((a) => a.sql).join(', ')})`;
  const type = name === 'scale' || name === 'min_scale' ? Oid.int4 : Oid.numeric;
  const e = derived(sql, type, -1, ns);
  // scale, min_scale and sign raise no error; the rest may overflow or divide by zero.
  return name === 'scale' || name === 'min_scale' || name === 'sign' ? e : this.errorCapable(e, c, true);
}

/**
 * One of NUMERIC_FUNCTIONS, or undefined when the arguments take another
 * family's overload (float8) or are not handled here.
 */
export function numericFunction(
  this: StatementCompiler,
  name: string,
  args: Expr[],
  c: ExprCtx,
): Expr | undefined {
  if (!NUMERIC_FUNCTIONS.has(name)) return undefined;
  const binary = name === 'div' || name === 'mod' || name === 'gcd' || name === 'lcm';
  if (name === 'trunc' && args.length === 2) return truncCall.call(this, args, c);
  if (args.length !== (binary ? 2 : 1)) return undefined;
  const known = args.filter((a) => !a.unknown);
  for (const a of known) {
    if (a.type !== Oid.numeric && !isIntType(a.type)) return undefined;
  }
  if (NUMERIC_ONLY.has(name)) return numericCall.call(this, name, args, c);
  if (known.length === 0) throw new NotLocal(`${name}() of untyped arguments (overload not unique)`);
  if (known.some((a) => a.type === Oid.numeric)) return numericCall.call(this, name, args, c);
  const minInt = INT_OVERLOADS.get(name);
  // floor/ceil/sign of an integer: the float8 overload (not reached: floats.ts takes it).
  if (minInt === undefined) return undefined;
  // gcd(int2, int2): int4, int8 and numeric fit equally well, none preferred (42725).
  if (minInt === Oid.int4 && known.every((a) => a.type === Oid.int2))
    throw new NotLocal(`${name}() of smallint arguments (overload not unique)`);
  const type = known.reduce((t, a) => widest(t, a.type), minInt);
  const ints = args.map((a) => this.coerce(a, type));
  const bits = INT_BITS[type] as number;
  if (name === 'mod') {
    const [l, r] = ints as [Expr, Expr];
    return this.errorCapable(
      derived(`${SqlFn.intArith}('%', ${l.sql}, ${r.sql}, ${bits})`, type, -1, ints),
      c,
      true,
    );
  }
  const [a, b] = ints as [Expr, Expr | undefined];
  return this.errorCapable(
    derived(`${NumFn.int}('${name}', ${bits}, ${a.sql}, ${b?.sql ?? '0'})`, type, -1, ints),
    c,
    true,
  );
}

/** trunc(numeric, int4): the digit count a constant, as for round(). */
function truncCall(this: StatementCompiler, args: Expr[], c: ExprCtx): Expr {
  const [x, s] = args as [Expr, Expr];
  if (!x.unknown && x.type !== Oid.numeric && !isIntType(x.type))
    throw new NotLocal(`trunc() of ${x.typeName}`);
  const v =
    s.unknown || (s.type !== Oid.int4 && s.type !== Oid.int2) ? undefined : this.binds[s.sql.slice(1)];
  if (v?.kind !== 'value' || typeof v.value !== 'bigint')
    throw new NotLocal('trunc() with a non-constant scale');
  if (v.value < -1000n || v.value > 1000n) throw new NotLocal('trunc() to more than 1000 digits');
  const n = this.coerce(x, Oid.numeric);
  return this.errorCapable(
    derived(`${NumFn.numeric}('trunc', ${n.sql}, ${v.value})`, Oid.numeric, -1, [n, s]),
    c,
  );
}

/** Number types whose pg_proc has a conversion function named after the target, from each other number type. */
const NUMBER_TYPES: ReadonlyMap<string, number> = new Map([
  ['int2', Oid.int2],
  ['int4', Oid.int4],
  ['int8', Oid.int8],
  ['float4', Oid.float4],
  ['float8', Oid.float8],
  ['numeric', Oid.numeric],
]);

/**
 * float8(x), int4(x), numeric(x)...: the conversion functions (i4tod,
 * numeric_int4, ...) the casts call, so the same answer as a cast of a
 * typed number of another number type. An untyped or same-typed argument
 * is the special cast-by-function-name rule: forwarded.
 */
export function numberConversionCall(
  this: StatementCompiler,
  name: string,
  args: Expr[],
  c: ExprCtx,
): Expr | undefined {
  const type = NUMBER_TYPES.get(name);
  if (type === undefined || args.length !== 1) return undefined;
  const a = args[0] as Expr;
  if (a.unknown || a.type === type || ![...NUMBER_TYPES.values()].includes(a.type)) return undefined;
  return this.castTo(a, type, -1, c);
}

/** factorial(int8): an integer or untyped argument. */
export function factorialCall(this: StatementCompiler, args: Expr[], c: ExprCtx): Expr {
  if (args.length !== 1) throw new NotLocal('factorial() with these arguments');
  const a = this.coerce(args[0] as Expr, Oid.int8);
  if (a.type !== Oid.int8) throw new NotLocal(`factorial() of ${a.typeName}`);
  return this.errorCapable(derived(`${NumFn.factorial}(${a.sql})`, Oid.numeric, -1, [a]), c);
}

/** numeric % numeric (an integer side cast to numeric), or undefined when neither side is numeric. */
export function numericModulo(this: StatementCompiler, l: Expr, r: Expr, c: ExprCtx): Expr | undefined {
  const side = (e: Expr): boolean => isIntType(e.type) || e.type === Oid.numeric;
  if (l.type !== Oid.numeric && r.type !== Oid.numeric) return undefined;
  if (!side(l) || !side(r)) return undefined;
  return numericCall.call(this, 'mod', [l, r], c);
}

/** numeric::int2/int4/int8 (numeric_int2...): rounded half away from zero; NaN, infinities and overflow raise. */
export function numericToIntCast(this: StatementCompiler, arg: Expr, type: number, c: ExprCtx): Expr {
  return this.errorCapable(
    derived(`${NumFn.toInt}(${INT_BITS[type]}, ${arg.sql})`, type, -1, [arg]),
    c,
    true,
  );
}

/** numeric math functions (src/sql/numeric-math.ts) by SQL name: log10 is log's other name, pow power's. */
const MATH_CALLS: ReadonlyMap<string, { name: string; arity: number }> = new Map([
  ['sqrt', { name: 'sqrt', arity: 1 }],
  ['exp', { name: 'exp', arity: 1 }],
  ['ln', { name: 'ln', arity: 1 }],
  ['log10', { name: 'log', arity: 1 }],
  ['log', { name: 'log', arity: 1 }],
  ['power', { name: 'power', arity: 2 }],
  ['pow', { name: 'power', arity: 2 }],
]);

/**
 * sqrt, exp, ln, log/log10 of a numeric argument, log(b, x) (numeric only),
 * power(x, y) / x ^ y with a numeric operand: undefined for the float8
 * overloads (an integer, float or untyped argument of the one-argument
 * functions, power() without a numeric operand or with a float one), which
 * src/sql/compile/floats.ts takes or forwards.
 */
export function numericMathCall(
  this: StatementCompiler,
  name: string,
  args: Expr[],
  c: ExprCtx,
): Expr | undefined {
  const fn = MATH_CALLS.get(name);
  if (!fn) return undefined;
  const two = fn.name === 'power' || (fn.name === 'log' && name === 'log' && args.length === 2);
  if (args.length !== (two ? 2 : 1)) return undefined;
  const numberLike = (a: Expr): boolean => !!a.unknown || a.type === Oid.numeric || isIntType(a.type);
  if (!args.every(numberLike)) return undefined;
  // log(b, x) exists for numeric only; the others need a numeric operand to pick the numeric overload.
  if (!(fn.name === 'log' && two) && !args.some((a) => !a.unknown && a.type === Oid.numeric))
    return undefined;
  const ns = args.map((a) => this.coerce(a, Oid.numeric));
  const version = this.ctx.serverVersionNum ?? 0;
  const sql = `${NumMathFn.call}('${fn.name}', ${version}, ${ns.map((a) => a.sql).join(', ')})`;
  return this.errorCapable(derived(sql, Oid.numeric, -1, ns), c);
}
