/**
 * bit(n) and bit varying(n): constants B'0101' and X'1F', casts, the
 * operators & | # ~ << >> ||, and length, octet_length, bit_count,
 * position, substring, overlay, get_bit and set_bit (values and their
 * SQLite functions: src/sql/bit-strings.ts). Result types are Postgres's:
 * every operator and function but || (varbit) returns bit, without a typmod.
 * Runtime errors (sizes that differ, an index out of range) abort the local
 * run, so upstream raises them.
 */
import type { A_Const } from 'libpg-query';
import { NotLocal } from '../../errors.js';
import { BitFn, bitInput, bitResize } from '../bit-strings.js';
import { INT_BITS, isIntType, Oid } from '../pgtypes.js';
import type { StatementCompiler } from './compiler.js';
import type { Expr, ExprCtx } from './types.js';
import { constExpr, derived } from './values.js';

export function isBitType(t: number): boolean {
  return t === Oid.bit || t === Oid.varbit;
}

const isBit = (e: Expr): boolean => !e.unknown && isBitType(e.type);

/** A B'...' or X'...' constant (the lexer's `b0101` / `x1F`): bit, typmod -1 (make_const). */
export function bitConstant(this: StatementCompiler, c: A_Const): Expr {
  const text = c.bsval?.bsval ?? '';
  let value: string | null;
  try {
    value = bitInput(text, 'bit string constant');
  } catch (err) {
    value = this.inputFailed(err, c.location);
  }
  return constExpr(this.bindValue(value), Oid.bit);
}

/**
 * A cast to bit(n) or varbit(n) (n = typmod, -1: none). In a SELECT every
 * cast is explicit: a constant is read without the typmod, then bit(n) pads
 * with zeros or truncates and varbit(n) truncates (never an error, unlike
 * an assignment). int4/int8 → bit(n) take the low n bits.
 */
export function bitCastTo(
  this: StatementCompiler,
  arg: Expr,
  type: number,
  typmod: number,
  c: ExprCtx,
): Expr {
  const fixed = type === Oid.bit;
  let src = arg;
  if (src.unknown) {
    if (src.unknown.kind !== 'literal' && src.unknown.kind !== 'null')
      throw new NotLocal('bit string parameter');
    src = this.resolveUnknown(src, type);
  } else if (isIntType(src.type)) {
    if (!fixed || src.type === Oid.int2)
      throw new NotLocal(`cast from ${src.typeName} to ${fixed ? 'bit' : 'varbit'}`);
    // bitfromint4/8 read a missing typmod (`::"bit"`) as 1.
    const n = typmod > 0 ? typmod : 1;
    return derived(`${BitFn.fromInt}(${src.sql}, ${n})`, type, typmod, [src]);
  } else if (src.type === Oid.text || src.type === Oid.varchar) {
    // An I/O cast: bit_in of the text, then the length coercion.
    src = this.errorCapable(derived(`${BitFn.input}(${src.sql})`, type, -1, [src]), c);
  } else if (!isBitType(src.type)) {
    throw new NotLocal(`cast from ${src.typeName} to ${fixed ? 'bit' : 'varbit'}`);
  }
  if (typmod < 0) return derived(src.sql, type, -1, [src]);
  const value = src.constant ? this.binds[src.sql.slice(1)] : undefined;
  if (value?.kind === 'value' && typeof value.value === 'string') {
    const v = bitResize(value.value, fixed, typmod);
    return { ...constExpr(this.bindValue(v), type), typmod, kids: [src] };
  }
  if (src.sql === 'NULL') return { ...constExpr('NULL', type), typmod };
  return derived(`${BitFn.resize}(${src.sql}, ${fixed ? 1 : 0}, ${typmod})`, type, typmod, [src]);
}

/** bit → int4/int8 (bittoint4/bittoint8: more bits than the integer has is 22003 upstream). */
export function bitToInt(this: StatementCompiler, arg: Expr, type: number, c: ExprCtx): Expr {
  if (arg.type !== Oid.bit || type === Oid.int2) throw new NotLocal(`cast from ${arg.typeName} to ${type}`);
  return this.errorCapable(derived(`${BitFn.toInt}(${arg.sql}, ${INT_BITS[type]})`, type, -1, [arg]), c);
}

/** An operand of a bit operator: an untyped literal is read as bit. */
function operand(this: StatementCompiler, e: Expr): Expr {
  return e.unknown ? this.resolveUnknown(e, Oid.bit) : e;
}

/** `a & b`, `a | b`, `a # b`, `a << n`, `a >> n` with a bit string on the left; undefined otherwise. */
export function bitOperator(
  this: StatementCompiler,
  op: string,
  left: Expr,
  right: Expr,
  c: ExprCtx,
): Expr | undefined {
  if (op === '<<' || op === '>>') {
    if (!isBit(left)) return undefined;
    const r = right.unknown ? this.resolveUnknown(right, Oid.int4) : right;
    if (r.type !== Oid.int4 && r.type !== Oid.int2)
      throw new NotLocal(`operator ${op} on bit and ${r.typeName}`);
    const n = op === '<<' ? r.sql : `-(${r.sql})`;
    // SQLite's integers are 64-bit: negating -2147483648 is exact (a shift by more than the length clears all bits, as upstream).
    return derived(`${BitFn.shift}(${left.sql}, ${n})`, Oid.bit, -1, [left, r]);
  }
  if (op !== '&' && op !== '|' && op !== '#') return undefined;
  if (!isBit(left) && !isBit(right)) return undefined;
  const l = operand.call(this, left);
  const r = operand.call(this, right);
  if (!isBit(l) || !isBit(r)) throw new NotLocal(`operator ${op} on ${l.typeName} and ${r.typeName}`);
  // Sizes that differ are 22026 upstream (constants: a precheck, while planning).
  return this.errorCapable(derived(`${BitFn.binary}('${op}', ${l.sql}, ${r.sql})`, Oid.bit, -1, [l, r]), c);
}

/** `~ a`. */
export function bitNot(this: StatementCompiler, arg: Expr): Expr | undefined {
  if (!isBit(arg)) return undefined;
  return derived(`${BitFn.not}(${arg.sql})`, Oid.bit, -1, [arg]);
}

/** `a || b` with a bit string on either side (bitcat: varbit); an untyped side is read as bit. */
export function bitConcat(this: StatementCompiler, left: Expr, right: Expr): Expr | undefined {
  if (!isBit(left) && !isBit(right)) return undefined;
  const l = operand.call(this, left);
  const r = operand.call(this, right);
  if (!isBit(l) || !isBit(r)) throw new NotLocal(`operator || on ${l.typeName} and ${r.typeName}`);
  return derived(`(${l.sql} || ${r.sql})`, Oid.varbit, -1, [l, r]);
}

/** The bit string functions; undefined when the call is not one (a text substring, ...). */
export function bitFunction(
  this: StatementCompiler,
  name: string,
  args: Expr[],
  c: ExprCtx,
): Expr | undefined {
  const [a, b, x, y] = args;
  if (!a) return undefined;
  const int4 = (e: Expr | undefined, what: string): Expr => {
    const t = e?.unknown ? this.resolveUnknown(e, Oid.int4) : e;
    if (t === undefined || (t.type !== Oid.int4 && t.type !== Oid.int2))
      throw new NotLocal(`${what} not an integer`);
    return t;
  };
  switch (name) {
    case 'length':
    case 'bit_length':
    case 'octet_length':
    case 'bit_count': {
      if (args.length !== 1 || !isBit(a)) return undefined;
      if (name === 'bit_count') {
        if ((this.ctx.serverVersionNum ?? 0) < 140000) throw new NotLocal('bit_count() before Postgres 14');
        return derived(`${BitFn.count}(${a.sql})`, Oid.int8, -1, [a]);
      }
      const sql = name === 'octet_length' ? `((length(${a.sql}) + 7) / 8)` : `length(${a.sql})`;
      return derived(sql, Oid.int4, -1, [a]);
    }
    case 'position': {
      // POSITION(b IN a) is position(a, b).
      if (args.length !== 2 || !b || (!isBit(a) && !isBit(b))) return undefined;
      const s = operand.call(this, a);
      const sub = operand.call(this, b);
      if (!isBit(s) || !isBit(sub)) throw new NotLocal('position() of bit and another type');
      return derived(`${BitFn.position}(${s.sql}, ${sub.sql})`, Oid.int4, -1, [s, sub]);
    }
    case 'substring':
    case 'substr': {
      if (name === 'substr' || !isBit(a) || args.length < 2 || args.length > 3) return undefined;
      const start = int4(b, 'substring start');
      const kids = [a, start];
      if (x) kids.push(int4(x, 'substring length'));
      const e = derived(`${BitFn.substr}(${kids.map((k) => k.sql).join(', ')})`, Oid.bit, -1, kids);
      return this.errorCapable(e, c);
    }
    case 'overlay': {
      if (!isBit(a) || args.length < 3 || args.length > 4 || !b) return undefined;
      const placing = operand.call(this, b);
      if (!isBit(placing)) throw new NotLocal(`overlay() placing ${placing.typeName}`);
      const kids = [a, placing, int4(x, 'overlay start')];
      if (y) kids.push(int4(y, 'overlay length'));
      const e = derived(`${BitFn.overlay}(${kids.map((k) => k.sql).join(', ')})`, Oid.bit, -1, kids);
      return this.errorCapable(e, c);
    }
    case 'get_bit':
    case 'set_bit': {
      if (!isBit(a)) return undefined;
      if (args.length !== (name === 'get_bit' ? 2 : 3)) throw new NotLocal(`${name}() with these arguments`);
      const kids = [a, int4(b, `${name}() index`)];
      if (name === 'set_bit') kids.push(int4(x, 'set_bit() value'));
      const sql = `${name === 'get_bit' ? BitFn.getBit : BitFn.setBit}(${kids.map((k) => k.sql).join(', ')})`;
      return this.errorCapable(derived(sql, name === 'get_bit' ? Oid.int4 : Oid.bit, -1, kids), c);
    }
    default:
      return undefined;
  }
}
