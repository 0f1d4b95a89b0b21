/** ARRAY[...] constructors as values: the array's text output (array_out), the stored form of an array. */
import type { Node } from 'libpg-query';
import { NotLocal } from '../../errors.js';
import { ArrFn } from '../array-functions.js';
import { ArrayInputError, type ArrayValue, formatArray, parseArray, quoteElement } from '../array-text.js';
import { SqlFn } from '../functions.js';
import { nodeKind } from '../parse.js';
import { inputValue, isIntType, Oid, TYPES } from '../pgtypes.js';
import { selectCommonType } from './common-type.js';
import { mergeColl } from './comparable.js';
import type { StatementCompiler } from './compiler.js';
import { DETERMINISTIC_COLLATIONS, unsupported } from './support.js';
import type { Expr, ExprCtx } from './types.js';
import { constExpr, derived } from './values.js';

/** Element types whose arrays' text (the stored form) is the same under every session setting. */
export function settingFreeArray(type: number): boolean {
  const elem = TYPES.get(type)?.elem;
  return elem !== undefined && elem !== Oid.date && elementKind(elem) !== undefined;
}

/** How array_out prints an element type's values from their stored form (functions.ts `arrayText`). */
function elementKind(type: number): 'int' | 'text' | 'bool' | undefined {
  if (isIntType(type)) return 'int';
  if (type === Oid.bool) return 'bool';
  // Stored as their output text (numeric, date and uuid texts need the same quoting rule).
  if (
    type === Oid.text ||
    type === Oid.varchar ||
    type === Oid.bpchar ||
    type === Oid.name ||
    type === Oid.numeric ||
    type === Oid.date ||
    type === Oid.uuid
  ) {
    return 'text';
  }
  return undefined;
}

/** The leaf elements of nested `ARRAY[ARRAY[...], ...]` and the dimensions they fill (all sub-arrays equal). */
function shapeOf(nodes: Node[]): { leaves: Node[]; dims: number[] } {
  if (nodes.length === 0) throw new NotLocal('cannot determine type of empty array');
  const nested = nodes.map((n) => nodeKind(n)[0] === 'A_ArrayExpr');
  if (!nested.some(Boolean)) return { leaves: nodes, dims: [nodes.length] };
  // A sub-array of another expression (a column, a cast) would need its
  // dimensions at run time.
  if (!nested.every(Boolean)) throw unsupported('multidimensional array of array values');
  const subs = nodes.map((n) => shapeOf((nodeKind(n)[1] as { elements?: Node[] }).elements ?? []));
  const first = subs[0] as { dims: number[] };
  if (subs.some((s) => s.dims.join() !== first.dims.join())) {
    throw new NotLocal('multidimensional arrays must have array expressions with matching dimensions');
  }
  return { leaves: subs.flatMap((s) => s.leaves), dims: [nodes.length, ...first.dims] };
}

/**
 * `ARRAY[e1, e2, ...]` (nested ones included): the elements' common type
 * (all unknown: text), the array of it as the result type, the elements'
 * typmod when they all share one (exprTypmod of an ArrayExpr). Empty arrays
 * need a cast (forwarded).
 */
export function arrayConstructor(
  this: StatementCompiler,
  elements: Node[],
  c: ExprCtx,
  castElem?: number,
): Expr {
  if (elements.length === 0 && castElem !== undefined) {
    // `ARRAY[]::int[]`: the empty array of the cast's type.
    const arrayType = TYPES.get(castElem)?.array;
    if (elementKind(castElem) === undefined || arrayType === undefined) throw unsupported('empty array cast');
    return derived(`'{}'`, arrayType, -1, []);
  }
  const { leaves, dims } = shapeOf(elements);
  const exprs = leaves.map((n) => this.expr(n, c));
  // `ARRAY[...]::t[]` casts each element to t (transformArrayExpr).
  const elemType = castElem ?? (exprs.every((e) => e.unknown) ? Oid.text : selectCommonType(exprs, 'ARRAY'));
  const typed = exprs.map((e) =>
    castElem !== undefined ? this.castTo(e, castElem, -1, c) : this.coerce(e, elemType),
  );
  const kind = elementKind(elemType);
  const arrayType = TYPES.get(elemType)?.array;
  if (kind === undefined || arrayType === undefined) {
    throw unsupported(`array constructor of ${TYPES.get(elemType)?.name ?? elemType}`);
  }
  const first = typed[0] as Expr;
  const typmod = typed.every((e) => e.typmod === first.typmod) ? first.typmod : -1;
  const sql = `${SqlFn.arrayText}('${kind}', '${dims.join(',')}', ${typed.map((e) => e.sql).join(', ')})`;
  const e = derived(sql, arrayType, typmod, typed);
  if (first.coll !== undefined && typed.every((x) => x.coll === first.coll)) e.coll = first.coll;
  return e;
}

/**
 * An array literal `'{1,2,NULL}'::int[]`, of any dimensions and bounds
 * (`'[0:1][1:2]={{1,2},{3,4}}'`): array_in of each element with the element
 * type's input function, stored as array_out prints the result. Literals
 * array_in rejects or the majors read differently forward (array-text.ts).
 */
export function arrayLiteral(this: StatementCompiler, text: string, type: number, location?: number): Expr {
  const elem = TYPES.get(type)?.elem;
  const kind = elem === undefined ? undefined : elementKind(elem);
  if (elem === undefined || kind === undefined)
    throw unsupported(`${TYPES.get(type)?.name ?? type} constant`);
  const what = `${TYPES.get(type)?.name} constant`;
  const input = (item: string) => inputValue(elem, item, what, this.ctx.serverVersionNum ?? 0);
  let parsed: ArrayValue;
  try {
    parsed = parseArray(text, what);
  } catch (err) {
    // Postgres 17 passes each element to its input as it reads it, 15 checks the whole structure first:
    // the structure's error is both majors' only when the elements before it are valid.
    if (err instanceof ArrayInputError) for (const item of err.items) if (item !== null) input(item);
    this.inputFailed(err, location);
    return constExpr('NULL', type);
  }
  let items: (string | null)[];
  try {
    items = parsed.items.map((item) => {
      if (item === null) return null;
      const v = input(item);
      if (kind === 'int') return String(v);
      if (kind === 'bool') return v === 1n ? 't' : 'f';
      return quoteElement(String(v));
    });
  } catch (err) {
    // A well-formed literal: both majors report its first invalid element.
    this.inputFailed(err, location);
    return constExpr('NULL', type);
  }
  const e = constExpr(this.bindValue(formatArray({ ...parsed, items }, (t) => t)), type);
  if (elem === Oid.text || elem === Oid.varchar || elem === Oid.bpchar) e.coll = 'default';
  return e;
}

/** The array functions served locally (compile/functions.ts dispatches them here). */
export const ARRAY_CALLS = new Set([
  'array_length',
  'array_upper',
  'array_lower',
  'cardinality',
  'array_ndims',
  'array_dims',
  'string_to_array',
]);

/** An array argument whose elements the array functions can read from the stored text. */
function arrayArg(e: Expr, what: string): string {
  const elem = TYPES.get(e.type)?.elem;
  const kind = elem === undefined ? undefined : elementKind(elem);
  if (e.unknown || elem === undefined || kind === undefined) throw new NotLocal(`${what} of ${e.typeName}`);
  return kind;
}

export function arrayCall(this: StatementCompiler, name: string, args: Expr[]): Expr {
  if (name === 'string_to_array') {
    const [t, d, n] = this.splitArgs(name, args);
    const e = derived(
      `${ArrFn.stringToArray}(${t.sql}, ${d.sql}, ${n ? n.sql : 'NULL'})`,
      Oid.textArray,
      -1,
      args,
    );
    e.coll = t.coll ?? 'default';
    return e;
  }
  const [arr, dim] = args;
  const unary = name === 'cardinality' || name === 'array_ndims' || name === 'array_dims';
  if (!arr || args.length !== (unary ? 1 : 2)) throw unsupported(`${name}() with these arguments`);
  arrayArg(arr, `${name}()`);
  let d: Expr | undefined;
  if (dim) {
    d = dim.unknown ? this.resolveUnknown(dim, Oid.int4) : dim;
    if (d.type !== Oid.int4 && d.type !== Oid.int2)
      throw new NotLocal(`${name}() of dimension ${d.typeName}`);
  }
  const e = derived(
    `${ArrFn.dims}('${name}', ${arr.sql}, ${d ? d.sql : 'NULL'})`,
    name === 'array_dims' ? Oid.text : Oid.int4,
    -1,
    d ? [arr, d] : [arr],
  );
  if (name === 'array_dims') e.coll = 'default';
  return e;
}

/**
 * `array[i][j]...`: the element, NULL outside the array; typmod and collation
 * the array's. When any subscript is a slice (`a[1:2]`, `a[:2]`, `a[2:]`),
 * all are (a plain `[n]` then means `[1:n]`) and the result is the array's
 * type: array_get_slice (arraySlice below).
 */
export function arraySubscript(this: StatementCompiler, arr: Expr, indirection: Node[], c: ExprCtx): Expr {
  const kind = arrayArg(arr, 'subscript');
  if (indirection.length === 0 || indirection.length > 6) throw unsupported('array subscripts');
  const indices = indirection.map((node) => {
    const idx =
      'A_Indices' in node ? (node.A_Indices as { is_slice?: boolean; lidx?: Node; uidx?: Node }) : undefined;
    if (!idx) throw unsupported('array field selection');
    return idx;
  });
  const subscript = (n: Node): Expr => {
    let i = this.expr(n, c);
    if (i.unknown) i = this.resolveUnknown(i, Oid.int4);
    // int8 and numeric subscripts are cast to int4 (which may fail): not served.
    if (i.type !== Oid.int4 && i.type !== Oid.int2)
      throw new NotLocal(`array subscript of type ${i.typeName}`);
    return i;
  };
  if (indices.some((x) => x.is_slice)) {
    // Each bound: provided ('1', its value among the arguments) or omitted ('0': the array's own bound).
    let mask = '';
    const bounds: Expr[] = [];
    for (const x of indices) {
      const lower = x.is_slice ? x.lidx : undefined;
      if (lower) bounds.push(subscript(lower));
      // `[n]` among slices: lower bound 1, not the array's (transformContainerSubscripts).
      else if (!x.is_slice) bounds.push(constExpr('1', Oid.int4));
      mask += lower || !x.is_slice ? '1' : '0';
      if (x.uidx) bounds.push(subscript(x.uidx));
      mask += x.uidx ? '1' : '0';
    }
    const e = derived(
      `${ArrFn.slice}('${mask}', ${arr.sql}${bounds.map((b) => `, ${b.sql}`).join('')})`,
      arr.type,
      arr.typmod,
      [arr, ...bounds],
    );
    if (arr.coll !== undefined) e.coll = arr.coll;
    return e;
  }
  const subs = indices.map((x) => {
    if (!x.uidx) throw unsupported('array subscript');
    return subscript(x.uidx);
  });
  const elem = TYPES.get(arr.type)?.elem as number;
  const e = derived(
    `${ArrFn.element}('${kind}', ${arr.sql}, ${subs.map((i) => i.sql).join(', ')})`,
    elem,
    arr.typmod,
    [arr, ...subs],
  );
  if (
    arr.coll !== undefined &&
    (elem === Oid.text || elem === Oid.varchar || elem === Oid.bpchar || elem === Oid.name)
  )
    e.coll = arr.coll;
  return e;
}

/** Element types whose equal values have equal stored texts in an array (array_out is canonical for them). */
const TEXT_EQUAL_ELEMENTS = new Set<number>([
  Oid.int2,
  Oid.int4,
  Oid.int8,
  Oid.bool,
  Oid.text,
  Oid.varchar,
  // Compared under its collation C: equal names are equal bytes.
  Oid.name,
  Oid.uuid,
]);

/** Both operands of one array type of TEXT_EQUAL_ELEMENTS (an untyped constant takes the other's), or NotLocal. */
function sameArrays(sc: StatementCompiler, op: string, left: Expr, right: Expr): [Expr, Expr] {
  if (left.unknown && right.unknown) throw new NotLocal(`operator is not unique: unknown ${op} unknown`);
  const l = left.unknown ? sc.resolveUnknown(left, right.type) : left;
  const r = right.unknown ? sc.resolveUnknown(right, left.type) : right;
  const elem = TYPES.get(l.type)?.elem;
  if (l.type !== r.type || elem === undefined)
    throw new NotLocal(`operator ${op} on ${l.typeName} and ${r.typeName}`);
  if (!TEXT_EQUAL_ELEMENTS.has(elem)) throw new NotLocal(`operator ${op} on ${l.typeName}`);
  if (elem === Oid.text || elem === Oid.varchar) {
    const coll = mergeColl(l, r);
    if (coll === undefined || !DETERMINISTIC_COLLATIONS.has(coll))
      throw new NotLocal(`operator ${op} on text arrays with collation ${coll ?? 'unknown'}`);
  }
  return [l, r];
}

/**
 * Array `=`, `<>`, IS [NOT] DISTINCT FROM (array_eq: same dimensions and
 * bounds, elements equal, NULL elements equal to each other): for these
 * element types exactly equality of array_out's texts, which print the
 * bounds when they are not the default and each element canonically.
 */
export function arrayEquality(
  this: StatementCompiler,
  op: '=' | '<>' | 'IS' | 'IS NOT',
  left: Expr,
  right: Expr,
): Expr {
  const [l, r] = sameArrays(this, op, left, right);
  return derived(`(${l.sql} COLLATE BINARY ${op} ${r.sql})`, Oid.bool, -1, [l, r]);
}

/**
 * `a @> b`, `a <@ b`, `a && b` on arrays (arraycontains, arraycontained,
 * arrayoverlap): both of one array type (an untyped constant takes the
 * other's), elements compared with the element type's equality, which for
 * these types is equality of the stored element texts (text under a
 * deterministic collation: bytewise); NULL elements never match, and a NULL
 * among the elements that must all be found makes containment false.
 * Multidimensional arrays and explicit bounds abort the run.
 */
export function arrayContainment(
  this: StatementCompiler,
  op: '@>' | '<@' | '&&',
  left: Expr,
  right: Expr,
): Expr {
  const [l, r] = sameArrays(this, op, left, right);
  // array_contain_compare(first, second, matchall): each element of `first` looked up in `second`.
  const [first, second, all] = op === '@>' ? [r, l, 1] : op === '<@' ? [l, r, 1] : [l, r, 0];
  return derived(`${ArrFn.contains}(${first.sql}, ${second.sql}, ${all})`, Oid.bool, -1, [l, r]);
}

/** The stored form kind of an array type's elements, for the element types of TEXT_EQUAL_ELEMENTS. */
export function textEqualKind(type: number): string | undefined {
  const elem = TYPES.get(type)?.elem;
  return elem !== undefined && TEXT_EQUAL_ELEMENTS.has(elem) ? elementKind(elem) : undefined;
}

/**
 * `||` with an array operand: array_cat of two arrays of one type,
 * array_append/array_prepend of an element of exactly the element type.
 * Untyped constants (array or element?) and mixed types, which Postgres
 * resolves through anycompatible coercions, are forwarded.
 */
export function arrayConcat(this: StatementCompiler, l: Expr, r: Expr): Expr {
  if (l.unknown || r.unknown) throw new NotLocal('operator || with an untyped constant and an array');
  const lElem = TYPES.get(l.type)?.elem;
  const rElem = TYPES.get(r.type)?.elem;
  const arrayType = lElem !== undefined ? l.type : r.type;
  const kind = textEqualKind(arrayType);
  if (kind === undefined) throw new NotLocal(`operator || on ${l.typeName} and ${r.typeName}`);
  let mode: string;
  if (lElem !== undefined && rElem !== undefined) {
    if (l.type !== r.type) throw new NotLocal(`operator || on ${l.typeName} and ${r.typeName}`);
    mode = 'cat';
  } else if (lElem !== undefined) {
    if (r.type !== lElem) throw new NotLocal(`operator || on ${l.typeName} and ${r.typeName}`);
    mode = 'append';
  } else {
    if (l.type !== rElem) throw new NotLocal(`operator || on ${l.typeName} and ${r.typeName}`);
    mode = 'prepend';
  }
  const e = derived(`${ArrFn.concat}('${kind}', '${mode}', ${l.sql}, ${r.sql})`, arrayType, -1, [l, r]);
  const elem = TYPES.get(arrayType)?.elem;
  if (elem === Oid.text || elem === Oid.varchar) {
    const coll = mergeColl(l, r);
    if (coll !== undefined) e.coll = coll;
  }
  return e;
}
