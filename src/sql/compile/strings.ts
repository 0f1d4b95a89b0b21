/**
 * format(), split_part() and repeat(): their arguments typed as Postgres resolves
 * them, the work in src/sql/string-functions.ts. format()'s "any" arguments
 * are limited to types whose output does not depend on the session's
 * settings (src/sql/record.ts); VARIADIC arrays in compile/variadic.ts.
 */
import { NotLocal } from '../../errors.js';
import { DtFn } from '../datetime-functions.js';
import { Oid } from '../pgtypes.js';
import { RECORD_OID, SESSION_INDEPENDENT_TYPES } from '../record.js';
import { StrFn } from '../string-functions.js';
import type { StatementCompiler } from './compiler.js';
import { nameAsText } from './names.js';
import type { Expr, ExprCtx } from './types.js';
import { derived } from './values.js';

/** Postgres's FUNC_MAX_ARGS. */
const MAX_ARGS = 100;

/** A text argument: untyped literals and parameters are text; bpchar loses its trailing blanks (rtrim1). */
export function textOperand(this: StatementCompiler, e: Expr, what: string): Expr {
  // A name converts to text implicitly, keeping its collation.
  const t = e.unknown ? this.resolveUnknown(e, Oid.text) : nameAsText(e);
  if (t.type === Oid.bpchar) {
    const r = derived(`rtrim(${t.sql}, ' ')`, Oid.text, -1, [t]);
    r.coll = t.coll;
    return r;
  }
  if (t.type !== Oid.text && t.type !== Oid.varchar) throw new NotLocal(`${what} of ${t.typeName}`);
  return t;
}

/** The type OID format() renders an argument with (0: NULL), or NotLocal. */
export function formatArgOid(e: Expr): number {
  if (e.unknown?.kind === 'null') return 0;
  if (e.type === RECORD_OID || e.enumLabels !== undefined) return Oid.text;
  if (SESSION_INDEPENDENT_TYPES.has(e.type)) return e.type;
  throw new NotLocal(`format() of ${e.typeName}`);
}

export function formatCall(this: StatementCompiler, args: Expr[], c: ExprCtx): Expr {
  if (args.length === 0) throw new NotLocal('format() without arguments');
  if (args.length > MAX_ARGS) throw new NotLocal('cannot pass more than 100 arguments to a function');
  const fmt = this.textOperand(args[0] as Expr, 'format()');
  const rest = args.slice(1).map((a) => {
    if (a.unknown?.kind === 'param') throw new NotLocal('format() of an untyped parameter');
    // "any": an untyped literal stays unknown, printed as written (as text).
    return a.unknown?.kind === 'literal' ? this.resolveUnknown(a, Oid.text) : a;
  });
  const spec = rest.map(formatArgOid).join(',');
  const sqlArgs = rest.map((a) => (a.unknown ? 'NULL' : a.sql));
  const e = derived(
    `${StrFn.format}('${spec}', ${fmt.sql}${sqlArgs.map((s) => `, ${s}`).join('')})`,
    Oid.text,
    -1,
    [fmt, ...rest],
  );
  e.coll = 'default';
  return this.errorCapable(e, c);
}

/** repeat(text, int4): a negative count is an empty result. */
export function repeatCall(this: StatementCompiler, args: Expr[], c: ExprCtx): Expr {
  if (args.length !== 2) throw new NotLocal('repeat() with these arguments');
  const s = this.textOperand(args[0] as Expr, 'repeat()');
  const n = this.coerce(args[1] as Expr, Oid.int4);
  if (n.type !== Oid.int4) throw new NotLocal(`repeat() count of ${n.typeName}`);
  const e = derived(`${StrFn.repeat}(${s.sql}, ${n.sql})`, Oid.text, -1, [s, n]);
  e.coll = s.coll;
  return this.errorCapable(e, c);
}

export function splitPartCall(this: StatementCompiler, args: Expr[], c: ExprCtx): Expr {
  if (args.length !== 3) throw new NotLocal('split_part() with these arguments');
  // Negative field numbers count from the end from Postgres 14 on (an error before).
  if ((this.ctx.serverVersionNum ?? 0) < 140000) throw new NotLocal('split_part() before Postgres 14');
  const s = this.textOperand(args[0] as Expr, 'split_part()');
  const d = this.textOperand(args[1] as Expr, 'split_part()');
  const n = this.coerce(args[2] as Expr, Oid.int4);
  if (n.type !== Oid.int4) throw new NotLocal(`split_part() field of ${n.typeName}`);
  const e = derived(`${StrFn.splitPart}(${s.sql}, ${d.sql}, ${n.sql})`, Oid.text, -1, [s, d, n]);
  e.coll = s.coll;
  return this.errorCapable(e, c);
}

/** parse_ident(text [, strict bool]) → text[]; strict defaults to true. */
export function parseIdentCall(this: StatementCompiler, args: Expr[], c: ExprCtx): Expr {
  if (args.length !== 1 && args.length !== 2) throw new NotLocal('parse_ident() with these arguments');
  const s = this.textOperand(args[0] as Expr, 'parse_ident()');
  const strict = args.length === 2 ? this.coerce(args[1] as Expr, Oid.bool) : undefined;
  if (strict && strict.type !== Oid.bool) throw new NotLocal(`parse_ident() strict of ${strict.typeName}`);
  const e = derived(
    `${StrFn.parseIdent}(${s.sql}, ${strict ? strict.sql : '1'})`,
    Oid.textArray,
    -1,
    strict ? [s, strict] : [s],
  );
  e.coll = 'default';
  return this.errorCapable(e, c);
}

/** make_date(int4, int4, int4) → date; the fields' errors forward (src/sql/datetime-functions.ts). */
export function makeDateCall(this: StatementCompiler, args: Expr[], c: ExprCtx): Expr {
  if (args.length !== 3) throw new NotLocal('make_date() with these arguments');
  const xs = args.map((a) => this.coerce(a, Oid.int4));
  for (const x of xs) if (x.type !== Oid.int4) throw new NotLocal(`make_date() of ${x.typeName}`);
  const [y, m, d] = xs as [Expr, Expr, Expr];
  return this.errorCapable(derived(`${DtFn.makeDate}(${y.sql}, ${m.sql}, ${d.sql})`, Oid.date, -1, xs), c);
}

/** unistr(text) → text, Postgres 14+ (older servers have no such function: forwarded). */
export function unistrCall(this: StatementCompiler, args: Expr[], c: ExprCtx): Expr {
  if (args.length !== 1) throw new NotLocal('unistr() with these arguments');
  if ((this.ctx.serverVersionNum ?? 0) < 140000) throw new NotLocal('unistr() before Postgres 14');
  const s = this.textOperand(args[0] as Expr, 'unistr()');
  const e = derived(`${StrFn.unistr}(${s.sql})`, Oid.text, -1, [s]);
  e.coll = s.coll;
  return this.errorCapable(e, c);
}
