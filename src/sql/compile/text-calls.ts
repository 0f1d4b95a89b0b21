/**
 * Text functions of src/sql/text-functions.ts and concat/concat_ws: the
 * overloads Postgres picks for text arguments (bytea and bit strings are
 * taken first by their own families). substring(text FROM pattern) and the
 * SIMILAR form take a text second argument: forwarded (VARIADIC calls are
 * compile/variadic.ts). strpos/position need deterministic collations (Postgres rejects
 * substring searches under nondeterministic ones).
 */
import { NotLocal } from '../../errors.js';
import { isIntType, Oid } from '../pgtypes.js';
import { StrFn } from '../string-functions.js';
import { bpcharExplicit, TextFn } from '../text-functions.js';
import type { StatementCompiler } from './compiler.js';
import { formatArgOid } from './strings.js';
import { DETERMINISTIC_COLLATIONS } from './support.js';
import type { Expr, ExprCtx } from './types.js';
import { constExpr, derived } from './values.js';

export const TEXT_CALLS: ReadonlySet<string> = new Set([
  'substring',
  'substr',
  'overlay',
  'strpos',
  'position',
  'lpad',
  'rpad',
  'reverse',
  'chr',
  'to_hex',
  'to_oct',
  'to_bin',
  'concat',
  'concat_ws',
]);

/** An int4 argument (int2 widens; int8 has no implicit cast to int4: Postgres reports no such function). */
function int4Arg(this: StatementCompiler, e: Expr | undefined, what: string): Expr {
  if (e === undefined) throw new NotLocal(`${what} with these arguments`);
  if (e.unknown?.kind === 'literal') throw new NotLocal(`${what} with an untyped argument`);
  const r = this.coerce(e, Oid.int4);
  if (r.type !== Oid.int4) throw new NotLocal(`${what} argument of type ${r.typeName}`);
  return r;
}

const isTextLike = (e: Expr): boolean =>
  e.type === Oid.text || e.type === Oid.varchar || e.type === Oid.bpchar;

/** The text result keeps its first argument's collation. */
function textResult(sql: string, first: Expr, kids: Expr[]): Expr {
  const e = derived(sql, Oid.text, -1, kids);
  e.coll = first.coll;
  return e;
}

/** `CASE WHEN l IS NULL THEN NULL ELSE sql END`: an explicit NULL length makes the result NULL. */
const nullIf = (l: Expr | undefined, sql: string): string =>
  l ? `(CASE WHEN ${l.sql} IS NULL THEN NULL ELSE ${sql} END)` : sql;

export function textCall(this: StatementCompiler, name: string, args: Expr[], c: ExprCtx): Expr {
  const what = `${name}()`;
  switch (name) {
    case 'substring':
    case 'substr': {
      if (args.length !== 2 && args.length !== 3) throw new NotLocal(`${what} with these arguments`);
      const a1 = args[1] as Expr;
      // A text (or untyped) second argument is the regular-expression form.
      if (a1.unknown?.kind === 'literal' || (!a1.unknown && !isIntType(a1.type)))
        throw new NotLocal(`${what} with a pattern`);
      const s = this.textOperand(args[0] as Expr, what);
      const start = int4Arg.call(this, a1, what);
      const len = args.length === 3 ? int4Arg.call(this, args[2], what) : undefined;
      const sql = `${TextFn.substr}(${s.sql}, ${start.sql}, ${len ? len.sql : 'NULL'})`;
      const kids = len ? [s, start, len] : [s, start];
      return this.errorCapable(textResult(nullIf(len, sql), s, kids), c);
    }
    case 'overlay': {
      if (args.length !== 3 && args.length !== 4) throw new NotLocal(`${what} with these arguments`);
      const s = this.textOperand(args[0] as Expr, what);
      const p = this.textOperand(args[1] as Expr, what);
      const start = int4Arg.call(this, args[2], what);
      const len = args.length === 4 ? int4Arg.call(this, args[3], what) : undefined;
      const sql = `${TextFn.overlay}(${s.sql}, ${p.sql}, ${start.sql}, ${len ? len.sql : 'NULL'})`;
      const kids = len ? [s, p, start, len] : [s, p, start];
      return this.errorCapable(textResult(nullIf(len, sql), s, kids), c);
    }
    case 'strpos':
    case 'position': {
      if (args.length !== 2) throw new NotLocal(`${what} with these arguments`);
      const h = this.textOperand(args[0] as Expr, what);
      const n = this.textOperand(args[1] as Expr, what);
      for (const e of [h, n]) {
        if (e.coll === undefined || !DETERMINISTIC_COLLATIONS.has(e.coll))
          throw new NotLocal(`${what} under collation ${e.coll ?? 'unknown'}`);
      }
      return derived(`${TextFn.strpos}(${h.sql}, ${n.sql})`, Oid.int4, -1, [h, n]);
    }
    case 'lpad':
    case 'rpad': {
      if (args.length !== 2 && args.length !== 3) throw new NotLocal(`${what} with these arguments`);
      const s = this.textOperand(args[0] as Expr, what);
      const len = int4Arg.call(this, args[1], what);
      const fill = args.length === 3 ? this.textOperand(args[2] as Expr, what) : undefined;
      const sql = `${TextFn.pad}('${name[0]}', ${s.sql}, ${len.sql}, ${fill ? fill.sql : "' '"})`;
      return this.errorCapable(textResult(sql, s, fill ? [s, len, fill] : [s, len]), c);
    }
    case 'reverse': {
      if (args.length !== 1) throw new NotLocal(`${what} with these arguments`);
      const s = this.textOperand(args[0] as Expr, what);
      return textResult(`${TextFn.reverse}(${s.sql})`, s, [s]);
    }
    case 'chr': {
      if (args.length !== 1) throw new NotLocal(`${what} with these arguments`);
      const n = int4Arg.call(this, args[0], what);
      const e = derived(`${TextFn.chr}(${n.sql})`, Oid.text, -1, [n]);
      e.coll = 'default';
      return this.errorCapable(e, c);
    }
    case 'to_hex':
    case 'to_oct':
    case 'to_bin': {
      if (args.length !== 1) throw new NotLocal(`${what} with these arguments`);
      const a = args[0] as Expr;
      // int4 and int8 overloads: an untyped or smallint argument is ambiguous (42725).
      if (a.unknown || (a.type !== Oid.int4 && a.type !== Oid.int8))
        throw new NotLocal(`${what} of ${a.unknown ? 'unknown' : a.typeName}`);
      const bits = a.type === Oid.int8 ? 64 : 32;
      const base = name === 'to_hex' ? 16 : name === 'to_oct' ? 8 : 2;
      const e = derived(`${TextFn.radix}(${base}, ${bits}, ${a.sql})`, Oid.text, -1, [a]);
      e.coll = 'default';
      return e;
    }
    default:
      return concatCall.call(this, name, args);
  }
}

/**
 * A cast to char(n) (typmod n + 4), explicit: a literal (read with typmod
 * -1, then length-coerced like any value) and text, varchar and bpchar
 * values are cut or padded to n characters. Other sources are forwarded.
 */
export function bpcharTypmodCast(this: StatementCompiler, arg: Expr, typmod: number): Expr {
  const n = typmod - 4;
  if (n < 1) throw new NotLocal('char(n) with an unusual typmod');
  const u = arg.unknown;
  if (u?.kind === 'literal') {
    const e = { ...constExpr(this.bindValue(bpcharExplicit(u.text, n)), Oid.bpchar), typmod };
    e.coll = 'default';
    return e;
  }
  if (u?.kind === 'null') return { ...constExpr('NULL', Oid.bpchar), typmod, coll: 'default' };
  if (u || (!isTextLike(arg) && arg.type !== Oid.bpchar))
    throw new NotLocal(`cast from ${arg.typeName} to char(n)`);
  const e = derived(`${TextFn.bpchar}(${arg.sql}, ${n})`, Oid.bpchar, typmod, [arg]);
  e.coll = arg.coll;
  return e;
}

/**
 * concat("any"...) and concat_ws(text, "any"...): each non-NULL argument's
 * output text (types whose output needs no session setting, as format()'s),
 * joined; concat_ws's NULL separator makes the result NULL.
 */
function concatCall(this: StatementCompiler, name: string, args: Expr[]): Expr {
  const ws = name === 'concat_ws';
  if (args.length === 0 || (ws && args.length === 1)) throw new NotLocal(`${name}() without arguments`);
  if (args.length > 100) throw new NotLocal('cannot pass more than 100 arguments to a function');
  const sep = ws ? this.textOperand(args[0] as Expr, `${name}()`) : undefined;
  const rest = (ws ? args.slice(1) : args).map((a) => {
    if (a.unknown?.kind === 'param') throw new NotLocal(`${name}() of an untyped parameter`);
    return a.unknown?.kind === 'literal' ? this.resolveUnknown(a, Oid.text) : a;
  });
  const spec = rest.map(formatArgOid).join(',');
  const values = rest.map((a) => (a.unknown ? 'NULL' : a.sql));
  const e = derived(
    `${StrFn.concat}('${spec}', ${sep ? sep.sql : 'NULL'}, ${ws ? 1 : 0}${values.map((v) => `, ${v}`).join('')})`,
    Oid.text,
    -1,
    sep ? [sep, ...rest] : rest,
  );
  // The result's collation comes from the collatable arguments: only the default one is followed here.
  const colls = [...(sep ? [sep] : []), ...rest].filter((a) => a.coll !== undefined || isTextLike(a));
  e.coll = colls.every((a) => a.coll === 'default') ? 'default' : undefined;
  return e;
}
