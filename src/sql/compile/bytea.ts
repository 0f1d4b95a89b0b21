/**
 * bytea operators, casts and functions, over the stored hex text
 * (src/sql/bytea.ts). Served: `||`, LIKE / NOT LIKE (with ESCAPE), casts
 * text ⇄ bytea, length/octet_length/bit_length, substring/substr, position,
 * overlay, btrim/trim (ltrim/rtrim and bit_count from Postgres 14),
 * encode/decode (hex, base64, escape), md5, sha224/256/384/512,
 * get_byte/set_byte/get_bit/set_bit.
 *
 * A function is taken as the bytea overload only when Postgres would pick
 * it: an argument typed bytea, or (for the functions whose only overload
 * takes bytea: encode, sha*) an untyped literal. Everything else is left
 * to the text functions or forwarded. The session's bytea_output must be
 * hex for any local answer (render.ts), so bytea → text is the stored text.
 */
import { NotLocal } from '../../errors.js';
import { ByteaFn, storeBytea } from '../bytea.js';
import { Oid } from '../pgtypes.js';
import type { StatementCompiler } from './compiler.js';
import type { Expr, ExprCtx } from './types.js';
import { derived } from './values.js';

const isBytea = (e: Expr | undefined): boolean => e !== undefined && !e.unknown && e.type === Oid.bytea;

/** The SQL of a stored bytea's byte count (two hex digits a byte after `\x`). */
const octets = (sql: string): string => `((length(${sql}) - 2) / 2)`;

/** bytea || bytea (byteacat); an untyped side is bytea. Undefined when neither side is bytea. */
export function byteaConcat(this: StatementCompiler, left: Expr, right: Expr): Expr | undefined {
  if (!isBytea(left) && !isBytea(right)) return undefined;
  const l = this.resolveUnknown(left, Oid.bytea);
  const r = this.resolveUnknown(right, Oid.bytea);
  // bytea || text is textanycat's text (the bytea's hex output); not served.
  if (l.type !== Oid.bytea || r.type !== Oid.bytea)
    throw new NotLocal(`operator || on ${l.typeName} and ${r.typeName}`);
  return derived(`(${l.sql} || substr(${r.sql}, 3))`, Oid.bytea, -1, [l, r]);
}

/**
 * bytea LIKE (bytealike: byte by byte) when either side is bytea; the
 * ESCAPE argument goes through like_escape(bytea, bytea). Undefined when
 * neither side is bytea.
 */
export function byteaLikeExpr(
  this: StatementCompiler,
  left: Expr,
  pattern: Expr,
  escapeArg: Expr | undefined,
  negated: boolean,
  ilike: boolean,
  c: ExprCtx,
): Expr | undefined {
  if (!isBytea(left) && !isBytea(pattern)) return undefined;
  if (ilike) throw new NotLocal('ILIKE on bytea');
  const l = this.resolveUnknown(left, Oid.bytea);
  const p = this.resolveUnknown(pattern, Oid.bytea);
  if (l.type !== Oid.bytea || p.type !== Oid.bytea)
    throw new NotLocal(`LIKE on ${l.typeName} and ${p.typeName}`);
  const kids = [l, p];
  let esc = `'${storeBytea(Buffer.from('\\'))}'`;
  if (escapeArg) {
    const e = this.resolveUnknown(escapeArg, Oid.bytea);
    if (e.type !== Oid.bytea) throw new NotLocal('ESCAPE of a bytea pattern not bytea');
    esc = e.sql;
    kids.push(e);
  }
  const sql = `${ByteaFn.like}(${l.sql}, ${p.sql}, ${esc})`;
  return this.errorCapable(derived(negated ? `(NOT ${sql})` : sql, Oid.bool, -1, kids), c);
}

/** text/varchar → bytea (byteain at run time) and bytea → text/varchar (byteaout, hex). */
export function byteaCast(this: StatementCompiler, arg: Expr, type: number, c: ExprCtx): Expr | undefined {
  if (type === Oid.bytea && (arg.type === Oid.text || arg.type === Oid.varchar)) {
    return this.errorCapable(derived(`${ByteaFn.input}(${arg.sql})`, Oid.bytea, -1, [arg]), c);
  }
  if (arg.type === Oid.bytea && (type === Oid.text || type === Oid.varchar)) {
    const e = derived(arg.sql, type, -1, [arg]);
    e.coll = 'default';
    return e;
  }
  return undefined;
}

const DIGESTS: ReadonlyMap<string, string> = new Map([
  ['sha224', 'sha224'],
  ['sha256', 'sha256'],
  ['sha384', 'sha384'],
  ['sha512', 'sha512'],
]);

/** The bytea function `name` of `args`, or undefined when Postgres would not pick a bytea overload. */
export function byteaFunction(
  this: StatementCompiler,
  name: string,
  args: Expr[],
  c: ExprCtx,
): Expr | undefined {
  const version = this.ctx.serverVersionNum ?? 0;
  const [a0, a1, a2, a3] = args;
  const int = (e: Expr | undefined, type: number, what: string): Expr => {
    const r = this.coerce(e as Expr, type);
    if (r.type !== type) throw new NotLocal(`${what} argument of type ${r.typeName}`);
    return r;
  };
  const text = (e: Expr | undefined): Expr => {
    const t = this.resolveUnknown(e as Expr, Oid.text);
    if (t.type !== Oid.text && t.type !== Oid.varchar) throw new NotLocal(`${name}() of ${t.typeName}`);
    return t;
  };
  const bytea = (e: Expr | undefined): Expr => {
    const t = this.resolveUnknown(e as Expr, Oid.bytea);
    if (t.type !== Oid.bytea) throw new NotLocal(`${name}() of ${t.typeName}`);
    return t;
  };
  const digest = DIGESTS.get(name);
  if (digest !== undefined) {
    if (args.length !== 1) return undefined;
    const b = bytea(a0);
    return derived(`${ByteaFn.digest}('${digest}', ${b.sql})`, Oid.bytea, -1, [b]);
  }
  switch (name) {
    case 'encode': {
      if (args.length !== 2) return undefined;
      const b = bytea(a0);
      const f = text(a1);
      const e = derived(`${ByteaFn.encode}(${b.sql}, ${f.sql})`, Oid.text, -1, [b, f]);
      e.coll = 'default';
      return this.errorCapable(e, c);
    }
    case 'decode': {
      if (args.length !== 2) return undefined;
      const t = text(a0);
      const f = text(a1);
      return this.errorCapable(derived(`${ByteaFn.decode}(${t.sql}, ${f.sql})`, Oid.bytea, -1, [t, f]), c);
    }
    case 'md5': {
      if (args.length !== 1) return undefined;
      if (isBytea(a0)) {
        const e = derived(`${ByteaFn.digest}('md5', ${(a0 as Expr).sql})`, Oid.text, -1, [a0 as Expr]);
        e.coll = 'default';
        return e;
      }
      const t = this.textOperand(a0 as Expr, 'md5()');
      const e = derived(`${ByteaFn.md5Text}(${t.sql})`, Oid.text, -1, [t]);
      e.coll = 'default';
      return e;
    }
  }
  if (!isBytea(a0)) {
    // position(haystack, needle): POSITION(needle IN haystack).
    if (name !== 'position' || !isBytea(a1) || args.length !== 2) return undefined;
  }
  switch (name) {
    case 'length':
    case 'octet_length':
      if (args.length !== 1) return undefined;
      return derived(octets((a0 as Expr).sql), Oid.int4, -1, [a0 as Expr]);
    case 'bit_length':
      if (args.length !== 1) return undefined;
      return derived(`(${octets((a0 as Expr).sql)} * 8)`, Oid.int4, -1, [a0 as Expr]);
    case 'bit_count':
      if (args.length !== 1) return undefined;
      if (version < 140000) throw new NotLocal('bit_count() before Postgres 14');
      return derived(`${ByteaFn.bitCount}(${(a0 as Expr).sql})`, Oid.int8, -1, [a0 as Expr]);
    case 'substring':
    case 'substr': {
      if (args.length !== 2 && args.length !== 3) return undefined;
      const b = a0 as Expr;
      const s = int(a1, Oid.int4, name);
      const l = args.length === 3 ? int(a2, Oid.int4, name) : undefined;
      const e = derived(
        `${ByteaFn.substr}(${b.sql}, ${s.sql}, ${l ? l.sql : 'NULL'})`,
        Oid.bytea,
        -1,
        l ? [b, s, l] : [b, s],
      );
      // NULL length: the 2-argument form, unless the length itself is NULL (then the result is).
      if (l) e.sql = `(CASE WHEN ${l.sql} IS NULL THEN NULL ELSE ${e.sql} END)`;
      return this.errorCapable(e, c);
    }
    case 'overlay': {
      if (args.length !== 3 && args.length !== 4) return undefined;
      const b = a0 as Expr;
      const p = bytea(a1);
      const s = int(a2, Oid.int4, name);
      const l = args.length === 4 ? int(a3, Oid.int4, name) : undefined;
      const sql = `${ByteaFn.overlay}(${b.sql}, ${p.sql}, ${s.sql}, ${l ? l.sql : 'NULL'})`;
      const e = derived(
        l ? `(CASE WHEN ${l.sql} IS NULL THEN NULL ELSE ${sql} END)` : sql,
        Oid.bytea,
        -1,
        l ? [b, p, s, l] : [b, p, s],
      );
      return this.errorCapable(e, c);
    }
    case 'position': {
      if (args.length !== 2) return undefined;
      const h = bytea(a0);
      const n = bytea(a1);
      return derived(`${ByteaFn.position}(${n.sql}, ${h.sql})`, Oid.int4, -1, [h, n]);
    }
    case 'btrim':
    case 'ltrim':
    case 'rtrim': {
      if (args.length !== 2) return undefined;
      if (name !== 'btrim' && version < 140000) throw new NotLocal(`${name}(bytea) before Postgres 14`);
      const b = a0 as Expr;
      const set = bytea(a1);
      return derived(`${ByteaFn.trim}('${name[0]}', ${b.sql}, ${set.sql})`, Oid.bytea, -1, [b, set]);
    }
    case 'get_byte':
    case 'get_bit': {
      if (args.length !== 2) return undefined;
      const b = a0 as Expr;
      const n = int(a1, name === 'get_bit' ? Oid.int8 : Oid.int4, name);
      const kind = name === 'get_bit' ? 'bit' : 'byte';
      return this.errorCapable(
        derived(`${ByteaFn.get}('${kind}', ${b.sql}, ${n.sql})`, Oid.int4, -1, [b, n]),
        c,
      );
    }
    case 'set_byte':
    case 'set_bit': {
      if (args.length !== 3) return undefined;
      const b = a0 as Expr;
      const n = int(a1, name === 'set_bit' ? Oid.int8 : Oid.int4, name);
      const v = int(a2, Oid.int4, name);
      const kind = name === 'set_bit' ? 'bit' : 'byte';
      return this.errorCapable(
        derived(`${ByteaFn.set}('${kind}', ${b.sql}, ${n.sql}, ${v.sql})`, Oid.bytea, -1, [b, n, v]),
        c,
      );
    }
    default:
      return undefined;
  }
}
