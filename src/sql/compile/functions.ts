/** Function calls: which scalar functions are local, and dispatch to aggregates and window functions. */
import type { FuncCall } from 'libpg-query';
import { InputError, NotLocal } from '../../errors.js';
import { bitInput, bitInputTypmod } from '../bit-strings.js';
import { DtFn } from '../datetime-functions.js';
import { SqlFn } from '../functions.js';
import { inputValue, isIntType, Oid } from '../pgtypes.js';
import { TRUNC_FIELDS } from '../timestamp-ops.js';
import { ARRAY_SEARCH_CALLS } from './array-search.js';
import { ARRAY_CALLS } from './arrays.js';
import type { StatementCompiler } from './compiler.js';
import { JSON_CALLS } from './json-calls.js';
import { positionalCall } from './named-args.js';
import { nameAsText } from './names.js';
import { AGGREGATES, describeNode, ORDERED_AGGREGATES, unsupported } from './support.js';
import { TEXT_CALLS } from './text-calls.js';
import type { Expr, ExprCtx } from './types.js';
import { constExpr, derived } from './values.js';
import { VARIADIC_CALLS } from './variadic.js';

export function funcCall(this: StatementCompiler, call: FuncCall, c: ExprCtx): Expr {
  const names = (call.funcname ?? []).map((n) => ('String' in n ? (n.String.sval ?? '') : ''));
  if (names.length > 2 || (names.length === 2 && names[0] !== 'pg_catalog')) {
    throw unsupported(describeNode('FuncCall', call));
  }
  const name = names[names.length - 1] as string;
  const f = positionalCall(name, call);
  if (f.over) return this.windowCall(name, f, c);
  if (ORDERED_AGGREGATES.has(name)) return this.orderedAggregate(name, f, c);
  if (f.agg_filter && !AGGREGATES.has(name)) throw unsupported('FILTER');
  if (f.func_variadic && VARIADIC_CALLS.has(name)) return this.variadicCall(name, f, c);
  if (f.agg_within_group || f.func_variadic) throw unsupported(describeNode('FuncCall', f));
  if (AGGREGATES.has(name)) return this.aggregate(name, f, c);
  if (f.agg_order && f.agg_order.length > 0) throw unsupported('ORDER BY in aggregate');
  if (f.agg_star || f.agg_distinct) throw unsupported(describeNode('FuncCall', f));
  if (JSON_CALLS.has(name)) return this.jsonCall(name, f, c);
  const args = (f.args ?? []).map((a) => this.expr(a, c));
  if (ARRAY_CALLS.has(name)) return this.arrayCall(name, args);
  if (ARRAY_SEARCH_CALLS.has(name)) return this.arraySearchCall(name, args);
  if (name === 'array_fill') return this.arrayFill(args);
  const bytea = this.byteaFunction(name, args, c);
  if (bytea) return bytea;
  const float = this.floatFunction(name, args, c);
  if (float) return float;
  const bits = this.bitFunction(name, args, c);
  if (bits) return bits;
  const money = this.moneyFunction(name, args);
  if (money) return money;
  const numeric =
    this.numericFunction(name, args, c) ??
    this.numericMathCall(name, args, c) ??
    this.numberConversionCall(name, args, c);
  if (numeric) return numeric;
  if (TEXT_CALLS.has(name)) return this.textCall(name, args, c);
  const textArg = (): Expr => {
    if (args.length !== 1) throw unsupported(describeNode('FuncCall', f));
    const a = args[0] as Expr;
    const t = a.unknown ? this.resolveUnknown(a, Oid.text) : nameAsText(a);
    if (t.type === Oid.bpchar) {
      // bpchar → text (rtrim1) drops trailing blanks; length(bpchar) ignores them too.
      const e = derived(`rtrim(${t.sql}, ' ')`, Oid.text, -1, [t]);
      e.coll = t.coll;
      return e;
    }
    if (t.type !== Oid.text && t.type !== Oid.varchar) throw new NotLocal(`${name}() of ${t.typeName}`);
    return t;
  };
  switch (name) {
    case 'pg_input_is_valid':
      return this.inputIsValid(args);
    case 'lower':
    case 'upper': {
      const a = textArg();
      // SQLite's own lower()/upper() fold ASCII letters only.
      const fold = this.requireCType(a.coll, `${name}()`);
      const fn = fold === 'ascii' ? name : name === 'lower' ? SqlFn.lowerMapped : SqlFn.upperMapped;
      const e = derived(`${fn}(${a.sql})`, Oid.text, -1, [a]);
      e.coll = a.coll;
      return e;
    }
    case 'extract':
    case 'date_part':
      return this.datePartCall(name, f, args);
    case 'round': {
      // numeric_round, the scale a constant. round(integer) resolves to
      // round(float8) (float8 is the preferred type): not local.
      if (args.length < 1 || args.length > 2) throw unsupported('round() with these arguments');
      const x = args[0] as Expr;
      if (x.unknown) throw new NotLocal('round() of an untyped value');
      if (x.type !== Oid.numeric) throw new NotLocal(`round() of ${x.typeName}`);
      let scale = 0n;
      let scaleExpr: Expr | undefined;
      if (args.length === 2) {
        scaleExpr = args[1] as Expr;
        const v =
          scaleExpr.unknown || !isIntType(scaleExpr.type) ? undefined : this.binds[scaleExpr.sql.slice(1)];
        if (v?.kind !== 'value' || typeof v.value !== 'bigint')
          throw unsupported('round() with a non-constant scale');
        scale = v.value;
        if (scale < -1000n || scale > 1000n) throw unsupported('round() to more than 1000 digits');
      }
      return derived(
        `${SqlFn.numericRound}(${x.sql}, ${scale})`,
        Oid.numeric,
        -1,
        scaleExpr ? [x, scaleExpr] : [x],
      );
    }
    case 'date_trunc': {
      // date_trunc(text, timestamp) only: the timestamptz form depends on the session's zone.
      const [fieldNode] = f.args ?? [];
      const field =
        fieldNode && 'A_Const' in fieldNode ? fieldNode.A_Const.sval?.sval?.toLowerCase() : undefined;
      const x = args[1];
      if (field === undefined || !x || args.length !== 2 || x.unknown)
        throw unsupported('function call date_trunc()');
      if (x.type !== Oid.timestamp) throw new NotLocal(`date_trunc() of ${x.typeName}`);
      if (!TRUNC_FIELDS.has(field)) throw new NotLocal(`date_trunc(${field}, timestamp)`);
      return this.errorCapable(
        derived(`${DtFn.timestampTrunc}('${field}', ${x.sql})`, Oid.timestamp, -1, [x]),
        c,
      );
    }
    case 'justify_hours':
    case 'justify_days':
    case 'justify_interval': {
      if (args.length !== 1) throw unsupported(describeNode('FuncCall', f));
      const a = this.resolveUnknown(args[0] as Expr, Oid.interval);
      if (a.type !== Oid.interval) throw new NotLocal(`${name}() of ${a.typeName}`);
      return this.errorCapable(derived(`${DtFn.justify}('${name}', ${a.sql})`, Oid.interval, -1, [a]), c);
    }
    case 'factorial':
      return this.factorialCall(args, c);
    case 'to_char':
      return this.toCharCall(args, c);
    case 'to_number':
      return this.toNumberCall(args, c);
    case 'format':
      return this.formatCall(args, c);
    case 'split_part':
      return this.splitPartCall(args, c);
    case 'repeat':
      return this.repeatCall(args, c);
    case 'make_date':
      return this.makeDateCall(args, c);
    case 'unistr':
      return this.unistrCall(args, c);
    case 'parse_ident':
      return this.parseIdentCall(args, c);
    case 'width_bucket':
      return this.widthBucketCall(args, c);
    case 'make_interval':
      return this.makeIntervalCall(args, c);
    case 'date_bin':
      return this.dateBinCall(args, c);
    case 'length':
    case 'char_length':
    case 'character_length': {
      const a = textArg();
      return derived(`length(${a.sql})`, Oid.int4, -1, [a]);
    }
    default: {
      const json = this.jsonFunction(name, args, c);
      if (json) return json;
      throw unsupported(describeNode('FuncCall', f));
    }
  }
}

/** `bit`, `bit(n)`, `varbit`, `varbit(n)`, `bit varying(n)` as pg_input_is_valid()'s type argument. */
const BIT_TYPE_NAME = /^(bit|varbit|bit varying)(?:\((\d{1,8})\))?$/;

/** Type names pg_input_is_valid() reads (parseTypeString) whose input function is reproduced exactly. */
const INPUT_TYPES: ReadonlyMap<string, number> = new Map([
  ['int2', Oid.int2],
  ['smallint', Oid.int2],
  ['int4', Oid.int4],
  ['int', Oid.int4],
  ['integer', Oid.int4],
  ['int8', Oid.int8],
  ['bigint', Oid.int8],
  ['interval', Oid.interval],
  ['bytea', Oid.bytea],
]);

/**
 * pg_input_is_valid(text, type) of two literals (Postgres 16+, gated in
 * version-gates.ts): true when the input function accepts the text, false
 * when it raises one of the errors it words exactly (an InputError); any
 * other doubt forwards.
 */
export function inputIsValid(this: StatementCompiler, args: Expr[]): Expr {
  return constExpr(this.inputErrorOf(args, 'pg_input_is_valid') === undefined ? '1' : '0', Oid.bool);
}

/**
 * The error the input function of type `args[1]` raises for the text
 * `args[0]` (two literals), undefined when it accepts it; NotLocal when
 * either is not certain. pg_input_is_valid and pg_input_error_info.
 */
export function inputErrorOf(
  this: StatementCompiler,
  args: Expr[],
  name: string,
): InputError['error'] | undefined {
  const [v, t] = args;
  if (args.length !== 2 || v?.unknown?.kind !== 'literal' || t?.unknown?.kind !== 'literal') {
    throw unsupported(`${name}() of other than two literals`);
  }
  const bitType = BIT_TYPE_NAME.exec(t.unknown.text);
  if (bitType) {
    // parseTypeString: plain `bit` is bit(1), plain varbit has no limit.
    const fixed = bitType[1] === 'bit';
    const n = bitType[2] === undefined ? (fixed ? 1 : -1) : Number(bitType[2]);
    if (n === 0) throw new NotLocal(`${name}() for bit(0)`);
    try {
      if (n === -1) bitInput(v.unknown.text, `${name}()`);
      else bitInputTypmod(v.unknown.text, fixed, n, `${name}()`);
      return undefined;
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      return err.error;
    }
  }
  const type = INPUT_TYPES.get(t.unknown.text);
  if (type === undefined) throw new NotLocal(`${name}() for type ${t.unknown.text.slice(0, 40)}`);
  try {
    inputValue(type, v.unknown.text, `${name}()`, this.ctx.serverVersionNum ?? 0);
    return undefined;
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    return err.error;
  }
}
