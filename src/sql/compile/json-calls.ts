/**
 * json and jsonb functions that take their arguments' nodes: the operator
 * aliases (jsonb_contains = @>, jsonb_exists_any = ?|, jsonb_extract_path
 * = #>, ...), whose text[] arguments are constants bound as JSON, and the
 * builders jsonb_build_object/array and json_build_object/array over values
 * whose to_jsonb/to_json is certain (text, integers, booleans, json, jsonb,
 * NULL). Other argument types (numeric, whose NaN becomes a string; floats;
 * dates, whose JSON form differs from their text) are forwarded.
 */
import type { FuncCall, Node } from 'libpg-query';
import { NotLocal } from '../../errors.js';
import { JsonFn } from '../json-functions.js';
import { isIntType, Oid } from '../pgtypes.js';
import type { StatementCompiler } from './compiler.js';
import { unsupported } from './support.js';
import type { Expr, ExprCtx } from './types.js';
import { constExpr, derived } from './values.js';

/** Functions compiled here. */
export const JSON_CALLS = new Set([
  'jsonb_contains',
  'jsonb_contained',
  'jsonb_exists',
  'jsonb_exists_any',
  'jsonb_exists_all',
  'jsonb_extract_path',
  'jsonb_extract_path_text',
  'json_extract_path',
  'json_extract_path_text',
  'jsonb_build_object',
  'jsonb_build_array',
  'json_build_object',
  'json_build_array',
  'jsonb_set',
  'jsonb_insert',
  'jsonb_delete_path',
  'jsonb_set_lax',
]);

/** The kind letter of a builder argument (json-functions.ts decodes it), or NotLocal. */
function buildKind(e: Expr, name: string): string {
  if (e.unknown?.kind === 'null') return 'z';
  if (e.type === Oid.text || e.type === Oid.varchar) return 's';
  if (isIntType(e.type)) return 'n';
  if (e.type === Oid.bool) return 'b';
  if (e.type === Oid.jsonb) return 'j';
  if (e.type === Oid.json) return 'J';
  throw new NotLocal(`${name}() of ${e.typeName}`);
}

export function jsonCall(this: StatementCompiler, name: string, f: FuncCall, c: ExprCtx): Expr {
  const nodes = f.args ?? [];
  const arg = (i: number): Expr => this.expr(nodes[i] as Node, c);
  /** A text[] argument: a literal or ARRAY[...] of literals, bound as JSON. */
  const textArray = (i: number): Expr => {
    this.jsonArrays = true;
    try {
      let e = this.expr(nodes[i] as Node, c);
      if (e.unknown) e = this.resolveUnknown(e, Oid.textArray);
      if (e.type !== Oid.textArray || !e.constant) throw new NotLocal(`${name}() with a non-constant array`);
      return e;
    } finally {
      this.jsonArrays = false;
    }
  };
  const asType = (e: Expr, type: number): Expr => {
    const r = e.unknown ? this.resolveUnknown(e, type) : e;
    if (r.type !== type) throw new NotLocal(`${name}() of ${r.typeName}`);
    return r;
  };
  const arity = (n: number): void => {
    if (nodes.length !== n) throw unsupported(`${name}() with ${nodes.length} arguments`);
  };
  switch (name) {
    case 'jsonb_contains':
    case 'jsonb_contained': {
      arity(2);
      const a = asType(arg(0), Oid.jsonb);
      const b = asType(arg(1), Oid.jsonb);
      const [x, y] = name === 'jsonb_contains' ? [a, b] : [b, a];
      return derived(`${JsonFn.contains}(${x.sql}, ${y.sql})`, Oid.bool, -1, [a, b]);
    }
    case 'jsonb_exists': {
      arity(2);
      const a = asType(arg(0), Oid.jsonb);
      const k = asType(arg(1), Oid.text);
      return derived(`${JsonFn.exists}(${a.sql}, 'one', ${k.sql})`, Oid.bool, -1, [a, k]);
    }
    case 'jsonb_exists_any':
    case 'jsonb_exists_all': {
      arity(2);
      const a = asType(arg(0), Oid.jsonb);
      const k = textArray(1);
      const mode = name === 'jsonb_exists_any' ? 'any' : 'all';
      return this.errorCapable(
        derived(`${JsonFn.exists}(${a.sql}, '${mode}', ${k.sql})`, Oid.bool, -1, [a, k]),
        c,
      );
    }
    case 'jsonb_set':
    case 'jsonb_insert':
    case 'jsonb_delete_path': {
      // (jsonb, text[] [, jsonb [, bool]]): the path a constant (NULL elements allowed), src/sql/json-mutate.ts.
      const del = name === 'jsonb_delete_path';
      if (del ? nodes.length !== 2 : nodes.length < 3 || nodes.length > 4)
        throw unsupported(`${name}() with ${nodes.length} arguments`);
      const a = asType(arg(0), Oid.jsonb);
      const p = textArray(1);
      const v = del ? undefined : asType(arg(2), Oid.jsonb);
      const flag = nodes.length === 4 ? asType(arg(3), Oid.bool) : undefined;
      const mode = del ? 'delete' : name === 'jsonb_set' ? 'set' : 'insert';
      // create_missing defaults to true, insert_after to false.
      const flagSql = flag?.sql ?? (name === 'jsonb_set' ? '1' : '0');
      const kids = [a, p, ...(v ? [v] : []), ...(flag ? [flag] : [])];
      const e = derived(
        `${JsonFn.setPath}('${mode}', ${a.sql}, ${p.sql}, ${v?.sql ?? 'NULL'}, ${flagSql})`,
        Oid.jsonb,
        -1,
        kids,
      );
      return this.errorCapable(e, c);
    }
    case 'jsonb_set_lax': {
      // (jsonb, text[], jsonb [, create_if_missing bool [, null_value_treatment text]]): not strict.
      if (nodes.length < 3 || nodes.length > 5) throw unsupported(`${name}() with ${nodes.length} arguments`);
      const a = asType(arg(0), Oid.jsonb);
      const p = textArray(1);
      const v = asType(arg(2), Oid.jsonb);
      const flag = nodes.length >= 4 ? asType(arg(3), Oid.bool) : undefined;
      const how = nodes.length === 5 ? asType(arg(4), Oid.text) : undefined;
      const kids = [a, p, v, ...(flag ? [flag] : []), ...(how ? [how] : [])];
      const e = derived(
        `${JsonFn.setLax}(${a.sql}, ${p.sql}, ${v.sql}, ${flag?.sql ?? '1'}, ${how?.sql ?? "'use_json_null'"})`,
        Oid.jsonb,
        -1,
        kids,
      );
      return this.errorCapable(e, c);
    }
    case 'jsonb_extract_path':
    case 'jsonb_extract_path_text':
    case 'json_extract_path':
    case 'json_extract_path_text': {
      // (json, VARIADIC text[]): the path elements are separate literal arguments.
      if (nodes.length < 2) throw unsupported(`${name}() without a path`);
      const type = name.startsWith('jsonb') ? Oid.jsonb : Oid.json;
      const a = asType(arg(0), type);
      const path: string[] = [];
      for (let i = 1; i < nodes.length; i++) {
        const p = arg(i);
        if (p.unknown?.kind !== 'literal') throw new NotLocal(`${name}() with a non-literal path element`);
        path.push(p.unknown.text);
      }
      const text = name.endsWith('_text');
      const fn = type === Oid.jsonb ? JsonFn.path : JsonFn.jsonPath;
      const p = constExpr(this.bindValue(JSON.stringify(path)), Oid.textArray);
      const e = derived(`${fn}(${a.sql}, ${p.sql}, ${text ? 1 : 0})`, text ? Oid.text : type, -1, [a]);
      if (text) e.coll = 'default';
      return this.errorCapable(e, c);
    }
    default: {
      // The builders.
      const object = name.endsWith('_object');
      if (object && nodes.length % 2 !== 0) throw new NotLocal(`${name}() with an odd number of arguments`);
      const args = nodes.map((_, i) => {
        let e = arg(i);
        // "any" arguments: an untyped literal is text.
        if (e.unknown?.kind === 'param') throw new NotLocal(`${name}() of an untyped parameter`);
        if (e.unknown?.kind === 'literal') e = this.resolveUnknown(e, Oid.text);
        if (object && i % 2 === 0) {
          if (e.unknown?.kind === 'null') throw new NotLocal(`${name}() with a NULL key`);
          if (e.type !== Oid.text && e.type !== Oid.varchar && !isIntType(e.type))
            throw new NotLocal(`${name}() with a ${e.typeName} key`);
        }
        return e;
      });
      const spec = args.map((e) => buildKind(e, name)).join('');
      const type = name.startsWith('jsonb') ? Oid.jsonb : Oid.json;
      const sqlArgs = args.map((e) => (e.unknown ? 'NULL' : e.sql));
      const e = derived(
        `${JsonFn.build}('${type === Oid.jsonb ? 'b' : 'j'}${object ? 'o' : 'a'}', '${spec}'${sqlArgs.map((s) => `, ${s}`).join('')})`,
        type,
        -1,
        args,
      );
      // A NULL key (from a column) is an error.
      return object ? this.errorCapable(e, c) : e;
    }
  }
}
