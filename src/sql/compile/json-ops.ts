/**
 * json and jsonb operators and functions. Each case resolves its operands the
 * way Postgres's operator resolution does for these types (an untyped
 * literal opposite jsonb is jsonb for `||` and `@>`, text for `->`, `?` and
 * `-`, text[] for `#>`, `?|` and `?&`) and runs the exact operation in
 * src/sql/json.ts. Operand types without such an operator (jsonb - int8,
 * json @> json, ...) are Postgres errors: forwarded.
 */
import type { A_Const, Node } from 'libpg-query';
import { NotLocal } from '../../errors.js';
import { SqlFn } from '../functions.js';
import { JsonFn } from '../json-functions.js';
import { nodeKind } from '../parse.js';
import { Oid, TYPES } from '../pgtypes.js';
import type { StatementCompiler } from './compiler.js';
import { JSON_ARRAY_OPS, unsupported } from './support.js';
import type { Expr, ExprCtx } from './types.js';
import { constExpr, derived, isTextType } from './values.js';

const isJson = (e: Expr): boolean => e.type === Oid.json || e.type === Oid.jsonb;

/**
 * ARRAY['a', 'b', NULL] of untyped literals as a text[] constant, bound as
 * JSON (the json operators' key lists; array_in is not involved, so only
 * the elements' own text matters).
 */
export function textArrayConstant(this: StatementCompiler, elements: Node[]): Expr {
  const items: (string | null)[] = [];
  for (const el of elements) {
    const [kind, body] = nodeKind(el);
    const k = kind === 'A_Const' ? (body as A_Const) : undefined;
    if (k?.isnull) items.push(null);
    else if (k?.sval !== undefined) items.push(k.sval.sval ?? '');
    else throw unsupported('array constructor of non-literals');
  }
  return constExpr(this.bindValue(JSON.stringify(items)), Oid.textArray);
}

/**
 * jsonb subscripts `j['a'][0]` (jsonb_subscript_fetch = #> with the
 * subscripts as text): untyped literals are text keys, int2/int4 constants
 * indexes; a NULL subscript gives NULL. Slices, other types (errors) and
 * non-constant subscripts are forwarded.
 */
export function jsonbSubscript(this: StatementCompiler, arg: Expr, indirection: Node[], c: ExprCtx): Expr {
  const path: string[] = [];
  let isNull = false;
  for (const node of indirection) {
    const [kind, body] = nodeKind(node);
    const idx = kind === 'A_Indices' ? (body as { is_slice?: boolean; uidx?: Node }) : undefined;
    if (!idx || idx.is_slice || !idx.uidx) throw unsupported('jsonb subscript');
    const e = this.expr(idx.uidx, c);
    if (e.unknown?.kind === 'null') isNull = true;
    else if (e.unknown?.kind === 'literal') path.push(e.unknown.text);
    else if ((e.type === Oid.int4 || e.type === Oid.int2) && e.constant && /^@p\d+$/.test(e.sql)) {
      const v = this.binds[e.sql.slice(1)];
      if (v?.kind !== 'value' || typeof v.value !== 'bigint') throw unsupported('jsonb subscript');
      path.push(String(v.value));
    } else throw new NotLocal(`jsonb subscript of ${e.typeName}`);
  }
  if (isNull) return derived('NULL', Oid.jsonb, -1, [arg]);
  const p = constExpr(this.bindValue(JSON.stringify(path)), Oid.textArray);
  return this.errorCapable(derived(`${JsonFn.path}(${arg.sql}, ${p.sql}, 0)`, Oid.jsonb, -1, [arg]), c);
}

/** An operand that must be jsonb: an untyped literal is read as jsonb; other types are errors. */
function asJsonb(sc: StatementCompiler, e: Expr, op: string): Expr {
  const r = e.unknown ? sc.resolveUnknown(e, Oid.jsonb) : e;
  if (r.type !== Oid.jsonb) throw new NotLocal(`operator ${op} on ${r.typeName}`);
  return r;
}

/** A text operand (a key): untyped literals and parameters resolve to text. */
function asText(sc: StatementCompiler, e: Expr, op: string): Expr {
  const r = e.unknown ? sc.resolveUnknown(e, Oid.text) : e;
  if (r.type !== Oid.text && r.type !== Oid.varchar)
    throw new NotLocal(`operator ${op} with a ${r.typeName} key`);
  return r;
}

export function jsonOperator(
  this: StatementCompiler,
  op: string,
  lnode: Node,
  rnode: Node,
  c: ExprCtx,
): Expr {
  const left = this.expr(lnode, c);
  let right: Expr;
  if (JSON_ARRAY_OPS.has(op)) {
    // Array constants are bound as JSON text lists: allowed for these operands only.
    this.jsonArrays = true;
    try {
      right = this.expr(rnode, c);
      if (right.unknown) right = this.resolveUnknown(right, Oid.textArray);
    } finally {
      this.jsonArrays = false;
    }
    if (right.type !== Oid.textArray || !right.constant)
      throw new NotLocal(`operator ${op} with a non-constant path`);
  } else right = this.expr(rnode, c);
  switch (op) {
    case '->':
    case '->>':
      return this.jsonField(op, left, right, c);
    case '#>':
    case '#>>': {
      const l = left.type === Oid.json ? left : asJsonb(this, left, op);
      const text = op === '#>>';
      const fn = l.type === Oid.json ? JsonFn.jsonPath : JsonFn.path;
      const e = derived(`${fn}(${l.sql}, ${right.sql}, ${text ? 1 : 0})`, text ? Oid.text : l.type, -1, [
        l,
        right,
      ]);
      if (text) e.coll = 'default';
      return this.errorCapable(e, c);
    }
    case '@>':
    case '<@': {
      if (left.unknown && right.unknown) throw new NotLocal(`operator is not unique: unknown ${op} unknown`);
      if ([left, right].some((e) => !e.unknown && TYPES.get(e.type)?.elem !== undefined))
        return this.arrayContainment(op, left, right);
      const l = asJsonb(this, left, op);
      const r = asJsonb(this, right, op);
      const [a, b] = op === '@>' ? [l, r] : [r, l];
      return derived(`${JsonFn.contains}(${a.sql}, ${b.sql})`, Oid.bool, -1, [l, r]);
    }
    case '?': {
      const l = asJsonb(this, left, op);
      const r = asText(this, right, op);
      return derived(`${JsonFn.exists}(${l.sql}, 'one', ${r.sql})`, Oid.bool, -1, [l, r]);
    }
    case '?|':
    case '?&': {
      const l = asJsonb(this, left, op);
      const mode = op === '?|' ? 'any' : 'all';
      return this.errorCapable(
        derived(`${JsonFn.exists}(${l.sql}, '${mode}', ${right.sql})`, Oid.bool, -1, [l, right]),
        c,
      );
    }
    default:
      throw unsupported(`operator ${op}`);
  }
}

/**
 * json/jsonb -> / ->>: a text key (object field) or an int4 index (array
 * element; negative from the end in jsonb). The stored jsonb text is
 * jsonb's output, so an element's output is its text; json's is the
 * element's input text.
 */
export function jsonField(this: StatementCompiler, op: string, left: Expr, right: Expr, c: ExprCtx): Expr {
  if (!isJson(left)) throw new NotLocal(`operator ${op} on ${left.typeName}`);
  let key: string;
  let r = right;
  if (r.unknown?.kind === 'literal') {
    // jsonb -> unknown resolves to the text variant.
    key = `'s${r.unknown.text.replace(/'/g, "''")}'`;
  } else if (r.unknown) {
    r = this.resolveUnknown(r, Oid.text);
    key = `('s' || ${r.sql})`;
  } else if (r.type === Oid.int4 || r.type === Oid.int2) {
    key = `('i' || ${r.sql})`;
  } else if (r.type === Oid.text || r.type === Oid.varchar) {
    key = `('s' || ${r.sql})`;
  } else throw new NotLocal(`${op} with a ${r.typeName} key`);
  const text = op === '->>';
  const fn = left.type === Oid.jsonb ? SqlFn.jsonbGet : JsonFn.jsonGet;
  const e = derived(`${fn}(${left.sql}, ${key}, ${text ? 1 : 0})`, text ? Oid.text : left.type, -1, [
    left,
    r,
  ]);
  if (text) e.coll = 'default';
  return left.type === Oid.jsonb ? e : this.errorCapable(e, c);
}

/** jsonb || jsonb (an untyped side is jsonb); undefined when neither side is jsonb (text concatenation). */
export function jsonbConcat(this: StatementCompiler, left: Expr, right: Expr): Expr | undefined {
  if (left.type !== Oid.jsonb && right.type !== Oid.jsonb) return undefined;
  if (!(left.type === Oid.jsonb || left.unknown) || !(right.type === Oid.jsonb || right.unknown))
    return undefined;
  const l = asJsonb(this, left, '||');
  const r = asJsonb(this, right, '||');
  return derived(`${JsonFn.concat}(${l.sql}, ${r.sql})`, Oid.jsonb, -1, [l, r]);
}

/** jsonb - text, jsonb - text[], jsonb - int4. */
export function jsonbMinus(this: StatementCompiler, left: Expr, right: Expr, c: ExprCtx): Expr {
  if (left.type !== Oid.jsonb) throw new NotLocal(`operator - on ${left.typeName} and ${right.typeName}`);
  let r = right;
  let fn: string;
  if (r.unknown) {
    r = this.resolveUnknown(r, Oid.text);
    fn = JsonFn.deleteKey;
  } else if (r.type === Oid.text || r.type === Oid.varchar) fn = JsonFn.deleteKey;
  else if (r.type === Oid.int4 || r.type === Oid.int2) fn = JsonFn.deleteIndex;
  else if (r.type === Oid.textArray && r.constant) fn = JsonFn.deleteKeys;
  else throw new NotLocal(`operator - on jsonb and ${r.typeName}`);
  return this.errorCapable(derived(`${fn}(${left.sql}, ${r.sql})`, Oid.jsonb, -1, [left, r]), c);
}

/** Functions of json and jsonb values; undefined for other names. */
export function jsonFunction(
  this: StatementCompiler,
  name: string,
  args: Expr[],
  c: ExprCtx,
): Expr | undefined {
  const one = (type: number): Expr => {
    if (args.length !== 1) throw unsupported(`${name}() with ${args.length} arguments`);
    const a = args[0] as Expr;
    const r = a.unknown ? this.resolveUnknown(a, type) : a;
    if (r.type !== type) throw new NotLocal(`${name}() of ${r.typeName}`);
    return r;
  };
  switch (name) {
    case 'jsonb_typeof':
    case 'json_typeof': {
      const a = one(name === 'jsonb_typeof' ? Oid.jsonb : Oid.json);
      const fn = name === 'jsonb_typeof' ? JsonFn.typeof : JsonFn.jsonTypeof;
      const e = derived(`${fn}(${a.sql})`, Oid.text, -1, [a]);
      e.coll = 'default';
      return e;
    }
    case 'jsonb_array_length':
    case 'json_array_length': {
      const a = one(name === 'jsonb_array_length' ? Oid.jsonb : Oid.json);
      const fn = name === 'jsonb_array_length' ? JsonFn.arrayLength : JsonFn.jsonArrayLength;
      return this.errorCapable(derived(`${fn}(${a.sql})`, Oid.int4, -1, [a]), c);
    }
    case 'json_strip_nulls': {
      // The second argument (strip_in_arrays) is Postgres 18's.
      const a = one(Oid.json);
      return derived(`${JsonFn.jsonStripNulls}(${a.sql})`, Oid.json, -1, [a]);
    }
    case 'jsonb_strip_nulls': {
      // The second argument (strip_in_arrays) is Postgres 18's.
      const a = one(Oid.jsonb);
      return derived(`${JsonFn.stripNulls}(${a.sql})`, Oid.jsonb, -1, [a]);
    }
    default:
      return undefined;
  }
}

/** Casts to and from json and jsonb; undefined when neither side is one. */
export function jsonCast(this: StatementCompiler, arg: Expr, type: number, c: ExprCtx): Expr | undefined {
  if (!isJson(arg) && type !== Oid.json && type !== Oid.jsonb) return undefined;
  if (isJson(arg) && isTextType(type) && type !== Oid.bpchar) {
    // jsonb_out / json_out: the stored text.
    const e = derived(arg.sql, type, -1, [arg]);
    e.coll = 'default';
    return e;
  }
  if (arg.type === Oid.jsonb && type === Oid.json) return derived(arg.sql, type, -1, [arg]);
  if ((arg.type === Oid.json || arg.type === Oid.text || arg.type === Oid.varchar) && type === Oid.jsonb) {
    return this.errorCapable(derived(`${JsonFn.jsonbIn}(${arg.sql})`, type, -1, [arg]), c);
  }
  if ((arg.type === Oid.text || arg.type === Oid.varchar) && type === Oid.json) {
    return this.errorCapable(derived(`${JsonFn.jsonIn}(${arg.sql})`, type, -1, [arg]), c);
  }
  return undefined;
}
