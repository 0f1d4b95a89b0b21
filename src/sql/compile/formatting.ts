/**
 * to_char(value, template): the number forms (int2/int4 → int4_to_char,
 * int8, numeric) with a constant template whose patterns are all served
 * (src/sql/to-char-number.ts); float4/float8 (their printf rounding),
 * templates read from columns and the locale patterns are forwarded.
 */
import { NotLocal } from '../../errors.js';
import { FmtFn } from '../formatting-functions.js';
import { isIntType, Oid } from '../pgtypes.js';
import { numTemplate } from '../to-char-number.js';
import { toNumberTemplate } from '../to-number.js';
import type { StatementCompiler } from './compiler.js';
import type { Expr, ExprCtx } from './types.js';
import { derived } from './values.js';

export function toCharCall(this: StatementCompiler, args: Expr[], c: ExprCtx): Expr {
  if (args.length !== 2) throw new NotLocal('to_char() with these arguments');
  const [v, f] = args as [Expr, Expr];
  if (v.unknown) throw new NotLocal('to_char() of an untyped value');
  const fmt = this.resolveUnknown(f, Oid.text);
  if (fmt.type !== Oid.text) throw new NotLocal(`to_char() template of type ${fmt.typeName}`);
  const bound = fmt.unknown ? undefined : this.binds[fmt.sql.slice(1)];
  if (bound?.kind !== 'value' || typeof bound.value !== 'string')
    throw new NotLocal('to_char() with a non-constant template');
  let kind: string;
  if (isIntType(v.type)) kind = v.type === Oid.int8 ? 'int8' : 'int4';
  else if (v.type === Oid.numeric) kind = 'numeric';
  else throw new NotLocal(`to_char() of ${v.typeName}`);
  // Validated now: a template Postgres rejects, or one not served, forwards the statement.
  if (bound.value !== '') numTemplate(bound.value);
  const e = derived(`${FmtFn.toChar}('${kind}', ${v.sql}, ${fmt.sql})`, Oid.text, -1, [v, fmt]);
  e.coll = 'default';
  return this.errorCapable(e, c);
}

/**
 * to_number(text, template) with a constant template (validated now, as
 * to_char's); varchar reads as text, char(n) (its cast to text strips
 * trailing blanks) and other types forward. The locale patterns are read in
 * the C locale, served only where upstream's lc_numeric and lc_monetary are C.
 */
export function toNumberCall(this: StatementCompiler, args: Expr[], c: ExprCtx): Expr {
  if (args.length !== 2) throw new NotLocal('to_number() with these arguments');
  const v = this.resolveUnknown(args[0] as Expr, Oid.text);
  const fmt = this.resolveUnknown(args[1] as Expr, Oid.text);
  if (v.type !== Oid.text && v.type !== Oid.varchar) throw new NotLocal(`to_number() of ${v.typeName}`);
  if (fmt.type !== Oid.text && fmt.type !== Oid.varchar)
    throw new NotLocal(`to_number() template of type ${fmt.typeName}`);
  const bound = fmt.sql.startsWith('@') ? this.binds[fmt.sql.slice(1)] : undefined;
  if (bound?.kind !== 'value' || typeof bound.value !== 'string')
    throw new NotLocal('to_number() with a non-constant template');
  const localeC = this.ctx.numericLocaleC === true;
  const version = this.ctx.serverVersionNum ?? 0;
  if (bound.value !== '') toNumberTemplate(bound.value, localeC);
  const e = derived(
    `${FmtFn.toNumber}(${v.sql}, ${fmt.sql}, ${localeC ? 1 : 0}, ${version})`,
    Oid.numeric,
    -1,
    [v, fmt],
  );
  return this.errorCapable(e, c);
}
