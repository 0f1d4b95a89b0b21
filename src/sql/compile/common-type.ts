/** Type resolution: Postgres's select_common_type for the supported types and cast target names. */
import type { A_Const, Node, TypeName } from 'libpg-query';
import { NotLocal } from '../../errors.js';
import { FULL_PRECISION, FULL_RANGE, intervalTypmod, RANGE_UNITS } from '../interval.js';
import { nodeKind } from '../parse.js';
import { Oid, TYPE_BY_NAME, TYPES } from '../pgtypes.js';
import { typeName, unsupported } from './support.js';
import type { Expr } from './types.js';

/**
 * Postgres's select_common_type for the supported types: the first known
 * type, replaced by a later one it converts to implicitly (and not back);
 * all unknown → text.
 */
export function selectCommonType(exprs: Expr[], context: string): number {
  let p: number | undefined;
  for (const e of exprs) {
    if (e.unknown) continue;
    const t = e.type;
    if (p === undefined) {
      p = t;
      continue;
    }
    if (t === p) continue;
    const pi = TYPES.get(p);
    const ti = TYPES.get(t);
    if (!pi || !ti || pi.category !== ti.category) {
      throw new NotLocal(`${context} types ${typeName(p)} and ${typeName(t)} cannot be matched`);
    }
    if (!pi.preferred && implicitlyCoercible(p, t) && !implicitlyCoercible(t, p)) p = t;
    else if (!(implicitlyCoercible(t, p) || pi.preferred)) {
      throw new NotLocal(`${context} types ${typeName(p)} and ${typeName(t)} not supported together`);
    }
  }
  return p ?? Oid.text;
}

export const NUMERIC_ORDER: number[] = [Oid.int2, Oid.int4, Oid.int8, Oid.numeric, Oid.float4, Oid.float8];

export function implicitlyCoercible(from: number, to: number): boolean {
  const a = NUMERIC_ORDER.indexOf(from);
  const b = NUMERIC_ORDER.indexOf(to);
  if (a >= 0 && b >= 0) return a <= b;
  const strings = [Oid.text, Oid.varchar];
  if (strings.includes(from as 25) && strings.includes(to as 25)) return true;
  if (from === Oid.bpchar && strings.includes(to as 25)) return true;
  // pg_cast: text, varchar and bpchar → name and name → text are implicit (name → varchar is not).
  if (to === Oid.name && (strings.includes(from as 25) || from === Oid.bpchar)) return true;
  if (from === Oid.name && to === Oid.text) return true;
  return from === to;
}

/** Resolve a cast's target type name (pg_catalog is searched first). */
export function resolveTypeName(t: TypeName): { oid: number; typmod: number } {
  const names = (t.names ?? []).map((n) => ('String' in n ? (n.String.sval ?? '') : ''));
  const name =
    names.length === 2 && names[0] === 'pg_catalog' ? names[1] : names.length === 1 ? names[0] : undefined;
  if (name === undefined || t.setof || t.pct_type) throw unsupported('cast');
  // `_name`, `_int4`: pg_type's names of the array types.
  const elemOid = name.startsWith('_') ? TYPE_BY_NAME.get(name.slice(1)) : undefined;
  const arrayOid = elemOid === undefined ? undefined : TYPES.get(elemOid)?.array;
  if (
    arrayOid !== undefined &&
    !(t.arrayBounds && t.arrayBounds.length > 0) &&
    (t.typmods ?? []).length === 0
  )
    return { oid: arrayOid, typmod: -1 };
  let oid = TYPE_BY_NAME.get(name);
  if (oid === undefined) throw unsupported(`cast to ${name}`);
  if (t.arrayBounds && t.arrayBounds.length > 0) {
    if (t.arrayBounds.length > 1) throw unsupported(`cast to ${name}[][]`);
    if (oid === Oid.bpchar) throw unsupported('cast to bpchar[]');
    const arr = TYPES.get(oid)?.array;
    if (arr === undefined) throw unsupported(`cast to ${name}[]`);
    oid = arr;
  }
  let typmod = -1;
  const mods = t.typmods ?? [];
  if (mods.length > 0 && oid === Oid.interval) return { oid, typmod: intervalTypmodOf(mods) };
  if (mods.length > 0) {
    if (
      (oid !== Oid.varchar && oid !== Oid.bpchar && oid !== Oid.bit && oid !== Oid.varbit) ||
      mods.length !== 1
    )
      throw unsupported(`cast to ${name} with a type modifier`);
    const [k, b] = nodeKind(mods[0] as Node);
    const n = k === 'A_Const' ? (b as A_Const).ival?.ival : undefined;
    if (n === undefined || n < 1) throw unsupported(`cast to ${name} with a type modifier`);
    // varchar's and bpchar's typmods count the header; bit's and varbit's are the length.
    typmod = oid === Oid.varchar || oid === Oid.bpchar ? n + 4 : n;
  }
  return { oid, typmod };
}

/**
 * intervaltypmodin: `interval day to second(2)` → [range mask, precision]
 * from the grammar. A precision above 6 (a WARNING, then 6) or below 0 (an
 * error) is forwarded, as is a range the grammar cannot produce.
 */
function intervalTypmodOf(mods: Node[]): number {
  const ints = mods.map((m) => {
    const [k, b] = nodeKind(m);
    // libpg-query leaves out an ival of 0.
    const c = k === 'A_Const' ? (b as A_Const) : undefined;
    return c?.ival ? (c.ival.ival ?? 0) : undefined;
  });
  const [range, precision = FULL_PRECISION] = ints;
  if (ints.length > 2 || range === undefined || !RANGE_UNITS.has(range) || ints.includes(undefined))
    throw unsupported('cast to interval with this type modifier');
  if (precision !== FULL_PRECISION && (precision < 0 || precision > 6))
    throw unsupported('cast to interval with a precision beyond 0..6');
  if (ints.length === 1 && range === FULL_RANGE) return -1;
  return intervalTypmod(range, precision);
}
